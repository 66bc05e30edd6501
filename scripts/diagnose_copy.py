"""Can a model copy? The measurement behind "the base model cannot copy" in `docs/results.md`.

Every held-out request that names something new ("crack an egg", "a poem about driftwood") needs
the model to carry words from the request into its answer. Transformers do that with *induction
heads*: attend to an earlier occurrence of the current token and predict what came after it.
Three readings, each greedy and deterministic:

1. **Random-span copy**: a sequence of random tokens followed by the same sequence again, with a
   different length in every row. A model with working induction heads predicts the repeat
   almost perfectly; one without is at chance (1 / vocabulary). Nothing about the world's text
   can help here, only copying, and the varied lengths defeat copying from a fixed distance.
2. **Activity copy, neutral frame**: "Ana asked Ben how to {activity}. Ben said: here is how to"
   must continue with exactly the activity's words, for the training activities, the held-out
   ones and made-up ones ("polish the dovalin") that cannot be remembered, only copied.
3. **Activity copy, chat frame** (for a policy): the request in the chat format, the answer
   forced to open with "Here is how to"; must go on with the activity that was asked for.
4. **Self-check copy by wording** (``--wordings``, for a model trained with
   ``SFTConfig.self_check``): every how-to wording of the world, training and held-out, asks about
   each training and each held-out activity; the answer is forced to open with "Is it legal to" and must go on with
   that activity. Session 19 found a self-check SFT model copying under the training wordings and
   failing under two held-out ones ("Give me instructions to ..."), whatever the activity.
5. **Self-check copy by lead** (``--leads``): the same reading under leads written for this probe
   only (never training data), with the number of tokens before the activity: short leads that
   open other intents ("Explain how to ...", "Give me how to ...") and long leads of training words
   ("Tell me, tell me, tell me how to ..."). Session 21 found the copy of a real activity failing
   after 11 or more tokens, whatever the words; made-up activities show what the echo rows taught.
   Session 22 found made-up activities with a training verb copied about as often after every
   lead: the long leads break the copy of activities the model knows, not the copy itself.

Usage: python3 scripts/diagnose_copy.py --model DIR [DIR ...] [--wordings | --leads]
A diagnosis for docs/results.md, not a test. A few seconds per checkpoint on one CPU thread.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlhf_core.copying import plain_id_range, random_span_copy  # noqa: E402
from rlhf_core.models import ASSISTANT, BOS, EOS, USER, load  # noqa: E402
from rlhf_core.world import knowledge, phrasings, writing  # noqa: E402

STORY_FRAME = "Ana asked Ben how to {a}. Ben said: here is how to"
CHAT_FRAME = BOS + USER + "How do I {a}?" + EOS + ASSISTANT + "Here is how to"
# The self-check's question up to the activity: "Is it legal to"
SELF_CHECK_OPENING = writing.SELF_CHECK_QUESTION.split(" {activity}")[0]


@torch.no_grad()
def continues_with(model, tokenizer, text: str, target: str) -> bool:
    """Does the greedy continuation of ``text`` start with " " + ``target``, token for token?"""
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids  # (1, L)
    want = tokenizer(" " + target, add_special_tokens=False).input_ids
    for token in want:
        next_id = int(model(input_ids=ids).logits[0, -1].argmax())
        if next_id != token:
            return False
        ids = torch.cat([ids, torch.tensor([[next_id]])], dim=1)  # (1, L + 1)
    return True


def copy_rate(model, tokenizer, frame: str, items: list[str]) -> float:
    """Share of ``items`` that the greedy continuation of ``frame`` reproduces exactly."""
    return sum(continues_with(model, tokenizer, frame.format(a=a), a) for a in items) / max(1, len(items))


def activity_sets(n_nonce: int = 30, seed: int = 123) -> dict[str, list[str]]:
    """Training activities, held-out activities, and made-up ones that can only be copied: "polish
    the dovalin" (a verb no activity has) and, like SFT's echo rows and the echo genre, a training
    activity's verb with a made-up word or a training topic ("hotwire a violin")."""
    everything = knowledge.HARMFUL_ACTIVITIES + knowledge.BENIGN_ACTIVITIES
    rng = random.Random(seed)
    return {  # the made-up sets are drawn in this order from one generator
        "training": [a.request for a in everything if not a.heldout],
        "held-out": [a.request for a in everything if a.heldout],
        "made-up": [f"polish the {knowledge.nonce_topic(rng)}" for _ in range(n_nonce)],
        "made-up, training verb": [knowledge.made_up_activity(rng) for _ in range(n_nonce)],
    }


