"""Does a reward-model recipe generalise to new prompts? A yardstick that is not the held-out set.

The held-out pair accuracy (``metrics.json``) is what the issue's target reads, so tuning a
reward-model recipe against it would tune on the test. This script keeps it for the end: it
splits a pipeline's training pairs **by prompt**, trains the reward model with the shipped recipe
(``RewardConfig.full()``, one seed per run) on four fifths of the prompts, and reports pair
accuracy on

* ``train``: the first 300 pairs it trained on;
* ``dev``: the pairs of the other fifth of the prompts: new prompt texts, training values;
* ``heldout``: the held-out pairs, as the pipeline measures them.

With the shipped checkpoints (seeds 0-3): dev 0.687, held-out 0.701, while train reaches 0.9 in
one epoch and 0.997 in six. See docs/results.md, session 9.

``--by-activity`` splits by *activity* instead: a fifth of the harmful activities and a fifth of their
benign look-alikes, with every pair whose prompt names one of them, go to dev. Besides pair accuracy
it reports how often the reward model prefers a refusal to the ideal answer
(``diagnose_refusals.prefers_refusal``) on the training prompts about the activities it trained on
and about the dev ones. The second pair of numbers is the refusal decision on activities it never
saw in a pair, read on the training distribution: the yardstick for the decision that the held-out
look-alikes need (docs/results.md, session 12). Answers in other prompts' off-topic pairs can still
mention a dev activity.

``--decision-pairs K`` adds, for every training harmful request and look-alike (dev activities left
out), K comparisons of a written refusal against the written answer, labelled by the annotator, with
as many for each kind of request (:func:`decision_pairs`); ``--drop-one-sided-refusals`` removes the
sampled comparisons in which exactly one answer is a refusal (in the sampled pairs a refusal is
chosen for a harmful request far more often than it is rejected for a look-alike);
``--backbone DIR`` starts the reward model from another model (e.g. the base) than ``MODELS/sft``.
Session 16 (docs/results.md) used them: the training activities are then learned, the dev ones are
not.

Usage: python3 scripts/reward_dev_split.py [--models DIR] [--seeds N] [--dev-share 0.2] [--group-by-prompt]
       [--by-activity] [--split-seed N] [--steps N] [--backbone DIR] [--decision-pairs K]
       [--drop-one-sided-refusals]
A diagnosis, not a test. About 20 s per seed on one CPU thread (longer for bigger pair sets).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other diagnosis scripts

from diagnose_refusals import LOOKALIKE_INTENTS, prefers_refusal  # noqa: E402

from rlhf_core.judge import is_refusal, judge  # noqa: E402
from rlhf_core.models import load_model, load_tokenizer  # noqa: E402
from rlhf_core.reward import (  # noqa: E402
    PreferencePair,
    RewardConfig,
    RewardTrainer,
    _annotated_pair,
    load_pairs,
    pair_accuracy,
    reward_model_from_policy,
)
from rlhf_core.training import run  # noqa: E402
from rlhf_core.world import World, responses  # noqa: E402
from rlhf_core.world.knowledge import HARMFUL_ACTIVITIES  # noqa: E402


def split_by_prompt(
    pairs: list[PreferencePair], dev_share: float = 0.2, seed: int = 123
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, dev): every pair of a prompt lands on the same side; ``dev_share`` of the distinct
    prompts (rounded down, at least one when there are two or more) go to dev."""
    if not 0.0 < dev_share < 1.0:
        raise ValueError(f"dev_share must be in (0, 1), got {dev_share}")
    prompts = sorted({p.prompt for p in pairs})
    random.Random(seed).shuffle(prompts)
    n_dev = max(1, int(len(prompts) * dev_share)) if len(prompts) > 1 else 0
    dev_prompts = set(prompts[:n_dev])
    return [p for p in pairs if p.prompt not in dev_prompts], [p for p in pairs if p.prompt in dev_prompts]


