"""Stage 3 - PPO: the policy climbs the reward model's score, leashed to the SFT model by a KL
penalty; trained live with charts, per-step samples and a per-token KL strip."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import lesson, state
from ui.text import md_escape
from ui.training import training_panel
from ui.widgets import model_badge, needs, refusal_panel, response_card, token_strip

lesson.header(
    "ppo",
    "Set the KL coefficient β and press **Train live**: PPO fine-tunes a copy of the SFT model to raise the "
    "reward model's score (about a minute). Watch reward go up and KL grow, read what it samples at each "
    "step, and see which tokens moved away from the SFT model.",
    live=True,
)
sft, reward = state.model_in_use("sft"), state.model_in_use("reward")
c1, c2, c3 = st.columns(3)
with c1:
    st.caption("Starting policy and frozen reference")
    model_badge("sft", sft)
with c2:
    st.caption("Reward")
    model_badge("reward", reward)
with c3:
    st.caption("RLHF model used by later pages")
    model_badge("ppo")

lesson.section("Background")
st.markdown(
    """
Now the language model is an **RL policy**: the prompt is the state, each token is an action, and the reward
arrives once the answer is finished: the reward model's score. **PPO** (proximal policy optimisation) nudges
the policy towards answers that scored above expectation, a little at a time.

Left alone, the policy would find *whatever the reward model over-rates* (reward hacking): odd phrases,
a single generic answer to everything. The **KL penalty** is the leash: every token pays
β × (how much more likely the policy made it than the frozen SFT reference). β = 0 removes the leash.

