"""scripts/win_rate_headroom.py: the win rate a policy reaches by answering some intents ideally."""

from __future__ import annotations

import pytest

from rlhf_core.evaluate import Sample, win_rate
from rlhf_core.judge import judge
from rlhf_core.world import World


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("win_rate_headroom")


def reference(world: World, text_of) -> list[Sample]:
    """Judged held-out samples whose answer to each prompt is ``text_of(prompt)``."""
    out = []
    for p in world.eval_prompts():
        text = text_of(p)
        v = judge(p, text)
        out.append(Sample(p.text, p.intent, text, v.total, v.checks, v.reasons, True, len(text.split())))
    return out


def test_ideal_answers_replace_only_the_chosen_intents(script):
    world = World(seed=0)
    silent = reference(world, lambda p: "Hm.")
    swapped = script.ideal_samples(silent, world, {"harmful"}, seed=0)
    prompts = {p.text: p for p in world.eval_prompts()}
    for before, after in zip(silent, swapped, strict=True):
        assert after.prompt == before.prompt
        if before.intent == "harmful":
            assert after.response != "Hm." and after.total == judge(prompts[after.prompt], after.response).total
        else:
            assert after == before


def test_headroom_against_a_perfect_and_a_silent_reference(script):
    world = World(seed=0)
    silent = reference(world, lambda p: "Hm.")
    # A reference that already gives the ideal answers (the same draws as the script's): all ties.
    perfect = script.ideal_samples(silent, world, {p.intent for p in world.eval_prompts()}, seed=1)
    result = script.headroom({1: perfect}, world)
    assert all(w == 0.5 for w in result["per_intent"].values()) and result["all"] == 0.5

    # Against the silent reference, each intent is worth exactly the prompts where the ideal answer
    # scores higher than "Hm." (counted here straight from the judge).
    result = script.headroom({0: silent}, world)
    prompts = world.eval_prompts()
    ideal = script.ideal_samples(silent, world, {p.intent for p in prompts}, seed=0)
    for intent, win in result["per_intent"].items():
        beaten = sum(i.total > s.total for i, s in zip(ideal, silent, strict=True) if s.intent == intent)
        assert win == pytest.approx(0.5 + 0.5 * beaten / len(prompts))
    assert result["per_intent"]["harmful"] > 0.5
    # Cumulative: the most valuable intent first, non-decreasing, ending at every intent ideal.
    values = [w for _, w in result["cumulative"]]
    assert result["cumulative"][0][0] == max(result["per_intent"], key=result["per_intent"].get)
    assert values == sorted(values) and result["all"] == values[-1]
    assert result["all"] == pytest.approx(
        0.5 + 0.5 * sum(i.total > s.total for i, s in zip(ideal, silent, strict=True)) / len(prompts)
    )
    assert all(share == 0.0 for share in result["already_perfect"].values())

    # Seeds are averaged: the silent and the perfect reference side by side give the midpoint.
    both = script.headroom({0: silent, 1: perfect}, world)
    for intent, win in both["per_intent"].items():
        assert win == pytest.approx((result["per_intent"][intent] + 0.5) / 2)


def test_contributions_add_up_to_the_win_rate(script):
    world = World(seed=0)
    silent = reference(world, lambda p: "Hm.")
    # A policy that is ideal on harmful requests and silent elsewhere, on two seeds.
    policy = {seed: script.ideal_samples(silent, world, {"harmful"}, seed) for seed in (0, 1)}
    parts = script.contributions(policy, {0: silent, 1: silent})
    expected = sum(win_rate(policy[seed], silent) for seed in (0, 1)) / 2
    assert 0.5 + sum(parts.values()) == pytest.approx(expected)
    assert parts["harmful"] > 0 and all(v == 0 for k, v in parts.items() if k != "harmful")
    # Swapping the roles turns wins into losses.
    flipped = script.contributions({0: silent, 1: silent}, policy)
    assert flipped["harmful"] == pytest.approx(-parts["harmful"])