def split_by_activity(
    pairs: list[PreferencePair], world: World, dev_share: float = 0.2, seed: int = 123
) -> tuple[list[PreferencePair], list[PreferencePair], set[str]]:
    """(train, dev, dev activities): ``dev_share`` of the harmful activities and of the benign
    look-alikes named by the pairs' prompts (rounded down, at least one of each kind) go to dev,
    with every pair whose prompt names one of them; all other pairs train."""
    if not 0.0 < dev_share < 1.0:
        raise ValueError(f"dev_share must be in (0, 1), got {dev_share}")
    activity = {}
    for text in {p.prompt for p in pairs}:
        prompt = world.parse_prompt(text)
        if prompt.intent in LOOKALIKE_INTENTS:
            activity[text] = (prompt.intent, prompt.slot("activity"))
    rng, dev_activities = random.Random(seed), set()
    for intent in LOOKALIKE_INTENTS:
        names = sorted({a for i, a in activity.values() if i == intent})
        rng.shuffle(names)
        dev_activities |= set(names[: max(1, int(len(names) * dev_share))] if len(names) > 1 else [])
    in_dev = {t for t, (_, a) in activity.items() if a in dev_activities}
    return [p for p in pairs if p.prompt not in in_dev], [p for p in pairs if p.prompt in in_dev], dev_activities


def decision_pairs(
    world: World, prompt_texts, per_prompt: int, skip_activities: set[str], seed: int = 7
) -> list[PreferencePair]:
    """Per harmful / look-alike prompt among ``prompt_texts`` (its activity not in
    ``skip_activities``), ``per_prompt`` comparisons of a written refusal (the ideal answer of a
    harmful request; for a look-alike, a refusal written for a random harmful activity) against the
    written compliant answer, labelled by the annotator (source "decision"). Then as many of one
    kind of request as of the other: the larger side is subsampled, so that a refusal is chosen
    exactly as often as it is rejected."""
    rng = random.Random(seed)
    out: list[PreferencePair] = []
    for text in sorted(set(prompt_texts)):
        prompt = world.parse_prompt(text)
        if prompt.intent not in LOOKALIKE_INTENTS or prompt.slot("activity") in skip_activities:
            continue
        for _ in range(per_prompt):
            if prompt.intent == "harmful":
                refusal = world.ideal_response(prompt, rng)
            else:
                refusal = responses.refusal(rng.choice(HARMFUL_ACTIVITIES).request, rng)
            answer = world.compliant_response(prompt, rng)
            pair = _annotated_pair(
                prompt,
                refusal,
                judge(prompt, refusal).total,
                answer,
                judge(prompt, answer).total,
                rng=rng,
                noise=0.0,
                length_bias=0.0,
                source="decision",
            )
            if pair is not None:  # (a tie carries no preference)
                out.append(pair)
    harmful = [p for p in out if p.intent == "harmful"]
    lookalike = [p for p in out if p.intent != "harmful"]
    n = min(len(harmful), len(lookalike))
    balance = random.Random(seed + 4)
    return balance.sample(harmful, n) + balance.sample(lookalike, n)


def without_one_sided_refusals(pairs: list[PreferencePair]) -> list[PreferencePair]:
    """The pairs in which both answers refuse or neither does."""
    return [p for p in pairs if is_refusal(p.chosen) == is_refusal(p.rejected)]


def train_reward_model(policy, tokenizer, train: list[PreferencePair], config: RewardConfig):
    """A fresh reward model from ``policy``, trained on ``train`` with ``config``."""
    torch.manual_seed(config.seed)  # the new head's initialisation
    reward_model = reward_model_from_policy(policy)
    run(RewardTrainer(config, reward_model, tokenizer, train, None))
    return reward_model.eval()


def score_groups(reward_model, tokenizer, groups: dict[str, list[PreferencePair]]) -> dict[str, float]:
    """Pair accuracy of ``reward_model`` on each group."""
    return {name: pair_accuracy(reward_model, tokenizer, pairs)["pair_accuracy"] for name, pairs in groups.items()}


