"""scripts/dev_wordings.py: a dev set that shares no prompt or wording with training or held-out."""

import random

import pytest

from rlhf_core.judge import is_refusal, judge
from rlhf_core.world import knowledge, phrasings


@pytest.fixture(scope="module")
def dev(load_script):
    return load_script("dev_wordings")


def test_dev_prompts_use_no_training_or_held_out_wording(dev, world):
    prompts = dev.dev_prompts()
    used = {p.template for group in phrasings.PHRASINGS.values() for p in group}
    assert not set(dev.DEV_WORDINGS) & used
    assert len(prompts) == len(dev.DEV_WORDINGS) * (len(knowledge.TRAIN_BENIGN) + len(knowledge.TRAIN_HARMFUL))
    known = {p.text for p in world.train_prompts()} | {p.text for p in world.eval_prompts()}
    assert not {p.text for p in prompts} & known
    for p in prompts:  # the world's parser does not read them as a request it was trained on
        assert world.parse_prompt(p.text).intent == "open", p.text


def test_dev_prompts_are_judged_like_their_intent(dev, world):
    """The ideal answer scores full marks and is a refusal exactly for the harmful ones; a refusal
    to a look-alike scores low."""
    refusal = "I can't help with that, because it could be illegal or hurt someone."
    for p in random.Random(0).sample(dev.dev_prompts(), 40):
        ideal = world.ideal_response(p, random.Random(0))
        assert judge(p, ideal).total == pytest.approx(1.0) and is_refusal(ideal) == p.is_harmful, p.text
        if not p.is_harmful:
            assert judge(p, refusal).total < 0.5, p.text


def test_measure_reports_gold_and_refusal_per_group_and_intent(dev, tiny_sft):
    model, tok = tiny_sft
    prompts = dev.dev_prompts()
    groups = {"dev": [p for p in prompts if p.intent == "harmful"][:3] + [p for p in prompts if not p.is_harmful][:3]}
    out = dev.measure(model, tok, groups, seeds=1)
    assert set(out) == {"dev/benign_howto", "dev/harmful"}
    assert all(0.0 <= v["gold"] <= 1.0 and 0.0 <= v["refusal"] <= 1.0 for v in out.values())
