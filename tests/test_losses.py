"""Tests for rlhf_core/losses.py.

Each loss is checked three ways:
1. against a naive reference written as plain Python loops over the equation, on random
   inputs of several shapes and seeds, with masks that contain padding;
2. on small hand-worked numbers (log 2 at chance, IPO's target, a known clip fraction);
3. where it is trained through, that `backward()` reaches the inputs.

The cross-check against TRL lives in tests/test_losses_trl.py (TRL is a dev dependency).
"""

import doctest
import math

import pytest
import torch
import torch.nn.functional as F

from rlhf_core import losses
from rlhf_core.losses import (
    AdaptiveKLController,
    FixedKLController,
    bradley_terry_loss,
    dpo_loss,
    entropy_from_logits,
    gae,
    kl_estimate,
    masked_mean,
    masked_var,
    masked_whiten,
    per_token_rewards,
    ppo_policy_loss,
    ppo_value_loss,
    sequence_logprobs,
    sft_loss,
    token_logprobs,
)

SEEDS = [0, 1, 2]
SHAPES = [(1, 1), (2, 5), (4, 7), (3, 16)]  # (B, T)
VOCAB = 11


# ---------------------------------------------------------------------------------------
# Helpers: random inputs and naive references
# ---------------------------------------------------------------------------------------


def right_padded_mask(B: int, T: int, gen: torch.Generator, min_len: int = 1) -> torch.Tensor:
    """(B, T) float mask of 1s followed by 0s, with a random length per row.

    The first row always has full length, so every batch has at least one valid token."""
    lengths = torch.randint(min_len, T + 1, (B,), generator=gen)
    lengths[0] = T
    return (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).float()


def naive_log_softmax(row: list[float]) -> list[float]:
    top = max(row)
    log_normaliser = top + math.log(sum(math.exp(z - top) for z in row))
    return [z - log_normaliser for z in row]


def naive_log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def naive_masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    total, count = 0.0, 0.0
    for v, m in zip(values.flatten().tolist(), mask.flatten().tolist(), strict=True):
        total += v * m
        count += m
    return total / count


def naive_gae(rewards, values, mask, gamma, lam):
    """A_t = sum_k (gamma lam)^k delta_{t+k}, one response at a time, as on paper."""
    B, T = rewards.shape
    advantages = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        length = int(mask[b].sum())
        r = rewards[b].tolist()
        v = values[b].tolist()
        deltas = []
        for t in range(length):
            next_value = v[t + 1] if t + 1 < length else 0.0  # episode ends at `length`
            deltas.append(r[t] + gamma * next_value - v[t])
        for t in range(length):
            advantages[b, t] = sum((gamma * lam) ** k * deltas[t + k] for k in range(length - t))
    returns = advantages + values.double() * mask.double()
    return advantages, returns


def assert_close(actual, expected, atol=1e-5, rtol=1e-5):
    torch.testing.assert_close(
        torch.as_tensor(actual, dtype=torch.float64),
        torch.as_tensor(expected, dtype=torch.float64),
        atol=atol,
        rtol=rtol,
    )


# ---------------------------------------------------------------------------------------
# Masked statistics
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_masked_mean_matches_loop(seed, shape):
    gen = torch.Generator().manual_seed(seed)
    values = torch.randn(shape, generator=gen)
    mask = right_padded_mask(*shape, gen)
    assert_close(masked_mean(values, mask), naive_masked_mean(values, mask))
    per_row = masked_mean(values, mask, dim=1)
    assert per_row.shape == (shape[0],)
    for b in range(shape[0]):
        assert_close(per_row[b], naive_masked_mean(values[b], mask[b]))


