"""The whole course in one command: base -> SFT -> preferences -> reward model -> PPO, and DPO.

``python -m rlhf_core pipeline --out DIR`` writes one checkpoint folder per stage and
``DIR/metrics.json`` with each stage's held-out evaluation and per-step training metrics.
The checkpoints it writes with the default (``full``) presets are the ones shipped in
``assets/models/``. Reporting goes through the ``progress`` callback (the CLI draws tqdm bars).
"""

from __future__ import annotations

import copy
import json
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .dpo import DPOConfig, DPOTrainer
from .evaluate import evaluate, kl_to_reference, win_rate
from .models import ENSEMBLE_DIR, MODELS_DIR, load, load_ensemble_members, load_model, same_vocabulary, save_checkpoint
from .ppo import PPOConfig, PPOTrainer, rehearsal_rows
from .reward import (
    RewardConfig,
    RewardTrainer,
    accuracy_of_scores,
    calibration_samples,
    load_pairs,
    mean_of_members,
    pair_accuracy,
    reframed_pairs,
    reward_model_from_policy,
    sample_comparisons,
    sample_preference_pairs,
    save_pairs,
)
from .sft import SFTConfig, SFTTrainer
from .training import run
from .world import World

STAGES = ("sft", "reward", "ppo", "dpo")
Progress = Callable[[str, int], Callable[[int, dict], None]]


def _no_progress(_stage: str, _total: int):
    return lambda _n, _m: None


HEADLINE = ("gold_score", "eos_rate", "refusal_rate_harmful", "overrefusal_rate_benign", "distinct_2")


def _summary(evaluation: dict) -> dict:
    """The headline metrics of an evaluation (what a round's table shows)."""
    return {k: evaluation[k] for k in HEADLINE if k in evaluation}


def presets(name: str) -> dict:
    """The config of every stage for a preset name: "full", "lesson" or "tiny"."""
    pick = {"full": "full", "lesson": "lesson", "tiny": "tiny"}[name]
    return {
        "sft": getattr(SFTConfig, pick)(),
        "reward": getattr(RewardConfig, pick)(),
        "ppo": getattr(PPOConfig, pick)(),
        "dpo": getattr(DPOConfig, pick)(),
    }


