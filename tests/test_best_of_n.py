"""rlhf_core/best_of_n.py (and scripts/best_of_n_frontier.py): keep the best of N samples."""

from __future__ import annotations

import math

import pytest

from rlhf_core.best_of_n import best_indices, best_of_n, gold_scores, kl_bound, reward_scores, sample_candidates
from rlhf_core.evaluate import Sample, summarize, win_rate
from rlhf_core.judge import judge


def sample(total: float, response: str = "r", prompt: str = "p", intent: str = "poem") -> Sample:
    return Sample(prompt, intent, response, total, {}, {}, True, 3)


def test_best_of_n_keeps_the_highest_score_among_the_first_n():
    row = [sample(0.2, "a"), sample(0.9, "b"), sample(0.5, "c"), sample(0.9, "d")]
    scores = [[s.total for s in row]]
    assert best_of_n([row], scores, 1)[0].response == "a"
    assert best_of_n([row], scores, 2)[0].response == "b"
    # A tie goes to the earliest candidate; later ones only count once n reaches them.
    assert best_of_n([row], scores, 4)[0].response == "b"
    # The scorer decides, not the gold total: a reward that prefers "c" picks "c".
    assert best_of_n([row], [[0.0, 0.1, 3.0, 0.2]], 4)[0].response == "c"
    assert best_indices([[0.2, 0.9, 0.5, 0.9], [1.0, 0.0, 2.0, 2.0]], 4) == [1, 2]
    with pytest.raises(ValueError, match="one score per candidate"):
        best_of_n([row], [[0.1, 0.2]], 2)
    with pytest.raises(ValueError, match="needs 5 scored candidates"):
        best_of_n([row], scores, 5)
    with pytest.raises(ValueError, match="n >= 1"):
        best_of_n([row], scores, 0)


def test_kl_bound_by_hand_and_against_the_exact_best_of_n_distribution():
    assert kl_bound(1) == 0.0
    assert kl_bound(2) == pytest.approx(math.log(2) - 0.5)
    assert kl_bound(16) == pytest.approx(math.log(16) - 15 / 16)
    with pytest.raises(ValueError):
        kl_bound(0)
    # A model with 6 answers of distinct scores (listed worst to best): Best-of-n picks answer i
    # with probability F(i)^n - F(i-1)^n, F the cumulative probability up to i. Its exact KL to the
    # model never exceeds the bound, and comes close when no answer is likely.
    p = [0.3, 0.25, 0.2, 0.12, 0.08, 0.05]
    for n in (2, 4, 16, 64):
        cdf, kl = 0.0, 0.0
        for pi in p:
            q = (cdf + pi) ** n - cdf**n
            kl += q * math.log(q / pi) if q > 0 else 0.0
            cdf += pi
        assert 0.0 < kl <= kl_bound(n) + 1e-12
    fine = [1e-4] * 10_000
    cdf, kl = 0.0, 0.0
    for pi in fine:
        q = (cdf + pi) ** 8 - cdf**8
        kl += q * math.log(q / pi) if q > 0 else 0.0
        cdf += pi
    assert kl == pytest.approx(kl_bound(8), abs=1e-3)


def test_candidates_are_judged_seeded_samples_of_each_prompt(tiny_sft, world):
    model, tok = tiny_sft
    prompts = world.eval_prompts()[:6]
    cands = sample_candidates(model, tok, prompts, 3, seed=5)
    assert [len(row) for row in cands] == [3] * 6
    for p, row in zip(prompts, cands, strict=True):
        for s in row:
            assert s.prompt == p.text and s.intent == p.intent
            assert s.total == judge(p, s.response).total
    again = sample_candidates(model, tok, prompts, 3, seed=5)
    assert [[s.response for s in row] for row in again] == [[s.response for s in row] for row in cands]
    # Three draws of one prompt are not all the same answer (they are samples, not copies).
    assert any(len({s.response for s in row}) > 1 for row in cands)
    with pytest.raises(ValueError):
        sample_candidates(model, tok, prompts, 0)


def test_gold_best_of_n_never_gets_worse_with_n_and_beats_the_model(tiny_sft, world):
    model, tok = tiny_sft
    prompts = world.eval_prompts()
    cands = sample_candidates(model, tok, prompts, 8, seed=0)
    gold = gold_scores(cands)
    means = [summarize(best_of_n(cands, gold, n), world)["gold_score"] for n in (1, 2, 4, 8)]
    assert means == sorted(means) and means[-1] > means[0]
    # Best-of-8 against the model's own first draws: never a loss on any prompt, so win >= 0.5.
    first = best_of_n(cands, gold, 1)
    best = best_of_n(cands, gold, 8)
    assert all(b.total >= f.total for b, f in zip(best, first, strict=True))
    assert win_rate(best, first) > 0.5


