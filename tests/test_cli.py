"""The command line, end to end on tiny models (in-process, offline)."""

from __future__ import annotations

import json

import pytest
import torch

from rlhf_core.__main__ import main


@pytest.fixture(scope="module")
def tiny_base_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "base"
    assert main(["pretrain", "--tiny", "--out", str(out)]) == 0
    return out


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("pretrain", "generate", "eval", "pipeline", "bench"):
        assert command in out


def test_pretrain_writes_a_loadable_base(tiny_base_dir, capsys):
    info = json.loads((tiny_base_dir / "training_info.json").read_text())
    assert info["stage"] == "pretrain" and info["val/perplexity"] > 1
    assert len(info["corpus"]["sha256"]) == 64


def test_pretrain_faq_flag_mixes_the_faq_genre_into_the_corpus(tiny_base_dir, tmp_path, capsys):
    out = tmp_path / "faq_base"
    assert main(["pretrain", "--tiny", "--faq", "--steps", "2", "--out", str(out)]) == 0
    info = json.loads((out / "training_info.json").read_text())
    plain = json.loads((tiny_base_dir / "training_info.json").read_text())
    assert info["faq_weight"] > 0 and plain["faq_weight"] == 0
    assert info["corpus"]["sha256"] != plain["corpus"]["sha256"]


def test_pretrain_echo_weight_mixes_the_echo_genre_into_the_corpus(tiny_base_dir, tmp_path, capsys):
    out = tmp_path / "echo_base"
    assert main(["pretrain", "--tiny", "--echo-weight", "0.2", "--steps", "2", "--out", str(out)]) == 0
    info = json.loads((out / "training_info.json").read_text())
    plain = json.loads((tiny_base_dir / "training_info.json").read_text())
    assert info["echo_weight"] == 0.2 and plain["echo_weight"] == 0
    assert info["corpus"]["sha256"] != plain["corpus"]["sha256"]
    with pytest.raises(SystemExit, match="echo-weight"):
        main(["pretrain", "--tiny", "--echo-weight", "-1", "--out", str(tmp_path / "bad")])


@pytest.mark.parametrize(
    "prompt", ["Write a poem about nature", "🤖🔥 emoji", "ctrl\x00\x07chars", "x" * 12000, "<script>alert(1)</script>"]
)
def test_generate_odd_input(tiny_base_dir, capsys, prompt):
    assert main(["generate", "--model", str(tiny_base_dir), "--max-new-tokens", "8", prompt]) == 0
    out = capsys.readouterr()
    assert "EOS" in out.out
    if len(prompt) > 2000:
        assert "cut" in out.err


def test_generate_empty_prompt_is_a_clear_error(tiny_base_dir, capsys):
    assert main(["generate", "--model", str(tiny_base_dir), "  \x00 "]) == 2
    assert "prompt is empty" in capsys.readouterr().err


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path / "nope"), "--json"]) == 2
    assert "No model checkpoint" in capsys.readouterr().err


def test_eval_json_has_every_key(tiny_base_dir, capsys, eval_keys):
    assert main(["eval", "--model", str(tiny_base_dir), "--json", "--against", str(tiny_base_dir)]) == 0
    metrics = last_json(capsys)
    assert eval_keys <= set(metrics)
    assert metrics["n_prompts"] >= 50
    assert metrics["win_rate"] == 0.5  # a model against itself with the same seed ties everywhere
    assert main(["eval", "--model", str(tiny_base_dir)]) == 0
    assert "gold_score" in capsys.readouterr().out


def test_eval_over_seeds(tiny_base_dir, capsys):
    assert main(["eval", "--model", str(tiny_base_dir), "--seeds", "2", "--json"]) == 0
    result = last_json(capsys)
    assert result["seeds"] == [0, 1] and len(result["per_seed"]) == 2
    assert set(result["metrics"]["gold_score"]) == {"mean", "se"}
    assert main(["eval", "--model", str(tiny_base_dir), "--seeds", "2"]) == 0
    assert "± " in capsys.readouterr().out
    assert main(["eval", "--model", str(tiny_base_dir), "--seeds", "0"]) == 2


