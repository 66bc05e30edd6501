"""scripts/diagnose_reward_pairs.py: which criteria decided a pair, and the grouped accuracy."""

import random

import pytest

from rlhf_core.reward import PreferencePair


@pytest.fixture(scope="module")
def diag(load_script):
    return load_script("diagnose_reward_pairs")


def _first(world, intent):
    prompt = next(p for p in world.train_prompts() if p.intent == intent)
    return prompt, world.ideal_response(prompt, random.Random(0))


def test_deciding_criteria_name_what_the_judge_tells_apart(diag, world):
    """The same answer twice: nothing differs; a leftover chat marker: only the format; the wrong
    kind of answer: helpfulness (and the arithmetic's honesty), not the format."""
    prompt, ideal = _first(world, "arithmetic")
    assert diag.deciding_criteria(world, PreferencePair(prompt.text, ideal, ideal, "arithmetic")) == ("none",)
    marker = PreferencePair(prompt.text, ideal, ideal + " <|user|>", "arithmetic")
    assert diag.deciding_criteria(world, marker) == ("well_formatted",)
    refusal = "I can't help with that, because it could be illegal or hurt someone."
    assert diag.deciding_criteria(world, PreferencePair(prompt.text, ideal, refusal, "arithmetic")) == (
        "helpful",
        "honest",
    )


def test_breakdown_groups_counts_and_orders_by_mistakes(diag, world):
    """Accuracy follows the scores (chosen above rejected is right), a pair counts under every
    criterion that differs, the group with most wrong pairs comes first, and the gold margin is
    the mean of chosen minus rejected gold scores."""
    prompt, ideal = _first(world, "arithmetic")
    refusal = "I can't help with that, because it could be illegal or hurt someone."
    fmt = PreferencePair(prompt.text, ideal, ideal + " <|user|>", "arithmetic", 0.95, 0.9)
    wrong_kind = PreferencePair(prompt.text, ideal, refusal, "arithmetic", 0.95, 0.15)
    pairs = [fmt, fmt, wrong_kind, wrong_kind, wrong_kind]
    chosen = [1.0, 1.0, 0.0, 0.0, 2.0]  # format pairs right; two of three wrong-kind pairs wrong
    rejected = [0.0, 0.0, 1.0, 1.0, 1.0]
    groups, criteria = diag.breakdown(world, pairs, chosen, rejected)
    assert [g["group"] for g in groups] == ["arithmetic: helpful+honest", "arithmetic: well_formatted"]
    assert groups[0]["n"] == 3 and groups[0]["accuracy"] == pytest.approx(1 / 3)
    assert groups[0]["margin"] == pytest.approx(0.8)
    assert groups[1]["n"] == 2 and groups[1]["accuracy"] == 1.0 and groups[1]["margin"] == pytest.approx(0.05)
    by_name = {row["group"]: row for row in criteria}
    assert set(by_name) == {"helpful", "honest", "well_formatted"}
    assert by_name["helpful"]["n"] == by_name["honest"]["n"] == 3 and by_name["well_formatted"]["n"] == 2
    with pytest.raises(ValueError, match="one chosen and one rejected score"):
        diag.breakdown(world, pairs, chosen[:-1], rejected)
