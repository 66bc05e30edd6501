"""Which settings make a training step fastest on this device: length buckets (4 or 1) and bf16
autocast (off or on), for each lesson stage's step on the shipped checkpoints.

Usage: python3 scripts/gpu_probe.py [--device cuda] [--steps 10]
Prints one JSON object (median seconds per step for each stage and variant). This is a
measurement for BENCHMARKS.md, not a test: it decides ``training.BUCKETS_BY_DEVICE`` and whether
``device.autocast`` pays at this model size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlhf_core import training  # noqa: E402
from rlhf_core.bench import Models, find_checkpoints, fits, time_steps, world_pairs  # noqa: E402
from rlhf_core.device import autocast, pick_device  # noqa: E402
from rlhf_core.dpo import DPOConfig, DPOTrainer  # noqa: E402
from rlhf_core.ppo import PPOConfig, PPOTrainer  # noqa: E402
from rlhf_core.reward import RewardConfig, RewardTrainer, reward_model_from_policy  # noqa: E402
from rlhf_core.sft import SFTConfig, SFTTrainer  # noqa: E402
from rlhf_core.world import World  # noqa: E402


def median_step(trainer, device, steps: int, warmup: int, bf16: bool) -> float:
    """Median seconds of ``steps`` calls of ``trainer.step()`` after ``warmup`` untimed ones,
    every call inside bf16 autocast or with autocast off."""
    with autocast(device) if bf16 else torch.autocast(device.type, enabled=False):
        return statistics.median(time_steps(trainer, steps, warmup, device))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    device = pick_device(args.device)
    models = Models(find_checkpoints(), device)
    tok, world = models.tokenizer, World(seed=0)
    train = world.train_prompts()
    random.Random(0).shuffle(train)
    pairs = [p for p in world_pairs(world, train) if fits(tok, p, 128)][:160]

    makers = {
        "sft": lambda: SFTTrainer(SFTConfig.lesson(), models.trainable(models.base), tok, world, device),
        "reward": lambda: RewardTrainer(
            RewardConfig.lesson(), reward_model_from_policy(models.trainable(models.sft)), tok, pairs
        ),
        "dpo": lambda: DPOTrainer(DPOConfig.lesson(), models.trainable(models.sft), models.sft, tok, pairs),
        "ppo": lambda: PPOTrainer(
            PPOConfig.lesson(), models.trainable(models.sft), models.sft, models.reward, tok, world.train_prompts()
        ),
    }
    result: dict = {"device": str(device), "torch": torch.__version__}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(0)
    for stage, make in makers.items():
        steps = max(2, args.steps // 3) if stage == "ppo" else args.steps
        for buckets in (4, 1):
            for bf16 in (False, True):
                training.BUCKETS_BY_DEVICE[device.type] = buckets
                torch.manual_seed(0)
                seconds = median_step(make(), device, steps, 2, bf16)
                result[f"{stage}/buckets={buckets}/bf16={bf16}"] = round(seconds * 1000, 2)
                print(f"{stage:6s} buckets={buckets} bf16={bf16!s:5s} {seconds * 1000:8.1f} ms/step", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
