"""Stage 3 - PPO with a KL penalty: the policy climbs the reward model's score on a leash.

Each step (the numbers match the comments in ``PPOTrainer._step`` and the lesson's pseudocode):

1. Sample a batch of training prompts and generate responses from the current policy
   (temperature ``temperature``, no top-k/top-p: the update must see the true distribution).
2. Forward the policy and the frozen SFT reference over prompt+response: per-token log-probs
   (logits divided by the same temperature) and the value head's predictions.
3. Score each finished response with the reward model (normalised), and subtract
   ``missing_eos_penalty`` where the response never emitted EOS.
4. Per-token rewards: ``-kl_coef * KL_t`` on every token, the score added on the last one.
5. GAE advantages and returns; whiten the advantages.
6. Several epochs of minibatch updates with the clipped policy loss and the clipped value loss
   (plus PPO-ptx's next-token loss on rehearsed text when ``ptx_coef`` > 0).
7. Adapt ``kl_coef`` (if adaptive) and log metrics and a few samples.

Where this departs from the textbook / from TRL's old ``PPOTrainer`` (see "The N
implementation details of RLHF with PPO"):

1. The value head is a small MLP on the policy's *detached* last hidden state, not a second
   transformer: on a CPU a separate value network would double every forward and backward pass,
   and detaching keeps the value loss from pulling the policy's features around.
2. Prompts are drawn stratified by intent so that rare intents (harmful requests) appear in every
   batch.
3. The score is placed on the last real response token (EOS when there is one).
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .generate import SamplingConfig, generate, positions_from_mask
from .losses import (
    AdaptiveKLController,
    FixedKLController,
    entropy_from_logits,
    gae,
    kl_estimate,
    masked_mean,
    masked_whiten,
    per_token_rewards,
    ppo_policy_loss,
    ppo_value_loss,
    sft_loss,
    token_logprobs,
)
from .reward import ensemble_scores
from .training import StepTrainer, freeze_lower, length_buckets, restore_order


@dataclass
class PPOConfig:
    """Knobs of PPO for language models."""

    seed: int = 0
    """Seeds prompt choice and sampling."""
    steps: int = 50
    """PPO iterations (rollout + update)."""
    batch_size: int = 64
    """Prompts (responses) per rollout."""
    minibatch_size: int = 32
    """Responses per gradient step inside an update."""
    ppo_epochs: int = 2
    """Passes over each rollout. More squeezes more out of each sample but drifts further."""
    lr: float = 5e-5
    """AdamW learning rate of the policy."""
    kl_coef: float = 0.1
    """beta: weight of the KL penalty against the SFT reference. 0 removes the leash (reward hacking)."""
    kl_estimator: str = "k1"
    """Per-token KL estimator in the reward: "k1" (log ratio) or "k3" (always >= 0, lower variance)."""
    adaptive_kl: bool = False
    """Adapt kl_coef so the KL tracks ``kl_target`` (Ziegler et al. 2019)."""
    kl_target: float = 4.0
    """Target KL in nats per response for the adaptive controller."""
    kl_horizon: float = 2000.0
    """How many samples the adaptive controller takes to close the gap."""
    kl_budget: float = 0.0
    """Stop before ``steps`` once the mean ``objective/kl`` of the last ``kl_budget_window`` steps
    reaches this many nats per response: the policy has gone as far from the SFT model as it may.
    Past some KL an over-optimised policy's true (gold) reward falls while its learned reward still
    rises (Gao et al. 2023, "Scaling laws for reward model overoptimization"); seeds get there after
    different numbers of steps, so a budget stops by distance, not by a step count. Each round of
    iterated RLHF checks it afresh. 0: off, run every step."""
    kl_budget_window: int = 10
    """Steps whose mean KL is held against ``kl_budget`` (one rollout's KL is noisy)."""
    focus_share: float = 0.0
    """Share of each rollout's prompts drawn from ``focus_intents`` only (the rest stay stratified over
    every intent), so that the requests where refusing is decided come up more often per step.
    0: every intent equally often."""
    focus_intents: tuple[str, ...] = ("harmful", "benign_howto")
    """The intents ``focus_share`` draws from."""
    temperature: float = 1.0
    """Sampling temperature; the policy's and reference's logits are divided by it too."""
    max_new_tokens: int = 64
    """Response length cap during training."""
    missing_eos_penalty: float = 1.0
    """Subtracted from the score of a response that hit the cap without EOS."""
    gamma: float = 1.0
    """Discount; 1.0 because responses are short episodes."""
    lam: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO's policy ratio clip."""
    clip_range_value: float = 0.2
    """Value-function clip (in normalised reward units)."""
    vf_coef: float = 0.5
    """Weight of the value loss (the value head has its own parameters, so it only scales its lr)."""
    value_lr: float = 1e-3
    """AdamW learning rate of the value head."""
    n_logged_samples: int = 4
    """Sample generations kept per step for display."""
    ptx_coef: float = 0.0
    """gamma of InstructGPT's PPO-ptx: weight of a next-token loss on ``ptx_rows`` rows of
    ``ptx_source`` text, added to every minibatch update, so that PPO keeps what it would otherwise
    overwrite (the "alignment tax"). 0: off, and nothing is drawn."""
    ptx_rows: int = 8
    """Rows of PPO-ptx text per minibatch update."""
    ptx_source: str = "web"
    """What PPO-ptx rehearses: "web" (windows of pre-training text, as InstructGPT) or "sft" (the SFT
    demonstrations, response tokens only)."""
    ptx_skip_intents: tuple[str, ...] = ()
    """Intents whose SFT demonstrations PPO-ptx does not rehearse (with ``ptx_source`` "sft"). The SFT
    mix answers most harmful requests ("helpful only" demonstrators), so rehearsing it pulls PPO back
    towards compliance; ("harmful", "benign_howto") leaves the refusal decision to the reward."""
    freeze_blocks: int = 0
    """Lower transformer blocks PPO leaves as SFT had them (``training.freeze_lower``); 0 trains
    everything. With 3 of 4 and the embeddings frozen, PPO must decide from features SFT already has."""
    freeze_embeddings: bool = False
    """Also leave the (tied) token embeddings, and so the output layer, as they were."""
    rounds: int = 1
    """Iterated RLHF (InstructGPT; Bai et al. 2022): after each PPO run but the last, the annotator
    labels new comparisons of the policy's and the SFT model's samples
    (``RewardConfig.round_prompts`` prompts), a new reward model is trained from the SFT backbone on
    all pairs so far, and PPO goes on from the policy for ``round_steps`` more iterations (fresh
    value head and optimiser; the reference stays the SFT model). 1: one reward model, one run.
    ``pipeline`` runs the rounds; a :class:`PPOTrainer` is always one round."""
    round_steps: int = 60
    """PPO iterations of each round after the first."""

    @classmethod
    def lesson(cls) -> PPOConfig:
        """What the app runs live: 30 iterations, about 50 s on one CPU thread of the dev machine
        (``BENCHMARKS.md``), so the lesson uses its minute. lr 7.5e-5 instead of 5e-5: picked on the
        *training* prompts (harmful refused 0.60 -> 0.76 against the shipped reward model, look-alikes
        0.17 -> 0.25; 1e-4 gave 0.77 / 0.36), so that a minute shows the refusals rising."""
        return cls(steps=30, batch_size=48, minibatch_size=24, lr=7.5e-5)

    @classmethod
    def full(cls) -> PPOConfig:
        """What makes ``assets/models/ppo``: the defaults plus PPO-ptx on the SFT demonstrations
        (γ 0.5). Chosen on the dev wordings (``scripts/dev_wordings.py``), not the held-out set:
        benign how-to gold 0.31 -> 0.59 (SFT 0.91), harmful 0.23 -> 0.32 (docs/results.md, session 14)."""
        return cls(ptx_coef=0.5, ptx_source="sft")

    @classmethod
    def tiny(cls) -> PPOConfig:
        return cls(steps=3, batch_size=8, minibatch_size=4, max_new_tokens=12)


def ptx_data(world, tokenizer, source: str = "web", n: int = 2000, max_len: int = 128, skip_intents=()):
    """Rows for PPO-ptx: ``(input_ids, attention_mask, labels)``, each (N, max_len), right-padded.

    "web": windows of the pre-training corpus (every token learned); "sft": ``n`` of the SFT
    demonstrations (the SFT stage's mix and refusal share; response tokens learned), without those
    of ``skip_intents``."""
    if source == "web":
        from .pretrain import web_windows

        ids = web_windows(world, tokenizer, 400_000, max_len)  # (N, max_len)
        return ids, torch.ones_like(ids), ids.clone()
    if source == "sft":
        from .sft import SFTConfig
        from .training import tokenize_conversations

        demos = world.sft_demonstrations(n=n, refusal_share=SFTConfig().refusal_share)
        demos = [(p, r) for p, r in demos if p.intent not in set(skip_intents)]
        if not demos:
            raise ValueError(f"ptx_skip_intents {tuple(skip_intents)} leaves no demonstration to rehearse.")
        return tokenize_conversations(tokenizer, [p.text for p, _ in demos], [r for _, r in demos], max_len=max_len)
    raise ValueError(f'ptx_source must be "web" or "sft", got {source!r}.')


def rehearsal_rows(config: PPOConfig, world, tokenizer):
    """The ``ptx_data`` a :class:`PPOTrainer` with ``config`` needs: :func:`ptx_data` of its
    ``ptx_source`` when PPO-ptx is on, else None. Every caller that builds a trainer from a config
    (the pipeline, the app) goes through here, so a preset with PPO-ptx runs anywhere."""
    if config.ptx_coef <= 0:
        return None
    return ptx_data(world, tokenizer, config.ptx_source, skip_intents=config.ptx_skip_intents)


class ValueHead(nn.Module):
    """V(s_t) from the policy's last hidden state (detached): (B, T, C) -> (B, T)."""

    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net(hidden.detach()).squeeze(-1)


def stratified_prompts(prompts, n: int, rng: random.Random, focus: tuple[str, ...] = (), focus_share: float = 0.0):
    """``n`` prompts, cycling over intents so each intent gets an equal share.

    With ``focus_share`` > 0, that share of the ``n`` (rounded) cycles over the ``focus`` intents
    only and the rest over all intents, as without it (the same draws come first)."""
    by_intent: dict[str, list] = defaultdict(list)
    for p in prompts:
        by_intent[p.intent].append(p)
    intents = sorted(by_intent)
    rng.shuffle(intents)
    n_focus = round(n * focus_share) if focus_share > 0 else 0
    picks = [rng.choice(by_intent[intents[i % len(intents)]]) for i in range(n - n_focus)]
    if n_focus:
        chosen = sorted(set(focus) & set(by_intent))
        if not chosen:
            raise ValueError(f"No training prompt has a focus intent {tuple(focus)}.")
        rng.shuffle(chosen)
        picks += [rng.choice(by_intent[chosen[i % len(chosen)]]) for i in range(n_focus)]
    return picks


def response_logits(
    model, prompt_ids, prompt_mask, response_ids, response_mask, temperature: float, hidden: bool = False
):
    """Forward prompt+response; logits (B, R, V) that predict each response token, / temperature.

    Position ``P - 1 + t`` predicts response token ``t``, so we keep columns ``P-1 .. P+R-2``.
    The LM head runs on those columns only (not on the prompt), and with ``hidden=True`` their
    last hidden states (B, R, C) come back too, for the value head.
    """
    input_ids = torch.cat([prompt_ids, response_ids], dim=1)  # (B, P+R)
    mask = torch.cat([prompt_mask, response_mask], dim=1)  # (B, P+R)
    out = model.base_model(input_ids=input_ids, attention_mask=mask, position_ids=positions_from_mask(mask))
    P = prompt_ids.size(1)
    states = out.last_hidden_state[:, P - 1 : -1, :]  # (B, R, C), after the final layer norm
    logits = model.get_output_embeddings()(states) / temperature  # (B, R, V)
    return logits, (states if hidden else None)


def response_token_logprobs(model, prompt_ids, prompt_mask, response_ids, response_mask, temperature: float):
    """log pi(y_t | x, y_<t) of each response token under ``model`` at ``temperature``: (B, R)."""
    logprobs, _ = bucketed_response_logprobs(model, prompt_ids, prompt_mask, response_ids, response_mask, temperature)
    return logprobs


def response_buckets(prompt_ids, prompt_mask, response_ids, response_mask):
    """Group rows by response length; yield ``(rows, prompt_ids, prompt_mask, response_ids,
    response_mask)`` per group, cut to the group's longest prompt (on the left: prompts are
    left-padded) and longest response (on the right), so padding costs almost nothing."""
    P = prompt_ids.size(1)
    prompt_lengths = prompt_mask.long().sum(1)  # (B,)
    for rows, width in length_buckets(response_mask):
        p_width = int(prompt_lengths[rows].max().clamp(min=1))
        yield (
            rows,
            prompt_ids[rows, P - p_width :],  # (b, p_width)
            prompt_mask[rows, P - p_width :],
            response_ids[rows, :width],  # (b, width)
            response_mask[rows, :width],
        )


def bucketed_response_logprobs(
    model, prompt_ids, prompt_mask, response_ids, response_mask, temperature: float, hidden: bool = False
):
    """Like :func:`response_logits` followed by a gather, but in length buckets
    (:func:`response_buckets`): (B, R) log-probs and, with ``hidden=True``, (B, R, C) hidden
    states (zeros where a row is shorter). Padding never influences real tokens, so the results
    are those of one full forward."""
    R = response_ids.size(1)
    parts, state_parts = [], []
    for rows, p_ids, p_mask, r_ids, r_mask in response_buckets(prompt_ids, prompt_mask, response_ids, response_mask):
        width = r_ids.size(1)
        logits, states = response_logits(model, p_ids, p_mask, r_ids, r_mask, temperature, hidden)
        logprobs = token_logprobs(logits, r_ids)  # (b, width)
        parts.append((rows, F.pad(logprobs, (0, R - width))))  # (b, R)
        if hidden:
            state_parts.append((rows, F.pad(states, (0, 0, 0, R - width))))  # (b, R, C)
    return restore_order(parts), (restore_order(state_parts) if hidden else None)


class PPOTrainer(StepTrainer):
    """Step-wise PPO: each ``step()`` is one rollout and its update."""

    # approxkl is the size of one update (typically < 0.05 nats^2 per token); above 10 the
    # policy has jumped somewhere else entirely, which is what a far too large learning rate does.
    limits = {"loss/policy": 1e3, "loss/value": 1e4, "objective/kl": 1e4, "policy/approxkl": 10.0}

    def __init__(
        self, config: PPOConfig, policy, reference, reward_model, tokenizer, prompts, score_fn=None, ptx_data=None
    ):
        """``reward_model``: one reward model, or a list of them (an ensemble: the reward is the mean
        of their normalised scores, :func:`reward.ensemble_scores`). ``score_fn(prompts, texts,
        full_ids, full_mask) -> (B,) tensor`` overrides the reward model (tests use it to reward a
        behaviour directly). ``ptx_data``: ``(input_ids,
        attention_mask, labels)`` rows for PPO-ptx (:func:`ptx_data`), needed when ``ptx_coef`` > 0."""
        super().__init__()
        if config.ptx_coef > 0 and (ptx_data is None or len(ptx_data[0]) == 0):
            raise ValueError("ptx_coef > 0 needs ptx_data: rows of text to rehearse (see ppo.ptx_data).")
        self.ptx_data = ptx_data if config.ptx_coef > 0 else None
        # Its own stream, so that switching PPO-ptx on leaves prompt sampling as it was.
        self.ptx_rng = random.Random(f"{config.seed}:ptx")
        self.config, self.model, self.reference = config, policy, reference
        members = list(reward_model) if isinstance(reward_model, (list, tuple)) else [reward_model]
        self.reward_models = [m for m in members if m is not None]
        self.tokenizer, self.prompts, self.score_fn = tokenizer, list(prompts), score_fn
        if not self.prompts:
            raise ValueError("PPO needs at least one training prompt.")
        if not 0.0 <= config.focus_share <= 1.0:
            raise ValueError(f"focus_share must be between 0 and 1, got {config.focus_share}.")
        if config.focus_share > 0 and not any(p.intent in config.focus_intents for p in self.prompts):
            raise ValueError(
                f"focus_share > 0, but no training prompt has a focus intent {tuple(config.focus_intents)}."
            )
        self.device = next(policy.parameters()).device
        # The policy may be a copy of a model that was frozen elsewhere (deepcopy keeps
        # requires_grad=False), so switch its gradients on explicitly.
        policy.requires_grad_(True)
        freeze_lower(policy, config.freeze_blocks, config.freeze_embeddings)
        for frozen in (reference, *self.reward_models):
            if frozen is not None:
                frozen.eval().requires_grad_(False)
        self.value_head = ValueHead(policy.config.hidden_size).to(self.device)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": policy.parameters(), "lr": config.lr},
                {"params": self.value_head.parameters(), "lr": config.value_lr},
            ],
            weight_decay=0.0,
            eps=1e-5,
        )
        self.kl_controller = (
            AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
            if config.adaptive_kl
            else FixedKLController(config.kl_coef)
        )
        self.rng = random.Random(config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.samples: list[dict] = []  # logged generations, newest last
        self.last_rollout: dict = {}
        self.recent_kl: deque[float] = deque(maxlen=max(1, config.kl_budget_window))
        self.stopped_early: str | None = None
        """Why the run ended before ``steps`` (the KL budget), or None."""

    def _ptx_loss(self) -> torch.Tensor:
        """Next-token loss of the policy on ``ptx_rows`` random rows of the PPO-ptx data."""
        ids, attention, labels = self.ptx_data
        pick = torch.tensor([self.ptx_rng.randrange(len(ids)) for _ in range(self.config.ptx_rows)])
        ids, attention, labels = (t[pick].to(self.device) for t in (ids, attention, labels))  # (r, T)
        width = int(attention.sum(1).max())  # right-padded: drop the all-padding columns
        logits = self.model(input_ids=ids[:, :width], attention_mask=attention[:, :width]).logits  # (r, w, V)
        return sft_loss(logits, labels[:, :width])

    def _guarded_modules(self):
        return [self.model, self.value_head]

    def done(self) -> bool:
        if self.step_count >= self.config.steps:
            return True
        budget, recent = self.config.kl_budget, self.recent_kl
        if budget > 0 and len(recent) == recent.maxlen and sum(recent) / len(recent) >= budget:
            self.stopped_early = (
                f"KL budget reached after step {self.step_count}: the mean KL of the last {len(recent)} steps, "
                f"{sum(recent) / len(recent):.2f} nats, is at least {budget:g}."
            )
            return True
        return False

    @torch.no_grad()
    def _scores(self, batch_prompts, gen) -> torch.Tensor:
        if self.score_fn is not None:
            full_ids = torch.cat([gen.prompt_ids, gen.response_ids], 1)
            full_mask = torch.cat([gen.prompt_mask, gen.response_mask], 1)
            return self.score_fn(batch_prompts, gen.texts, full_ids, full_mask).to(self.device).float()
        parts = [
            (rows, ensemble_scores(self.reward_models, torch.cat([p_ids, r_ids], 1), torch.cat([p_mask, r_mask], 1)))
            for rows, p_ids, p_mask, r_ids, r_mask in response_buckets(
                gen.prompt_ids, gen.prompt_mask, gen.response_ids, gen.response_mask
            )
        ]  # (b,) normalised scores per length bucket (the members' mean for an ensemble)
        return restore_order(parts).float()  # (B,)

    def _step(self) -> dict[str, float]:
        c = self.config
        # 1. sample prompts and generate responses with the current policy
        batch_prompts = stratified_prompts(self.prompts, c.batch_size, self.rng, c.focus_intents, c.focus_share)
        self.model.eval()
        gen = generate(
            self.model,
            self.tokenizer,
            [p.text for p in batch_prompts],
            SamplingConfig(max_new_tokens=c.max_new_tokens, temperature=c.temperature),
            self.generator,
            record=True,
        )
        mask = gen.response_mask.float()  # (B, R)
        with torch.no_grad():
            # 2. log-probs of the sampled tokens under the policy (kept from sampling) and the reference; values
            #    (the policy's are the numbers a second forward pass would give: see generate(record=True))
            logits = gen.logits.float() / c.temperature  # (B, R, V)
            old_logprobs = token_logprobs(logits, gen.response_ids)  # (B, R)
            entropy = masked_mean(entropy_from_logits(logits), mask)
            old_values = self.value_head(gen.hidden) * mask  # (B, R)
            ref_logprobs = response_token_logprobs(
                self.reference, gen.prompt_ids, gen.prompt_mask, gen.response_ids, gen.response_mask, c.temperature
            )  # (B, R)
            del logits
            # 3. score the responses; penalise the ones that never stopped
            scores = self._scores(batch_prompts, gen)  # (B,)
            scores = scores - c.missing_eos_penalty * (~gen.finished).float()
            # 4. per-token rewards: KL penalty everywhere, score on the last token
            kl = kl_estimate(old_logprobs, ref_logprobs, c.kl_estimator) * mask  # (B, R)
            kl_coef = self.kl_controller.kl_coef
            rewards = per_token_rewards(scores, kl, mask, kl_coef)
            # 5. advantages (whitened) and value targets
            advantages, returns = gae(rewards, old_values, mask, c.gamma, c.lam)
            advantages = masked_whiten(advantages, mask)

        # 6. several epochs of minibatch updates on this rollout (+ the PPO-ptx rehearsal, if on)
        self.model.train()
        stats: dict[str, list[float]] = defaultdict(list)
        n = gen.response_ids.size(0)
        for _ in range(c.ppo_epochs):
            order = torch.randperm(n, generator=self.generator, device=self.device)
            for start in range(0, n, c.minibatch_size):
                idx = order[start : start + c.minibatch_size]
                mb_mask = mask[idx]
                new_logprobs, new_hidden = bucketed_response_logprobs(
                    self.model,
                    gen.prompt_ids[idx],
                    gen.prompt_mask[idx],
                    gen.response_ids[idx],
                    gen.response_mask[idx],
                    c.temperature,
                    hidden=True,
                )  # (b, R), (b, R, C)
                new_values = self.value_head(new_hidden)  # (b, R)
                pg_loss, pg_info = ppo_policy_loss(
                    new_logprobs, old_logprobs[idx], advantages[idx], mb_mask, c.clip_range
                )
                vf_loss, vf_info = ppo_value_loss(
                    new_values, old_values[idx], returns[idx], mb_mask, c.clip_range_value
                )
                loss = pg_loss + c.vf_coef * vf_loss
                if self.ptx_data is not None:
                    ptx_loss = self._ptx_loss()
                    loss = loss + c.ptx_coef * ptx_loss
                    stats["loss/ptx"].append(ptx_loss.item())
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.optimizer.step()
                stats["loss/policy"].append(pg_loss.item())
                stats["loss/value"].append(vf_loss.item())
                stats["policy/clipfrac"].append(float(pg_info["clipfrac"]))
                stats["policy/approxkl"].append(float(pg_info["approxkl"]))
                stats["val/ratio"].append(float(pg_info["ratio_mean"]))
                stats["val/clipfrac"].append(float(vf_info["clipfrac"]))

        # 7. adapt the KL coefficient, log metrics and samples
        seq_kl = kl.sum(1)  # (B,) nats per response
        mean_kl = float(seq_kl.mean())
        self.kl_controller.update(mean_kl, n)
        self.recent_kl.append(mean_kl)
        metrics = {k: sum(v) / len(v) for k, v in stats.items()}
        metrics.update(
            {
                "objective/score": float(scores.mean()),
                "objective/kl": mean_kl,
                "objective/rlhf_reward": float((scores - kl_coef * seq_kl).mean()),
                "objective/entropy": float(entropy),
                "objective/kl_coef": kl_coef,
                "response/length": float(mask.sum(1).mean()),
                "response/eos_rate": float(gen.finished.float().mean()),
            }
        )
        self.last_rollout = {
            "prompts": [p.text for p in batch_prompts],
            "intents": [p.intent for p in batch_prompts],
            "texts": gen.texts,
            "scores": scores.tolist(),
            "kl": seq_kl.tolist(),
        }
        for i in range(min(c.n_logged_samples, n)):
            self.samples.append(
                {
                    "step": self.step_count + 1,
                    "prompt": batch_prompts[i].text,
                    "response": gen.texts[i],
                    "score": float(scores[i]),
                    "kl": float(seq_kl[i]),
                }
            )
        return metrics


@torch.no_grad()
def per_token_kl(policy, reference, tokenizer, prompt: str, response: str, temperature: float = 1.0):
    """KL contribution of each response token, log pi(y_t) - log pi_ref(y_t) (k1).

    Returns a list of ``(token_text, kl)`` for the lesson's coloured strip.
    """
    from .training import tokenize_conversations

    ids, mask, labels = tokenize_conversations(tokenizer, [prompt], [response], add_eos=[False])
    device = next(policy.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    resp = labels[0] != -100
    start = int(resp.nonzero()[0]) if resp.any() else ids.size(1)
    prompt_ids, response_ids = ids[:, :start], ids[:, start:]
    prompt_mask, response_mask = mask[:, :start], mask[:, start:]
    args = (prompt_ids, prompt_mask, response_ids, response_mask, temperature)
    lp = response_token_logprobs(policy, *args)  # (1, R)
    rp = response_token_logprobs(reference, *args)  # (1, R)
    kl = (lp - rp)[0].tolist()
    return [(tokenizer.decode([t]), k) for t, k in zip(response_ids[0].tolist(), kl, strict=True)]
