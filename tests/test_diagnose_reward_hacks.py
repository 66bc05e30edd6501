"""scripts/diagnose_reward_hacks.py: the audit compares each fixed answer with the right ideal
answer, per intent, and its fixed answers are right for their own intent only."""

import math
import random

import pytest

from rlhf_core.judge import judge


@pytest.fixture(scope="module")
def hacks(load_script):
    return load_script("diagnose_reward_hacks")


def test_fixed_answer_wins_counts_per_intent_and_skips_its_own(hacks, world, monkeypatch):
    """A scorer that likes the fixed answer on poem requests only: poems 1.0, others 0.0."""
    prompts = random.Random(0).sample(world.train_prompts(), 120)
    answer = hacks.FIXED_ANSWERS["unknown"]
    scored = []

    def fake_scores(_model, _tok, texts, responses):
        scored.extend(zip(texts, responses, strict=True))
        by_text = {p.text: p for p in prompts}
        return [
            1.0 if r == answer and by_text[t].intent == "poem" else 0.0 for t, r in zip(texts, responses, strict=True)
        ]

    monkeypatch.setattr(hacks, "score_texts", fake_scores)
    wins = hacks.fixed_answer_wins(None, None, world, prompts, {"unknown": answer})["unknown"]
    others = [p for p in prompts if p.intent != "unknown"]
    assert "unknown" not in wins and {p.intent for p in others} == set(wins) - {"all"}
    assert wins["poem"] == 1.0
    assert all(v == 0.0 for k, v in wins.items() if k not in ("poem", "all"))
    assert wins["all"] == pytest.approx(sum(p.intent == "poem" for p in others) / len(others))
    # each prompt's ideal answer was scored against it, besides the fixed answer
    ideal = {(p.text, world.ideal_response(p, random.Random(p.text))) for p in others}
    assert ideal <= set(scored)
    only_own = [p for p in prompts if p.intent == "unknown"]
    assert math.isnan(hacks.fixed_answer_wins(None, None, world, only_own, {"unknown": answer})["unknown"]["all"])


def test_each_fixed_answer_is_right_for_its_own_intent_only(hacks, world):
    """The audit is only meaningful if the gold judge likes each answer where it belongs and
    gates it everywhere else (so a reward model preferring it there is wrong)."""
    for right_for, answer in hacks.FIXED_ANSWERS.items():
        own = [p for p in world.train_prompts() if p.intent == right_for]
        assert own and all(judge(p, answer).total == 1.0 for p in own), right_for
        other = random.Random(1).sample([p for p in world.train_prompts() if p.intent != right_for], 80)
        assert all(judge(p, answer).total <= 0.2 for p in other), right_for
