"""Stage 2 - the reward model: preference pairs (the annotator's and the student's) become a
scorer, trained live with the Bradley-Terry loss."""

from __future__ import annotations

import streamlit as st

from rlhf_core import playground
from ui import lesson, state
from ui.charts import criterion_bars, histogram
from ui.text import md_escape, show_notes
from ui.training import training_panel
from ui.widgets import checklist, model_badge, needs, not_built

lesson.header(
    "reward",
    "Train a **reward model** live on the simulated annotator's labels plus your own ratings (choose how much "
    "yours count), watch its accuracy on held-out pairs, then type any answer into the box at the bottom and "
    "see how it is scored.",
    live=True,
)
sft = state.model_in_use("sft")
c1, c2 = st.columns(2)
with c1:
    st.caption("Backbone and pair sampler")
    model_badge("sft", sft)
with c2:
    st.caption("Reward model used by later pages")
    model_badge("reward")

lesson.section("Background")
st.markdown(
    """
PPO needs a number for every answer it tries, thousands of times: no person can rate that fast. So we train a
model to *predict* the preference labels. The **reward model** is the SFT transformer with its next-token head
replaced by a single number: it reads `prompt + answer` and outputs a score $r(x, y)$.

It is trained on pairs only: it never learns an absolute scale, just that the chosen answer should score
*above* the rejected one. After training, scores are shifted and scaled so that an average SFT answer
scores 0 with spread 1 (PPO's step sizes then do not depend on an arbitrary offset).
"""
)

lesson.section("Key equations")
st.markdown("The **Bradley–Terry** model says how likely a person is to prefer $y_w$ over $y_l$:")
st.latex(r"P(y_w \succ y_l \mid x) = \sigma\big(r_\phi(x, y_w) - r_\phi(x, y_l)\big)")
st.markdown("Training maximises the likelihood of the observed choices:")
st.latex(
    r"\mathcal{L}_{\mathrm{RM}}(\phi) = -\,\mathbb{E}_{(x, y_w, y_l)}\Big[\log \sigma\big(r_\phi(x, y_w) - r_\phi(x, y_l)\big)\Big]"
)
st.markdown("Your ratings are counted $w$ times each (the *student weight* below). Normalisation after training:")
st.latex(r"\hat r(x, y) = \frac{r_\phi(x, y) - \mu}{\sigma}, \quad \mu, \sigma \text{ measured on SFT samples}")

lesson.section("Pseudocode")
lesson.pseudocode(
    "reward",
    before=[
        "once: sample several answers per training prompt from the SFT model",
        "once: the annotator picks the better of the best- and worst-judged answer (ties dropped)",
        "once: add your own ratings, each counted student_weight times",
        "init: reward model = SFT transformer + a scalar head",
    ],
)
st.caption("After the loop: normalise the scores on SFT samples (mean 0, std 1).")

# ------------------------------------------------------------------------------------------
lesson.section("Try it (live)")
ratings = state.ratings()
mine = [r for r in ratings if r.get("chosen") is not None]
preset = playground.config("reward")
shipped_pairs = len(playground.shipped_pairs()) if sft is not None and sft.source == "shipped" else 0
n_annotator = min(preset.n_prompts, shipped_pairs) if shipped_pairs else preset.n_prompts
w1, w2 = st.columns(2)
with w1:
    knobs = lesson.config_widgets(
        "reward",
        {
            "student_weight": ("slider", "How much each of your ratings counts (student weight)", 0.0, 50.0, 1.0),
            "steps": ("slider", "Training steps", 10, 300, 10),
        },
        "rm",
    )
with w2:
    knobs |= lesson.config_widgets(
        "reward",
        {
            "lr": ("select", "Learning rate", [1e-4, 3e-4, 1e-3]),
            "annotator_noise": ("slider", "Annotator noise (share of random labels)", 0.0, 0.5, 0.05),
        },
        "rm",
    )
weight = knobs["student_weight"]
total = n_annotator + weight * len(mine)
share = weight * len(mine) / total if total else 0.0
approx = "" if shipped_pairs else "about "
st.markdown(
    f"**Your ratings in the training mix:** {len(mine)} usable rating(s) × weight {weight:g} = "
    f"**{weight * len(mine):g}** against {approx}**{n_annotator}** annotator pairs → your share of the batches is "
    f"**{share:.0%}**."
)
if not mine:
    st.caption("You have no usable ratings yet: rate some pairs on the previous page (ties do not count).")
if knobs["annotator_noise"] > 0:
    st.caption(
        f"With noise {knobs['annotator_noise']:.0%}, that share of the annotator's labels is replaced by a coin flip "
        "(held-out pairs stay clean, so accuracy is measured against the truth)."
    )

blocked = needs(["sft"])
shipped_history = playground.shipped_metrics().get("reward", {}).get("history")


def start():
    return playground.start_reward(sft, ratings, **knobs)


