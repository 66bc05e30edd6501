"""The copy drill's data and the copy measure (rlhf_core/copying.py)."""

from __future__ import annotations

import torch

from rlhf_core.copying import repeated_spans


def test_repeated_spans_repeat_each_span_once():
    rows = repeated_spans(8, 64, low=5, high=40, generator=torch.Generator().manual_seed(0))
    assert rows.shape == (8, 64) and rows.dtype == torch.long
    assert rows.min() >= 5 and rows.max() < 40
    firsts = set()
    for row in rows.tolist():
        # The row opens with a span of 3..23 tokens followed by itself.
        sizes = [n for n in range(3, 24) if row[:n] == row[n : 2 * n]]
        assert sizes, row
        firsts.add(sizes[0])
    assert len(firsts) > 1  # span lengths vary, so no fixed distance back finds the copy


def test_repeated_spans_are_seeded():
    a = repeated_spans(4, 32, 5, 300, torch.Generator().manual_seed(3))
    b = repeated_spans(4, 32, 5, 300, torch.Generator().manual_seed(3))
    c = repeated_spans(4, 32, 5, 300, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
