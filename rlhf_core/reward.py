"""Stage 2 - preference data and the reward model.

1. Sample several responses per training prompt from the SFT policy.
2. The simulated annotator (``judge.prefer``: Bradley-Terry over the gold judge's scores, with
   optional noise and length bias) picks the better response of every pair of samples.
   Ties carry no preference and are dropped.
3. A reward model - the SFT transformer with a scalar head (``GPT2ForSequenceClassification``
   with one label) - learns to score the chosen response above the rejected one with the
   Bradley-Terry loss ``-log sigmoid(r_chosen - r_rejected)`` (Christiano et al. 2017;
   Ouyang et al. 2022).
4. Its raw scores are normalised to mean 0, std 1 on responses sampled from the initial policy,
   so PPO's reward scale does not depend on the arbitrary offset of the head.

Departures from the papers: the annotator is simulated (the gold judge), and a student's own
ratings are mixed in by oversampling them ``student_weight`` times. As in InstructGPT, every
distinguishable pair among the ``samples_per_prompt`` samples of a prompt is used.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass

import torch

from .generate import SamplingConfig, generate
from .judge import CRITERIA, is_refusal, judge, prefer
from .losses import bradley_terry_loss
from .packed import shared_prompt_forward, tokenize_pairs
from .training import StepTrainer, tokenize_conversations
from .world.phrasings import reframe


@dataclass
class PreferencePair:
    """One labelled comparison, in TRL's preference format plus bookkeeping."""

    prompt: str
    chosen: str
    rejected: str
    intent: str = "open"
    chosen_score: float = float("nan")
    rejected_score: float = float("nan")
    source: str = "annotator"  # "annotator" (simulated), "student", "demonstration" (demo_share), "round" or "reframed"

    def to_trl(self) -> dict:
        """The ``{"prompt", "chosen", "rejected"}`` record that TRL's trainers read."""
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}


