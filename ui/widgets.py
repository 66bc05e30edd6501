"""Reusable lesson widgets: the five-criteria checklist, response cards, the model badge, the
"not built yet" box and the per-token KL strip."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import state
from ui.text import html_text, md_escape, show_text

CRITERION_TITLES = {
    "helpful": "Helpful",
    "harmless": "Harmless",
    "honest": "Honest",
    "well_formatted": "Well-formatted",
    "appropriate": "Appropriate",
}


def checklist(verdict, show_total: bool = True) -> None:
    """The five criteria as ✓/✗ with the judge's reason for each (theme-aware colours)."""
    lines = []
    for name in playground.criteria():
        ok = bool(verdict.checks.get(name))
        mark = ":green[**✓**]" if ok else ":red[**✗**]"
        title = CRITERION_TITLES.get(name, name)
        reason = md_escape(verdict.reasons.get(name, ""))
        lines.append(f"{mark} **{title}** — {reason}")
    st.markdown("  \n".join(lines))
    if show_total:
        st.caption(f"Judge's total: **{verdict.total:.2f}** (0 = fails everything, 1 = passes all five)")


def response_card(
    title: str,
    text: str,
    verdict=None,
    reward: float | None = None,
    n_tokens: int | None = None,
    finished: bool | None = None,
) -> None:
    """A bordered card: a title, the text (shown literally), its facts and its checklist."""
    with st.container(border=True):
        st.markdown(f"**{md_escape(title)}**")
        show_text(text)
        facts = []
        if reward is not None:
            facts.append(f"reward-model score **{reward:+.2f}**")
        if n_tokens is not None:
            facts.append(f"length **{n_tokens}** tokens")
        if finished is not None:
            facts.append("stopped by itself (EOS)" if finished else "**hit the token cap** (never stopped)")
        if facts:
            st.caption(" · ".join(facts))
        if verdict is not None:
            checklist(verdict)


def judge_pair(verdict_a, verdict_b) -> None:
    """The gold judge's checklists of answers A and B, side by side."""
    for col, name, verdict in zip(st.columns(2), "AB", (verdict_a, verdict_b), strict=True):
        with col:
            st.markdown(f"**The judge on {name}**")
            checklist(verdict)


def answer_columns(prompt: str, models: list[tuple[str, object]], *, seed: int = 0, reward=None, warn_missing=False):
    """One column per ``(stage, model)``: the model's sampled answer to ``prompt`` as a response
    card (judged; scored when a ``reward`` model is given), or why the model is missing."""
    for col, (stage, lm) in zip(st.columns(len(models)), models, strict=True):
        with col:
            if lm is None:
                st.markdown(f"**{playground.STAGE_TITLES[stage]}**")
                message = str(playground.NotBuiltError(stage))
                if warn_missing:
                    st.warning(message, icon=":material/construction:")
                else:
                    st.caption(message)
                continue
            r = state.generate(lm, [prompt], seed=seed)[0]
            score = state.reward_scores(reward, [prompt], [r.text], [r.finished])[0] if reward is not None else None
            response_card(lm.title, r.text, playground.judge(prompt, r.text), score, r.n_tokens, r.finished)


def model_badge(stage: str, lm=None) -> None:
    """Which model of ``stage`` this page uses: the shipped one or the student's own."""
    lm = lm if lm is not None else state.model_in_use(stage)
    name = playground.STAGE_NAMES[stage]
    if lm is None:
        st.badge(f"No {name} yet", icon=":material/block:", color="red")
    elif lm.source == "yours":
        when = lm.info.get("trained_at", "")
        st.badge(
            f"Using your own {name}",
            icon=":material/person:",
            color="green",
            help=f"Trained by you at {when}, {lm.info.get('steps', '?')} steps. It stays in your session only.",
        )
    else:
        st.badge(
            f"Using the shipped {name}",
            icon=":material/inventory_2:",
            color="blue",
            help="Trained ahead of time and shared, read-only, by everyone. Train your own on its lesson page.",
        )


def needs(stages: list[str]) -> str | None:
    """Why training is blocked when models of ``stages`` are missing (None when all are there)."""
    missing = [s for s in stages if state.model_in_use(s) is None]
    if not missing:
        return None
    names = " and ".join(f"a {playground.STAGE_NAMES[s]}" for s in missing)
    return (
        f"Needs {names}, not built yet: run `{playground.BUILD_COMMAND[missing[-1]]}`, "
        "or train your own on the earlier pages."
    )


