"""The shared-prompt packed forward equals the plain Hugging Face forward, values and gradients."""

from __future__ import annotations

import random

import pytest
import torch

from rlhf_core.losses import sequence_logprobs
from rlhf_core.models import ModelSize, build_model
from rlhf_core.packed import pair_logprobs, tokenize_pairs
from rlhf_core.reward import PreferencePair, last_token_scores, pair_scores, reward_model_from_policy


@pytest.fixture
def pair_batch(tiny_base, world):
    """A trainer-layout batch (chosen rows, then rejected rows) with prompts of different
    lengths, rejected responses both shorter and longer than the chosen ones, and one row cut at
    ``max_len``; plus each pair's prompt length."""
    _, tok = tiny_base
    rng = random.Random(1)
    prompts = world.train_prompts()[:6]
    rejected = ["Hey! How can I help?", "no", world.ideal_response(prompts[0], rng) * 6, "Sure.", "Hi! " * 9, "ok"]
    pairs = [
        PreferencePair(p.text, world.ideal_response(p, rng), r, p.intent)
        for p, r in zip(prompts, rejected, strict=True)
    ]
    ids, mask, labels, prompt_len = tokenize_pairs(tok, pairs, max_len=48)
    assert len(set(prompt_len.tolist())) > 1 and mask[len(pairs) + 2].all()  # varied prompts; one row cut
    return tok, ids, mask, labels, prompt_len


POSITIONS = ["learned", "rotary"]  # GPT-2 and Llama: the two models build_model makes


def sharp_model(tok, positions: str = "learned"):
    """Three blocks (the tiny fixture has one, which would skip the shared-prompt attention), with
    weights large enough that attention is far from uniform and every masking error shows."""
    model = build_model(tok, ModelSize(n_layer=3, n_embd=32, n_head=2, n_positions=128, positions=positions))
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3 if p.dim() > 1 else 0.1)
    return model.train()


def values_and_grads(model, out: torch.Tensor):
    """``out`` and the gradient of a loss that weighs chosen and rejected rows differently."""
    chosen, rejected = out.chunk(2)
    loss = -torch.nn.functional.logsigmoid(0.1 * chosen - 0.2 * rejected).mean()
    model.zero_grad()
    loss.backward()
    return out.detach(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")),
]


@pytest.mark.parametrize("positions", POSITIONS)
@pytest.mark.parametrize("device", DEVICES)
def test_pair_scores_match_the_plain_forward(pair_batch, device, positions):
    tok, ids, mask, _, prompt_len = (t.to(device) if torch.is_tensor(t) else t for t in pair_batch)
    model = reward_model_from_policy(sharp_model(tok, positions)).to(device).train()
    plain, plain_grad = values_and_grads(model, last_token_scores(model, ids, mask))
    fast, fast_grad = values_and_grads(model, pair_scores(model, ids, mask, prompt_len))
    assert torch.allclose(fast, plain, atol=1e-5, rtol=1e-5)
    assert (fast_grad - plain_grad).norm() <= 1e-5 * plain_grad.norm()


@pytest.mark.parametrize("positions", POSITIONS)
@pytest.mark.parametrize("device", DEVICES)
def test_pair_logprobs_match_the_plain_forward(pair_batch, device, positions):
    tok, ids, mask, labels, prompt_len = (t.to(device) if torch.is_tensor(t) else t for t in pair_batch)
    model = sharp_model(tok, positions).to(device)
    targets = labels[:, 1:]  # logits[:, t] predicts ids[:, t+1]; prompt and padding are -100
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    plain, plain_grad = values_and_grads(model, sequence_logprobs(logits, targets, (targets != -100).long()))
    logps, n_tokens = pair_logprobs(model, ids, mask, prompt_len)
    fast, fast_grad = values_and_grads(model, logps)
    assert torch.equal(n_tokens, (targets != -100).sum(1))
    assert torch.allclose(fast, plain, atol=1e-4, rtol=1e-5)
    assert (fast_grad - plain_grad).norm() <= 1e-5 * plain_grad.norm()


def test_inputs_that_are_not_pairs_are_refused(pair_batch):
    tok, ids, mask, _, prompt_len = pair_batch
    cut = mask.clone()
    cut[len(prompt_len) + 1, int(prompt_len[1]) :] = 0  # the rejected row of pair 1 is only its prompt
    with pytest.raises(ValueError, match="rejected response"):
        pair_scores(reward_model_from_policy(sharp_model(tok)), ids, cut, prompt_len)
    swapped = ids.clone()
    swapped[len(prompt_len) :] = ids[len(prompt_len) :].roll(1, dims=0)  # rejected rows of other prompts
    with pytest.raises(ValueError, match="same prompt"):
        pair_scores(reward_model_from_policy(sharp_model(tok)), swapped, mask, prompt_len)