The extra machinery (a value head predicting future reward, GAE advantages, clipping) keeps each update small
and its gradient low-variance.
"""
)

lesson.section("Key equations")
st.markdown("What RLHF maximises: the reward-model score, minus the KL divergence from the reference policy:")
st.latex(
    r"\max_{\pi_\theta}\; \mathbb{E}_{x \sim D,\; y \sim \pi_\theta}\big[r_\phi(x, y)\big] \;-\; \beta\, "
    r"\mathrm{KL}\big(\pi_\theta(\cdot \mid x)\,\|\,\pi_{\mathrm{ref}}(\cdot \mid x)\big)"
)
st.markdown("Per-token rewards: the KL penalty on every token, the score on the last one ($T$):")
st.latex(
    r"r_t = -\beta \big(\log \pi_\theta(y_t \mid s_t) - \log \pi_{\mathrm{ref}}(y_t \mid s_t)\big) "
    r"+ [t = T]\; r_\phi(x, y)"
)
st.markdown("Advantages with GAE ($V$ is the value head's prediction):")
st.latex(
    r"\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t), \qquad \hat A_t = \sum_{l \ge 0} (\gamma\lambda)^l\, \delta_{t+l}"
)
st.markdown(
    "The clipped surrogate that PPO minimises, with the probability ratio $\\rho_t = \\pi_\\theta / \\pi_{\\mathrm{old}}$:"
)
st.latex(
    r"\mathcal{L}^{\mathrm{CLIP}} = -\,\mathbb{E}_t\Big[\min\big(\rho_t \hat A_t,\; "
    r"\mathrm{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\, \hat A_t\big)\Big]"
)

lesson.section("Pseudocode")
lesson.pseudocode(
    "ppo",
    before=["init: policy = copy of the SFT model; reference = the SFT model (frozen); value head = small MLP"],
)

# ------------------------------------------------------------------------------------------
lesson.section("Try it (live)")
w1, w2 = st.columns(2)
with w1:
    knobs = lesson.config_widgets(
        "ppo",
        {
            "kl_coef": ("select", "β: KL coefficient (0 = no leash)", [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]),
            "steps": ("slider", "PPO iterations (rollout + update)", 3, 100, 1),
        },
        "ppo",
    )
with w2:
    knobs |= lesson.config_widgets(
        "ppo",
        {
            "lr": ("select", "Learning rate", [1e-5, 2e-5, 5e-5, 1e-4, 2e-4]),
            "batch_size": ("slider", "Answers per rollout", 8, 64, 8),
        },
        "ppo",
    )
    knobs["minibatch_size"] = max(4, knobs["batch_size"] // 2)
if knobs["kl_coef"] == 0:
    st.warning(
        "β = 0: no KL leash. Expect the score to climb fast and the answers to drift towards whatever the reward model "
        "over-rates (reward hacking). Compare its answers below with a run at β = 0.05.",
        icon=":material/warning:",
    )

blocked = needs(["sft", "reward"])


def show_samples(job) -> None:
    if not job.samples:
        return
    st.markdown("**Samples per step** (newest first): what the policy wrote, its score and its KL to the reference.")
    rows = [
        {
            "step": s["step"],
            "prompt": s["prompt"],
            "response": s["response"],
            "score": round(s["score"], 2),
            "KL (nats)": round(s["kl"], 2),
        }
        for s in reversed(job.samples[-60:])
    ]
    st.dataframe(
        rows, hide_index=True, height=260, column_config={"response": st.column_config.TextColumn(width="large")}
    )


training_panel(
    "ppo",
    (lambda: playground.start_ppo(sft, reward, **knobs)) if not blocked else None,
    [
        "objective/score",
        "objective/kl",
        "objective/entropy",
        "response/length",
        "policy/clipfrac",
        "objective/rlhf_reward",
    ],
    blocked=blocked,
    extra=show_samples,
    reference_history=playground.shipped_metrics().get("ppo", {}).get("history"),
)

# ------------------------------------------------------------------------------------------
st.subheader("What changed: SFT vs RLHF on the same prompts")
policy = state.model_in_use("ppo")
if policy is None or sft is None:
    st.info("Train above (or build the shipped RLHF model) to compare it with the SFT model.", icon=":material/info:")
else:
    prompts = [playground.LOCK_PROMPT] + playground.example_prompts(
        "eval", n=3, seed=2, intents_wanted=("harmful", "benign_howto", "poem")
    )
    pick = st.selectbox("Prompt", prompts, key="ppo-compare-prompt")
    before = state.generate(sft, [pick], seed=0)[0]
    after = state.generate(policy, [pick], seed=0)[0]
    scores = (
        state.reward_scores(reward, [pick, pick], [before.text, after.text], [before.finished, after.finished])
        if reward
        else [None, None]
    )
    left, right = st.columns(2)
    with left:
        response_card(
            sft.title, before.text, playground.judge(pick, before.text), scores[0], before.n_tokens, before.finished
        )
    with right:
        response_card(
            policy.title, after.text, playground.judge(pick, after.text), scores[1], after.n_tokens, after.finished
        )

    st.subheader("Per-token KL: where the policy left the reference")
    st.markdown(
        f"Each token of the {md_escape(policy.label)}'s answer, coloured by "
        "$\\log \\pi_\\theta(y_t) - \\log \\pi_{\\mathrm{ref}}(y_t)$: how much more (red) or less (blue) likely the "
        "policy made it than the SFT reference. This is exactly the per-token penalty β pays on."
    )
    pairs = state.cached(
        ("token-kl", policy.uid, sft.uid, pick, after.text), lambda: playground.token_kl(policy, sft, pick, after.text)
    )
    token_strip(pairs)
    if pairs:
        st.caption(f"Sum over the answer: **{sum(v for _, v in pairs):+.2f} nats** (this sample's KL estimate).")

    st.subheader("Refusals on every held-out harmful request and look-alike")
    st.markdown(
        "One prompt shows one answer. This measures both models on all of them: did RLHF learn to refuse harmful "
        "requests, also ones about activities it never trained on, without refusing harmless look-alikes?"
    )
    refusal_panel([sft, policy], key="ppo-refusals")

lesson.section("Code")
lesson.code_section("ppo")
lesson.next_page("ppo")