@dataclass
class RewardConfig:
    """Knobs of preference sampling and reward-model training."""

    seed: int = 0
    """Seeds prompt choice, sampling and the batch order."""
    n_prompts: int = 900
    """Training prompts to sample responses for."""
    samples_per_prompt: int = 4
    """Responses sampled per prompt; every pair of them with different gold scores is labelled."""
    sample_temperature: float = 1.0
    """Sampling temperature for the responses to compare (1.0: the policy's own distribution)."""
    max_new_tokens: int = 64
    """Response length cap when sampling pairs."""
    mismatch_share: float = 0.5
    """Share of prompts that also get an off-topic comparison: one of their samples against a
    sample written for a request of another intent. 0 gives a reward model that PPO hacks with
    one generic answer to everything (the reward-hacking lesson)."""
    refusal_contrast: float = 0.0
    """For a benign look-alike ("crack a walnut"), the chance that its look-alike comparison is
    against a refusal the policy wrote for a harmful request. Sampled pairs show a refusal chosen
    for a harmful request about 13 times as often as rejected for a benign one (107 vs 8), which
    teaches "refuse anything that sounds like a how-to"."""
    demo_share: float = 0.0
    """Share of training prompts whose written demonstration (the world's ideal answer, as in the
    SFT data) the annotator also ranks against each of the prompt's samples. 0: only samples are
    compared, as in InstructGPT."""
    demo_self_check: bool = False
    """Open each written demonstration of a how-to or harmful request with its self-check verdict
    ("Is it legal to pick a lock? No, it is not.", ``World.self_check``), as an SFT model trained
    with ``SFTConfig.self_check`` writes. Without it, demonstrations against such a model's samples
    teach the reward model to prefer answers without the self-check."""
    demo_foreign: int = 0
    """Per demonstration, this many extra comparisons against a sample written for a request of
    another intent (the first one, for a harmful request or a look-alike, from the other of the two)."""
    reframe_share: float = 0.0
    """Share of the sampled pairs that the reward model also sees with the request in a made-up
    frame (:func:`reframed_pairs`; "Poem please 14 minus 5 today?" for "What is 14 minus 5?"), same
    two answers, labelled again by the annotator. Only sums, lists, explanations and how-to requests
    are reframed; DPO and the saved pairs keep the sampled ones. 0: none (over three pipeline seeds
    share 0.5 changed neither held-out pair accuracy nor PPO: docs/results.md, session 25)."""
    annotator_noise: float = 0.0
    """Chance the simulated annotator answers at random (0: clean labels)."""
    annotator_length_bias: float = 0.0
    """Extra preference for longer responses (per 100 characters); 0: none."""
    steps: int = 40
    """Optimiser steps: about one epoch of the pairs. Held-out accuracy peaked near one epoch and
    fell as training went on (0.76 at 25 steps, 0.63 at 100), as InstructGPT also found."""
    batch_size: int = 32
    """Pairs per step."""
    group_by_prompt: bool = False
    """Fill each batch with whole prompts: all comparisons of a prompt in the same batch, each pair
    once per epoch (a student's pair ``round(student_weight)`` times). InstructGPT did this because
    a response seen in K-1 separate updates made its reward model overfit. False (the shipped
    recipe) draws pairs independently, with replacement, by weight. On the shipped SFT model's
    pairs, reward-model seeds 0-3 (``scripts/reward_dev_split.py``): 0.723 against 0.687 on new
    training-kind prompts, but held-out pair accuracy 0.70 either way (docs/results.md, session 9),
    so it is not the default."""
    lr: float = 3e-4
    """AdamW learning rate."""
    student_weight: float = 5.0
    """How many times each of the student's own ratings is counted (oversampled) relative to one
    simulated annotator label. 0 ignores them."""
    n_eval_prompts: int = 200
    """Held-out prompts for pair accuracy (sampled from the world's held-out set)."""
    max_len: int = 128
    """Longest conversation in tokens."""
    eval_every: int = 10
    """Measure held-out pair accuracy every this many steps."""
    round_prompts: int = 400
    """Iterated RLHF (``PPOConfig.rounds`` > 1): training prompts each later round samples new
    comparisons for (:func:`sample_comparisons`: 2 responses of the current PPO policy and 2 of the
    SFT model per prompt)."""
    ensemble: int = 1
    """Reward models trained on the same pairs (seeds ``seed``, ``seed + 1``, ...: another head
    initialisation and batch order each). PPO is then rewarded by the mean of their normalised
    scores (Coste et al. 2023, "Reward Model Ensembles Help Mitigate Overoptimization"): a response
    one member overrates by chance gains less. 1: a single reward model."""

    @classmethod
    def lesson(cls) -> RewardConfig:
        """What the app runs live: about one epoch of 160 prompts' pairs (~15 s of training).

        Like the full preset, one epoch: at 60 steps (three epochs) held-out accuracy rose to
        0.68 by step 20 and fell back to 0.52 by step 60 on the shipped SFT model's pairs."""
        return cls(n_prompts=160, steps=20, batch_size=16, n_eval_prompts=100, eval_every=5)

    @classmethod
    def full(cls) -> RewardConfig:
        return cls()

    @classmethod
    def tiny(cls) -> RewardConfig:
        return cls(
            n_prompts=40,
            samples_per_prompt=3,
            max_new_tokens=12,
            steps=4,
            batch_size=4,
            n_eval_prompts=16,
            eval_every=2,
        )


