"""SFT: a tiny run has a finite, falling loss, changes the weights and teaches the model to stop."""

from __future__ import annotations

import copy

import torch

from rlhf_core.generate import SamplingConfig, generate
from rlhf_core.sft import SFTConfig, SFTTrainer
from rlhf_core.training import run, tokenize_conversations


def eos_rate(model, tok, prompts) -> float:
    gen = generate(
        model, tok, prompts, SamplingConfig(max_new_tokens=48, temperature=0.7), torch.Generator().manual_seed(0)
    )
    return float(gen.finished.float().mean())


def test_prompt_tokens_are_masked(tiny_base):
    _, tok = tiny_base
    ids, mask, labels = tokenize_conversations(tok, ["Hi there", "List two fruits"], ["Hello!", "1. apple\n2. pear"])
    for row_ids, row_labels in zip(ids.tolist(), labels.tolist(), strict=True):
        kept = [t for t, lab in zip(row_ids, row_labels, strict=True) if lab != -100]
        assert kept[-1] == tok.eos_token_id
        assert tok.convert_tokens_to_ids("<|assistant|>") not in kept  # the prompt is not learned
    assert mask.sum() > 0


def test_sft_tiny_run(tiny_base, tiny_sft, world):
    base, tok = tiny_base
    model = copy.deepcopy(base)
    before = [p.detach().clone() for p in model.parameters()]
    history = run(SFTTrainer(SFTConfig.tiny(), model, tok, world))
    assert len(history) == SFTConfig.tiny().steps
    assert all(torch.isfinite(torch.tensor(h["loss/sft"])) for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # Behaviour: the base model rarely stops (never on purpose); after (the fixture's longer) SFT it does.
    prompts = [p.text for p in world.train_prompts()[:48]]
    base_rate = eos_rate(base, tok, prompts)
    assert eos_rate(tiny_sft[0], tok, prompts) >= base_rate + 0.3
