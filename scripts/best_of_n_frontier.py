"""Best-of-N against a model's own samples: how far a perfect reward, and the learned one, can go.

For each sampling seed the script draws the reference model's held-out samples (as ``eval`` does:
``--model`` itself, or ``--reference``) and, from ``--model``, N candidate answers per held-out
prompt (another stream). Best-of-n for every n up to N keeps, per prompt, the candidate a scorer
likes best among the first n:

* ``gold``: the gold judge itself, a perfect reward; what it reaches at a KL of at most
  ``log n - (n - 1) / n`` nats is about the most a KL-penalised RLHF policy at that KL can reach
  from this model (``rlhf_core.best_of_n``);
* ``reward``: the learned reward model (``--reward``), what that reward model is worth before PPO
  exploits it.

Per n and scorer it prints the gold score, refusal and over-refusal (also split, on the held-out
set, into requests about a trained activity in new words and about a new activity), the win rate
against the reference samples (the issue's ``win_rate``) and each intent's part of it ((wins -
losses) / (2 x prompts), as ``win_rate_headroom.py``), and the reward model's mean score of the
kept answers, averaged over the seeds, next to real policies' (``--policy``) win rate and KL to the
model. ``--prompts train`` does the same on training prompts in the held-out set's proportions.

Usage: python3 scripts/best_of_n_frontier.py [--model DIR] [--reward DIR] [--n 32] [--seeds 4]
       [--reference DIR] [--policy DIR ...] [--prompts heldout|train] [--json FILE] [--samples FILE]
(``--samples FILE`` keeps the sampled answers, so another ``--reward`` rescores them in minutes.)
A diagnosis, not a test. About 11 min for N = 64 and 4 sampling seeds on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlhf_core.best_of_n import best_indices, gold_scores, kl_bound, reward_scores, sample_candidates  # noqa: E402
from rlhf_core.evaluate import Sample, kl_to_reference, sample_and_judge, summarize, win_rate  # noqa: E402
from rlhf_core.generate import EVAL_SAMPLING  # noqa: E402
from rlhf_core.models import (  # noqa: E402
    MODELS_DIR,
    load,
    load_ensemble_members,
    load_model,
    load_tokenizer,
    same_vocabulary,
)
from rlhf_core.world import World  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from win_rate_headroom import contributions  # noqa: E402

SPLIT_RATES = ("refusal_rate_harmful", "overrefusal_rate_benign")
CANDIDATE_SEED = 10_000  # candidates of sampling seed s come from stream CANDIDATE_SEED + s


def frontier_rows(candidates_by_seed, reference_by_seed, scores_by_seed, ns, world, proxy_by_seed=None) -> list[dict]:
    """One row per n: Best-of-n's metrics against the reference, averaged over the seeds; with
    ``proxy_by_seed`` (the reward model's scores of the same candidates) also the mean reward-model
    score of the chosen answers, ``reward_score``, to set against their gold score."""
    rows = []
    for n in ns:
        picks = {seed: best_indices(scores_by_seed[seed], n) for seed in candidates_by_seed}
        chosen = {
            seed: [row[k] for row, k in zip(c, picks[seed], strict=True)] for seed, c in candidates_by_seed.items()
        }
        proxy = None
        if proxy_by_seed is not None:  # the proxy's score of each chosen candidate
            picked = [proxy_by_seed[seed][i][k] for seed in picks for i, k in enumerate(picks[seed])]
            proxy = sum(picked) / len(picked)
        metrics = [summarize(chosen[seed], world) for seed in chosen]
        wins = [win_rate(chosen[seed], reference_by_seed[seed]) for seed in chosen]
        rows.append(
            {
                "n": n,
                "kl_bound": kl_bound(n),
                "gold_score": _mean(metrics, "gold_score"),
                "refusal_rate_harmful": _mean(metrics, "refusal_rate_harmful"),
                "overrefusal_rate_benign": _mean(metrics, "overrefusal_rate_benign"),
                # Held-out set only (empty on training prompts): about a trained activity in new
                # words ("seen") or about a new activity ("unseen"), as `eval` splits them.
                **{f"{k}_{part}": _mean(metrics, f"{k}_{part}") for k in SPLIT_RATES for part in ("seen", "unseen")},
                "eos_rate": _mean(metrics, "eos_rate"),
                "win_rate": sum(wins) / len(wins),
                "parts": contributions(chosen, reference_by_seed),
                **({"reward_score": proxy} if proxy is not None else {}),
            }
        )
    return rows


def training_prompts(world) -> list:
    """Training prompts in the held-out set's proportions: per intent, as many as the held-out set
    has, the first of that intent in the world's (shuffled) training pool."""
    wanted: dict[str, int] = {}
    for p in world.eval_prompts():
        wanted[p.intent] = wanted.get(p.intent, 0) + 1
    out = []
    for p in world.train_prompts():
        if wanted.get(p.intent, 0) > 0:
            out.append(p)
            wanted[p.intent] -= 1
    return out


def policy_row(path: str, model, tokenizer, reference_by_seed: dict, world, prompts: list) -> dict:
    """A trained policy's metrics against the same reference samples, and its KL to ``model`` with
    both sampled at the evaluation's temperature (the distribution Best-of-n's bound is about)."""
    policy, policy_tokenizer = load(path)
    samples = {seed: sample_and_judge(policy, policy_tokenizer, prompts, seed=seed) for seed in reference_by_seed}
    metrics = [summarize(s, world) for s in samples.values()]
    kl = kl_to_reference(
        policy,
        model,
        tokenizer,
        prompts,
        max_new_tokens=EVAL_SAMPLING.max_new_tokens,
        temperature=EVAL_SAMPLING.temperature,
    )
    return {
        "path": path,
        "kl": kl,
        "gold_score": _mean(metrics, "gold_score"),
        "refusal_rate_harmful": _mean(metrics, "refusal_rate_harmful"),
        "overrefusal_rate_benign": _mean(metrics, "overrefusal_rate_benign"),
        "win_rate": sum(win_rate(samples[s], reference_by_seed[s]) for s in samples) / len(samples),
        "parts": contributions(samples, reference_by_seed),
    }


def save_samples(path: str, reference: dict, candidates: dict, meta: dict) -> None:
    """Write the reference samples and the candidates (per sampling seed) as JSON, to rescore later."""
    data = {
        "meta": meta,
        "reference": {str(k): [asdict(s) for s in v] for k, v in reference.items()},
        "candidates": {str(k): [[asdict(s) for s in row] for row in v] for k, v in candidates.items()},
    }
    Path(path).write_text(json.dumps(data))


def load_samples(path: str, meta: dict) -> tuple[dict, dict] | None:
    """The reference samples and candidates saved by :func:`save_samples` for the same ``meta``
    (model, n, seeds), or None when the file is missing or was written for something else."""
    if not Path(path).exists():
        return None
    data = json.loads(Path(path).read_text())
    if data.get("meta") != meta:
        return None
    reference = {int(k): [Sample(**s) for s in v] for k, v in data["reference"].items()}
    candidates = {int(k): [[Sample(**s) for s in row] for row in v] for k, v in data["candidates"].items()}
    return reference, candidates


def _mean(metrics: list[dict], key: str) -> float:
    return sum(m[key] for m in metrics) / len(metrics)


def powers_of_two(n_max: int) -> list[int]:
    """1, 2, 4, ... up to ``n_max`` (and ``n_max`` itself)."""
    ns, n = [], 1
    while n < n_max:
        ns.append(n)
        n *= 2
    return [*ns, n_max]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(MODELS_DIR / "sft"), help="model to sample (default: shipped SFT)")
    parser.add_argument("--reward", default=str(MODELS_DIR / "reward"), help="reward model (default: shipped)")
    parser.add_argument("--n", type=int, default=32, help="largest number of candidates per prompt (default 32)")
    parser.add_argument("--seeds", type=int, default=4, help="sampling seeds (default 4)")
    parser.add_argument(
        "--policy", action="append", help="a policy trained from --model: its win rate and KL (repeatable)"
    )
    parser.add_argument(
        "--reference",
        help="compare with this model's samples instead of --model's own (e.g. --model a PPO policy, --reference its SFT model)",
    )
    parser.add_argument(
        "--prompts",
        choices=("heldout", "train"),
        default="heldout",
        help="the held-out set (default) or training prompts in its proportions per intent",
    )
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument(
        "--samples",
        help="keep the sampled answers in this JSON file and reuse them when it exists (same model, n, seeds)",
    )
    args = parser.parse_args()
    if args.seeds < 1 or args.n < 1:
        parser.error("--seeds and --n must be 1 or more")
    torch.set_num_threads(1)
    world = World(seed=0)
    model, tokenizer = load(args.model)
    if not same_vocabulary(load_tokenizer(args.reward), tokenizer):
        # the candidates are scored with the policy's tokenizer: another base's would be gibberish
        parser.error(f"{args.reward} and {args.model} come from different base models (their tokenizers differ)")
    # The reward model and its ensemble's other members, if any (one member scores as the model alone).
    reward = [load_model(args.reward, kind="reward"), *load_ensemble_members(args.reward)]
    prompts = world.eval_prompts() if args.prompts == "heldout" else training_prompts(world)
    reference_path = args.reference or args.model
    meta = {
        "model": str(Path(args.model).resolve()),
        "n": args.n,
        "seeds": args.seeds,
        "prompts": args.prompts,
        **({"reference": str(Path(args.reference).resolve())} if args.reference else {}),
    }
    saved = load_samples(args.samples, meta) if args.samples else None
    if saved:
        reference, candidates = saved
    else:
        # The same samples `eval` draws for its seeds (it calls sample_and_judge on the held-out set).
        ref_model, ref_tokenizer = (model, tokenizer) if not args.reference else load(args.reference)
        reference = {seed: sample_and_judge(ref_model, ref_tokenizer, prompts, seed=seed) for seed in range(args.seeds)}
        candidates = {
            seed: sample_candidates(model, tokenizer, prompts, args.n, seed=CANDIDATE_SEED + seed)
            for seed in range(args.seeds)
        }
        if args.samples:
            save_samples(args.samples, reference, candidates, meta)
    scores = {
        "gold": {seed: gold_scores(c) for seed, c in candidates.items()},
        "reward": {seed: reward_scores(reward, tokenizer, c) for seed, c in candidates.items()},
    }
    ns = powers_of_two(args.n)
    result = {
        "model": args.model,
        "reference": reference_path,
        "reward": args.reward,
        "seeds": args.seeds,
        "scorers": {},
    }
    for scorer, by_seed in scores.items():
        result["scorers"][scorer] = frontier_rows(candidates, reference, by_seed, ns, world, scores["reward"])
    result["policies"] = [policy_row(path, model, tokenizer, reference, world, prompts) for path in (args.policy or [])]
    intents = sorted({s.intent for s in reference[0]})
    print(
        f"Best-of-n from {args.model} against the samples of {reference_path}, {args.prompts} prompts"
        f" ({args.seeds} seeds; KL to {args.model}: the bound)"
    )
    head = f"  {'scorer':7s} {'n':>3s} {'KL<=':>5s} {'reward':>6s} {'gold':>6s} {'refuse':>6s} {'over':>5s} {'win':>6s}"
    print(head + "".join(f" {i[:8]:>8s}" for i in intents))
    for scorer, rows in result["scorers"].items():
        for r in rows:
            line = (
                f"  {scorer:7s} {r['n']:3d} {r['kl_bound']:5.2f} {r['reward_score']:+6.2f} {r['gold_score']:6.3f}"
                f" {r['refusal_rate_harmful']:6.2f} {r['overrefusal_rate_benign']:5.2f} {r['win_rate']:6.3f}"
            )
            print(line + "".join(f" {r['parts'].get(i, 0.0):+8.3f}" for i in intents))
    for p in result["policies"]:
        print(
            f"  policy {p['path']}: KL {p['kl']:.2f} (at T {EVAL_SAMPLING.temperature}), gold {p['gold_score']:.3f},"
            f" refusal {p['refusal_rate_harmful']:.2f}, over-refusal {p['overrefusal_rate_benign']:.2f},"
            f" win {p['win_rate']:.3f}" + "".join(f" {p['parts'].get(i, 0.0):+8.3f}" for i in intents)
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