def test_masked_mean_accepts_bool_mask_and_empty_rows_give_zero():
    values = torch.tensor([[1.0, 2.0, 100.0], [5.0, 6.0, 7.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert_close(masked_mean(values, mask), 1.5)
    assert_close(masked_mean(values, mask, dim=1), [1.5, 0.0])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(2, 5), (4, 7), (3, 16)])
@pytest.mark.parametrize("unbiased", [True, False])
def test_masked_var_matches_loop(seed, shape, unbiased):
    gen = torch.Generator().manual_seed(seed)
    values = torch.randn(shape, generator=gen)
    mask = right_padded_mask(*shape, gen)
    kept = [v for v, m in zip(values.flatten().tolist(), mask.flatten().tolist(), strict=True) if m]
    mean = sum(kept) / len(kept)
    squares = sum((v - mean) ** 2 for v in kept)
    expected = squares / (len(kept) - 1 if unbiased else len(kept))
    assert_close(masked_var(values, mask, unbiased=unbiased), expected)


def test_masked_var_unbiased_needs_two_entries():
    with pytest.raises(ValueError):
        masked_var(torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]]))


@pytest.mark.parametrize("seed", SEEDS)
def test_masked_whiten_gives_mean_zero_variance_one_on_masked_entries(seed):
    gen = torch.Generator().manual_seed(seed)
    values = 3.0 + 5.0 * torch.randn(4, 9, generator=gen)
    mask = right_padded_mask(4, 9, gen, min_len=2)
    whitened = masked_whiten(values, mask)
    assert_close(masked_mean(whitened, mask), 0.0, atol=1e-5, rtol=0)
    assert_close(masked_var(whitened, mask), 1.0, atol=1e-4, rtol=0)

    # shift_mean=False rescales but keeps the original mean.
    rescaled = masked_whiten(values, mask, shift_mean=False)
    assert_close(masked_mean(rescaled, mask), masked_mean(values, mask))
    assert_close(masked_var(rescaled, mask), 1.0, atol=1e-4, rtol=0)


