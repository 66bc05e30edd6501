"""Stage 1 - supervised fine-tuning: imitate demonstrations of good answers.

The base model continues text; SFT shows it thousands of ``prompt -> ideal answer <|end|>``
conversations so it learns to answer *and stop*. The loss is next-token cross-entropy on the
response tokens only (``losses.sft_loss``; prompt tokens are masked with -100).

Departures from common recipes: full fine-tuning (no LoRA: the model is tiny); the
demonstrations deliberately refuse only a minority of harmful requests (the world's
``refusal_share``), so that preference learning has something real to fix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from .losses import any_of_tokens_loss, sft_loss
from .training import StepTrainer, freeze_lower, length_buckets, tokenize_conversations
from .world import writing


@dataclass
class SFTConfig:
    """Knobs of supervised fine-tuning."""

    seed: int = 0
    """Seeds the demonstrations' order."""
    n_demonstrations: int = 6000
    """How many demonstrations to draw from the world (more: better coverage, slower epochs)."""
    refusal_share: float = 0.22
    """Share of harmful-request demonstrations that refuse (the rest comply). Thin on purpose."""
    steps: int = 300
    """Optimiser steps (about 1.6 epochs of the default demonstrations; the loss has flattened by then)."""
    batch_size: int = 32
    """Conversations per step."""
    lr: float = 1e-3
    """Peak AdamW learning rate; decays linearly to 10% by the last step."""
    max_len: int = 128
    """Longest conversation in tokens (longer ones are cut)."""
    replay_rows: int = 0
    """Windows of pre-training (web) text added to every batch, with plain next-token loss.
    Rehearsing the web keeps what the base model knew (how to crack an egg, that picking a lock
    is a crime) from being overwritten by a few thousand narrow demonstrations. 0: off."""
    replay_chars: int = 400_000
    """Size of the web sample the replay windows are cut from."""
    replay_faq_weight: float = 0.0
    """Weight of the FAQ genre in the replayed web sample (``PretrainConfig.faq_weight`` of a base
    pre-trained with it). Rehearsing the verdicts keeps what a self-check reads from the base."""
    echo_rows: int = 0
    """Requests about made-up activities added to every batch, answered only with the opening that
    repeats the activity ("How can I shoot the glomaglal?" -> "Here is how to shoot the
    glomaglal."), loss on that opening alone. They teach the model to carry a new activity from
    the request into its answer, where its knowledge of that guide can take over; this needs a
    base that can copy at all (``PretrainConfig.copying``). 0: off."""
    echo_frames: float = 0.0
    """Share of the echo rows whose request is a made-up frame ("Where write numbers to shoot the
    glomaglal?", ``phrasings.made_up_frame``) instead of a training how-to wording: the copy is then
    taught whatever words come before the activity, as a held-out wording ("Give me instructions
    to ...") needs. The frames use no word of a held-out how-to wording. 0: training wordings only.
    Session 21 (0.5, on the copying + FAQ base with ``self_check``): the model then opens with the
    self-check under held-out wordings but still mis-copies the activity there, and PPO from it
    over-refused more (docs/results.md); off in every preset."""
    echo_frame_words: int = 4
    """Most words of a made-up frame before "to" / "how to" (at least 1). The training wordings put
    the activity 3-8 tokens into the request, the held-out ones up to 11, and the self-check's copy
    fails after long leads whatever the words (session 21). Session 22 (12, on the copying + FAQ
    base): the copy after long leads did not move; what fails there is the recall of a known
    activity's verb, not the copy (docs/results.md)."""

    freeze_blocks: int = 0
    """Lower transformer blocks left as the base model had them (``training.freeze_lower``); 0
    trains everything. On the copying + FAQ base, 1 (with ``self_check`` and lr 3e-4) kept the
    base's verdict on all six held-out activities, where training every block lost one or two."""
    freeze_embeddings: bool = False
    """Also leave the (tied) token embeddings as they were."""
    self_check: bool = False
    """Open every how-to demonstration with the FAQ genre's verdict on its activity ("Is it legal to
    pick a lock? No, it is not.", ``World.self_check``), refusing or not; echo rows then open with its
    question. Which verdict is not learned, only that one follows (``losses.any_of_tokens_loss`` at
    the token where the two part): the demonstrations would teach the 30 training activities'
    verdicts by heart, by verb, where the base model's FAQ reading already has every activity
    right. On a base that copies and read the FAQ genre, the model's own verdict on a new activity
    is then written out before the answer, where the reward model and PPO can use it."""
    self_check_opening: bool = True
    """With ``self_check``, keep a guide's opening ("Here is how to pick a lock.") after the verdict.
    False drops it (``World.self_checked``): the verdict has just repeated the activity, and with
    the opening half the self-checked demonstrations are longer than the 64 tokens PPO samples. It
    did not make the model end its answers more often (eos 0.795 against 0.80, session 18): the
    misses are FAQ text written on after the verdict."""

    @classmethod
    def lesson(cls) -> SFTConfig:
        """What the app runs live: about 20 s on one laptop CPU thread."""
        return cls(n_demonstrations=3000, steps=120, batch_size=16)

    @classmethod
    def full(cls) -> SFTConfig:
        """What makes ``assets/models/sft``: the defaults plus 8 replay rows per batch."""
        return cls(replay_rows=8)

    @classmethod
    def tiny(cls) -> SFTConfig:
        """A seconds-long run for tests."""
        return cls(n_demonstrations=200, steps=6, batch_size=8)