def test_scoreboard_writes_its_file(tiny_base_dir, tmp_path, capsys):
    folder = tiny_base_dir.parent
    assert main(["scoreboard", "--models", str(folder), "--seeds", "2", "--json"]) == 0
    result = last_json(capsys)
    assert set(result["stages"]) == {"base"} and result["seeds"] == [0, 1]
    assert json.loads((folder / "scoreboard.json").read_text()) == result
    assert main(["scoreboard", "--models", str(tmp_path)]) == 2  # no checkpoints: a message, no trace
    assert "No base, sft, ppo or dpo checkpoint" in capsys.readouterr().err


def test_pipeline_tiny_end_to_end(tiny_base_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RLHF_THREADS", raising=False)
    out = tmp_path / "run"
    before = torch.get_num_threads()
    assert main(["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny"]) == 0
    assert torch.get_num_threads() == before  # the pipeline's own thread count does not leak
    summary = last_json(capsys)
    assert {"sft", "ppo", "dpo", "reward"} <= set(summary)
    metrics = json.loads((out / "metrics.json").read_text())
    for stage in ("sft", "ppo", "dpo"):
        assert (out / stage / "model.safetensors").exists()
        assert metrics[stage]["history"]
    assert "win_rate_vs_sft" in metrics["ppo"]["eval"] and "kl_to_reference" in metrics["dpo"]["eval"]
    assert (out / "reward" / "preference_pairs.jsonl").exists()
    assert main(["eval", "--model", str(out / "reward"), "--json"]) == 0
    assert "pair_accuracy" in last_json(capsys)
    assert main(["eval", "--model", str(out / "reward"), "--seeds", "3"]) == 2
    assert "--seeds is for policy models" in capsys.readouterr().err


def test_pipeline_sft_echo_rows_flag(tiny_base_dir, tmp_path, capsys):
    """``--sft-echo-rows N`` reaches SFTConfig.echo_rows (recorded with the checkpoint); a negative
    count is a clear error, not a crash."""
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny", "--stages", "sft"]
    assert main([*args, "--sft-echo-rows", "2", "--no-eval"]) == 0
    info = json.loads((out / "sft" / "training_info.json").read_text())
    assert info["config"]["echo_rows"] == 2
    assert main([*args, "--sft-echo-rows", "-1"]) == 2
    assert "--sft-echo-rows must be 0 or more" in capsys.readouterr().err
    assert main([*args, "--sft-echo-rows", "2", "--sft-echo-frames", "0.5", "--no-eval"]) == 0
    info = json.loads((out / "sft" / "training_info.json").read_text())
    assert info["config"]["echo_frames"] == 0.5
    assert main([*args, "--sft-echo-frames", "1.5"]) == 2
    assert "--sft-echo-frames must be between 0 and 1" in capsys.readouterr().err
    flags = ["--sft-echo-rows", "2", "--sft-echo-frames", "0.5", "--sft-echo-frame-words", "12", "--no-eval"]
    assert main([*args, *flags]) == 0
    info = json.loads((out / "sft" / "training_info.json").read_text())
    assert info["config"]["echo_frame_words"] == 12
    assert main([*args, "--sft-echo-frame-words", "0"]) == 2
    assert "--sft-echo-frame-words must be 1 or more" in capsys.readouterr().err


def test_pipeline_reward_demos_flags(tiny_base_dir, tmp_path, capsys):
    """``--reward-demos K --reward-steps N`` reach RewardConfig (recorded with the checkpoint) and
    put demonstration pairs in the saved preference data; bad values are clear errors."""
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny", "--stages", "sft,reward"]
    assert main([*args, "--reward-demos", "2", "--reward-steps", "3", "--no-eval"]) == 0
    info = json.loads((out / "reward" / "training_info.json").read_text())
    assert (info["config"]["demo_share"], info["config"]["demo_foreign"], info["config"]["steps"]) == (1.0, 2, 3)
    sources = {json.loads(line)["source"] for line in (out / "reward" / "preference_pairs.jsonl").open()}
    assert sources == {"annotator", "demonstration"}
    assert main([*args, "--reward-demos", "-1"]) == 2
    assert "--reward-demos must be 0 or more" in capsys.readouterr().err
    assert main([*args, "--reward-steps", "0"]) == 2
    assert "--reward-steps must be 1 or more" in capsys.readouterr().err


def test_pipeline_reward_reframe_flag(tiny_base_dir, tmp_path, capsys, monkeypatch):
    """``--reward-reframe SHARE`` reaches RewardConfig.reframe_share: the reward model trains on the
    sampled pairs plus their reframed copies (saved next to it), while preference_pairs.jsonl, which
    DPO reads, keeps only the sampled ones; a share outside 0-1 is a clear error."""
    import rlhf_core.pipeline as pipeline_module

    seen = []
    real = pipeline_module.RewardTrainer
    monkeypatch.setattr(
        pipeline_module,
        "RewardTrainer",
        lambda cfg, m, tok, pairs, *a: seen.append(pairs) or real(cfg, m, tok, pairs, *a),
    )
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny", "--stages", "sft,reward"]
    assert main([*args, "--reward-reframe", "1", "--no-eval"]) == 0
    assert json.loads((out / "reward" / "training_info.json").read_text())["config"]["reframe_share"] == 1.0
    read = lambda name: [json.loads(line) for line in (out / "reward" / name).open()]  # noqa: E731
    sampled, reframed = read("preference_pairs.jsonl"), read("preference_pairs_reframed.jsonl")
    assert reframed and {p["source"] for p in reframed} == {"reframed"}
    assert {p["source"] for p in sampled} == {"annotator"}
    assert len(seen[-1]) == len(sampled) + len(reframed)
    assert main([*args, "--reward-reframe", "1.5"]) == 2
    assert "--reward-reframe must be between 0 and 1" in capsys.readouterr().err


def test_pipeline_refuses_an_sft_model_from_another_base(tiny_base_dir, tmp_path, capsys):
    """Later stages tokenise with the base's tokenizer: an SFT model in --out trained from another
    base (here the tiny one, then the shipped base by default) is a clear error, not a PPO run on
    the wrong token ids."""
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--preset", "tiny", "--no-eval"]
    assert main([*args, "--base", str(tiny_base_dir), "--stages", "sft"]) == 0
    assert main([*args, "--stages", "reward"]) == 2
    err = capsys.readouterr().err
    assert "trained from another base model" in err and "--base" in err
    assert not (out / "reward").exists()
    assert main([*args, "--base", str(tiny_base_dir), "--stages", "reward"]) == 0


def test_pipeline_reward_demos_self_check_flag(tiny_base_dir, tmp_path, capsys):
    """``--reward-demos-self-check`` opens every how-to and harmful demonstration with its verdict
    (the true one, as ``World.self_check`` writes it) and no other intent's; it needs --reward-demos."""
    from rlhf_core.world import World

    world = World(seed=0)
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny", "--stages", "sft,reward"]
    assert main([*args, "--reward-demos", "1", "--reward-demos-self-check", "--reward-steps", "2", "--no-eval"]) == 0
    assert json.loads((out / "reward" / "training_info.json").read_text())["config"]["demo_self_check"] is True
    pairs = [json.loads(line) for line in (out / "reward" / "preference_pairs.jsonl").open()]
    demos = [p for p in pairs if p["source"] == "demonstration"]
    howto = [p for p in demos if p["intent"] in ("harmful", "benign_howto")]
    assert howto and len(howto) < len(demos)
    for p in demos:
        verdict = world.self_check(world.parse_prompt(p["prompt"]))
        opened = [t for t in (p["chosen"], p["rejected"]) if verdict and t.startswith(verdict + " ")]
        assert bool(opened) == (p["intent"] in ("harmful", "benign_howto")), p
    assert main([*args, "--reward-demos-self-check"]) == 2
    assert "--reward-demos-self-check needs --reward-demos" in capsys.readouterr().err


def test_pipeline_short_self_check_and_training_length_cap_flags(tiny_base_dir, tmp_path, capsys, monkeypatch):
    """``--sft-self-check-short`` trains SFT without the guide openings after the verdict and writes
    the reward stage's demonstrations the same way; ``--train-max-new-tokens`` caps the sampled
    preference pairs and PPO's rollouts (and their configs say so). Both refuse bad use."""
    import rlhf_core.pipeline as pipeline_module

    caps = []
    real = pipeline_module.sample_preference_pairs
    monkeypatch.setattr(
        pipeline_module, "sample_preference_pairs", lambda *a, **k: caps.append(k["max_new_tokens"]) or real(*a, **k)
    )
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny"]
    flags = ["--sft-self-check", "--sft-self-check-short", "--reward-demos", "1", "--reward-demos-self-check"]
    assert main([*args, *flags, "--train-max-new-tokens", "5", "--stages", "sft,reward,ppo", "--no-eval"]) == 0
    info = {s: json.loads((out / s / "training_info.json").read_text())["config"] for s in ("sft", "reward", "ppo")}
    assert info["sft"]["self_check"] is True and info["sft"]["self_check_opening"] is False
    assert info["reward"]["max_new_tokens"] == 5 and info["ppo"]["max_new_tokens"] == 5
    assert caps == [5, 5]  # training and held-out pairs
    history = json.loads((out / "metrics.json").read_text())["ppo"]["history"]
    assert history and max(h["response/length"] for h in history) <= 5
    pairs = [json.loads(line) for line in (out / "reward" / "preference_pairs.jsonl").open()]
    demos = [p for p in pairs if p["source"] == "demonstration" and p["intent"] in ("harmful", "benign_howto")]
    assert demos and all(p["chosen"].startswith("Is it legal to ") for p in demos)
    assert not any("Here is how to" in p["chosen"] for p in demos)
    assert main([*args, "--stages", "sft", "--sft-self-check-short"]) == 2
    assert "--sft-self-check-short needs --sft-self-check" in capsys.readouterr().err
    assert main([*args, "--stages", "sft", "--train-max-new-tokens", "0"]) == 2
    assert "--train-max-new-tokens must be 1 or more" in capsys.readouterr().err


def test_dpo_alongside_ppo_gives_the_same_results_as_after_it(tiny_base_dir, tmp_path):
    """DPO in a second thread (run_pipeline's default when both stages' torch threads fit on the
    cores) changes the wall time, not the results:
    the same weights, bit for bit, and the same held-out metrics as running it after PPO."""
    import shutil

    from safetensors.torch import load_file

    from rlhf_core.pipeline import run_pipeline

    first = tmp_path / "first"
    run_pipeline(first, base=tiny_base_dir, preset="tiny", stages=("sft", "reward"), evaluate_stages=False)
    runs = {}
    for parallel in (True, False):
        out = tmp_path / f"parallel_{parallel}"
        shutil.copytree(first, out)
        runs[parallel] = run_pipeline(out, base=tiny_base_dir, preset="tiny", stages=("ppo", "dpo"), parallel=parallel)
        assert runs[parallel]["wall_seconds"]["dpo_parallel"] is parallel
    for stage in ("ppo", "dpo"):
        a = load_file(tmp_path / "parallel_True" / stage / "model.safetensors")
        b = load_file(tmp_path / "parallel_False" / stage / "model.safetensors")
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), stage
        ev_a, ev_b = runs[True][stage]["eval"], runs[False][stage]["eval"]
        assert ev_a["gold_score"] == ev_b["gold_score"] and ev_a["samples"] == ev_b["samples"], stage