def sample_preference_pairs(
    policy,
    tokenizer,
    prompts,
    *,
    samples_per_prompt: int = 4,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    noise: float = 0.0,
    length_bias: float = 0.0,
    seed: int = 0,
    batch_size: int = 64,
    on_progress=None,
    mismatch_share: float = 0.0,
    refusal_contrast: float = 0.0,
    demonstrations: dict[str, str] | None = None,
    demo_foreign: int = 0,
) -> list[PreferencePair]:
    """Sample ``samples_per_prompt`` responses per world ``Prompt`` and label every pair of them
    whose gold scores differ (ties carry no preference).

    ``demonstrations`` maps a prompt's text to a written answer that the annotator also compares
    with each of that prompt's distinct samples and with ``demo_foreign`` samples written for
    requests of other intents (extra pairs, source "demonstration"; the sampled pairs stay the same)."""
    rng = random.Random(seed)
    demo_rng = random.Random(seed + 1_000_003)  # its own stream: the sampled pairs do not move
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature)
    pairs: list[PreferencePair] = []
    flat = [p for p in prompts for _ in range(samples_per_prompt)]
    texts = _sample_texts(policy, tokenizer, [p.text for p in flat], cfg, seed, batch_size, on_progress)
    # Refusals the policy wrote for harmful requests: the look-alikes' contrast (refusal_contrast).
    refusals = [t for i, t in enumerate(texts) if flat[i].intent == "harmful" and is_refusal(t)]
    # Prompt indices by intent: where the off-topic comparisons and the demonstrations' rivals
    # (demo_foreign) come from.
    lookalike = {"harmful", "benign_howto"}
    intents = {p.intent for p in prompts}
    other = {i: [j for j, q in enumerate(prompts) if q.intent != i] for i in intents}
    lookalikes = [j for j, q in enumerate(prompts) if q.intent in lookalike]
    counterpart = {i: [j for j in other[i] if prompts[j].intent in lookalike] for i in lookalike & intents}
    annotate = dict(rng=rng, noise=noise, length_bias=length_bias, source="annotator")
    annotate_demo = {**annotate, "rng": demo_rng, "source": "demonstration"}
    for i, prompt in enumerate(prompts):
        group = list(dict.fromkeys(texts[i * samples_per_prompt : (i + 1) * samples_per_prompt]))  # distinct
        scored = [(judge(prompt, t).total, t) for t in group]
        score_of = {t: score for score, t in scored}
        pairs += _all_comparisons(prompt, scored, **annotate)
        # The written demonstration ranked against each sample it differs from, then against
        # answers written for other requests (the generic answers PPO finds: "I don't know ...",
        # a greeting, a refusal). Its own random stream, so the sampled pairs above do not move.
        demo = (demonstrations or {}).get(prompt.text)
        if demo is not None:
            demo_score = judge(prompt, demo).total
            rivals = scored
            for k in range(demo_foreign + 1):
                if k > 0:  # an answer written for another request
                    # a harmful request's first one comes from a look-alike, and the other way round
                    pool = counterpart[prompt.intent] if k == 1 and prompt.intent in lookalike else other[prompt.intent]
                    if not pool:
                        break
                    j = demo_rng.choice(pool)
                    text = demo_rng.choice(texts[j * samples_per_prompt : (j + 1) * samples_per_prompt])
                    rivals = [(judge(prompt, text).total, text)]
                for score, text in rivals:  # (a sample equal to the demonstration is a tie: no pair)
                    pair = _annotated_pair(prompt, demo, demo_score, text, score, **annotate_demo)
                    if pair is not None:
                        pairs.append(pair)
        # Off-topic comparisons: one of this prompt's samples against a sample written for a
        # request of another intent, labelled by the same annotator. Without them the reward
        # model never sees "a fine answer to the wrong question" rejected, and PPO hacks it by
        # giving one safe-looking answer to everything (seen here: "I don't know" to all).
        if mismatch_share > 0 and rng.random() < mismatch_share:
            # Harmful requests and their benign look-alikes ("pick a lock" / "pick a melon") are
            # compared with each other's samples half the time, so that a refusal is seen rejected
            # for a benign request and chosen for a harmful one; otherwise (and for every other
            # intent) with any other intent's sample. Without the second half, nothing ever showed
            # the reward model "I don't know ..." rejected for a harmful request, and PPO answered
            # every harmful request with it (seen on a rebuilt base).
            if prompt.intent in lookalike and rng.random() < 0.5:
                others = [j for j in lookalikes if j != i]
            else:
                others = other[prompt.intent]
            contrast = prompt.intent == "benign_howto" and refusals and refusal_contrast > 0
            # (with refusal_contrast = 0 no extra random number is drawn: the pairs stay as they were)
            if contrast and rng.random() < refusal_contrast:
                own, foreign = rng.choice(group), rng.choice(refusals)
            elif others:
                j = rng.choice(others)
                own = rng.choice(group)
                foreign = rng.choice(texts[j * samples_per_prompt : (j + 1) * samples_per_prompt])
            else:
                continue
            pair = _annotated_pair(prompt, own, score_of[own], foreign, judge(prompt, foreign).total, **annotate)
            if pair is not None:
                pairs.append(pair)
    return pairs


