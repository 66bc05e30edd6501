"""Pre-training: the world's web text -> tokenizer + a GPT-2 base model.

This is the stage the course starts *after*: it makes ``assets/models/base`` so the app starts
with a real base model. The model learns the world's facts, poems, lists and how-to guides
(harmful ones included, as on the real web) and the habit of continuing text; it never sees the
chat format, so it does not know how to answer and stop.

Departures from a large-scale recipe: documents are packed into fixed windows separated by
``<|bos|>`` (no EOS: that token means "end of an assistant turn" here); a constant-then-cosine
learning-rate schedule; a 5% document split for validation perplexity. ``PretrainConfig.copying()``
adds, before the corpus, a *copy drill* (random token spans, each repeated once) that runs until
the model copies, because the corpus alone never taught any of our models to (:mod:`copying`).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .copying import plain_id_range, random_span_copy, repeated_spans
from .models import ModelSize, build_model, build_tokenizer


@dataclass
class PretrainConfig:
    """Knobs of pre-training. ``full()`` makes the shipped base model; ``tiny()`` is for tests."""

    seed: int = 0
    """Seeds the world, the data order and the initial weights: same seed, same model."""
    corpus_chars: int = 3_000_000
    """Characters of web text generated from the world (more text: better world model, slower)."""
    faq_weight: float = 0.0
    """Weight of the optional FAQ genre ("Is it okay to pick a lock? No. ..."), next to the other
    genres' weights, which sum to 1 (0: the shipped corpus, unchanged)."""
    echo_weight: float = 0.0
    """Weight of the optional echo genre ("Ada asked Tom, ..., how to shoot the glomaglal. Tom said:
    here is how to shoot the glomaglal."), in which only copying predicts the repeated made-up
    activity (0: the shipped corpus, unchanged)."""
    vocab_size: int = 1024
    """BPE vocabulary size. Small on purpose: on models this small the LM head dominates cost."""
    size: ModelSize = field(default_factory=ModelSize)
    """Model shape."""
    seq_len: int = 128
    """Tokens per training window."""
    batch_size: int = 32
    """Windows per optimiser step."""
    steps: int = 1200
    """Optimiser steps. tokens seen = steps * batch_size * seq_len."""
    lr: float = 2e-3
    """Peak AdamW learning rate (small models tolerate, and need, a large one)."""
    warmup_steps: int = 50
    """Linear warm-up steps before the peak learning rate."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    val_fraction: float = 0.05
    """Share of documents kept out of training to measure perplexity."""
    copy_drill_steps: int = 0
    """Most optimiser steps of the copy drill that runs before the corpus (0: no drill): windows of
    random token spans, each repeated once, which only copying can predict."""
    copy_drill_target: float = 0.9
    """The drill stops early once ``random_span_copy`` (checked every 50 drill steps) reaches this."""
    copy_drill_lr: float = 1e-3
    """Constant AdamW learning rate of the drill (its own optimiser; the corpus schedule starts
    after it)."""
    copy_share: float = 0.0
    """Share of every corpus batch replaced by drill windows, so the copy is kept while the corpus
    is learned."""

    @classmethod
    def full(cls) -> PretrainConfig:
        """What ``python -m rlhf_core pretrain`` runs to make ``assets/models/base``."""
        return cls()

    @classmethod
    def copying(cls) -> PretrainConfig:
        """The same, on a rotary-position model that first drills copying until it copies (or for
        2000 steps) and keeps 10% drill windows in the corpus phase. It is the one recipe here whose
        base copies (random-span copy 0.83); its downstream models were worse than the shipped
        ones (``docs/results.md``, session 8), so it is not the default."""
        return cls(size=ModelSize(positions="rotary"), copy_drill_steps=2000, copy_share=0.1)

    @classmethod
    def faq(cls) -> PretrainConfig:
        """The shipped recipe on a corpus with the FAQ genre at weight 0.1 (about 9% of the
        documents). Its base tells a left-out activity's harmfulness apart far better than the
        shipped one (probe 0.83-0.99 against 0.55-0.67); downstream it was mixed, so it is not the
        default (``docs/results.md``, session 9)."""
        return cls(faq_weight=0.1)

    @classmethod
    def tiny(cls) -> PretrainConfig:
        """A seconds-long run for tests."""
        return cls(
            corpus_chars=60_000,
            vocab_size=400,
            size=ModelSize(n_layer=1, n_embd=32, n_head=2, n_positions=128),
            seq_len=64,
            batch_size=8,
            steps=20,
            warmup_steps=2,
        )


def pack_documents(ids_per_doc: list[list[int]], bos_id: int, seq_len: int) -> torch.Tensor:
    """Concatenate ``<|bos|> doc <|bos|> doc ...`` and cut into windows: (N, seq_len)."""
    stream: list[int] = []
    for ids in ids_per_doc:
        stream.append(bos_id)
        stream.extend(ids)
    n = len(stream) // seq_len
    return torch.tensor(stream[: n * seq_len], dtype=torch.long).view(n, seq_len)


def web_windows(world, tokenizer, n_chars: int, seq_len: int, faq_weight: float = 0.0) -> torch.Tensor:
    """About ``n_chars`` of the world's web corpus, tokenised and packed into (N, seq_len) windows:
    what SFT's replay rows and PPO-ptx rehearse."""
    docs = world.web_corpus(n_chars=n_chars, faq_weight=faq_weight)
    ids = [tokenizer.encode(d, add_special_tokens=False) for d in docs]
    return pack_documents(ids, tokenizer.bos_token_id, seq_len)


