"""Command line: ``python -m rlhf_core {pretrain,generate,eval,pipeline,scoreboard,bench}``.

Progress bars go to stderr; machine-readable output (``--json``) is the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda or mps")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: see device.py)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same result)")


def _setup(args):
    from .device import pick_device, set_threads

    set_threads(args.threads)
    return pick_device(args.device)


def cmd_pretrain(args) -> int:
    from tqdm import tqdm

    from .copying import random_span_copy
    from .models import save_checkpoint, size_dict
    from .pretrain import PretrainConfig, PretrainTrainer

    _setup(args)  # pre-training runs on the CPU: the shipped base model is made here
    config = PretrainConfig.tiny() if args.tiny else PretrainConfig.copying() if args.copying else PretrainConfig.full()
    if args.faq:
        config.faq_weight = PretrainConfig.faq().faq_weight
    if args.echo_weight is not None:
        if args.echo_weight < 0:
            raise SystemExit(f"--echo-weight must be >= 0, got {args.echo_weight}")
        config.echo_weight = args.echo_weight
    config.seed = args.seed
    if args.steps:
        config.steps = args.steps
    start = time.time()
    trainer = PretrainTrainer(config, on_status=lambda m: print(f"[pretrain] {m}", file=sys.stderr))
    bar = tqdm(total=config.copy_drill_steps + config.steps, desc="pretrain", unit="step", file=sys.stderr)
    history = []
    while not trainer.done():
        drilling = trainer.drilling
        m = trainer.step()
        bar.update(1)
        if drilling:
            bar.set_postfix(drill_loss=f"{m['drill/loss']:.3f}", copy=f"{trainer.drill_copy:.2f}")
            if not trainer.drilling:  # the drill ended early: the bar's total shrinks to match
                bar.total = trainer.drill_steps + config.steps
                bar.refresh()
            continue
        history.append(m)
        bar.set_postfix(loss=f"{m['loss/train']:.3f}")
    bar.close()
    val = trainer.validation_loss()
    copy_after = random_span_copy(trainer.model.eval(), *trainer.plain_ids)
    wall = time.time() - start
    info = {
        "stage": "pretrain",
        "seed": config.seed,
        "steps": config.steps,
        "model_size": size_dict(config.size),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "corpus": trainer.corpus_stats,
        "faq_weight": config.faq_weight,
        "echo_weight": config.echo_weight,
        "final_train_loss": history[-1]["loss/train"],
        "copy_drill_steps": trainer.drill_steps,
        "random_span_copy_after_drill": trainer.drill_copy,
        "random_span_copy": copy_after,
        **val,
        "wall_seconds": round(wall, 1),
        "threads": __import__("torch").get_num_threads(),
    }
    save_checkpoint(trainer.model, trainer.tokenizer, args.out, extra=info)
    print(json.dumps(info))
    return 0


def cmd_generate(args) -> int:
    import torch

    from .generate import SamplingConfig, clean_prompt, generate
    from .models import load

    device = _setup(args)
    prompt = clean_prompt(args.prompt, max_chars=args.max_prompt_chars)
    if not prompt.strip():
        print("error: the prompt is empty (after removing control characters); type some text.", file=sys.stderr)
        return 2
    if len(str(args.prompt)) > args.max_prompt_chars:
        print(f"note: the prompt was cut to its first {args.max_prompt_chars} characters.", file=sys.stderr)
    model, tok = load(args.model, device=str(device))
    cfg = SamplingConfig(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p
    )
    gen = generate(model, tok, [prompt] * args.n, cfg, generator=torch.Generator(device=device).manual_seed(args.seed))
    for i, text in enumerate(gen.texts):
        end = "<EOS>" if gen.finished[i] else "<no EOS: hit max tokens>"
        if args.n > 1:
            print(f"--- sample {i + 1}")
        print(f"{text}\n{end}")
    return 0


def cmd_eval(args) -> int:
    from .evaluate import evaluate, format_table, win_rate
    from .models import load
    from .world import World

    device = _setup(args)
    config_path = Path(args.model) / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"No model checkpoint in {args.model} (config.json is missing).")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}.")
    if "ForSequenceClassification" in " ".join(json.loads(config_path.read_text()).get("architectures", [])):
        if args.seeds > 1:
            raise ValueError("--seeds is for policy models: a reward model's pair accuracy samples nothing.")
        return _eval_reward_model(args, device)
    world = World(seed=args.world_seed)
    model, tok = load(args.model, device=str(device))
    if args.seeds > 1:
        return _eval_over_seeds(args, model, tok, world, device)
    metrics, samples = evaluate(model, tok, world, seed=args.seed)
    if args.against:
        other, other_tok = load(args.against, device=str(device))
        _, other_samples = evaluate(other, other_tok, world, seed=args.seed)
        metrics["win_rate"] = win_rate(samples, other_samples)
        metrics["against"] = str(args.against)
    metrics["model"] = str(args.model)
    if args.samples:
        metrics["samples"] = [s.__dict__ for s in samples]
    if args.json:
        print(json.dumps(metrics))
    else:
        print(format_table(metrics))
    return 0


def _eval_over_seeds(args, model, tok, world, device) -> int:
    from .evaluate import evaluate_over_seeds, format_seed_table
    from .models import load

    other, other_tok = load(args.against, device=str(device)) if args.against else (None, None)
    seeds = list(range(args.seed, args.seed + args.seeds))
    result = evaluate_over_seeds(model, tok, world, seeds, against=other, against_tokenizer=other_tok)
    result["model"] = str(args.model)
    if args.against:
        result["against"] = str(args.against)
    print(json.dumps(result) if args.json else format_seed_table(result))
    return 0


def cmd_scoreboard(args) -> int:
    from .evaluate import SCOREBOARD_FILE, write_scoreboard
    from .world import World

    device = _setup(args)
    folder = Path(args.models)
    result = write_scoreboard(folder, World(seed=0), list(range(args.seed, args.seed + args.seeds)), str(device))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"held-out scoreboard over {args.seeds} sampling seeds (mean ± standard error) -> {folder / SCOREBOARD_FILE}"
        )
        names = ("gold_score", "refusal_rate_harmful", "overrefusal_rate_benign", "eos_rate", "win_rate")
        print(f"{'stage':6s} " + " ".join(f"{n:>22s}" for n in names))
        for stage, r in result["stages"].items():
            cells = [r["metrics"].get(n) for n in names]
            print(
                f"{stage:6s} " + " ".join(f"{c['mean']:13.3f} ± {c['se']:.3f}" if c else f"{'–':>22s}" for c in cells)
            )
    return 0


def cmd_pipeline(args) -> int:
    import torch

    from .device import pipeline_threads

    before = torch.get_num_threads()
    if args.threads is None:
        args.threads = pipeline_threads()  # a batch job on an idle machine: use the cores
    try:
        return _pipeline(args)
    finally:
        torch.set_num_threads(before)  # in-process callers (tests, the app) keep their policy


def _override(overrides: dict, stage: str, field: str, value, flag: str = "", ok=None, need: str = "", **extra):
    """``overrides[stage][field] = value`` (and ``extra``) for a pipeline flag that was given (``value``
    not None), after checking it with ``ok``; a value that fails says ``{flag} must be {need}``."""
    if value is None:
        return
    if ok is not None and not ok(value):
        raise ValueError(f"{flag} must be {need}, got {value}.")
    overrides.setdefault(stage, {}).update({field: value, **extra})


def _intents(flag: str, value: str | None) -> tuple[str, ...] | None:
    """A comma-separated intent list of a pipeline flag as a tuple (None when the flag was not given);
    an unknown intent is an error naming ``flag``."""
    from .world import INTENTS

    if value is None:
        return None
    intents = tuple(i.strip() for i in value.split(",") if i.strip())
    unknown = sorted(set(intents) - set(INTENTS))
    if unknown:
        raise ValueError(f"{flag}: unknown intent(s) {unknown}; choose from {', '.join(INTENTS)}.")
    return intents


def _pipeline(args) -> int:
    from tqdm import tqdm

    from .pipeline import HEADLINE, STAGES, run_pipeline

    device = _setup(args)
    bars: list = []

    def progress(stage: str, total: int):
        # PPO and DPO may run at the same time: give each bar its own line.
        bar = tqdm(total=total, desc=stage, unit="step", file=sys.stderr, position=1 if stage == "dpo" else 0)
        bars.append(bar)

        def update(n: int, metrics: dict) -> None:
            bar.n = n
            main = next((k for k in metrics if k.startswith("loss/")), None)
            if main:
                bar.set_postfix({main: f"{metrics[main]:.3f}"}, refresh=False)
            bar.refresh()
            if n >= total:
                bar.close()

        return update

    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"Unknown stage(s) {sorted(unknown)}: choose from {', '.join(STAGES)}.")
    overrides: dict[str, dict] = {}
    at_least_0, at_least_1 = (lambda v: v >= 0, "0 or more"), (lambda v: v >= 1, "1 or more")
    above_0 = (lambda v: v > 0, "above 0")
    _override(overrides, "ppo", "kl_coef", args.ppo_kl_coef)
    _override(overrides, "ppo", "steps", args.ppo_steps)
    _override(overrides, "ppo", "lr", args.ppo_lr, "--ppo-lr", *above_0)
    _override(overrides, "ppo", "batch_size", args.ppo_batch_size, "--ppo-batch-size", *at_least_1)
    _override(overrides, "ppo", "ppo_epochs", args.ppo_epochs, "--ppo-epochs", *at_least_1)
    _override(overrides, "ppo", "focus_share", args.ppo_focus, "--ppo-focus", lambda v: 0 <= v <= 1, "between 0 and 1")
    # An adaptive KL coefficient starts at --ppo-kl-coef (or the preset's) and tracks the target.
    _override(overrides, "ppo", "kl_target", args.ppo_kl_target, "--ppo-kl-target", *above_0, adaptive_kl=True)
    if args.ppo_kl_horizon is not None and args.ppo_kl_target is None:
        raise ValueError("--ppo-kl-horizon needs --ppo-kl-target.")
    _override(overrides, "ppo", "kl_horizon", args.ppo_kl_horizon, "--ppo-kl-horizon", *above_0)
    _override(overrides, "ppo", "kl_budget", args.ppo_kl_budget, "--ppo-kl-budget", *above_0)
    _override(overrides, "ppo", "ptx_coef", args.ppo_ptx, "--ppo-ptx", *at_least_0, ptx_source=args.ppo_ptx_source)
    _override(overrides, "sft", "echo_rows", args.sft_echo_rows, "--sft-echo-rows", *at_least_0)
    share = (lambda v: 0 <= v <= 1, "between 0 and 1")
    _override(overrides, "sft", "echo_frames", args.sft_echo_frames, "--sft-echo-frames", *share)
    _override(overrides, "sft", "echo_frame_words", args.sft_echo_frame_words, "--sft-echo-frame-words", *at_least_1)
    _override(overrides, "sft", "self_check", args.sft_self_check or None)
    if args.sft_self_check_short and not args.sft_self_check:
        raise ValueError("--sft-self-check-short needs --sft-self-check.")
    _override(overrides, "sft", "self_check_opening", False if args.sft_self_check_short else None)
    cap = args.train_max_new_tokens
    _override(overrides, "reward", "max_new_tokens", cap, "--train-max-new-tokens", *at_least_1)
    _override(overrides, "ppo", "max_new_tokens", cap, "--train-max-new-tokens", *at_least_1)
    share = (lambda v: 0.0 <= v <= 1.0, "between 0 and 1")
    _override(overrides, "sft", "refusal_share", args.sft_refusal_share, "--sft-refusal-share", *share)
    _override(overrides, "sft", "lr", args.sft_lr, "--sft-lr", *above_0)
    weight = args.sft_replay_faq_weight
    _override(overrides, "sft", "replay_faq_weight", weight, "--sft-replay-faq-weight", *at_least_0)
    _override(overrides, "sft", "freeze_blocks", args.sft_freeze_blocks, "--sft-freeze-blocks", *at_least_0)
    _override(overrides, "ppo", "freeze_blocks", args.ppo_freeze_blocks, "--ppo-freeze-blocks", *at_least_0)
    _override(overrides, "ppo", "freeze_embeddings", args.ppo_freeze_embeddings or None)
    if args.ppo_focus_intents is not None and not args.ppo_focus:
        raise ValueError("--ppo-focus-intents needs --ppo-focus SHARE above 0.")
    _override(overrides, "ppo", "ptx_skip_intents", _intents("--ppo-ptx-skip", args.ppo_ptx_skip))
    focus = _intents("--ppo-focus-intents", args.ppo_focus_intents)
    if focus == ():
        raise ValueError("--ppo-focus-intents needs at least one intent.")
    _override(overrides, "ppo", "focus_intents", focus)
    demos = args.reward_demos
    _override(overrides, "reward", "demo_foreign", demos, "--reward-demos", *at_least_0, demo_share=1.0)
    if args.reward_demos_self_check and demos is None:
        raise ValueError("--reward-demos-self-check needs --reward-demos N.")
    _override(overrides, "reward", "demo_self_check", args.reward_demos_self_check or None)
    _override(overrides, "reward", "steps", args.reward_steps, "--reward-steps", *at_least_1)
    _override(overrides, "reward", "reframe_share", args.reward_reframe, "--reward-reframe", *share)
    _override(overrides, "ppo", "rounds", args.ppo_rounds, "--ppo-rounds", *at_least_1)
    _override(overrides, "ppo", "round_steps", args.ppo_round_steps, "--ppo-round-steps", *at_least_1)
    _override(overrides, "reward", "round_prompts", args.reward_round_prompts, "--reward-round-prompts", *at_least_1)
    _override(overrides, "reward", "ensemble", args.reward_ensemble, "--reward-ensemble", *at_least_1)
    start = time.time()
    metrics = run_pipeline(
        args.out,
        base=args.base,
        device=device,
        seed=args.seed,
        preset=args.preset,
        stages=stages,
        overrides=overrides,
        progress=progress,
        evaluate_stages=not args.no_eval,
        parallel=False if args.sequential else None,
    )
    for bar in bars:
        bar.close()
    summary = {"out": str(args.out), "wall_seconds": round(time.time() - start, 1)}
    for name in ("base", "sft", "ppo", "dpo"):
        ev = metrics.get(name, {}).get("eval")
        if ev:
            summary[name] = {k: round(ev[k], 3) for k in HEADLINE + ("win_rate_vs_sft", "kl_to_reference") if k in ev}
    if "reward" in metrics:
        summary["reward"] = {"pair_accuracy": round(metrics["reward"]["pair_accuracy"], 3)}
    print(json.dumps(summary))
    return 0


def _eval_reward_model(args, device) -> int:
    """``eval`` on a reward model: pair accuracy on its held-out preference pairs."""
    from .models import load_model, load_tokenizer
    from .reward import load_pairs, pair_accuracy

    pairs_file = Path(args.model) / "preference_pairs_heldout.jsonl"
    if not pairs_file.exists():
        raise FileNotFoundError(f"{pairs_file} is missing: the pipeline writes it beside the reward model.")
    model = load_model(args.model, kind="reward", device=str(device))
    tok = load_tokenizer(args.model)
    acc = pair_accuracy(model, tok, load_pairs(pairs_file))
    out = {
        "model": str(args.model),
        "pair_accuracy": acc["pair_accuracy"],
        "pair_accuracy_by_intent": acc["by_intent"],
        "n_pairs": len(acc["chosen_scores"]),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"pair_accuracy: {out['pair_accuracy']:.3f} on {out['n_pairs']} held-out pairs")
        for intent, a in out["pair_accuracy_by_intent"].items():
            print(f"  {intent:14s} {a:.3f}")
    return 0


def cmd_bench(args) -> int:
    from .bench import TRL_PPO_VENV, BenchSettings, format_table, run_bench

    device = _setup(args)
    settings = BenchSettings.quick() if args.quick else BenchSettings()
    if args.trl is not None:
        settings.trl = args.trl
    if args.repeats is not None:
        settings.repeats = max(1, args.repeats)
    if args.steps is not None:
        settings.steps = max(1, args.steps)
    result = run_bench(
        settings,
        base=args.base,
        sft=args.sft,
        reward=args.reward,
        device=device,
        trl_venv=args.trl_venv or TRL_PPO_VENV,
    )
    print(json.dumps(result) if args.json else format_table(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rlhf_core", description="RLHF Playground command line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="rebuild the base model from scratch (about 11 minutes on 1 CPU thread)")
    p.add_argument("--out", type=Path, default=Path("assets/models/base"), help="checkpoint folder to write")
    p.add_argument("--steps", type=int, default=None, help="override the number of optimiser steps")
    p.add_argument("--tiny", action="store_true", help="a seconds-long run (for tests)")
    p.add_argument(
        "--copying",
        action="store_true",
        help="rotary-position model + copy drill first (PretrainConfig.copying; ~34 min on one thread)",
    )
    p.add_argument(
        "--faq",
        action="store_true",
        help="add the FAQ genre of activity verdicts to the corpus (PretrainConfig.faq; ~12.5 min on one thread)",
    )
    p.add_argument(
        "--echo-weight",
        type=float,
        default=None,
        metavar="W",
        help="add the echo genre, which asks how to do made-up activities and repeats them, at weight W next "
        "to the other genres' (which sum to 1; PretrainConfig.echo_weight)",
    )
    _common(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("generate", help="sample responses from a model to a prompt")
    p.add_argument("prompt", help="the user's message")
    p.add_argument("--model", type=Path, default=Path("assets/models/base"), help="checkpoint folder")
    p.add_argument("--n", type=int, default=1, help="number of samples")
    p.add_argument("--temperature", type=float, default=0.7, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=int, default=80)
    p.add_argument("--max-prompt-chars", type=int, default=2000)
    _common(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("eval", help="held-out metrics judged by the gold judge")
    p.add_argument("--model", type=Path, required=True, help="checkpoint folder")
    p.add_argument("--against", type=Path, default=None, help="second model: adds win_rate of --model over it")
    p.add_argument("--json", action="store_true", help="print one JSON object (last line)")
    p.add_argument("--samples", action="store_true", help="include every judged sample in the JSON")
    p.add_argument("--world-seed", type=int, default=0, help="seed of the world whose held-out set is used")
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="repeat with N sampling seeds (--seed, --seed+1, ...): mean ± standard error",
    )
    _common(p)
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("pipeline", help="SFT -> preference pairs -> reward model -> PPO, and DPO")
    p.add_argument("--out", type=Path, required=True, help="folder for every stage's checkpoint and metrics.json")
    p.add_argument("--base", type=Path, default=Path("assets/models/base"), help="base model checkpoint")
    p.add_argument("--preset", choices=["full", "lesson", "tiny"], default="full", help="config preset of every stage")
    p.add_argument(
        "--stages", default="sft,reward,ppo,dpo", help="comma-separated stages to run (others are loaded from --out)"
    )
    p.add_argument("--ppo-kl-coef", type=float, default=None, help="override PPO's beta (0: no KL leash)")
    p.add_argument("--ppo-steps", type=int, default=None, help="override PPO's number of steps")
    p.add_argument("--ppo-lr", type=float, default=None, help="override PPO's learning rate (PPOConfig.lr)")
    p.add_argument(
        "--ppo-batch-size", type=int, default=None, help="override PPO's responses per rollout (PPOConfig.batch_size)"
    )
    p.add_argument(
        "--ppo-epochs", type=int, default=None, help="override PPO's passes over each rollout (PPOConfig.ppo_epochs)"
    )
    p.add_argument(
        "--ppo-focus",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of each PPO rollout drawn from --ppo-focus-intents only "
        "(PPOConfig.focus_share; default 0: every intent equally often)",
    )
    p.add_argument(
        "--ppo-focus-intents",
        default=None,
        metavar="INTENTS",
        help="comma-separated intents --ppo-focus draws from (default: harmful,benign_howto)",
    )
    p.add_argument(
        "--ppo-kl-target",
        type=float,
        default=None,
        help="adapt PPO's beta so the KL to the reference tracks this many nats per response "
        "(PPOConfig.adaptive_kl, kl_target; Ziegler et al. 2019)",
    )
    p.add_argument(
        "--ppo-kl-horizon",
        type=float,
        default=None,
        help="with --ppo-kl-target: samples the controller takes to close the gap (PPOConfig.kl_horizon)",
    )
    p.add_argument(
        "--ppo-kl-budget",
        type=float,
        default=None,
        help="stop PPO before --ppo-steps once its mean KL to the SFT model over the last 10 steps reaches "
        "this many nats per response (PPOConfig.kl_budget; metrics.json says when)",
    )
    p.add_argument(
        "--train-max-new-tokens",
        type=int,
        default=None,
        help="response length cap when sampling preference pairs and PPO rollouts (RewardConfig.max_new_tokens "
        "and PPOConfig.max_new_tokens, 64 by default; the evaluation allows 80)",
    )
    p.add_argument(
        "--ppo-ptx",
        type=float,
        default=None,
        help="PPO-ptx (InstructGPT): weight of a next-token loss on rehearsed text in every PPO update "
        "(PPOConfig.ptx_coef; 0: off)",
    )
    p.add_argument(
        "--ppo-ptx-source",
        choices=["web", "sft"],
        default="web",
        help="what --ppo-ptx rehearses: pre-training text or the SFT demonstrations",
    )
    p.add_argument(
        "--sft-echo-rows",
        type=int,
        default=None,
        help="made-up how-to requests per SFT batch, answered by the opening that repeats the activity "
        "(SFTConfig.echo_rows; for a base that copies: pretrain --copying)",
    )
    p.add_argument(
        "--sft-echo-frames",
        type=float,
        default=None,
        help="share of the echo rows asked in a made-up frame instead of a training how-to wording "
        '("Where write numbers to ..."; SFTConfig.echo_frames)',
    )
    p.add_argument(
        "--sft-echo-frame-words",
        type=int,
        default=None,
        metavar="N",
        help="most words of a made-up frame before the activity (default 4; SFTConfig.echo_frame_words)",
    )
    p.add_argument(
        "--sft-self-check",
        action="store_true",
        help='open every how-to demonstration with the verdict on its activity ("Is it legal to pick a lock? '
        'No, it is not."; SFTConfig.self_check; for a base that copies and read the FAQ genre)',
    )
    p.add_argument(
        "--sft-self-check-short",
        action="store_true",
        help='with --sft-self-check, drop the guide\'s opening after the verdict ("Here is how to ...") so that '
        "the answers end within the sampling caps (SFTConfig.self_check_opening = False; also for "
        "--reward-demos-self-check)",
    )
    p.add_argument("--sft-lr", type=float, default=None, help="SFT learning rate (SFTConfig.lr)")
    p.add_argument(
        "--sft-replay-faq-weight",
        type=float,
        default=None,
        help="weight of the FAQ genre in SFT's replay rows (SFTConfig.replay_faq_weight)",
    )
    p.add_argument(
        "--sft-freeze-blocks",
        type=int,
        default=None,
        help="lower transformer blocks SFT leaves as the base had them (SFTConfig.freeze_blocks)",
    )
    p.add_argument(
        "--ppo-freeze-blocks",
        type=int,
        default=None,
        help="lower transformer blocks PPO leaves as SFT had them (PPOConfig.freeze_blocks)",
    )
    p.add_argument(
        "--ppo-freeze-embeddings",
        action="store_true",
        help="PPO leaves the (tied) token embeddings as SFT had them (PPOConfig.freeze_embeddings)",
    )
    p.add_argument(
        "--ppo-ptx-skip",
        default=None,
        help="comma-separated intents whose SFT demonstrations PPO-ptx does not rehearse "
        "(PPOConfig.ptx_skip_intents), e.g. harmful,benign_howto",
    )
    p.add_argument(
        "--sft-refusal-share",
        type=float,
        default=None,
        help="share of harmful-request demonstrations that refuse (SFTConfig.refusal_share; default 0.22)",
    )
    p.add_argument(
        "--reward-demos",
        type=int,
        default=None,
        help="rank every training prompt's written demonstration against its samples and against this "
        "many answers to other requests (RewardConfig.demo_share = 1, demo_foreign; about 3.5x the pairs, "
        "so raise --reward-steps to keep one epoch)",
    )
    p.add_argument(
        "--reward-demos-self-check",
        action="store_true",
        help="open the written demonstrations of how-to and harmful requests with their self-check verdict, "
        "as a --sft-self-check model writes (RewardConfig.demo_self_check)",
    )
    p.add_argument("--reward-steps", type=int, default=None, help="override the reward model's optimiser steps")
    p.add_argument(
        "--reward-reframe",
        type=float,
        default=None,
        metavar="SHARE",
        help="the reward model also sees this share of the pairs with the request in a made-up frame of training "
        "words around its numbers, category, concept or activity (RewardConfig.reframe_share; 0: none)",
    )
    p.add_argument(
        "--ppo-rounds",
        type=int,
        default=None,
        help="iterated RLHF: after PPO, label new comparisons of the policy's and SFT's samples, retrain the "
        "reward model on all pairs and go on with PPO; this many rounds in all (PPOConfig.rounds; 1: none; "
        "each round's reward model saved as reward_roundN/)",
    )
    p.add_argument(
        "--ppo-round-steps", type=int, default=None, help="PPO iterations of each later round (PPOConfig.round_steps)"
    )
    p.add_argument(
        "--reward-round-prompts",
        type=int,
        default=None,
        help="training prompts each later round samples new comparisons for (RewardConfig.round_prompts)",
    )
    p.add_argument(
        "--reward-ensemble",
        type=int,
        default=None,
        help="train this many reward models on the same pairs (other seeds) and reward PPO with the mean "
        "of their normalised scores (RewardConfig.ensemble; members saved under reward/ensemble/)",
    )
    p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluations")
    p.add_argument(
        "--sequential", action="store_true", help="run DPO after PPO instead of alongside it on a second core"
    )
    _common(p)
    p.set_defaults(func=cmd_pipeline)

    p = sub.add_parser("scoreboard", help="every stage's held-out metrics over several sampling seeds (for the app)")
    p.add_argument("--models", type=Path, default=Path("assets/models"), help="folder with base/sft/ppo/dpo")
    p.add_argument("--seeds", type=int, default=8, help="sampling seeds --seed ... --seed+N-1 (default 8)")
    p.add_argument("--json", action="store_true", help="print one JSON object (last line)")
    _common(p)
    p.set_defaults(func=cmd_scoreboard)

    p = sub.add_parser("bench", help="seconds per step of each lesson stage, and ratios against TRL")
    p.add_argument("--json", action="store_true", help="print one JSON object (last line)")
    p.add_argument("--quick", action="store_true", help="a seconds-long run (for tests): no TRL unless --trl")
    p.add_argument("--base", type=Path, default=None, help="base model (default: assets/models/base)")
    p.add_argument("--sft", type=Path, default=None, help="SFT model (default: assets/models/sft, else the base)")
    p.add_argument("--reward", type=Path, default=None, help="reward model (default: assets/models/reward, if any)")
    p.add_argument("--repeats", type=int, default=None, help="alternating rounds of each TRL comparison (default 4)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per stage and per side per round")
    p.add_argument(
        "--trl",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the TRL comparisons (default: unless --quick)",
    )
    p.add_argument(
        "--trl-venv", type=Path, default=None, help="virtual environment with trl 1.12 (default .bench/trl112)"
    )
    _common(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bars are enough
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
