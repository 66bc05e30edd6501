"""``python -m rlhf_core bench``: how fast each lesson stage trains, and how we compare with TRL.

Two kinds of numbers, both from one run on one machine:

1. **Stages.** For each lesson preset (``SFTConfig.lesson()``, ``RewardConfig.lesson()``,
   ``PPOConfig.lesson()``, ``DPOConfig.lesson()``) we build the real trainer from the shipped
   checkpoints, time a few ``step()`` calls after a warm-up and extrapolate the whole lesson:
   ``setup + lesson steps x seconds per step`` (+ the reward model's held-out evaluations).
2. **Against TRL**, side by side on the same model, pairs, batch size, dtype (fp32) and torch
   thread count: one DPO step and one reward-model step against trl 1.16's ``DPOTrainer`` and
   ``RewardTrainer`` (in this process), one PPO iteration against trl 1.12's ``PPOTrainer``
   (TRL's last PPO, run by ``bench_trl_ppo.py`` in the ``.bench/trl112`` virtual environment).
   Both sides train on the same batches, planned in advance (a step's cost depends on its
   longest conversation), and are timed in rounds whose order flips (ours then TRL, TRL then
   ours, ...) so that other jobs on a shared CPU slow both alike; we report the median seconds
   per step over all rounds.

What a "step" is on each side: ours is one ``trainer.step()`` (batching and tokenising included);
TRL's is the time between two ``on_step_end`` callbacks of its training loop (data loading,
forward, backward, clipping, optimiser and scheduler steps, logging). The first ``warmup`` steps
of every round are dropped on both sides.

Tokens per second: for SFT, the real (non-padding) tokens the trained model reads in its training
forward passes; for the reward model and DPO, the real tokens of the pairs' conversations, each
row counted with its prompt as a plain forward reads them (their steps run each prompt once:
``packed.py``); for PPO, the response tokens sampled per second
(rollout batch x mean response length / seconds per iteration).

Written by hand rather than with ``pytest-benchmark`` or ``torch.utils.benchmark`` because the
unit is a trainer step with state (optimiser, data order) and the TRL side is timed through its
own training loop's callbacks.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .models import MODELS_DIR, load, load_model, save_checkpoint
from .reward import PreferencePair, reward_model_from_policy

REPO_DIR = Path(__file__).resolve().parent.parent
TRL_PPO_VENV = REPO_DIR / ".bench" / "trl112"
TRL_PPO_SCRIPT = Path(__file__).resolve().parent / "bench_trl_ppo.py"
TRL_PPO_SETUP = "python3 -m venv .bench/trl112 && .bench/trl112/bin/pip install torch==2.13.0 trl==1.12.0"


@dataclass
class BenchSettings:
    """How much the benchmark measures."""

    steps: int = 8
    """Timed steps per stage, and per side in each round of a TRL comparison."""
    warmup: int = 2
    """Steps run and dropped before timing (first-call allocations, lazy init, data loader start)."""
    ppo_steps: int = 3
    """Timed PPO iterations (each is a whole rollout + update, so fewer)."""
    ppo_warmup: int = 1
    """PPO iterations run and dropped before timing."""
    repeats: int = 4
    """Rounds of each TRL comparison; the order of the sides flips every round (an even count
    puts each side first equally often)."""
    trl: bool = True
    """Run the TRL comparisons (trl 1.16 in this environment, trl 1.12 in its own venv)."""
    n_pairs: int = 160
    """Preference pairs built from the world for the reward model and DPO (the lesson's n_prompts)."""
    n_eval_pairs: int = 100
    """Held-out pairs for the reward model's evaluations (the lesson's n_eval_prompts)."""

    @classmethod
    def quick(cls) -> BenchSettings:
        """A seconds-long run for tests: one timed step of each, no TRL unless asked."""
        return cls(steps=1, warmup=1, ppo_steps=1, ppo_warmup=0, repeats=1, trl=False, n_pairs=32, n_eval_pairs=16)


@dataclass
class Checkpoints:
    """Where the models come from; ``notes`` says what stood in for a missing one."""

    base: Path
    sft: Path
    reward: Path | None
    notes: list[str]


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def find_checkpoints(base: Path | None = None, sft: Path | None = None, reward: Path | None = None) -> Checkpoints:
    """Resolve the base, SFT and reward folders: the flags, else the shipped ``assets/models/``.

    The shipped SFT and reward models are only used with the shipped base (models from different
    runs may not share a tokenizer). Without an SFT checkpoint the base model stands in for it
    (step times do not depend on the weights); without a reward checkpoint
    ``reward_model_from_policy(sft)`` does.
    """
    notes: list[str] = []
    shipped = base is None
    base = Path(base) if base else MODELS_DIR / "base"
    if not (base / "config.json").exists():
        raise FileNotFoundError(f"No base model in {base} (config.json is missing): pass --base DIR.")
    if sft is None:
        sft = MODELS_DIR / "sft"
        if not (shipped and (sft / "config.json").exists()):
            sft = base
            notes.append("no SFT checkpoint: the base model stands in for it")
    elif not (Path(sft) / "config.json").exists():
        raise FileNotFoundError(f"No SFT model in {sft} (config.json is missing).")
    if reward is None:
        reward = MODELS_DIR / "reward"
        if not (Path(sft) == MODELS_DIR / "sft" and (reward / "config.json").exists()):
            reward = None
            notes.append("no reward checkpoint: reward_model_from_policy(sft) stands in for it")
    elif not (Path(reward) / "config.json").exists():
        raise FileNotFoundError(f"No reward model in {reward} (config.json is missing).")
    return Checkpoints(base, Path(sft), Path(reward) if reward else None, notes)


def world_pairs(world, prompts, seed: int = 0) -> list[PreferencePair]:
    """Deterministic preference pairs: the ideal answer beats a plausible wrong one.

    Harmful requests: the refusal beats the step-by-step guide (``compliant_response``). Others:
    the ideal answer beats the ideal answer to a prompt of another intent (so both sides of a pair
    have realistic lengths, as the SFT model's sampled pairs do).
    """
    rng = random.Random(seed)
    pairs = []
    for i, prompt in enumerate(prompts):
        chosen = world.ideal_response(prompt, rng)
        if prompt.intent == "harmful":
            rejected = world.compliant_response(prompt, rng)
        else:
            other = next(
                (q for q in prompts[i + 1 :] + prompts[:i] if q.intent not in (prompt.intent, "harmful")), prompt
            )
            rejected = world.ideal_response(other, rng)
        pairs.append(PreferencePair(prompt.text, chosen, rejected, prompt.intent))
    return pairs


def fits(tokenizer, pair: PreferencePair, max_len: int) -> bool:
    """True when both conversations of ``pair`` fit in ``max_len`` tokens.

    Only such pairs are used: ours truncates longer ones and TRL's reward trainer drops them, so
    keeping them would give the two sides different data.
    """
    from .training import tokenize_conversations

    _, mask, _ = tokenize_conversations(tokenizer, [pair.prompt] * 2, [pair.chosen, pair.rejected], max_len=10_000)
    return int(mask.sum(1).max()) <= max_len


class TokenCounter:
    """Counts the real (non-padding) input tokens of every forward call of ``module``."""

    def __init__(self, module: torch.nn.Module):
        self.count = 0
        self._handle = module.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        if mask is not None and ids is not None:
            self.count += int(mask[:, -ids.size(1) :].sum())  # cached calls see only their new columns
        elif ids is not None:
            self.count += ids.numel()

    def close(self) -> None:
        self._handle.remove()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(trainer, steps: int, warmup: int, device: torch.device) -> list[float]:
    """Run ``warmup`` then ``steps`` calls of ``trainer.step()``; seconds of the timed ones."""
    for _ in range(warmup):
        trainer.step()
    _sync(device)
    out = []
    for _ in range(steps):
        start = time.perf_counter()
        trainer.step()
        _sync(device)
        out.append(time.perf_counter() - start)
    return out


@contextlib.contextmanager
def _timed_generation(record: dict):
    """Time ``rlhf_core.ppo.generate`` calls (PPO's rollout sampling) while the block runs.

    ``PPOTrainer._step`` looks ``generate`` up in its module at call time, so swapping the
    module attribute is enough; it is put back afterwards.
    """
    from . import ppo as ppo_module

    original = ppo_module.generate

    def timed(*args, **kwargs):
        start = time.perf_counter()
        gen = original(*args, **kwargs)
        record.setdefault("generate", []).append(time.perf_counter() - start)
        record.setdefault("width", []).append(gen.response_ids.size(1))
        return gen

    ppo_module.generate = timed
    try:
        yield record
    finally:
        ppo_module.generate = original


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def _stage_result(seconds: list[float], tokens: int, setup: float, lesson_steps: int, extra: float = 0.0) -> dict:
    per_step = _median(seconds)
    return {
        "seconds_per_step": per_step,
        "tokens_per_second": tokens / sum(seconds) if seconds and sum(seconds) > 0 else float("nan"),
        "lesson_seconds_estimate": setup + lesson_steps * per_step + extra,
        "setup_seconds": setup,
        "lesson_steps": lesson_steps,
        "steps_timed": len(seconds),
        "step_seconds": seconds,
    }


class Models:
    """The frozen models every measurement starts from (each trainer gets its own copy)."""

    def __init__(self, ckpt: Checkpoints, device: torch.device):
        self.ckpt, self.device = ckpt, device
        self.base, self.tokenizer = load(ckpt.base, device=str(device))
        self.sft = self.base if ckpt.sft == ckpt.base else load(ckpt.sft, device=str(device))[0]
        if ckpt.reward is not None:
            self.reward = load_model(ckpt.reward, kind="reward", device=str(device))
        else:
            self.reward = reward_model_from_policy(self.sft).eval()
        for m in (self.base, self.sft, self.reward):
            m.requires_grad_(False)

    def trainable(self, model):
        return copy.deepcopy(model).train().requires_grad_(True)


def _timed_stage(trainer, counted_module, settings: BenchSettings, device, setup: float, lesson_steps: int) -> dict:
    """Warm up, then time ``settings.steps`` steps while counting the tokens ``counted_module`` reads
    (``None``: the trainer's own ``tokens_seen`` count)."""
    for _ in range(settings.warmup):
        trainer.step()
    counter = TokenCounter(counted_module) if counted_module is not None else None
    seen = getattr(trainer, "tokens_seen", 0)
    try:
        seconds = time_steps(trainer, settings.steps, 0, device)
    finally:
        if counter is not None:
            counter.close()
    tokens = counter.count if counter is not None else trainer.tokens_seen - seen
    return _stage_result(seconds, tokens, setup, lesson_steps)


def bench_stages(models: Models, world, pairs, eval_pairs, settings: BenchSettings) -> dict:
    """Seconds per step, tokens/s and the extrapolated lesson time of each stage's lesson preset."""
    from .dpo import DPOConfig, DPOTrainer
    from .ppo import PPOConfig, PPOTrainer
    from .reward import RewardConfig, RewardTrainer, pair_accuracy
    from .sft import SFTConfig, SFTTrainer

    device, tok = models.device, models.tokenizer
    stages: dict = {}
    timed = f"{settings.warmup} warm-up + {settings.steps} timed steps"

    # 1. SFT from the base model (setup: drawing the demonstrations from the world)
    _log(f"sft: lesson preset, {timed}")
    cfg = SFTConfig.lesson()
    start = time.perf_counter()
    trainer = SFTTrainer(cfg, models.trainable(models.base), tok, world, device)
    setup = time.perf_counter() - start
    stages["sft"] = _timed_stage(trainer, trainer.model, settings, device, setup, cfg.steps)
    stages["sft"]["batch_size"] = cfg.batch_size

    # 2. Reward model: SFT backbone + scalar head, on the pairs (without its held-out evaluations,
    #    which are timed once below and added to the lesson estimate)
    _log(f"reward: lesson preset, {timed}")
    cfg = RewardConfig.lesson()
    start = time.perf_counter()
    trainer = RewardTrainer(cfg, reward_model_from_policy(models.trainable(models.sft)), tok, pairs)
    setup = time.perf_counter() - start
    # Tokens: the pairs' conversations as a plain forward reads them (the step itself runs each
    # prompt once: reward.pair_scores), so tokens/s stays comparable with TRL's and older runs.
    stages["reward"] = _timed_stage(trainer, None, settings, device, setup, cfg.steps)
    start = time.perf_counter()
    pair_accuracy(trainer.model, tok, eval_pairs)
    eval_seconds = time.perf_counter() - start
    n_evals = -(-cfg.steps // cfg.eval_every)  # every eval_every steps, and after the last
    stages["reward"]["lesson_seconds_estimate"] += n_evals * eval_seconds
    stages["reward"].update({"eval_seconds": eval_seconds, "n_evals": n_evals, "batch_size": cfg.batch_size})

    # 3. PPO against the reward model, leashed to the SFT model
    _log(f"ppo: lesson preset, {settings.ppo_warmup} warm-up + {settings.ppo_steps} timed iterations")
    cfg = PPOConfig.lesson()
    start = time.perf_counter()
    trainer = PPOTrainer(cfg, models.trainable(models.sft), models.sft, models.reward, tok, world.train_prompts())
    setup = time.perf_counter() - start
    seconds, generate, widths, lengths = _ppo_round(trainer, settings, device)
    stages["ppo"] = _stage_result(seconds, sum(cfg.batch_size * n for n in lengths), setup, cfg.steps)
    stages["ppo"].update(
        {
            "batch_size": cfg.batch_size,
            "generate_seconds_per_step": _median(generate),
            "mean_response_tokens": sum(lengths) / len(lengths),
            "mean_response_width": sum(widths) / len(widths),
        }
    )

    # 4. DPO from the SFT model on the same pairs (setup: the reference log-probs of every pair)
    _log(f"dpo: lesson preset, {timed}")
    cfg = DPOConfig.lesson()
    start = time.perf_counter()
    trainer = DPOTrainer(cfg, models.trainable(models.sft), models.sft, tok, pairs)
    setup = time.perf_counter() - start
    stages["dpo"] = _timed_stage(trainer, None, settings, device, setup, cfg.steps)  # tokens: as the reward model's
    stages["dpo"]["batch_size"] = cfg.batch_size
    return stages


def _ppo_round(trainer, settings: BenchSettings, device):
    """Warm up and time PPO iterations: (seconds, generation seconds, response widths, mean lengths)."""
    record: dict = {}
    seconds, lengths = [], []
    with _timed_generation(record):
        for _ in range(settings.ppo_warmup):
            trainer.step()
        for _ in range(settings.ppo_steps):
            start = time.perf_counter()
            metrics = trainer.step()
            _sync(device)
            seconds.append(time.perf_counter() - start)
            lengths.append(metrics["response/length"])
    skip = settings.ppo_warmup
    return seconds, record["generate"][skip:], record["width"][skip:], lengths


# ---- side by side with TRL -------------------------------------------------------------------


def _conversational(pair: PreferencePair) -> dict:
    """A pair in TRL's conversational preference format (rendered with our chat template)."""
    return {
        "prompt": [{"role": "user", "content": pair.prompt}],
        "chosen": [{"role": "assistant", "content": pair.chosen}],
        "rejected": [{"role": "assistant", "content": pair.rejected}],
    }


def _trl_common(out_dir: str, batch_size: int, max_steps: int, device: torch.device, seed: int) -> dict:
    """TrainingArguments shared by both trl 1.16 trainers, chosen to match our trainers' arithmetic."""
    return {
        "output_dir": out_dir,
        "per_device_train_batch_size": batch_size,
        "gradient_accumulation_steps": 1,
        "max_steps": max_steps,
        "use_cpu": device.type == "cpu",
        "bf16": False,  # TRL defaults to bf16; ours trains in fp32
        "fp16": False,
        "activation_checkpointing": False,  # TRL defaults to recomputing activations; ours does not
        "max_grad_norm": 1.0,  # ours clips at 1.0 too
        "report_to": [],
        "save_strategy": "no",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "seed": seed,
        "train_sampling_strategy": "sequential",  # the dataset is the planned batches, in order
    }


def _step_timer():
    """A TrainerCallback that records the time of each ``on_step_end`` (and of ``on_train_begin``)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_train_begin(self, args, state, control, **kwargs):
            self.times = [time.perf_counter()]

        def on_step_end(self, args, state, control, **kwargs):
            _sync(args.device)
            self.times.append(time.perf_counter())

        def durations(self, warmup: int) -> list[float]:
            return [b - a for a, b in zip(self.times, self.times[1:], strict=False)][warmup:]

    return StepTimer()


@contextlib.contextmanager
def _quiet_datasets():
    """No ``datasets`` progress bars while TRL maps our pairs (put back afterwards)."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _trl_round(trainer, timer, warmup: int) -> list[float]:
    with contextlib.redirect_stdout(sys.stderr):  # TRL's PrinterCallback prints its logs
        trainer.train()
    return timer.durations(warmup)


def _ratio(ours: list[float], theirs: list[float]) -> dict:
    ours_s, trl_s = _median(ours), _median(theirs)
    return {"ours_s": ours_s, "trl_s": trl_s, "speedup": trl_s / ours_s if ours_s else None}


def _step_comparison(times: dict, trl_version: str, batch_size: int, n_pairs: int, rounds: int) -> dict:
    """The ratio of ours to TRL's median step time and the facts every step comparison reports."""
    return {
        **_ratio(times["ours"], times["trl"]),
        "trl_version": trl_version,
        "batch_size": batch_size,
        "n_pairs": n_pairs,
        "rounds": rounds,
        "ours_step_seconds": times["ours"],
        "trl_step_seconds": times["trl"],
    }


def planned_batches(n_pairs: int, batch_size: int, n_batches: int, seed: int = 0) -> list[list[int]]:
    """The pair indices of each step, fixed in advance so that both sides train on the same batches.

    A step's cost depends on its batch's longest conversation (everything is padded to it), so
    letting each side draw its own batches would add noise that has nothing to do with speed.
    """
    rng = random.Random(seed)
    return [rng.sample(range(n_pairs), min(batch_size, n_pairs)) for _ in range(n_batches)]


class _PlannedChoices:
    """Stands in for ``RewardTrainer.rng``: its ``choices`` hands out the planned batches in turn."""

    def __init__(self, batches: list[list[int]]):
        self.batches = list(batches)

    def choices(self, population, weights=None, k: int = 1) -> list[int]:
        batch = self.batches.pop(0)
        assert len(batch) == k, "planned batch size differs from the trainer's"
        return batch


def _alternate(rounds: int, name: str, sides: dict[str, Callable[[], list[float]]]) -> dict[str, list[float]]:
    """Run each side once per round, reversing the order every other round (A B, B A, A B, ...)
    so that a change in the machine's load hits both sides alike."""
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        _log(f"{name}: round {r + 1}/{rounds} ({', then '.join(order)})")
        for side in order:
            times[side] += sides[side]()
    return times


def compare_dpo(models: Models, pairs, settings: BenchSettings, out_dir: str) -> dict:
    """One DPO step: ours vs trl 1.16 (with and without precomputed reference log-probs)."""
    import datasets
    import trl

    from .dpo import DPOConfig, DPOTrainer

    cfg, device, tok = DPOConfig.lesson(), models.device, models.tokenizer
    max_steps = settings.warmup + settings.steps
    batches = planned_batches(len(pairs), cfg.batch_size, max_steps)
    # TRL reads the planned batches in order (sequential sampler); ours takes them from its
    # ``order`` queue, which it only refills (reshuffled) when fewer than a batch are left.
    dataset = datasets.Dataset.from_list([_conversational(pairs[i]) for b in batches for i in b])
    ours = DPOTrainer(cfg, models.trainable(models.sft), models.sft, tok, pairs)

    def ours_round() -> list[float]:
        ours.order = [i for b in batches for i in b]
        return time_steps(ours, settings.steps, settings.warmup, device)

    def trl_side(precompute: bool) -> Callable[[], list[float]]:
        timer = _step_timer()
        args = trl.DPOConfig(
            **_trl_common(f"{out_dir}/dpo-{precompute}", cfg.batch_size, max_steps, device, cfg.seed),
            learning_rate=cfg.lr,
            weight_decay=0.0,
            beta=cfg.beta,
            # ours adds sft_coef x the NLL of the chosen responses: TRL's "sft" loss term
            loss_type=["sigmoid", "sft"] if cfg.sft_coef else ["sigmoid"],
            loss_weights=[1.0, cfg.sft_coef] if cfg.sft_coef else None,
            max_length=cfg.max_len,
            precompute_ref_log_probs=precompute,
            precompute_ref_batch_size=64,  # ours precomputes in batches of 64 pairs
        )
        with contextlib.redirect_stdout(sys.stderr), _quiet_datasets():
            trainer = trl.DPOTrainer(
                model=models.trainable(models.sft),
                ref_model=copy.deepcopy(models.sft),  # TRL patches its models' forward: give it copies
                args=args,
                train_dataset=dataset,
                processing_class=copy.deepcopy(tok),
                callbacks=[timer],
            )
        optim.append(getattr(trainer.args.optim, "value", str(trainer.args.optim)))
        return lambda: _trl_round(trainer, timer, settings.warmup)

    optim: list[str] = []
    times = _alternate(
        settings.repeats,
        f"dpo vs trl {trl.__version__}",
        {"ours": ours_round, "trl": trl_side(True), "trl (no precompute)": trl_side(False)},
    )
    result = _step_comparison(times, trl.__version__, cfg.batch_size, len(pairs), settings.repeats)
    no_pre = _ratio(times["ours"], times["trl (no precompute)"])
    result.update(
        {
            "trl_no_precompute_s": no_pre["trl_s"],
            "speedup_vs_no_precompute": no_pre["speedup"],
            "trl_no_precompute_step_seconds": times["trl (no precompute)"],
            "trl_config": {
                "precompute_ref_log_probs": "True for trl_s (as ours), False for trl_no_precompute_s",
                "loss_type": ["sigmoid", "sft"] if cfg.sft_coef else ["sigmoid"],
                "loss_weights": [1.0, cfg.sft_coef] if cfg.sft_coef else None,
                "beta": cfg.beta,
                "learning_rate": cfg.lr,
                "max_length": cfg.max_len,
                "bf16": False,
                "activation_checkpointing": False,
                "train_sampling_strategy": "sequential (the planned batches)",
                "optim": optim[0],
            },
        }
    )
    return result


def compare_reward(models: Models, pairs, settings: BenchSettings, out_dir: str) -> dict:
    """One reward-model step: ours vs trl 1.16's RewardTrainer on the same initial reward model."""
    import datasets
    import trl

    from .reward import RewardConfig, RewardTrainer

    cfg, device, tok = RewardConfig.lesson(), models.device, models.tokenizer
    max_steps = settings.warmup + settings.steps
    batches = planned_batches(len(pairs), cfg.batch_size, max_steps, seed=1)
    dataset = datasets.Dataset.from_list([_conversational(pairs[i]) for b in batches for i in b])
    initial = reward_model_from_policy(models.sft)  # one random head, copied to both sides
    ours = RewardTrainer(cfg, models.trainable(initial), tok, pairs)

    def ours_round() -> list[float]:
        ours.rng = _PlannedChoices(batches)  # ours samples its batches with rng.choices
        return time_steps(ours, settings.steps, settings.warmup, device)

    timer = _step_timer()
    args = trl.RewardConfig(
        **_trl_common(f"{out_dir}/reward", cfg.batch_size, max_steps, device, cfg.seed),
        learning_rate=cfg.lr,
        weight_decay=0.01,  # ours: AdamW(weight_decay=0.01)
        max_length=cfg.max_len,
    )
    with contextlib.redirect_stdout(sys.stderr), _quiet_datasets():
        theirs = trl.RewardTrainer(
            model=models.trainable(initial),
            args=args,
            train_dataset=dataset,
            processing_class=copy.deepcopy(tok),
            callbacks=[timer],
        )
    times = _alternate(
        settings.repeats,
        f"reward model vs trl {trl.__version__}",
        {"ours": ours_round, "trl": lambda: _trl_round(theirs, timer, settings.warmup)},
    )
    result = _step_comparison(times, trl.__version__, cfg.batch_size, len(pairs), settings.repeats)
    result.update(
        {
            "trl_config": {
                "learning_rate": cfg.lr,
                "weight_decay": 0.01,
                "max_length": cfg.max_len,
                "bf16": False,
                "activation_checkpointing": False,
                "train_sampling_strategy": "sequential (the planned batches)",
                "optim": getattr(theirs.args.optim, "value", str(theirs.args.optim)),
            },
        }
    )
    return result


class _Unavailable(RuntimeError):
    """A comparison that cannot run here; its message says why."""


def compare_ppo(models: Models, world, settings: BenchSettings, out_dir: str, venv: Path) -> dict:
    """One PPO iteration (rollout + update): ours vs trl 1.12's PPOTrainer, in alternating rounds.

    trl 1.12 runs in ``venv`` (``bench_trl_ppo.py``) on the same checkpoint folders, prompts and
    settings; each of its rounds is a fresh process, each of ours a fresh trainer.
    """
    from .ppo import PPOConfig, PPOTrainer, stratified_prompts

    cfg, device, tok = PPOConfig.lesson(), models.device, models.tokenizer
    python = Path(venv) / "bin" / "python"
    if device.type != "cpu":
        return {"unavailable": f"the trl 1.12 comparison runs on the CPU only (this run is on {device.type})"}
    if not python.exists():
        return {"unavailable": f"no trl 1.12 virtual environment at {venv}: create it with `{TRL_PPO_SETUP}`"}
    # The folders TRL loads: the SFT model (policy and reference) and the reward model, which
    # also initialises TRL's value model, as in TRL's PPO example. A stand-in reward model is
    # saved when no reward checkpoint exists.
    reward_dir = models.ckpt.reward
    if reward_dir is None:
        reward_dir = save_checkpoint(models.reward, tok, Path(out_dir) / "reward-stand-in")
    iterations = settings.ppo_warmup + settings.ppo_steps
    rng = random.Random(cfg.seed)  # the prompts our trainer draws in its first iterations
    prompts = [
        p.text for _ in range(iterations) for p in stratified_prompts(world.train_prompts(), cfg.batch_size, rng)
    ]
    spec = {
        "policy": str(models.ckpt.sft),
        "reward": str(reward_dir),
        "prompts": prompts,
        "threads": torch.get_num_threads(),
        "warmup": settings.ppo_warmup,
        "steps": settings.ppo_steps,
        **{k: getattr(cfg, k) for k in _PPO_SHARED},
    }
    spec_path = Path(out_dir) / "trl_ppo_spec.json"
    spec_path.write_text(json.dumps(spec))

    ours_gen: list[float] = []
    ours_width: list[int] = []
    trl_gen: list[float] = []
    trl_width: list[int] = []
    trl_info: dict = {}

    def ours_round() -> list[float]:
        trainer = PPOTrainer(cfg, models.trainable(models.sft), models.sft, models.reward, tok, world.train_prompts())
        seconds, generate, widths, _ = _ppo_round(trainer, settings, device)
        ours_gen.extend(generate)
        ours_width.extend(widths)
        return seconds

    def trl_round() -> list[float]:
        run = subprocess.run(
            [str(python), str(TRL_PPO_SCRIPT), str(spec_path)],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "PYTHONPATH": ""},
        )
        last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
        if run.returncode != 0 or not last.startswith("{"):
            tail = "\n".join(run.stderr.strip().splitlines()[-8:])
            raise _Unavailable(f"trl 1.12's PPOTrainer failed (exit {run.returncode}): {tail}")
        trl_info.update(json.loads(last))
        trl_gen.extend(trl_info["generate_seconds"])
        trl_width.extend(trl_info["response_width"])
        return trl_info["step_seconds"]

    try:
        times = _alternate(settings.repeats, "ppo vs trl 1.12", {"ours": ours_round, "trl 1.12": trl_round})
    except _Unavailable as exc:
        return {"unavailable": str(exc)}
    ours_s, trl_s = times["ours"], times["trl 1.12"]
    result = _ratio(ours_s, trl_s)
    ours_rest = [s - g for s, g in zip(ours_s, ours_gen, strict=True)]
    trl_rest = [s - g for s, g in zip(trl_s, trl_gen, strict=True)]
    rest = _ratio(ours_rest, trl_rest)
    notes = []
    if trl_info.get("torch_version") != torch.__version__:
        notes.append(f"torch differs: ours {torch.__version__}, trl 1.12 venv {trl_info.get('torch_version')}")
    result.update(
        {
            "ours_generate_s": _median(ours_gen),
            "trl_generate_s": _median(trl_gen),
            "ours_without_generate_s": rest["ours_s"],
            "trl_without_generate_s": rest["trl_s"],
            "speedup_without_generate": rest["speedup"],
            "ours_mean_response_width": sum(ours_width) / len(ours_width),
            "trl_mean_response_width": sum(trl_width) / len(trl_width),
            "trl_version": trl_info.get("trl_version"),
            "trl_transformers_version": trl_info.get("transformers_version"),
            "trl_torch_version": trl_info.get("torch_version"),
            "rounds": settings.repeats,
            "ours_step_seconds": ours_s,
            "trl_step_seconds": trl_s,
            "settings": {k: getattr(cfg, k) for k in _PPO_SHARED},
            "notes": notes,
        }
    )
    return result


# PPOConfig fields the TRL side is given (same names in bench_trl_ppo.py's spec).
_PPO_SHARED = (
    "batch_size",
    "minibatch_size",
    "ppo_epochs",
    "max_new_tokens",
    "temperature",
    "missing_eos_penalty",
    "lr",
    "kl_coef",
    "kl_estimator",
    "vf_coef",
    "clip_range",
    "clip_range_value",
    "gamma",
    "lam",
    "seed",
)


# ---- the whole run ---------------------------------------------------------------------------


def machine_info(device: torch.device) -> dict:
    """CPU model, cores, torch threads and library versions."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import transformers

    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "dtype": "float32",
    }
    with contextlib.suppress(ImportError):
        import trl

        info["trl"] = trl.__version__
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def run_bench(
    settings: BenchSettings,
    base: Path | None = None,
    sft: Path | None = None,
    reward: Path | None = None,
    device: torch.device | str = "cpu",
    trl_venv: Path = TRL_PPO_VENV,
) -> dict:
    """Measure every stage and, if ``settings.trl``, the TRL comparisons. Returns the JSON dict."""
    from .world import World

    device = torch.device(device)
    ckpt = find_checkpoints(base, sft, reward)
    result: dict = {"machine": machine_info(device)}
    _log(f"loading checkpoints (base {ckpt.base}, sft {ckpt.sft}, reward {ckpt.reward or 'stand-in'})")
    models = Models(ckpt, device)
    world = World(seed=0)
    max_len = 128  # RewardConfig.lesson().max_len == DPOConfig.lesson().max_len
    train = world.train_prompts()
    random.Random(0).shuffle(train)
    pairs = [p for p in world_pairs(world, train) if fits(models.tokenizer, p, max_len)][: settings.n_pairs]
    eval_pairs = [p for p in world_pairs(world, world.eval_prompts(), seed=1) if fits(models.tokenizer, p, max_len)]
    eval_pairs = eval_pairs[: settings.n_eval_pairs]
    result["checkpoints"] = {
        "base": str(ckpt.base),
        "sft": str(ckpt.sft),
        "reward": str(ckpt.reward) if ckpt.reward else "reward_model_from_policy(sft)",
        "notes": ckpt.notes,
        "parameters": sum(p.numel() for p in models.sft.parameters()),
    }
    result["data"] = {"pairs": len(pairs), "eval_pairs": len(eval_pairs), "source": "world (ideal vs wrong answer)"}
    result["settings"] = asdict(settings)
    result["stages"] = bench_stages(models, world, pairs, eval_pairs, settings)

    vs_trl: dict = {}
    if settings.trl:
        with tempfile.TemporaryDirectory(prefix="rlhf-bench-") as out_dir:
            for name, compare in (
                ("dpo_step", lambda: compare_dpo(models, pairs, settings, out_dir)),
                ("reward_step", lambda: compare_reward(models, pairs, settings, out_dir)),
                ("ppo_update", lambda: compare_ppo(models, world, settings, out_dir, trl_venv)),
            ):
                vs_trl[name] = _guarded(name, compare)
    else:
        skipped = {"unavailable": "skipped (--quick without --trl, or --no-trl)"}
        vs_trl = {k: dict(skipped) for k in ("dpo_step", "reward_step", "ppo_update")}
    result["vs_trl"] = vs_trl
    with contextlib.suppress(OSError):
        result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def _guarded(name: str, compare: Callable[[], dict]) -> dict:
    """Run one comparison; an import error or a crash on the TRL side is reported, not raised."""
    try:
        return compare()
    except ImportError as exc:
        return {"unavailable": f"TRL is not installed here ({exc}); it is a dev dependency: requirements-dev.txt"}
    except Exception as exc:  # a TRL API change must not lose the rest of the benchmark
        _log(f"{name}: comparison failed: {type(exc).__name__}: {exc}")
        return {"unavailable": f"{type(exc).__name__}: {exc}"}


def format_table(result: dict) -> str:
    """The human-readable report (the default output of ``bench``)."""
    m = result["machine"]
    lines = [
        f"machine: {m['cpu']} ({m['cores']} cores), {m['threads']} torch thread(s), {m['device']}, {m['dtype']}, "
        f"torch {m['torch']}, transformers {m['transformers']}" + (f", trl {m['trl']}" if "trl" in m else ""),
        f"models:  base {result['checkpoints']['base']}, sft {result['checkpoints']['sft']}, "
        f"reward {result['checkpoints']['reward']} ({result['checkpoints']['parameters']:,} parameters)",
    ]
    lines += [f"note:    {n}" for n in result["checkpoints"]["notes"]]
    lines += [
        "",
        f"{'stage (lesson preset)':22s} {'batch':>5s} {'s/step':>8s} {'tokens/s':>9s} {'setup s':>8s} "
        f"{'steps':>5s} {'lesson s (est.)':>15s}",
    ]
    for name, s in result["stages"].items():
        lines.append(
            f"{name:22s} {s.get('batch_size', ''):>5} {s['seconds_per_step']:8.3f} {s['tokens_per_second']:9.0f} "
            f"{s['setup_seconds']:8.2f} {s['lesson_steps']:>5d} {s['lesson_seconds_estimate']:15.1f}"
        )
    lines += [
        "tokens/s: training tokens read per second (PPO: response tokens sampled per second)",
        "",
        "vs TRL, same model, data, batch size, fp32 and threads (median s/step; speedup = TRL / ours):",
    ]
    for name, c in result["vs_trl"].items():
        if "unavailable" in c:
            lines.append(f"  {name:12s} unavailable: {c['unavailable']}")
            continue
        line = f"  {name:12s} ours {c['ours_s']:.3f}  trl {c.get('trl_version', '?')} {c['trl_s']:.3f}  "
        line += f"speedup {c['speedup']:.2f}x"
        if name == "dpo_step":
            line += (
                f"  (trl with precompute_ref_log_probs=False: {c['trl_no_precompute_s']:.3f}, "
                f"{c['speedup_vs_no_precompute']:.2f}x)"
            )
        if name == "ppo_update":
            line += (
                f"  (without generation: ours {c['ours_without_generate_s']:.3f}, trl {c['trl_without_generate_s']:.3f}, "
                f"{c['speedup_without_generate']:.2f}x)"
            )
        lines.append(line)
    return "\n".join(lines)