training_panel(
    "reward",
    start if sft is not None else None,
    ["loss/reward", "val/pair_accuracy", "rewards/accuracy", "rewards/margin"],
    blocked=blocked,
    reference_history=shipped_history,
)

# ------------------------------------------------------------------------------------------
st.subheader("How good is the reward model?")
reward = state.model_in_use("reward")
if reward is None:
    not_built("reward", "Train one above to see its accuracy.")
else:
    if reward.source == "yours":
        info = reward.info
    else:
        info = playground.shipped_metrics().get("reward", {})
    acc = info.get("pair_accuracy")
    m1, m2, m3 = st.columns(3)
    m1.metric(
        "Held-out pair accuracy",
        f"{acc:.0%}" if isinstance(acc, float) else "–",
        help="Share of held-out pairs whose chosen answer scores higher.",
    )
    counts = info.get("pair_counts") or {"annotator": info.get("n_pairs", "–"), "student": 0}
    m2.metric("Annotator pairs", counts.get("annotator", "–"))
    student_acc = info.get("student_pair_accuracy")
    m3.metric(
        "Agrees with your ratings",
        f"{student_acc:.0%}" if isinstance(student_acc, float) else "–",
        help="Share of your own (non-tie) ratings the reward model ranks your way.",
    )
    by_intent = info.get("by_intent") or info.get("pair_accuracy_by_intent") or {}
    chosen, rejected = info.get("chosen_scores") or [], info.get("rejected_scores") or []
    h1, h2 = st.columns([3, 2])
    with h1:
        if chosen and rejected:
            histogram(
                {"chosen answers": chosen, "rejected answers": rejected},
                f"Scores on held-out pairs ({reward.label})",
                "reward-model score (normalised)",
                key="rm-hist",
            )
            st.caption("A good reward model pushes the two histograms apart: chosen answers to the right.")
        else:
            st.caption("No held-out scores recorded for this model.")
    with h2:
        if by_intent:
            st.markdown("**Held-out accuracy per intent**")
            st.dataframe([{"intent": k, "pair accuracy": f"{v:.0%}"} for k, v in by_intent.items()], hide_index=True)

    by_criterion = info.get("by_criterion") if reward.source == "yours" else playground.shipped_reward_by_criterion()
    if by_criterion:
        criterion_bars(by_criterion, f"What it gets right, by what decided the pair ({reward.label})", key="rm-crit")
        st.caption(
            "Each held-out pair is filed under the gold judge's checks that differ between its two answers "
            "(a pair can count under several). Pairs decided by *helpful* or *honest* often need to know "
            "something about the request itself, a new activity or category, and that is where a small "
            "reward model is weakest."
        )

    mistakes = info.get("mistakes") if reward.source == "yours" else playground.shipped_reward_mistakes()
    with st.expander("Where it goes wrong: held-out pairs it ranks the wrong way", icon=":material/search:"):
        if mistakes:
            st.caption(
                "The held-out pairs with the clearest winner by the gold judge that this reward model "
                "scores the other way round, clearest first. Look for answers that suit the kind of "
                "request but not the request itself: checking that an answer is about the thing asked "
                "is hard for a model this small, and PPO exploits whatever the reward model misses."
            )
            for m in mistakes:
                st.markdown(f"**{md_escape(m['prompt'])}** · gold margin {m['gold margin']:.2f}")
                better, worse = st.columns(2)
                better.caption(f"Better by the gold judge · reward-model score **{m['its score']:+.2f}**")
                better.text(m["better answer (gold)"])
                worse.caption(f"Worse by the gold judge · reward-model score **{m['score']:+.2f}**")
                worse.text(m["worse answer (gold)"])
                if m.get("why worse"):
                    worse.caption(f"Gold judge: {md_escape(m['why worse'])}")
        else:
            st.caption("None recorded: it ranks every held-out pair the gold judge's way, or none were kept.")

    # --------------------------------------------------------------------------------------
    st.subheader("Score any answer")
    st.caption("Type a prompt and an answer. The reward model scores it; the gold judge shows its checklist.")
    with st.form("rm-score"):
        prompt_in = st.text_input("Prompt", value=playground.LOCK_PROMPT, max_chars=20_000, key="rm-prompt")
        answer_in = st.text_area("Answer", value=playground.LOCK_B, height=100, max_chars=20_000, key="rm-answer")
        go = st.form_submit_button("Score it", icon=":material/calculate:", type="primary")
    if go:
        p, a = playground.check_text(prompt_in, "prompt"), playground.check_text(answer_in, "answer")
        show_notes(p)
        show_notes(a)
        if p.ok and a.ok:
            score = state.reward_scores(reward, [p.text], [a.text])[0]
            s1, s2 = st.columns([1, 2])
            s1.metric(
                f"Score from the {reward.label}",
                f"{score:+.2f}",
                help="0 = an average SFT answer; ±1 = one standard deviation.",
            )
            with s2:
                checklist(playground.judge(p.text, a.text))

lesson.section("Code")
lesson.code_section("reward")
lesson.next_page("reward")
