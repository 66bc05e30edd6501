"""The live-training panel every algorithm lesson uses, and the sidebar's job monitor.

The page starts a ``jobs.Job`` (the trainer runs in the job's thread); an
``st.fragment(run_every=...)`` redraws the progress bar and the charts from the job's metrics
history while it runs; Stop sets the job's event. When a job ends, its model becomes the
student's own (``state.own_models``) and every later page uses it.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from rlhf_core import jobs as jobs_mod
from ui import state
from ui.charts import metrics_grid
from ui.text import md_escape

REFRESH_SECONDS = 1.0


def settle_finished_jobs() -> bool:
    """Adopt the models of jobs that ended since the last run (on any page). True if any."""
    changed = False
    for stage, job in list(state.jobs().items()):
        if not job.active and state.adopt_result(stage, job):
            changed = True
    return changed


def _start(stage: str, start: Callable[[], jobs_mod.Job]) -> None:
    try:
        job = start()
    except Exception as exc:  # noqa: BLE001 - show the reason, never a stack trace
        st.session_state[f"start-error-{stage}"] = str(exc) or type(exc).__name__
        return
    st.session_state.pop(f"start-error-{stage}", None)
    state.set_job(stage, job)


def training_panel(
    stage: str,
    start: Callable[[], jobs_mod.Job] | None,
    chart_keys: list[str],
    *,
    blocked: str | None = None,
    extra: Callable[[jobs_mod.Job], None] | None = None,
    reference_history: list[dict] | None = None,
    label: str = "Train live",
) -> None:
    """Train / Stop buttons, then a live progress bar, charts and ``extra(job)``."""
    job = state.job(stage)
    active = job is not None and job.active
    # One training per student at a time, so a class shares the server's slots fairly.
    elsewhere = [s for s, j in state.jobs().items() if j.active and s != stage]
    if elsewhere and blocked is None:
        blocked = (
            f"Your {elsewhere[0].upper()} training is still running (see the sidebar): one training per "
            "student at a time. Wait for it, or stop it on its page."
        )
    left, mid, right = st.columns([1.2, 1, 3], vertical_alignment="center")
    left.button(
        label,
        type="primary",
        icon=":material/play_arrow:",
        disabled=active or blocked is not None or start is None,
        key=f"train-{stage}",
        on_click=_start,
        args=(stage, start),
    )
    if mid.button("Stop", icon=":material/stop:", disabled=not active, key=f"stop-{stage}"):
        job.stop()
    if blocked:
        right.warning(blocked, icon=":material/block:")
    elif not active:
        right.caption("Runs in the background: you can read on, or open another page, while it trains.")
    error = st.session_state.get(f"start-error-{stage}")
    if error:
        st.error(f"Could not start training: {md_escape(error)}", icon=":material/error:")

    def live() -> None:
        current = state.job(stage)
        if current is None:
            # A toggle, not an expander: charts inside a closed expander are still drawn.
            if reference_history and st.toggle(
                "Show how the shipped model was trained (full preset)", key=f"shipped-curves-{stage}"
            ):
                metrics_grid(reference_history, chart_keys, prefix=f"{stage}-shipped")
            return
        st.progress(current.progress, text=current.describe())
        if current.status == jobs_mod.FAILED:
            st.error(md_escape(current.message), icon=":material/error:")
        metrics_grid(current.history, chart_keys, prefix=f"{stage}-live")
        if extra is not None:
            extra(current)
        if not current.active:
            # It ended: make its model the student's own, then redraw the whole page (badges,
            # buttons) and stop the timer - also after a failure, which adopts nothing.
            adopted = state.adopt_result(stage, current)
            if adopted or active:
                st.rerun(scope="app")

    st.fragment(live, run_every=REFRESH_SECONDS if active else None)()


def sidebar_monitor() -> None:
    """A small status of the student's running jobs, visible from every page."""
    running = {s: j for s, j in state.jobs().items() if j.active}

    def monitor() -> None:
        for stage, job in state.jobs().items():
            if job.active:
                st.progress(job.progress, text=f"{stage.upper()}: {job.describe()}")
        if any(not job.active for job in running.values()):
            settle_finished_jobs()
            st.rerun(scope="app")

    if running:
        with st.sidebar:
            st.caption("Your training")
            st.fragment(monitor, run_every=2.0)()