class SFTTrainer(StepTrainer):
    """Step-wise SFT of ``model`` on the world's demonstrations."""

    limits = {"loss/sft": 1e3}

    def __init__(self, config: SFTConfig, model, tokenizer, world, device: torch.device | str = "cpu"):
        super().__init__()
        self.config, self.model, self.tokenizer = config, model.to(device).requires_grad_(True), tokenizer
        freeze_lower(model, config.freeze_blocks, config.freeze_embeddings)
        self.device = torch.device(device)
        demos = world.sft_demonstrations(
            n=config.n_demonstrations,
            refusal_share=config.refusal_share,
            self_check=config.self_check,
            self_check_opening=config.self_check_opening,
        )
        self.demonstrations, self.world = demos, world
        self.rng = random.Random(config.seed)
        self.order: list[int] = []
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=0.0, betas=(0.9, 0.95), fused=True
        )
        self.epoch = 0
        self.verdicts: list[tuple[int, int, int, int]] = []  # the last batch's (row, pos, no, yes)
        self.replay = self._replay_windows(world) if config.replay_rows > 0 else None  # (N, max_len)

    def _replay_windows(self, world) -> torch.Tensor:
        """Web documents (the pre-training genres) packed into (N, max_len) windows."""
        from .pretrain import web_windows

        c = self.config
        return web_windows(world, self.tokenizer, c.replay_chars, c.max_len, faq_weight=c.replay_faq_weight)

    def lr_at(self, step: int) -> float:
        return self.config.lr * (1.0 - 0.9 * step / max(1, self.config.steps))

    def _batch(self):
        if len(self.order) < self.config.batch_size:
            order = list(range(len(self.demonstrations)))
            self.rng.shuffle(order)
            self.order += order
            self.epoch += 1
        idx, self.order = self.order[: self.config.batch_size], self.order[self.config.batch_size :]
        prompts = [self.demonstrations[i][0].text for i in idx]
        responses = [self.demonstrations[i][1] for i in idx]
        add_eos = [True] * len(idx)
        if self.config.echo_rows > 0:
            # The echo rows end without <|end|>: the opening is all they teach, not to stop there.
            echoes = self.world.echo_demonstrations(
                self.config.echo_rows,
                self.rng,
                self.config.self_check,
                self.config.echo_frames,
                self.config.echo_frame_words,
            )
            prompts += [prompt for prompt, _ in echoes]
            responses += [opening for _, opening in echoes]
            add_eos += [False] * len(echoes)
        batch = tokenize_conversations(self.tokenizer, prompts, responses, add_eos, max_len=self.config.max_len)
        if self.config.self_check:
            self._mask_verdicts(batch[2], [self.demonstrations[i][0] for i in idx])
        return batch

    def _mask_verdicts(self, labels: torch.Tensor, prompts: list) -> None:
        """Take each self-check's verdict decision out of the plain loss, in place.

        At the first token where " No, it is not." and " Yes, of course." differ, the label becomes
        -100 and ``self.verdicts`` gets ``(row, position, no_id, yes_id)``: ``_step`` learns there
        that *a* verdict follows (:func:`losses.any_of_tokens_loss`), not which. The tokens around
        it are learned as usual. ``labels`` (B, T) from :func:`tokenize_conversations`; ``prompts``
        the demonstrations' prompts in row order (the echo rows after them have no verdict)."""
        encode = lambda text: self.tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
        self.verdicts = []
        for row, prompt in enumerate(prompts):
            said = self.world.self_check(prompt)
            if said is None:
                continue
            question = said[: said.index("?") + 1]
            no = encode(writing.SELF_CHECK_HARMFUL.format(activity=prompt.slot("activity")))
            yes = encode(writing.SELF_CHECK_BENIGN.format(activity=prompt.slot("activity")))
            at = len(encode(question))
            while at < min(len(no), len(yes)) - 1 and no[at] == yes[at]:
                at += 1  # the decision is the first token where the two verdicts part
            start = int((labels[row] == -100).long().cumprod(0).sum())  # the response's first token
            if start + at < labels.size(1) and labels[row, start + at] != -100:  # not cut off by max_len
                labels[row, start + at] = -100
                self.verdicts.append((row, start + at, no[at], yes[at]))

    def _step(self) -> dict[str, float]:
        # 1. take a batch of demonstrations (prompt tokens masked out of the labels)
        input_ids, attention, labels = (t.to(self.device) for t in self._batch())
        # 2. next-token cross-entropy on the response tokens
        self.model.train()
        # Length buckets skip padding; each bucket's mean is weighted by its share of tokens. A
        # self-check's verdict counts as one token, learned as "either verdict" (2c).
        verdicts = torch.tensor(self.verdicts, dtype=torch.long, device=self.device).view(-1, 4)  # (n, 4)
        n_total = ((labels[:, 1:] != -100).sum() + len(verdicts)).clamp(min=1)
        loss = 0.0
        for rows, width in length_buckets(attention):
            logits = self.model(input_ids=input_ids[rows, :width], attention_mask=attention[rows, :width]).logits
            n_rows = (labels[rows, 1:width] != -100).sum()
            loss = loss + sft_loss(logits, labels[rows, :width]) * n_rows / n_total  # logits: (r, w, V)
            # 2c. self-check verdicts in this bucket: the logits one position before each verdict
            local = (verdicts[:, :1] == rows.view(1, -1)).nonzero()  # (m, 2): (verdict index, row in bucket)
            if len(local):
                v = verdicts[local[:, 0]]  # (m, 4)
                at = logits[local[:, 1], v[:, 1] - 1]  # (m, V): predicts the verdict token
                loss = loss + any_of_tokens_loss(at, v[:, 2:]).sum() / n_total
        # 2b. optional replay: next-token loss on a few windows of web text, so the model keeps
        #     what pre-training taught it (weighted like that many extra demonstration rows)
        if self.replay is not None:
            pick = torch.tensor([self.rng.randrange(len(self.replay)) for _ in range(self.config.replay_rows)])
            windows = self.replay[pick].to(self.device)  # (r, max_len)
            replay_loss = sft_loss(self.model(input_ids=windows).logits, windows)
            share = self.config.replay_rows / (self.config.replay_rows + self.config.batch_size)
            loss = (1 - share) * loss + share * replay_loss
        # 3. gradient step
        lr = self.lr_at(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return {
            "loss/sft": loss.item(),
            "train/lr": lr,
            "train/epoch": self.epoch - 1 + (1 - len(self.order) / max(1, len(self.demonstrations))),
        }

    def done(self) -> bool:
        return self.step_count >= self.config.steps