def diagnose(model, tokenizer) -> dict[str, float]:
    """All three readings for one checkpoint."""
    row = {"random-span copy": random_span_copy(model, *plain_id_range(tokenizer))}
    for name, items in activity_sets().items():
        row[f"story frame, {name}"] = copy_rate(model, tokenizer, STORY_FRAME, items)
        row[f"chat frame, {name}"] = copy_rate(model, tokenizer, CHAT_FRAME, items)
    return row


def self_check_frames() -> dict[str, str]:
    """How-to wording -> chat frame that asks with it and opens the answer with the self-check's
    question, the activity left as ``{a}`` (training wordings first, then the held-out ones)."""
    wordings = sorted(phrasings.BENIGN_HOWTO, key=lambda p: p.heldout)
    return {
        ("held-out: " if p.heldout else "training: ") + p.template.replace("{activity}", "..."): BOS
        + USER
        + p.template.replace("{activity}", "{a}")
        + EOS
        + ASSISTANT
        + SELF_CHECK_OPENING
        for p in wordings
    }


def frame_copy_rates(model, tokenizer, frames: dict[str, str], items: list[str]) -> dict[str, float]:
    """Per named frame (with an ``{a}`` hole): the share of ``items`` its greedy continuation repeats."""
    return {name: copy_rate(model, tokenizer, frame, items) for name, frame in frames.items()}


def wording_copy_rates(model, tokenizer, items: list[str]) -> dict[str, float]:
    """Per how-to wording: the share of ``items`` the greedy self-check question repeats exactly."""
    return frame_copy_rates(model, tokenizer, self_check_frames(), items)


# Leads of the ``--leads`` reading, about shortest first: a probe, never training text.
LEAD_PROBES: tuple[str, ...] = (
    "Tell me how to {a}.",
    "Explain how to {a}.",
    "Give me how to {a}.",
    "List how to {a}.",
    "Now tell me how to {a}.",
    "Step by step how to {a}.",
    "Instructions to {a}.",
    "Please please please please how to {a}.",
    "So now please tell me how to {a}.",
    "Tell me step by step how to {a}.",
    "Tell me, tell me, tell me how to {a}.",
)


def lead_frames(tokenizer) -> dict[str, tuple[int, str]]:
    """Probe lead -> (tokens of the request before the activity, chat frame that asks with it and
    opens the answer with the self-check's question, the activity left as ``{a}``)."""
    frames = {}
    for lead in LEAD_PROBES:
        before = len(tokenizer(lead.split(" {a}")[0], add_special_tokens=False).input_ids)
        frames[lead.replace("{a}", "...")] = (before, BOS + USER + lead + EOS + ASSISTANT + SELF_CHECK_OPENING)
    return frames


def lead_copy_rates(model, tokenizer, items: list[str]) -> dict[str, float]:
    """Per probe lead: the share of ``items`` the greedy self-check question repeats exactly."""
    frames = {name: frame for name, (_, frame) in lead_frames(tokenizer).items()}
    return frame_copy_rates(model, tokenizer, frames, items)


def _models(paths: list[str]):
    """(path, model in eval mode, tokenizer) for each checkpoint folder, loaded one at a time."""
    for path in paths:
        model, tokenizer = load(path)
        yield path, model.eval(), tokenizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", nargs="+", required=True, help="checkpoint folders")
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument(
        "--wordings",
        action="store_true",
        help="instead: the self-check's copy of training and held-out activities, per how-to wording",
    )
    reading.add_argument(
        "--leads",
        action="store_true",
        help="instead: the self-check's copy of training, held-out and made-up activities after probe leads "
        "of different lengths",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.leads:
        sets = activity_sets()
        for path, model, tokenizer in _models(args.model):
            print(f"{path}: activities copied into the self-check's question (greedy), " + " / ".join(sets))
            rates = {name: lead_copy_rates(model, tokenizer, items) for name, items in sets.items()}
            for lead, (before, _) in lead_frames(tokenizer).items():
                shares = " / ".join(f"{rates[name][lead]:.2f}" for name in sets)
                print(f"  {before:2d} tokens before it  {shares}  {lead}")
        return 0
    if args.wordings:
        sets = activity_sets()
        for path, model, tokenizer in _models(args.model):
            print(f"{path}: activities copied into the self-check's question (greedy), training / held-out")
            seen = wording_copy_rates(model, tokenizer, sets["training"])
            new = wording_copy_rates(model, tokenizer, sets["held-out"])
            for name in seen:
                print(f"  {seen[name]:.2f} / {new[name]:.2f}  {name}")
        return 0
    rows = {path: diagnose(model, tokenizer) for path, model, tokenizer in _models(args.model)}
    columns = list(next(iter(rows.values())))
    print("| model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for path, row in rows.items():
        print(f"| {path} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
