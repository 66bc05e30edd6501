"""Reward model: preference sampling, a tiny Bradley-Terry run that learns, normalisation."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from rlhf_core.reward import (
    PreferencePair,
    RewardConfig,
    RewardTrainer,
    accuracy_by_criteria,
    calibration_samples,
    deciding_criteria,
    load_pairs,
    pair_accuracy,
    reframed_pairs,
    reward_model_from_policy,
    sample_comparisons,
    sample_preference_pairs,
    save_pairs,
    score_texts,
)
from rlhf_core.training import run
from rlhf_core.world import Prompt, phrasings

GENERIC = "Hey! How can I help?"


def good_vs_generic(world, prompts):
    rng = random.Random(0)
    return [PreferencePair(p.text, world.ideal_response(p, rng), GENERIC, p.intent) for p in prompts]


def test_sampled_pairs_are_labelled_by_the_judge(tiny_sft, world):
    from rlhf_core.judge import judge

    model, tok = tiny_sft
    prompts = world.train_prompts()[:16]
    pairs = sample_preference_pairs(model, tok, prompts, samples_per_prompt=3, max_new_tokens=24, seed=0)
    by_text = {p.text: p for p in prompts}
    for pair in pairs:
        prompt = by_text[pair.prompt]
        assert judge(prompt, pair.chosen).total > judge(prompt, pair.rejected).total  # noise 0: the truth
        assert pair.to_trl().keys() == {"prompt", "chosen", "rejected"}


def test_off_topic_pairs_show_harmful_requests_answers_of_every_kind(world, monkeypatch):
    """A harmful request's off-topic comparisons draw on look-alike answers AND on other intents'
    answers ("I don't know ..."), so the reward model sees both rejected for it."""
    import rlhf_core.reward as reward_module
    from rlhf_core.generate import Generation

    rng = random.Random(0)

    def scripted_generate(_policy, _tok, texts, *_args, **_kwargs):
        # Each prompt's "sample" is the world's ideal answer to it: the source is recognisable.
        answers = [world.ideal_response(world.parse_prompt(t), rng) for t in texts]
        empty = torch.zeros(len(texts), 1, dtype=torch.long)
        return Generation(empty, empty, empty, empty, torch.ones(len(texts), dtype=torch.bool), answers)

    monkeypatch.setattr(reward_module, "generate", scripted_generate)
    prompts = world.train_prompts()
    pairs = sample_preference_pairs(
        torch.nn.Linear(1, 1), None, prompts, samples_per_prompt=2, seed=0, mismatch_share=1.0
    )
    harmful = [p for p in pairs if p.intent == "harmful"]
    assert harmful
    prompt_intents = {world.parse_prompt(p.prompt).intent for p in harmful}
    assert prompt_intents == {"harmful"}
    lookalike = [p for p in harmful if p.rejected.startswith(("Here is how", "Sure! Here is how"))]
    other = [p for p in harmful if not p.rejected.startswith(("Here is how", "Sure! Here is how"))]
    assert lookalike and other, (len(lookalike), len(other))
    # Whatever the source, the refusal is the chosen answer (the annotator is the gold judge).
    assert all(p.chosen_score > p.rejected_score for p in harmful)


def test_refusal_contrast_shows_look_alikes_a_rejected_refusal(world, monkeypatch):
    """With ``refusal_contrast`` a benign look-alike's off-topic comparison is against a refusal
    written for a harmful request, and the annotator rejects the refusal."""
    import rlhf_core.reward as reward_module
    from rlhf_core.generate import Generation
    from rlhf_core.judge import is_refusal

    def scripted_generate(_policy, _tok, texts, *_args, **_kwargs):
        rng = random.Random(len(texts))
        answers = [world.ideal_response(world.parse_prompt(t), rng) for t in texts]
        empty = torch.zeros(len(texts), 1, dtype=torch.long)
        return Generation(empty, empty, empty, empty, torch.ones(len(texts), dtype=torch.bool), answers)

    monkeypatch.setattr(reward_module, "generate", scripted_generate)
    prompts = world.train_prompts()
    n_benign = sum(p.intent == "benign_howto" for p in prompts)

    def benign_vs_refusal(contrast: float) -> list:
        pairs = sample_preference_pairs(
            torch.nn.Linear(1, 1), None, prompts, samples_per_prompt=2, seed=0, mismatch_share=1.0,
            refusal_contrast=contrast,
        )  # fmt: skip
        return [p for p in pairs if p.intent == "benign_howto" and is_refusal(p.rejected)]

    with_contrast, without = benign_vs_refusal(1.0), benign_vs_refusal(0.0)
    assert len(with_contrast) == n_benign  # every look-alike, once
    assert len(without) < n_benign / 2
    assert all(p.chosen_score > p.rejected_score and not is_refusal(p.chosen) for p in with_contrast)


def test_demonstrations_add_ranked_pairs_and_leave_the_sampled_ones(world, monkeypatch):
    """A demonstration is compared with each of its prompt's samples and, with ``demo_foreign``,
    with answers written for other intents; the pairs sampled without it stay the same."""
    import rlhf_core.reward as reward_module
    from rlhf_core.generate import Generation
    from rlhf_core.judge import judge

    def scripted_generate(_policy, _tok, texts, *_args, **_kwargs):
        # A sample is either the ideal answer or the generic greeting: some pairs, some ties.
        rng = random.Random(len(texts))
        answers = [world.ideal_response(world.parse_prompt(t), rng) if rng.random() < 0.5 else GENERIC for t in texts]
        empty = torch.zeros(len(texts), 1, dtype=torch.long)
        return Generation(empty, empty, empty, empty, torch.ones(len(texts), dtype=torch.bool), answers)

    monkeypatch.setattr(reward_module, "generate", scripted_generate)
    prompts = world.train_prompts()[:60]
    demos = {p.text: world.ideal_response(p, random.Random(1)) for p in prompts[::2]}

    def pairs(**kw):
        return sample_preference_pairs(
            torch.nn.Linear(1, 1), None, prompts, samples_per_prompt=3, seed=0, mismatch_share=0.5, **kw
        )

    plain = pairs()
    own = pairs(demonstrations=demos)
    foreign = pairs(demonstrations=demos, demo_foreign=2)
    sampled = [p for p in own if p.source == "annotator"]
    assert [(p.prompt, p.chosen, p.rejected) for p in sampled] == [(p.prompt, p.chosen, p.rejected) for p in plain]
    extra = [p for p in own if p.source == "demonstration"]
    assert extra and {p.prompt for p in extra} <= set(demos)
    by_text = {p.text: p for p in prompts}
    for p in extra + [p for p in foreign if p.source == "demonstration"]:
        assert demos[p.prompt] in (p.chosen, p.rejected)
        prompt = by_text[p.prompt]
        assert judge(prompt, p.chosen).total > judge(prompt, p.rejected).total  # the annotator's order
    # The foreign comparisons put the demonstration against another intent's answer.
    demo_pairs = [p for p in foreign if p.source == "demonstration"]
    assert len(demo_pairs) > len(extra)
    own_answers = {(p.prompt, t) for p in own for t in (p.chosen, p.rejected)}
    assert any((p.prompt, p.rejected) not in own_answers for p in demo_pairs)


def test_round_comparisons_put_each_policy_against_the_other(world, monkeypatch):
    """Iterated RLHF's comparisons: each prompt's responses from both policies (the PPO policy's
    template and SFT's answer here) are ranked against each other by the annotator; a response both
    wrote once is one response, and ties give no pair."""
    import rlhf_core.reward as reward_module
    from rlhf_core.generate import Generation
    from rlhf_core.judge import judge

    ppo_policy, sft_policy = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    asked = Counter()

    def scripted_generate(policy, _tok, texts, *_args, **_kwargs):
        # The "PPO policy" answers everything with one template; "SFT" writes the ideal answer.
        asked[id(policy)] += len(texts)
        if policy is ppo_policy:
            answers = [GENERIC] * len(texts)
        else:  # one answer per prompt: both samples are the same response
            answers = [world.ideal_response(world.parse_prompt(t), random.Random(t)) for t in texts]
        empty = torch.zeros(len(texts), 1, dtype=torch.long)
        return Generation(empty, empty, empty, empty, torch.ones(len(texts), dtype=torch.bool), answers)

    monkeypatch.setattr(reward_module, "generate", scripted_generate)
    by_intent = Counter()
    prompts = [p for p in world.train_prompts() if (by_intent.update([p.intent]) or by_intent[p.intent]) <= 5]
    pairs = sample_comparisons([ppo_policy, sft_policy], None, prompts, samples_per_policy=2, seed=0)
    assert asked == {id(ppo_policy): 2 * len(prompts), id(sft_policy): 2 * len(prompts)}
    ideal = {p.text: world.ideal_response(p, random.Random(p.text)) for p in prompts}
    expected = sum(judge(p, GENERIC).total != judge(p, ideal[p.text]).total for p in prompts)
    assert 0 < expected == len(pairs)  # one comparison per prompt whose two answers differ in gold
    by_text = {p.text: p for p in prompts}
    for pair in pairs:
        assert {pair.chosen, pair.rejected} == {GENERIC, ideal[pair.prompt]}
        assert judge(by_text[pair.prompt], pair.chosen).total > judge(by_text[pair.prompt], pair.rejected).total
        assert pair.source == "round"
    # The template is rejected wherever the annotator can tell it apart from SFT's answer.
    harmful = [pair for pair in pairs if pair.intent == "harmful"]
    assert harmful and all(pair.rejected == GENERIC for pair in harmful)


@pytest.mark.parametrize("group_by_prompt", [False, True])
def test_reward_tiny_run_learns(tiny_sft, world, tmp_path, group_by_prompt):
    policy, tok = tiny_sft
    prompts = world.train_prompts()
    train_pairs = good_vs_generic(world, prompts[:64])
    eval_pairs = good_vs_generic(world, world.eval_prompts()[:32])
    model = reward_model_from_policy(policy)
    before_params = [p.detach().clone() for p in model.parameters()]
    config = RewardConfig(steps=40, batch_size=16, lr=1e-3, eval_every=40, group_by_prompt=group_by_prompt)
    trainer = RewardTrainer(config, model, tok, train_pairs, eval_pairs)
    before = pair_accuracy(model, tok, eval_pairs)["pair_accuracy"]
    history = run(trainer)
    assert all(torch.isfinite(torch.tensor(h["loss/reward"])) for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(before_params, model.parameters(), strict=True))
    after = history[-1]["val/pair_accuracy"]
    assert after > before and after >= 0.9
    # Normalisation: mean 0 / std 1 on the initial policy's own samples.
    stats = trainer.calibrate(policy, prompts, n=32)
    assert stats["reward_std"] > 0
    # Samples drawn beforehand (what an ensemble's members share) give the same statistics.
    samples = calibration_samples(policy, tok, prompts, n=32, max_new_tokens=config.max_new_tokens)
    assert len(samples.texts) == len(samples.prompts) == len(samples.finished) == 32
    assert trainer.calibrate(policy, prompts, n=32, samples=samples) == stats
    other = calibration_samples(policy, tok, prompts, n=32, seed=1, max_new_tokens=config.max_new_tokens)
    assert trainer.calibrate(policy, prompts, n=32, samples=other) != stats
    scores = score_texts(model, tok, ["Hi"], [GENERIC])
    assert len(scores) == 1 and abs(scores[0]) < 100
    # Pairs round-trip through JSONL.
    save_pairs(train_pairs[:3], tmp_path / "p.jsonl")
    assert [p.to_trl() for p in load_pairs(tmp_path / "p.jsonl")] == [p.to_trl() for p in train_pairs[:3]]


def test_student_ratings_are_weighted(tiny_sft, world):
    policy, tok = tiny_sft
    student = [PreferencePair("Hi", "Hello! How can I help you today?", "no", "greeting", source="student")]
    trainer = RewardTrainer(
        RewardConfig(student_weight=50.0, batch_size=64),
        reward_model_from_policy(policy),
        tok,
        good_vs_generic(world, world.train_prompts()[:10]),
        None,
        student,
    )
    idx = trainer.rng.choices(range(len(trainer.pairs)), weights=trainer.weights, k=2000)
    share = sum(i == len(trainer.pairs) - 1 for i in idx) / len(idx)
    assert 0.7 < share < 0.95  # 50 / (50 + 10)


def test_grouped_batches_hold_whole_prompts_and_each_pair_once_per_epoch(tiny_sft):
    policy, tok = tiny_sft
    pairs = [PreferencePair(f"prompt {i}", f"good {j}", f"bad {j}") for i in range(20) for j in range(i % 4 + 1)]
    big = [PreferencePair("big", f"good {j}", f"bad {j}") for j in range(11)]  # more than one batch holds
    student = [PreferencePair("mine", "yes", "no", source="student")]
    config = RewardConfig(batch_size=8, group_by_prompt=True, student_weight=3.0)
    trainer = RewardTrainer(config, reward_model_from_policy(policy), tok, pairs + big, None, student)
    for _ in range(2):  # two epochs, each complete, in different orders
        epoch = trainer.grouped_epoch()
        seen = Counter((p.prompt, p.chosen) for batch in epoch for p in batch)
        assert seen == Counter({(p.prompt, p.chosen): 1 for p in pairs + big} | {("mine", "yes"): 3})
        assert all(0 < len(batch) <= 8 for batch in epoch)
        for prompt in {p.prompt for p in pairs} | {"mine"}:
            assert sum(any(p.prompt == prompt for p in batch) for batch in epoch) == 1, prompt
        assert sum(any(p.prompt == "big" for p in batch) for batch in epoch) == 2
    # the trainer walks through an epoch's batches before drawing the next epoch
    drawn = [trainer._batch()[0].shape[0] // 2]  # (2B, T) rows -> B pairs
    while trainer._epoch:
        drawn.append(trainer._batch()[0].shape[0] // 2)
    assert sum(drawn) == len(pairs) + len(big) + 3


def test_grouped_batches_need_a_pair_that_counts():
    from types import SimpleNamespace

    trainer = SimpleNamespace(
        pairs=[PreferencePair("p", "a", "b", source="student")],
        weights=[0.4],
        rng=random.Random(0),
        config=RewardConfig(group_by_prompt=True),
    )
    with pytest.raises(ValueError, match="student_weight"):
        RewardTrainer.grouped_epoch(trainer)


def _first_with_ideal(world, intent):
    prompt = next(p for p in world.train_prompts() if p.intent == intent)
    return prompt, world.ideal_response(prompt, random.Random(0))


REFUSAL = "I can't help with that, because it could be illegal or hurt someone."


def test_deciding_criteria_name_what_the_judge_tells_apart(world):
    """The same answer twice: nothing differs; a leftover chat marker: only the format; the wrong
    kind of answer to a sum: helpfulness and honesty, not the format."""
    prompt, ideal = _first_with_ideal(world, "arithmetic")
    assert deciding_criteria(prompt, ideal, ideal) == ("none",)
    assert deciding_criteria(prompt, ideal, ideal + " <|user|>") == ("well_formatted",)
    assert deciding_criteria(prompt, ideal, REFUSAL) == ("helpful", "honest")


def test_accuracy_by_criteria_groups_counts_and_orders_by_mistakes(world):
    """Accuracy follows the scores (chosen above rejected is right), a pair counts under every
    criterion that decided it, the group with most wrong pairs comes first, and the margin is the
    mean gold-score difference."""
    prompt, ideal = _first_with_ideal(world, "arithmetic")
    fmt = PreferencePair(prompt.text, ideal, ideal + " <|user|>", "arithmetic", 0.95, 0.9)
    wrong_kind = PreferencePair(prompt.text, ideal, REFUSAL, "arithmetic", 0.95, 0.15)
    pairs = [fmt, fmt, wrong_kind, wrong_kind, wrong_kind]
    chosen = [1.0, 1.0, 0.0, 0.0, 2.0]  # format pairs right; two of three wrong-kind pairs wrong
    rejected = [0.0, 0.0, 1.0, 1.0, 1.0]
    groups, criteria = accuracy_by_criteria(world, pairs, chosen, rejected)
    assert [g["group"] for g in groups] == ["arithmetic: helpful+honest", "arithmetic: well_formatted"]
    assert groups[0]["n"] == 3 and groups[0]["wrong"] == 2 and groups[0]["accuracy"] == pytest.approx(1 / 3)
    assert groups[0]["margin"] == pytest.approx(0.8)
    assert groups[1]["n"] == 2 and groups[1]["wrong"] == 0 and groups[1]["margin"] == pytest.approx(0.05)
    by_name = {row["group"]: row for row in criteria}
    assert set(by_name) == {"helpful", "honest", "well_formatted"}
    assert by_name["helpful"]["n"] == by_name["honest"]["n"] == 3 and by_name["well_formatted"]["n"] == 2
    assert [row["group"] for row in criteria][-1] == "well_formatted"  # no mistakes: last
    with pytest.raises(ValueError, match="one chosen and one rejected score"):
        accuracy_by_criteria(world, pairs, chosen[:-1], rejected)


def test_ensemble_scores_and_pair_accuracy_use_the_members_mean(tiny_sft, world):
    """A list of reward models scores texts by the mean of the members' normalised scores, and
    ``pair_accuracy`` of the list is measured on that mean. Members disagree here on purpose: one
    is trained to prefer the demonstrations, the other the generic reply."""
    from rlhf_core.reward import ensemble_scores, last_token_scores
    from rlhf_core.training import tokenize_conversations

    policy, tok = tiny_sft
    pairs = good_vs_generic(world, world.train_prompts()[:48])
    flipped = [PreferencePair(p.prompt, p.rejected, p.chosen, p.intent) for p in pairs]
    members = []
    for seed, data in enumerate((pairs, flipped)):
        torch.manual_seed(seed)
        model = reward_model_from_policy(policy)
        run(RewardTrainer(RewardConfig(steps=30, batch_size=16, lr=1e-3, eval_every=30, seed=seed), model, tok, data))
        model.config.reward_mean, model.config.reward_std = float(seed), 1.0 + seed
        members.append(model)
    prompts, responses = [p.prompt for p in pairs[:6]], [p.chosen for p in pairs[:6]]
    each = [score_texts(m, tok, prompts, responses) for m in members]
    mean = score_texts(members, tok, prompts, responses)
    assert mean == pytest.approx([(a + b) / 2 for a, b in zip(*each, strict=True)], abs=1e-5)
    ids, mask, _ = tokenize_conversations(tok, prompts, responses, [True] * 6, max_len=128)
    with torch.no_grad():
        raw = last_token_scores(members[1], ids, mask)
        torch.testing.assert_close(ensemble_scores([members[1]], ids, mask), (raw - 1.0) / 2.0)
        torch.testing.assert_close(ensemble_scores(members, ids, mask), torch.tensor(mean), atol=1e-5, rtol=1e-5)
    accs = [pair_accuracy(m, tok, pairs)["pair_accuracy"] for m in members]
    assert accs[0] >= 0.9 and accs[1] <= 0.1  # the members really disagree
    chosen = score_texts(members, tok, [p.prompt for p in pairs], [p.chosen for p in pairs])
    rejected = score_texts(members, tok, [p.prompt for p in pairs], [p.rejected for p in pairs])
    expected = sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(pairs)
    assert pair_accuracy(members, tok, pairs)["pair_accuracy"] == expected


def test_reframed_pairs_are_the_same_answers_judged_on_the_reframed_request(world):
    """``reframe_share``: about that share of the pairs comes back once more, same two answers, with
    the request in a made-up frame (same intent and slots) and the annotator's label on it; poems,
    notes, greetings and "unknown" questions never; the same seed gives the same pairs."""
    from rlhf_core.judge import judge

    rng = random.Random(1)
    prompts = world.train_prompts()[:300]
    # the right answer against another request's right answer: the judge tells every such pair apart
    pairs = [
        PreferencePair(p.text, world.ideal_response(p, rng), world.ideal_response(q, rng), p.intent)
        for p, q in zip(prompts, prompts[1:] + prompts[:1], strict=True)
        if p.intent != q.intent
    ]
    reframable = [p for p in pairs if p.intent in phrasings.REFRAMED_INTENTS]
    out = reframed_pairs(pairs, world, 0.5, seed=3)
    assert out == reframed_pairs(pairs, world, 0.5, seed=3)
    assert 0.35 * len(reframable) < len(out) < 0.6 * len(reframable)
    assert reframed_pairs(pairs, world, 0.0, seed=3) == []
    assert len(reframed_pairs(pairs, world, 1.0, seed=3)) > 0.85 * len(reframable)
    originals = {(p.chosen, p.rejected): p for p in pairs}
    for new in out:
        assert new.source == "reframed" and new.intent in phrasings.REFRAMED_INTENTS
        old = originals.get((new.chosen, new.rejected)) or originals[(new.rejected, new.chosen)]
        assert new.prompt != old.prompt and new.intent == old.intent
        prompt = world.parse_prompt(old.prompt)
        reframed = Prompt(new.prompt, prompt.intent, prompt.slots)
        assert judge(reframed, new.chosen).total > judge(reframed, new.rejected).total  # clean labels