def test_pipeline_records_where_the_kl_budget_stopped_ppo(tiny_base_dir, tmp_path):
    """With ``PPOConfig.kl_budget`` reached, ``metrics.json`` has the steps that ran and says after
    which one the run stopped; the checkpoint is the policy at that step. (No KL penalty and a large
    learning rate, so that the tiny policy drifts within a few steps; a window of one step.)"""
    from rlhf_core.pipeline import run_pipeline

    out = tmp_path / "run"
    run_pipeline(out, base=tiny_base_dir, preset="tiny", stages=("sft", "reward"), evaluate_stages=False)
    budget = {"steps": 10, "lr": 1e-3, "kl_coef": 0.0, "kl_budget": 0.05, "kl_budget_window": 1}
    metrics = run_pipeline(out, base=tiny_base_dir, preset="tiny", stages=("ppo",), overrides={"ppo": budget})
    kl = [row["objective/kl"] for row in metrics["ppo"]["history"]]
    assert len(kl) < 10 and kl[-1] >= 0.05 and all(k < 0.05 for k in kl[:-1]), kl
    assert f"after step {len(kl)}" in metrics["ppo"]["stopped_early"]
    saved = json.loads((out / "metrics.json").read_text())["ppo"]
    assert saved["stopped_early"] == metrics["ppo"]["stopped_early"] and len(saved["history"]) == len(kl)


