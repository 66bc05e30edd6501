"""Stage 1 - supervised fine-tuning: demonstrations teach the base model to answer and stop."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import lesson, state
from ui.text import md_escape
from ui.training import training_panel
from ui.widgets import mask_strip, model_badge, not_built, response_card

lesson.header(
    "sft",
    "Browse the **demonstrations** the model will imitate, see which tokens the loss counts, then press "
    "**Train live** to fine-tune your own copy of the base model (about a minute) and compare its answers "
    "with the base model's on the same prompts.",
    live=True,
)
base = state.shipped("base")
c1, c2 = st.columns(2)
with c1:
    st.caption("Starts from")
    model_badge("base", base)
with c2:
    st.caption("SFT model used by later pages")
    model_badge("sft")
if base is None:
    not_built("base", "SFT fine-tunes the shipped base model.")
    st.stop()

# ------------------------------------------------------------------------------------------
lesson.section("Background")
st.markdown(
    """
The base model knows its world but not the *format* of a conversation. **Supervised fine-tuning (SFT)**
shows it thousands of conversations written the way we want answers to look:

`<|user|>` request `<|end|>` `<|assistant|>` ideal answer `<|end|>`

and trains it to predict the answer tokens. Two things are learned: *what a good answer looks like*
(a poem has lines, a list has numbered items, unknowable questions get "I don't know"), and *to stop*: the
closing `<|end|>` is a token like any other, so after SFT the model emits it.

SFT only imitates. Our demonstrations refuse **few** harmful requests on purpose (as real SFT data is thin
on refusals), so after SFT the model still answers most of them. Fixing that is the job of the next stages.
"""
)

st.subheader("The demonstrations")
demos = state.cached(("demos",), lambda: playground.demonstrations(n=600))
intents = sorted({d["intent"] for d in demos})
f1, f2 = st.columns([2, 2])
picked = f1.multiselect("Intents", intents, default=intents, key="sft-intents")
search = f2.text_input("Search prompts and answers", key="sft-search", max_chars=200)
needle = search.strip().lower()
rows = [
    d
    for d in demos
    if d["intent"] in picked and (not needle or needle in d["prompt"].lower() or needle in d["response"].lower())
]
st.dataframe(
    rows,
    hide_index=True,
    height=280,
    column_config={
        "intent": st.column_config.TextColumn("intent", width="small"),
        "prompt": st.column_config.TextColumn("prompt (user)", width="medium"),
        "response": st.column_config.TextColumn("ideal answer (assistant)", width="large"),
    },
)
harmful = [d for d in demos if d["intent"] == "harmful"]
refusing = sum(playground.is_refusal(d["response"]) for d in harmful)
st.caption(
    f"{len(rows)} of {len(demos)} sample demonstrations shown. Of the {len(harmful)} harmful requests among them, "
    f"only **{refusing}** are refused: the thin refusal coverage the later stages have to fix."
)

# ------------------------------------------------------------------------------------------
lesson.section("Key equations")
st.markdown("The loss is the usual next-token cross-entropy, but **only over the answer's tokens** $R$:")
st.latex(
    r"\mathcal{L}_{\mathrm{SFT}}(\theta) = -\frac{1}{|R|}\sum_{t \in R} \log \pi_\theta\left(y_t \mid x,\, y_{<t}\right)"
)
st.markdown(
    "$x$ is the prompt, $y$ the demonstrated answer (ending in `<|end|>`). Prompt tokens get the label −100 and "
    "are skipped: we teach the model to *answer* requests, not to *write* them."
)
if demos:
    example = demos[0]
    st.caption("One demonstration, tokenised. Grey: masked (prompt, label −100). Green: counted by the loss.")
    mask_strip(
        state.cached(
            ("mask", base.uid, example["prompt"]),
            lambda: playground.masked_tokens(base, example["prompt"], example["response"]),
        )
    )

lesson.section("Pseudocode")
lesson.pseudocode("sft", before=["init: policy = copy of the base model; demonstrations = world.sft_demonstrations()"])

# ------------------------------------------------------------------------------------------
lesson.section("Try it (live)")
st.markdown(
    "Settings start at the lesson preset (about a minute on a laptop CPU). Hover the **?** for what each knob does."
)
w1, w2 = st.columns(2)
with w1:
    knobs = lesson.config_widgets(
        "sft",
        {"steps": ("slider", "Training steps", 10, 400, 10), "lr": ("select", "Learning rate", [3e-4, 1e-3, 3e-3])},
        "sft",
    )
with w2:
    knobs |= lesson.config_widgets(
        "sft",
        {
            "batch_size": ("slider", "Batch size (demonstrations per step)", 4, 64, 4),
            "refusal_share": ("slider", "Share of harmful requests refused in the data", 0.0, 1.0, 0.05),
        },
        "sft",
    )
shipped_history = playground.shipped_metrics().get("sft", {}).get("history")
training_panel(
    "sft",
    lambda: playground.start_sft(base, **knobs),
    ["loss/sft", "train/lr"],
    reference_history=shipped_history,
)

st.subheader("Before and after: the same prompts, the same seed")
sft = state.model_in_use("sft")
if sft is None:
    st.info("Train above (or build the shipped SFT model) to see the after-SFT answers.", icon=":material/info:")
else:
    prompts = list(playground.SEED_PROMPTS) + playground.example_prompts(
        "eval", n=3, seed=1, intents_wanted=("list", "arithmetic", "greeting")
    )
    before = state.generate(base, prompts, seed=0)
    after = state.generate(sft, prompts, seed=0)
    tabs = st.tabs([p if len(p) < 40 else p[:37] + "..." for p in prompts])
    for tab, p, b, a in zip(tabs, prompts, before, after, strict=True):
        with tab:
            st.markdown(f"**Prompt:** {md_escape(p)}")
            left, right = st.columns(2)
            with left:
                response_card(
                    "Base model", b.text, playground.judge(p, b.text), n_tokens=b.n_tokens, finished=b.finished
                )
            with right:
                response_card(sft.title, a.text, playground.judge(p, a.text), n_tokens=a.n_tokens, finished=a.finished)
    stop_before = sum(r.finished for r in before)
    stop_after = sum(r.finished for r in after)
    st.markdown(
        f"Stopped by themselves: base **{stop_before}/{len(prompts)}**, {md_escape(sft.label)} **{stop_after}/{len(prompts)}**."
    )

lesson.section("Code")
lesson.code_section("sft")
lesson.next_page("sft")
