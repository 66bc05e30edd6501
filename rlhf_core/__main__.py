"""Command line: ``python -m rlhf_core {pretrain,generate,eval,pipeline,bench}``.

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

    from .models import save_checkpoint, size_dict
    from .pretrain import PretrainConfig, PretrainTrainer

    _setup(args)  # pre-training runs on the CPU: the shipped base model is made here
    config = PretrainConfig.tiny() if args.tiny else PretrainConfig.full()
    config.seed = args.seed
    if args.steps:
        config.steps = args.steps
    start = time.time()
    trainer = PretrainTrainer(config, on_status=lambda m: print(f"[pretrain] {m}", file=sys.stderr))
    bar = tqdm(total=config.steps, desc="pretrain", unit="step", file=sys.stderr)
    history = []
    while not trainer.done():
        m = trainer.step()
        history.append(m)
        bar.update(1)
        bar.set_postfix(loss=f"{m['loss/train']:.3f}")
    bar.close()
    val = trainer.validation_loss()
    wall = time.time() - start
    info = {
        "stage": "pretrain",
        "seed": config.seed,
        "steps": config.steps,
        "model_size": size_dict(config.size),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "corpus": trainer.corpus_stats,
        "final_train_loss": history[-1]["loss/train"],
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
    world = World(seed=args.world_seed)
    model, tok = load(args.model, device=str(device))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rlhf_core", description="RLHF Playground command line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="rebuild the base model from scratch (about 12 minutes on 1 CPU thread)")
    p.add_argument("--out", type=Path, default=Path("assets/models/base"), help="checkpoint folder to write")
    p.add_argument("--steps", type=int, default=None, help="override the number of optimiser steps")
    p.add_argument("--tiny", action="store_true", help="a seconds-long run (for tests)")
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
    _common(p)
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
