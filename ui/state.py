"""Per-student state (``st.session_state``) and the shared, frozen shipped models.

Shipped checkpoints are loaded once per server process with ``st.cache_resource`` and shared
read-only by every student. Anything a student makes - models trained live, jobs, ratings,
progress - lives in that student's own session and is never visible to another session.
"""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground


def _bucket(name: str, factory):
    if name not in st.session_state:
        st.session_state[name] = factory()
    return st.session_state[name]


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading a shipped model (once for the whole server)...", max_entries=12)
def _load_shipped(stage: str, version: str):
    return playground.load_shipped(stage)


def shipped(stage: str):
    """The shipped model of ``stage`` (shared, frozen) or None if it is not built."""
    if not playground.shipped_available(stage):
        return None
    return _load_shipped(stage, playground.shipped_version(stage))


def own_models() -> dict:
    """Models this student trained, by stage."""
    return _bucket("own_models", dict)


def model_in_use(stage: str):
    """The student's own model of ``stage`` once trained, else the shipped one, else None."""
    return own_models().get(stage) or shipped(stage)


def forget_own(stage: str) -> None:
    own_models().pop(stage, None)


# --------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------


def jobs() -> dict:
    return _bucket("jobs", dict)


def job(stage: str):
    return jobs().get(stage)


def set_job(stage: str, job) -> None:
    jobs()[stage] = job


def adopt_result(stage: str, job) -> bool:
    """Make a finished job's model the student's own (once). True if something was adopted."""
    adopted = _bucket("adopted_jobs", set)
    if job.id in adopted or job.active:
        return False
    adopted.add(job.id)
    if job.result is not None:
        own_models()[stage] = job.result
        mark("trained:" + stage)
        return True
    return False


# --------------------------------------------------------------------------------------------
# Ratings and progress
# --------------------------------------------------------------------------------------------


def ratings() -> list[dict]:
    """Every rating this student made or uploaded (A/B/tie), oldest first."""
    return _bucket("ratings", list)


def add_rating(record: dict) -> None:
    ratings().append(record)
    mark("rated")


def mark(event: str) -> None:
    """Record progress ("visited:sft", "trained:ppo", "rated", ...)."""
    _bucket("progress", set).add(event)


def done(event: str) -> bool:
    return event in _bucket("progress", set)


# --------------------------------------------------------------------------------------------
# Cached generations (clicks that do not sample again render instantly)
# --------------------------------------------------------------------------------------------


def cached(key: tuple, compute):
    """Session-local memo for model outputs keyed by model uid and settings."""
    store = _bucket("memo", dict)
    if key not in store:
        if len(store) > 200:
            store.clear()
        store[key] = compute()
    return store[key]


@st.cache_data(show_spinner=False, max_entries=500)
def _shipped_generate(stage: str, version: str, prompts: tuple, seed: int, temperature: float, max_new_tokens: int):
    lm = _load_shipped(stage, version)
    return playground.generate(lm, list(prompts), temperature, max_new_tokens, seed)


def generate(lm, prompts, *, seed: int = 0, temperature: float = 0.7, max_new_tokens: int = 80):
    """Sampled answers, memoised: shared by all students for shipped models (same seed, same
    answers), per session for the student's own models."""
    prompts = tuple(prompts)
    if lm.source == "shipped":
        return _shipped_generate(
            lm.stage, playground.shipped_version(lm.stage), prompts, seed, temperature, max_new_tokens
        )
    key = ("gen", lm.uid, prompts, seed, temperature, max_new_tokens)
    return cached(key, lambda: playground.generate(lm, list(prompts), temperature, max_new_tokens, seed))


def reward_scores(reward, prompts, responses, ended=None):
    key = ("score", reward.uid, tuple(prompts), tuple(responses), tuple(ended or ()))
    return cached(key, lambda: playground.reward_scores(reward, list(prompts), list(responses), ended))
