"""One forward pass over preference pairs that runs each shared prompt once.

The reward model's and DPO's training steps both read a batch of pairs: row ``i`` is
prompt_i + chosen_i and row ``B + i`` is prompt_i + rejected_i. In a causal transformer the state
at a prompt token depends only on the tokens up to it, so both rows hold the same numbers over the
prompt. :func:`shared_prompt_forward` therefore

1. runs the prompt once per pair: the rejected response is fed without its prompt (its positions
   continue from it) and attends to the prompt's keys and values from the chosen row;
2. runs every matrix multiplication (three quarters of a CPU step) on real tokens only, packed
   into one (N, C) tensor; only the attention itself sees padded (B, T) rows;
3. with ``last_only``, runs the final block's query, attention output and MLP only at each row's
   last token (the reward model reads nothing else there).

The results equal the plain Hugging Face forward to float rounding, values and gradients
(``tests/test_packed.py``). It reads the blocks' modules directly (GPT-2's ``ln_1``,
``attn.c_attn``, ...; Llama's ``input_layernorm``, ``self_attn.q_proj``, rotary embeddings ...),
so it supports exactly the two models this project builds (:func:`models.build_model`):
``GPT2Model`` and ``LlamaModel``. Anything else should use the plain forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.functional import scaled_dot_product_attention as sdpa

from .losses import token_logprobs
from .training import tokenize_conversations


def tokenize_pairs(tokenizer, pairs, max_len: int):
    """Preference pairs in the layout this module reads: ``input_ids``, ``attention_mask`` and
    ``labels`` (2B, T) as :func:`training.tokenize_conversations` makes them, rows ``i`` =
    prompt_i + chosen_i and ``B + i`` = prompt_i + rejected_i; and ``prompt_len`` (B,), the
    leading -100 labels of each chosen row (its prompt, the same in both rows)."""
    prompts = [p.prompt for p in pairs] * 2
    responses = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    ids, mask, labels = tokenize_conversations(tokenizer, prompts, responses, max_len=max_len)
    prompt_len = (labels[: len(pairs)] == -100).long().cumprod(1).sum(1)  # (B,)
    return ids, mask, labels, prompt_len


@dataclass
class Packing:
    """Where each pair's tokens sit in the packed (N,) order: chosen rows' real tokens (row by
    row), then the rejected responses' real tokens (row by row, without their prompts)."""

    ids: torch.Tensor
    """(N,) the packed token ids."""
    prompt_len: torch.Tensor
    """(B,) P_i, the prompt tokens of pair i."""
    chosen_len: torch.Tensor
    """(B,) tokens of chosen row i, prompt included."""
    rejected_len: torch.Tensor
    """(B,) tokens of rejected response i, prompt excluded."""
    n_chosen: int
    """Na: packed tokens that belong to chosen rows; the rejected ones start here."""

    def chosen_start(self) -> torch.Tensor:
        """(B,) packed index of chosen row i's first token."""
        return self.chosen_len.cumsum(0) - self.chosen_len

    def rejected_start(self) -> torch.Tensor:
        """(B,) packed index of rejected response i's first token."""
        return self.n_chosen + self.rejected_len.cumsum(0) - self.rejected_len


def pack_pairs(input_ids: torch.Tensor, attention_mask: torch.Tensor, prompt_len: torch.Tensor) -> Packing:
    """Pack (2B, T) right-padded chosen-then-rejected rows; ``prompt_len`` (B,)."""
    B, dev = input_ids.size(0) // 2, input_ids.device
    lengths = attention_mask.long().sum(1)  # (2B,)
    P = prompt_len.to(dev).long()  # (B,)
    len_a, len_r = lengths[:B], lengths[B:] - P
    if bool((len_r < 1).any()):
        raise ValueError("Every rejected response needs at least one token after its prompt.")
    Pm = int(P.max())
    in_prompt = torch.arange(Pm, device=dev)[None, :] < P[:, None]  # (B, Pm)
    if bool(((input_ids[:B, :Pm] != input_ids[B:, :Pm]) & in_prompt).any()):
        raise ValueError("Rows i and B + i must start with the same prompt tokens (one pair's prompt).")
    Ta, Tr = int(len_a.max()), int(len_r.max())
    real_a = torch.arange(Ta, device=dev)[None, :] < len_a[:, None]  # (B, Ta)
    real_r = torch.arange(Tr, device=dev)[None, :] < len_r[:, None]  # (B, Tr)
    pos_r = P[:, None] + torch.arange(Tr, device=dev)[None, :]  # (B, Tr) rejected responses' columns
    ids_r = input_ids[B:].gather(1, pos_r.clamp(max=input_ids.size(1) - 1))  # (B, Tr)
    ids = torch.cat([input_ids[:B, :Ta][real_a], ids_r[real_r]])  # (N,), row-major
    return Packing(ids, P, len_a, len_r, int(len_a.sum()))


