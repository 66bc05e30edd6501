"""Copying: the skill behind every request that names something new, its drill and its measure.

A request that names something the model never saw answered ("crack an egg", "a poem about
driftwood") needs the answer to carry words over from the request. Transformers do that with
*induction heads*: a head that attends to the token after an earlier occurrence of the current
token and copies it (Olsson et al., 2022, "In-context learning and induction heads").

Our world's web text rarely rewards copying (most of it can be predicted from memorised phrases),
and 5 million tokens of it did not make induction heads form in any model we tried
(``docs/results.md``). What did, in about a thousand steps, is a drill of random token spans each
repeated once, on a model with rotary positions: nothing in such a window can be predicted except
by copying. Pre-training runs that drill first (:class:`pretrain.PretrainTrainer`) and keeps a
little of it in the corpus phase.
"""

from __future__ import annotations

import torch


def plain_id_range(tokenizer) -> tuple[int, int]:
    """``(low, high)``: the token ids after the special tokens, which drills and copy tests draw
    from (the special tokens are the first ids of every tokenizer ``models.build_tokenizer`` makes)."""
    return max(tokenizer.all_special_ids) + 1, len(tokenizer)


def repeated_spans(n: int, length: int, low: int, high: int, generator: torch.Generator) -> torch.Tensor:
    """(n, length) windows of random token spans, each followed by itself: ``a b c a b c d e d e``.

    Span lengths are drawn from 3..23 per span, so no fixed distance back finds the copy; token
    ids are drawn uniformly from ``[low, high)`` (skip special tokens with ``low``).
    """
    rows = []
    for _ in range(n):
        row: list[int] = []
        while len(row) < length:
            size = int(torch.randint(3, 24, (1,), generator=generator))
            span = torch.randint(low, high, (size,), generator=generator).tolist()
            row += span + span
        rows.append(row[:length])
    return torch.tensor(rows, dtype=torch.long)  # (n, length)


@torch.no_grad()
def random_span_copy(model, low: int, high: int, n: int = 16, span: int = 20, seed: int = 0) -> float:
    """Share of a repeat's tokens predicted right (greedy) after the same random tokens once.

    Row i is random filler, then a random span of length L_i in [span / 2, span], then the same
    span again; every row has the same length. The lengths differ between rows so that copying
    from a fixed distance back (a positional trick a model can learn instead of induction) scores
    on few rows only. Token ids are drawn from ``[low, high)`` (skip the special tokens). The first
    token of each repeat is not scored: nothing says where the repeat starts. A model with working
    induction heads scores near 1; one without, near 1 / (high - low). Put ``model`` in eval mode
    first (and on the CPU).
    """
    gen = torch.Generator().manual_seed(seed)
    length = 2 * span + 8
    rows, scored = [], []
    for _ in range(n):
        size = int(torch.randint(span // 2, span + 1, (1,), generator=gen))
        filler = torch.randint(low, high, (length - 2 * size,), generator=gen)
        half = torch.randint(low, high, (size,), generator=gen)
        rows.append(torch.cat([filler, half, half]))  # (length,)
        scored.append(length - size + 1)  # first scored target position
    ids = torch.stack(rows)  # (n, length)
    predicted = model(input_ids=ids).logits.argmax(-1)  # (n, length); position t predicts t + 1
    hits = total = 0
    for row, first in enumerate(scored):
        # Targets first .. length - 1 are predicted at positions first - 1 .. length - 2.
        hits += int((predicted[row, first - 1 : length - 1] == ids[row, first:]).sum())
        total += length - first
    return hits / total
