"""Glossary: every metric and term shown anywhere in the app, explained once. Torch-free."""

from __future__ import annotations

import streamlit as st

from ui import glossary, state
from ui.text import md_escape

st.title("Glossary")
st.info(
    "**What you do here.** Look up any number or word the lessons use. Metric names are namespaced like "
    "`loss/...` or `objective/...`: the prefix says where the number comes from.",
    icon=":material/touch_app:",
)
state.mark("visited:glossary")
query = st.text_input("Search", key="glossary-search", placeholder="e.g. KL, clip, accuracy", max_chars=200)
needle = query.strip().lower()


def show(rows: list[tuple[str, str]], code_names: bool) -> int:
    shown = 0
    for name, meaning in rows:
        if needle and needle not in name.lower() and needle not in meaning.lower():
            continue
        label = name if not code_names or name.startswith("`") else f"`{name}`"
        st.markdown(f"**{label}** — {meaning}")
        shown += 1
    return shown


total = 0
st.header("Terms", divider="gray")
total += show(sorted(glossary.TERMS.items(), key=lambda kv: kv[0].lower()), code_names=False)
for title, rows in glossary.metric_tables().items():
    st.header(title, divider="gray")
    total += show(rows, code_names=True)
st.header("Numbers the lessons show", divider="gray")
total += show(sorted(glossary.APP_METRICS.items()), code_names=False)
if needle and total == 0:
    st.warning(f"Nothing matches “{md_escape(query)}”.")
