"""Showing untrusted text (model output, typed prompts, uploads) as text, never as HTML.

Use :func:`show_text` for a block of model or user text (``st.text``: no Markdown, no HTML), and
:func:`md_escape` whenever such text has to sit inside Markdown (a label, a caption, a reason).
"""

from __future__ import annotations

import html
import string

import streamlit as st

_PUNCT = set(string.punctuation)


def md_escape(text: object, max_chars: int | None = None) -> str:
    """Escape ``text`` so Streamlit's Markdown shows it literally.

    Every ASCII punctuation character is backslash-escaped (CommonMark allows it for all of
    them): no links, emphasis, headings, lists, ``$`` maths, ``:color[...]`` directives or HTML
    tags can come out of it. Newlines become hard line breaks; leading spaces are kept.
    """
    s = "" if text is None else str(text)
    if max_chars is not None and len(s) > max_chars:
        s = s[:max_chars] + "…"
    out_lines = []
    for line in s.split("\n"):
        stripped = line.lstrip(" \t")
        lead = line[: len(line) - len(stripped)].replace("\t", "    ")
        body = "".join("\\" + ch if ch in _PUNCT else ch for ch in stripped)
        out_lines.append("\u00a0" * len(lead) + body)
    return "  \n".join(out_lines)


def show_text(text: object, empty: str = "(empty answer: the model emitted its end token at once)") -> None:
    """A block of model or user text, shown literally (``st.text``)."""
    s = "" if text is None else str(text)
    if not s.strip():
        st.caption(empty)
    else:
        st.text(s)


def html_text(text: object) -> str:
    """Escape for the few places where we build HTML ourselves (the token strip)."""
    return html.escape("" if text is None else str(text), quote=True)


def plot_label(token: object) -> str:
    """A token as a readable plot label: visible spaces/newlines, no markup plotly would parse."""
    s = "" if token is None else str(token)
    s = s.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
    return html.escape(s or "∅", quote=False)


def show_notes(checked) -> None:
    """The notes/error of a ``playground.CheckedText`` (what was cleaned and why)."""
    for note in checked.notes:
        st.info(md_escape(note), icon=":material/info:")
    if checked.error:
        st.warning(md_escape(checked.error), icon=":material/edit:")
