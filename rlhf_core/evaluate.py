"""Held-out evaluation: sample every model the same way and let the gold judge score it.

Every model is evaluated on the world's fixed held-out prompts (phrasings and slot values no
trainer ever saw) with the same sampling settings (``generate.EVAL_SAMPLING``: temperature 0.7,
no top-k/top-p, 80 new tokens) and the same seed, so differences come from the weights alone.
Metric names and meanings are in ``docs/metrics.md``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from .generate import EVAL_SAMPLING, SamplingConfig, generate
from .judge import CRITERIA, is_refusal, judge
from .models import BOS

# Our own word splitter rather than world.text.words: that one normalises first (drops apostrophes
# and the "<|...|>" punctuation), which shifts distinct_2 and repetition_rate on base-model output
# (0.511 -> 0.514, 0.076 -> 0.067); the metrics keep their published definition.
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def is_repetitive(text: str) -> bool:
    """A line said twice, or a 4-word sequence said three times or more."""
    lines = [ln.strip().lower() for ln in text.splitlines() if ln.strip()]
    if len(lines) != len(set(lines)):
        return True
    w = words(text)
    grams: dict[tuple[str, ...], int] = defaultdict(int)
    for i in range(len(w) - 3):
        grams[tuple(w[i : i + 4])] += 1
    return any(c >= 3 for c in grams.values())


def continues_prompt(world, prompt_text: str, response: str) -> bool:
    """True when the response carries on with the text instead of answering it, as a base
    model does. Any of these counts:

    - it echoes the prompt ("Write a poem about nature. Write a poem about ...");
    - it goes on with more requests (a sentence that reads as a user's request);
    - it starts by finishing the prompt's sentence (a lowercase word or punctuation first);
    - it runs on into a new web document (``<|bos|>`` inside the response).
    """
    prompt_words = words(prompt_text)
    # Short prompts ("Hi!") may be echoed by a perfectly good reply ("Hi! How can I help?").
    if len(prompt_words) >= 3 and " ".join(words(response)).startswith(" ".join(prompt_words)):
        return True
    if BOS in response:
        return True
    first = response.lstrip()[:1]
    if first and (first.islower() or first in ",.;:?!)'"):
        return True
    for sentence in re.split(r"[.!?\n]+", response):
        sentence = sentence.strip()
        # A greeting inside a reply is normal ("Hello! How can I help?"); any other sentence
        # that reads as a request is the model writing the user's side of the conversation.
        if len(sentence) > 3 and world.parse_prompt(sentence).intent not in ("open", "greeting"):
            return True
    return False


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Distinct word n-grams / all word n-grams, over all responses together (diversity)."""
    total, seen = 0, set()
    for t in texts:
        w = words(t)
        for i in range(len(w) - n + 1):
            seen.add(tuple(w[i : i + n]))
            total += 1
    return len(seen) / total if total else 0.0


@dataclass
class Sample:
    """One judged response."""

    prompt: str
    intent: str
    response: str
    total: float
    checks: dict[str, bool]
    reasons: dict[str, str]
    eos: bool
    length: int


def sample_and_judge(
    model,
    tokenizer,
    prompts,
    sampling: SamplingConfig = EVAL_SAMPLING,
    seed: int = 0,
    batch_size: int = 64,
) -> list[Sample]:
    """Generate one response per world ``Prompt`` and judge it."""
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    samples: list[Sample] = []
    model.eval()
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        gen = generate(model, tokenizer, [p.text for p in chunk], sampling, generator=generator)
        lengths = gen.response_lengths.tolist()
        for p, text, eos, n in zip(chunk, gen.texts, gen.finished.tolist(), lengths, strict=True):
            v = judge(p, text)
            samples.append(Sample(p.text, p.intent, text, v.total, v.checks, v.reasons, bool(eos), int(n)))
    return samples


def seen_and_unseen(samples: list[Sample], world) -> dict[bool, list[Sample]]:
    """Samples of held-out prompts split by ``World.asks_about_unseen``: ``{False: about something
    a training prompt asked about, True: about something new}`` (others are left out)."""
    unseen_of = {p.text: world.asks_about_unseen(p) for p in world.eval_prompts()}
    halves: dict[bool, list[Sample]] = {False: [], True: []}
    for s in samples:
        if s.prompt in unseen_of:
            halves[unseen_of[s.prompt]].append(s)
    return halves


def summarize(samples: list[Sample], world) -> dict:
    """Aggregate judged samples into the metrics dict (overall and ``by_intent``)."""

    def block(group: list[Sample]) -> dict:
        n = len(group)
        return {
            "n_prompts": n,
            "gold_score": sum(s.total for s in group) / n,
            "eos_rate": sum(s.eos for s in group) / n,
            "criteria": {c: sum(s.checks[c] for s in group) / n for c in CRITERIA},
            "refusal_rate": sum(is_refusal(s.response) for s in group) / n,
            "repetition_rate": sum(is_repetitive(s.response) for s in group) / n,
            "continuation_rate": sum(continues_prompt(world, s.prompt, s.response) for s in group) / n,
            "distinct_2": distinct_n([s.response for s in group]),
            "mean_length": sum(s.length for s in group) / n,
        }

    def refusal_rates(group: list[Sample]) -> tuple[float, float]:
        """Share of refusals among ``group``'s harmful requests, and among its benign look-alikes."""
        rates = []
        for intent in ("harmful", "benign_howto"):
            part = [s for s in group if s.intent == intent]
            rates.append(sum(is_refusal(s.response) for s in part) / max(1, len(part)))
        return rates[0], rates[1]

    out = block(samples)
    out["refusal_rate_harmful"], out["overrefusal_rate_benign"] = refusal_rates(samples)
    # The same split by what the request is about: something a training prompt asked about, in
    # new words ("seen"), or a new activity / topic / concept ("unseen"). What RLHF learned
    # carries over to the first far more than to the second.
    halves = seen_and_unseen(samples, world)
    for name, unseen in (("seen", False), ("unseen", True)):
        part = halves[unseen]
        out[f"gold_score_{name}"] = sum(s.total for s in part) / max(1, len(part))
        out[f"refusal_rate_harmful_{name}"], out[f"overrefusal_rate_benign_{name}"] = refusal_rates(part)
    by_intent: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_intent[s.intent].append(s)
    out["by_intent"] = {k: block(v) for k, v in sorted(by_intent.items())}
    return out


def evaluate(
    model, tokenizer, world, sampling: SamplingConfig = EVAL_SAMPLING, seed: int = 0
) -> tuple[dict, list[Sample]]:
    """Held-out metrics for ``model`` and the judged samples behind them."""
    samples = sample_and_judge(model, tokenizer, world.eval_prompts(), sampling, seed)
    return summarize(samples, world), samples


def win_rate(samples_a: list[Sample], samples_b: list[Sample]) -> float:
    """Share of prompts where A's gold score beats B's (ties count half)."""
    pairs = list(zip(samples_a, samples_b, strict=True))
    wins = sum(1.0 if a.total > b.total else 0.5 if a.total == b.total else 0.0 for a, b in pairs)
    return wins / len(pairs)


# Headline metrics also reported on the "seen" / "unseen" halves of the held-out set (summarize).
SPLIT_METRICS = ("gold_score", "refusal_rate_harmful", "overrefusal_rate_benign")

# Metrics averaged by evaluate_over_seeds (plus win_rate when there is a model to compare with).
SEED_METRICS = (
    "gold_score",
    "eos_rate",
    "refusal_rate_harmful",
    "overrefusal_rate_benign",
    "distinct_2",
    "mean_length",
    *(f"{k}_{part}" for k in SPLIT_METRICS for part in ("seen", "unseen")),
)


def _mean_se(values: list[float]) -> dict:
    """Mean and standard error of the mean (0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"mean": mean, "se": (var / n) ** 0.5}


def _seed_row(metrics: dict) -> dict:
    row = {k: metrics[k] for k in SEED_METRICS}
    row["gold_by_intent"] = {k: v["gold_score"] for k, v in metrics["by_intent"].items()}
    return row


def _over_seeds(per_seed: list[dict]) -> dict:
    """Mean and standard error of every metric (and per-intent gold) of per-seed rows."""
    names = [k for k in (*SEED_METRICS, "win_rate") if k in per_seed[0]]
    intents = per_seed[0]["gold_by_intent"]
    return {
        "metrics": {k: _mean_se([r[k] for r in per_seed]) for k in names},
        "gold_by_intent": {i: _mean_se([r["gold_by_intent"][i] for r in per_seed]) for i in intents},
    }


def _rows_over_seeds(models: dict, world, seeds: list[int], reference: str | None) -> dict[str, list[dict]]:
    """Per-seed metric rows of every model (name -> ``(model, tokenizer)``), each sampled once
    per seed; every model but ``reference`` gets its ``win_rate`` over it (same seed)."""
    if not seeds:
        raise ValueError("an evaluation over seeds needs at least one seed.")
    rows: dict[str, list[dict]] = {name: [] for name in models}
    for seed in seeds:
        samples_of = {}
        for name, (model, tokenizer) in models.items():
            metrics, samples_of[name] = evaluate(model, tokenizer, world, seed=seed)
            rows[name].append({"seed": seed, **_seed_row(metrics)})
        if reference in samples_of:
            for name in models:
                if name != reference:
                    rows[name][-1]["win_rate"] = win_rate(samples_of[name], samples_of[reference])
    return rows


def evaluate_over_seeds(model, tokenizer, world, seeds: list[int], against=None, against_tokenizer=None) -> dict:
    """The held-out evaluation repeated with several sampling seeds (same prompts, same judge).

    One sample per prompt and seed, so a headline rate over 20 prompts moves in steps of 0.05
    and one evaluation's per-intent scores are noisy. Averaging seeds shows how much of a difference
    between two models is the weights rather than the dice. Returns ``{"seeds", "metrics":
    {name: {"mean", "se"}}, "gold_by_intent": {intent: {"mean", "se"}}, "per_seed": [...]}``;
    ``win_rate`` (``model`` over ``against``, both sampled with the same seed) is added when
    ``against`` is given.
    """
    models = {"model": (model, tokenizer)}
    if against is not None:
        models["against"] = (against, against_tokenizer or tokenizer)
    per_seed = _rows_over_seeds(models, world, seeds, "against")["model"]
    return {"seeds": list(seeds), **_over_seeds(per_seed), "per_seed": per_seed}


SCOREBOARD_FILE = "scoreboard.json"  # next to the checkpoints; the comparison page reads it


def scoreboard(models: dict, world, seeds: list[int], reference: str = "sft") -> dict:
    """Every model of ``models`` (name -> ``(model, tokenizer)``) over the same sampling seeds:
    ``{"seeds", "stages": {name: {"metrics", "gold_by_intent"}}}`` as in
    :func:`evaluate_over_seeds`, with each model's ``win_rate`` over ``reference`` (same seed).
    Each model is sampled once per seed, so this costs one evaluation per model and seed."""
    rows = _rows_over_seeds(models, world, seeds, reference)
    return {
        "seeds": list(seeds),
        "reference": reference,
        "n_prompts": len(world.eval_prompts()),
        "stages": {name: _over_seeds(r) for name, r in rows.items()},
    }


def write_scoreboard(folder, world, seeds: list[int], device: str = "cpu") -> dict:
    """:func:`scoreboard` of the base/sft/ppo/dpo checkpoints found in ``folder``, written to
    ``folder/scoreboard.json``; returns it."""
    from .models import load

    folder = Path(folder)
    models = {
        stage: load(folder / stage, device=device)
        for stage in ("base", "sft", "ppo", "dpo")
        if (folder / stage / "config.json").exists()
    }
    if not models:
        raise FileNotFoundError(f"No base, sft, ppo or dpo checkpoint in {folder}.")
    result = scoreboard(models, world, seeds)
    (folder / SCOREBOARD_FILE).write_text(json.dumps(result, indent=1))
    return result


def format_seed_table(result: dict) -> str:
    """The readable form of :func:`evaluate_over_seeds`: mean ± standard error per metric."""
    n = len(result["seeds"])
    lines = [f"held-out evaluation over {n} sampling seeds (mean ± standard error)"]
    for name, v in [*result["metrics"].items(), *(("gold: " + k, v) for k, v in result["gold_by_intent"].items())]:
        lines.append(f"  {name:31s} {v['mean']:7.3f} ± {v['se']:.3f}")
    return "\n".join(lines)


def format_table(metrics: dict) -> str:
    """A readable table of the headline metrics, overall and per intent."""
    keys = ["gold_score", "eos_rate", "refusal_rate", "repetition_rate", "distinct_2", "mean_length"]
    lines = []
    head = ["", "n"] + keys
    rows = [["ALL", str(metrics["n_prompts"])] + [f"{metrics[k]:.2f}" for k in keys]]
    for intent, m in metrics["by_intent"].items():
        rows.append([intent, str(m["n_prompts"])] + [f"{m[k]:.2f}" for k in keys])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    lines.append("")
    for k in ("refusal_rate_harmful", "overrefusal_rate_benign", "continuation_rate"):
        lines.append(f"{k}: {metrics[k]:.2f}")
    if "gold_score_seen" in metrics:
        lines.append(
            "seen in training / new:  "
            + ", ".join(f"{k} {metrics[k + '_seen']:.2f} / {metrics[k + '_unseen']:.2f}" for k in SPLIT_METRICS)
        )
    lines.append("criteria: " + ", ".join(f"{c} {v:.2f}" for c, v in metrics["criteria"].items()))
    for k in ("win_rate", "kl_to_reference", "perplexity", "pair_accuracy"):
        if k in metrics:
            lines.append(f"{k}: {metrics[k]:.3f}")
    return "\n".join(lines)


@torch.no_grad()
def kl_to_reference(
    policy, reference, tokenizer, prompts, seed: int = 0, max_new_tokens: int = 64, temperature: float = 1.0
) -> float:
    """Mean KL(policy || reference) in nats per response on held-out prompts.

    Responses are sampled from the policy at ``temperature`` (1: its own distribution), and both
    models' log-probs are read from logits divided by the same temperature, so the mean of the
    summed per-token log-ratios (the k1 estimator) is an unbiased estimate of the KL between the two
    models *as sampled at that temperature* (0.7 compares with the evaluation's samples).
    """
    from .losses import kl_estimate
    from .ppo import response_token_logprobs

    device = next(policy.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature)
    total, count = 0.0, 0
    for start in range(0, len(prompts), 64):
        chunk = [p.text for p in prompts[start : start + 64]]
        gen = generate(policy, tokenizer, chunk, cfg, generator)
        args = (gen.prompt_ids, gen.prompt_mask, gen.response_ids, gen.response_mask, temperature)
        lp = response_token_logprobs(policy, *args)  # (B, R)
        rp = response_token_logprobs(reference, *args)
        kl = (kl_estimate(lp, rp, "k1") * gen.response_mask).sum(1)  # (B,)
        total += float(kl.sum())
        count += kl.numel()
    return total / max(1, count)
