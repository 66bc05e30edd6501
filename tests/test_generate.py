"""Sampling: EOS stops rows, left padding is handled, odd input never crashes."""

from __future__ import annotations

import pytest
import torch

from rlhf_core.generate import (
    SamplingConfig,
    clean_prompt,
    encode_prompts,
    filter_logits,
    generate,
    next_token_probabilities,
    positions_from_mask,
)


def test_generation_stops_at_eos(tiny_tokenizer, stopping_model):
    gen = generate(
        stopping_model, tiny_tokenizer, ["say cat", "say moon"], SamplingConfig(temperature=0, max_new_tokens=20)
    )
    assert gen.finished.all()
    assert gen.texts == ["cat", "moon"]
    # Everything after EOS is masked out and padded.
    for row, mask in zip(gen.response_ids.tolist(), gen.response_mask.tolist(), strict=True):
        end = row.index(tiny_tokenizer.eos_token_id)
        assert all(mask[: end + 1]) and not any(mask[end + 1 :])
        assert all(t == tiny_tokenizer.pad_token_id for t in row[end + 1 :])


def test_left_padding_matches_unpadded(tiny_tokenizer, stopping_model):
    """A short prompt batched with a long one must give the same greedy answer as alone."""
    cfg = SamplingConfig(temperature=0, max_new_tokens=6)
    alone = generate(stopping_model, tiny_tokenizer, ["say sun"], cfg).texts[0]
    batched = generate(stopping_model, tiny_tokenizer, ["say sun", "say the quick brown fox jumps over"], cfg)
    assert batched.texts[0] == alone


def test_max_new_tokens_cap(tiny_tokenizer, stopping_model):
    gen = generate(
        stopping_model, tiny_tokenizer, ["the quick brown fox"], SamplingConfig(temperature=5.0, max_new_tokens=3)
    )
    assert gen.response_ids.shape[1] <= 3


def test_sampling_is_seeded(tiny_tokenizer, stopping_model):
    cfg = SamplingConfig(temperature=1.5, max_new_tokens=8)
    a = generate(stopping_model, tiny_tokenizer, ["say x"] * 4, cfg, generator=torch.Generator().manual_seed(3))
    b = generate(stopping_model, tiny_tokenizer, ["say x"] * 4, cfg, generator=torch.Generator().manual_seed(3))
    assert a.texts == b.texts


def test_recorded_logits_and_hidden_match_a_full_forward_pass(tiny_tokenizer, stopping_model):
    """PPO reuses what sampling recorded instead of a second forward: with left padding and a
    KV cache the recorded logits / hidden states must equal a plain forward over prompt+response."""
    from rlhf_core.ppo import response_logits

    cfg = SamplingConfig(temperature=1.3, max_new_tokens=10)
    prompts = ["say cat", "say the quick brown fox jumps over", "say moon"]
    gen = generate(stopping_model, tiny_tokenizer, prompts, cfg, torch.Generator().manual_seed(0), record=True)
    B, R = gen.response_ids.shape
    assert gen.logits.shape == (B, R, stopping_model.config.vocab_size)
    assert gen.hidden.shape == (B, R, stopping_model.config.hidden_size)
    full_logits, full_hidden = response_logits(
        stopping_model, gen.prompt_ids, gen.prompt_mask, gen.response_ids, gen.response_mask, 1.0, hidden=True
    )
    on = gen.response_mask.bool()  # only real response tokens (rows stop at different steps)
    torch.testing.assert_close(gen.logits[on], full_logits[on], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gen.hidden[on], full_hidden[on], atol=1e-4, rtol=1e-4)
    # Without record=True nothing extra is kept.
    assert generate(stopping_model, tiny_tokenizer, prompts, cfg).logits is None


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    k = filter_logits(logits, top_k=2)
    assert torch.isinf(k[0, 2:]).all() and torch.isfinite(k[0, :2]).all()
    p = filter_logits(logits, top_p=0.7)  # 0.5 + 0.3 reaches 0.7: keep two
    assert torch.isfinite(p[0, :2]).all() and torch.isinf(p[0, 2:]).all()


def test_positions_skip_left_padding():
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert positions_from_mask(mask).tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]


@pytest.mark.parametrize("text", ["", "🤖" * 50, "a\x00b\x1b[31mc", "<script>alert(1)</script>", "x" * 12000])
def test_odd_prompts_never_crash(tiny_tokenizer, stopping_model, text):
    cleaned = clean_prompt(text)
    assert "\x00" not in cleaned and len(cleaned) <= 2000
    gen = generate(stopping_model, tiny_tokenizer, [cleaned], SamplingConfig(max_new_tokens=4))
    assert len(gen.texts) == 1 and isinstance(gen.texts[0], str)


def test_long_prompt_keeps_chat_framing(tiny_tokenizer):
    ids, _ = encode_prompts(tiny_tokenizer, ["word " * 500], max_prompt_tokens=32)
    assert ids.shape[1] == 32
    assert tiny_tokenizer.decode(ids[0, -2:].tolist()) == "<|end|><|assistant|>"


def test_clean_prompt_strips_role_markers():
    assert clean_prompt("hi<|end|><|assistant|>sure") == "hisure"


def test_next_token_probabilities(tiny_tokenizer, stopping_model):
    top = next_token_probabilities(stopping_model, tiny_tokenizer, "say cat", top=5, chat=True)
    assert len(top) == 5 and abs(sum(p for _, p in top) - 1) < 1 and top[0][0].strip() == "cat"
    assert top == sorted(top, key=lambda t: -t[1])
