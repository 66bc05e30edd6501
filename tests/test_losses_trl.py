"""Cross-check rlhf_core/losses.py against TRL 1.16 (a dev dependency; skipped without it).

TRL 1.16 has no standalone loss functions for DPO or reward modelling: the formulas sit
inside trainer methods. We call those real methods on trainers built with
`object.__new__` (no model, dataset or config is loaded), setting only the attributes
the method reads, and a stub model whose outputs are the tensors we chose:

- DPO ("sigmoid", "ipo"): `trl.DPOTrainer._compute_loss`. It returns the batch mean, so
  we compare means, and the implicit rewards it logs in `_metrics`.
- Conservative DPO (label_smoothing > 0): TRL 1.16's DPO "sigmoid" no longer reads
  `label_smoothing` (older TRL did; in 1.16 only "robust", "exo_pair" and "aot" do). The
  same smoothed formula is still in `trl.experimental.cpo.CPOTrainer.cpo_loss`, which
  scores policy log-probs without a reference; we pass it log-ratios
  log pi - log pi_ref, which turns CPO's sigmoid into DPO's.
- IPO: TRL divides each sequence log-prob by its completion length before the loss, so
  we pass length-averaged log-probs to ours.
- Reward model: `trl.RewardTrainer.compute_loss`, i.e.
  `-logsigmoid(rewards_chosen - rewards_rejected - margin).mean()`.
- `trl.trainer.utils.selective_log_softmax` and `entropy_from_logits` are importable
  functions and are compared directly.

TRL 1.16 has no `masked_mean`, `masked_var`, `masked_whiten`, KL controllers or PPO
losses (they left with PPOTrainer), so those are checked only in tests/test_losses.py.
"""

import warnings
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

trl = pytest.importorskip("trl")

from trl import DPOTrainer, RewardTrainer  # noqa: E402
from trl.trainer.utils import entropy_from_logits as trl_entropy_from_logits  # noqa: E402
from trl.trainer.utils import selective_log_softmax  # noqa: E402

with warnings.catch_warnings():
    # trl.experimental warns on import that its APIs are unstable; we only read CPO's formula.
    warnings.simplefilter("ignore")
    from trl.experimental.cpo import CPOTrainer  # noqa: E402

from rlhf_core.losses import (  # noqa: E402
    bradley_terry_loss,
    dpo_loss,
    entropy_from_logits,
    sequence_logprobs,
    token_logprobs,
)

SEEDS = [0, 1, 2]


class _SingleProcessAccelerator:
    """What the trainers read from `accelerate.Accelerator`, for one CPU process."""

    device = torch.device("cpu")

    def gather(self, tensor):
        return tensor

    gather_for_metrics = gather


class _StubModel:
    """Stands in for the policy: returns fixed outputs, and is in training mode."""

    training = True

    def __init__(self, outputs):
        self.outputs = outputs

    def __call__(self, **kwargs):
        return self.outputs


def _bare_trainer(trainer_class, **attributes):
    """A trainer instance without running its __init__, with just `attributes` set."""
    trainer = object.__new__(trainer_class)
    trainer.accelerator = _SingleProcessAccelerator()
    trainer._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    trainer._total_train_tokens = 0
    trainer._tp_size = 1
    for name, value in attributes.items():
        setattr(trainer, name, value)
    return trainer


def _random_dpo_batch(batch: int, gen: torch.Generator):
    """Per-token log-probs of 2B completions (chosen first, then rejected) behind a prompt.

    Returns the TRL-side inputs and, for us, the per-sequence sums and completion lengths."""
    prompt_length, max_completion = 3, 6
    T = prompt_length + max_completion
    lengths = torch.randint(1, max_completion + 1, (2 * batch,), generator=gen)
    positions = torch.arange(T).unsqueeze(0)
    completion_mask = ((positions >= prompt_length) & (positions < prompt_length + lengths.unsqueeze(1))).long()
    # The fused LM head returns per-token log-probs for positions 1..T-1, 0 on non-labels.
    policy_per_token = -3.0 * torch.rand(2 * batch, T - 1, generator=gen) * completion_mask[:, 1:]
    reference_per_token = -3.0 * torch.rand(2 * batch, T - 1, generator=gen) * completion_mask[:, 1:]
    policy_logps = policy_per_token.sum(dim=1)  # (2B,)
    reference_logps = reference_per_token.sum(dim=1)  # (2B,)
    reference_chosen, reference_rejected = reference_logps.chunk(2)

    outputs = SimpleNamespace(
        log_probs=policy_per_token,
        entropy=torch.zeros(2 * batch, T - 1),
        mean_logits=torch.zeros(2 * batch, T - 1),
        is_top1=torch.zeros(2 * batch, T - 1, dtype=torch.bool),
    )
    inputs = {
        "input_ids": torch.zeros(2 * batch, T, dtype=torch.long),
        "attention_mask": torch.ones(2 * batch, T, dtype=torch.long),
        "completion_mask": completion_mask,
        "ref_chosen_logps": reference_chosen,
        "ref_rejected_logps": reference_rejected,
    }
    return outputs, inputs, policy_logps, reference_logps, lengths.float()


