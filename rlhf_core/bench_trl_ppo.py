"""Time trl 1.12's ``PPOTrainer`` on our checkpoints (run by ``bench`` inside ``.bench/trl112``).

TRL dropped its PPO trainer after 1.12, so this script runs in a separate virtual environment
with ``trl==1.12.0`` (and the same torch) and must not import ``rlhf_core``: it reads a JSON spec
(checkpoint folders, prompts, PPO settings) from the file named on the command line, times whole
PPO iterations (rollout + update) with a ``TrainerCallback`` and prints one JSON object as the last
line of stdout. Everything else it prints goes to stderr.

    .bench/trl112/bin/python rlhf_core/bench_trl_ppo.py SPEC.json
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def main(spec_path: str) -> dict:
    import torch

    spec = json.loads(open(spec_path, encoding="utf-8").read())
    torch.set_num_threads(int(spec["threads"]))

    import datasets
    import transformers
    import trl
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback
    from trl.experimental.ppo import PPOConfig, PPOTrainer
    from trl.experimental.ppo import ppo_trainer as ppo_module

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()

    tok = AutoTokenizer.from_pretrained(spec["policy"], local_files_only=True)
    tok.padding_side = "left"  # TRL's rollout expects left-padded queries

    def load_lm():
        return AutoModelForCausalLM.from_pretrained(spec["policy"], local_files_only=True, use_safetensors=True)

    def load_scorer():
        return AutoModelForSequenceClassification.from_pretrained(
            spec["reward"], num_labels=1, local_files_only=True, use_safetensors=True
        )

    def encode(text: str) -> dict:
        ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        return {"input_ids": ids}

    dataset = datasets.Dataset.from_list([encode(t) for t in spec["prompts"]])

    timing = {"step_ends": [], "generate": [], "response_width": []}

    class StepTimer(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            timing["start"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            timing["step_ends"].append(time.perf_counter())

    original_generation = ppo_module.batch_generation

    def timed_generation(model, queries, *args, **kwargs):
        t = time.perf_counter()
        query_responses, logits = original_generation(model, queries, *args, **kwargs)
        timing["generate"].append(time.perf_counter() - t)
        timing["response_width"].append(query_responses.shape[1] - queries.shape[1])
        return query_responses, logits

    ppo_module.batch_generation = timed_generation
    batch = int(spec["batch_size"])
    iterations = int(spec["warmup"]) + int(spec["steps"])
    with tempfile.TemporaryDirectory() as out:
        config = PPOConfig(
            output_dir=out,
            # one rollout of `batch` prompts, split into batch/minibatch optimiser steps, as ours
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=1,
            num_mini_batches=batch // int(spec["minibatch_size"]),
            num_ppo_epochs=int(spec["ppo_epochs"]),
            local_rollout_forward_batch_size=batch,
            total_episodes=batch * iterations,
            response_length=int(spec["max_new_tokens"]),
            temperature=float(spec["temperature"]),
            stop_token="eos",
            missing_eos_penalty=float(spec["missing_eos_penalty"]),
            learning_rate=float(spec["lr"]),
            kl_coef=float(spec["kl_coef"]),
            kl_estimator=spec["kl_estimator"],
            vf_coef=float(spec["vf_coef"]),
            cliprange=float(spec["clip_range"]),
            cliprange_value=float(spec["clip_range_value"]),
            gamma=float(spec["gamma"]),
            lam=float(spec["lam"]),
            # the same arithmetic as ours: fp32 on the CPU, no activation recomputation
            bf16=False,
            gradient_checkpointing=False,
            use_cpu=True,
            num_sample_generations=0,
            report_to=[],
            save_strategy="no",
            disable_tqdm=True,
            seed=int(spec["seed"]),
        )
        trainer = PPOTrainer(
            args=config,
            processing_class=tok,
            model=load_lm(),
            ref_model=load_lm(),
            reward_model=load_scorer(),
            value_model=load_scorer(),
            train_dataset=dataset,
            eval_dataset=dataset.select(range(min(len(dataset), batch))),
            callbacks=[StepTimer()],
        )
        trainer.train()
    ends = [timing["start"]] + timing["step_ends"]
    durations = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    warm = int(spec["warmup"])
    return {
        "trl_version": trl.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "step_seconds": durations[warm:],
        "generate_seconds": timing["generate"][warm:],
        "response_width": timing["response_width"][warm:],
    }


if __name__ == "__main__":
    with contextlib.redirect_stdout(sys.stderr):  # TRL and transformers print; our stdout is one JSON line
        result = main(sys.argv[1])
    print(json.dumps(result))
