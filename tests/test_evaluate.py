"""Evaluation helpers and the eval JSON's keys."""

from __future__ import annotations

import random

import pytest
import torch

from rlhf_core.evaluate import Sample, continues_prompt, distinct_n, evaluate, is_repetitive, summarize, win_rate


def test_repetition_and_continuation(world):
    assert is_repetitive("the sea\nthe sea")
    assert is_repetitive("I like it a lot. I like it a lot. I like it a lot.")
    assert not is_repetitive("The sea is calm.\nThe wind is soft.")
    assert continues_prompt(
        world, "Write a poem about nature", "Write a poem about the sea. Write a poem about the sky."
    )
    assert continues_prompt(world, "Explain quantum computing", "Explain quantum computing and more")
    assert not continues_prompt(world, "Hello!", "Hello! How can I help you today?")
    assert continues_prompt(world, "Write a sad note about the lake.", " makes me cry.")  # finishes the sentence
    assert continues_prompt(world, "List three birds", "1. owl<|bos|>Worksheet 3.")  # runs into a new document
    assert not continues_prompt(world, "List three birds", "1. owl\n2. crow\n3. wren")


def test_ideal_answers_never_count_as_rambling(world):
    rng = random.Random(0)
    for p in world.eval_prompts():
        text = world.ideal_response(p, rng)
        assert not is_repetitive(text) and not continues_prompt(world, p.text, text), (p.text, text)


def test_distinct_and_win_rate():
    assert distinct_n(["a b c", "a b c"]) == 0.5
    assert distinct_n([]) == 0.0

    def s(total):
        return Sample("p", "poem", "r", total, {}, {}, True, 3)

    assert win_rate([s(1.0), s(0.5), s(0.2)], [s(0.5), s(0.5), s(0.9)]) == 0.5


def test_summary_of_ideal_answers(world, eval_keys):
    from rlhf_core.judge import judge

    rng = random.Random(0)
    samples = []
    for p in world.eval_prompts():
        text = world.ideal_response(p, rng)
        v = judge(p, text)
        samples.append(Sample(p.text, p.intent, text, v.total, v.checks, v.reasons, True, 10))
    m = summarize(samples, world)
    assert eval_keys <= set(m)
    assert m["n_prompts"] >= 50
    assert m["refusal_rate_harmful"] == 1.0 and m["overrefusal_rate_benign"] == 0.0
    assert m["gold_score"] > 0.9 and m["continuation_rate"] == 0.0
    assert set(m["by_intent"]) == {p.intent for p in world.eval_prompts()}


def test_seen_and_unseen_split_the_held_out_set_by_what_is_asked_about(world):
    """A policy that refuses exactly the harmful requests about activities it was trained on, and
    answers everything else ideally, shows refusal 1 on "seen" and 0 on "unseen"."""
    from rlhf_core.judge import judge

    rng = random.Random(0)
    prompts = world.eval_prompts()
    lock = world.parse_prompt("How do I pick a lock?")
    assert world.asks_about_unseen(lock) and not world.asks_about_unseen(world.parse_prompt("Hello there!"))
    samples = []
    for p in prompts:
        unseen = world.asks_about_unseen(p)
        text = world.compliant_response(p, rng) if p.intent == "harmful" and unseen else world.ideal_response(p, rng)
        v = judge(p, text)
        samples.append(Sample(p.text, p.intent, text, v.total, v.checks, v.reasons, True, 10))
    m = summarize(samples, world)
    n_harmful = sum(p.intent == "harmful" for p in prompts)
    n_unseen = sum(p.intent == "harmful" and world.asks_about_unseen(p) for p in prompts)
    assert 0 < n_unseen < n_harmful
    assert m["refusal_rate_harmful_seen"] == 1.0 and m["refusal_rate_harmful_unseen"] == 0.0
    assert m["refusal_rate_harmful"] == pytest.approx((n_harmful - n_unseen) / n_harmful)
    assert m["overrefusal_rate_benign_seen"] == m["overrefusal_rate_benign_unseen"] == 0.0
    assert m["gold_score_seen"] > m["gold_score_unseen"]  # the unseen part holds the harmful guides


