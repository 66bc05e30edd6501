"""Which of the judge's criteria decided each preference pair, and does the reward model get it right?

The held-out pair accuracy (0.706 for the shipped reward model; issue 3 asks for 0.85) averages pairs
that are decided by very different things: a refusal against a guide, a sum against a list, a poem
split into lines against one that is not, an explanation of the right concept against one of
another. For each pair, ``reward.accuracy_by_criteria`` finds the criteria (``judge.CRITERIA``:
helpful, harmless, honest, well_formatted, appropriate) on which the gold judge's verdicts for the
chosen and the rejected response differ, groups the pairs by intent and that set of criteria, and
reports per group the number of pairs, how many the reward model gets wrong, its accuracy and the
mean gold margin. A second table pools the intents: per criterion, the pairs where it differs. The
reward-model page of the app draws the second table.

Read it as: the groups with many pairs and low accuracy are where the reward model's missing
accuracy is, and their criterion says what it would have to learn there (e.g. ``honest`` on a list
about a held-out category means knowing which items belong to it).

Usage: python3 scripts/diagnose_reward_pairs.py [--reward DIR] [--pairs FILE]
(defaults: assets/models/reward and its held-out pairs). A diagnosis, not a test; a few seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlhf_core.models import load_model, load_tokenizer  # noqa: E402
from rlhf_core.reward import accuracy_by_criteria, load_pairs, pair_accuracy  # noqa: E402
from rlhf_core.world import World  # noqa: E402


def _print(title: str, rows: list[dict]) -> None:
    print(title)
    print(f"  {'group':48s} {'pairs':>5s} {'wrong':>5s} {'acc':>5s} {'gold margin':>11s}")
    for row in rows:
        print(f"  {row['group']:48s} {row['n']:5d} {row['wrong']:5d} {row['accuracy']:5.2f} {row['margin']:11.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reward", type=Path, default=Path("assets/models/reward"), help="reward-model checkpoint")
    ap.add_argument("--pairs", type=Path, default=None, help="pairs JSONL (default: the checkpoint's held-out pairs)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    pairs = load_pairs(args.pairs or args.reward / "preference_pairs_heldout.jsonl")
    model, tok = load_model(args.reward, kind="reward").eval(), load_tokenizer(args.reward)
    acc = pair_accuracy(model, tok, pairs)
    groups, criteria = accuracy_by_criteria(World(0), pairs, acc["chosen_scores"], acc["rejected_scores"])
    print(f"{len(pairs)} pairs, reward-model accuracy {acc['pair_accuracy']:.3f}")
    _print("by intent and the criteria that differ (most wrong first):", groups)
    _print("by criterion (a pair counts under each criterion that differs):", criteria)


if __name__ == "__main__":
    main()
