"""The parts every lesson page shares: the header with "what you do here", the config widgets
built from the trainer's config fields, the pseudocode built from the trainer's numbered step
comments, and the Code section showing the real source."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import state
from ui.nav import BY_KEY, COURSE
from ui.text import md_escape

TRY_IT = "try-it-live"


def header(page_key: str, what_to_do: str, live: bool = False) -> None:
    """Title, the one-paragraph "what you do here", and progress bookkeeping. ``live``: the page
    has a "Try it (live)" section, linked from here so the Train button is one click away."""
    spec = BY_KEY[page_key]
    st.title(spec.title)
    jump = f" [Jump to Try it (live) ↓](#{TRY_IT})" if live else ""
    st.info(f"**What you do here.** {what_to_do}{jump}", icon=":material/touch_app:")
    state.mark(f"visited:{page_key}")


def next_page(page_key: str) -> None:
    """A link to the next lesson of the course, at the bottom of a page."""
    keys = [p.key for p in COURSE]
    if page_key in keys and keys.index(page_key) + 1 < len(keys):
        nxt = COURSE[keys.index(page_key) + 1]
        st.divider()
        st.page_link(nxt.path, label=f"Next: {nxt.title} — {nxt.blurb}", icon=":material/arrow_forward:")


def section(title: str) -> None:
    anchor = TRY_IT if title.startswith("Try it") else None
    st.header(title, divider="gray", anchor=anchor)


# Widget specs: field -> (kind, label, options). "slider": (min, max, step); "select": values.
def config_widgets(stage: str, specs: dict[str, tuple], key_prefix: str) -> dict:
    """Widgets for some of a trainer config's fields, labelled and helped by the field's own
    docstring; returns the overrides for ``playground.start_*``."""
    defaults = playground.lesson_defaults(stage)
    helps = playground.config_help(stage)
    out = {}
    for name, (kind, label, *opts) in specs.items():
        default = defaults[name]
        help_text = helps.get(name) or None
        key = f"{key_prefix}-{name}"
        if kind == "slider":
            lo, hi, step = opts
            lo, hi = min(lo, default), max(hi, default)
            cast = float if isinstance(step, float) else int
            out[name] = st.slider(label, cast(lo), cast(hi), cast(default), cast(step), help=help_text, key=key)
        elif kind == "select":
            values = sorted(set(opts[0]) | {default})
            out[name] = st.select_slider(
                label, values, value=default, help=help_text, key=key, format_func=lambda v: f"{v:g}"
            )
        elif kind == "toggle":
            out[name] = st.toggle(label, value=bool(default), help=help_text, key=key)
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
    return out


def pseudocode(stage: str, before: list[str] | None = None, loop: str = "repeat for each training step:") -> None:
    """Numbered pseudocode; the numbered lines are the trainer's own ``# N.`` step comments."""
    steps = playground.step_comments(stage)
    lines = list(before or [])
    inside = [(n, text) for n, text in steps if not (stage == "dpo" and n == 1)]
    if stage == "dpo":
        lines += [f"{n}. {text}" for n, text in steps if n == 1]
    lines.append(loop)
    lines += [f"    {n}. {text}" for n, text in inside]
    st.code("\n".join(lines), language="text")
    st.caption(
        "Each numbered line is a `# N.` comment in the trainer's source (below): the pseudocode is read from "
        "the code, so the two cannot drift apart."
    )


def code_section(stage: str) -> None:
    """The real source of the trainer step and its loss functions (``inspect.getsource``)."""
    for i, dotted in enumerate(playground.SOURCES[stage]):
        module, _, name = dotted.partition(":")
        path = module.replace(".", "/") + ".py"
        with st.expander(f"`{name}` — {path}", expanded=i == 0):
            try:
                source = playground.source_of(dotted)
                tall = source.count("\n") > 40
                st.code(
                    source, language="python", line_numbers=True, wrap_lines=True, height=600 if tall else "content"
                )
            except Exception as exc:  # noqa: BLE001
                st.warning(f"Could not read the source: {md_escape(exc)}")
    st.caption(
        "Read live from the library with `inspect.getsource`: this is the code that runs when you press **Train live**."
    )
