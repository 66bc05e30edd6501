"""The base model: what pre-training gives - a model of web text that continues and repeats
instead of answering, and never stops."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import lesson, state
from ui.charts import token_bars
from ui.text import md_escape, show_notes
from ui.widgets import model_badge, not_built, response_card

lesson.header(
    "base",
    "Send prompts to the shipped **base model** and read what comes back. Then look at its next-token "
    "probabilities to see *why* it continues the text instead of answering.",
)
base = state.shipped("base")
model_badge("base", base)
if base is None:
    not_built("base", "This lesson shows the shipped base model.")
    st.stop()

info = base.info
n_params = playground.parameter_count(base)
facts = [f"{n_params / 1e6:.1f} M parameters" if n_params >= 1e6 else f"{n_params / 1e3:.0f} k parameters"]
if "val/perplexity" in info:
    facts.append(f"held-out perplexity {info['val/perplexity']:.1f}")
if "corpus" in info:
    facts.append(f"trained on {info['corpus'].get('characters', 0) / 1e6:.1f} M characters of this world's web text")
if "wall_seconds" in info:
    facts.append(f"in {info['wall_seconds'] / 60:.0f} min on a CPU")
st.caption(" · ".join(facts))

lesson.section("Background")
st.markdown(
    """
Pre-training teaches a transformer one thing: **predict the next token of web text**. Our tiny world's
"web" has articles, poems, lists, how-to guides (harmful ones too, as on the real web) and forum threads
that list request after request. It has *no* clean "question → answer → stop" conversations.

So the base model knows a lot about its world, but when you write a request it does what web text does
next: it **echoes** the request, **adds more requests**, drifts into a guide or a list, and **never emits the
end-of-turn token** `<|end|>`, because it never saw one. Every answer below is judged by the same five
criteria the whole course uses.
"""
)

lesson.section("Try it: ask the base model")
options = list(playground.SEED_PROMPTS) + ["Type your own..."]
choice = st.radio("Prompt", options, horizontal=True, key="base-prompt-choice")
if choice == options[-1]:
    typed = st.text_area(
        "Your prompt", value="Write a poem about the sea", max_chars=20_000, key="base-own-prompt", height=80
    )
    checked = playground.check_text(typed)
    show_notes(checked)
    prompt = checked.text if checked.ok else None
else:
    prompt = choice
c1, c2, c3 = st.columns(3)
temperature = c1.slider("Temperature", 0.0, 1.5, 0.7, 0.1, key="base-temp", help="0 = always the most likely token.")
n_samples = c2.slider("Samples", 1, 4, 2, key="base-n")
seed = c3.number_input("Seed", 0, 10_000, 0, key="base-seed", help="Same seed, same answers.")

if prompt:
    responses = state.generate(base, [prompt] * n_samples, seed=int(seed), temperature=temperature)
    cols = st.columns(min(2, n_samples))
    for i, r in enumerate(responses):
        with cols[i % len(cols)]:
            response_card(
                f"Sample {i + 1}", r.text, playground.judge(prompt, r.text), n_tokens=r.n_tokens, finished=r.finished
            )
    stopped = sum(r.finished for r in responses)
    st.markdown(
        f"**{stopped} of {len(responses)}** samples stopped by themselves. "
        "A base model almost never does: after SFT nearly all will."
    )

lesson.section("Why: next-token probabilities")
st.markdown(
    "A language model is a next-token distribution. Type the start of a text and see which tokens the base "
    "model thinks come next. In **chat format** the text is wrapped as a user turn followed by "
    "`<|assistant|>`, exactly what the later stages see."
)
c1, c2 = st.columns([3, 1])
probe = c1.text_input("Text", value=playground.POEM_PROMPT, key="base-probe", max_chars=20_000)
chat = c2.toggle("Chat format", value=True, key="base-probe-chat")
checked_probe = playground.check_text(probe, "text")
show_notes(checked_probe)
if checked_probe.ok:
    pairs = state.cached(
        ("next", base.uid, checked_probe.text, chat), lambda: playground.next_tokens(base, checked_probe.text, 10, chat)
    )
    token_bars(pairs, "Base model: the 10 most likely next tokens", key="base-next-token-chart")
    top_token = pairs[0][0] if pairs else ""
    if chat:
        st.markdown(
            f"The most likely first token of the 'answer' is “{md_escape(top_token) if top_token.strip() else 'a space'}”. "
            "Notice that the end token `<|end|>` is nowhere near the top: nothing in pre-training ever rewarded "
            "stopping. That is what Stage 1 fixes."
        )

with st.expander("Why does it repeat itself?"):
    st.markdown(
        """
Sampling picks one likely token at a time. Once a phrase is in the context, the same phrase becomes more
likely again (the model copies from its context: it learned that web pages repeat titles, list items and
requests). With no learned reason to stop, the loop only ends at the token cap. Lower temperatures make it
worse: the most likely continuation of a repetition is another repetition.
"""
    )

lesson.next_page("base")
