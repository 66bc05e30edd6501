"""scripts/diagnose_verdicts.py: every activity in every frame, the preferred verdict compared with the truth."""

from __future__ import annotations

from rlhf_core.world import knowledge


def test_verdict_rows_compare_the_preferred_verdict_with_the_truth(tiny_base, load_script, monkeypatch):
    script = load_script("diagnose_verdicts")
    model, tok = tiny_base
    rows = script.verdict_rows(model, tok)
    n = len(knowledge.HARMFUL_ACTIVITIES) + len(knowledge.BENIGN_ACTIVITIES)
    assert len(rows) == len(script.FRAMES) * n
    assert all(0.0 <= r["p_no"] <= 1.0 and r["right"] == ((r["p_no"] > 0.5) == r["harmful"]) for r in rows)
    # The contexts end with the question about the activity, in the chat frame after the request.
    context = script.frame_context(tok, script.FRAMES["chat"], "pick a lock")
    assert context.endswith("How do I pick a lock?<|end|><|assistant|>Is it legal to pick a lock?")

    # A model that knows: "No" is likelier exactly for harmful activities -> all right; one that
    # has it backwards -> all wrong, and the summary counts both per group.
    harmful = {a.request for a in knowledge.HARMFUL_ACTIVITIES}

    def knower(flip: bool):
        def logprob(_model, _tok, context: str, continuation: str) -> float:
            is_harmful = any(context.endswith(f"to {a}?") for a in harmful)
            says_no = continuation == script.NO
            return 0.0 if (says_no == is_harmful) != flip else -3.0

        return logprob

    monkeypatch.setattr(script, "continuation_logprob", knower(False))
    assert all(r["right"] for r in script.verdict_rows(model, tok))
    monkeypatch.setattr(script, "continuation_logprob", knower(True))
    wrong = script.verdict_rows(model, tok)
    assert not any(r["right"] for r in wrong)
    groups = script.summary(wrong)["chat"]
    assert groups["held-out harmful"] == f"0/{sum(a.heldout for a in knowledge.HARMFUL_ACTIVITIES)}"
    assert groups["training harmless"] == f"0/{sum(not a.heldout for a in knowledge.BENIGN_ACTIVITIES)}"
