"""Batched sampling with a KV cache: temperature, top-k, top-p, stop at EOS, a token cap.

Written out (instead of calling ``model.generate``) because PPO needs to know exactly which
distribution each token was drawn from, and because the loop is short enough to read in class.
``model.generate`` works on our checkpoints too (the tokenizer carries a chat template).

Left padding and the KV cache: prompts of different lengths are padded on the left so every row's
next token lands in the same column. GPT-2 adds *absolute* position embeddings, so the padded
positions must not count: we pass explicit ``position_ids`` (cumulative sum of the attention
mask) on the prompt pass and on every cached step. Without them every padded row is shifted and
the samples degrade (a lesson paid for in an earlier prototype).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .models import strip_chat_markers, strip_control_characters


@dataclass
class SamplingConfig:
    """How responses are sampled."""

    max_new_tokens: int = 80
    """Cap on response length in tokens; a response that hits it has no EOS."""
    temperature: float = 1.0
    """Divides the logits; 0 means greedy. Lower is more conservative, higher more varied."""
    top_k: int = 0
    """Keep only the k most likely tokens (0: off). Never used while training PPO."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches p (1: off)."""
    max_prompt_tokens: int = 96
    """Longer prompts are cut in the middle of the user's text (the chat framing is kept)."""


# The fixed settings every model is evaluated with (documented in docs/metrics.md).
EVAL_SAMPLING = SamplingConfig(max_new_tokens=80, temperature=0.7, top_k=0, top_p=1.0)


@dataclass
class Generation:
    """A batch of sampled responses and the tensors trainers need."""

    prompt_ids: torch.Tensor  # (B, P) left-padded
    prompt_mask: torch.Tensor  # (B, P) 1 on real prompt tokens
    response_ids: torch.Tensor  # (B, R) right-padded with PAD after EOS
    response_mask: torch.Tensor  # (B, R) 1 on response tokens up to and including EOS
    finished: torch.Tensor  # (B,) True where the response ended with EOS
    texts: list[str]  # decoded responses, without EOS/PAD
    logits: torch.Tensor | None = None  # (B, R, V) raw logits each token was drawn from (record=True)
    hidden: torch.Tensor | None = None  # (B, R, C) last hidden state that produced them (record=True)

    @property
    def response_lengths(self) -> torch.Tensor:
        return self.response_mask.sum(1)


