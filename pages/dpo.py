"""DPO: the same preference pairs, no reward model and no RL loop; trained live and compared
with PPO's answers and KL."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import lesson, state
from ui.text import md_escape
from ui.training import training_panel
from ui.widgets import answer_columns, model_badge, needs, refusal_panel

lesson.header(
    "dpo",
    "Train **DPO** live on the same preference pairs the reward model learned from (plus your ratings), then "
    "compare its answers and its distance from the SFT model (KL) with the PPO model's.",
    live=True,
)
sft = state.model_in_use("sft")
c1, c2 = st.columns(2)
with c1:
    st.caption("Starting policy and frozen reference")
    model_badge("sft", sft)
with c2:
    st.caption("DPO model")
    model_badge("dpo")

lesson.section("Background")
st.markdown(
    """
PPO needs four models in memory (policy, reference, reward model, value head) and an RL loop that samples
answers at every step. **Direct Preference Optimization** (Rafailov et al., 2023) noticed that the
KL-regularised objective PPO maximises has a closed-form best policy, and that the reward model can be written
in terms of that policy. Substituting it into the Bradley–Terry loss gives a loss on the **policy itself**:
make the chosen answer more likely *relative to the reference* than the rejected one.

No reward model, no sampling, no value head: a supervised loss on preference pairs. β plays the same role as in
PPO: higher β keeps the policy closer to the reference.
"""
)

lesson.section("Key equations")
st.markdown("The implicit reward of an answer is its log-probability ratio against the reference:")
st.latex(r"\hat r_\theta(x, y) = \beta \log \frac{\pi_\theta(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)}")
st.markdown("and DPO is the Bradley–Terry loss on those implicit rewards:")
st.latex(
    r"\mathcal{L}_{\mathrm{DPO}}(\theta) = -\,\mathbb{E}_{(x, y_w, y_l)}\left[\log \sigma\left("
    r"\beta \log \frac{\pi_\theta(y_w \mid x)}{\pi_{\mathrm{ref}}(y_w \mid x)} - "
    r"\beta \log \frac{\pi_\theta(y_l \mid x)}{\pi_{\mathrm{ref}}(y_l \mid x)}\right)\right]"
)
st.caption(
    "Our trainer adds a small SFT term on the chosen answers (`sft_coef`), which keeps a tiny model's grammar intact."
)

lesson.section("Pseudocode")
lesson.pseudocode("dpo", before=["init: policy = copy of the SFT model; reference = the SFT model (frozen)"])

# ------------------------------------------------------------------------------------------
lesson.section("Try it (live)")
ratings = state.ratings()
w1, w2 = st.columns(2)
with w1:
    knobs = lesson.config_widgets(
        "dpo",
        {
            "beta": ("select", "β (higher = closer to the reference)", [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]),
            "steps": ("slider", "Training steps", 5, 200, 5),
        },
        "dpo",
    )
with w2:
    knobs |= lesson.config_widgets(
        "dpo",
        {
            "lr": ("select", "Learning rate", [5e-6, 1e-5, 2e-5, 5e-5, 1e-4]),
            "sft_coef": ("slider", "SFT term weight", 0.0, 1.0, 0.1),
        },
        "dpo",
    )
usable = [r for r in ratings if r.get("chosen") is not None]
st.caption(f"Trains on the annotator's pairs plus your {len(usable)} usable rating(s).")
blocked = needs(["sft"])
training_panel(
    "dpo",
    (lambda: playground.start_dpo(sft, ratings, **knobs)) if sft is not None else None,
    ["loss/dpo", "rewards/accuracy", "rewards/margin", "rewards/chosen", "rewards/rejected", "loss/sft_chosen"],
    blocked=blocked,
    reference_history=playground.shipped_metrics().get("dpo", {}).get("history"),
)

# ------------------------------------------------------------------------------------------
st.subheader("DPO vs PPO")
dpo, ppo = state.model_in_use("dpo"), state.model_in_use("ppo")
if sft is None or (dpo is None and ppo is None):
    st.info("Train DPO above (or build the shipped models) to compare.", icon=":material/info:")
else:
    prompts = [playground.LOCK_PROMPT, playground.POEM_PROMPT] + playground.example_prompts(
        "eval", n=2, seed=4, intents_wanted=("harmful", "list")
    )
    pick = st.selectbox("Prompt", prompts, key="dpo-compare-prompt")
    reward = state.model_in_use("reward")
    answer_columns(pick, [("sft", sft), ("ppo", ppo), ("dpo", dpo)], reward=reward)

    st.markdown(
        "**How far did each move from the SFT model?** KL(policy ‖ SFT) in nats per answer on held-out prompts."
    )
    if st.button("Measure KL (a few seconds)", icon=":material/straighten:", key="dpo-kl"):
        st.session_state["dpo-kl-for"] = (getattr(dpo, "uid", None), getattr(ppo, "uid", None), sft.uid)
    if st.session_state.get("dpo-kl-for") == (getattr(dpo, "uid", None), getattr(ppo, "uid", None), sft.uid):
        m = st.columns(2)
        for col, lm in zip(m, (ppo, dpo), strict=True):
            if lm is not None:
                kl = state.cached(("kl", lm.uid, sft.uid), lambda lm=lm: playground.kl_to_reference(lm, sft))
                col.metric(f"KL of the {md_escape(lm.label)}", f"{kl:.2f} nats")
        st.caption(
            "PPO pays for every nat of KL in its reward; DPO's β limits drift only implicitly, through the loss. "
            "Neither number is 'better': compare them with the answers above."
        )

    st.markdown("**Who refuses what?** Every held-out harmful request and harmless look-alike, for all three models.")
    refusal_panel([sft, ppo, dpo], key="dpo-refusals")

lesson.section("Code")
lesson.code_section("dpo")
lesson.next_page("dpo")