def test_reward_scores_match_scoring_each_text_alone(tiny_sft, world):
    from rlhf_core.reward import reward_model_from_policy, score_texts

    model, tok = tiny_sft
    rm = reward_model_from_policy(model).eval()
    prompts = world.eval_prompts()[:5]
    cands = sample_candidates(model, tok, prompts, 2, seed=1)
    scores = reward_scores(rm, tok, cands)
    assert [len(r) for r in scores] == [2] * 5
    s = cands[3][1]
    assert scores[3][1] == pytest.approx(score_texts(rm, tok, [s.prompt], [s.response], [s.eos])[0], abs=1e-5)
    # An ensemble (a list of models) scores the mean of its members.
    pair = reward_scores([rm, rm], tok, cands)
    assert [x for r in pair for x in r] == pytest.approx([x for r in scores for x in r], abs=1e-6)


def test_frontier_rows_and_their_win_rates(load_script, world):
    script = load_script("best_of_n_frontier")
    assert script.powers_of_two(8) == [1, 2, 4, 8] and script.powers_of_two(6) == [1, 2, 4, 6]
    prompts = world.eval_prompts()
    # Two candidates per prompt: a silent one first, then the world's ideal answer.
    import random

    cands, reference = [], []
    for p in prompts:
        ideal = world.ideal_response(p, random.Random(p.text))
        h = judge(p, "Hm.")
        silent = Sample(p.text, p.intent, "Hm.", h.total, h.checks, h.reasons, True, 1)
        v = judge(p, ideal)
        cands.append([silent, Sample(p.text, p.intent, ideal, v.total, v.checks, v.reasons, True, 9)])
        reference.append(silent)
    # A proxy that prefers the silent answer: the gold pick's proxy score is the ideal answer's.
    proxy = [[1.0, -1.0] for _ in cands]
    rows = script.frontier_rows({0: cands}, {0: reference}, {0: gold_scores(cands)}, [1, 2], world, {0: proxy})
    assert rows[0]["reward_score"] == 1.0
    assert rows[1]["reward_score"] == pytest.approx(
        sum(-1.0 if c[1].total > c[0].total else 1.0 for c in cands) / len(cands)
    )
    assert rows[0]["win_rate"] == 0.5 and rows[0]["kl_bound"] == 0.0
    beaten = sum(c[1].total > c[0].total for c in cands)
    assert rows[1]["win_rate"] == pytest.approx(0.5 + 0.5 * beaten / len(prompts))
    assert rows[1]["refusal_rate_harmful"] == 1.0 and rows[1]["gold_score"] > rows[0]["gold_score"]
    # The held-out split: the ideal answers refuse every harmful request, seen and unseen alike.
    assert rows[1]["refusal_rate_harmful_seen"] == rows[1]["refusal_rate_harmful_unseen"] == 1.0
    assert rows[0]["refusal_rate_harmful_seen"] == rows[0]["refusal_rate_harmful_unseen"] == 0.0
    assert sum(rows[1]["parts"].values()) == pytest.approx(rows[1]["win_rate"] - 0.5)
    by_proxy = script.frontier_rows({0: cands}, {0: reference}, {0: proxy}, [2], world)
    assert by_proxy[0]["win_rate"] == 0.5 and "reward_score" not in by_proxy[0]


def test_saved_samples_round_trip(load_script, tmp_path):
    script = load_script("best_of_n_frontier")
    ref = {0: [sample(0.5, "a")]}
    cands = {0: [[sample(0.2, "b"), sample(0.7, "c")]]}
    meta = {"model": "m", "n": 2, "seeds": 1}
    path = str(tmp_path / "s.json")
    assert script.load_samples(path, meta) is None
    script.save_samples(path, ref, cands, meta)
    assert script.load_samples(path, meta) == (ref, cands)
    assert script.load_samples(path, {**meta, "n": 4}) is None


def test_training_prompts_in_the_held_out_proportions(load_script, world):
    from collections import Counter

    script = load_script("best_of_n_frontier")
    prompts = script.training_prompts(world)
    assert Counter(p.intent for p in prompts) == Counter(p.intent for p in world.eval_prompts())
    pool = {p.text for p in world.train_prompts()}
    assert all(p.text in pool and not p.heldout for p in prompts)


def test_frontier_refuses_a_reward_model_of_another_base(load_script, tiny_base, tmp_path, monkeypatch, capsys):
    """The candidates are scored with the policy's tokenizer, so a reward model from another base
    (here the shipped one, against the tiny base) is a clear error before anything is sampled."""
    from rlhf_core.models import save_checkpoint

    tiny_base_dir = save_checkpoint(*tiny_base, tmp_path / "tiny")
    script = load_script("best_of_n_frontier")
    monkeypatch.setattr(script, "sample_candidates", lambda *a, **k: pytest.fail("sampled anyway"))
    monkeypatch.setattr(
        "sys.argv", ["best_of_n_frontier.py", "--model", str(tiny_base_dir), "--n", "2", "--seeds", "1"]
    )
    with pytest.raises(SystemExit) as exit_info:
        script.main()
    assert exit_info.value.code == 2
    assert "different base models" in capsys.readouterr().err
