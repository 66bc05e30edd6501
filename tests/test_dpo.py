"""DPO: a tiny run separates chosen from rejected relative to the reference."""

from __future__ import annotations

import copy
import random

import torch

from rlhf_core.dpo import DPOConfig, DPOTrainer
from rlhf_core.reward import PreferencePair
from rlhf_core.training import run


def test_dpo_tiny_run_prefers_chosen(tiny_sft, world):
    sft, tok = tiny_sft
    rng = random.Random(0)
    pairs = [
        PreferencePair(p.text, world.ideal_response(p, rng), "Hey! How can I help?", p.intent)
        for p in world.train_prompts()[:48]
    ]
    policy = copy.deepcopy(sft)
    start = [p.detach().clone() for p in policy.parameters()]
    trainer = DPOTrainer(DPOConfig(steps=20, batch_size=16, lr=5e-4, sft_coef=0.0), policy, sft, tok, pairs)
    history = run(trainer)
    assert all(torch.isfinite(torch.tensor(h["loss/dpo"])) for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(start, policy.parameters(), strict=True))
    # The implicit reward margin grows and the loss falls below log 2 (where it starts).
    assert abs(history[0]["loss/dpo"] - 0.6931) < 0.05
    assert history[-1]["rewards/margin"] > history[0]["rewards/margin"]
    assert history[-1]["loss/dpo"] < 0.6
    assert history[-1]["rewards/accuracy"] >= 0.8


def test_ipo_runs(tiny_sft, world):
    sft, tok = tiny_sft
    pairs = [PreferencePair("Hi", "Hello! How can I help you today?", "no no no", "greeting")]
    trainer = DPOTrainer(DPOConfig(steps=2, batch_size=1, loss_type="ipo"), copy.deepcopy(sft), sft, tok, pairs)
    assert len(run(trainer)) == 2
