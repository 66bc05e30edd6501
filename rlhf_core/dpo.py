"""DPO - the same preferences, no reward model and no RL loop.

Direct Preference Optimization (Rafailov et al. 2023) shows that the KL-regularised RLHF
objective has a closed-form optimum, so the policy can be trained directly on preference pairs
with a classification-style loss on log-probability ratios against a frozen reference:

    L = -log sigmoid(beta * [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))])

Steps (numbered as in the lesson's pseudocode):
1. once: log-probs of every chosen and rejected response under the frozen reference;
2. each step: a batch of pairs through the policy (chosen and rejected in one forward pass);
3. the DPO loss (``losses.dpo_loss``), plus ``sft_coef`` times the NLL of the chosen responses;
4. a gradient step.

Departures: the reference log-probs are computed once up front (the reference never changes);
an optional SFT term on the chosen responses (as in RPO, Pang et al. 2024) keeps the policy's
grammar intact - a prototype here without it destroyed the model at lr 5e-5.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from .losses import dpo_loss
from .packed import pair_logprobs, tokenize_pairs
from .training import StepTrainer


@dataclass
class DPOConfig:
    """Knobs of DPO."""

    seed: int = 0
    """Seeds the batch order."""
    beta: float = 0.1
    """Higher beta means less deviation from the reference model (a stronger implicit KL leash)."""
    loss_type: str = "sigmoid"
    """"sigmoid" (DPO) or "ipo" (Azar et al. 2023: a squared loss that does not saturate)."""
    label_smoothing: float = 0.0
    """Assumed share of flipped labels (conservative DPO); 0 trusts every label."""
    sft_coef: float = 0.2
    """Weight of an extra NLL term on the chosen responses (per token). 0 is plain DPO."""
    steps: int = 60
    """Optimiser steps. More overfit here: 150 steps of 32 pairs reached KL 9.5 and a held-out gold
    score of 0.47, against 1.4 and 0.57 for 60 steps of 16."""
    batch_size: int = 16
    """Pairs per step."""
    lr: float = 2e-5
    """AdamW learning rate (DPO needs a small one; 5e-5 for 6 epochs destroyed a prototype)."""
    max_len: int = 128
    """Longest conversation in tokens."""

    @classmethod
    def lesson(cls) -> DPOConfig:
        """What the app runs live (under a minute): lr 2e-5, so a minute moves the refusal rate
        visibly (``BENCHMARKS.md``)."""
        return cls()

    @classmethod
    def full(cls) -> DPOConfig:
        """The shipped DPO model: lr 1e-5. At 2e-5 DPO answered unfamiliar how-to wordings with the
        "I'm not sure ..." template (gold on training activities in 10 wordings that neither the
        training nor the held-out prompts use: SFT 0.905, 2e-5 0.652, 1e-5 0.810), and the shipped
        model's held-out benign how-to score fell 2.5 standard errors below SFT's
        (``docs/results.md``, session 13)."""
        return cls(lr=1e-5)

    @classmethod
    def tiny(cls) -> DPOConfig:
        return cls(steps=4, batch_size=4)


class DPOTrainer(StepTrainer):
    """Step-wise DPO of ``policy`` against a frozen ``reference`` on preference pairs."""

    limits = {"loss/dpo": 1e3, "loss/sft_chosen": 1e3}

    def __init__(self, config: DPOConfig, policy, reference, tokenizer, pairs):
        super().__init__()
        if not pairs:
            raise ValueError("DPO needs at least one preference pair.")
        self.config, self.model, self.tokenizer, self.pairs = config, policy, tokenizer, list(pairs)
        self.device = next(policy.parameters()).device
        self.rng = random.Random(config.seed)
        self.optimizer = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=0.0, fused=True)
        self.order: list[int] = []
        self.tokens_seen = 0
        """Real tokens of the conversations the policy has scored (each row with its prompt, as
        the plain forward would read them; the benchmark's tokens/s)."""
        policy.requires_grad_(True)  # it may be a copy of a frozen model
        # 1. reference log-probs of every chosen and rejected response, once: (N,) each
        reference.eval()
        chosen, rejected = [], []
        with torch.no_grad():
            for s in range(0, len(self.pairs), 64):
                c, r, _ = self._logps(reference, self.pairs[s : s + 64])
                chosen.append(c)
                rejected.append(r)
        self.ref_chosen, self.ref_rejected = torch.cat(chosen), torch.cat(rejected)

    def _logps(self, model, batch):
        """Summed response log-probs of chosen and rejected: (b,), (b,), and the chosen NLL.

        Each pair's prompt runs once and padding is skipped (``packed.pair_logprobs``; the same
        numbers as the plain forward).
        """
        ids, mask, _, prompt_len = tokenize_pairs(self.tokenizer, batch, self.config.max_len)
        if model is self.model:
            self.tokens_seen += int(mask.sum())
        logps, n_tokens = pair_logprobs(model, ids.to(self.device), mask.to(self.device), prompt_len.to(self.device))
        chosen, rejected = logps.chunk(2)  # (b,) each
        return chosen, rejected, -(chosen / n_tokens[: len(batch)].clamp(min=1)).mean()

    def _step(self) -> dict[str, float]:
        c = self.config
        if len(self.order) < c.batch_size:
            order = list(range(len(self.pairs)))
            self.rng.shuffle(order)
            self.order += order
        idx, self.order = self.order[: c.batch_size], self.order[c.batch_size :]
        batch = [self.pairs[i] for i in idx]
        self.model.train()
        # 2. policy log-probs of chosen and rejected
        pol_c, pol_r, chosen_nll = self._logps(self.model, batch)
        ref_c, ref_r = self.ref_chosen[idx], self.ref_rejected[idx]
        # 3. DPO loss (+ optional SFT term on the chosen responses)
        losses, r_c, r_r = dpo_loss(pol_c, pol_r, ref_c, ref_r, c.beta, c.loss_type, c.label_smoothing)
        loss = losses.mean() + c.sft_coef * chosen_nll
        # 4. gradient step
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        pol_c, pol_r = pol_c.detach(), pol_r.detach()
        return {
            "loss/dpo": losses.mean().item(),
            "loss/sft_chosen": chosen_nll.item(),
            "rewards/chosen": float(r_c.mean()),
            "rewards/rejected": float(r_r.mean()),
            "rewards/margin": float((r_c - r_r).mean()),
            "rewards/accuracy": float((r_c > r_r).float().mean()),
            "logps/chosen": float(pol_c.mean()),
            "logps/rejected": float(pol_r.mean()),
        }

    def done(self) -> bool:
        return self.step_count >= self.config.steps
