"""Home: the three-stage pipeline (each stage links to its lesson), the course path with the
student's progress, and which models are in use. Torch-free, so it opens instantly."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import state
from ui.nav import BY_KEY, COURSE

st.title("RLHF Playground")
st.markdown(
    "Learn **reinforcement learning from human feedback** by doing it: a real (tiny) GPT-2 is trained "
    "live on this computer's CPU at every stage. Every sample, score and curve you see comes from a "
    "real model, not a simulation."
)
st.info(
    "**What you do here.** Look at the pipeline below, then follow the course path from top to bottom. "
    "Each lesson has a **Train live** button that takes about a minute.",
    icon=":material/touch_app:",
)
state.mark("visited:home")
st.page_link(BY_KEY["base"].path, label="Start the course: the base model", icon=":material/play_circle:")

# ------------------------------------------------------------------------------------------
st.header("The pipeline", divider="gray")
st.caption("Click a stage to open its lesson.")


def stage_box(column, number: str, key: str, label: str, text: str, extra: tuple[str, str] | None = None) -> None:
    """One stage of the diagram: its number, a link to its lesson, one line on what it does."""
    with column.container(border=True, height="stretch"):
        st.markdown(f"**{number}**")
        st.page_link(BY_KEY[key].path, label=f"**{label}**", icon=BY_KEY[key].icon)
        st.markdown(text)
        if extra:
            st.page_link(BY_KEY[extra[0]].path, label=f"**{extra[1]}**", icon=BY_KEY[extra[0]].icon)


cols = st.columns([3, 0.35, 3, 0.35, 3, 0.35, 3], vertical_alignment="center")
stage_box(
    cols[0],
    "Start",
    "base",
    "Base model",
    "Pre-trained on web text. It **continues** text: echoes, rambles, never stops.",
)
cols[1].markdown("### →")
stage_box(
    cols[2],
    "Stage 1",
    "sft",
    "SFT",
    "Supervised fine-tuning on *prompt → ideal answer* demonstrations: it learns to **answer and stop**.",
)
cols[3].markdown("### →")
stage_box(
    cols[4],
    "Stage 2",
    "preferences",
    "Preferences",
    "People compare two answers; a reward model learns to score like them.",
    extra=("reward", "Reward model"),
)
cols[5].markdown("### →")
stage_box(cols[6], "Stage 3", "ppo", "PPO", "RL raises the reward model's score, on a **KL leash** to the SFT model.")
st.markdown(
    "Then compare what each stage changed on the same prompt "
    "and try **DPO**, which learns from the same preferences without the RL step."
)
c1, c2 = st.columns(2)
c1.page_link(BY_KEY["compare"].path, label=BY_KEY["compare"].title, icon=BY_KEY["compare"].icon)
c2.page_link(BY_KEY["dpo"].path, label=BY_KEY["dpo"].title, icon=BY_KEY["dpo"].icon)

# ------------------------------------------------------------------------------------------
st.header("Your course path", divider="gray")
TRAINABLE = {"sft": "sft", "reward": "reward", "ppo": "ppo", "dpo": "dpo"}
visited = [spec for spec in COURSE if state.done(f"visited:{spec.key}")]
st.progress(len(visited) / len(COURSE), text=f"{len(visited)} of {len(COURSE)} lessons opened")
for i, spec in enumerate(COURSE, 1):
    seen = state.done(f"visited:{spec.key}")
    trained = spec.key in TRAINABLE and state.done(f"trained:{TRAINABLE[spec.key]}")
    rated = spec.key == "preferences" and state.done("rated")
    marks = []
    if trained:
        marks.append("trained your own model")
    if rated:
        marks.append(f"{len(state.ratings())} rating(s)")
    status = ":green[✓ opened]" if seen else ":gray[not yet]"
    cols = st.columns([0.4, 2.6, 4, 2.2], vertical_alignment="center")
    cols[0].markdown(f"**{i}.**")
    cols[1].page_link(spec.path, label=spec.title, icon=spec.icon)
    cols[2].caption(spec.blurb)
    cols[3].markdown(status + ("  \n" + ", ".join(marks) if marks else ""))

# ------------------------------------------------------------------------------------------
st.header("Models in use", divider="gray")
st.caption(
    "Every page starts with the **shipped** models (trained ahead of time by `python -m rlhf_core pipeline`). "
    "Once you train a stage yourself, later pages use **your own** model instead."
)
own = state.own_models()
status = playground.shipped_status()
for stage in playground.STAGES:
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.markdown(f"**{playground.STAGE_TITLES[stage]}**")
    with right:
        if stage in own:
            st.badge(
                f"your own (trained {own[stage].info.get('trained_at', '')})", icon=":material/person:", color="green"
            )
        elif status[stage]:
            st.badge("shipped", icon=":material/inventory_2:", color="blue")
        else:
            st.badge("not built yet", icon=":material/construction:", color="orange")
missing = [s for s, ok in status.items() if not ok]
if missing:
    base_cmd = "" if status["base"] else "`python -m rlhf_core pretrain` (about 12 minutes), then "
    st.warning(
        f"Some shipped models are not built yet ({', '.join(playground.STAGE_NAMES[s] for s in missing)}). "
        f"Build them with {base_cmd}`python -m rlhf_core pipeline --out assets/models`. "
        "Lessons that need them say so; you can still train the later stages yourself once the base model exists.",
        icon=":material/construction:",
    )