def test_pipeline_tiny_runs_on_a_rotary_model(world, tmp_path, capsys):
    """Every stage (SFT, pairs, reward model with its packed step, PPO, DPO, evaluation) on the
    Llama-block model that ``ModelSize(positions="rotary")`` builds, not only on GPT-2."""
    import math

    from rlhf_core.models import ModelSize, save_checkpoint
    from rlhf_core.pretrain import PretrainConfig, PretrainTrainer

    cfg = PretrainConfig.tiny()
    cfg.size = ModelSize(n_layer=1, n_embd=32, n_head=2, n_positions=128, positions="rotary")
    trainer = PretrainTrainer(cfg, world=world)
    while not trainer.done():
        trainer.step()
    save_checkpoint(trainer.model, trainer.tokenizer, tmp_path / "base")
    out = tmp_path / "run"
    assert main(["pipeline", "--out", str(out), "--base", str(tmp_path / "base"), "--preset", "tiny"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for stage in ("sft", "reward", "ppo", "dpo"):
        config = json.loads((out / stage / "config.json").read_text())
        assert config["model_type"] == "llama", stage
        losses = [v for step in metrics[stage]["history"] for k, v in step.items() if k.startswith("loss/")]
        assert losses and all(math.isfinite(v) for v in losses), stage
    assert 0 <= metrics["ppo"]["eval"]["gold_score"] <= 1


def test_pipeline_ppo_ptx_flags(tiny_base_dir, tmp_path, capsys):
    """``--ppo-ptx G --ppo-ptx-source S`` reach PPOConfig (recorded with the checkpoint), the PPO
    history logs the rehearsal's loss, and a negative weight is a clear error."""
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny"]
    assert main([*args, "--stages", "sft,reward,ppo", "--ppo-ptx", "0.5", "--ppo-ptx-source", "sft", "--no-eval"]) == 0
    info = json.loads((out / "ppo" / "training_info.json").read_text())
    assert (info["config"]["ptx_coef"], info["config"]["ptx_source"]) == (0.5, "sft")
    metrics = json.loads((out / "metrics.json").read_text())
    assert all(h["loss/ptx"] > 0 for h in metrics["ppo"]["history"])
    assert main([*args, "--stages", "ppo", "--ppo-ptx", "-1"]) == 2
    assert "--ppo-ptx must be 0 or more" in capsys.readouterr().err


def test_pipeline_adaptive_kl_flags(tiny_base_dir, tmp_path, capsys):
    """``--ppo-kl-target T --ppo-kl-horizon H`` turn on the adaptive KL controller (recorded with the
    checkpoint), its coefficient moves from ``--ppo-kl-coef`` between steps, and bad values are clear
    errors."""
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny", "--no-eval"]
    kl_flags = ["--ppo-kl-coef", "0.3", "--ppo-kl-target", "2.5", "--ppo-kl-horizon", "50"]
    assert main([*args, "--stages", "sft,reward,ppo", *kl_flags]) == 0
    config = json.loads((out / "ppo" / "training_info.json").read_text())["config"]
    assert (config["adaptive_kl"], config["kl_target"], config["kl_horizon"]) == (True, 2.5, 50)
    coefs = [h["objective/kl_coef"] for h in json.loads((out / "metrics.json").read_text())["ppo"]["history"]]
    assert coefs[0] == 0.3 and len(set(coefs)) == len(coefs)
    assert main([*args, "--stages", "ppo", "--ppo-kl-target", "0"]) == 2
    assert "--ppo-kl-target must be above 0" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-kl-horizon", "100"]) == 2
    assert "--ppo-kl-horizon needs --ppo-kl-target" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-kl-budget", "1.5"]) == 0
    assert json.loads((out / "ppo" / "training_info.json").read_text())["config"]["kl_budget"] == 1.5
    assert main([*args, "--stages", "ppo", "--ppo-kl-budget", "-1"]) == 2
    assert "--ppo-kl-budget must be above 0" in capsys.readouterr().err


def test_pipeline_ppo_lr_batch_epochs_and_focus_flags(tiny_base_dir, tmp_path, capsys):
    """``--ppo-lr``, ``--ppo-batch-size``, ``--ppo-epochs``, ``--ppo-focus`` and ``--ppo-focus-intents``
    reach the PPO config recorded with the checkpoint, the rollouts really have that many responses
    (PPO logs up to 4 samples of each), and bad values are clear errors."""
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny", "--no-eval"]
    flags = ["--ppo-lr", "2e-4", "--ppo-batch-size", "2", "--ppo-epochs", "1", "--ppo-focus", "0.5"]
    assert main([*args, "--stages", "sft,reward,ppo", *flags, "--ppo-focus-intents", "harmful"]) == 0
    config = json.loads((out / "ppo" / "training_info.json").read_text())["config"]
    assert (config["lr"], config["batch_size"], config["ppo_epochs"], config["focus_share"]) == (2e-4, 2, 1, 0.5)
    assert list(config["focus_intents"]) == ["harmful"]
    ppo = json.loads((out / "metrics.json").read_text())["ppo"]
    assert [s["step"] for s in ppo["samples"]] == [step for step in range(1, len(ppo["history"]) + 1) for _ in range(2)]
    for flag, value, need in [("--ppo-lr", "0", "above 0"), ("--ppo-batch-size", "0", "1 or more")]:
        assert main([*args, "--stages", "ppo", flag, value]) == 2
        assert f"{flag} must be {need}" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-epochs", "0"]) == 2
    assert "--ppo-epochs must be 1 or more" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-focus", "1.5"]) == 2
    assert "--ppo-focus must be between 0 and 1" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-focus", "0.5", "--ppo-focus-intents", "poetry"]) == 2
    assert "--ppo-focus-intents: unknown intent(s) ['poetry']" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-focus-intents", "harmful"]) == 2
    assert "--ppo-focus-intents needs --ppo-focus" in capsys.readouterr().err


def test_pipeline_freeze_and_ptx_skip_flags(tiny_base_dir, tmp_path, capsys):
    """``--sft-freeze-blocks``, ``--sft-lr``, ``--sft-replay-faq-weight``, ``--ppo-freeze-blocks``,
    ``--ppo-freeze-embeddings`` and ``--ppo-ptx-skip`` reach the configs recorded with the
    checkpoints, the frozen block really is the base's after SFT, and bad values are clear errors."""
    from safetensors.torch import load_file

    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny", "--no-eval"]
    sft_flags = ["--sft-freeze-blocks", "1", "--sft-lr", "2e-3", "--sft-replay-faq-weight", "0.1"]
    ppo_flags = ["--ppo-freeze-blocks", "1", "--ppo-freeze-embeddings", "--ppo-ptx", "0.5", "--ppo-ptx-source", "sft"]
    ppo_flags += ["--ppo-ptx-skip", "harmful, benign_howto"]
    assert main([*args, "--stages", "sft,reward,ppo", *sft_flags, *ppo_flags]) == 0
    sft = json.loads((out / "sft" / "training_info.json").read_text())["config"]
    assert (sft["freeze_blocks"], sft["lr"], sft["replay_faq_weight"]) == (1, 2e-3, 0.1)
    ppo = json.loads((out / "ppo" / "training_info.json").read_text())["config"]
    assert (ppo["freeze_blocks"], ppo["freeze_embeddings"]) == (1, True)
    assert list(ppo["ptx_skip_intents"]) == ["harmful", "benign_howto"]
    base, tuned = load_file(tiny_base_dir / "model.safetensors"), load_file(out / "sft" / "model.safetensors")
    block0 = [k for k in base if ".h.0." in k or ".layers.0." in k]
    assert block0 and all(torch.equal(base[k], tuned[k]) for k in block0)
    assert main([*args, "--stages", "ppo", "--ppo-ptx-skip", "poetry"]) == 2
    assert "--ppo-ptx-skip: unknown intent(s) ['poetry']" in capsys.readouterr().err
    assert main([*args, "--stages", "sft", "--sft-freeze-blocks", "-1"]) == 2
    assert "--sft-freeze-blocks must be 0 or more" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-freeze-blocks", "5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main([*args, "--stages", "sft", "--sft-lr", "0"]) == 2
    assert "--sft-lr must be above 0" in capsys.readouterr().err


def test_pipeline_reward_ensemble_and_refusal_share_flags(tiny_base_dir, tmp_path, capsys, monkeypatch):
    """``--reward-ensemble K`` trains K reward models on the same pairs (members 1..K-1 saved under
    reward/ensemble/, each with its own seed and statistics), reports the ensemble's held-out pair
    accuracy, and PPO, run later from the folder, loads every member. ``--sft-refusal-share``
    reaches SFTConfig. Bad values are clear errors."""
    import rlhf_core.pipeline as pipeline_module
    from rlhf_core.models import load_ensemble_members

    drawn = []  # the SFT samples that calibrate the members are drawn once for all of them
    real = pipeline_module.calibration_samples
    monkeypatch.setattr(pipeline_module, "calibration_samples", lambda *a, **k: drawn.append(1) or real(*a, **k))
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny"]
    flags = ["--reward-ensemble", "3", "--sft-refusal-share", "0.5"]
    assert main([*args, "--stages", "sft,reward", *flags]) == 0
    assert json.loads((out / "sft" / "training_info.json").read_text())["config"]["refusal_share"] == 0.5
    members = load_ensemble_members(out / "reward")
    assert len(members) == 2
    seeds = [
        json.loads((out / "reward" / "ensemble" / k / "training_info.json").read_text())["config"]["seed"] for k in "12"
    ]
    assert seeds == [1, 2]
    assert len({m.config.reward_mean for m in members}) == 2  # calibrated one by one
    assert len(drawn) == 1
    metrics = json.loads((out / "metrics.json").read_text())
    ens = metrics["reward"]["ensemble"]
    assert ens["members"] == 3 and len(ens["member_pair_accuracy"]) == 3
    assert 0.0 <= ens["pair_accuracy"] <= 1.0 and ens["pair_accuracy_by_intent"]
    # The pipeline reads the ensemble from its members' scores: the same as scoring with all three.
    from rlhf_core.models import load_model, load_tokenizer
    from rlhf_core.reward import load_pairs, pair_accuracy

    heldout = load_pairs(out / "reward" / "preference_pairs_heldout.jsonl")
    everyone = [load_model(out / "reward", kind="reward"), *members]
    expected = pair_accuracy(everyone, load_tokenizer(out / "reward"), heldout)
    assert (ens["pair_accuracy"], ens["pair_accuracy_by_intent"]) == (expected["pair_accuracy"], expected["by_intent"])
    assert main([*args, "--stages", "ppo", "--no-eval"]) == 0
    assert json.loads((out / "metrics.json").read_text())["ppo"]["reward_members"] == 3
    assert main([*args, "--stages", "reward", "--reward-ensemble", "0"]) == 2
    assert "--reward-ensemble must be 1 or more" in capsys.readouterr().err
    assert main([*args, "--stages", "sft", "--sft-refusal-share", "1.5"]) == 2
    assert "--sft-refusal-share must be between 0 and 1" in capsys.readouterr().err


def test_pipeline_ppo_rounds_retrain_the_reward_model_and_go_on(tiny_base_dir, tmp_path, capsys, monkeypatch):
    """``--ppo-rounds 2``: after PPO, new comparisons of the policy's and the SFT model's samples are
    added to the pairs, a new reward model (reward_round2/, with its new pairs) is trained on all of
    them, and PPO goes on from the same policy against it, the SFT model still the reference. DPO
    keeps the first pairs. Bad values are clear errors."""
    import rlhf_core.pipeline as pipeline_module
    from rlhf_core.models import load_model
    from rlhf_core.reward import load_pairs

    built = []
    real = pipeline_module.PPOTrainer

    def recording(config, policy, reference, members, *args, **kwargs):
        built.append((config, policy, reference, [m.score.weight.detach().clone() for m in members]))
        return real(config, policy, reference, members, *args, **kwargs)

    monkeypatch.setattr(pipeline_module, "PPOTrainer", recording)
    dpo_pairs = []
    real_dpo = pipeline_module.DPOTrainer
    monkeypatch.setattr(
        pipeline_module,
        "DPOTrainer",
        lambda c, p, r, t, pairs: dpo_pairs.append(list(pairs)) or real_dpo(c, p, r, t, pairs),
    )
    out = tmp_path / "run"
    args = ["pipeline", "--out", str(out), "--base", str(tiny_base_dir), "--preset", "tiny"]
    flags = ["--sequential", "--ppo-rounds", "2", "--ppo-round-steps", "2", "--reward-round-prompts", "30"]
    assert main([*args, "--stages", "sft,reward,ppo,dpo", *flags]) == 0
    assert len(built) == 2
    (first, policy, reference, first_rm), (second, policy2, reference2, second_rm) = built
    assert policy2 is policy and reference2 is reference  # the same policy goes on, leashed to SFT
    assert (first.steps, second.steps) == (3, 2) and second.seed != first.seed
    round_rm = load_model(out / "reward_round2", kind="reward")
    assert torch.equal(second_rm[0], round_rm.score.weight) and not torch.equal(second_rm[0], first_rm[0])
    first_pairs = load_pairs(out / "reward" / "preference_pairs.jsonl")
    new_pairs = load_pairs(out / "reward_round2" / "new_pairs.jsonl")
    assert new_pairs and {p.source for p in new_pairs} == {"round"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["ppo"]["history"]) == 3 + 2
    assert sorted({s["step"] for s in metrics["ppo"]["samples"]}) == [1, 2, 3, 4, 5]  # steps count on
    (info,) = metrics["ppo"]["rounds"]
    assert info["round"] == 2 and info["first_step"] == 4 and info["new_pairs"] == len(new_pairs)
    # As many epochs over all pairs as the first reward model had over its own.
    config = json.loads((out / "reward_round2" / "training_info.json").read_text())["config"]
    expected_steps = round(4 * (len(first_pairs) + len(new_pairs)) / len(first_pairs))
    assert config["steps"] == info["reward_steps"] == expected_steps
    assert 0.0 <= info["pair_accuracy"] <= 1.0 and set(info["policy_before"]) >= {"gold_score", "eos_rate"}
    assert [(p.prompt, p.chosen) for p in dpo_pairs[0]] == [(p.prompt, p.chosen) for p in first_pairs]
    assert main([*args, "--stages", "ppo", "--ppo-rounds", "0"]) == 2
    assert "--ppo-rounds must be 1 or more" in capsys.readouterr().err
    assert main([*args, "--stages", "ppo", "--ppo-round-steps", "0"]) == 2
    assert "--ppo-round-steps must be 1 or more" in capsys.readouterr().err