def test_evaluate_a_model_has_every_key(tiny_sft, world, eval_keys):
    model, tok = tiny_sft
    metrics, samples = evaluate(model, tok, world)
    assert eval_keys <= set(metrics)
    assert len(samples) == metrics["n_prompts"] == len(world.eval_prompts())
    assert 0.0 <= metrics["gold_score"] <= 1.0


def test_evaluate_over_seeds_averages_the_single_evaluations(tiny_sft, world):
    """The mean is the average of the plain evaluations with each seed; the spread is their
    standard error; a model against itself ties on every prompt of every seed."""
    import pytest

    from rlhf_core.evaluate import evaluate_over_seeds

    model, tok = tiny_sft
    result = evaluate_over_seeds(model, tok, world, [0, 1], against=model)
    singles = [evaluate(model, tok, world, seed=s)[0] for s in (0, 1)]
    gold = [m["gold_score"] for m in singles]
    assert result["metrics"]["gold_score"]["mean"] == pytest.approx(sum(gold) / 2)
    assert result["metrics"]["gold_score"]["se"] == pytest.approx(abs(gold[0] - gold[1]) / 2)
    intent = next(iter(result["gold_by_intent"]))
    by_intent = [m["by_intent"][intent]["gold_score"] for m in singles]
    assert result["gold_by_intent"][intent]["mean"] == pytest.approx(sum(by_intent) / 2)
    assert result["metrics"]["win_rate"] == {"mean": 0.5, "se": 0.0}
    assert [r["seed"] for r in result["per_seed"]] == [0, 1]
    with pytest.raises(ValueError, match="at least one seed"):
        evaluate_over_seeds(model, tok, world, [])


def test_scoreboard_samples_each_model_once_per_seed(tiny_sft, world):
    """The scoreboard's numbers equal :func:`evaluate_over_seeds`' for each model; every model
    but the reference gets a win rate over it (a copy of the reference ties: 0.5)."""
    import pytest

    from rlhf_core.evaluate import evaluate_over_seeds, scoreboard

    model, tok = tiny_sft
    board = scoreboard({"sft": (model, tok), "ppo": (model, tok)}, world, [0, 1])
    alone = evaluate_over_seeds(model, tok, world, [0, 1])
    assert board["seeds"] == [0, 1] and board["n_prompts"] == len(world.eval_prompts())
    for stage in ("sft", "ppo"):
        assert board["stages"][stage]["metrics"]["gold_score"] == pytest.approx(alone["metrics"]["gold_score"])
        assert board["stages"][stage]["gold_by_intent"] == alone["gold_by_intent"]
    assert "win_rate" not in board["stages"]["sft"]["metrics"]
    assert board["stages"]["ppo"]["metrics"]["win_rate"] == {"mean": 0.5, "se": 0.0}
    with pytest.raises(ValueError, match="at least one seed"):
        scoreboard({"sft": (model, tok)}, world, [])


def test_kl_to_reference_at_a_temperature(tiny_sft, tiny_base, world):
    from rlhf_core.evaluate import kl_to_reference
    from rlhf_core.generate import SamplingConfig, generate
    from rlhf_core.ppo import response_token_logprobs

    (sft, tok), (base, _) = tiny_sft, tiny_base
    prompts = world.eval_prompts()[:8]
    assert kl_to_reference(sft, sft, tok, prompts, temperature=0.7) == pytest.approx(0.0, abs=1e-6)
    cold = kl_to_reference(sft, base, tok, prompts, max_new_tokens=12, temperature=0.7)
    # By hand: the same seeded samples at T = 0.7, log-probs of both models from logits / 0.7.
    gen = generate(
        sft,
        tok,
        [p.text for p in prompts],
        SamplingConfig(max_new_tokens=12, temperature=0.7),
        torch.Generator().manual_seed(0),
    )
    args = (gen.prompt_ids, gen.prompt_mask, gen.response_ids, gen.response_mask, 0.7)
    with torch.no_grad():
        ratio = (response_token_logprobs(sft, *args) - response_token_logprobs(base, *args)) * gen.response_mask
    assert cold == pytest.approx(float(ratio.sum(1).mean()), rel=1e-4) and cold > 0
    assert kl_to_reference(sft, base, tok, prompts, max_new_tokens=12) != pytest.approx(cold, rel=1e-3)
