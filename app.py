"""RLHF Playground: ``streamlit run app.py``.

The entry point only builds the navigation (inside a function, so tests can drive it) and the
frame shared by every page; each lesson lives in ``pages/``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import streamlit as st  # noqa: E402

from ui.nav import PAGES  # noqa: E402


def build_navigation():
    """``st.navigation`` over the course's pages, grouped by section, with titles and icons."""
    sections: dict[str, list] = {}
    for spec in PAGES:
        page = st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.key, default=spec.key == "home")
        sections.setdefault(spec.section, []).append(page)
    return st.navigation(sections)


@st.cache_resource(show_spinner=False)
def warm_up():
    """Once per server: import torch and the trainers in the background while Home is read."""
    from rlhf_core import playground

    return playground.warm_up(extra_modules=("plotly.graph_objects",))


def main() -> None:
    st.set_page_config(page_title="RLHF Playground", page_icon=":material/model_training:", layout="wide")
    from ui.training import settle_finished_jobs, sidebar_monitor

    warm_up()
    page = build_navigation()
    settle_finished_jobs()  # a model finished while the student was on another page
    sidebar_monitor()
    page.run()


main()