def refusal_preference(reward_model, tokenizer, world: World, activities: set[str]) -> dict[str, float]:
    """Share of the training harmful / look-alike prompts about ``activities`` for which the reward
    model prefers a refusal to the ideal answer (1.0 is right for harmful, 0.0 for look-alikes)."""
    out = {}
    for intent in LOOKALIKE_INTENTS:
        prompts = [p for p in world.train_prompts() if p.intent == intent and p.slot("activity") in activities]
        flags = prefers_refusal(reward_model, tokenizer, world, prompts) if prompts else []
        out[intent] = sum(flags) / len(flags) if flags else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=Path("assets/models"), help="folder with sft/ and reward/")
    ap.add_argument("--seeds", type=int, default=4, help="reward-model seeds 0..N-1")
    ap.add_argument("--dev-share", type=float, default=0.2, help="share of training prompts kept for dev")
    ap.add_argument(
        "--group-by-prompt", action="store_true", help="RewardConfig.group_by_prompt (whole prompts per batch)"
    )
    ap.add_argument("--by-activity", action="store_true", help="hold out activities, not prompts; report refusals")
    ap.add_argument("--split-seed", type=int, default=123, help="which prompts or activities go to dev")
    ap.add_argument("--steps", type=int, default=None, help="reward-model steps (default: the full preset's)")
    ap.add_argument("--backbone", type=Path, default=None, help="model the reward model starts from (MODELS/sft)")
    ap.add_argument("--decision-pairs", type=int, default=0, help="refusal-vs-answer pairs per training prompt")
    ap.add_argument(
        "--drop-one-sided-refusals", action="store_true", help="drop sampled pairs where one answer refuses"
    )
    args = ap.parse_args()
    if args.decision_pairs < 0:
        ap.error("--decision-pairs must be 0 or more")
    torch.set_num_threads(1)
    backbone = args.backbone or args.models / "sft"
    policy = load_model(backbone, kind="policy")
    tokenizer = load_tokenizer(backbone)
    pairs = load_pairs(args.models / "reward" / "preference_pairs.jsonl")
    heldout = load_pairs(args.models / "reward" / "preference_pairs_heldout.jsonl")
    world = World(0)
    if args.by_activity:
        train, dev, dev_activities = split_by_activity(pairs, world, args.dev_share, args.split_seed)
        train_activities = {p.slot("activity") for p in world.train_prompts() if p.intent in LOOKALIKE_INTENTS}
        train_activities -= dev_activities
        print("dev activities: " + ", ".join(sorted(dev_activities)))
    else:
        train, dev = split_by_prompt(pairs, args.dev_share, args.split_seed)
    if args.decision_pairs or args.drop_one_sided_refusals:
        held_back = dev_activities if args.by_activity else set()
        extra = decision_pairs(world, [p.prompt for p in train], args.decision_pairs, held_back)
        kept = without_one_sided_refusals(train) if args.drop_one_sided_refusals else train
        print(f"{len(extra)} decision pairs; {len(train) - len(kept)} one-sided refusal pairs dropped")
        train = kept + extra
        random.Random(5).shuffle(train)  # the decision pairs are not all at the end
    print(f"{len(train)} training pairs, {len(dev)} dev pairs, {len(heldout)} held-out pairs")
    results = []
    for seed in range(args.seeds):
        config = RewardConfig.full()
        config.seed, config.eval_every, config.group_by_prompt = seed, 10**9, args.group_by_prompt
        config.steps = args.steps or config.steps
        reward_model = train_reward_model(policy, tokenizer, train, config)
        acc = score_groups(reward_model, tokenizer, {"train": train[:300], "dev": dev, "heldout": heldout})
        if args.by_activity:
            for side, names in (("trained", train_activities), ("dev", dev_activities)):
                for intent, share in refusal_preference(reward_model, tokenizer, world, names).items():
                    acc[f"refuses {intent} ({side})"] = share
        results.append(acc)
        print(f"seed {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in acc.items()), flush=True)
    print("mean:   " + "  ".join(f"{k} {statistics.mean(r[k] for r in results):.3f}" for k in results[0]))


if __name__ == "__main__":
    main()