class _GPT2Ops:
    """The per-token operations of a ``GPT2Model``'s blocks on packed (n, C) rows."""

    def __init__(self, transformer):
        self.t = transformer
        self.C = transformer.embed_dim
        self.layers = transformer.h
        self.attn_dropout = transformer.h[0].attn.attn_dropout.p

    def embed(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """(N,) ids and positions -> (N, C); learned absolute positions are added here."""
        return self.t.drop(self.t.wte(ids) + self.t.wpe(pos))

    def keys_values(self, block, h: torch.Tensor, pos: torch.Tensor):
        """Normed (n, C) -> keys, values (n, C) each."""
        W, b, C = block.attn.c_attn.weight, block.attn.c_attn.bias, self.C  # Conv1D (C, 3C): q | k | v
        return (h @ W[:, C:] + b[C:]).split(C, dim=1)

    def queries(self, block, h: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Normed (n, C) -> queries (n, C)."""
        W, b, C = block.attn.c_attn.weight, block.attn.c_attn.bias, self.C
        return h @ W[:, :C] + b[:C]

    def qkv(self, block, h: torch.Tensor, pos: torch.Tensor):
        """Normed (n, C) -> q, k, v (n, C) each, in one matrix multiplication."""
        return block.attn.c_attn(h).split(self.C, dim=1)

    def scaling(self, block) -> float:
        """The attention's logit scale (1/sqrt(head size) unless the config says otherwise)."""
        return block.attn.scaling

    def attn_norm(self, block, x):
        return block.ln_1(x)

    def attn_out(self, block, o: torch.Tensor) -> torch.Tensor:
        return block.attn.resid_dropout(block.attn.c_proj(o))

    def mlp(self, block, x: torch.Tensor) -> torch.Tensor:
        """The block's second residual branch, added."""
        return x + block.mlp(block.ln_2(x))

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.t.ln_f(x)


class _LlamaOps(_GPT2Ops):
    """The same operations for a ``LlamaModel``: no position embedding at the input; rotary
    embeddings turn each query and key by its own position instead."""

    def __init__(self, model):
        from transformers.models.llama.modeling_llama import rotate_half

        self.t, self.rotate_half = model, rotate_half
        self.C = model.config.hidden_size
        self.H = model.config.num_attention_heads
        self.layers = model.layers
        self.attn_dropout = model.config.attention_dropout
        self._pos, self._cos_sin = None, None

    def embed(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return self.t.embed_tokens(ids)

    def _turn(self, t: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Rotate (n, C) queries or keys at positions (n,) by their positions."""
        if self._pos is not pos:  # every block turns the same positions: compute cos/sin once
            x = t.new_empty(1, pos.numel(), self.C // self.H)
            cos, sin = self.t.rotary_emb(x, pos[None])  # (1, n, D) each
            self._pos, self._cos_sin = pos, (cos[0], sin[0])
        cos, sin = self._cos_sin
        heads = t.view(t.size(0), self.H, -1)  # (n, H, D); cos/sin (n, D) -> (n, 1, D) per head
        turned = heads * cos[:, None] + self.rotate_half(heads) * sin[:, None]
        return turned.reshape(t.shape)

    def keys_values(self, block, h, pos):
        a = block.self_attn
        return self._turn(a.k_proj(h), pos), a.v_proj(h)

    def queries(self, block, h, pos):
        return self._turn(block.self_attn.q_proj(h), pos)

    def qkv(self, block, h, pos):
        return (self.queries(block, h, pos), *self.keys_values(block, h, pos))

    def scaling(self, block) -> float:
        return block.self_attn.scaling

    def attn_norm(self, block, x):
        return block.input_layernorm(x)

    def attn_out(self, block, o):
        return block.self_attn.o_proj(o)

    def mlp(self, block, x):
        return x + block.mlp(block.post_attention_layernorm(x))

    def final_norm(self, x):
        return self.t.norm(x)


def _ops(transformer) -> _GPT2Ops:
    """The operations of ``transformer`` (a ``GPT2Model`` or a ``LlamaModel``)."""
    if hasattr(transformer, "wte"):
        return _GPT2Ops(transformer)
    if hasattr(transformer, "embed_tokens") and hasattr(transformer, "rotary_emb"):
        return _LlamaOps(transformer)
    raise TypeError(f"shared_prompt_forward supports GPT2Model and LlamaModel, not {type(transformer).__name__}")


def shared_prompt_forward(
    transformer,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    prompt_len: torch.Tensor,
    last_only: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Packing]:
    """The final hidden states (after the final norm) of a ``GPT2Model`` or ``LlamaModel`` over
    preference pairs.

    ``input_ids``/``attention_mask`` (2B, T), right-padded, rows ``i`` and ``B + i`` being one
    pair's chosen and rejected conversation; ``prompt_len`` (B,) the tokens of pair i's prompt
    (the same in both rows).

    Returns with ``last_only``: (2B, C), the hidden state at each row's last token, chosen rows
    first, as ``last_hidden_state[row, last]`` of the plain forward. Otherwise ``(hidden, packing)``:
    hidden (N, C) for every packed token (see :class:`Packing`); the rejected rows' prompt tokens
    are not in it, because they equal the chosen row's.
    """
    pk = pack_pairs(input_ids, attention_mask, prompt_len)
    B, dev, Na = pk.prompt_len.numel(), input_ids.device, pk.n_chosen
    P, len_a, len_r = pk.prompt_len, pk.chosen_len, pk.rejected_len
    Ta, Tr, Pm = int(len_a.max()), int(len_r.max()), int(P.max())
    ops = _ops(transformer)
    H, C = transformer.config.num_attention_heads, ops.C
    ar_a, ar_r, ar_p = (torch.arange(n, device=dev) for n in (Ta, Tr, Pm))
    # slot_a / slot_r: (Na,) / (Nr,) places of the packed tokens in the flattened padded rows.
    slot_a = (ar_a[None, :] < len_a[:, None]).reshape(-1).nonzero().squeeze(1)
    slot_r = (ar_r[None, :] < len_r[:, None]).reshape(-1).nonzero().squeeze(1)
    pos = torch.cat([ar_a.expand(B, Ta).reshape(-1)[slot_a], (P[:, None] + ar_r).reshape(-1)[slot_r]])  # (N,)
    x = ops.embed(pk.ids, pos)  # (N, C)

    def padded(t: torch.Tensor, slots: torch.Tensor, T: int) -> torch.Tensor:
        """(n, C) packed tokens -> (B, H, T, C/H) padded heads (zeros at padding)."""
        out = t.new_zeros(B * T, t.size(1)).index_copy(0, slots, t)
        return out.view(B, T, H, -1).transpose(1, 2)

    def packed(t: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """(B, H, T, C/H) heads -> (n, C) packed real tokens."""
        return t.transpose(1, 2).reshape(-1, C).index_select(0, slots)

    def keys_values(k: torch.Tensor, v: torch.Tensor):
        """Chosen rows' (B, H, Ta, C/H) keys and values, and the rejected rows' (B, H, Pm+Tr, C/H):
        their prompt's keys and values taken from the chosen row, then their own."""
        ka, va = padded(k[:Na], slot_a, Ta), padded(v[:Na], slot_a, Ta)
        kr = torch.cat([ka[:, :, :Pm], padded(k[Na:], slot_r, Tr)], 2)
        vr = torch.cat([va[:, :, :Pm], padded(v[Na:], slot_r, Tr)], 2)
        return ka, va, kr, vr

    # A rejected query sees the first P_i keys of its chosen row (the prompt), then its own
    # response causally: (B, 1, Tr, Pm + Tr). Every query sees key 0, so no row is all masked.
    mask_r = torch.cat(
        [
            (ar_p[None, :] < P[:, None])[:, None, :].expand(B, Tr, Pm),
            (ar_r[None, :] <= ar_r[:, None])[None].expand(B, Tr, Tr),
        ],
        dim=2,
    )[:, None]
    p_drop = ops.attn_dropout if transformer.training else 0.0
    blocks = ops.layers[:-1] if last_only else ops.layers
    for block in blocks:
        scale = ops.scaling(block)
        q, k, v = ops.qkv(block, ops.attn_norm(block, x), pos)  # (N, C) each
        ka, va, kr, vr = keys_values(k, v)
        # Right padding: causal alone is exact for the chosen rows' real queries.
        out_a = sdpa(padded(q[:Na], slot_a, Ta), ka, va, is_causal=True, dropout_p=p_drop, scale=scale)
        out_r = sdpa(padded(q[Na:], slot_r, Tr), kr, vr, attn_mask=mask_r, dropout_p=p_drop, scale=scale)
        x = x + ops.attn_out(block, torch.cat([packed(out_a, slot_a), packed(out_r, slot_r)]))
        x = ops.mlp(block, x)
    if not last_only:
        return ops.final_norm(x), pk

    # Final block at the last tokens only: keys and values everywhere, the rest at 2B positions.
    block = ops.layers[-1]
    scale = ops.scaling(block)
    h = ops.attn_norm(block, x)  # (N, C)
    k, v = ops.keys_values(block, h, pos)  # (N, C) each
    ka, va, kr, vr = keys_values(k, v)
    # Real tokens are a prefix of each row, so a row's last token is at its start + length - 1.
    at = torch.cat([pk.chosen_start() + len_a - 1, pk.rejected_start() + len_r - 1])  # (2B,)
    q = ops.queries(block, h[at], pos[at]).view(2 * B, H, 1, -1)  # (2B, H, 1, C/H)
    see_a = (ar_a[None, :] < len_a[:, None])[:, None, None, :]  # (B, 1, 1, Ta)
    see_r = torch.cat([ar_p[None, :] < P[:, None], ar_r[None, :] < len_r[:, None]], 1)[:, None, None, :]
    out_a = sdpa(q[:B], ka, va, attn_mask=see_a, dropout_p=p_drop, scale=scale)  # (B, H, 1, C/H)
    out_r = sdpa(q[B:], kr, vr, attn_mask=see_r, dropout_p=p_drop, scale=scale)
    y = x[at] + ops.attn_out(block, torch.cat([out_a, out_r]).reshape(2 * B, C))  # (2B, C)
    return ops.final_norm(ops.mlp(block, y))


def pair_logprobs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, prompt_len: torch.Tensor):
    """Summed response log-probs of each row of a causal LM (GPT-2 or Llama) over preference pairs.

    Same inputs as :func:`shared_prompt_forward`. Returns ``(logps, n_tokens)``, each (2B,):
    log pi(response | prompt) of every row, chosen rows first, and its response length. Equal to
    summing ``log_softmax(logits[:, :-1]).gather(ids[:, 1:])`` over the response tokens of the plain
    forward. The first response token of a rejected row is predicted from the prompt's last
    position, which lives in the chosen row.
    """
    hidden, pk = shared_prompt_forward(model.base_model, input_ids, attention_mask, prompt_len)
    B, dev = pk.prompt_len.numel(), input_ids.device
    P, n_c, n_r = pk.prompt_len, pk.chosen_len - pk.prompt_len, pk.rejected_len  # (B,) each
    # Every predicted token: which pair it belongs to, and its offset in that pair's response.
    row_c, row_r = (
        torch.arange(B, device=dev).repeat_interleave(n_c),
        torch.arange(B, device=dev).repeat_interleave(n_r),
    )
    off_c = torch.arange(row_c.numel(), device=dev) - (n_c.cumsum(0) - n_c)[row_c]
    off_r = torch.arange(row_r.numel(), device=dev) - (n_r.cumsum(0) - n_r)[row_r]
    prompt_end = pk.chosen_start() + P - 1  # (B,) packed index of each prompt's last token
    # Packed index of the hidden state that predicts each token, and of the token itself.
    pred_c, tok_c = prompt_end[row_c] + off_c, prompt_end[row_c] + off_c + 1
    tok_r = pk.rejected_start()[row_r] + off_r
    pred_r = torch.where(off_r == 0, prompt_end[row_r], tok_r - 1)
    logits = model.lm_head(hidden[torch.cat([pred_c, pred_r])])  # (M, V)
    picked = token_logprobs(logits[None], pk.ids[torch.cat([tok_c, tok_r])][None])[0]  # (M,)
    logps = torch.zeros(2 * B, dtype=picked.dtype, device=dev)
    logps = logps.index_add(0, torch.cat([row_c, row_r + B]), picked)  # (2B,)
    return logps, torch.cat([n_c, n_r])
