"""Where do the refusal decisions go wrong? Two measurements behind `docs/results.md`.

1. **Reward model** (``--reward DIR ...``): for every harmful request and every benign look-alike
   ("steal a bike" / "steal a base"), does the reward model score a refusal above the ideal
   compliant answer? Four refusals against four ideal answers, mean score each side. Reported
   for the training prompts, and the held-out ones about a training activity ("seen") or a new
   one ("unseen"). A good reward model prefers the refusal for every harmful request and for
   no look-alike. Also the mean normalised score, over the first 40 training prompts of each
   kind, of a refusal, the ideal answer and a guide to a random benign activity (the answer
   to the wrong request that PPO can substitute).
2. **Linear probe** (``--policy DIR ...``): is "harmful" linearly readable from the policy's hidden
   state at the prompt's last token? A logistic regression per layer is fitted on the training
   harmful and look-alike prompts and scored on the held-out ones. It bounds how well a refusal
   decision made at the start of the answer could generalise from this model's own features.
   With 13 + 9 prompts about new activities that reading is fragile, so it is followed by a
   **leave-activities-out** probe: fitted on the training prompts of four fifths of the training
   activities, scored on the prompts of the other fifth (5 folds x 3 shuffles). On a base
   model, whose every activity is known from web text only, this is what a decision read off
   its features can do for an activity never requested in training.

Usage: python3 scripts/diagnose_refusals.py [--reward DIR ...] [--policy DIR ...]
A diagnosis for docs/results.md, not a test. A few seconds per checkpoint on one CPU thread.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlhf_core.generate import encode_prompts, positions_from_mask  # noqa: E402
from rlhf_core.models import load, load_model, load_tokenizer  # noqa: E402
from rlhf_core.reward import score_texts  # noqa: E402
from rlhf_core.world import World, responses  # noqa: E402
from rlhf_core.world.knowledge import BENIGN_ACTIVITIES, HARMFUL_ACTIVITIES  # noqa: E402

LOOKALIKE_INTENTS = ("harmful", "benign_howto")


def prompt_groups(world: World) -> dict[str, list]:
    """Training, held-out-seen and held-out-unseen harmful and look-alike prompts."""
    held_out = [p for p in world.eval_prompts() if p.intent in LOOKALIKE_INTENTS]
    return {
        "train": [p for p in world.train_prompts() if p.intent in LOOKALIKE_INTENTS],
        "held-out, seen activity": [p for p in held_out if not world.asks_about_unseen(p)],
        "held-out, new activity": [p for p in held_out if world.asks_about_unseen(p)],
    }


def prefers_refusal(reward_model, tokenizer, world: World, prompts: list, n: int = 4) -> list[bool]:
    """Per prompt: is the mean score of ``n`` refusals above that of ``n`` ideal compliant answers?"""
    texts = []  # per prompt: n refusals, then n answers
    for p in prompts:
        rng = random.Random(p.text)
        texts += [responses.refusal(a.request, rng) for a in rng.sample(HARMFUL_ACTIVITIES, n)]
        texts += [world.compliant_response(p, random.Random(k)) for k in range(n)]
    s = score_texts(reward_model, tokenizer, [p.text for p in prompts for _ in range(2 * n)], texts)
    return [sum(s[i : i + n]) > sum(s[i + n : i + 2 * n]) for i in range(0, len(s), 2 * n)]


def mean_scores(reward_model, tokenizer, world: World, prompts: list) -> dict[str, float]:
    """Mean normalised score of a refusal, the ideal answer and another activity's guide."""
    kinds: dict[str, list[str]] = {"refusal": [], "ideal answer": [], "guide to another activity": []}
    for p in prompts:
        rng = random.Random(p.text)
        kinds["refusal"].append(responses.refusal(rng.choice(HARMFUL_ACTIVITIES).request, rng))
        kinds["ideal answer"].append(world.ideal_response(p, rng))
        other = rng.choice(BENIGN_ACTIVITIES)
        kinds["guide to another activity"].append(responses.howto_steps(other.request, other.steps, rng))
    texts = [p.text for p in prompts]
    return {k: sum(score_texts(reward_model, tokenizer, texts, v)) / len(v) for k, v in kinds.items()}


@torch.no_grad()
def last_prompt_states(model, tokenizer, prompts: list) -> torch.Tensor:
    """Hidden state of every layer at the prompt's last token: (N, L+1, C)."""
    rows = []
    for s in range(0, len(prompts), 64):
        ids, mask = encode_prompts(tokenizer, [p.text for p in prompts[s : s + 64]])
        out = model(
            input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask), output_hidden_states=True
        )
        rows.append(torch.stack([h[:, -1] for h in out.hidden_states], 1))  # left padding: the last column is real
    return torch.cat(rows)


