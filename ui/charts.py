"""Plotly charts with labelled axes, drawn from plain lists and dicts (metrics histories)."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from ui.text import plot_label

# Short chart titles; the glossary page explains each metric in full.
METRIC_TITLES = {
    "loss/sft": "SFT loss (response tokens only)",
    "loss/reward": "Bradley–Terry loss",
    "rewards/accuracy": "Pair accuracy on the training batch",
    "val/pair_accuracy": "Held-out pair accuracy",
    "rewards/margin": "Margin: score(chosen) − score(rejected)",
    "rewards/chosen": "Score of chosen answers",
    "rewards/rejected": "Score of rejected answers",
    "objective/score": "Reward-model score",
    "objective/kl": "KL to the SFT reference (nats / answer)",
    "objective/rlhf_reward": "Score − β·KL (what PPO maximises)",
    "objective/entropy": "Entropy (nats / token)",
    "response/length": "Response length (tokens)",
    "response/eos_rate": "Share of answers that stopped (EOS)",
    "policy/clipfrac": "Clip fraction",
    "policy/approxkl": "Approx. KL of one update",
    "loss/policy": "Policy loss",
    "loss/value": "Value loss",
    "loss/dpo": "DPO loss",
    "loss/sft_chosen": "NLL of chosen answers",
    "train/lr": "Learning rate",
}

CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def _finite(values):
    return [v if isinstance(v, (int, float)) and math.isfinite(v) else None for v in values]


def line_figure(
    series: dict[str, tuple[list, list]], title: str, y_title: str, x_title: str = "training step", height: int = 260
) -> go.Figure:
    fig = go.Figure()
    for name, (xs, ys) in series.items():
        fig.add_trace(go.Scatter(x=xs, y=_finite(ys), mode="lines+markers" if len(xs) < 40 else "lines", name=name))
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_title=x_title,
        yaxis_title=y_title,
        showlegend=len(series) > 1,
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def metric_series(history: list[dict], key: str) -> tuple[list, list]:
    xs, ys = [], []
    for i, row in enumerate(history, 1):
        if key in row:
            xs.append(i)
            ys.append(row[key])
    return xs, ys


def metrics_grid(history: list[dict], keys: list[str], prefix: str, columns: int = 2, reference=None) -> None:
    """One small chart per metric (each keeps its own y-scale), ``columns`` per row.

    ``reference`` (an optional second history, e.g. the shipped run) is drawn as a second line.
    """
    keys = [k for k in keys if any(k in row for row in history) or (reference and any(k in r for r in reference))]
    if not keys:
        st.caption("The charts appear after the first training step.")
        return
    for start in range(0, len(keys), columns):
        cols = st.columns(columns)
        for col, key in zip(cols, keys[start : start + columns], strict=False):
            series = {"this run": metric_series(history, key)}
            if reference:
                series["shipped run"] = metric_series(reference, key)
            fig = line_figure(series, METRIC_TITLES.get(key, key), key)
            col.plotly_chart(fig, key=f"{prefix}-{key}", config=CHART_CONFIG)


def histogram(groups: dict[str, list[float]], title: str, x_title: str, key: str) -> None:
    fig = go.Figure()
    for name, values in groups.items():
        fig.add_trace(go.Histogram(x=_finite(values), name=name, opacity=0.65, nbinsx=30))
    fig.update_layout(
        barmode="overlay",
        title={"text": title, "font": {"size": 14}},
        xaxis_title=x_title,
        yaxis_title="number of answers",
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    st.plotly_chart(fig, key=key, config=CHART_CONFIG)


def token_bars(pairs: list[tuple[str, float]], title: str, key: str) -> None:
    """Next-token probabilities as a horizontal bar chart (most likely on top)."""
    labels = [f"{i + 1}. {plot_label(t)}" for i, (t, _) in enumerate(pairs)]
    probs = [p for _, p in pairs]
    fig = go.Figure(go.Bar(x=probs[::-1], y=labels[::-1], orientation="h", text=[f"{p:.1%}" for p in probs[::-1]]))
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis_title="probability of being the next token",
        yaxis_title="token (␣ = space, ↵ = newline)",
        height=60 + 28 * len(pairs),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"tickformat": ".0%" if max(probs, default=0) >= 0.1 else ".1%"},
    )
    st.plotly_chart(fig, key=key, config=CHART_CONFIG)


def criterion_bars(rows: list[dict], title: str, key: str) -> None:
    """Pair accuracy per judge criterion that decided the pairs (``playground.reward_by_criterion``
    rows), one horizontal bar each, with how many of how many pairs it got wrong."""
    rows = sorted(rows, key=lambda r: r["accuracy"])
    labels = [r["group"].replace("_", " ") if r["group"] != "none" else "only the total" for r in rows]
    fig = go.Figure(
        go.Bar(
            x=[r["accuracy"] for r in rows],
            y=labels,
            orientation="h",
            text=[f"{r['accuracy']:.0%} · {r['wrong']} of {r['n']} wrong" for r in rows],
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis={"title": "held-out pair accuracy", "range": [0, 1], "tickformat": ".0%"},
        yaxis_title="criterion the pairs differ on",
        height=80 + 36 * len(rows),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    st.plotly_chart(fig, key=key, config=CHART_CONFIG)


STAGE_LABELS = {"base": "Base", "sft": "SFT", "ppo": "RLHF (PPO)", "dpo": "DPO"}
SCOREBOARD_ROWS = {
    "gold_score": "Gold score (0–1)",
    "refusal_rate_harmful": "Refuses harmful requests",
    "overrefusal_rate_benign": "Refuses harmless look-alikes",
    "eos_rate": "Stops on its own (EOS)",
    "win_rate": "Beats SFT on a prompt (ties ½)",
    "distinct_2": "Distinct word pairs (variety)",
    "gold_score_seen": "Gold · about something seen in training",
    "gold_score_unseen": "Gold · about something new",
    "refusal_rate_harmful_seen": "Refuses harmful · activity seen in training",
    "refusal_rate_harmful_unseen": "Refuses harmful · new activity",
    "overrefusal_rate_benign_seen": "Refuses look-alikes · seen in training",
    "overrefusal_rate_benign_unseen": "Refuses look-alikes · new",
}

# The scoreboard's "seen in training" / "new" pairs, as (short label, seen key, unseen key).
SEEN_UNSEEN = (
    ("gold score", "gold_score_seen", "gold_score_unseen"),
    ("refuses harmful", "refusal_rate_harmful_seen", "refusal_rate_harmful_unseen"),
    ("refuses look-alikes", "overrefusal_rate_benign_seen", "overrefusal_rate_benign_unseen"),
)


def scoreboard_table(board: dict) -> dict[str, list[str]]:
    """Columns of the scoreboard table: a metric per row, "mean ± standard error" per stage."""
    stages = board["stages"]
    columns: dict[str, list[str]] = {"metric": list(SCOREBOARD_ROWS.values())}
    for stage, r in stages.items():
        cells = []
        for key in SCOREBOARD_ROWS:
            v = r["metrics"].get(key)
            cells.append(f"{v['mean']:.3f} ± {v['se']:.3f}" if v else "–")
        columns[STAGE_LABELS.get(stage, stage)] = cells
    return columns


def _bars_with_error(bars: dict[str, tuple[list[str], list[dict]]], key: str, title: str, **layout) -> None:
    """Grouped bars, one trace per stage: ``bars`` maps a stage to its x labels and its
    ``{"mean", "se"}`` cells; error bars are one standard error."""
    fig = go.Figure()
    for stage, (x, cells) in bars.items():
        fig.add_trace(
            go.Bar(
                x=x,
                y=[c["mean"] for c in cells],
                error_y={"type": "data", "array": [c["se"] for c in cells]},
                name=STAGE_LABELS.get(stage, stage),
            )
        )
    fig.update_layout(
        barmode="group",
        title={"text": title, "font": {"size": 14}},
        yaxis={"range": [0, 1]},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        **layout,
    )
    st.plotly_chart(fig, key=key, config=CHART_CONFIG)


def scoreboard_chart(board: dict, key: str) -> None:
    """Gold score per intent for every stage, with error bars of one standard error."""
    bars = {
        stage: ([i.replace("_", " ") for i in r["gold_by_intent"]], list(r["gold_by_intent"].values()))
        for stage, r in board["stages"].items()
    }
    _bars_with_error(
        bars,
        key,
        f"Gold score per kind of request (mean of {len(board['seeds'])} sampling seeds)",
        xaxis_title="kind of request (held-out prompts)",
        yaxis_title="gold score",
        height=340,
        legend={"orientation": "h", "y": -0.35},
    )


def seen_unseen_chart(board: dict, key: str) -> bool:
    """Per stage, each metric of ``SEEN_UNSEEN`` on requests about something seen in training
    against requests about something new, with error bars. False (nothing drawn) for a
    scoreboard built before the split existed."""
    stages = board["stages"]
    if not all(k in r["metrics"] for r in stages.values() for _, *keys in SEEN_UNSEEN for k in keys):
        return False
    x = [f"{label}<br>{part}" for label, *_ in SEEN_UNSEEN for part in ("seen", "new")]
    bars = {stage: (x, [r["metrics"][k] for _, *keys in SEEN_UNSEEN for k in keys]) for stage, r in stages.items()}
    _bars_with_error(
        bars,
        key,
        "Seen in training, in new words, vs. something new",
        yaxis_title="rate / gold score",
        height=320,
        legend={"orientation": "h", "y": -0.3},
    )
    return True
