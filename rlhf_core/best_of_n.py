"""Best-of-N sampling: draw N answers from a model, keep the one a scorer likes best.

Best-of-N (also "rejection sampling": Nakano et al. 2021, WebGPT; Touvron et al. 2023, Llama 2)
is the simplest way to turn a reward into better answers without training anything. It is also a
yardstick for RLHF: Best-of-N sits on or near the best reward-for-KL trade-off there is (Gao et
al. 2022, "Scaling Laws for Reward Model Overoptimization"), and its KL divergence from the model
it samples is at most ``log N - (N - 1) / N`` nats (Stiennon et al. 2020; Beirami et al. 2024 prove
the bound). So what Best-of-N with the *gold judge* as the scorer reaches at a given KL is roughly
the most a PPO policy at that KL from the same model can reach, and Best-of-N with the *reward
model* as the scorer shows what that reward model is worth before PPO exploits it.

Every candidate is sampled with the evaluation's settings (``generate.EVAL_SAMPLING``) and judged,
so the chosen answers can be summarised and compared like any evaluation's samples
(``evaluate.summarize``, ``evaluate.win_rate``).
"""

from __future__ import annotations

import math

from .evaluate import Sample, sample_and_judge
from .generate import EVAL_SAMPLING, SamplingConfig


def sample_candidates(
    model, tokenizer, prompts, n: int, sampling: SamplingConfig = EVAL_SAMPLING, seed: int = 0
) -> list[list[Sample]]:
    """``n`` judged answers to each world ``Prompt``: ``candidates[i][k]`` is the k-th for ``prompts[i]``.

    All ``len(prompts) * n`` answers come from one seeded stream, so the same call gives the same
    candidates, and the first k of them are a Best-of-k draw for every k <= n."""
    if n < 1:
        raise ValueError(f"Best-of-N needs n >= 1 candidates per prompt, got {n}.")
    prompts = list(prompts)
    if not prompts:
        raise ValueError("Best-of-N needs at least one prompt.")
    repeated = [p for p in prompts for _ in range(n)]  # prompt i's candidates at rows i*n .. i*n+n-1
    flat = sample_and_judge(model, tokenizer, repeated, sampling, seed=seed)
    return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]


def gold_scores(candidates: list[list[Sample]]) -> list[list[float]]:
    """The gold judge's total of every candidate (the oracle scorer)."""
    return [[s.total for s in row] for row in candidates]


def reward_scores(reward_model, tokenizer, candidates: list[list[Sample]]) -> list[list[float]]:
    """The (normalised) reward model's score of every candidate; ``reward_model`` may be an ensemble
    (a list of models). A candidate cut off before EOS is scored without the end token, as PPO's
    reward model reads a cut-off rollout (PPO then also subtracts ``missing_eos_penalty``; this score
    does not: 2% of the shipped SFT model's held-out answers are cut off)."""
    from .reward import score_texts

    flat = [s for row in candidates for s in row]
    scores = score_texts(
        reward_model, tokenizer, [s.prompt for s in flat], [s.response for s in flat], [s.eos for s in flat]
    )
    out, at = [], 0
    for row in candidates:
        out.append(scores[at : at + len(row)])
        at += len(row)
    return out


def best_indices(scores: list[list[float]], n: int) -> list[int]:
    """Per prompt, the index of the highest score among its first ``n`` (the earliest on a tie)."""
    if n < 1:
        raise ValueError(f"Best-of-N needs n >= 1, got {n}.")
    picks = []
    for row_scores in scores:
        if len(row_scores) < n:
            raise ValueError(f"Best-of-{n} needs {n} scored candidates per prompt, got {len(row_scores)}.")
        picks.append(max(range(n), key=lambda j: (row_scores[j], -j)))  # highest score, then lowest index
    return picks


def best_of_n(candidates: list[list[Sample]], scores: list[list[float]], n: int) -> list[Sample]:
    """Per prompt, the candidate with the highest score among its first ``n`` (the earliest on a tie)."""
    if len(candidates) != len(scores) or any(len(c) != len(s) for c, s in zip(candidates, scores, strict=False)):
        raise ValueError("Best-of-N needs one score per candidate.")
    return [row[k] for row, k in zip(candidates, best_indices(scores, n), strict=True)]


def kl_bound(n: int) -> float:
    """Upper bound on KL(Best-of-n || model) in nats: ``log n - (n - 1) / n`` (0 for n = 1)."""
    if n < 1:
        raise ValueError(f"Best-of-N needs n >= 1, got {n}.")
    return math.log(n) - (n - 1) / n