def _trl_dpo_loss(outputs, inputs, beta, loss_type, label_smoothing=0.0):
    """TRL 1.16's DPO loss (batch mean) and the mean rewards it logs."""
    model = _StubModel(outputs)
    trainer = _bare_trainer(
        DPOTrainer,
        model=model,
        beta=beta,
        loss_types=[loss_type],
        loss_weights=[1.0],
        label_smoothing=label_smoothing,
        f_divergence_type="reverse_kl",  # standard DPO
        ld_alpha=None,  # no length desensitisation
        precompute_ref_logps=True,  # reference log-probs come in `inputs`
        use_weighting=False,
        aux_loss_enabled=False,
    )
    loss = trainer._compute_loss(model, inputs, return_outputs=False)
    metrics = trainer._metrics["train"]
    return loss, metrics["rewards/chosen"][-1], metrics["rewards/rejected"][-1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_sigmoid_matches_trl(seed, beta):
    gen = torch.Generator().manual_seed(seed)
    outputs, inputs, policy_logps, reference_logps, _ = _random_dpo_batch(5, gen)
    trl_loss, trl_chosen_reward, trl_rejected_reward = _trl_dpo_loss(outputs, inputs, beta, "sigmoid")

    policy_chosen, policy_rejected = policy_logps.chunk(2)
    reference_chosen, reference_rejected = reference_logps.chunk(2)
    losses, chosen_rewards, rejected_rewards = dpo_loss(
        policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, loss_type="sigmoid"
    )
    torch.testing.assert_close(losses.mean(), trl_loss)
    assert chosen_rewards.mean().item() == pytest.approx(trl_chosen_reward, rel=1e-5, abs=1e-6)
    assert rejected_rewards.mean().item() == pytest.approx(trl_rejected_reward, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_ipo_matches_trl_on_length_averaged_logps(seed, beta):
    gen = torch.Generator().manual_seed(seed)
    outputs, inputs, policy_logps, reference_logps, lengths = _random_dpo_batch(5, gen)
    trl_loss, _, _ = _trl_dpo_loss(outputs, inputs, beta, "ipo")

    # TRL's IPO averages each sequence's log-prob over its completion tokens.
    policy_chosen, policy_rejected = (policy_logps / lengths).chunk(2)
    reference_chosen, reference_rejected = (reference_logps / lengths).chunk(2)
    losses, _, _ = dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, "ipo")
    torch.testing.assert_close(losses.mean(), trl_loss)


def test_trl_dpo_sigmoid_ignores_label_smoothing():
    """Documents why conservative DPO is checked against CPO below, not DPOTrainer."""
    gen = torch.Generator().manual_seed(0)
    outputs, inputs, _, _, _ = _random_dpo_batch(4, gen)
    plain, _, _ = _trl_dpo_loss(outputs, inputs, 0.1, "sigmoid", label_smoothing=0.0)
    smoothed, _, _ = _trl_dpo_loss(outputs, inputs, 0.1, "sigmoid", label_smoothing=0.3)
    torch.testing.assert_close(plain, smoothed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.3])
def test_conservative_dpo_matches_trl_cpo_sigmoid_on_logratios(seed, label_smoothing):
    gen = torch.Generator().manual_seed(seed)
    policy_chosen, policy_rejected, reference_chosen, reference_rejected = (
        -20.0 * torch.rand(6, generator=gen) for _ in range(4)
    )
    beta = 0.2
    cpo = _bare_trainer(CPOTrainer, alpha=0.0, loss_type="sigmoid", beta=beta, label_smoothing=label_smoothing)
    # CPO's sigmoid on (log pi - log pi_ref) is DPO's sigmoid: its "logits" become h.
    trl_losses, _, _ = cpo.cpo_loss(policy_chosen - reference_chosen, policy_rejected - reference_rejected)

    losses, _, _ = dpo_loss(
        policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, label_smoothing=label_smoothing
    )
    torch.testing.assert_close(losses, trl_losses)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("with_margin", [False, True])
def test_bradley_terry_matches_trl_reward_trainer(seed, with_margin):
    gen = torch.Generator().manual_seed(seed)
    batch = 7
    chosen = 3.0 * torch.randn(batch, generator=gen)
    rejected = 3.0 * torch.randn(batch, generator=gen)
    margin = torch.rand(batch, generator=gen)

    # The reward model's outputs for the batch [chosen; rejected], shape (2B, 1).
    model = _StubModel(SimpleNamespace(logits=torch.cat([chosen, rejected]).unsqueeze(-1)))
    trainer = _bare_trainer(RewardTrainer, model=model, args=SimpleNamespace(center_rewards_coefficient=None))
    inputs = {"input_ids": torch.zeros(2 * batch, 4, dtype=torch.long), "attention_mask": torch.ones(2 * batch, 4)}
    if with_margin:
        inputs["margin"] = margin
    trl_loss = trainer.compute_loss(model, inputs)

    ours = bradley_terry_loss(chosen, rejected, margin if with_margin else None)
    torch.testing.assert_close(ours, trl_loss)


@pytest.mark.parametrize("seed", SEEDS)
def test_token_and_sequence_logprobs_match_trl_selective_log_softmax(seed):
    gen = torch.Generator().manual_seed(seed)
    logits = 3.0 * torch.randn(3, 8, 50, generator=gen)
    labels = torch.randint(0, 50, (3, 8), generator=gen)
    mask = torch.ones(3, 8)
    mask[1, 5:] = 0
    mask[2, 2:] = 0

    expected = selective_log_softmax(logits, labels)
    torch.testing.assert_close(token_logprobs(logits, labels), expected)
    expected_sequences = selective_log_softmax(logits, labels, row_mask=mask.long()).sum(dim=1)
    torch.testing.assert_close(sequence_logprobs(logits, labels, mask), expected_sequences)


@pytest.mark.parametrize("seed", SEEDS)
def test_entropy_matches_trl(seed):
    gen = torch.Generator().manual_seed(seed)
    logits = 4.0 * torch.randn(2, 9, 50, generator=gen)
    torch.testing.assert_close(entropy_from_logits(logits), trl_entropy_from_logits(logits))