def fit_probe(x: torch.Tensor, y: torch.Tensor, steps: int = 500, weight_decay: float = 1e-2):
    """Logistic regression on standardised features (N, C) -> a predictor of 0/1 labels."""
    torch.manual_seed(0)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    lin = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        logits = lin((x - mu) / sd).squeeze(-1)
        torch.nn.functional.binary_cross_entropy_with_logits(logits, y).backward()
        opt.step()
    return lambda z: (lin((z - mu) / sd).squeeze(-1) > 0).float()


def leave_groups_out(
    x: torch.Tensor, y: torch.Tensor, groups: list[str], folds: int = 5, repeats: int = 3
) -> tuple[float, float]:
    """Probe accuracy on rows whose group (activity) was left out of the fit.

    ``x`` (N, C) features, ``y`` (N,) 0/1 labels, ``groups`` (N,) one name per row. The groups
    are shuffled and dealt into ``folds``; each fold is scored by a probe fitted on the others.
    Returns the accuracy on label-1 rows and on label-0 rows, over all folds and repeats. A
    feature that only names the group (memorisation) scores near chance here; one shared by all
    groups of a label scores high.
    """
    names = sorted(set(groups))
    right = {0: [], 1: []}
    for rep in range(repeats):
        order = names[:]
        random.Random(rep).shuffle(order)
        for k in range(folds):
            out = set(order[k::folds])
            test = torch.tensor([g in out for g in groups])
            if not test.any() or test.all():
                continue
            predict = fit_probe(x[~test], y[~test])
            ok = (predict(x[test]) == y[test]).tolist()
            for label, hit in zip(y[test].long().tolist(), ok, strict=True):
                right[label].append(hit)
    return (sum(right[1]) / max(1, len(right[1])), sum(right[0]) / max(1, len(right[0])))


def _rate(flags: list[bool]) -> str:
    return f"{sum(flags) / len(flags):.2f} (n={len(flags)})" if flags else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reward", type=Path, nargs="*", default=[], help="reward-model checkpoints")
    ap.add_argument("--policy", type=Path, nargs="*", default=[], help="policy checkpoints to probe")
    args = ap.parse_args()
    torch.set_num_threads(1)
    world = World(0)
    groups = prompt_groups(world)
    for path in args.reward:
        model, tok = load_model(path, kind="reward"), load_tokenizer(path)
        print(f"reward model {path}: share of prompts where a refusal outscores the ideal answer")
        for name, prompts in groups.items():
            flags = prefers_refusal(model, tok, world, prompts)
            harmful = [f for f, p in zip(flags, prompts, strict=True) if p.is_harmful]
            benign = [f for f, p in zip(flags, prompts, strict=True) if not p.is_harmful]
            print(f"  {name:24s} harmful {_rate(harmful)}   look-alike {_rate(benign)}")
        for intent in LOOKALIKE_INTENTS:
            prompts = [p for p in groups["train"] if p.intent == intent][:40]
            means = mean_scores(model, tok, world, prompts)
            print(f"  mean score, train {intent:12s} " + ", ".join(f"{k} {v:+.2f}" for k, v in means.items()))
    for path in args.policy:
        model, tok = load(path)
        model.eval()
        train, test = groups["train"], groups["held-out, seen activity"] + groups["held-out, new activity"]
        unseen = torch.tensor([world.asks_about_unseen(p) for p in test])
        y_train = torch.tensor([p.is_harmful for p in train], dtype=torch.float)
        y_test = torch.tensor([p.is_harmful for p in test], dtype=torch.float)
        x_train, x_test = last_prompt_states(model, tok, train), last_prompt_states(model, tok, test)
        print(f"probe {path}: accuracy of 'harmful?' read linearly at the prompt's last token")
        for layer in range(x_train.shape[1]):
            predict = fit_probe(x_train[:, layer], y_train)
            ok = predict(x_test[:, layer]) == y_test
            print(
                f"  layer {layer}: train {(predict(x_train[:, layer]) == y_train).float().mean():.2f}"
                f"  held-out seen {ok[~unseen].float().mean():.2f}"
                f"  new: harmful {ok[unseen & (y_test == 1)].float().mean():.2f}"
                f" (n={int((unseen & (y_test == 1)).sum())}),"
                f" look-alike {ok[unseen & (y_test == 0)].float().mean():.2f} (n={int((unseen & (y_test == 0)).sum())})"
            )
        activities = [p.slot("activity") for p in train]
        print(f"  leave-activities-out ({len(set(activities))} training activities, 5 folds x 3):")
        for layer in range(1, x_train.shape[1]):
            harmful, lookalike = leave_groups_out(x_train[:, layer], y_train, activities)
            print(f"  layer {layer}: left-out activity read right: harmful {harmful:.2f}, look-alike {lookalike:.2f}")


if __name__ == "__main__":
    main()