def run_pipeline(
    out: str | Path,
    base: str | Path = MODELS_DIR / "base",
    device: str | torch.device = "cpu",
    seed: int = 0,
    preset: str = "full",
    stages: tuple[str, ...] = STAGES,
    overrides: dict | None = None,
    progress: Progress = _no_progress,
    evaluate_stages: bool = True,
    parallel: bool | None = None,
) -> dict:
    """Run the stages in ``stages`` (earlier ones are loaded from ``out`` when skipped).

    ``overrides`` maps a stage to field overrides of its config, e.g. ``{"ppo": {"kl_coef": 0.0}}``.
    ``parallel`` runs DPO in a second thread while PPO trains (default: on a CPU with cores for
    both stages' torch threads). Both stages are single-threaded and DPO draws no torch random numbers, so the results
    are the same as one after the other; only the wall time changes.
    Returns the metrics dict that is also written to ``out/metrics.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    configs = presets(preset)
    for stage, fields in (overrides or {}).items():
        for k, v in fields.items():
            setattr(configs[stage], k, v)
    for cfg in configs.values():
        cfg.seed = seed
    world = World(seed=0)
    eval_prompts = world.eval_prompts()
    metrics_path = out / "metrics.json"
    metrics: dict = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    metrics["preset"], metrics["seed"], metrics["device"] = preset, seed, str(device)
    metrics["threads"] = torch.get_num_threads()  # results are bit-identical for the same count
    timings: dict = metrics.setdefault("wall_seconds", {})
    samples_of: dict = {}
    lock = threading.Lock()  # metrics is written by the DPO thread too
    started, main_eval_seconds = time.time(), [0.0]

    def save_metrics():
        with lock:
            text = json.dumps(metrics, indent=1, default=float)
        metrics_path.write_text(text)

    def do_eval(name: str, model, tok, reference=None):
        if not evaluate_stages:
            return
        t = time.time()
        m, samples = evaluate(model, tok, world, seed=seed)
        if reference is not None:
            m["kl_to_reference"] = kl_to_reference(model, reference, tok, eval_prompts, seed=seed)
        m["samples"] = [s.__dict__ for s in samples]
        with lock:
            samples_of[name] = samples
            metrics.setdefault(name, {})["eval"] = m
        if threading.current_thread() is threading.main_thread():
            main_eval_seconds[0] += time.time() - t

    base_model, tok = load(base, device=str(device))
    if evaluate_stages:
        t = time.time()
        do_eval("base", base_model, tok)
        timings["eval_base"] = time.time() - t

    # Stage 1: SFT
    if "sft" in stages:
        torch.manual_seed(seed)  # new heads are initialised the same whichever stages run
        t = time.time()
        sft_model = copy.deepcopy(base_model).train()
        trainer = SFTTrainer(configs["sft"], sft_model, tok, world, device)
        history = run(trainer, progress("sft", configs["sft"].steps))
        save_checkpoint(sft_model, tok, out / "sft", extra={"stage": "sft", "config": configs["sft"].__dict__})
        timings["sft"] = time.time() - t
        metrics["sft"] = {"history": history}
        do_eval("sft", sft_model.eval(), tok)
        save_metrics()
    else:
        sft_dir = out / "sft" if (out / "sft").exists() else MODELS_DIR / "sft"
        sft_model, sft_tok = load(sft_dir, device=str(device))
        if not same_vocabulary(sft_tok, tok):
            # Every later stage tokenises with the base's tokenizer: with another base's, the SFT
            # model reads the wrong token ids and PPO "trains" on gibberish without any error.
            raise ValueError(
                f"{sft_dir} was trained from another base model than {base} (their tokenizers differ); "
                "pass the base it was trained from with --base."
            )
    sft_model.eval()

    calib_drawn: list = []

    def sft_calibration_samples():
        """SFT samples that every reward model of this run is normalised on (drawn once)."""
        if not calib_drawn:
            calib_drawn.append(
                calibration_samples(
                    sft_model, tok, world.train_prompts(), seed=seed, max_new_tokens=configs["reward"].max_new_tokens
                )
            )
        return calib_drawn[0]

    def train_reward_models(train_pairs, held_out, steps: int, folder: Path, label: str):
        """The reward model (and its ``RewardConfig.ensemble`` - 1 extra members, another seed each:
        head initialisation and batch order) trained from the SFT backbone on ``train_pairs`` for
        ``steps`` steps, calibrated on the SFT model's samples and saved to ``folder`` (members under
        ``ENSEMBLE_DIR``). Returns the members, the first one's history and its calibration."""
        members, history, calib = [], [], {}
        rcfg = configs["reward"]
        # The same comparisons asked in made-up frames (RewardConfig.reframe_share), for the reward
        # model only: DPO and the saved preference_pairs.jsonl keep the sampled requests.
        reframed = reframed_pairs(
            train_pairs,
            world,
            rcfg.reframe_share,
            seed=seed + 3,
            noise=rcfg.annotator_noise,
            length_bias=rcfg.annotator_length_bias,
        )
        train_pairs = list(train_pairs) + reframed
        for k in range(rcfg.ensemble):
            if k > 0:
                torch.manual_seed(seed + k)
            cfg = copy.copy(rcfg)
            cfg.seed, cfg.steps = seed + k, steps
            member = reward_model_from_policy(sft_model)
            # Held-out accuracy during training for the first member only; the others' is measured once.
            trainer = RewardTrainer(cfg, member, tok, train_pairs, held_out if k == 0 else None)
            h = run(trainer, progress(label if k == 0 else f"{label} {k + 1}/{cfg.ensemble}", steps))
            member_calib = trainer.calibrate(
                sft_model, world.train_prompts(), seed=seed, samples=sft_calibration_samples()
            )
            extra = {"stage": "reward", "config": cfg.__dict__, **member_calib}
            save_checkpoint(member, tok, folder if k == 0 else folder / ENSEMBLE_DIR / str(k), extra=extra)
            if k == 0:
                history, calib = h, member_calib
            members.append(member)
        if reframed:  # next to the checkpoint (written after it: saving replaces the folder)
            save_pairs(reframed, folder / "preference_pairs_reframed.jsonl")
        return members, history, calib

    def reward_accuracy(members, held_out) -> dict:
        """Held-out pair accuracy of the first member (and of the ensemble's mean, when there is one)."""
        each = [pair_accuracy(m, tok, held_out) for m in members]
        res = {
            "pair_accuracy": each[0]["pair_accuracy"],
            "pair_accuracy_by_intent": each[0]["by_intent"],
            "chosen_scores": each[0]["chosen_scores"],
            "rejected_scores": each[0]["rejected_scores"],
        }
        if len(members) > 1:
            # Each member scored the held-out pairs once; the ensemble's accuracy reads their mean.
            ens = accuracy_of_scores(
                held_out,
                mean_of_members([e["chosen_scores"] for e in each]),
                mean_of_members([e["rejected_scores"] for e in each]),
            )
            res["ensemble"] = {
                "members": len(members),
                "pair_accuracy": ens["pair_accuracy"],
                "pair_accuracy_by_intent": ens["by_intent"],
                "member_pair_accuracy": [e["pair_accuracy"] for e in each],
            }
        return res

    # Stage 2: preference pairs + reward model
    held_out_pairs: list = []  # what later rounds of iterated RLHF measure their reward models on
    if "reward" in stages:
        torch.manual_seed(seed)  # new heads are initialised the same whichever stages run
        t = time.time()
        rcfg = configs["reward"]
        train_pool = world.train_prompts()
        rng = random.Random(seed)
        train_prompts = rng.sample(train_pool, min(rcfg.n_prompts, len(train_pool)))
        kw = dict(
            samples_per_prompt=rcfg.samples_per_prompt,
            temperature=rcfg.sample_temperature,
            max_new_tokens=rcfg.max_new_tokens,
            noise=rcfg.annotator_noise,
            length_bias=rcfg.annotator_length_bias,
        )
        cb = progress("pairs", 100)
        demo_rng = random.Random(seed + 2)  # its own stream: with demo_share 0 nothing is drawn

        def written(prompt) -> str:
            """The prompt's demonstration; with demo_self_check opened as a self-check SFT model does."""
            demo = world.ideal_response(prompt, random.Random(prompt.text))
            if not rcfg.demo_self_check:
                return demo
            return world.self_checked(prompt, demo, configs["sft"].self_check_opening)

        demos = {
            p.text: written(p) for p in train_prompts if rcfg.demo_share > 0 and demo_rng.random() < rcfg.demo_share
        }
        pairs = sample_preference_pairs(
            sft_model,
            tok,
            train_prompts,
            seed=seed,
            on_progress=lambda f: cb(int(f * 100), {}),
            mismatch_share=rcfg.mismatch_share,
            refusal_contrast=rcfg.refusal_contrast,
            demonstrations=demos,
            demo_foreign=rcfg.demo_foreign,
            **kw,
        )
        heldout = rng.sample(eval_prompts, min(rcfg.n_eval_prompts, len(eval_prompts)))
        # Held-out pairs are labelled without noise: accuracy is measured against the truth.
        eval_pairs = sample_preference_pairs(
            sft_model, tok, heldout, seed=seed + 1, **{**kw, "noise": 0.0, "length_bias": 0.0}
        )
        timings["pairs"] = time.time() - t
        t = time.time()
        members, history, calib = train_reward_models(pairs, eval_pairs, rcfg.steps, out / "reward", "reward")
        # The pairs travel with the reward model: DPO and the app reuse exactly this data.
        save_pairs(pairs, out / "reward" / "preference_pairs.jsonl")
        save_pairs(eval_pairs, out / "reward" / "preference_pairs_heldout.jsonl")
        held_out_pairs = eval_pairs
        timings["reward"] = time.time() - t
        metrics["reward"] = {
            "history": history,
            "n_pairs": len(pairs),
            "n_eval_pairs": len(eval_pairs),
            **reward_accuracy(members, eval_pairs),
            "train_pair_accuracy": pair_accuracy(members[0], tok, pairs[:300])["pair_accuracy"],
            **calib,
        }
        save_metrics()
    elif "ppo" in stages or "dpo" in stages:
        reward_dir = out / "reward" if (out / "reward").exists() else MODELS_DIR / "reward"
        reward_model = load_model(reward_dir, kind="reward", device=str(device))
        members = [reward_model] + load_ensemble_members(reward_dir, device=str(device))
        pairs = load_pairs(reward_dir / "preference_pairs.jsonl")
        held = reward_dir / "preference_pairs_heldout.jsonl"
        held_out_pairs = load_pairs(held) if held.exists() else []

    # DPO: the same preference pairs, no reward model (in a second thread while PPO trains)
    def dpo_stage(tokenizer) -> None:
        # No torch.manual_seed here: DPO draws no torch random numbers, and reseeding the global
        # generator from this thread could race with PPO initialising its value head.
        t = time.time()
        policy = copy.deepcopy(sft_model)
        trainer = DPOTrainer(configs["dpo"], policy, sft_model, tokenizer, pairs)
        history = run(trainer, progress("dpo", configs["dpo"].steps))
        save_checkpoint(policy, tokenizer, out / "dpo", extra={"stage": "dpo", "config": configs["dpo"].__dict__})
        with lock:
            timings["dpo"] = time.time() - t
            metrics["dpo"] = {"history": history}
        do_eval("dpo", policy.eval(), tokenizer, reference=sft_model)

    if parallel is None:
        # Only when both stages' torch threads fit on the cores: oversubscribed CPU threads spin
        # and run many times slower (see device.py).
        parallel = device.type == "cpu" and 2 * torch.get_num_threads() <= (os.cpu_count() or 1)
    dpo_thread, dpo_error = None, []
    if "dpo" in stages and "ppo" in stages and parallel:

        def guarded(tokenizer):
            try:
                dpo_stage(tokenizer)
            except BaseException as e:  # re-raised on the main thread after join
                dpo_error.append(e)

        # DPO gets its own tokenizer copy: no state shared with PPO's.
        dpo_thread = threading.Thread(target=guarded, args=(copy.deepcopy(tok),), name="dpo", daemon=True)
        dpo_thread.start()

    # Stage 3: PPO against the reward model, leashed to the SFT model
    if "ppo" in stages:
        torch.manual_seed(seed)  # new heads are initialised the same whichever stages run
        t = time.time()
        policy = copy.deepcopy(sft_model)
        pcfg = configs["ppo"]
        rehearse = rehearsal_rows(pcfg, world, tok)
        # Every member of the reward model's ensemble scores PPO's samples (one model: the usual case).
        trainer = PPOTrainer(
            pcfg, policy, sft_model, [m.eval() for m in members], tok, world.train_prompts(), ptx_data=rehearse
        )
        history = run(trainer, progress("ppo", configs["ppo"].steps))
        samples, rounds, stopped_early = list(trainer.samples), [], trainer.stopped_early
        # Iterated RLHF (PPOConfig.rounds): label the policy's samples, retrain the reward model, go on.
        round_pairs = list(pairs)  # a new list: DPO (maybe running alongside) keeps the first pairs
        for r in range(2, pcfg.rounds + 1):
            t_round = time.time()
            policy.eval()
            before = evaluate(policy, tok, world, seed=seed)[0] if evaluate_stages else None
            main_eval_seconds[0] += time.time() - t_round  # an evaluation: not counted as training time
            rcfg = configs["reward"]
            chosen = random.Random(f"{seed}:round{r}").sample(
                world.train_prompts(), min(rcfg.round_prompts, len(world.train_prompts()))
            )
            cb = progress(f"pairs round {r}", 100)
            new_pairs = sample_comparisons(
                [policy, sft_model],
                tok,
                chosen,
                temperature=rcfg.sample_temperature,
                max_new_tokens=rcfg.max_new_tokens,
                noise=rcfg.annotator_noise,
                length_bias=rcfg.annotator_length_bias,
                seed=seed + 1000 * r,
                on_progress=lambda f, cb=cb: cb(int(f * 100), {}),
            )
            # As many reward-model epochs over all pairs as the first reward model had over its own.
            round_pairs = round_pairs + new_pairs
            steps = max(1, round(rcfg.steps * len(round_pairs) / max(1, len(pairs))))
            folder = out / f"reward_round{r}"
            members, _, _ = train_reward_models(round_pairs, None, steps, folder, f"reward round {r}")
            save_pairs(new_pairs, folder / "new_pairs.jsonl")
            round_cfg = copy.copy(pcfg)
            round_cfg.steps, round_cfg.seed = pcfg.round_steps, pcfg.seed + r - 1
            # A fresh value head and optimiser; the policy goes on from where the last round left it.
            trainer = PPOTrainer(
                round_cfg, policy, sft_model, [m.eval() for m in members], tok, world.train_prompts(), ptx_data=rehearse
            )
            first_step = len(history) + 1
            history += run(trainer, progress(f"ppo round {r}", round_cfg.steps))
            # Steps count on across rounds, in the logged samples as in the history.
            samples += [{**sample, "step": sample["step"] + first_step - 1} for sample in trainer.samples]
            accuracy = reward_accuracy(members, held_out_pairs) if held_out_pairs else {}
            rounds.append(
                {
                    "round": r,
                    "first_step": first_step,
                    "new_pairs": len(new_pairs),
                    "reward_steps": steps,
                    "stopped_early": trainer.stopped_early,
                    **({"policy_before": _summary(before)} if before else {}),
                    **{k: v for k, v in accuracy.items() if k not in ("chosen_scores", "rejected_scores")},
                    "seconds": time.time() - t_round,
                }
            )
        save_checkpoint(policy, tok, out / "ppo", extra={"stage": "ppo", "config": configs["ppo"].__dict__})
        with lock:
            timings["ppo"] = time.time() - t
            metrics["ppo"] = {"history": history, "samples": samples, "reward_members": len(members)}
            if stopped_early:  # PPOConfig.kl_budget ended the (first) run before its steps
                metrics["ppo"]["stopped_early"] = stopped_early
            if rounds:
                metrics["ppo"]["rounds"] = rounds
        do_eval("ppo", policy.eval(), tok, reference=sft_model)
        save_metrics()

    if dpo_thread is not None:
        dpo_thread.join()
        if dpo_error:
            raise dpo_error[0]
        save_metrics()
    elif "dpo" in stages:
        dpo_stage(tok)
        save_metrics()

    # Win rates against SFT on the same held-out prompts.
    if evaluate_stages:
        if "sft" not in samples_of and (out / "sft").exists():
            sft_eval, samples_of["sft"] = evaluate(sft_model, tok, world, seed=seed)
            metrics.setdefault("sft", {}).setdefault("eval", sft_eval)
        for name in ("ppo", "dpo"):
            if name in samples_of and "sft" in samples_of:
                metrics[name]["eval"]["win_rate_vs_sft"] = win_rate(samples_of[name], samples_of["sft"])
        if "sft" in samples_of and "base" in samples_of:
            metrics["sft"]["eval"]["win_rate_vs_base"] = win_rate(samples_of["sft"], samples_of["base"])
    # Wall clock of this run, without the evaluations on the main thread (DPO's runs alongside
    # PPO's training). With DPO in parallel, the stage times overlap and no longer add up to this.
    timings["total_without_pretraining"] = time.time() - started - main_eval_seconds[0]
    timings["dpo_parallel"] = bool(dpo_thread is not None)
    save_metrics()
    return metrics
