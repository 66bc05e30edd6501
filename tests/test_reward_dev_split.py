"""scripts/reward_dev_split.py: the split keeps every prompt on one side; the recipe is really trained."""

import pytest

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


def test_train_and_score_learns_a_prompt_dependent_preference(dev_split, tiny_sft):
    """'say yes' prompts prefer "yes", 'say no' prompts prefer "no": only a reward model that was
    trained, and reads the prompt, gets the dev prompts right (an untrained one is near 0.5)."""
    policy, tok = tiny_sft
    pairs = []
    for i in range(40):
        word, other = ("yes", "no") if i % 2 == 0 else ("no", "yes")
        pairs.append(PreferencePair(f"Please say {word}, number {i}.", f"{word}.", f"{other}."))
    train, dev = dev_split.split_by_prompt(pairs, dev_share=0.25)
    config = RewardConfig(steps=60, batch_size=16, lr=3e-3, eval_every=10**9)
    before = dev_split.train_and_score(policy, tok, train, {"dev": dev}, RewardConfig(steps=0, eval_every=10**9))
    after = dev_split.train_and_score(policy, tok, train, {"train": train, "dev": dev}, config)
    assert 0.2 <= before["dev"] <= 0.8
    assert after["train"] >= 0.9 and after["dev"] >= 0.8, after
