"""``bench``: the quick run's JSON has every stage and comparison, with positive numbers.

No wall-clock thresholds here: timings depend on the machine and its load. BENCHMARKS.md holds
the measured numbers.
"""

from __future__ import annotations

import json
import math

import pytest

from rlhf_core.__main__ import main


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "base"
    assert main(["pretrain", "--tiny", "--out", str(out)]) == 0
    return out


def _bench_json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()  # drop what earlier commands printed
    assert main(["bench", *argv]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def _positive(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


def test_quick_json_has_every_stage(tiny_checkpoint, capsys):
    result = _bench_json(capsys, ["--quick", "--json", "--base", str(tiny_checkpoint)])
    machine = result["machine"]
    assert machine["threads"] >= 1 and machine["cpu"] and machine["torch"]
    assert set(result["stages"]) == {"sft", "reward", "ppo", "dpo"}
    for name, stage in result["stages"].items():
        for key in ("seconds_per_step", "tokens_per_second", "lesson_seconds_estimate"):
            assert _positive(stage[key]), (name, key, stage[key])
        assert stage["lesson_seconds_estimate"] >= stage["lesson_steps"] * stage["seconds_per_step"]
    # --quick skips TRL unless asked, and says so
    assert set(result["vs_trl"]) == {"dpo_step", "reward_step", "ppo_update"}
    assert all("unavailable" in c for c in result["vs_trl"].values())
    # no SFT or reward checkpoint beside a bare base model: the stand-ins are named
    assert len(result["checkpoints"]["notes"]) == 2


def test_table_is_the_default_output(tiny_checkpoint, capsys):
    capsys.readouterr()
    assert main(["bench", "--quick", "--base", str(tiny_checkpoint)]) == 0
    captured = capsys.readouterr()
    assert "s/step" in captured.out and "ppo" in captured.out
    assert "[bench]" in captured.err and "[bench]" not in captured.out  # progress goes to stderr


def test_missing_base_is_a_clear_error(tmp_path, capsys):
    assert main(["bench", "--quick", "--base", str(tmp_path / "nothing")]) == 2
    assert "No base model" in capsys.readouterr().err


def test_quick_trl_comparison(tiny_checkpoint, tmp_path, capsys):
    pytest.importorskip("trl")
    result = _bench_json(
        capsys,
        ["--quick", "--json", "--trl", "--base", str(tiny_checkpoint), "--trl-venv", str(tmp_path / "no-venv")],
    )
    for name in ("dpo_step", "reward_step"):
        c = result["vs_trl"][name]
        assert "unavailable" not in c, c
        assert _positive(c["ours_s"]) and _positive(c["trl_s"]) and _positive(c["speedup"])
    assert _positive(result["vs_trl"]["dpo_step"]["trl_no_precompute_s"])
    # without the trl 1.12 virtual environment the PPO comparison says how to make one
    assert "trl 1.12" in result["vs_trl"]["ppo_update"]["unavailable"]
