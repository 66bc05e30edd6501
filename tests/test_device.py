"""Thread policy and device choice."""

from __future__ import annotations

import pytest
import torch

from rlhf_core.device import autocast, default_threads, pick_device, pipeline_threads, set_threads


def test_one_thread_on_two_cores(monkeypatch):
    monkeypatch.delenv("RLHF_THREADS", raising=False)
    assert default_threads(2) == 1
    assert default_threads(1) == 1
    assert default_threads(8) == 4


def test_env_overrides_threads(monkeypatch):
    monkeypatch.setenv("RLHF_THREADS", "3")
    assert default_threads(2) == 3
    before = torch.get_num_threads()
    try:
        assert set_threads() == 3 and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            pick_device("cuda")


def test_autocast_is_noop_on_cpu():
    with autocast(torch.device("cpu")):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32


def test_pipeline_uses_the_cores_unless_told(monkeypatch):
    """The pipeline is a batch job: every core up to 4 (the app's jobs keep one thread on 2 cores)."""
    monkeypatch.delenv("RLHF_THREADS", raising=False)
    assert pipeline_threads(2) == 2 and pipeline_threads(1) == 1 and pipeline_threads(16) == 4
    assert default_threads(2) == 1
    monkeypatch.setenv("RLHF_THREADS", "1")
    assert pipeline_threads(2) == 1