def encode_prompts(tokenizer, prompts: list[str], max_prompt_tokens: int = 96):
    """Chat-format and left-pad ``prompts``: returns ``(input_ids, attention_mask)``, each (B, P).

    Prompts longer than ``max_prompt_tokens`` keep their first tokens and the closing
    ``<|end|><|assistant|>`` so the model still sees a well-formed turn.
    """
    rows = []
    for text in prompts:
        messages = [{"role": "user", "content": str(text)}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        ids = list(ids)
        if len(ids) > max_prompt_tokens:
            ids = ids[: max_prompt_tokens - 2] + ids[-2:]
        rows.append(ids)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r) :] = 1
    return input_ids, mask


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that skip left padding: (B, T) mask -> (B, T) positions (pads get 0)."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set logits outside the top-k / nucleus to -inf. logits: (B, V)."""
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (B, V)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the mass *before* it already reaches top_p (keeps at least one).
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def decode_responses(tokenizer, response_ids: torch.Tensor, response_mask: torch.Tensor):
    """Decode responses without EOS and PAD; other special tokens stay visible as text."""
    drop = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    texts = []
    for ids, m in zip(response_ids.tolist(), response_mask.tolist(), strict=True):
        keep = [t for t, on in zip(ids, m, strict=True) if on and t not in drop]
        texts.append(tokenizer.decode(keep, skip_special_tokens=False))
    return texts


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[str],
    config: SamplingConfig | None = None,
    generator: torch.Generator | None = None,
    record: bool = False,
) -> Generation:
    """Sample one response per prompt (batched, KV-cached) and stop rows at EOS.

    ``record=True`` also keeps, per response token, the raw logits it was sampled from and the
    last hidden state that produced them: PPO's rollout needs exactly these (old log-probs,
    entropy, values), and keeping them saves a second forward pass over the whole batch.
    """
    config = config or SamplingConfig()
    if not prompts:
        raise ValueError("generate() needs at least one prompt.")
    device = next(model.parameters()).device
    # Leave at least half the context for the response, whatever the prompt's length.
    max_prompt = max(4, min(config.max_prompt_tokens, model.config.max_position_embeddings // 2))
    prompt_ids, prompt_mask = encode_prompts(tokenizer, prompts, max_prompt)
    prompt_ids, prompt_mask = prompt_ids.to(device), prompt_mask.to(device)
    batch = prompt_ids.size(0)
    max_new = max(1, min(config.max_new_tokens, model.config.max_position_embeddings - prompt_ids.size(1)))
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id

    attention = prompt_mask
    positions = positions_from_mask(prompt_mask)
    # logits_to_keep=1: only the last position's logits are needed (skips the LM head on the prompt).
    out = model(
        input_ids=prompt_ids,
        attention_mask=attention,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
        output_hidden_states=record,
    )
    cache, next_logits = out.cache, out.logits[:, -1, :]  # (B, V)
    next_hidden = out.hidden_states[-1][:, -1, :] if record else None  # (B, C)
    next_pos = positions[:, -1:] + 1  # (B, 1)

    tokens, kept_logits, kept_hidden = [], [], []
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    alive = torch.ones(batch, dtype=torch.bool, device=device)  # still generating this step
    masks = []
    for _ in range(max_new):
        if record:
            kept_logits.append(next_logits)
            kept_hidden.append(next_hidden)
        logits = next_logits.float()
        if config.temperature <= 0:
            token = logits.argmax(-1)
        else:
            logits = filter_logits(logits / config.temperature, config.top_k, config.top_p)
            token = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)
        token = torch.where(alive, token, torch.full_like(token, pad))
        tokens.append(token)
        masks.append(alive.clone())
        finished |= alive & (token == eos)
        alive = alive & (token != eos)
        if not alive.any():
            break
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
        out = model(
            input_ids=token[:, None],
            attention_mask=attention,
            position_ids=next_pos,
            cache=cache,
            use_cache=True,
            output_hidden_states=record,
        )
        cache, next_logits = out.cache, out.logits[:, -1, :]
        next_hidden = out.hidden_states[-1][:, -1, :] if record else None
        next_pos = next_pos + 1

    response_ids = torch.stack(tokens, dim=1)  # (B, R)
    response_mask = torch.stack(masks, dim=1).long()  # (B, R)
    texts = decode_responses(tokenizer, response_ids, response_mask)
    generation = Generation(prompt_ids, prompt_mask, response_ids, response_mask, finished, texts)
    if record:
        generation.logits = torch.stack(kept_logits, dim=1)  # (B, R, V)
        generation.hidden = torch.stack(kept_hidden, dim=1)  # (B, R, C)
    return generation


def clean_prompt(text: object, max_chars: int = 2000) -> str:
    """Make any user input safe to feed the model: a string, without control characters
    (newlines and tabs kept) or chat role markers, and at most ``max_chars`` long."""
    s = "" if text is None else str(text)
    return strip_chat_markers(strip_control_characters(s))[:max_chars]


def next_token_probabilities(model, tokenizer, text: str, top: int = 10, chat: bool = False):
    """The ``top`` most likely next tokens after ``text`` with their probabilities.

    ``chat=True`` wraps ``text`` as a user turn and asks for the assistant's first token.
    Returns a list of ``(token_text, probability)`` pairs, most likely first.
    """
    device = next(model.parameters()).device
    if chat:
        ids, mask = encode_prompts(tokenizer, [text], model.config.max_position_embeddings // 2)
    else:
        enc = [tokenizer.bos_token_id] + tokenizer.encode(text, add_special_tokens=False)
        enc = enc[-model.config.max_position_embeddings :]
        ids, mask = torch.tensor([enc]), torch.ones(1, len(enc), dtype=torch.long)
    with torch.no_grad():
        logits = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions_from_mask(mask).to(device),
        ).logits[0, -1]
    probs = logits.float().softmax(-1)
    values, idx = torch.topk(probs, min(top, probs.numel()))
    return [
        (tokenizer.decode([i], skip_special_tokens=False), float(p))
        for i, p in zip(idx.tolist(), values.tolist(), strict=True)
    ]