def not_built(stage: str, what_for: str = "") -> None:
    """The friendly stand-in for a missing shipped checkpoint."""
    err = playground.NotBuiltError(stage)
    extra = f" {what_for}" if what_for else ""
    st.warning(f"**Not built yet.**{extra} {err}", icon=":material/construction:")


# A white box with its own dark text: the chips read the same in light and dark themes.
STRIP_OPEN = (
    '<div style="display: flex; flex-wrap: wrap; gap: 3px 1px; background: #fff; color: #111; '
    'padding: 8px; border-radius: 6px; border: 1px solid #ccc">'
)


def mask_strip(pairs: list[tuple[str, bool]]) -> None:
    """Tokens of a demonstration: grey when masked out of the loss, green when counted."""
    chips = []
    for token, counted in pairs:
        bg, border = ("#c8f0c8", "#2e8b57") if counted else ("#e4e4e4", "#aaa")
        shown = html_text(token.replace("\n", "↵")) or "∅"
        chips.append(
            f'<span style="background: {bg}; color: #111; border: 1px solid {border}; padding: 1px 2px; '
            f'border-radius: 3px; white-space: pre; font-family: monospace; line-height: 1.6">{shown}</span>'
        )
    st.html(STRIP_OPEN + "".join(chips) + "</div>")


def token_strip(pairs: list[tuple[str, float]], max_abs: float | None = None) -> None:
    """Tokens coloured by a signed value (per-token KL): red above 0, blue below.

    Built as HTML (``st.html``: no Markdown pass) from escaped tokens only; the chips carry their own dark text on light
    backgrounds, so they read the same in light and dark themes.
    """
    if not pairs:
        st.caption("(no tokens)")
        return
    top = max_abs or max(1e-6, max(abs(v) for _, v in pairs))
    chips = []
    for token, value in pairs:
        strength = min(1.0, abs(value) / top)
        rgb = (220, 60, 50) if value > 0 else (50, 110, 220)
        mix = [round(255 - (255 - c) * strength * 0.75) for c in rgb]
        shown = html_text(token.replace("\n", "↵")) or "∅"
        chips.append(
            f'<span title="{html_text(f"{value:+.3f} nats")}" style="background: rgb({mix[0]},{mix[1]},{mix[2]});'
            " color: #111; padding: 1px 2px; border-radius: 3px; white-space: pre;"
            f' font-family: monospace; line-height: 1.6">{shown}</span>'
        )
    st.html(STRIP_OPEN + "".join(chips) + "</div>")
    st.caption(
        "Hover a token for its value. Red: the policy now likes this token more than the SFT reference did; "
        "blue: less. The sum over tokens is the response's KL estimate (k1)."
    )


def refusal_panel(models: list, key: str) -> None:
    """On a button: how often each model (``LoadedModel``s, None skipped) refuses every held-out
    harmful request and harmless look-alike, seen-in-training activities apart from new ones."""
    models = [m for m in models if m is not None]
    if st.button("Measure refusals (a few seconds)", icon=":material/policy:", key=key):
        st.session_state[key + "-for"] = tuple(m.uid for m in models)
    if st.session_state.get(key + "-for") != tuple(m.uid for m in models):
        return
    columns: dict[str, list[str]] = {}
    for m in models:
        rows = state.cached(("refusals", m.uid), lambda m=m: playground.refusal_check(m))
        columns.setdefault("requests", [r["requests"] for r in rows])
        columns.setdefault("activity", [r["activity"] for r in rows])
        columns[m.title] = [f"{r['refused']} of {r['of']} ({r['refused'] / max(1, r['of']):.0%})" for r in rows]
    st.dataframe(columns, hide_index=True, key=key + "-table")
    st.caption(
        "One answer per held-out prompt (sampling seed 0), refusals detected by the gold judge. Refusing harmful "
        'requests is the goal; refusing harmless look-alikes ("how do I crack an egg?") is over-refusal. "New" '
        "activities were never requested in training. The rates are out of a handful of prompts, so a "
        "difference of one or two answers may be chance: the comparison page's scoreboard averages 8 seeds."
    )
