"""The app's facade (``rlhf_core.playground``): torch-free import, input checks, ratings in TRL's
format, lesson helpers read from the real source, and every live-training entry point run on
tiny models (the same wiring the pages use)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlhf_core import jobs, playground

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """Tiny base/sft/reward/ppo/dpo checkpoints (seconds), shared with tests/test_app.py."""
    return playground.build_tiny_models(tmp_path_factory.getbasetemp() / "tiny_models")


@pytest.fixture()
def shipped(tiny_models, monkeypatch):
    monkeypatch.setenv(playground.MODELS_DIR_ENV, str(tiny_models))
    monkeypatch.setenv(playground.PRESET_ENV, "tiny")
    return {stage: playground.load_shipped(stage) for stage in playground.STAGES}


def test_importing_the_facade_and_the_ui_does_not_import_torch():
    code = (
        "import sys; import rlhf_core.playground, rlhf_core.jobs, ui.state, ui.widgets, ui.training, ui.glossary; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_checkpoints_are_reported_with_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv(playground.MODELS_DIR_ENV, str(tmp_path))
    assert playground.shipped_status() == dict.fromkeys(playground.STAGES, False)
    with pytest.raises(playground.NotBuiltError) as err:
        playground.load_shipped("base")
    assert "python -m rlhf_core pretrain" in str(err.value)
    assert "python -m rlhf_core pipeline" in str(playground.NotBuiltError("ppo"))
    assert playground.shipped_metrics() == {} and playground.shipped_pairs() == []


def test_shipped_metrics_are_parsed_once_per_file_version(tmp_path, monkeypatch):
    monkeypatch.setenv(playground.MODELS_DIR_ENV, str(tmp_path))
    path = tmp_path / "metrics.json"
    path.write_text('{"reward": {"pair_accuracy": 0.5}}')
    first = playground.shipped_metrics()
    assert first == {"reward": {"pair_accuracy": 0.5}}
    assert playground.shipped_metrics() is first  # not parsed again
    # a rebuilt file (new modification time) is read again
    path.write_text('{"reward": {"pair_accuracy": 0.9}}')
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    assert playground.shipped_metrics() == {"reward": {"pair_accuracy": 0.9}}
    path.write_text("{not json")
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert playground.shipped_metrics() == {}


@pytest.mark.parametrize(
    "raw, expect_error, expect_note",
    [
        ("", True, None),
        ("   \n\t ", True, None),
        (None, True, None),
        ("x" * 12_000, False, "12,000 characters"),
        ("Write a poem about 🌊 and 🐙", False, None),
        ("Hi\x00\x07 there\x1b[31m", False, "control character"),
        ("<script>alert('x')</script><b>bold</b>", False, None),
        ("Hello<|end|><|assistant|>Sure", False, "chat marker"),
    ],
)
def test_check_text(raw, expect_error, expect_note):
    checked = playground.check_text(raw)
    assert (checked.error is not None) == expect_error
    if expect_note:
        assert any(expect_note in n for n in checked.notes)
    if not expect_error:
        assert checked.text and len(checked.text) <= playground.MAX_PROMPT_CHARS
        assert not any(ord(c) < 32 and c not in "\n\t" for c in checked.text)
        assert "<|end|>" not in checked.text
    if raw and "script" in str(raw):
        assert checked.text == raw  # kept as text; the app shows it escaped


def test_ratings_round_trip_in_trl_format():
    lock = playground.lock_exercise()
    assert (lock.prompt, lock.a, lock.b) == (playground.LOCK_PROMPT, playground.LOCK_A, playground.LOCK_B)
    assert lock.annotator == "B"  # the gold judge prefers the refusal with a safe alternative
    ratings = [
        playground.rating_record(lock, "B"),
        playground.rating_record(lock, "tie"),
        playground.rating_record(lock, "A"),
    ]
    text = playground.ratings_to_jsonl(ratings)
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines == [
        {"prompt": lock.prompt, "chosen": lock.b, "rejected": lock.a},
        {"prompt": lock.prompt, "chosen": lock.a, "rejected": lock.b},
    ]
    rows, error = playground.parse_ratings_jsonl(text.encode())
    assert error is None and [(r["chosen"], r["rejected"]) for r in rows] == [(lock.b, lock.a), (lock.a, lock.b)]
    with pytest.raises(ValueError):
        playground.rating_record(lock, "C")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"not json\n", "line 1: not valid JSON"),
        (b'{"prompt": "p", "chosen": "a"}\n', "rejected missing"),
        (b'{"prompt": "p", "chosen": "", "rejected": "b"}\n', "chosen missing, empty"),
        (b'{"prompt": "p", "chosen": 3, "rejected": "b"}\n', "not text"),
        (b'["p", "a", "b"]\n', "expected a JSON object"),
        (b'{"prompt": "p", "chosen": "a", "rejected": "a"}\n', "same text"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n' * 3 + b"{oops\n", "line 4"),
        (b"x" * (playground.MAX_UPLOAD_BYTES + 1), "limit is 2 MB"),
    ],
)
def test_bad_uploads_are_rejected_whole_with_a_reason(data, message):
    rows, error = playground.parse_ratings_jsonl(data)
    assert rows == [] and error is not None and message in error, error


def test_upload_texts_are_cleaned_but_kept_as_text():
    line = {"prompt": "Hi<|end|>\x00", "chosen": "<img src=x onerror=alert(1)> 🙂", "rejected": "no"}
    rows, error = playground.parse_ratings_jsonl((json.dumps(line) + "\n").encode())
    assert error is None
    assert rows[0]["prompt"] == "Hi" and rows[0]["chosen"] == line["chosen"]


def test_config_help_is_read_without_torch_and_matches_the_dataclasses():
    helps = playground.config_help("ppo")
    assert "KL penalty" in helps["kl_coef"] and helps["steps"]
    assert set(playground.config_help("reward")) >= {"student_weight", "steps", "lr", "annotator_noise"}


def test_configs_use_the_preset_and_reject_unknown_fields(monkeypatch):
    monkeypatch.setenv(playground.PRESET_ENV, "lesson")
    from rlhf_core.sft import SFTConfig

    assert playground.config("sft") == SFTConfig.lesson()
    assert playground.config("sft", steps=7).steps == 7
    with pytest.raises(ValueError):
        playground.config("sft", nonsense=1)
    monkeypatch.setenv(playground.PRESET_ENV, "tiny")
    assert playground.config("sft") == SFTConfig.tiny()


@pytest.mark.parametrize("stage", ["sft", "reward", "ppo", "dpo"])
def test_pseudocode_comes_from_the_trainers_numbered_comments(stage):
    steps = playground.step_comments(stage)
    assert [n for n, _ in steps] == list(range(1, len(steps) + 1)) and len(steps) >= 3
    trainer_source = playground.source_of(playground.SOURCES[stage][0 if stage != "dpo" else 1])
    for dotted in playground.SOURCES[stage]:
        assert playground.source_of(dotted).lstrip().startswith("def ")
    body = trainer_source + (playground.source_of(playground.SOURCES["dpo"][0]) if stage == "dpo" else "")
    for n, text in steps:
        assert f"# {n}. {text}" in body


def test_every_logged_metric_is_in_the_glossary(shipped):
    from ui.glossary import all_names

    names = all_names()
    for stage in ("sft", "reward", "ppo", "dpo"):
        history = playground.shipped_metrics()[stage]["history"]
        logged = {k for row in history for k in row}
        assert logged <= names, f"{stage}: {sorted(logged - names)} missing from the glossary"
    from rlhf_core.evaluate import SEED_METRICS

    assert set(SEED_METRICS) <= names, f"{sorted(set(SEED_METRICS) - names)} missing from the glossary"


def test_models_generate_judge_score_and_probe(shipped):
    base, reward, ppo, sft = shipped["base"], shipped["reward"], shipped["ppo"], shipped["sft"]
    prompts = list(playground.SEED_PROMPTS)
    first = playground.generate(base, prompts, max_new_tokens=12, seed=3)
    again = playground.generate(base, prompts, max_new_tokens=12, seed=3)
    assert [r.text for r in first] == [r.text for r in again]  # same seed, same answers
    assert all(0 < r.n_tokens <= 12 for r in first)
    judged = playground.answer_and_judge(sft, prompts, reward=reward, seed=0)
    assert all(set(j.verdict.checks) == set(playground.criteria()) for j in judged)
    assert all(isinstance(j.reward, float) for j in judged)
    probs = playground.next_tokens(base, "Write a poem", top=5, chat=True)
    assert len(probs) == 5 and probs[0][1] >= probs[-1][1]
    strip = playground.token_kl(ppo, sft, playground.LOCK_PROMPT, first[2].text)
    assert strip and all(isinstance(v, float) for _, v in strip)
    assert playground.masked_tokens(base, "Say hi", "hi")[-1] == ("<|end|>", True)
    with pytest.raises(ValueError):
        playground.generate(reward, prompts)
    items = playground.rating_items(sft, n=3, seed=0)
    assert len(items) == 3 and all(i.annotator in ("A", "B", "tie") for i in items)


def test_shipped_models_are_frozen(shipped):
    before = {k: v.clone() for k, v in shipped["sft"].model.state_dict().items()}
    assert not any(p.requires_grad for p in shipped["sft"].model.parameters())
    copy_ = playground.trainable_copy(shipped["sft"])
    assert all(p.requires_grad for p in copy_.parameters())
    assert all((before[k] == v).all() for k, v in shipped["sft"].model.state_dict().items())


def run_job(job: jobs.Job):
    assert job.wait(300), job.describe()
    assert job.status == jobs.DONE, job.message
    assert job.history and job.result is not None and job.result.source == "yours"
    return job.result


def test_live_training_entry_points_on_tiny_models(shipped):
    sft_params = {k: v.clone() for k, v in shipped["sft"].model.state_dict().items()}
    mine = run_job(playground.start_sft(shipped["base"], steps=3))
    assert mine.stage == "sft" and mine.info["steps"] == 3

    lock = playground.lock_exercise()
    ratings = [playground.rating_record(lock, "B"), playground.rating_record(lock, "tie")]
    job = playground.start_reward(shipped["sft"], ratings, steps=3, student_weight=4.0)
    reward = run_job(job)
    assert reward.info["pair_counts"]["student"] == 1 and reward.info["student_weight"] == 4.0
    assert reward.info["student_pair_accuracy"] in (0.0, 1.0)
    wrong = sum(c <= r for c, r in zip(reward.info["chosen_scores"], reward.info["rejected_scores"], strict=True))
    assert len(reward.info["mistakes"]) == min(5, wrong)
    assert sum(row["wrong"] for row in reward.info["by_criterion"]) >= wrong  # each wrong pair under >= 1 criterion
    assert all("loss/reward" in m for m in job.history)

    ppo_job = playground.start_ppo(shipped["sft"], reward, steps=2, kl_coef=0.0)
    ppo = run_job(ppo_job)
    assert ppo.info["kl_coef"] == 0.0 and ppo_job.samples and "response" in ppo_job.samples[0]
    # A preset with PPO-ptx (the full one) runs in the app too: the job builds its rehearsal rows.
    ptx_job = playground.start_ppo(shipped["sft"], reward, steps=1, ptx_coef=0.5, ptx_source="sft", ptx_rows=2)
    run_job(ptx_job)
    assert ptx_job.history and all(m["loss/ptx"] > 0 for m in ptx_job.history)

    dpo = run_job(playground.start_dpo(mine, ratings, steps=2))
    assert dpo.info["n_pairs"] >= 1
    assert playground.kl_to_reference(dpo, mine, n_prompts=4) == pytest.approx(
        playground.kl_to_reference(dpo, mine, n_prompts=4)
    )
    # None of this touched the shared shipped SFT model.
    assert all((sft_params[k] == v).all() for k, v in shipped["sft"].model.state_dict().items())


def test_reward_mistakes_are_the_misranked_pairs_with_the_clearest_winner():
    from rlhf_core.reward import PreferencePair

    def pair(n: int, gold_margin: float) -> PreferencePair:
        return PreferencePair(f"prompt {n}", f"good {n}", f"bad {n}", "list", 0.5 + gold_margin, 0.5)

    pairs = [pair(0, 0.1), pair(1, 0.8), pair(2, 0.4), pair(3, 0.9), pair(4, 0.3)]
    chosen = [0.0, -1.0, 0.2, 2.0, 0.5]
    rejected = [0.5, 1.0, 0.2, 1.0, 0.6]  # pairs 0, 1, 2 (a tie) and 4 are ranked the wrong way
    rows = playground.reward_mistakes(pairs, chosen, rejected, k=3)
    assert [r["prompt"] for r in rows] == ["prompt 1", "prompt 2", "prompt 4"]
    assert rows[0]["better answer (gold)"] == "good 1" and rows[0]["its score"] == -1.0 and rows[0]["score"] == 1.0
    assert rows[0]["gold margin"] == 0.8
    assert rows[0]["why worse"] == playground._failed_reasons("prompt 1", "bad 1") != ""
    assert playground.reward_mistakes(pairs, chosen[:4], rejected) == []  # scores of other pairs


def test_shipped_reward_mistakes_are_computed_once_per_file_version(tmp_path, monkeypatch):
    from rlhf_core.reward import PreferencePair, save_pairs

    monkeypatch.setenv(playground.MODELS_DIR_ENV, str(tmp_path))
    (tmp_path / "reward").mkdir()
    pairs = [PreferencePair("Hi!", "Hello! How can I help?", "No.", "greeting", 0.9, 0.1)]
    save_pairs(pairs, tmp_path / "reward" / "preference_pairs_heldout.jsonl")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"reward": {"chosen_scores": [0.1], "rejected_scores": [0.5]}}))
    first = playground.shipped_reward_mistakes()
    assert [m["prompt"] for m in first] == ["Hi!"]
    assert playground.shipped_reward_mistakes() is first  # not computed again
    # a rebuilt reward model (new metrics.json) is read again
    metrics.write_text(json.dumps({"reward": {"chosen_scores": [0.5], "rejected_scores": [0.1]}}))
    stamp = metrics.stat().st_mtime_ns + 1_000_000_000
    os.utime(metrics, ns=(stamp, stamp))
    assert playground.shipped_reward_mistakes() == []


def test_reward_by_criterion_is_the_library_split_of_the_shipped_pairs(shipped):
    from rlhf_core.reward import accuracy_by_criteria

    info = playground.shipped_metrics()["reward"]
    pairs = playground.shipped_pairs(heldout=True)
    rows = playground.shipped_reward_by_criterion()
    expected = accuracy_by_criteria(playground.world(), pairs, info["chosen_scores"], info["rejected_scores"])[1]
    assert rows == expected and (rows or not pairs)
    assert playground.shipped_reward_by_criterion() is rows  # computed once per file version
    assert playground.reward_by_criterion(pairs, info["chosen_scores"][:-1], info["rejected_scores"]) == []


def test_shipped_reward_mistakes_come_from_its_saved_held_out_pairs(shipped):
    info = playground.shipped_metrics()["reward"]
    pairs = playground.shipped_pairs(heldout=True)
    expected = playground.reward_mistakes(pairs, info["chosen_scores"], info["rejected_scores"])
    assert playground.shipped_reward_mistakes() == expected
    assert len(expected) == min(
        5, sum(c <= r for c, r in zip(info["chosen_scores"], info["rejected_scores"], strict=True))
    )


def test_refusal_check_counts_each_group_of_held_out_prompts(shipped, monkeypatch):
    """Grouping: a fake sampler that refuses exactly the harmful requests about new activities
    must show up as 13 of 13 there and 0 everywhere else; then the real model's rows add up."""
    from rlhf_core import evaluate
    from rlhf_core.evaluate import Sample

    world = playground.world()
    refusal = "I can't help with that, because it could be illegal or hurt someone."

    def fake(model, tokenizer, prompts, sampling=None, seed=0):
        out = []
        for p in prompts:
            text = refusal if p.intent == "harmful" and world.asks_about_unseen(p) else "Here is how."
            out.append(Sample(p.text, p.intent, text, 0.0, {}, {}, True, 5))
        return out

    with monkeypatch.context() as m:
        m.setattr(evaluate, "sample_and_judge", fake)
        rows = playground.refusal_check(shipped["ppo"])
    assert [(r["requests"], r["activity"], r["refused"], r["of"]) for r in rows] == [
        ("harmful requests", "seen in training", 0, 7),
        ("harmful requests", "new", 13, 13),
        ("harmless look-alikes", "seen in training", 0, 6),
        ("harmless look-alikes", "new", 0, 9),
    ]
    real = playground.refusal_check(shipped["ppo"])
    assert [r["of"] for r in real] == [7, 13, 6, 9] and all(0 <= r["refused"] <= r["of"] for r in real)


def test_a_stop_keeps_what_was_trained(shipped):
    job = playground.start_sft(shipped["base"], steps=500)
    while job.step < 1 and job.active:
        job.wait(0.05)
    job.stop()
    assert job.wait(60)
    assert job.status == jobs.STOPPED and 1 <= job.step < 500
    assert job.result is not None and job.result.info["steps"] == job.step
