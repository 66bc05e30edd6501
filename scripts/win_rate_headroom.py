"""How high can a win rate against a model go, and which intents must carry it?

``eval --against`` counts, per held-out prompt, whether the policy's answer has a higher gold score
than the reference model's (ties count half). This script asks what that number would be for a
policy that answers some intents *ideally* (the world's ideal answer: the refusal for a harmful
request, the real guide for a look-alike, ...) and copies the reference's own samples everywhere
else. So it reads the ceiling of what fixing those intents alone can win, against the same samples
the evaluation would compare with (same prompts, temperature, seeds).

Two readings per sampling seed, averaged:

* per intent: the win rate if only that intent were answered ideally;
* cumulative: intents added from the one worth most to the one worth least.

A prompt the reference already answers perfectly is a tie whatever the policy does, so even the
ideal policy stays below 1.0. Session 23 (docs/results.md): against the shipped SFT model,
answering every harmful request and every look-alike ideally reaches 0.64; the issue's 0.7 needs
wins on poems, explanations, lists, sums or tone as well.

With ``--policy DIR`` it also splits that policy's own win rate against the model into each
intent's part, (wins - losses) / (2 x prompts), to read next to the ceiling.

Usage: python3 scripts/win_rate_headroom.py [--model DIR] [--policy DIR] [--seeds N]
A diagnosis, not a test. About 30 s per sampling seed on one CPU thread.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlhf_core.evaluate import Sample, evaluate, win_rate  # noqa: E402
from rlhf_core.judge import judge  # noqa: E402
from rlhf_core.models import MODELS_DIR, load  # noqa: E402
from rlhf_core.world import World  # noqa: E402


def ideal_samples(samples: list[Sample], world, intents: set[str], seed: int) -> list[Sample]:
    """``samples`` with the answers to prompts of ``intents`` replaced by the world's ideal answer,
    judged by the gold judge (drawn from a stream per seed and prompt, so the same for every set of
    intents)."""
    prompts = {p.text: p for p in world.eval_prompts()}
    out = []
    for s in samples:
        if s.intent in intents:
            prompt = prompts[s.prompt]
            text = world.ideal_response(prompt, random.Random(f"{seed}:{prompt.text}"))
            verdict = judge(prompt, text)
            s = replace(s, response=text, total=verdict.total, checks=verdict.checks, reasons=verdict.reasons, eos=True)
        out.append(s)
    return out


def headroom(samples_by_seed: dict[int, list[Sample]], world) -> dict:
    """The win rates of :func:`ideal_samples` policies against ``samples_by_seed`` (the reference's
    judged held-out samples per sampling seed), averaged over the seeds.

    Returns ``{"per_intent": {intent: win}, "cumulative": [(intent, win), ...],
    "already_perfect": {intent: share of its samples with gold score 1}, "all": win}``."""
    n_seeds = len(samples_by_seed)

    def mean_win(intents: set[str]) -> float:
        wins = [win_rate(ideal_samples(s, world, intents, seed), s) for seed, s in samples_by_seed.items()]
        return sum(wins) / n_seeds

    intents = sorted({s.intent for samples in samples_by_seed.values() for s in samples})
    per_intent = {intent: mean_win({intent}) for intent in intents}
    cumulative, chosen = [], set()
    for intent in sorted(intents, key=lambda i: -per_intent[i]):
        chosen.add(intent)
        cumulative.append((intent, mean_win(chosen)))
    perfect: dict[str, list[bool]] = defaultdict(list)
    for samples in samples_by_seed.values():
        for s in samples:
            perfect[s.intent].append(s.total >= 1.0)
    return {
        "per_intent": per_intent,
        "cumulative": cumulative,
        "already_perfect": {i: sum(v) / len(v) for i, v in sorted(perfect.items())},
        "all": cumulative[-1][1] if cumulative else 0.5,
    }


def contributions(samples_by_seed: dict[int, list[Sample]], reference_by_seed: dict[int, list[Sample]]) -> dict:
    """Each intent's part of a policy's win rate against the reference, averaged over the seeds:
    (wins - losses) / (2 * prompts), so that 0.5 plus the parts is the win rate."""
    parts: dict[str, float] = defaultdict(float)
    for seed, samples in samples_by_seed.items():
        reference = reference_by_seed[seed]
        by_intent: dict[str, tuple[list[Sample], list[Sample]]] = defaultdict(lambda: ([], []))
        for a, b in zip(samples, reference, strict=True):
            by_intent[a.intent][0].append(a)
            by_intent[a.intent][1].append(b)
        # (win_rate - 0.5) x n = (wins - losses) / 2 on the intent's n prompts, with win_rate's tie rule.
        for intent, (mine, theirs) in by_intent.items():
            parts[intent] += (win_rate(mine, theirs) - 0.5) * len(mine) / (len(reference) * len(samples_by_seed))
    return dict(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(MODELS_DIR / "sft"), help="the reference model (default: shipped SFT)")
    parser.add_argument("--seeds", type=int, default=4, help="sampling seeds (default 4)")
    parser.add_argument("--policy", help="also show where this policy's win rate against --model comes from")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be 1 or more")
    torch.set_num_threads(1)
    world = World(seed=0)
    model, tokenizer = load(args.model)
    samples_by_seed = {seed: evaluate(model, tokenizer, world, seed=seed)[1] for seed in range(args.seeds)}
    result = headroom(samples_by_seed, world)
    parts = {}
    if args.policy:
        policy, policy_tokenizer = load(args.policy)
        policy_samples = {seed: evaluate(policy, policy_tokenizer, world, seed=seed)[1] for seed in range(args.seeds)}
        parts = contributions(policy_samples, samples_by_seed)
    counts: dict[str, int] = defaultdict(int)
    for s in samples_by_seed[0]:
        counts[s.intent] += 1
    print(f"{args.model}: win rate against its own samples if some intents were answered ideally ({args.seeds} seeds)")
    head = f"  {'intent':13s} {'prompts':>7s} {'already perfect':>15s} {'only it ideal':>13s} {'cumulative':>10s}"
    print(head + (f" {'policy (part)':>13s}" if parts else ""))
    for intent, cumulative in result["cumulative"]:
        row = (
            f"  {intent:13s} {counts[intent]:7d} {result['already_perfect'][intent]:15.2f}"
            f" {result['per_intent'][intent]:13.3f} {cumulative:10.3f}"
        )
        print(row + (f" {parts.get(intent, 0.0):+13.3f}" if parts else ""))
    if parts:
        print(f"  policy's win rate: {0.5 + sum(parts.values()):.3f} (0.5 plus the parts)")


if __name__ == "__main__":
    main()