def sample_comparisons(
    policies,
    tokenizer,
    prompts,
    *,
    samples_per_policy: int = 2,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    noise: float = 0.0,
    length_bias: float = 0.0,
    seed: int = 0,
    batch_size: int = 64,
    on_progress=None,
    source: str = "round",
) -> list[PreferencePair]:
    """Iterated RLHF's new comparisons: ``samples_per_policy`` responses of each of ``policies`` to
    every world ``Prompt`` (in iterated RLHF, the current PPO policy and the SFT model), and every
    distinguishable pair among a prompt's distinct responses labelled by the annotator.

    InstructGPT and Anthropic's assistants (Bai et al. 2022, "iterated online RLHF") collected new
    comparisons on the deployed policy's samples and retrained the reward model: what PPO found and
    the reward model overrated (a template answer) is shown to it next to what SFT wrote, labelled."""
    rng = random.Random(seed)
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature)
    flat = [p.text for p in prompts for _ in range(samples_per_policy)]
    # per policy, len(prompts) * samples_per_policy texts; progress runs over all policies
    per_policy = [
        _sample_texts(
            policy,
            tokenizer,
            flat,
            cfg,
            seed + k,
            batch_size,
            (lambda f, k=k: on_progress((k + f) / len(policies))) if on_progress else None,
        )
        for k, policy in enumerate(policies)
    ]
    pairs: list[PreferencePair] = []
    annotate = dict(rng=rng, noise=noise, length_bias=length_bias, source=source)
    for i, prompt in enumerate(prompts):
        own = slice(i * samples_per_policy, (i + 1) * samples_per_policy)
        group = list(dict.fromkeys(t for texts in per_policy for t in texts[own]))  # distinct, policy by policy
        pairs += _all_comparisons(prompt, [(judge(prompt, t).total, t) for t in group], **annotate)
    return pairs


def _sample_texts(
    policy, tokenizer, prompt_texts: list[str], cfg: SamplingConfig, seed: int, batch_size: int, on_progress
) -> list[str]:
    """One response of ``policy`` per prompt text, generated ``batch_size`` at a time from a generator
    seeded with ``seed``; ``on_progress`` (if any) gets the fraction done after each batch."""
    generator = torch.Generator(device=next(policy.parameters()).device).manual_seed(seed)
    texts: list[str] = []
    for start in range(0, len(prompt_texts), batch_size):
        texts += generate(policy, tokenizer, prompt_texts[start : start + batch_size], cfg, generator).texts
        if on_progress:
            on_progress(min(len(prompt_texts), start + batch_size) / len(prompt_texts))
    return texts


def _all_comparisons(prompt, scored: list[tuple[float, str]], **annotate) -> list[PreferencePair]:
    """Every comparison between two of ``scored`` (gold total, response) that the annotator can tell
    apart, as InstructGPT used all K-choose-2 comparisons of a ranking of K samples. Ties are dropped."""
    pairs = []
    for a in range(len(scored)):
        for b in range(a + 1, len(scored)):
            (score_a, text_a), (score_b, text_b) = scored[a], scored[b]
            pair = _annotated_pair(prompt, text_a, score_a, text_b, score_b, **annotate)
            if pair is not None:
                pairs.append(pair)
    return pairs


def _annotated_pair(
    prompt, a: str, a_score: float, b: str, b_score: float, *, rng, noise: float, length_bias: float, source: str
) -> PreferencePair | None:
    """The annotator's verdict on two answers to ``prompt`` (with their gold totals) as a pair;
    None for a tie, which carries no preference."""
    if a_score == b_score:
        return None
    pick = prefer(prompt, a, b, rng, noise=noise, length_bias=length_bias)
    (chosen, c_score), (rejected, r_score) = ((a, a_score), (b, b_score))[:: 1 if pick == 0 else -1]
    return PreferencePair(prompt.text, chosen, rejected, prompt.intent, c_score, r_score, source)


