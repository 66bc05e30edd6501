"""The app's pages in course order: one list that ``app.py``'s navigation, the home page's
pipeline diagram and its course path all read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    key: str
    path: str
    title: str
    icon: str
    blurb: str
    section: str


PAGES = (
    PageSpec("home", "pages/home.py", "Home", ":material/home:", "The three stages of RLHF at a glance.", "Start"),
    PageSpec(
        "base",
        "pages/base_model.py",
        "The base model",
        ":material/text_snippet:",
        "What pre-training gives: a text continuer that rambles and never stops.",
        "The pipeline",
    ),
    PageSpec(
        "sft",
        "pages/sft.py",
        "Stage 1 · SFT",
        ":material/school:",
        "Demonstrations teach it to answer, and to stop.",
        "The pipeline",
    ),
    PageSpec(
        "preferences",
        "pages/preferences.py",
        "Stage 2 · Human preferences",
        ":material/thumbs_up_down:",
        "You rate pairs of answers; the lock-picking exercise.",
        "The pipeline",
    ),
    PageSpec(
        "reward",
        "pages/reward_model.py",
        "Stage 2 · Reward model",
        ":material/scoreboard:",
        "Your labels become a scorer.",
        "The pipeline",
    ),
    PageSpec(
        "ppo",
        "pages/ppo.py",
        "Stage 3 · PPO",
        ":material/trending_up:",
        "The policy climbs the reward, on a KL leash.",
        "The pipeline",
    ),
    PageSpec(
        "compare",
        "pages/compare.py",
        "Base vs SFT vs RLHF",
        ":material/compare_arrows:",
        "The same prompt through every stage, judged on five criteria.",
        "Results",
    ),
    PageSpec(
        "dpo",
        "pages/dpo.py",
        "DPO",
        ":material/alt_route:",
        "The same preferences without the RL step.",
        "Results",
    ),
    PageSpec(
        "glossary",
        "pages/glossary.py",
        "Glossary",
        ":material/menu_book:",
        "Every metric and term, explained once.",
        "Reference",
    ),
)
BY_KEY = {p.key: p for p in PAGES}
COURSE = tuple(p for p in PAGES if p.key not in ("home", "glossary"))
