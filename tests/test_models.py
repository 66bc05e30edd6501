"""Tokenizer and checkpoint round trips, offline."""

from __future__ import annotations

import json

import torch

from rlhf_core.models import EOS, PAD, load_model, load_tokenizer, save_checkpoint


def test_tokenizer_round_trip_any_text(tiny_tokenizer):
    tok = tiny_tokenizer
    for text in ["Write a poem about nature", "emoji 🤖🔥 ok", "tab\tand\nnewline", "<b>html</b>", "日本語", ""]:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text


def test_special_tokens_distinct(tiny_tokenizer):
    tok = tiny_tokenizer
    assert tok.eos_token == EOS and tok.pad_token == PAD
    ids = {tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}
    assert None not in ids and len(ids) == 3


def test_chat_template_is_the_tokenizers_own(tiny_tokenizer):
    text = tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False
    )
    assert text == "<|bos|><|user|>Hi<|end|><|assistant|>"


def test_save_load_round_trip_offline(tmp_path, tiny_tokenizer, stopping_model):
    path = save_checkpoint(stopping_model, tiny_tokenizer, tmp_path / "ckpt", extra={"stage": "test"})
    files = {p.name for p in path.iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    assert json.loads((path / "training_info.json").read_text())["stage"] == "test"
    model = load_model(path)
    tok = load_tokenizer(path)
    x = torch.tensor([tok.encode("say cat", add_special_tokens=False)])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=x).logits, stopping_model(input_ids=x).logits, atol=1e-6)
    assert tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False).startswith("<|bos|>")
    # No temporary folders are left beside the checkpoint.
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_save_overwrites_atomically(tmp_path, tiny_tokenizer, stopping_model):
    target = tmp_path / "ckpt"
    save_checkpoint(stopping_model, tiny_tokenizer, target, extra={"v": 1})
    save_checkpoint(stopping_model, tiny_tokenizer, target, extra={"v": 2})
    assert json.loads((target / "training_info.json").read_text())["v"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_hf_generate_works_with_chat_template(tiny_tokenizer, stopping_model):
    tok = tiny_tokenizer
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "say dog"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = stopping_model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    assert tok.eos_token_id in new
    assert tok.decode(new[: new.index(tok.eos_token_id)]).strip() == "dog"
