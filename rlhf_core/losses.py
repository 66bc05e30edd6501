"""The equations of RLHF, one pure function each: SFT, reward modelling, DPO/IPO, PPO.

Every function here takes tensors and returns tensors. None of them knows about models,
tokenizers, datasets or optimizers, so each can be read next to its equation on the
lesson page, and tested on its own against a naive Python loop (`tests/test_losses.py`)
and, where TRL has the same formula, against TRL (`tests/test_losses_trl.py`).

Why by hand, when TRL and PyTorch already have most of these? Because they are what the
course teaches: a student should be able to point at a line and say "that is the clip in
PPO" or "that is the beta in DPO". We still use PyTorch's numerically careful building
blocks (`F.logsigmoid`, `F.log_softmax`, `F.cross_entropy`, `torch.expm1`) rather than
writing `log(sigmoid(x))` literally.

Shape names used throughout:
    B  batch size (sequences, or preference pairs for the reward model and DPO)
    T  sequence length (tokens)
    V  vocabulary size

Where we depart from the papers (each is also noted at the function):
1. Masked means divide by `max(number of valid entries, 1)`, so an all-masked row gives 0
   instead of NaN.
2. `dpo_loss(loss_type="ipo")` takes the log-probabilities it is given. TRL's DPOTrainer
   divides them by the completion length first; pass length-averaged log-probs to match.
3. `per_token_rewards` puts the score on the last valid response token and `gae`
   bootstraps 0 right after it, both read off the mask. (TRL's PPOTrainer, before it
   was removed, put the score one position later, `sequence_lengths + 1`, and kept
   that position's value.)
"""

import torch
import torch.nn.functional as F
from torch import Tensor

# --------------------------------------------------------------------------------------
# Masked statistics (lm-human-preferences; "The N implementation details of RLHF with PPO")
# --------------------------------------------------------------------------------------


