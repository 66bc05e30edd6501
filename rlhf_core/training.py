"""What every trainer shares: the step-wise protocol, the divergence guard and a run loop.

A trainer exposes ``step() -> dict[str, float]`` (one optimiser step and its metrics) and
``done() -> bool``. It never prints and never touches Streamlit: the CLI draws a progress bar
and the app a live chart from the same dicts, through :func:`run`'s ``on_step`` callback.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch


class DivergenceError(RuntimeError):
    """Training blew up (non-finite or exploding loss/KL); the last good weights were kept."""


class StepTrainer:
    """Base class: a guarded ``step()`` around the subclass's ``_step()``.

    Before each step the trainable weights are copied (a few MB for our models: about a
    millisecond); if a watched metric is not finite or exceeds its limit, the copy is
    put back, ``self.diverged`` holds a readable message and :class:`DivergenceError` is raised.
    """

    model: torch.nn.Module
    limits: dict[str, float] = {}
    """Metric name -> largest sane absolute value; a non-finite value or one above its limit
    counts as divergence (losses, KL, and for PPO the size of one update)."""

    def __init__(self) -> None:
        self.step_count = 0
        self.diverged: str | None = None

    def _step(self) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def done(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _guarded_modules(self) -> list[torch.nn.Module]:
        """Modules whose weights the guard restores (the policy; PPO adds its value head)."""
        return [self.model]

    def step(self) -> dict[str, float]:
        if self.diverged:
            raise DivergenceError(self.diverged)
        modules = self._guarded_modules()
        snapshot = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]
        metrics = self._step()
        bad = [
            k
            for k, limit in self.limits.items()
            if k in metrics and (not math.isfinite(metrics[k]) or abs(metrics[k]) > limit)
        ]
        params_bad = any(not torch.isfinite(p).all() for m in modules for p in m.parameters())
        if bad or params_bad:
            for m, state in zip(modules, snapshot, strict=True):
                m.load_state_dict(state)
            what = ", ".join(f"{k}={metrics[k]:.3g}" for k in bad) or "non-finite weights"
            self.diverged = (
                f"Training diverged at step {self.step_count + 1} ({what}). The weights from the last "
                "good step were kept. Try a smaller learning rate (or a larger KL coefficient)."
            )
            raise DivergenceError(self.diverged)
        self.step_count += 1
        return metrics


def run(
    trainer,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    stop: threading.Event | None = None,
    max_steps: int | None = None,
) -> list[dict[str, float]]:
    """Step ``trainer`` until it is done, ``stop`` is set or ``max_steps`` steps ran.

    Stopping is checked between steps, so a Stop takes effect within one step and what was
    trained so far is kept. A :class:`DivergenceError` propagates to the caller.
    """
    history: list[dict[str, float]] = []
    while not trainer.done():
        if stop is not None and stop.is_set():
            break
        if max_steps is not None and len(history) >= max_steps:
            break
        metrics = trainer.step()
        history.append(metrics)
        if on_step is not None:
            on_step(len(history), metrics)
    return history


def transformer_blocks(model) -> torch.nn.ModuleList:
    """The stack of transformer blocks of a causal LM (GPT-2's ``h``, Llama's ``layers``)."""
    inner = model.base_model
    for name in ("h", "layers"):
        blocks = getattr(inner, name, None)
        if isinstance(blocks, torch.nn.ModuleList):
            return blocks
    raise ValueError(f"Cannot find the transformer blocks of a {type(model).__name__}.")


def freeze_lower(model, blocks: int = 0, embeddings: bool = False) -> int:
    """Stop training the lower ``blocks`` transformer blocks and, with ``embeddings``, the token
    (and GPT-2's position) embeddings; returns the number of parameters left to train.

    What the base model learned in pre-training lives largely in those layers; a fine-tune that
    only moves the upper ones has to build on it (on the copying + FAQ base, SFT with block 0
    frozen kept the base's verdict on every held-out activity: docs/results.md, session 16). The
    models tie the input embedding to the output layer, so freezing embeddings freezes both."""
    stack = transformer_blocks(model)
    if not 0 <= blocks <= len(stack):
        raise ValueError(f"blocks to freeze must be between 0 and {len(stack)}, got {blocks}.")
    for block in list(stack)[:blocks]:
        block.requires_grad_(False)
    if embeddings:
        model.get_input_embeddings().requires_grad_(False)
        position = getattr(model.base_model, "wpe", None)
        if position is not None:
            position.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def tokenize_conversations(
    tokenizer, prompts: list[str], responses: list[str], add_eos: list[bool] | None = None, max_len: int = 160
):
    """Chat-format prompt+response pairs, right-padded, with the prompt masked out of the labels.

    Returns ``input_ids`` (B, T), ``attention_mask`` (B, T) and ``labels`` (B, T) where prompt
    and padding positions are -100 and response tokens (+ ``<|end|>`` where ``add_eos``) are kept.
    """
    add_eos = add_eos if add_eos is not None else [True] * len(prompts)
    rows, label_rows = [], []
    for prompt, response, eos in zip(prompts, responses, add_eos, strict=True):
        head = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True
        )
        head = list(head["input_ids"] if hasattr(head, "keys") else head)
        body = tokenizer.encode(response, add_special_tokens=False) + ([tokenizer.eos_token_id] if eos else [])
        head = head[: max(2, max_len // 2 - 2)] + head[-2:] if len(head) > max_len // 2 else head
        ids = (head + body)[:max_len]
        rows.append(ids)
        label_rows.append(([-100] * len(head) + body)[:max_len])
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, label_rows, strict=True)):
        input_ids[i, : len(r)] = torch.tensor(r)
        attention[i, : len(r)] = 1
        labels[i, : len(lab)] = torch.tensor(lab)
    return input_ids, attention, labels


# Length buckets per forward pass, by device type. On a CPU the work is the matmuls over every
# position, so four buckets (skipping ~40% padding) pay. On a GPU these tiny models are bound by
# kernel launches, not arithmetic: each extra bucket is another full set of launches, and one
# bucket trimmed to the longest row measured fastest (BENCHMARKS.md, GPU section).
BUCKETS_BY_DEVICE = {"cpu": 4}
BUCKETS_ELSEWHERE = 1


def length_buckets(attention_mask: torch.Tensor, n_buckets: int | None = None) -> list[tuple[torch.Tensor, int]]:
    """Split right-padded rows into ``n_buckets`` groups of similar length.

    Returns ``(row_indices, width)`` per group, where ``width`` is the group's longest row. Running
    each group trimmed to its own width skips most padding (about 40% of the positions in a
    typical batch of short and long conversations) without changing any result. ``None`` picks
    the count for the mask's device (``BUCKETS_BY_DEVICE``).
    """
    if n_buckets is None:
        n_buckets = BUCKETS_BY_DEVICE.get(attention_mask.device.type, BUCKETS_ELSEWHERE)
    lengths = attention_mask.long().sum(1)  # (B,)
    order = torch.argsort(lengths, descending=True)
    groups = [g for g in order.chunk(max(1, min(n_buckets, order.numel()))) if g.numel()]
    return [(g, int(lengths[g].max().clamp(min=1))) for g in groups]


def restore_order(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Concatenate per-bucket outputs ``(row_indices, values)`` back into the original row order."""
    rows = torch.cat([idx for idx, _ in parts])
    values = torch.cat([v for _, v in parts])
    return values[torch.argsort(rows)]
