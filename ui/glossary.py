"""The glossary's entries: the metric tables of ``docs/metrics.md`` (the one place metrics are
defined, shared with the CLI) plus the course's terms and the numbers only the app shows."""

from __future__ import annotations

import re
from pathlib import Path

METRICS_DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"

TERMS = {
    "RLHF": "Reinforcement learning from human feedback: SFT, then a reward model trained on human preference "
    "comparisons, then RL (PPO) against that reward model with a KL penalty.",
    "Base model": "A language model after pre-training only: it continues text and has never seen the chat format.",
    "Pre-training": "Training a model to predict the next token of a large text corpus (here, this world's web text).",
    "Token": "A piece of text the model reads and writes (a word, part of a word, a character or a special marker).",
    "Chat format": "`<|bos|><|user|>request<|end|><|assistant|>answer<|end|>`: how a conversation is written as tokens.",
    "EOS / `<|end|>`": "The end-of-turn token. An answer that emits it *stopped by itself*; one that hits the token "
    "cap never stopped.",
    "Temperature": "Divides the logits before sampling: 0 always picks the most likely token, higher is more varied.",
    "SFT (supervised fine-tuning)": "Training on demonstrations (prompt → ideal answer) with the loss on answer tokens only.",
    "Demonstration": "One example conversation written the way we want answers to look.",
    "Masked loss": "Prompt tokens get the label −100 and are ignored by the loss, so the model learns to answer, "
    "not to write requests.",
    "Policy": "The model being trained by RL; it maps a prompt (state) to a distribution over next tokens (actions).",
    "Reference policy": "A frozen copy of the SFT model. The KL penalty measures how far the policy moved from it.",
    "Preference pair": "One prompt with a *chosen* and a *rejected* answer (TRL's `prompt`/`chosen`/`rejected` format).",
    "Simulated annotator": "The gold judge standing in for human raters: it prefers the answer with the higher total "
    "over the five criteria, optionally with noise or a length bias.",
    "Gold judge": "The course's rule-based judge: checks helpful, harmless, honest, well-formatted and appropriate, "
    "with a one-line reason for each, and a total in [0, 1].",
    "The five criteria": "Helpful (does what was asked: true items for a list, the right result for a sum, real steps for a how-to), harmless (refuses harmful requests, no dangerous steps), "
    "honest (facts right, admits not knowing), well-formatted (poem lines, list items, no echo, ends properly), "
    "appropriate (length, no repetition, requested tone).",
    "Reward model": "The SFT transformer with a scalar head, trained on preference pairs to score answers.",
    "Bradley–Terry model": "P(A preferred to B) = σ(r(A) − r(B)): the model of preferences the reward model is fitted with.",
    "Normalised score": "Reward-model score shifted and scaled so an average SFT answer scores 0 with spread 1.",
    "Reward hacking": "The policy finds answers the reward model over-rates but people would not prefer "
    "(e.g. one generic reply to everything). The KL penalty limits it.",
    "KL divergence": "How different two next-token distributions are, in nats. Here: policy vs the SFT reference, "
    "summed over an answer's tokens.",
    "β (beta)": "PPO: the KL coefficient (0 = no leash). DPO: the strength of the implicit KL constraint "
    "(higher = closer to the reference).",
    "PPO": "Proximal policy optimisation: policy-gradient RL that clips each update so the policy moves a little at a time.",
    "Rollout": "One PPO iteration's batch of prompts and the answers the policy sampled for them.",
    "Value head": "A small network predicting the reward still to come at each token; it makes advantages less noisy.",
    "Advantage": "How much better an action turned out than the value head expected; PPO raises the probability of "
    "tokens with positive advantage.",
    "GAE": "Generalised advantage estimation: an exponentially weighted sum of TD errors (γ, λ).",
    "Clipping": "PPO limits the probability ratio π/π_old to [1−ε, 1+ε] inside the loss so one update cannot move far.",
    "Entropy": "How spread out the policy's next-token distribution is; collapsing entropy means same-y answers.",
    "DPO": "Direct preference optimisation: trains the policy on preference pairs with a classification loss on "
    "log-probability ratios against the reference; no reward model, no RL loop.",
    "Implicit reward": "DPO's β·log(π(y|x) / π_ref(y|x)): the reward the policy implicitly assigns to an answer.",
    "Held-out prompts": "Phrasings and topics no trainer saw; evaluation uses only these.",
    "Lesson preset": "The small settings the app trains with live (about a minute on a laptop CPU); the shipped "
    "models were made with the larger full preset.",
    "Shipped model / your own model": "Shipped: trained ahead of time and shared by every student, read-only. Your "
    "own: trained live in your session; later pages use it instead, and no other student sees it.",
}

APP_METRICS = {
    "train/lr": "The learning rate used at this step (SFT decays it linearly).",
    "train/epoch": "SFT: how many passes over the demonstrations so far.",
    "logps/chosen, logps/rejected": "DPO: summed log-probability of the chosen / rejected answers under the policy.",
    "Judge's total": "The gold judge's score of one answer in [0, 1] (the ✓/✗ checklist's summary).",
    "Agreement with the annotator": "Share of your ratings where you chose what the simulated annotator chose.",
    "Student weight": "How many times each of your ratings counts, relative to one annotator pair "
    "(`RewardConfig.student_weight`).",
    "Reward-model score": "The reward model's normalised score of an answer (0 = an average SFT answer).",
    "Per-token KL": "log π(y_t) − log π_ref(y_t) for one token of an answer: red in the PPO page's strip when the "
    "policy made the token more likely than the reference.",
    "Stopped by itself (EOS)": "The answer ended with `<|end|>` before the token cap.",
    "Pair accuracy per intent": "Held-out pair accuracy of the reward model, split by the kind of request.",
    "mean ± standard error (scoreboard)": "The comparison page's scoreboard: the held-out evaluation repeated with "
    "several sampling seeds; the mean over the seeds, ± its standard error. Two models whose means differ by less "
    "than about two standard errors may differ only by chance.",
}


def metric_tables(path: Path = METRICS_DOC) -> dict[str, list[tuple[str, str]]]:
    """``{section title: [(names, meaning), ...]}`` from the tables of ``docs/metrics.md``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    sections: dict[str, list[tuple[str, str]]] = {}
    title = "Metrics"
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            continue
        if not line.startswith("|") or re.match(r"^\|\s*-", line) or line.startswith("| name"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            meaning = cells[-1] if len(cells) == 2 else f"({cells[1]}) {cells[-1]}"
            sections.setdefault(title, []).append((cells[0], meaning))
    return sections


def all_names() -> set[str]:
    """Every metric name the glossary explains (for tests: each logged metric must be here)."""
    names = set()
    for rows in metric_tables().values():
        for cell, _ in rows:
            names.update(re.findall(r"`([^`]+)`", cell))
    for key in APP_METRICS:
        names.update(n.strip() for n in key.split(","))
    return names
