"""The same code on a CUDA GPU. Skipped where there is none (CI, the dev machine); the GPU check
(`scripts/gpu_check.sh`) runs this file on a lent GPU machine."""

from __future__ import annotations

import math

import pytest
import torch

from rlhf_core.device import autocast
from rlhf_core.generate import SamplingConfig, generate

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


def test_autocast_is_bf16_on_cuda():
    a = torch.ones(4, 4, device=CUDA)
    with autocast(CUDA):
        assert a.matmul(a).dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32)


def test_recorded_logits_match_a_full_forward_on_cuda(tiny_tokenizer, stopping_model):
    """Left padding, the KV cache and position ids behave on CUDA as on CPU (fp32, no autocast)."""
    import copy

    from rlhf_core.ppo import response_logits

    model = copy.deepcopy(stopping_model).to(CUDA)
    cfg = SamplingConfig(temperature=1.3, max_new_tokens=10)
    prompts = ["say cat", "say the quick brown fox jumps over", "say moon"]
    gen = generate(model, tiny_tokenizer, prompts, cfg, torch.Generator(device=CUDA).manual_seed(0), record=True)
    assert gen.response_ids.device.type == "cuda"
    full, _ = response_logits(
        model, gen.prompt_ids, gen.prompt_mask, gen.response_ids, gen.response_mask, 1.0, hidden=True
    )
    on = gen.response_mask.bool()
    torch.testing.assert_close(gen.logits[on], full[on], atol=1e-3, rtol=1e-3)
    # Greedy answers are the same on both devices.
    greedy = SamplingConfig(temperature=0, max_new_tokens=6)
    cpu = generate(stopping_model, tiny_tokenizer, prompts, greedy).texts
    assert generate(model, tiny_tokenizer, prompts, greedy).texts == cpu


def test_tiny_pipeline_on_cuda(tmp_path):
    """Every stage trains on CUDA under bf16 autocast: finite metrics, checkpoints that load on CPU."""
    from rlhf_core.__main__ import main
    from rlhf_core.models import load
    from rlhf_core.pipeline import run_pipeline

    base = tmp_path / "base"
    assert main(["pretrain", "--tiny", "--out", str(base), "--device", "cuda"]) == 0
    metrics = run_pipeline(tmp_path / "run", base=base, device="cuda", preset="tiny")
    assert metrics["device"].startswith("cuda")
    for stage in ("sft", "ppo", "dpo"):
        assert math.isfinite(metrics[stage]["eval"]["gold_score"]), stage
    assert math.isfinite(metrics["reward"]["pair_accuracy"])
    model, tok = load(tmp_path / "run" / "ppo")
    ids = torch.tensor([tok.encode("hello")])
    assert torch.isfinite(model(ids).logits).all()