class PretrainTrainer:
    """Step-wise pre-training. ``step()`` returns a metrics dict; never prints."""

    def __init__(self, config: PretrainConfig, world=None, on_status: Callable[[str], None] | None = None):
        from .world import World

        self.config = config
        say = on_status or (lambda _msg: None)
        self.world = world or World(seed=config.seed)
        say("generating the web corpus")
        docs = self.world.web_corpus(
            n_chars=config.corpus_chars, faq_weight=config.faq_weight, echo_weight=config.echo_weight
        )
        order = list(range(len(docs)))
        random.Random(config.seed).shuffle(order)
        n_val = max(1, int(len(docs) * config.val_fraction))
        val_docs = [docs[i] for i in order[:n_val]]
        train_docs = [docs[i] for i in order[n_val:]]
        say("training the tokenizer")
        self.tokenizer = build_tokenizer(train_docs, vocab_size=config.vocab_size)
        say("tokenising")
        encode = self.tokenizer.backend_tokenizer.encode_batch
        train_ids = [e.ids for e in encode(train_docs, add_special_tokens=False)]
        val_ids = [e.ids for e in encode(val_docs, add_special_tokens=False)]
        bos = self.tokenizer.bos_token_id
        self.train_windows = pack_documents(train_ids, bos, config.seq_len)  # (N, T)
        self.val_windows = pack_documents(val_ids, bos, config.seq_len)[:256]  # (M, T)
        self.model = build_model(self.tokenizer, config.size, seed=config.seed)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.95)
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step_count = 0
        # Copy drill: its own data stream and optimiser, so the corpus phase after it is the
        # same schedule as without it. Token ids skip the special tokens.
        self.plain_ids = plain_id_range(self.tokenizer)
        self.drill_steps = 0
        self.drilling = config.copy_drill_steps > 0
        # The drill's last copy reading (None without a drill).
        self.drill_copy = random_span_copy(self.model.eval(), *self.plain_ids) if self.drilling else None
        self._drill_generator = torch.Generator().manual_seed(config.seed + 100)
        self._drill_optimizer = (
            torch.optim.AdamW(
                self.model.parameters(), lr=config.copy_drill_lr, weight_decay=config.weight_decay, betas=(0.9, 0.95)
            )
            if self.drilling
            else None
        )
        self._order = torch.randperm(len(self.train_windows), generator=self.generator)
        self._cursor = 0
        self.corpus_stats = {
            # The digest lets anyone check that a rebuilt base model saw exactly the same text.
            "sha256": hashlib.sha256("\x00".join(docs).encode()).hexdigest(),
            "documents": len(docs),
            "characters": sum(len(d) for d in docs),
            "train_tokens": int(self.train_windows.numel()),
            "val_tokens": int(self.val_windows.numel()),
        }

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 10% of the peak."""
        c = self.config
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        progress = (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps)
        return c.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def _next_batch(self) -> torch.Tensor:
        b = self.config.batch_size
        if self._cursor + b > len(self._order):
            self._order = torch.randperm(len(self.train_windows), generator=self.generator)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + b]
        self._cursor += b
        batch = self.train_windows[idx]  # (B, T)
        n = int(round(b * self.config.copy_share))
        if n:
            batch = batch.clone()
            batch[:n] = repeated_spans(n, batch.size(1), *self.plain_ids, self.generator)
        return batch

    def _update(self, optimizer: torch.optim.Optimizer, batch: torch.Tensor) -> float:
        """One next-token step on (B, T) ``batch`` with ``optimizer`` (gradients clipped to 1);
        returns the loss. The drill and the corpus phase differ only in data and optimiser."""
        loss = self.model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    def _drill_step(self) -> dict[str, float]:
        """One step of the copy drill; every 50 steps it measures the copy and may end the drill."""
        self.model.train()
        c = self.config
        batch = repeated_spans(c.batch_size, c.seq_len, *self.plain_ids, self._drill_generator)  # (B, T)
        loss = self._update(self._drill_optimizer, batch)
        self.drill_steps += 1
        out = {"drill/loss": loss}
        if self.drill_steps % 50 == 0 or self.drill_steps >= c.copy_drill_steps:
            self.drill_copy = random_span_copy(self.model.eval(), *self.plain_ids)
            out["drill/copy"] = self.drill_copy
            if self.drill_copy >= c.copy_drill_target or self.drill_steps >= c.copy_drill_steps:
                self.drilling, self._drill_optimizer = False, None
        return out

    def step(self) -> dict[str, float]:
        """One optimiser step: of the copy drill while it lasts, then on a batch of packed windows."""
        if self.drilling:
            return self._drill_step()
        self.model.train()
        lr = self.lr_at(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self._next_batch()
        loss = self._update(self.optimizer, batch)
        self.step_count += 1
        return {
            "loss/train": loss,
            "train/lr": lr,
            "train/tokens": float(self.step_count * batch.numel()),
        }

    @torch.no_grad()
    def validation_loss(self) -> dict[str, float]:
        """Mean next-token loss and perplexity on the held-out documents."""
        self.model.eval()
        losses = []
        for chunk in self.val_windows.split(32):
            losses.append(float(self.model(input_ids=chunk, labels=chunk).loss))
        loss = sum(losses) / len(losses)
        return {"loss/val": loss, "val/perplexity": math.exp(loss)}

    def done(self) -> bool:
        return not self.drilling and self.step_count >= self.config.steps
