"""Device choice, CPU thread policy and autocast for every entry point.

Why the thread policy matters: on the 2-vCPU machines we develop on, torch's default of one
thread per core ran 1.5-80x *slower* than a single thread whenever the other core was busy
(OpenMP workers spin-wait for a core that a Streamlit server, a second student's job or the test
runner is using). With nothing else running, two threads were about 1.8x faster. A default has
to hold under load, so we use one thread on machines with two cores or fewer and leave one core
in two free on bigger machines (a student's laptop). ``RLHF_THREADS`` or ``--threads`` override.
The exception is ``pipeline`` (:func:`pipeline_threads`), a batch job run on an idle machine.
"""

from __future__ import annotations

import contextlib
import os

import torch

THREADS_ENV = "RLHF_THREADS"


def _env_threads() -> int | None:
    """``RLHF_THREADS`` as a thread count, or None when unset or not a number."""
    env = os.environ.get(THREADS_ENV, "").strip()
    try:
        return max(1, int(env)) if env else None
    except ValueError:
        return None


def default_threads(cpu_count: int | None = None) -> int:
    """The torch CPU thread count we use unless told otherwise (see the module docstring)."""
    if (env := _env_threads()) is not None:
        return env
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if cores <= 2:
        return 1
    return max(1, min(8, cores // 2))


def pipeline_threads(cpu_count: int | None = None) -> int:
    """Threads for ``pipeline``, a batch job run on an otherwise idle machine (not the app, whose
    jobs share the cores): every core up to 4. On the 2-vCPU dev machine two threads made SFT
    1.8x, reward training 1.75x and sampling 1.3x faster than one, and the pipeline took 197 s
    instead of 314 s (BENCHMARKS.md). ``RLHF_THREADS`` or ``--threads`` override; results are
    bit-identical only for the same thread count (the shipped checkpoints: 2)."""
    if (env := _env_threads()) is not None:
        return env
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, min(4, cores))


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count (``None``: the default policy); returns the count used."""
    n = default_threads() if n is None else max(1, int(n))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def pick_device(requested: str = "auto") -> torch.device:
    """Pick ``cuda`` then ``mps`` then ``cpu`` for "auto"; otherwise the device asked for.

    Raises ``ValueError`` with a readable message if the requested device is not available.
    """
    requested = (requested or "auto").lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is available here.")
    if requested == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ValueError("--device mps was asked for, but Apple MPS is not available here.")
    if requested not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Unknown device {requested!r}: use auto, cpu, cuda or mps.")
    return torch.device(requested)


def autocast(device: torch.device):
    """bf16 autocast on CUDA; a no-op context on CPU and MPS.

    The trainers do not use it: at this model size it made every step slower, on CPU and on an
    H200 (1.1-13x, ``scripts/gpu_probe.py``, BENCHMARKS.md), and PPO diverged under it. It is
    kept for that probe and for larger models, where bf16 matmuls pay.
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
