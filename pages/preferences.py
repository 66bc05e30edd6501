"""Stage 2 - human preferences: the student rates pairs of answers (the lock-picking exercise
first); ratings are kept, compared with the simulated annotator, and go in and out as JSONL."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import lesson, state
from ui.text import md_escape
from ui.widgets import answer_columns, judge_pair, model_badge, response_card

lesson.header(
    "preferences",
    "Read two answers to the same prompt and pick the better one (or call it a tie). Start with the "
    "**lock-picking exercise**, then rate answers sampled from the SFT model. Every rating is kept: you can "
    "download them, and they train the reward model on the next page.",
)

st.markdown(
    """
Writing ideal answers (SFT) is slow and hard to do well. **Comparing** two answers is fast, and people agree
on comparisons more than on absolute scores. So RLHF collects *preferences*: for one prompt, answer **A** or
answer **B**? Here a *simulated annotator* (the course's gold judge, which checks the five criteria below)
labels thousands of pairs; your own ratings are added on top.
"""
)


def record(item: playground.RatingItem, choice: str, source: str) -> None:
    state.add_rating(playground.rating_record(item, choice, source))


def choice_buttons(prefix: str, on_choice, disabled: bool = False) -> None:
    b1, b2, b3 = st.columns(3)
    if b1.button("A is better", key=f"{prefix}-A", icon=":material/looks_one:", disabled=disabled, width="stretch"):
        on_choice("A")
    if b2.button("B is better", key=f"{prefix}-B", icon=":material/looks_two:", disabled=disabled, width="stretch"):
        on_choice("B")
    if b3.button("Tie", key=f"{prefix}-tie", icon=":material/drag_handle:", disabled=disabled, width="stretch"):
        on_choice("tie")


def verdict_text(choice: str) -> str:
    return {"A": "A is better", "B": "B is better", "tie": "a tie"}[choice]


# ------------------------------------------------------------------------------------------
lesson.section("The lock-picking exercise")
lock = state.cached(("lock-exercise",), playground.lock_exercise)
st.markdown(f"**Prompt:** {md_escape(lock.prompt)}")
col_a, col_b = st.columns(2)
with col_a:
    response_card("Response A", lock.a)
with col_b:
    response_card("Response B", lock.b)

lock_choice = st.session_state.get("lock-choice")


def choose_lock(choice: str) -> None:
    st.session_state["lock-choice"] = choice
    record(lock, choice, "lock exercise")
    st.rerun()


choice_buttons("lock", choose_lock, disabled=lock_choice is not None)
if lock_choice is not None:
    agree = lock_choice == lock.annotator
    (st.success if agree else st.warning)(
        f"You said **{verdict_text(lock_choice)}**. RLHF training would prefer **B**: "
        + ("you agree with it." if agree else "here is why."),
        icon=":material/check_circle:" if agree else ":material/lightbulb:",
    )
    st.markdown(
        """
**Why B?** Lock-picking is a request whose answer can help someone break into a home, so the preferred reply
is a **brief refusal with a safe alternative** ("call a locksmith"). A is *helpful* to the asker in a narrow
sense but fails **harmless**; it is also cut off mid-sentence. B passes all five criteria. When thousands of
comparisons like this one train a reward model, the policy learns that refusing *this kind* of request scores
higher, without becoming unhelpful on benign look-alikes such as "How do I pick a ripe melon?".
"""
    )
    judge_pair(lock.verdict_a, lock.verdict_b)

    st.subheader("What the real models answer")
    st.caption("The same prompt through the shipped models (and your own, once trained), same seed.")
    answer_columns(lock.prompt, [(stage, state.model_in_use(stage)) for stage in ("base", "sft", "ppo")])

# ------------------------------------------------------------------------------------------
lesson.section("Rate answers from the SFT model")
sft = state.model_in_use("sft")
if sft is None:
    st.warning(
        f"{playground.NotBuiltError('sft')} Or train your own SFT model on the Stage 1 page.",
        icon=":material/construction:",
    )
else:
    model_badge("sft", sft)
    seed = st.session_state.setdefault("rate-seed", 0)
    items = state.cached(("rating-items", sft.uid, seed), lambda: playground.rating_items(sft, n=6, seed=seed))
    idx = st.session_state.setdefault("rate-idx", 0)
    revealed = st.session_state.setdefault("rate-revealed", {})
    if idx >= len(items):
        st.success(f"You rated all {len(items)} pairs of this batch.", icon=":material/done_all:")
        if st.button("Sample 6 new pairs", icon=":material/refresh:", key="rate-new"):
            st.session_state["rate-seed"] = seed + 1
            st.session_state["rate-idx"] = 0
            st.rerun()
    else:
        item = items[idx]
        st.progress((idx + 1) / len(items), text=f"Pair {idx + 1} of {len(items)} (intent: {item.intent})")
        st.markdown(f"**Prompt:** {md_escape(item.prompt)}")
        col_a, col_b = st.columns(2)
        with col_a:
            response_card("Response A", item.a)
        with col_b:
            response_card("Response B", item.b)
        key = (seed, idx)

        def choose(choice: str) -> None:
            revealed[key] = choice
            record(item, choice, "student")
            st.rerun()

        choice_buttons(f"rate-{seed}-{idx}", choose, disabled=key in revealed)
        if key in revealed:
            mine = revealed[key]
            if item.annotator == "tie":
                st.info(
                    f"You said **{verdict_text(mine)}**. The simulated annotator scores both the same: a tie "
                    "(tied pairs carry no preference and are left out of training).",
                    icon=":material/drag_handle:",
                )
            elif mine == item.annotator:
                st.success(
                    f"You said **{verdict_text(mine)}**, and so does the simulated annotator.",
                    icon=":material/check_circle:",
                )
            else:
                st.warning(
                    f"You said **{verdict_text(mine)}**; the simulated annotator says **{verdict_text(item.annotator)}**. "
                    "Real annotators disagree too: that noise is part of RLHF.",
                    icon=":material/lightbulb:",
                )
            judge_pair(item.verdict_a, item.verdict_b)
            if st.button("Next pair", icon=":material/arrow_forward:", type="primary", key=f"rate-next-{seed}-{idx}"):
                st.session_state["rate-idx"] = idx + 1
                st.rerun()

# ------------------------------------------------------------------------------------------
lesson.section("Your ratings")
ratings = state.ratings()
judged = [r for r in ratings if r.get("annotator") in ("A", "B", "tie")]
agreed = sum(r["choice"] == r["annotator"] for r in judged)
usable = [r for r in ratings if r.get("chosen") is not None]
m1, m2, m3 = st.columns(3)
m1.metric("Ratings", len(ratings), help="Every choice you made or uploaded, ties included.")
m2.metric("Usable for training", len(usable), help="Ties carry no preference, so they are not exported or trained on.")
m3.metric(
    "Agreement with the annotator",
    f"{agreed / len(judged):.0%}" if judged else "–",
    help="How often your choice matched the simulated annotator's (the gold judge's higher total; equal totals = tie).",
)
if ratings:
    table = [
        {
            "prompt": r["prompt"],
            "you chose": r["choice"],
            "annotator": r.get("annotator", "–"),
            "chosen": r.get("chosen") or "",
            "rejected": r.get("rejected") or "",
            "from": r.get("source", ""),
        }
        for r in ratings
    ]
    st.dataframe(table, hide_index=True, height=min(300, 40 + 35 * len(table)))
st.download_button(
    "Download my ratings (JSONL)",
    data=playground.ratings_to_jsonl(ratings),
    file_name="my_preferences.jsonl",
    mime="application/jsonl",
    icon=":material/download:",
    disabled=not usable,
    on_click="ignore",
    key="ratings-download",
)
st.caption(
    "One JSON object per line with `prompt`, `chosen` and `rejected`: the preference format TRL's "
    "`RewardTrainer` and `DPOTrainer` read."
)
upload = st.file_uploader(
    "Upload ratings (JSONL with prompt, chosen, rejected)",
    type=["jsonl", "json", "txt"],
    max_upload_size=2,
    key="ratings-upload",
    help="Adds to what you already have; a file with any bad line is rejected as a whole.",
)
if upload is not None:
    seen = st.session_state.setdefault("uploads-done", {})
    if upload.file_id not in seen:
        rows, error = playground.parse_ratings_jsonl(upload.getvalue())
        if error:
            seen[upload.file_id] = ("error", error)
        else:
            for row in rows:
                state.add_rating(row)
            seen[upload.file_id] = ("ok", f"Added {len(rows)} rating(s) from {upload.name}.")
        st.rerun()
    kind, message = seen[upload.file_id]
    if kind == "error":
        st.error(f"{md_escape(message)} Your {len(ratings)} existing rating(s) are untouched.", icon=":material/error:")
    else:
        st.success(md_escape(message), icon=":material/upload:")

lesson.next_page("preferences")
