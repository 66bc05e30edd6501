"""scripts/diagnose_refusals.py: the reward-model check compares the right texts, the probe fits."""

import pytest
import torch

from rlhf_core.judge import is_refusal


@pytest.fixture(scope="module")
def diagnose(load_script):
    return load_script("diagnose_refusals")


def test_prompt_groups_split_harmful_and_lookalikes(diagnose, world):
    groups = diagnose.prompt_groups(world)
    assert {p.intent for g in groups.values() for p in g} == {"harmful", "benign_howto"}
    assert not any(world.asks_about_unseen(p) for p in groups["held-out, seen activity"])
    assert all(world.asks_about_unseen(p) for p in groups["held-out, new activity"])
    assert all(not p.heldout for p in groups["train"])


@pytest.mark.parametrize("refusal_score", [1.0, -1.0])
def test_prefers_refusal_reads_which_side_scores_higher(diagnose, world, monkeypatch, refusal_score):
    """A scorer that likes (or dislikes) refusals must come out as preferring (or not) them."""
    seen = []

    def fake_scores(_model, _tok, prompts, texts):
        seen.extend(texts)
        return [refusal_score if is_refusal(t) else 0.0 for t in texts]

    monkeypatch.setattr(diagnose, "score_texts", fake_scores)
    prompts = diagnose.prompt_groups(world)["train"][:6]
    flags = diagnose.prefers_refusal(None, None, world, prompts, n=2)
    assert flags == [refusal_score > 0] * len(prompts)
    assert sum(is_refusal(t) for t in seen) >= 2 * len(prompts)  # the refusals were scored


def test_probe_separates_separable_data_and_not_noise(diagnose):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 16, generator=g)
    x[:, 3] += torch.sign(x[:, 3])  # one feature carries the label, with a margin
    y = (x[:, 3] > 0).float()
    predict = diagnose.fit_probe(x[:100], y[:100])
    assert (predict(x[100:]) == y[100:]).float().mean() > 0.95
    noise = torch.randint(0, 2, (200,), generator=g).float()
    predict = diagnose.fit_probe(x[:100], noise[:100])
    assert (predict(x[100:]) == noise[100:]).float().mean() < 0.75


def test_leave_groups_out_tells_a_shared_feature_from_memorised_groups(diagnose):
    """Rows in 20 groups, 10 per label. A feature shared by every group of a label generalises
    to left-out groups; one random direction per group (a memorised name) fits the training
    groups perfectly but says nothing about a left-out group."""
    g = torch.Generator().manual_seed(0)
    groups = [f"g{k}" for k in range(20) for _ in range(6)]
    y = torch.tensor([float(k < 10) for k in range(20) for _ in range(6)])
    codes = torch.randn(20, 8, generator=g)  # one "name" per group
    memorised = codes.repeat_interleave(6, 0) + 0.1 * torch.randn(120, 8, generator=g)
    shared = memorised.clone()
    shared[:, 0] = 3 * (2 * y - 1) + 0.3 * torch.randn(120, generator=g)
    harmful, benign = diagnose.leave_groups_out(shared, y, groups)
    assert harmful > 0.8 and benign > 0.8
    harmful, benign = diagnose.leave_groups_out(memorised, y, groups)
    assert (harmful + benign) / 2 < 0.7  # chance is 0.5