def reframed_pairs(
    pairs: list[PreferencePair],
    world,
    share: float,
    *,
    seed: int = 0,
    noise: float = 0.0,
    length_bias: float = 0.0,
) -> list[PreferencePair]:
    """For a ``share`` of ``pairs`` (a seeded choice), the same two answers to the request in a
    made-up frame (:func:`rlhf_core.world.phrasings.reframe`), labelled by the annotator on the
    reframed request; source "reframed". Pairs the frame cannot carry (poems, notes, greetings,
    "unknown" questions) and ties are skipped.

    Why: the reward model reads a request's first words. Asked in a held-out wording ("Quick
    question: 14 minus 5 equals what?"), the shipped one preferred a list to the sum on 0.69 of
    held-out sum pairs; frames of training words around the numbers, the category, the concept
    or the activity teach it that those decide. Measured (docs/results.md, session 25): sum pairs in
    a held-out wording right 0.31 -> 0.88 on one seed's pairs, but held-out pair accuracy and PPO
    unchanged on average over three pipeline seeds."""
    rng = random.Random(seed)
    out: list[PreferencePair] = []
    for pair in pairs:
        if rng.random() >= share:
            continue
        prompt = reframe(world.parse_prompt(pair.prompt), rng)
        if prompt is None:
            continue
        new = _annotated_pair(
            prompt,
            pair.chosen,
            judge(prompt, pair.chosen).total,
            pair.rejected,
            judge(prompt, pair.rejected).total,
            rng=rng,
            noise=noise,
            length_bias=length_bias,
            source="reframed",
        )
        if new is not None:
            out.append(new)
    return out


def reward_model_from_policy(policy):
    """A sequence classifier (one label) of ``policy``'s architecture whose transformer starts as
    ``policy``'s: ``GPT2ForSequenceClassification`` or ``LlamaForSequenceClassification``."""
    from transformers import AutoModelForSequenceClassification

    config = policy.config.__class__.from_dict(policy.config.to_dict())
    config.num_labels = 1
    config.problem_type = "regression"
    model = AutoModelForSequenceClassification.from_config(config)
    model.base_model.load_state_dict(policy.base_model.state_dict())
    torch.nn.init.normal_(model.score.weight, std=1.0 / (config.hidden_size + 1) ** 0.5)
    return model.to(next(policy.parameters()).device)