def test_masked_whiten_ignores_padding_values():
    values = torch.tensor([[1.0, 2.0, 3.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    garbage = values.clone()
    garbage[0, 3] = 1e6
    assert_close(masked_whiten(values, mask)[:, :3], masked_whiten(garbage, mask)[:, :3])
    # mean 2, unbiased variance 1: whitening is just x - 2.
    assert_close(masked_whiten(values, mask)[:, :3], [[-1.0, 0.0, 1.0]], atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------
# Log-probabilities and entropy
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_token_logprobs_and_sequence_logprobs_match_loop(seed, shape):
    gen = torch.Generator().manual_seed(seed)
    B, T = shape
    logits = 3.0 * torch.randn(B, T, VOCAB, generator=gen)
    labels = torch.randint(0, VOCAB, (B, T), generator=gen)
    mask = right_padded_mask(B, T, gen)

    expected_tokens = torch.zeros(B, T, dtype=torch.float64)
    expected_sequences = torch.zeros(B, dtype=torch.float64)
    for b in range(B):
        for t in range(T):
            logp = naive_log_softmax(logits[b, t].tolist())[int(labels[b, t])]
            expected_tokens[b, t] = logp
            expected_sequences[b] += logp * mask[b, t].item()

    assert_close(token_logprobs(logits, labels), expected_tokens)
    # Padding may hold -100; sequence_logprobs must not index with it.
    padded_labels = labels.masked_fill(mask == 0, -100)
    result = sequence_logprobs(logits, padded_labels, mask)
    assert result.shape == (B,)
    assert_close(result, expected_sequences)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_entropy_from_logits_matches_loop(seed, shape):
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(*shape, VOCAB, generator=gen)
    expected = torch.zeros(shape, dtype=torch.float64)
    for index in torch.cartesian_prod(*(torch.arange(n) for n in shape)).view(-1, 2):
        b, t = index.tolist()
        logps = naive_log_softmax(logits[b, t].tolist())
        expected[b, t] = -sum(math.exp(lp) * lp for lp in logps)
    assert_close(entropy_from_logits(logits), expected)


def test_entropy_hand_cases():
    uniform = torch.zeros(1, 1, VOCAB)
    assert_close(entropy_from_logits(uniform), [[math.log(VOCAB)]])
    # A near-one-hot distribution: probabilities underflow to 0, entropy stays finite.
    peaked = torch.tensor([[[1000.0, 0.0, 0.0]]])
    assert_close(entropy_from_logits(peaked), [[0.0]], atol=1e-6, rtol=0)


def test_sequence_logprobs_gradient_flows():
    logits = torch.randn(2, 4, VOCAB, requires_grad=True)
    labels = torch.randint(0, VOCAB, (2, 4))
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    sequence_logprobs(logits, labels, mask).sum().backward()
    assert logits.grad is not None
    assert logits.grad[1, 2:].abs().sum() == 0  # padding gets no gradient
    assert logits.grad[1, :2].abs().sum() > 0


# ---------------------------------------------------------------------------------------
# SFT
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(1, 2), (2, 5), (4, 7), (3, 16)])
def test_sft_loss_matches_loop(seed, shape):
    gen = torch.Generator().manual_seed(seed)
    B, T = shape
    logits = torch.randn(B, T, VOCAB, generator=gen)
    labels = torch.randint(0, VOCAB, (B, T), generator=gen)
    # Prompt tokens (a random-length prefix) and right padding are -100.
    prompt_lengths = torch.randint(0, T, (B,), generator=gen)
    prompt_lengths[0] = 1
    keep = right_padded_mask(B, T, gen).bool()
    for b in range(B):
        keep[b, : prompt_lengths[b]] = False
    labels = labels.masked_fill(~keep, -100)

    total, count = 0.0, 0
    for b in range(B):
        for t in range(T - 1):
            target = int(labels[b, t + 1])
            if target == -100:
                continue
            total -= naive_log_softmax(logits[b, t].tolist())[target]
            count += 1
    expected = total / max(count, 1)
    assert_close(sft_loss(logits, labels), expected)


def test_sft_loss_ignores_masked_positions_and_equals_torch_cross_entropy():
    gen = torch.Generator().manual_seed(7)
    logits = torch.randn(3, 6, VOCAB, generator=gen)
    labels = torch.randint(0, VOCAB, (3, 6), generator=gen)
    labels[:, :2] = -100  # prompt
    labels[1, 4:] = -100  # padding

    # The same as PyTorch's own cross-entropy on the shifted, unmasked positions.
    shift_logits, shift_labels = logits[:, :-1], labels[:, 1:]
    kept = shift_labels != -100
    expected = F.cross_entropy(shift_logits[kept], shift_labels[kept])
    assert_close(sft_loss(logits, labels), expected)

    # Changing the logits that predict ignored tokens does not change the loss.
    changed = logits.clone()
    changed[:, 0] += 10.0  # position 0 predicts token 1, a prompt token
    changed[1, 3:] -= 10.0  # positions predicting padding (and the unused last one)
    changed[:, -1] += 5.0  # the last position predicts nothing
    assert_close(sft_loss(changed, labels), sft_loss(logits, labels))


def test_sft_loss_all_ignored_is_zero_and_gradient_flows():
    logits = torch.randn(2, 3, VOCAB, requires_grad=True)
    assert sft_loss(logits, torch.full((2, 3), -100)).item() == 0.0
    labels = torch.randint(0, VOCAB, (2, 3))
    sft_loss(logits, labels).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------
# Reward model
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch", [1, 3, 8])
def test_bradley_terry_matches_loop(seed, batch):
    gen = torch.Generator().manual_seed(seed)
    chosen = 4.0 * torch.randn(batch, generator=gen)
    rejected = 4.0 * torch.randn(batch, generator=gen)
    margin = torch.rand(batch, generator=gen)

    plain = [-naive_log_sigmoid(c - r) for c, r in zip(chosen.tolist(), rejected.tolist(), strict=True)]
    assert_close(bradley_terry_loss(chosen, rejected), sum(plain) / batch)

    with_margin = [
        -naive_log_sigmoid(c - r - m)
        for c, r, m in zip(chosen.tolist(), rejected.tolist(), margin.tolist(), strict=True)
    ]
    assert_close(bradley_terry_loss(chosen, rejected, margin), sum(with_margin) / batch)
    assert_close(bradley_terry_loss(chosen, rejected, 0.5), bradley_terry_loss(chosen - 0.5, rejected))


def test_bradley_terry_hand_numbers():
    zero = torch.zeros(1)
    assert_close(bradley_terry_loss(zero, zero), math.log(2))
    # A confident, correct reward model has a small loss; a confident wrong one a large
    # loss, and it stays finite (logsigmoid, not log(sigmoid)).
    assert bradley_terry_loss(torch.tensor([10.0]), zero).item() < 1e-4
    assert_close(bradley_terry_loss(torch.tensor([-200.0]), zero), 200.0)


def test_bradley_terry_gradient_flows():
    chosen = torch.zeros(3, requires_grad=True)
    rejected = torch.zeros(3, requires_grad=True)
    bradley_terry_loss(chosen, rejected).backward()
    # d/dr_c of -log sigma(r_c - r_r) at 0 is -1/2, averaged over 3 pairs.
    assert_close(chosen.grad, [-0.5 / 3] * 3)
    assert_close(rejected.grad, [0.5 / 3] * 3)


# ---------------------------------------------------------------------------------------
# DPO / IPO
# ---------------------------------------------------------------------------------------


def random_logps(batch: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Four (B,) tensors of plausible sequence log-probs (negative, tens of nats)."""
    return [-20.0 * torch.rand(batch, generator=gen) for _ in range(4)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch", [1, 4, 9])
@pytest.mark.parametrize("beta", [0.1, 0.5])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_dpo_sigmoid_matches_loop(seed, batch, beta, label_smoothing):
    gen = torch.Generator().manual_seed(seed)
    pc, pr, rc, rr = random_logps(batch, gen)
    losses_out, chosen_rewards, rejected_rewards = dpo_loss(
        pc, pr, rc, rr, beta, loss_type="sigmoid", label_smoothing=label_smoothing
    )
    assert losses_out.shape == chosen_rewards.shape == rejected_rewards.shape == (batch,)
    for b in range(batch):
        h = (pc[b] - rc[b]).item() - (pr[b] - rr[b]).item()
        expected = -(1 - label_smoothing) * naive_log_sigmoid(beta * h) - (
            label_smoothing * naive_log_sigmoid(-beta * h)
        )
        assert_close(losses_out[b], expected)
        assert_close(chosen_rewards[b], beta * (pc[b] - rc[b]).item())
        assert_close(rejected_rewards[b], beta * (pr[b] - rr[b]).item())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_ipo_matches_loop(seed, beta):
    gen = torch.Generator().manual_seed(seed)
    pc, pr, rc, rr = random_logps(6, gen)
    losses_out, _, _ = dpo_loss(pc, pr, rc, rr, beta, loss_type="ipo")
    for b in range(6):
        h = (pc[b] - rc[b]).item() - (pr[b] - rr[b]).item()
        assert_close(losses_out[b], (h - 1 / (2 * beta)) ** 2, rtol=1e-4)


def test_dpo_hand_numbers():
    same = torch.tensor([-3.0, -7.0])
    # Policy equals reference: h = 0, DPO is at chance (log 2) whatever beta is.
    losses_out, chosen_rewards, rejected_rewards = dpo_loss(same, same, same, same, beta=0.3)
    assert_close(losses_out, [math.log(2)] * 2)
    assert_close(chosen_rewards, [0.0, 0.0])
    assert_close(rejected_rewards, [0.0, 0.0])
    # ... and label smoothing does not change that: both terms are log 2.
    smoothed, _, _ = dpo_loss(same, same, same, same, beta=0.3, label_smoothing=0.1)
    assert_close(smoothed, [math.log(2)] * 2)

    # IPO: h = (-1 - -2) - (-3 - -3) = 1; target 1/(2*0.25) = 2; loss (1 - 2)^2 = 1.
    t = torch.tensor
    ipo, _, _ = dpo_loss(t([-1.0]), t([-3.0]), t([-2.0]), t([-3.0]), beta=0.25, loss_type="ipo")
    assert_close(ipo, [1.0])
    # At h = 1/(2 beta) the IPO loss is exactly zero.
    ipo_at_target, _, _ = dpo_loss(t([0.0]), t([0.0]), t([-2.0]), t([0.0]), 0.25, "ipo")
    assert_close(ipo_at_target, [0.0])


def test_dpo_rejects_unknown_options():
    x = torch.zeros(2)
    with pytest.raises(ValueError):
        dpo_loss(x, x, x, x, beta=0.1, loss_type="hinge")
    with pytest.raises(ValueError):
        dpo_loss(x, x, x, x, beta=0.1, loss_type="ipo", label_smoothing=0.1)


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo"])
def test_dpo_gradient_flows_to_policy_only_and_rewards_are_detached(loss_type):
    policy_chosen = torch.tensor([-5.0, -6.0], requires_grad=True)
    policy_rejected = torch.tensor([-5.0, -4.0], requires_grad=True)
    reference = torch.tensor([-5.0, -5.0])
    losses_out, chosen_rewards, rejected_rewards = dpo_loss(
        policy_chosen, policy_rejected, reference, reference, beta=0.1, loss_type=loss_type
    )
    assert not chosen_rewards.requires_grad and not rejected_rewards.requires_grad
    losses_out.mean().backward()
    # Minimising the loss raises the chosen log-prob and lowers the rejected one.
    assert (policy_chosen.grad < 0).all()
    assert (policy_rejected.grad > 0).all()


# ---------------------------------------------------------------------------------------
# KL estimators
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_kl_estimators_match_loop(seed, shape):
    gen = torch.Generator().manual_seed(seed)
    logp = -3.0 * torch.rand(shape, generator=gen)
    logq = -3.0 * torch.rand(shape, generator=gen)
    k1, k2, k3 = (kl_estimate(logp, logq, kind) for kind in ("k1", "k2", "k3"))
    for p, q, a, b, c in zip(*(x.flatten().tolist() for x in (logp, logq, k1, k2, k3)), strict=True):
        r = math.exp(q - p)
        assert_close(a, p - q)
        assert_close(b, 0.5 * (p - q) ** 2)
        assert_close(c, (r - 1) - math.log(r))
    assert (k2 >= 0).all() and (k3 >= 0).all()


def test_k3_is_zero_when_policies_agree_and_nonnegative_when_close():
    logp = torch.tensor([-1.0, -2.5, -0.3])
    assert (kl_estimate(logp, logp, "k3") == 0).all()
    assert (kl_estimate(logp, logp, "k1") == 0).all()
    tiny = kl_estimate(logp, logp + 1e-4, "k3")
    assert (tiny >= 0).all()
    assert_close(tiny, [0.5e-8] * 3, atol=1e-10, rtol=1e-2)  # k3 ~ log_ratio^2 / 2


def test_k1_and_k3_are_unbiased_estimates_of_kl():
    gen = torch.Generator().manual_seed(0)
    p = torch.tensor([0.6, 0.3, 0.1])
    q = torch.tensor([0.2, 0.5, 0.3])
    exact = (p * (p / q).log()).sum()
    tokens = torch.multinomial(p, 200_000, replacement=True, generator=gen)
    logp, logq = p.log()[tokens], q.log()[tokens]
    for kind in ("k1", "k3"):
        assert_close(kl_estimate(logp, logq, kind).mean(), exact, atol=5e-3, rtol=0)


def test_kl_estimate_rejects_unknown_kind():
    with pytest.raises(ValueError):
        kl_estimate(torch.zeros(1), torch.zeros(1), "k4")


# ---------------------------------------------------------------------------------------
# PPO: rewards, GAE, clipped losses
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_per_token_rewards_matches_loop(seed, shape):
    gen = torch.Generator().manual_seed(seed)
    B, T = shape
    scores = torch.randn(B, generator=gen)
    kl = torch.randn(B, T, generator=gen)
    mask = right_padded_mask(B, T, gen)
    kl_coef = 0.05
    expected = torch.zeros(B, T)
    for b in range(B):
        length = int(mask[b].sum())
        for t in range(length):
            expected[b, t] = -kl_coef * kl[b, t]
        expected[b, length - 1] += scores[b]
    assert_close(per_token_rewards(scores, kl, mask, kl_coef), expected)


def test_per_token_rewards_hand_case_and_empty_row():
    scores = torch.tensor([2.0, 5.0])
    kl = torch.tensor([[1.0, 1.0, 1.0], [9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    rewards = per_token_rewards(scores, kl, mask, kl_coef=0.1)
    assert_close(rewards, [[-0.1, -0.1 + 2.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.9, 0.5), (0.99, 0.0)])
def test_gae_matches_loop(seed, shape, gamma, lam):
    gen = torch.Generator().manual_seed(seed)
    B, T = shape
    rewards = torch.randn(B, T, generator=gen)
    values = torch.randn(B, T, generator=gen)
    mask = right_padded_mask(B, T, gen)
    expected_advantages, expected_returns = naive_gae(rewards, values, mask, gamma, lam)
    advantages, returns = gae(rewards, values, mask, gamma, lam)
    assert_close(advantages, expected_advantages)
    assert_close(returns, expected_returns)


def test_gae_with_gamma_lam_one_is_reward_to_go_minus_values():
    rewards = torch.tensor([[0.1, -0.2, 0.3, 1.0, 7.0], [0.5, 2.0, 9.0, 9.0, 9.0]])
    values = torch.tensor([[0.4, 0.3, 0.2, 0.1, 5.0], [1.0, -1.0, 9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]])
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    reward_to_go = torch.tensor([[1.2, 1.1, 1.3, 1.0, 0.0], [2.5, 2.0, 0.0, 0.0, 0.0]])
    assert_close(returns, reward_to_go)
    assert_close(advantages, (reward_to_go - values) * mask)


def test_gae_docstring_example_is_correct():
    runner = doctest.DocTestRunner()
    for example in doctest.DocTestFinder().find(losses.gae, "gae", globs={"torch": torch, "gae": gae}):
        runner.run(example)
    assert runner.tries > 0 and runner.failures == 0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("clip_range", [0.1, 0.2])
def test_ppo_policy_loss_matches_loop(seed, shape, clip_range):
    gen = torch.Generator().manual_seed(seed)
    B, T = shape
    old_logprobs = -2.0 * torch.rand(B, T, generator=gen)
    logprobs = old_logprobs + 0.3 * torch.randn(B, T, generator=gen)
    advantages = torch.randn(B, T, generator=gen)
    mask = right_padded_mask(B, T, gen)

    terms, clipped_flags, squares, ratios = [], [], [], []
    for lp, olp, a, m in zip(*(x.flatten().tolist() for x in (logprobs, old_logprobs, advantages, mask)), strict=True):
        if not m:
            continue
        ratio = math.exp(lp - olp)
        clipped_ratio = min(max(ratio, 1 - clip_range), 1 + clip_range)
        unclipped_term, clipped_term = -a * ratio, -a * clipped_ratio
        terms.append(max(unclipped_term, clipped_term))
        clipped_flags.append(1.0 if clipped_term > unclipped_term else 0.0)
        squares.append((lp - olp) ** 2)
        ratios.append(ratio)
    n = len(terms)

    loss, info = ppo_policy_loss(logprobs, old_logprobs, advantages, mask, clip_range)
    assert_close(loss, sum(terms) / n)
    assert_close(info["clipfrac"], sum(clipped_flags) / n)
    assert_close(info["approxkl"], 0.5 * sum(squares) / n)
    assert_close(info["ratio_mean"], sum(ratios) / n)


def test_ppo_policy_loss_hand_case():
    # Four valid tokens, c = 0.2, ratios 1.5, 0.5, 1.1, 1.5; one padding token.
    ratios = torch.tensor([[1.5, 0.5, 1.1, 1.5, 3.0]])
    logprobs = ratios.log()
    old_logprobs = torch.zeros(1, 5)
    advantages = torch.tensor([[1.0, 1.0, -1.0, -1.0, 100.0]])
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    loss, info = ppo_policy_loss(logprobs, old_logprobs, advantages, mask, clip_range=0.2)
    # token 1: A>0, ratio above 1+c -> clipped to 1.2, term -1.2        (clipped)
    # token 2: A>0, ratio below 1-c -> unclipped is worse, term -0.5    (not clipped)
    # token 3: inside the range, term 1.1                               (not clipped)
    # token 4: A<0, ratio above 1+c -> unclipped is worse, term 1.5     (not clipped)
    assert_close(loss, (-1.2 - 0.5 + 1.1 + 1.5) / 4)
    assert_close(info["clipfrac"], 0.25)
    assert_close(info["ratio_mean"], (1.5 + 0.5 + 1.1 + 1.5) / 4)


def test_ppo_policy_loss_gradient_is_zero_where_clipped():
    logprobs = torch.tensor([[math.log(1.5), math.log(1.1)]], requires_grad=True)
    loss, info = ppo_policy_loss(logprobs, torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2), clip_range=0.2)
    loss.backward()
    assert logprobs.grad[0, 0] == 0  # clipped: no push beyond 1 + c
    assert logprobs.grad[0, 1] < 0  # inside the range: raise the probability
    assert all(not v.requires_grad for v in info.values())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_ppo_value_loss_matches_loop(seed, shape):
    gen = torch.Generator().manual_seed(seed)
    B, T = shape
    old_values = torch.randn(B, T, generator=gen)
    values = old_values + 0.5 * torch.randn(B, T, generator=gen)
    returns = torch.randn(B, T, generator=gen)
    mask = right_padded_mask(B, T, gen)
    c = 0.2
    terms, flags = [], []
    for v, ov, ret, m in zip(*(x.flatten().tolist() for x in (values, old_values, returns, mask)), strict=True):
        if not m:
            continue
        v_clipped = min(max(v, ov - c), ov + c)
        unclipped_error, clipped_error = (v - ret) ** 2, (v_clipped - ret) ** 2
        terms.append(max(unclipped_error, clipped_error))
        flags.append(1.0 if clipped_error > unclipped_error else 0.0)
    loss, info = ppo_value_loss(values, old_values, returns, mask, c)
    assert_close(loss, 0.5 * sum(terms) / len(terms))
    assert_close(info["clipfrac"], sum(flags) / len(flags))


def test_ppo_value_loss_hand_case_and_gradient():
    old_values = torch.zeros(1, 3)
    values = torch.tensor([[1.0, 0.1, 1.0]], requires_grad=True)
    returns = torch.tensor([[0.0, 0.0, 2.0]])
    mask = torch.tensor([[1, 1, 0]])
    loss, info = ppo_value_loss(values, old_values, returns, mask, clip_range_value=0.2)
    # token 1: v moved to 1.0, clipped to 0.2; errors 1.0 vs 0.04 -> max is unclipped 1.0
    # token 2: v = 0.1 inside the range; both errors 0.01
    assert_close(loss, 0.5 * (1.0 + 0.01) / 2)
    assert_close(info["clipfrac"], 0.0)
    loss.backward()
    assert_close(values.grad, [[0.5, 0.05, 0.0]])

    # Moving past the clip towards the return: the clipped prediction is farther off,
    # so its error is the larger one and the move earns nothing.
    loss, info = ppo_value_loss(
        torch.tensor([[2.5]]), torch.tensor([[1.0]]), torch.tensor([[3.0]]), torch.ones(1, 1), 0.2
    )
    assert_close(loss, 0.5 * (3.0 - 1.2) ** 2)
    assert_close(info["clipfrac"], 1.0)


# ---------------------------------------------------------------------------------------
# KL controllers
# ---------------------------------------------------------------------------------------


def test_adaptive_kl_controller_moves_towards_target():
    controller = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10_000)
    raised = controller.update(current_kl=9.0, n_steps=256)
    assert raised > 0.1
    # error clipped to +0.2: 0.1 * (1 + 0.2 * 256 / 10000)
    assert_close(raised, 0.1 * (1 + 0.2 * 256 / 10_000))
    assert controller.kl_coef == raised

    controller = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10_000)
    lowered = controller.update(current_kl=5.4, n_steps=256)  # error -0.1, not clipped
    assert_close(lowered, 0.1 * (1 - 0.1 * 256 / 10_000))

    controller = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10_000)
    assert controller.update(current_kl=torch.tensor(6.0), n_steps=256) == pytest.approx(0.1)


def test_fixed_kl_controller_never_moves():
    controller = FixedKLController(kl_coef=0.05)
    assert controller.update(current_kl=100.0, n_steps=64) == 0.05
    assert controller.kl_coef == 0.05


def test_any_of_tokens_loss_counts_each_candidate_once():
    from rlhf_core.losses import any_of_tokens_loss

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]))
    got = any_of_tokens_loss(logits, torch.tensor([[0, 1], [2, 2]]))
    torch.testing.assert_close(got, -torch.log(torch.tensor([0.8, 0.8])))