def masked_mean(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of `values` over the entries where `mask` is 1.

        masked_mean(x, m) = sum_i m_i x_i / sum_i m_i

    Used everywhere a loss is averaged over response tokens but not over padding.

    Args:
        values: any shape, e.g. (B, T).
        mask: same shape as `values`, 1 (or True) for entries that count, 0 for padding.
        dim: reduce only this dimension (e.g. `dim=1` gives one mean per sequence, (B,));
            `None` reduces over everything to a scalar.

    Returns:
        A scalar, or `values` with `dim` removed.
    """
    mask = mask.to(values.dtype)
    total = (values * mask).sum(dim=dim)
    # clamp: a row with no valid entries gives 0, not 0/0 = NaN (TRL divides by zero here).
    count = mask.sum(dim=dim).clamp(min=1.0)
    return total / count


def masked_var(values: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of `values` over the entries where `mask` is 1 (a scalar).

        mu = masked_mean(x, m)
        var = masked_mean((x - mu)^2, m) * n / (n - 1)      (n = sum_i m_i, if unbiased)

    Args:
        values: any shape, e.g. (B, T).
        mask: same shape as `values`.
        unbiased: apply Bessel's correction n / (n - 1), as TRL's `masked_var` does.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: if `unbiased` and fewer than two entries are unmasked.
    """
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    if unbiased:
        n_valid = mask.to(values.dtype).sum()
        if n_valid < 2:
            raise ValueError(f"masked_var(unbiased=True) needs at least two unmasked entries, got {int(n_valid)}.")
        variance = variance * n_valid / (n_valid - 1)
    return variance


def masked_whiten(values: Tensor, mask: Tensor, shift_mean: bool = True) -> Tensor:
    """Normalise `values` to mean 0 and variance 1 over the unmasked entries.

        whiten(x) = (x - mu) / sqrt(var + 1e-8)          (+ mu again if not shift_mean)

    PPO whitens the advantages of each batch (lm-human-preferences `whiten`, TRL
    `masked_whiten`); `shift_mean=False` keeps the mean and only rescales, which is how
    lm-human-preferences whitens rewards.

    Args:
        values: (B, T), e.g. advantages.
        mask: (B, T), 1 on response tokens.
        shift_mean: subtract the mean (True) or keep it (False).

    Returns:
        (B, T). Entries outside the mask are computed too but mean nothing; callers only
        read the unmasked ones.
    """
    mean = masked_mean(values, mask)
    # Unbiased variance, as TRL's masked_whiten; lm-human-preferences used the biased
    # tf.nn.moments. The two differ by n / (n - 1), negligible at hundreds of tokens.
    variance = masked_var(values, mask, unbiased=True)
    # 1e-8 keeps a constant batch (variance 0) from dividing by zero.
    whitened = (values - mean) * torch.rsqrt(variance + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened


# --------------------------------------------------------------------------------------
# Log-probabilities and entropy of a causal language model's outputs
# --------------------------------------------------------------------------------------


def token_logprobs(logits: Tensor, labels: Tensor) -> Tensor:
    """Log-probability of each label token: log pi(labels[b, t] | logits[b, t]).

        logp[b, t] = logits[b, t, labels[b, t]] - logsumexp_v logits[b, t, v]

    `logits[:, t]` must already be the prediction for `labels[:, t]`; for a causal LM
    that means the caller passes `logits[:, :-1]` and `input_ids[:, 1:]`.

    Args:
        logits: (B, T, V).
        labels: (B, T) token ids, all valid indices (replace -100 padding first).

    Returns:
        (B, T).
    """
    # log_softmax is the stable log(softmax) (it subtracts the max before exp);
    # gather then picks one entry per position instead of building a (B, T, V) one-hot.
    logprobs_all = F.log_softmax(logits, dim=-1)  # (B, T, V)
    picked = logprobs_all.gather(dim=-1, index=labels.unsqueeze(-1))  # (B, T, 1)
    return picked.squeeze(-1)  # (B, T)


def sequence_logprobs(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Log-probability of a whole response: the sum of its token log-probs.

        log pi(y | x) = sum_t mask[t] * log pi(y_t | x, y_<t)

    This is the quantity DPO compares between the policy and the reference model.
    As in `token_logprobs`, `logits[:, t]` predicts `labels[:, t]` (already shifted).

    Args:
        logits: (B, T, V).
        labels: (B, T); positions where `mask` is 0 may hold anything, e.g. -100.
        mask: (B, T), 1 on the response tokens to count, 0 on prompt and padding.

    Returns:
        (B,).
    """
    # gather needs a valid index everywhere; masked positions are zeroed below anyway.
    safe_labels = labels.masked_fill(mask == 0, 0)
    per_token = token_logprobs(logits, safe_labels)  # (B, T)
    return (per_token * mask.to(per_token.dtype)).sum(dim=-1)  # (B,)


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of the next-token distribution at each position, in nats.

        H(p) = -sum_v p_v log p_v = logsumexp(z) - sum_v p_v z_v,    p = softmax(z)

    Args:
        logits: (B, T, V).

    Returns:
        (B, T).
    """
    # The logsumexp form never takes log of a probability that underflowed to 0,
    # so it stays finite where -(p * log p) would give 0 * -inf = NaN.
    probs = F.softmax(logits, dim=-1)  # (B, T, V)
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)  # (B, T)


# --------------------------------------------------------------------------------------
# Supervised fine-tuning
# --------------------------------------------------------------------------------------


def any_of_tokens_loss(logits: Tensor, candidates: Tensor) -> Tensor:
    """Negative log-probability that the next token is *any* of a few candidates.

        L_i = -log sum_{c in candidates_i} softmax(logits_i)[c]

    Teaches that one of the candidates comes next without saying which: SFT's self-check uses it
    at the verdict (" No" or " Yes"), so the demonstrations teach where a verdict goes while the
    model's own knowledge picks it. With one candidate it is the usual cross-entropy.

    Args:
        logits: (N, V), the logits that predict the token at each of N positions.
        candidates: (N, K) token ids; a row may repeat an id (counted once).

    Returns:
        (N,) losses, one per position.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)  # (N, V)
    picked = logp.gather(1, candidates)  # (N, K)
    # a repeated id must not count twice: keep the first occurrence of each id in a row
    first = torch.ones_like(candidates, dtype=torch.bool)
    for k in range(1, candidates.size(1)):
        first[:, k] = (candidates[:, k : k + 1] != candidates[:, :k]).all(1)
    return -torch.logsumexp(picked.masked_fill(~first, float("-inf")), dim=1)


def sft_loss(logits: Tensor, labels: Tensor, ignore_index: int = -100) -> Tensor:
    """Next-token cross-entropy over the response tokens (the SFT / pretraining loss).

        L = -(1 / N) sum_{b, t : labels[b, t+1] != ignore} log pi(labels[b, t+1] | x_<=t)

    `labels` is aligned with `input_ids` (a copy of them with prompt and padding tokens
    set to `ignore_index`); the shift by one happens here, so position t's logits are
    scored against token t + 1.

    Args:
        logits: (B, T, V), the model output for `input_ids`.
        labels: (B, T), token ids, `ignore_index` where no loss should be taken.
        ignore_index: label value to skip.

    Returns:
        Scalar: the mean over the N tokens that are not ignored (0 if there are none).
    """
    shift_logits = logits[:, :-1, :]  # (B, T-1, V): position t predicts token t+1
    shift_labels = labels[:, 1:]  # (B, T-1)
    summed = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),  # (B*(T-1), V)
        shift_labels.reshape(-1),  # (B*(T-1),)
        ignore_index=ignore_index,
        reduction="sum",
    )
    # Sum / count rather than reduction="mean", so a batch with nothing to learn
    # gives 0 instead of NaN.
    n_tokens = (shift_labels != ignore_index).sum().clamp(min=1)
    return summed / n_tokens


# --------------------------------------------------------------------------------------
# Reward modelling
# --------------------------------------------------------------------------------------


def bradley_terry_loss(
    chosen_rewards: Tensor,
    rejected_rewards: Tensor,
    margin: Tensor | float | None = None,
) -> Tensor:
    """Pairwise reward-model loss under the Bradley-Terry preference model.

        P(chosen > rejected) = sigma(r_c - r_r)
        L = -mean_b log sigma(r_c - r_r - m)

    Bradley & Terry (1952); used for RLHF reward models by Christiano et al. (2017),
    Stiennon et al. (2020) and Ouyang et al. (2022). The optional margin m is from
    Llama 2 (Touvron et al., 2023): the chosen reward must win by at least m; TRL's
    RewardTrainer uses the same form.

    Args:
        chosen_rewards: (B,) reward-model scores of the preferred responses.
        rejected_rewards: (B,) scores of the other responses.
        margin: None, a float, or (B,).

    Returns:
        Scalar. Equal rewards give log 2: the model is at chance.
    """
    reward_gap = chosen_rewards - rejected_rewards  # (B,)
    if margin is not None:
        reward_gap = reward_gap - margin
    # logsigmoid(x) = -softplus(-x) stays finite for very negative x; log(sigmoid(x)) is -inf.
    return -F.logsigmoid(reward_gap).mean()


# --------------------------------------------------------------------------------------
# DPO and IPO
# --------------------------------------------------------------------------------------


def dpo_sigmoid_loss(logratio_margin: Tensor, beta: float, label_smoothing: float = 0.0) -> Tensor:
    """The DPO loss on h, with optional conservative label smoothing.

        L = -(1 - eps) log sigma(beta h) - eps log sigma(-beta h)

    Rafailov et al. (2023), "Direct Preference Optimization", eq. 7. With eps > 0 this is
    "conservative DPO" (Mitchell, 2023): it assumes each label is flipped with
    probability eps, so the loss stops pushing once sigma(beta h) reaches 1 - eps.

    Args:
        logratio_margin: (B,) h = [log pi(y_w)/pi_ref(y_w)] - [log pi(y_l)/pi_ref(y_l)].
        beta: strength of the KL constraint; higher keeps pi closer to pi_ref.
        label_smoothing: eps in [0, 0.5), the assumed label-noise rate.

    Returns:
        (B,) per-pair losses.
    """
    logits = beta * logratio_margin
    return -(1.0 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)


def ipo_loss(logratio_margin: Tensor, beta: float) -> Tensor:
    """The IPO loss on h: a squared regression of h onto 1 / (2 beta).

        L = (h - 1 / (2 beta))^2

    Azar et al. (2023), "A General Theoretical Paradigm to Understand Learning from Human
    Preferences", eq. 17 (their tau is our beta). Unlike DPO's sigmoid it has a finite
    target, so h does not grow without bound on deterministic preferences.

    Args:
        logratio_margin: (B,) h, as in `dpo_sigmoid_loss`.
        beta: regularisation strength; the target margin is 1 / (2 beta).

    Returns:
        (B,) per-pair losses.
    """
    return (logratio_margin - 1.0 / (2.0 * beta)) ** 2


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    reference_chosen_logps: Tensor,
    reference_rejected_logps: Tensor,
    beta: float,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """DPO (or IPO) loss of a batch of preference pairs, plus the implicit rewards.

        r(y) = beta * (log pi(y | x) - log pi_ref(y | x))                 implicit reward
        h = [log pi(y_w) - log pi_ref(y_w)] - [log pi(y_l) - log pi_ref(y_l)]
        "sigmoid": L = -(1 - eps) log sigma(beta h) - eps log sigma(-beta h)
        "ipo":     L = (h - 1 / (2 beta))^2

    Rafailov et al. (2023) for "sigmoid" (with TRL's conservative label smoothing eps);
    Azar et al. (2023) for "ipo". Each log-prob is a whole response's (see
    `sequence_logprobs`). For "ipo", TRL's DPOTrainer divides each log-prob by the
    response length first (the IPO authors' choice); pass length-averaged log-probs here
    to do the same.

    Args:
        policy_chosen_logps: (B,) log pi(y_w | x) under the model being trained.
        policy_rejected_logps: (B,) log pi(y_l | x).
        reference_chosen_logps: (B,) log pi_ref(y_w | x) under the frozen reference.
        reference_rejected_logps: (B,) log pi_ref(y_l | x).
        beta: higher beta keeps the policy closer to the reference.
        loss_type: "sigmoid" (DPO) or "ipo".
        label_smoothing: eps for "sigmoid" only; 0 is plain DPO.

    Returns:
        losses (B,), chosen_rewards (B,), rejected_rewards (B,); the rewards are detached
        (they are for logging: rewards/chosen, rewards/margin, rewards/accuracy).
    """
    chosen_logratios = policy_chosen_logps - reference_chosen_logps  # (B,)
    rejected_logratios = policy_rejected_logps - reference_rejected_logps  # (B,)
    logratio_margin = chosen_logratios - rejected_logratios  # (B,) h

    if loss_type == "sigmoid":
        losses = dpo_sigmoid_loss(logratio_margin, beta, label_smoothing)
    elif loss_type == "ipo":
        if label_smoothing != 0.0:
            raise ValueError("label_smoothing only applies to loss_type='sigmoid'.")
        losses = ipo_loss(logratio_margin, beta)
    else:
        raise ValueError(f"Unknown loss_type {loss_type!r}; use 'sigmoid' or 'ipo'.")

    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return losses, chosen_rewards, rejected_rewards


# --------------------------------------------------------------------------------------
# PPO for language models
# --------------------------------------------------------------------------------------


def kl_estimate(logprobs: Tensor, ref_logprobs: Tensor, kind: str = "k1") -> Tensor:
    """Per-token estimate of KL(pi || pi_ref) from tokens sampled from pi.

        log_ratio = log p - log q          (p = pi, the policy; q = pi_ref)
        k1 = log_ratio                                 unbiased, high variance, can be < 0
        k2 = 1/2 * log_ratio^2                         biased, low variance, >= 0
        k3 = (r - 1) - log r,  r = q / p = exp(-log_ratio)   unbiased, low variance, >= 0

    Schulman (2020), "Approximating KL Divergence" (http://joschu.net/blog/kl-approx.html).
    RLHF with PPO (Ziegler et al., 2019) uses k1 in the reward.

    Args:
        logprobs: (B, T) log pi of the sampled tokens.
        ref_logprobs: (B, T) log pi_ref of the same tokens.
        kind: "k1", "k2" or "k3".

    Returns:
        (B, T); padding positions are not masked here.
    """
    log_ratio = logprobs - ref_logprobs
    if kind == "k1":
        return log_ratio
    if kind == "k2":
        return 0.5 * log_ratio**2
    if kind == "k3":
        # (r - 1) - log r with r = exp(-log_ratio). expm1 computes exp(x) - 1 without
        # cancellation, so k3 stays accurate (and >= 0) when the policies nearly agree.
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"Unknown KL estimator {kind!r}; use 'k1', 'k2' or 'k3'.")


def per_token_rewards(scores: Tensor, kl: Tensor, mask: Tensor, kl_coef: float) -> Tensor:
    """The reward PPO maximises: a KL penalty on every token, the score on the last one.

        R[b, t] = -kl_coef * KL[b, t]                 for every valid response token t
        R[b, t_last] += score[b]                      t_last = last valid token of row b

    Ziegler et al. (2019), "Fine-Tuning Language Models from Human Preferences";
    Stiennon et al. (2020). The reward model judges the whole response, so its score
    arrives only once the response is finished. Any penalty for a missing EOS is applied
    to `scores` by the trainer before this.

    Args:
        scores: (B,) reward-model score of each response.
        kl: (B, T) per-token KL estimate (see `kl_estimate`).
        mask: (B, T) 1 on response tokens, 0 on padding (right-padded).
        kl_coef: weight of the KL penalty (see `AdaptiveKLController`).

    Returns:
        (B, T), zero on padding. A row with no valid token gets no score.
    """
    mask = mask.to(kl.dtype)
    rewards = -kl_coef * kl * mask  # (B, T)
    T = mask.size(1)
    positions = torch.arange(T, device=mask.device).expand_as(mask)  # (B, T)
    last_index = torch.where(mask > 0, positions, -1).max(dim=1).values  # (B,), -1 if empty
    has_token = (last_index >= 0).to(scores.dtype)
    # Add each row's score at its last valid position; an empty row adds 0 (at index 0).
    return rewards.scatter_add(1, last_index.clamp(min=0).unsqueeze(1), (scores * has_token).unsqueeze(1))


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Generalized Advantage Estimation over the tokens of each response.

        delta_t = r_t + gamma * V_{t+1} - V_t        (V after the last valid token is 0)
        A_t = delta_t + gamma * lam * A_{t+1}  =  sum_k (gamma lam)^k delta_{t+k}
        returns_t = A_t + V_t                        (the value head's regression target)

    Schulman et al. (2016), "High-Dimensional Continuous Control Using Generalized
    Advantage Estimation". Each response is one episode that ends after its last valid
    token, so nothing is bootstrapped past it.

    Example (one response of three tokens plus one padding position, V = 0, lam = 1,
    so the advantages are Spinning Up's discount_cumsum of the rewards):

        >>> rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
        >>> values = torch.zeros(1, 4)
        >>> mask = torch.tensor([[1, 1, 1, 0]])
        >>> advantages, returns = gae(rewards, values, mask, gamma=0.5, lam=1.0)
        >>> advantages
        tensor([[0.2500, 0.5000, 1.0000, 0.0000]])

    Args:
        rewards: (B, T), e.g. from `per_token_rewards`.
        values: (B, T) value-head predictions V(s_t) from the rollout.
        mask: (B, T) 1 on response tokens, right-padded with 0.
        gamma: discount; 1.0 is usual for language (episodes are short).
        lam: GAE lambda; trades bias (0: one-step TD) against variance (1: Monte Carlo).

    Returns:
        advantages (B, T), returns (B, T), both 0 on padding. Call under
        `torch.no_grad()`: they are fixed targets for the PPO update.
    """
    mask = mask.to(values.dtype)
    # Zero padding first: then V past the last valid token is 0 (no bootstrap) and
    # padded rewards cannot leak backwards into the advantages.
    rewards = rewards * mask
    values = values * mask
    B, T = values.shape
    next_advantage = torch.zeros(B, dtype=values.dtype, device=values.device)  # (B,)
    next_value = torch.zeros(B, dtype=values.dtype, device=values.device)  # (B,)
    advantages_reversed = []
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,)
        next_advantage = delta + gamma * lam * next_advantage
        next_value = values[:, t]
        advantages_reversed.append(next_advantage)
    advantages = torch.stack(advantages_reversed[::-1], dim=1) * mask  # (B, T)
    returns = advantages + values
    return advantages, returns


def ppo_policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_range: float,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO's clipped surrogate objective, as a loss, averaged over response tokens.

        ratio_t = pi(a_t | s_t) / pi_old(a_t | s_t) = exp(logp_t - logp_old_t)
        L = masked_mean( max(-A_t ratio_t, -A_t clip(ratio_t, 1 - c, 1 + c)) )

    Schulman et al. (2017), "Proximal Policy Optimization Algorithms", eq. 7 (negated:
    we minimise). The max of the two negated terms is the min of the paper's two
    objectives: the policy gets no credit for moving the ratio beyond 1 +/- c.

    Args:
        logprobs: (B, T) log pi of the rollout's tokens under the current policy.
        old_logprobs: (B, T) the same under the policy that sampled them.
        advantages: (B, T), usually whitened (see `masked_whiten`).
        mask: (B, T) 1 on response tokens.
        clip_range: c, e.g. 0.2.

    Returns:
        loss (scalar), info with detached scalars:
            "clipfrac": share of tokens where the clipped term was the one used,
            "approxkl": 0.5 * mean((logp - logp_old)^2), the k2 estimate TRL logs,
            "ratio_mean": mean ratio (1.0 on the first minibatch of each rollout).
    """
    log_ratio = logprobs - old_logprobs  # (B, T)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.max(unclipped, clipped), mask)
    with torch.no_grad():
        info = {
            "clipfrac": masked_mean((clipped > unclipped).to(logprobs.dtype), mask),
            "approxkl": 0.5 * masked_mean(log_ratio**2, mask),
            "ratio_mean": masked_mean(ratio, mask),
        }
    return loss, info


def ppo_value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    clip_range_value: float,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Clipped value-function loss, averaged over response tokens.

        V_clip = clip(V, V_old - c, V_old + c)
        L = 1/2 * masked_mean( max((V - R)^2, (V_clip - R)^2) )

    The value clipping of OpenAI Baselines' PPO2, kept by lm-human-preferences and TRL
    ("The N implementation details of RLHF with PPO", Huang et al., 2024). Taking the
    max makes it pessimistic: a value prediction that moved more than c from the
    rollout's gets no credit for the move.

    Args:
        values: (B, T) value-head predictions now.
        old_values: (B, T) predictions at rollout time.
        returns: (B, T) targets from `gae`.
        mask: (B, T) 1 on response tokens.
        clip_range_value: c, in reward units.

    Returns:
        loss (scalar), info with "clipfrac" (share of tokens where the clipped error was
        the larger one), detached.
    """
    values_clipped = torch.clamp(values, old_values - clip_range_value, old_values + clip_range_value)
    unclipped_error = (values - returns) ** 2
    clipped_error = (values_clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(unclipped_error, clipped_error), mask)
    with torch.no_grad():
        clipfrac = masked_mean((clipped_error > unclipped_error).to(values.dtype), mask)
    return loss, {"clipfrac": clipfrac}


# --------------------------------------------------------------------------------------
# KL coefficient controllers (Ziegler et al., 2019)
# --------------------------------------------------------------------------------------


class AdaptiveKLController:
    """Adapts kl_coef so the measured KL(pi || pi_ref) tracks a target.

        e = clip(KL / target - 1, -0.2, 0.2)
        kl_coef <- kl_coef * (1 + e * n_steps / horizon)

    Ziegler et al. (2019), "Fine-Tuning Language Models from Human Preferences", section
    2.2: a proportional controller in log space. KL above target raises the penalty,
    below target lowers it; the clip keeps one noisy batch from moving it far.

    Args:
        init_kl_coef: kl_coef before the first update.
        target: the KL (nats per response) to aim for.
        horizon: how many samples it takes to close the gap; larger is gentler.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: float):
        self.kl_coef = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> float:
        """Move kl_coef after a batch of `n_steps` samples with mean KL `current_kl`."""
        proportional_error = min(max(float(current_kl) / self.target - 1.0, -0.2), 0.2)
        self.kl_coef *= 1.0 + proportional_error * n_steps / self.horizon
        return self.kl_coef


class FixedKLController:
    """Keeps kl_coef constant; same interface as `AdaptiveKLController`."""

    def __init__(self, kl_coef: float):
        self.kl_coef = kl_coef

    def update(self, current_kl: float, n_steps: int) -> float:
        """Does nothing: the coefficient is fixed."""
        return self.kl_coef
