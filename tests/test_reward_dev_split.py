"""scripts/reward_dev_split.py: the split keeps every prompt on one side; the recipe is really trained."""

import random

import pytest
import torch

from rlhf_core.reward import PreferencePair, RewardConfig


@pytest.fixture(scope="module")
def dev_split(load_script):
    return load_script("reward_dev_split")


def _pairs(n_prompts: int, per_prompt: int = 3) -> list[PreferencePair]:
    return [PreferencePair(f"prompt {i}", f"good {j}", f"bad {j}") for i in range(n_prompts) for j in range(per_prompt)]


def test_split_keeps_each_prompt_on_one_side_and_is_stable(dev_split):
    pairs = _pairs(50)
    train, dev = dev_split.split_by_prompt(pairs, dev_share=0.2)
    assert len(train) + len(dev) == len(pairs)
    assert not {p.prompt for p in train} & {p.prompt for p in dev}
    assert len({p.prompt for p in dev}) == 10
    again, _ = dev_split.split_by_prompt(list(reversed(pairs)), dev_share=0.2)
    assert {p.prompt for p in again} == {p.prompt for p in train}  # by prompt text, not by order
    with pytest.raises(ValueError, match="dev_share"):
        dev_split.split_by_prompt(pairs, dev_share=1.0)


def test_the_recipe_learns_a_prompt_dependent_preference(dev_split, tiny_sft):
    """'say yes' prompts prefer "yes", 'say no' prompts prefer "no": only a reward model that was
    trained, and reads the prompt, gets the dev prompts right (an untrained one is near 0.5)."""
    policy, tok = tiny_sft
    pairs = []
    for i in range(40):
        word, other = ("yes", "no") if i % 2 == 0 else ("no", "yes")
        pairs.append(PreferencePair(f"Please say {word}, number {i}.", f"{word}.", f"{other}."))
    train, dev = dev_split.split_by_prompt(pairs, dev_share=0.25)
    config = RewardConfig(steps=60, batch_size=16, lr=3e-3, eval_every=10**9)
    untrained = dev_split.train_reward_model(policy, tok, train, RewardConfig(steps=0, eval_every=10**9))
    before = dev_split.score_groups(untrained, tok, {"dev": dev})
    trained = dev_split.train_reward_model(policy, tok, train, config)
    after = dev_split.score_groups(trained, tok, {"train": train, "dev": dev})
    assert 0.2 <= before["dev"] <= 0.8
    assert after["train"] >= 0.9 and after["dev"] >= 0.8, after


def test_split_by_activity_holds_out_whole_activities_of_both_kinds(dev_split, world):
    """Every pair whose prompt names a dev activity is in dev, whatever its phrasing; other intents
    always train; dev has harmful activities and look-alikes; bad shares are refused."""
    rng = random.Random(0)
    prompts = world.train_prompts()
    pairs = [PreferencePair(p.text, world.ideal_response(p, rng), "bad", p.intent) for p in prompts]
    train, dev, dev_activities = dev_split.split_by_activity(pairs, world, dev_share=0.2)
    assert len(train) + len(dev) == len(pairs) and dev
    named = {p.prompt: world.parse_prompt(p.prompt) for p in pairs}
    assert all(named[p.prompt].slot("activity") in dev_activities for p in dev)
    assert not any(
        named[p.prompt].slot("activity") in dev_activities for p in train if p.intent in ("harmful", "benign_howto")
    )
    assert {p.intent for p in dev} == {"harmful", "benign_howto"}
    assert {p.intent for p in train} >= {"poem", "greeting", "harmful", "benign_howto"}
    again, _, same = dev_split.split_by_activity(list(reversed(pairs)), world, dev_share=0.2)
    assert same == dev_activities and {p.prompt for p in again} == {p.prompt for p in train}
    with pytest.raises(ValueError, match="dev_share"):
        dev_split.split_by_activity(pairs, world, dev_share=0.0)


def test_refusal_preference_reads_the_reward_model(dev_split, world, monkeypatch):
    """A reward model that only likes refusals prefers them everywhere; one that dislikes them,
    nowhere; an activity with no training prompt gives NaN, not a crash."""
    import diagnose_refusals

    from rlhf_core.judge import is_refusal

    class Stub(torch.nn.Module):
        def __init__(self, sign: float):
            super().__init__()
            self.sign = sign

    def fake_score(model, _tok, _prompts, responses, *args, **kwargs):
        return [model.sign * (1.0 if is_refusal(r) else -1.0) for r in responses]

    monkeypatch.setattr(diagnose_refusals, "score_texts", fake_score)
    activities = {"break into a car", "pick a ripe melon"}
    assert dev_split.refusal_preference(Stub(1.0), None, world, activities) == {"harmful": 1.0, "benign_howto": 1.0}
    assert dev_split.refusal_preference(Stub(-1.0), None, world, activities) == {"harmful": 0.0, "benign_howto": 0.0}
    unseen = dev_split.refusal_preference(Stub(1.0), None, world, {"no such activity"})
    assert all(v != v for v in unseen.values())  # NaN


def test_decision_pairs_are_balanced_and_labelled_by_the_annotator(dev_split, world):
    """A refusal is chosen for every harmful request and rejected for every look-alike, as many
    times each; dev activities and other intents get none; one-sided refusal pairs can be dropped."""
    from rlhf_core.judge import is_refusal

    texts = [p.text for p in world.train_prompts()]
    skip = {"break into a car", "pick a ripe melon"}
    pairs = dev_split.decision_pairs(world, texts, 2, skip)
    harmful = [p for p in pairs if p.intent == "harmful"]
    lookalike = [p for p in pairs if p.intent == "benign_howto"]
    assert harmful and len(harmful) == len(lookalike) and len(pairs) == 2 * len(harmful)
    assert all(is_refusal(p.chosen) and not is_refusal(p.rejected) for p in harmful)
    assert all(is_refusal(p.rejected) and not is_refusal(p.chosen) for p in lookalike)
    assert all(p.chosen_score > p.rejected_score and p.source == "decision" for p in pairs)
    assert not {world.parse_prompt(p.prompt).slot("activity") for p in pairs} & skip
    assert pairs == dev_split.decision_pairs(world, list(reversed(texts)), 2, skip)  # seeded, order-free
    assert dev_split.decision_pairs(world, texts, 0, skip) == []
    mixed = pairs[:3] + [PreferencePair("Hi", "Hello!", "I can't help with that.", "greeting")]
    mixed.append(PreferencePair("Hi", "Hello!", "Hey.", "greeting"))
    assert dev_split.without_one_sided_refusals(mixed) == mixed[-1:]