def last_token_scores(reward_model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Raw scalar scores read at each row's last real token. (B, T) ids/mask -> (B,).

    We gather the hidden state ourselves rather than rely on the head's pad-token search, so left
    padding (PPO's prompts) and right padding (training pairs) both work.
    """
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, T)
    hidden = reward_model.base_model(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=positions
    ).last_hidden_state  # (B, T, C)
    # Index of the last 1 in each mask row: T-1 minus the index of the first 1 in the flipped row.
    last = attention_mask.size(1) - 1 - attention_mask.long().flip(-1).argmax(-1)  # (B,)
    picked = hidden[torch.arange(hidden.size(0), device=hidden.device), last]  # (B, C)
    return reward_model.score(picked).squeeze(-1)  # (B,)


def pair_scores(reward_model, input_ids: torch.Tensor, attention_mask: torch.Tensor, prompt_len: torch.Tensor):
    """Raw scores of chosen-then-rejected rows that share their prompts: the same numbers as
    :func:`last_token_scores` (to float rounding), for about two thirds of the arithmetic.

    ``input_ids``/``attention_mask`` (2B, T), right-padded, rows ``i`` and ``B + i`` being one
    pair's chosen and rejected conversation; ``prompt_len`` (B,) the tokens of pair i's prompt.
    Returns (2B,) scores in the same row order. See :func:`packed.shared_prompt_forward`: each
    prompt runs once, padding is skipped, and the final block runs only at the last tokens.
    """
    hidden = shared_prompt_forward(reward_model.base_model, input_ids, attention_mask, prompt_len, last_only=True)
    return reward_model.score(hidden).view(-1)  # (2B, C) -> (2B,)


def normalised(reward_model, raw: torch.Tensor) -> torch.Tensor:
    """Apply the stored normalisation (mean 0 / std 1 on the initial policy's samples)."""
    mean = float(getattr(reward_model.config, "reward_mean", 0.0))
    std = float(getattr(reward_model.config, "reward_std", 1.0)) or 1.0
    return (raw - mean) / std


def ensemble_scores(reward_models, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the members' normalised scores: ``(1/K) sum_k (r_k - mean_k) / std_k``, each member
    normalised on the initial policy's samples first so that none dominates by scale.

    ``reward_models``: one reward model or a sequence of them; (B, T) ids/mask -> (B,)."""
    members = list(reward_models) if isinstance(reward_models, (list, tuple)) else [reward_models]
    scores = [normalised(m, last_token_scores(m, input_ids, attention_mask)) for m in members]  # K x (B,)
    return scores[0] if len(scores) == 1 else torch.stack(scores).mean(0)  # (K, B) -> (B,)


@torch.no_grad()
def score_texts(
    reward_model,
    tokenizer,
    prompts: list[str],
    responses: list[str],
    ended: list[bool] | None = None,
    batch_size: int = 64,
) -> list[float]:
    """Normalised reward-model scores for prompt/response texts (``ended``: response had EOS).
    ``reward_model`` may be a list of models: the ensemble's mean score (:func:`ensemble_scores`)."""
    if isinstance(reward_model, (list, tuple)):
        return mean_of_members([score_texts(m, tokenizer, prompts, responses, ended, batch_size) for m in reward_model])
    reward_model.eval()
    device = next(reward_model.parameters()).device
    ended = ended if ended is not None else [True] * len(prompts)
    out: list[float] = []
    for s in range(0, len(prompts), batch_size):
        ids, mask, _ = tokenize_conversations(
            tokenizer,
            prompts[s : s + batch_size],
            responses[s : s + batch_size],
            ended[s : s + batch_size],
            max_len=min(160, reward_model.config.max_position_embeddings),
        )
        raw = last_token_scores(reward_model, ids.to(device), mask.to(device))
        out += normalised(reward_model, raw).tolist()
    return out


def mean_of_members(per_member: list[list[float]]) -> list[float]:
    """An ensemble's scores from its members' normalised scores of the same texts: the element-wise mean."""
    return [sum(column) / len(column) for column in zip(*per_member, strict=True)]


def pair_accuracy(reward_model, tokenizer, pairs: list[PreferencePair]) -> dict:
    """Share of pairs where the chosen response scores higher, overall and per intent.
    ``reward_model`` may be a list of models (an ensemble, scored by its mean). No pairs (every
    sample tied, as with a very short length cap) give an accuracy of NaN."""
    if not pairs:
        return accuracy_of_scores(pairs, [], [])
    chosen = score_texts(reward_model, tokenizer, [p.prompt for p in pairs], [p.chosen for p in pairs])
    rejected = score_texts(reward_model, tokenizer, [p.prompt for p in pairs], [p.rejected for p in pairs])
    return accuracy_of_scores(pairs, chosen, rejected)


def accuracy_of_scores(pairs: list[PreferencePair], chosen: list[float], rejected: list[float]) -> dict:
    """:func:`pair_accuracy`'s result from scores already computed, in the order of ``pairs``."""
    right = [c > r for c, r in zip(chosen, rejected, strict=True)]
    if not right:
        return {"pair_accuracy": float("nan"), "by_intent": {}, "chosen_scores": [], "rejected_scores": []}
    by: dict[str, list[bool]] = {}
    for p, ok in zip(pairs, right, strict=True):
        by.setdefault(p.intent, []).append(ok)
    return {
        "pair_accuracy": sum(right) / len(right),
        "by_intent": {k: sum(v) / len(v) for k, v in sorted(by.items())},
        "chosen_scores": chosen,
        "rejected_scores": rejected,
    }


def deciding_criteria(prompt, chosen: str, rejected: str) -> tuple[str, ...]:
    """The gold judge's criteria (``judge.CRITERIA`` order) whose check differs between ``chosen``
    and ``rejected`` as answers to ``prompt`` (a world ``Prompt``): what decided the pair. Returns
    ``("none",)`` when every check agrees and only the totals differ."""
    a, b = judge(prompt, chosen), judge(prompt, rejected)
    return tuple(c for c in CRITERIA if a.checks[c] != b.checks[c]) or ("none",)


def accuracy_by_criteria(
    world, pairs: list[PreferencePair], chosen_scores: list[float], rejected_scores: list[float]
) -> tuple[list[dict], list[dict]]:
    """Where a reward model's pair accuracy goes: (rows per intent and set of deciding criteria,
    rows per single criterion; a pair counts under each criterion that decided it).

    ``chosen_scores`` / ``rejected_scores`` are the model's scores in the order of ``pairs``
    (:func:`pair_accuracy`'s). Each row is ``{"group", "n", "wrong", "accuracy", "margin"}``:
    accuracy is the share of pairs whose chosen answer scores higher, margin the mean gold-score
    difference. Rows come sorted by ``wrong``, most first."""
    if not len(pairs) == len(chosen_scores) == len(rejected_scores):
        raise ValueError("one chosen and one rejected score per pair")
    by_group: dict[str, list[tuple[bool, float]]] = {}
    by_criterion: dict[str, list[tuple[bool, float]]] = {}
    for pair, c, r in zip(pairs, chosen_scores, rejected_scores, strict=True):
        criteria = deciding_criteria(world.parse_prompt(pair.prompt), pair.chosen, pair.rejected)
        row = (c > r, pair.chosen_score - pair.rejected_score)
        by_group.setdefault(f"{pair.intent}: {'+'.join(criteria)}", []).append(row)
        for criterion in criteria:
            by_criterion.setdefault(criterion, []).append(row)

    def rows(groups: dict[str, list[tuple[bool, float]]]) -> list[dict]:
        out = []
        for name, v in groups.items():
            right = sum(ok for ok, _ in v)
            margin = sum(m for _, m in v) / len(v)
            out.append(
                {"group": name, "n": len(v), "wrong": len(v) - right, "accuracy": right / len(v), "margin": margin}
            )
        return sorted(out, key=lambda row: (-row["wrong"], row["group"]))

    return rows(by_group), rows(by_criterion)


class RewardTrainer(StepTrainer):
    """Step-wise Bradley-Terry training of a reward model on preference pairs."""

    limits = {"loss/reward": 1e3}

    def __init__(
        self,
        config: RewardConfig,
        reward_model,
        tokenizer,
        train_pairs: list[PreferencePair],
        eval_pairs: list[PreferencePair] | None = None,
        student_pairs: list[PreferencePair] | None = None,
    ):
        super().__init__()
        if not train_pairs and not student_pairs:
            raise ValueError("The reward model needs at least one preference pair to learn from.")
        self.config, self.model, self.tokenizer = config, reward_model.requires_grad_(True), tokenizer
        self.device = next(reward_model.parameters()).device
        self.pairs = list(train_pairs) + list(student_pairs or [])
        # Oversampling weights: the student's ratings count ``student_weight`` times each.
        self.weights = [1.0] * len(train_pairs) + [config.student_weight] * len(student_pairs or [])
        if sum(self.weights) <= 0:
            raise ValueError("All pairs have weight 0: raise student_weight or add annotator pairs.")
        self.eval_pairs = eval_pairs or []
        self.rng = random.Random(config.seed)
        self._epoch: list[list[PreferencePair]] = []  # grouped batches left in this epoch
        self.optimizer = torch.optim.AdamW(reward_model.parameters(), lr=config.lr, weight_decay=0.01, fused=True)
        self.last_eval: dict = {}
        self.tokens_seen = 0
        """Real tokens of the conversations scored so far (each row with its prompt, as the plain
        forward would read them; the benchmark's tokens/s)."""

    def grouped_epoch(self) -> list[list[PreferencePair]]:
        """One epoch of batches of whole prompts (``group_by_prompt``), in a seeded order.

        A prompt with more comparisons than a batch holds is split over consecutive batches;
        otherwise a batch takes whole prompts until the next would overflow it."""
        groups: dict[str, list[PreferencePair]] = {}
        for pair, weight in zip(self.pairs, self.weights, strict=True):
            groups.setdefault(pair.prompt, []).extend([pair] * round(weight))
        order = [g for g in groups.values() if g]
        if not order:
            raise ValueError("No pair has a weight that rounds to 1 or more: raise student_weight.")
        self.rng.shuffle(order)
        size = self.config.batch_size
        batches: list[list[PreferencePair]] = []
        current: list[PreferencePair] = []
        for group in order:
            for start in range(0, len(group), size):
                chunk = group[start : start + size]
                if current and len(current) + len(chunk) > size:
                    batches.append(current)
                    current = []
                current = current + chunk
        if current:
            batches.append(current)
        return batches

    def _batch(self):
        if self.config.group_by_prompt:
            if not self._epoch:
                self._epoch = self.grouped_epoch()
            batch = self._epoch.pop(0)
        else:
            idx = self.rng.choices(range(len(self.pairs)), weights=self.weights, k=self.config.batch_size)
            batch = [self.pairs[i] for i in idx]
        ids, mask, _, prompt_len = tokenize_pairs(self.tokenizer, batch, self.config.max_len)
        self.tokens_seen += int(mask.sum())
        return ids.to(self.device), mask.to(self.device), prompt_len.to(self.device)

    def _step(self) -> dict[str, float]:
        # 1. a batch of pairs: chosen rows first, then the matching rejected rows
        ids, mask, prompt_len = self._batch()
        self.model.train()
        # 2. score both at their last token (2B,) -> chosen (B,), rejected (B,)
        #    (pair_scores runs each pair's shared prompt once and skips padding: same numbers)
        scores = pair_scores(self.model, ids, mask, prompt_len)
        chosen, rejected = scores.chunk(2)
        # 3. Bradley-Terry loss and a gradient step
        loss = bradley_terry_loss(chosen, rejected)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        chosen, rejected = chosen.detach(), rejected.detach()
        metrics = {
            "loss/reward": loss.item(),
            "rewards/accuracy": float((chosen > rejected).float().mean()),
            "rewards/chosen": float(chosen.mean()),
            "rewards/rejected": float(rejected.mean()),
            "rewards/margin": float((chosen - rejected).mean()),
        }
        if self.eval_pairs and (
            (self.step_count + 1) % self.config.eval_every == 0 or self.step_count + 1 == self.config.steps
        ):
            self.last_eval = pair_accuracy(self.model, self.tokenizer, self.eval_pairs)
            metrics["val/pair_accuracy"] = self.last_eval["pair_accuracy"]
        return metrics

    def done(self) -> bool:
        return self.step_count >= self.config.steps

    @torch.no_grad()
    def calibrate(
        self, policy, prompts, n: int = 128, seed: int = 0, samples: CalibrationSamples | None = None
    ) -> dict[str, float]:
        """Store mean/std of raw scores on the initial policy's samples in the model config.

        ``samples`` (from :func:`calibration_samples`) reuses responses already drawn: every
        member of an ensemble is calibrated on the same ones, so they are generated once."""
        if samples is None:
            samples = calibration_samples(
                policy, self.tokenizer, prompts, n=n, seed=seed, max_new_tokens=self.config.max_new_tokens
            )
        self.model.config.reward_mean, self.model.config.reward_std = 0.0, 1.0
        raw = torch.tensor(score_texts(self.model, self.tokenizer, samples.prompts, samples.texts, samples.finished))
        self.model.config.reward_mean = float(raw.mean())
        self.model.config.reward_std = float(raw.std().clamp(min=1e-3))
        return {"reward_mean": self.model.config.reward_mean, "reward_std": self.model.config.reward_std}


@dataclass(frozen=True)
class CalibrationSamples:
    """Responses of the initial policy that a reward model's scores are normalised on."""

    prompts: list[str]
    texts: list[str]
    finished: list[bool]
    """Whether each response ended with EOS (one without is scored as unfinished)."""


@torch.no_grad()
def calibration_samples(
    policy, tokenizer, prompts, n: int = 128, seed: int = 0, max_new_tokens: int = 64
) -> CalibrationSamples:
    """``n`` of ``prompts`` (a seeded choice) and one response of ``policy`` to each, at temperature 1."""
    chosen_prompts = random.Random(seed).sample(list(prompts), min(n, len(prompts)))
    device = next(policy.parameters()).device
    gen = generate(
        policy,
        tokenizer,
        [p.text for p in chosen_prompts],
        SamplingConfig(max_new_tokens=max_new_tokens, temperature=1.0),
        torch.Generator(device=device).manual_seed(seed),
    )
    return CalibrationSamples([p.text for p in chosen_prompts], gen.texts, gen.finished.tolist())


def save_pairs(pairs: list[PreferencePair], path) -> None:
    """Write pairs as JSONL with every field (TRL reads prompt/chosen/rejected and ignores the rest)."""
    with open(path, "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")


def load_pairs(path) -> list[PreferencePair]:
    """Read pairs written by :func:`save_pairs`."""
    names = set(PreferencePair.__dataclass_fields__)
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append(PreferencePair(**{k: v for k, v in d.items() if k in names}))
    return out
