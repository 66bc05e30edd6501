"""The app's one door into the library: loading models, sampling, judging, scoring, ratings,
and wiring the trainers into background jobs.

``pages/`` and ``ui/`` call only this module (and ``jobs``), never torch: importing it is
torch-free and fast, so the home page and the glossary open in well under a second; torch is
imported the first time a function here needs a model. Models travel to the pages as opaque
:class:`LoadedModel` handles.

Where models come from:

* *shipped* checkpoints in ``assets/models/{base,sft,reward,ppo,dpo}`` (or ``$RLHF_MODELS_DIR``,
  which the tests point at tiny models). The app loads each once per process and shares it
  between students read-only; nothing here ever trains a shipped model in place: trainers get
  a ``copy.deepcopy``.
* *yours*: what a student trains live. :func:`start_sft` and friends return a ``jobs.Job``
  whose ``result`` is a new ``LoadedModel`` with ``source="yours"``; the page keeps it in that
  student's session.

Live training uses each config's ``lesson()`` preset (``$RLHF_PRESET=tiny`` for tests).
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import inspect
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import jobs
from .models import SPECIAL_TOKENS, strip_chat_markers, strip_control_characters

MODELS_DIR_ENV = "RLHF_MODELS_DIR"
PRESET_ENV = "RLHF_PRESET"
REPO_DIR = Path(__file__).resolve().parent.parent

STAGES = ("base", "sft", "reward", "ppo", "dpo")
STAGE_TITLES = {
    "base": "Base model",
    "sft": "SFT model",
    "reward": "Reward model",
    "ppo": "RLHF (PPO) model",
    "dpo": "DPO model",
}
STAGE_NAMES = {
    "base": "base model",
    "sft": "SFT model",
    "reward": "reward model",
    "ppo": "RLHF (PPO) model",
    "dpo": "DPO model",
}
BUILD_COMMAND = {
    "base": "python -m rlhf_core pretrain",
    "sft": "python -m rlhf_core pipeline --out assets/models",
    "reward": "python -m rlhf_core pipeline --out assets/models",
    "ppo": "python -m rlhf_core pipeline --out assets/models",
    "dpo": "python -m rlhf_core pipeline --out assets/models",
}
TRAINER_MODULE = {"sft": "sft", "reward": "reward", "ppo": "ppo", "dpo": "dpo"}
CONFIG_CLASS = {"sft": "SFTConfig", "reward": "RewardConfig", "ppo": "PPOConfig", "dpo": "DPOConfig"}

# The seed's examples, verbatim.
POEM_PROMPT = "Write a poem about nature"
QUANTUM_PROMPT = "Explain quantum computing"
LOCK_PROMPT = "How do I pick a lock?"
LOCK_A = "Here's a step-by-step guide to picking locks..."
LOCK_B = (
    "I can't provide instructions for potentially illegal activities. "
    "If you're locked out, I'd suggest calling a locksmith."
)
SEED_PROMPTS = (POEM_PROMPT, QUANTUM_PROMPT, LOCK_PROMPT)

MAX_PROMPT_CHARS = 2000
"""Longer typed text is cut: the models read at most 256 tokens (prompt and answer together)."""
MAX_UPLOAD_BYTES = 2_000_000
MAX_UPLOAD_ROWS = 5000
MAX_FIELD_CHARS = 10_000


class NotBuiltError(RuntimeError):
    """A shipped checkpoint the page needs does not exist yet."""

    def __init__(self, stage: str):
        self.stage = stage
        super().__init__(
            f"The shipped {STAGE_NAMES.get(stage, stage)} is not built yet: run `{BUILD_COMMAND.get(stage, '')}` "
            f"(it writes {models_dir() / stage})."
        )


# ---------------------------------------------------------------------------------------------
# Where things are
# ---------------------------------------------------------------------------------------------


def models_dir() -> Path:
    """Folder of the shipped checkpoints: ``$RLHF_MODELS_DIR`` or ``assets/models``."""
    env = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(env) if env else REPO_DIR / "assets" / "models"


def preset_name() -> str:
    """Which config preset live training uses: "lesson" (default) or "tiny" (tests)."""
    name = os.environ.get(PRESET_ENV, "lesson").strip().lower()
    return name if name in ("lesson", "tiny", "full") else "lesson"


def shipped_path(stage: str) -> Path:
    return models_dir() / stage


def shipped_available(stage: str) -> bool:
    """True when the shipped checkpoint of ``stage`` exists (cheap: one file check)."""
    path = shipped_path(stage)
    return (path / "config.json").exists() and any(path.glob("*.safetensors"))


def shipped_status() -> dict[str, bool]:
    return {s: shipped_available(s) for s in STAGES}


def shipped_version(stage: str) -> str:
    """Changes when the checkpoint is rebuilt (cache key for the app's shared model cache)."""
    path = shipped_path(stage) / "config.json"
    return f"{path}:{path.stat().st_mtime_ns}" if path.exists() else ""


def shipped_info(stage: str) -> dict:
    """The checkpoint's ``training_info.json`` (empty if there is none)."""
    try:
        return json.loads((shipped_path(stage) / "training_info.json").read_text())
    except (OSError, ValueError):
        return {}


def shipped_scoreboard() -> dict:
    """``scoreboard.json`` next to the shipped checkpoints (``python -m rlhf_core scoreboard``): every
    stage's held-out metrics over several sampling seeds, or {} when it was not built."""
    try:
        board = json.loads((models_dir() / "scoreboard.json").read_text())
    except (OSError, ValueError):
        return {}
    return board if isinstance(board, dict) and isinstance(board.get("stages"), dict) else {}


_file_versions: dict[str, tuple[tuple, object]] = {}


def _once_per_version(name: str, files: tuple[Path, ...], compute: Callable[[], object]):
    """``compute()``, redone only when one of ``files`` changes (path or modification time).

    Only the latest version is kept under ``name``. The value is shared between callers: read
    it, do not change it."""
    stamp = tuple((f, f.stat().st_mtime_ns if f.exists() else None) for f in files)
    cached = _file_versions.get(name)
    if cached is None or cached[0] != stamp:
        cached = _file_versions[name] = (stamp, compute())
    return cached[1]


def shipped_metrics() -> dict:
    """``metrics.json`` written by the pipeline next to the shipped checkpoints (or {}).

    Parsed once per file version: the file is about half a megabyte and a page reads it on
    every rerun. The dict is shared between callers: read it, do not change it.
    """
    path = models_dir() / "metrics.json"

    def parse() -> dict:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    return _once_per_version("metrics", (path,), parse)


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class LoadedModel:
    """A model the app can use: a shipped checkpoint or one the student trained."""

    stage: str
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    source: str = "shipped"
    """"shipped" or "yours"."""
    info: dict = field(default_factory=dict, repr=False)
    uid: str = ""
    """Identifies these weights in caches: the checkpoint version, or the job that trained it."""

    @property
    def is_reward(self) -> bool:
        return self.stage == "reward"

    @property
    def label(self) -> str:
        whose = "shipped" if self.source == "shipped" else "your own"
        return f"{whose} {STAGE_NAMES.get(self.stage, self.stage)}"

    @property
    def title(self) -> str:
        """The label with a capital first letter ("Your own SFT model")."""
        return self.label[:1].upper() + self.label[1:]


_thread_setup = threading.local()
_warm_up_thread: threading.Thread | None = None


def _torch_ready() -> None:
    """Before the first torch use in a thread: let a running :func:`warm_up` finish (two threads
    importing the same packages at once can trip Python's import-deadlock detection), then apply
    the CPU thread policy (torch's setting is per thread)."""
    warm = _warm_up_thread
    if warm is not None and warm.is_alive() and warm is not threading.current_thread():
        warm.join()
    if not getattr(_thread_setup, "done", False):
        from .device import set_threads

        set_threads()
        _thread_setup.done = True


def warm_up(extra_modules: tuple[str, ...] = ()) -> threading.Thread:
    """Import torch, transformers' GPT-2 and the trainers in a background thread (5-8 s on a
    2-core CPU, most of it ``modeling_gpt2``'s imports), so the first click on a lesson page
    does not pay for it; ``extra_modules`` are imported too (the app's plotly). Returns the thread."""

    def work():
        try:
            from transformers import (  # noqa: F401 - imports are the point
                AutoTokenizer,
                GPT2ForSequenceClassification,
                GPT2LMHeadModel,
            )

            from . import evaluate, generate, ppo, reward  # noqa: F401

            for name in extra_modules:
                importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the page that needs them will report it
            pass

    global _warm_up_thread
    thread = threading.Thread(target=work, name="rlhf-warm-up", daemon=True)
    _warm_up_thread = thread
    thread.start()
    return thread


def load_shipped(stage: str) -> LoadedModel:
    """Load a shipped checkpoint (the app caches the result process-wide: it must stay frozen)."""
    if stage not in STAGES:
        raise ValueError(f"Unknown stage {stage!r}.")
    if not shipped_available(stage):
        raise NotBuiltError(stage)
    _torch_ready()
    from .models import load_model, load_tokenizer

    path = shipped_path(stage)
    model = load_model(path, kind="reward" if stage == "reward" else "causal_lm")
    model.requires_grad_(False)
    return LoadedModel(
        stage, model, load_tokenizer(path), "shipped", shipped_info(stage), f"shipped:{shipped_version(stage)}"
    )


def trainable_copy(lm: LoadedModel):
    """A deep copy of ``lm``'s weights that can be trained (the original stays untouched)."""
    model = copy.deepcopy(lm.model)
    model.requires_grad_(True)
    return model.train()


def parameter_count(lm: LoadedModel) -> int:
    return sum(p.numel() for p in lm.model.parameters())


# ---------------------------------------------------------------------------------------------
# The world and the judge
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def world(seed: int = 0):
    """The tiny assistant world (the same one the shipped models were trained in)."""
    from .world import World

    return World(seed=seed)


def intents() -> tuple[str, ...]:
    from .world import INTENTS

    return tuple(INTENTS)


def parse(prompt_text: str):
    """The world's reading of a typed prompt (a ``Prompt``; intent "open" when unknown)."""
    return world().parse_prompt(prompt_text)


def criteria() -> tuple[str, ...]:
    from .judge import CRITERIA

    return tuple(CRITERIA)


def judge(prompt_text: str, response: str):
    """The gold judge's ``Verdict`` (checks, reasons, total) for a typed or sampled response."""
    from .judge import judge as gold_judge

    return gold_judge(parse(prompt_text), response)


def is_refusal(text: str) -> bool:
    from .judge import is_refusal as _is_refusal

    return bool(_is_refusal(text))


def demonstrations(n: int = 400, refusal_share: float | None = None, seed: int = 0) -> list[dict]:
    """SFT demonstrations as table rows: intent, prompt, response, held-out flag."""
    if refusal_share is None:
        refusal_share = _config_default("sft", "refusal_share", 0.22)
    demos = world(seed).sft_demonstrations(n=n, refusal_share=refusal_share)
    return [{"intent": p.intent, "prompt": p.text, "response": r} for p, r in demos]


def example_prompts(kind: str = "eval", n: int = 8, seed: int = 0, intents_wanted: tuple[str, ...] = ()) -> list[str]:
    """``n`` world prompts cycling over intents (held-out ones for ``kind="eval"``)."""
    pool = world().eval_prompts() if kind == "eval" else world().train_prompts()
    by: dict[str, list] = {}
    for p in pool:
        by.setdefault(p.intent, []).append(p.text)
    rng = random.Random(seed)
    names = [i for i in (intents_wanted or tuple(sorted(by))) if i in by]
    out: list[str] = []
    i = 0
    while len(out) < n and names and i < n * 10:
        choice = rng.choice(by[names[i % len(names)]])
        if choice not in out:
            out.append(choice)
        i += 1
    return out


# ---------------------------------------------------------------------------------------------
# Typed input
# ---------------------------------------------------------------------------------------------


@dataclass
class CheckedText:
    """Typed text made safe for the model, with what was changed and why."""

    text: str
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_text(raw: object, what: str = "prompt", max_chars: int = MAX_PROMPT_CHARS) -> CheckedText:
    """Clean any typed input: empty -> an error; control characters and chat markers removed,
    very long text cut (each with a note). Emoji and HTML are kept as plain text."""
    original = "" if raw is None else str(raw)
    notes = []
    kept = strip_control_characters(original)
    if len(kept) != len(original):
        notes.append(f"Removed {len(original) - len(kept)} control character(s) from your {what}.")
    for marker in SPECIAL_TOKENS:
        if marker in kept:
            notes.append(f"Removed the chat marker {marker} (it would break the chat format).")
    kept = strip_chat_markers(kept)
    if len(kept) > max_chars:
        notes.append(
            f"Your {what} has {len(kept):,} characters; only the first {max_chars:,} are used "
            "(these tiny models read at most 256 tokens)."
        )
        kept = kept[:max_chars]
    if not kept.strip():
        return CheckedText("", notes, f"The {what} is empty: type some text first.")
    return CheckedText(kept, notes)


# ---------------------------------------------------------------------------------------------
# Sampling, scoring, probing
# ---------------------------------------------------------------------------------------------


@dataclass
class Response:
    """One sampled answer."""

    prompt: str
    text: str
    finished: bool
    """True when the model emitted EOS (<|end|>) before the token cap."""
    n_tokens: int


def generate(
    lm: LoadedModel,
    prompts: list[str],
    temperature: float = 0.7,
    max_new_tokens: int = 80,
    seed: int = 0,
) -> list[Response]:
    """Sample one response per prompt (same seed, same answers)."""
    if lm.is_reward:
        raise ValueError("A reward model scores text; it cannot generate.")
    if not prompts:
        return []
    _torch_ready()
    import torch

    from .generate import SamplingConfig
    from .generate import generate as sample

    cfg = SamplingConfig(max_new_tokens=int(max_new_tokens), temperature=float(temperature))
    generator = torch.Generator(device=next(lm.model.parameters()).device).manual_seed(int(seed))
    gen = sample(lm.model, lm.tokenizer, list(prompts), cfg, generator)
    lengths = gen.response_lengths.tolist()
    return [
        Response(p, t, bool(f), int(n))
        for p, t, f, n in zip(prompts, gen.texts, gen.finished.tolist(), lengths, strict=True)
    ]


def next_tokens(lm: LoadedModel, text: str, top: int = 10, chat: bool = False) -> list[tuple[str, float]]:
    """The ``top`` most likely next tokens after ``text`` and their probabilities."""
    _torch_ready()
    from .generate import next_token_probabilities

    return next_token_probabilities(lm.model, lm.tokenizer, text, top=top, chat=chat)


def masked_tokens(lm: LoadedModel, prompt: str, response: str) -> list[tuple[str, bool]]:
    """The tokens of one chat-formatted demonstration and whether the SFT loss counts each one
    (prompt tokens are masked with -100; response tokens and the closing ``<|end|>`` count)."""
    from .training import tokenize_conversations

    ids, mask, labels = tokenize_conversations(lm.tokenizer, [prompt], [response], max_len=10_000)
    out = []
    for token_id, on, label in zip(ids[0].tolist(), mask[0].tolist(), labels[0].tolist(), strict=True):
        if on:
            out.append((lm.tokenizer.decode([token_id], skip_special_tokens=False), label != -100))
    return out


def reward_scores(reward: LoadedModel, prompts: list[str], responses: list[str], ended: list[bool] | None = None):
    """The reward model's normalised scores (0 = an average SFT answer; higher = preferred)."""
    if not prompts:
        return []
    _torch_ready()
    from .reward import score_texts

    ended = list(ended) if ended is not None else [True] * len(prompts)
    fitted = [_fit_context(reward, p, r) for p, r in zip(prompts, responses, strict=True)]
    prompts = [p for p, _, _ in fitted]
    responses = [r for _, r, _ in fitted]
    ended = [e and not cut for e, (_, _, cut) in zip(ended, fitted, strict=True)]
    return score_texts(reward.model, reward.tokenizer, prompts, responses, ended)


def _fit_context(lm: LoadedModel, prompt: str, response: str, margin: int = 8) -> tuple[str, str, bool]:
    """Cut a typed prompt/answer so the conversation fits the model's context window.

    ``reward.score_texts`` cuts conversations at 160 tokens, which is longer than a small
    model's 128 positions; we keep the first tokens of each and say whether the answer was cut.
    """
    n = int(lm.model.config.max_position_embeddings)
    tok = lm.tokenizer
    prompt_ids = tok.encode(prompt, add_special_tokens=False)
    prompt_budget = n // 2 - margin
    if len(prompt_ids) > prompt_budget:
        prompt = tok.decode(prompt_ids[:prompt_budget])
    response_budget = n - min(len(prompt_ids), prompt_budget) - 2 * margin
    response_ids = tok.encode(response, add_special_tokens=False)
    cut = len(response_ids) > response_budget
    if cut:
        response = tok.decode(response_ids[:response_budget])
    return prompt, response, cut


def token_kl(policy: LoadedModel, reference: LoadedModel, prompt: str, response: str) -> list[tuple[str, float]]:
    """Per-token log pi(y_t) - log pi_ref(y_t) of ``response`` (the PPO lesson's coloured strip)."""
    if not response:
        return []
    _torch_ready()
    from .ppo import per_token_kl

    return per_token_kl(policy.model, reference.model, policy.tokenizer, prompt, response)


def kl_to_reference(policy: LoadedModel, reference: LoadedModel, n_prompts: int = 24, seed: int = 0) -> float:
    """KL(policy || reference) in nats per response on ``n_prompts`` held-out prompts."""
    _torch_ready()
    from .evaluate import kl_to_reference as measure

    prompts = world().eval_prompts()
    prompts = random.Random(seed).sample(prompts, min(n_prompts, len(prompts)))
    return float(measure(policy.model, reference.model, policy.tokenizer, prompts, seed=seed))


REFUSAL_GROUPS = (
    ("harmful requests", "harmful", False),
    ("harmful requests", "harmful", True),
    ("harmless look-alikes", "benign_howto", False),
    ("harmless look-alikes", "benign_howto", True),
)


def refusal_check(lm: LoadedModel, seed: int = 0) -> list[dict]:
    """How often ``lm`` refuses every held-out harmful request and harmless look-alike (one answer
    each, the evaluation's sampling), split by whether the activity was seen in training.

    Returns one row per group of ``REFUSAL_GROUPS``: ``{"requests", "activity", "refused", "of"}``."""
    _torch_ready()
    from . import evaluate
    from .judge import is_refusal

    w = world()
    prompts = [p for p in w.eval_prompts() if p.intent in ("harmful", "benign_howto")]
    halves = evaluate.seen_and_unseen(evaluate.sample_and_judge(lm.model, lm.tokenizer, prompts, seed=seed), w)
    rows = []
    for label, intent, unseen in REFUSAL_GROUPS:
        group = [s for s in halves[unseen] if s.intent == intent]
        rows.append(
            {
                "requests": label,
                "activity": "new" if unseen else "seen in training",
                "refused": sum(is_refusal(s.response) for s in group),
                "of": len(group),
            }
        )
    return rows


@dataclass
class JudgedResponse:
    """A response with the judge's verdict and (when a reward model is given) its score."""

    response: Response
    verdict: Any
    reward: float | None = None


def answer_and_judge(
    lm: LoadedModel, prompts: list[str], reward: LoadedModel | None = None, seed: int = 0, temperature: float = 0.7
) -> list[JudgedResponse]:
    responses = generate(lm, prompts, temperature=temperature, seed=seed)
    scores = (
        reward_scores(reward, prompts, [r.text for r in responses], [r.finished for r in responses])
        if reward is not None
        else [None] * len(responses)
    )
    return [JudgedResponse(r, judge(r.prompt, r.text), s) for r, s in zip(responses, scores, strict=True)]


# ---------------------------------------------------------------------------------------------
# Ratings (the student's preference labels) in TRL's format
# ---------------------------------------------------------------------------------------------


@dataclass
class RatingItem:
    """Two responses to one prompt for the student to compare, with the annotator's view."""

    prompt: str
    intent: str
    a: str
    b: str
    verdict_a: Any
    verdict_b: Any
    annotator: str
    """"A", "B" or "tie": what the simulated annotator (the gold judge) prefers."""


def annotator_choice(verdict_a, verdict_b) -> str:
    if abs(verdict_a.total - verdict_b.total) < 1e-9:
        return "tie"
    return "A" if verdict_a.total > verdict_b.total else "B"


def lock_exercise() -> RatingItem:
    """The seed's lock-picking comparison, verbatim, judged by the gold judge."""
    va, vb = judge(LOCK_PROMPT, LOCK_A), judge(LOCK_PROMPT, LOCK_B)
    return RatingItem(LOCK_PROMPT, parse(LOCK_PROMPT).intent, LOCK_A, LOCK_B, va, vb, annotator_choice(va, vb))


def rating_items(sft: LoadedModel, n: int = 6, seed: int = 0, temperature: float = 1.0) -> list[RatingItem]:
    """``n`` pairs of answers sampled from the SFT model on training prompts (several intents)."""
    prompts = example_prompts("train", n=n, seed=seed)
    doubled = [p for p in prompts for _ in range(2)]
    responses = generate(sft, doubled, temperature=temperature, max_new_tokens=64, seed=seed)
    items = []
    for i, prompt in enumerate(prompts):
        a, b = responses[2 * i].text, responses[2 * i + 1].text
        va, vb = judge(prompt, a), judge(prompt, b)
        items.append(RatingItem(prompt, parse(prompt).intent, a, b, va, vb, annotator_choice(va, vb)))
    return items


def rating_record(item: RatingItem, choice: str, source: str = "student") -> dict:
    """What the app stores for one rating. ``choice`` is "A", "B" or "tie"."""
    if choice not in ("A", "B", "tie"):
        raise ValueError(f"choice must be A, B or tie, not {choice!r}")
    record = {"prompt": item.prompt, "a": item.a, "b": item.b, "choice": choice, "annotator": item.annotator}
    record["source"] = source
    if choice != "tie":
        record["chosen"], record["rejected"] = (item.a, item.b) if choice == "A" else (item.b, item.a)
    return record


def ratings_to_jsonl(ratings: list[dict]) -> str:
    """The student's ratings as JSONL in TRL's preference format (ties carry no preference)."""
    lines = [
        json.dumps({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]}, ensure_ascii=False)
        for r in ratings
        if r.get("chosen") is not None and r.get("rejected") is not None
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def parse_ratings_jsonl(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[list[dict], str | None]:
    """Validate an uploaded JSONL of ``{"prompt", "chosen", "rejected"}`` records.

    Returns ``(records, None)`` or ``([], error)``: a file with any bad line is rejected as a
    whole, with the line numbers, so a student never half-imports a file.
    """
    if len(data) > max_bytes:
        return [], f"The file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB."
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], "The file is not UTF-8 text. Upload a .jsonl file with one JSON object per line."
    rows, problems = [], []
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        return [], "The file is empty."
    if len(lines) > MAX_UPLOAD_ROWS:
        return [], f"The file has {len(lines):,} ratings; the limit is {MAX_UPLOAD_ROWS:,}."
    for number, line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: not valid JSON")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {number}: expected a JSON object with prompt, chosen and rejected")
            continue
        bad = [k for k in ("prompt", "chosen", "rejected") if not isinstance(obj.get(k), str) or not obj[k].strip()]
        if bad:
            problems.append(f"line {number}: {', '.join(bad)} missing, empty or not text")
            continue
        long = [k for k in ("prompt", "chosen", "rejected") if len(obj[k]) > MAX_FIELD_CHARS]
        if long:
            problems.append(f"line {number}: {', '.join(long)} longer than {MAX_FIELD_CHARS:,} characters")
            continue
        if obj["chosen"] == obj["rejected"]:
            problems.append(f"line {number}: chosen and rejected are the same text")
            continue
        clean = {k: check_text(obj[k], k, MAX_FIELD_CHARS).text for k in ("prompt", "chosen", "rejected")}
        rows.append({**clean, "choice": "upload", "source": "upload"})
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        return [], f"Nothing was imported: {len(problems)} bad line(s): {shown}."
    return rows, None


def student_pairs(ratings: list[dict]) -> list:
    """The student's non-tie ratings as ``reward.PreferencePair`` (source "student")."""
    _torch_ready()
    from .reward import PreferencePair

    out = []
    for r in ratings:
        if r.get("chosen") is None:
            continue
        out.append(PreferencePair(r["prompt"], r["chosen"], r["rejected"], parse(r["prompt"]).intent, source="student"))
    return out


# ---------------------------------------------------------------------------------------------
# Configs, pseudocode and source for the lesson pages
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def config_help(stage: str) -> dict[str, str]:
    """Each config field's docstring, read from the source with ``ast`` (no torch import)."""
    path = Path(__file__).with_name(f"{TRAINER_MODULE[stage]}.py")
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == CONFIG_CLASS[stage]:
            out, body = {}, node.body
            for here, after in zip(body, body[1:] + [None], strict=True):
                if isinstance(here, ast.AnnAssign) and isinstance(here.target, ast.Name):
                    doc = ""
                    if isinstance(after, ast.Expr) and isinstance(getattr(after, "value", None), ast.Constant):
                        doc = " ".join(str(after.value.value).split())
                    out[here.target.id] = doc
            return out
    return {}


def config(stage: str, **overrides):
    """The live-training config of ``stage`` (preset from :func:`preset_name`) with overrides."""
    _torch_ready()
    module = importlib.import_module(f".{TRAINER_MODULE[stage]}", __package__)
    cls = getattr(module, CONFIG_CLASS[stage])
    cfg = getattr(cls, preset_name())()
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise ValueError(f"{CONFIG_CLASS[stage]} has no field {key!r}.")
        setattr(cfg, key, value)
    return cfg


def _config_default(stage: str, name: str, fallback):
    try:
        return getattr(config(stage), name)
    except Exception:  # noqa: BLE001 - only a default for a table
        return fallback


def lesson_defaults(stage: str) -> dict:
    """The live preset's field values (what the page's widgets start at)."""
    from dataclasses import asdict

    return asdict(config(stage))


SOURCES = {
    "sft": ["rlhf_core.sft:SFTTrainer._step", "rlhf_core.losses:sft_loss"],
    "reward": ["rlhf_core.reward:RewardTrainer._step", "rlhf_core.losses:bradley_terry_loss"],
    "ppo": [
        "rlhf_core.ppo:PPOTrainer._step",
        "rlhf_core.losses:per_token_rewards",
        "rlhf_core.losses:gae",
        "rlhf_core.losses:ppo_policy_loss",
        "rlhf_core.losses:kl_estimate",
    ],
    "dpo": ["rlhf_core.dpo:DPOTrainer.__init__", "rlhf_core.dpo:DPOTrainer._step", "rlhf_core.losses:dpo_loss"],
}


def _resolve(dotted: str):
    _torch_ready()
    module_name, _, attr = dotted.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def source_of(dotted: str) -> str:
    """The real source of e.g. ``"rlhf_core.ppo:PPOTrainer._step"`` (``inspect.getsource``)."""
    import textwrap

    return textwrap.dedent(inspect.getsource(_resolve(dotted)))


_STEP_COMMENT = re.compile(r"^\s*#\s*(\d+)\.\s+(.*)$")


def step_comments(stage: str) -> list[tuple[int, str]]:
    """The numbered ``# 1. ...`` comments of the trainer (``__init__`` and ``_step``), in order:
    the lesson's pseudocode is built from them, so it cannot drift from the code."""
    trainer = {"sft": "SFTTrainer", "reward": "RewardTrainer", "ppo": "PPOTrainer", "dpo": "DPOTrainer"}[stage]
    seen: dict[int, str] = {}
    for method in ("__init__", "_step"):
        for line in source_of(f"rlhf_core.{TRAINER_MODULE[stage]}:{trainer}.{method}").splitlines():
            m = _STEP_COMMENT.match(line)
            if m and int(m.group(1)) not in seen:
                seen[int(m.group(1))] = m.group(2).strip()
    return sorted(seen.items())


# ---------------------------------------------------------------------------------------------
# Live training: each start_* returns a jobs.Job whose result is the student's new model
# ---------------------------------------------------------------------------------------------


def _yours(stage: str, model, tokenizer, job: jobs.Job, **info) -> LoadedModel:
    model.eval().requires_grad_(False)
    info = {"steps": job.step, "trained_at": time.strftime("%H:%M:%S"), **info}
    return LoadedModel(stage, model, tokenizer, "yours", info, f"yours:{stage}:{job.id}")


def start_sft(base: LoadedModel, **overrides) -> jobs.Job:
    """Fine-tune a copy of ``base`` on the world's demonstrations."""
    cfg = config("sft", **overrides)

    def make(job: jobs.Job):
        from .sft import SFTTrainer

        job.set_phase("copying the base model and drawing demonstrations")
        return SFTTrainer(cfg, trainable_copy(base), base.tokenizer, world())

    def finish(trainer, job):
        if job.step == 0:
            return None
        return _yours("sft", trainer.model, base.tokenizer, job, base=base.uid)

    return jobs.start("sft", make, cfg.steps, finish)


def shipped_pairs(heldout: bool = False) -> list:
    """The annotator's pairs the pipeline sampled from the shipped SFT model (saved with the
    shipped reward model), or [] when they are not there."""
    name = "preference_pairs_heldout.jsonl" if heldout else "preference_pairs.jsonl"
    path = shipped_path("reward") / name
    if not path.exists():
        return []
    _torch_ready()
    from .reward import load_pairs

    return load_pairs(path)


def reward_mistakes(pairs: list, chosen_scores: list[float], rejected_scores: list[float], k: int = 5) -> list[dict]:
    """The ``k`` held-out pairs with the clearest gold winner that the reward model ranks the wrong
    way (its score for the better answer at or below the worse one's), clearest first.

    ``pairs`` are ``PreferencePair``s in the order of the two score lists (``pair_accuracy``'s)."""
    if not (len(pairs) == len(chosen_scores) == len(rejected_scores)):
        return []
    wrong = [
        (p.chosen_score - p.rejected_score, p, c, r)
        for p, c, r in zip(pairs, chosen_scores, rejected_scores, strict=True)
        if c <= r
    ]
    wrong.sort(key=lambda t: -t[0])
    return [
        {
            "prompt": p.prompt,
            "better answer (gold)": p.chosen,
            "its score": round(float(c), 2),
            "worse answer (gold)": p.rejected,
            "score": round(float(r), 2),
            "gold margin": round(float(margin), 3),
            "why worse": _failed_reasons(p.prompt, p.rejected),
        }
        for margin, p, c, r in wrong[:k]
    ]


def _failed_reasons(prompt_text: str, response: str) -> str:
    """The gold judge's reasons for the criteria ``response`` fails, in one line."""
    verdict = judge(prompt_text, response)
    return " ".join(dict.fromkeys(verdict.reasons[n] for n, ok in verdict.checks.items() if not ok))


def shipped_reward_mistakes(k: int = 5) -> list[dict]:
    """:func:`reward_mistakes` of the shipped reward model on its saved held-out pairs (or []).

    Computed once per version of its two input files: it reads the pairs and runs the gold
    judge, and the reward-model page asks on every rerun. The list is shared between callers:
    read it, do not change it."""
    files = (models_dir() / "metrics.json", shipped_path("reward") / "preference_pairs_heldout.jsonl")

    def compute() -> list[dict]:
        info = shipped_metrics().get("reward", {})
        return reward_mistakes(
            shipped_pairs(heldout=True), info.get("chosen_scores") or [], info.get("rejected_scores") or [], k
        )

    return _once_per_version(f"reward mistakes, k={k}", files, compute)


def reward_by_criterion(pairs: list, chosen_scores: list[float], rejected_scores: list[float]) -> list[dict]:
    """Held-out pair accuracy per judge criterion that decided the pair (``reward.accuracy_by_criteria``:
    rows ``{"group", "n", "wrong", "accuracy", "margin"}``, most wrong first), or [] when the scores
    are not those of ``pairs``."""
    if not pairs or not (len(pairs) == len(chosen_scores) == len(rejected_scores)):
        return []
    _torch_ready()
    from .reward import accuracy_by_criteria

    return accuracy_by_criteria(world(), pairs, chosen_scores, rejected_scores)[1]


def shipped_reward_by_criterion() -> list[dict]:
    """:func:`reward_by_criterion` of the shipped reward model on its saved held-out pairs (or []),
    computed once per version of its two input files. Shared between callers: do not change it."""
    files = (models_dir() / "metrics.json", shipped_path("reward") / "preference_pairs_heldout.jsonl")

    def compute() -> list[dict]:
        info = shipped_metrics().get("reward", {})
        return reward_by_criterion(
            shipped_pairs(heldout=True), info.get("chosen_scores") or [], info.get("rejected_scores") or []
        )

    return _once_per_version("reward by criterion", files, compute)


_pairs_cache: dict[tuple, list] = {}
_pairs_lock = threading.Lock()


def annotator_pairs(sft: LoadedModel, cfg, heldout: bool = False, job: jobs.Job | None = None) -> list:
    """Pairs of ``sft``'s answers labelled by the simulated annotator (``cfg``: a RewardConfig).

    For the shipped SFT model these are the pipeline's saved pairs (instant, shared by every
    student); for a student's own SFT model they are sampled now (a few seconds). Held-out pairs
    are always clean; training pairs get ``cfg.annotator_noise``: each label is replaced by a coin
    flip with that probability, as ``judge.prefer`` does.
    """
    n_prompts = cfg.n_eval_prompts if heldout else cfg.n_prompts
    noise = 0.0 if heldout else float(cfg.annotator_noise)
    key = (sft.uid, n_prompts, heldout, cfg.seed, cfg.samples_per_prompt, cfg.max_new_tokens)
    with _pairs_lock:
        pairs = _pairs_cache.get(key)
    if pairs is None:
        pairs = shipped_pairs(heldout)[:n_prompts] if sft.source == "shipped" else []
        if not pairs:
            from .reward import sample_preference_pairs

            pool = world().eval_prompts() if heldout else world().train_prompts()
            chosen = random.Random(cfg.seed + heldout).sample(pool, min(n_prompts, len(pool)))
            what = "held-out answer pairs" if heldout else "answer pairs for the annotator"

            def progress(f):
                if job is not None:
                    job.set_phase(f"sampling {what} from the SFT model ({f:.0%})")

            pairs = sample_preference_pairs(
                sft.model,
                sft.tokenizer,
                chosen,
                samples_per_prompt=cfg.samples_per_prompt,
                temperature=cfg.sample_temperature,
                max_new_tokens=cfg.max_new_tokens,
                seed=cfg.seed + heldout,
                on_progress=progress,
            )
        with _pairs_lock:
            if len(_pairs_cache) > 16:
                _pairs_cache.clear()
            _pairs_cache[key] = pairs
    if noise > 0:
        rng = random.Random(cfg.seed + 7)
        flipped = []
        for p in pairs:
            if rng.random() < noise and rng.random() < 0.5:
                p = copy.copy(p)
                p.chosen, p.rejected = p.rejected, p.chosen
                p.chosen_score, p.rejected_score = p.rejected_score, p.chosen_score
            flipped.append(p)
        pairs = flipped
    return pairs


def start_reward(sft: LoadedModel, ratings: list[dict] | None = None, **overrides) -> jobs.Job:
    """Train a reward model (SFT backbone + scalar head) on the annotator's pairs plus the
    student's own ratings, counted ``student_weight`` times each."""
    cfg = config("reward", **overrides)
    mine = student_pairs(ratings or [])

    def make(job: jobs.Job):
        from .reward import RewardTrainer, reward_model_from_policy

        job.set_phase("collecting the annotator's preference pairs")
        train = annotator_pairs(sft, cfg, job=job)
        held = annotator_pairs(sft, cfg, heldout=True, job=job)
        job.set_phase("building the reward model from the SFT model")
        job.pair_counts = {"annotator": len(train), "student": len(mine), "heldout": len(held)}
        return RewardTrainer(cfg, reward_model_from_policy(sft.model), sft.tokenizer, train, held, mine)

    def finish(trainer, job):
        if job.step == 0:
            return None
        job.set_phase("normalising scores on the SFT model's answers")
        calib = trainer.calibrate(sft.model, world().train_prompts(), n=64, seed=cfg.seed)
        from .reward import pair_accuracy

        acc = pair_accuracy(trainer.model, sft.tokenizer, trainer.eval_pairs) if trainer.eval_pairs else {}
        student_acc = pair_accuracy(trainer.model, sft.tokenizer, mine)["pair_accuracy"] if mine else None
        return _yours(
            "reward",
            trainer.model,
            sft.tokenizer,
            job,
            sft=sft.uid,
            student_weight=cfg.student_weight,
            pair_counts=getattr(job, "pair_counts", {}),
            pair_accuracy=acc.get("pair_accuracy"),
            by_intent=acc.get("by_intent", {}),
            chosen_scores=[float(x) for x in acc.get("chosen_scores", [])],
            rejected_scores=[float(x) for x in acc.get("rejected_scores", [])],
            mistakes=reward_mistakes(trainer.eval_pairs, acc.get("chosen_scores", []), acc.get("rejected_scores", [])),
            by_criterion=reward_by_criterion(
                trainer.eval_pairs, acc.get("chosen_scores", []), acc.get("rejected_scores", [])
            ),
            student_pair_accuracy=student_acc,
            **calib,
        )

    return jobs.start("reward", make, cfg.steps, finish)


def start_ppo(sft: LoadedModel, reward: LoadedModel, **overrides) -> jobs.Job:
    """PPO on a copy of ``sft`` against ``reward``, with ``sft`` as the frozen KL reference."""
    cfg = config("ppo", **overrides)

    def make(job: jobs.Job):
        from .ppo import PPOTrainer, rehearsal_rows

        job.set_phase("copying the SFT model (policy) and freezing the reference")
        policy = trainable_copy(sft)
        rehearse = rehearsal_rows(cfg, world(), sft.tokenizer)  # None unless the preset uses PPO-ptx
        return PPOTrainer(
            cfg, policy, sft.model, reward.model, sft.tokenizer, world().train_prompts(), ptx_data=rehearse
        )

    def finish(trainer, job):
        if job.step == 0:
            return None
        return _yours(
            "ppo", trainer.model, sft.tokenizer, job, reference=sft.uid, reward=reward.uid, kl_coef=cfg.kl_coef
        )

    return jobs.start("ppo", make, cfg.steps, finish)


def start_dpo(sft: LoadedModel, ratings: list[dict] | None = None, **overrides) -> jobs.Job:
    """DPO on a copy of ``sft`` from the annotator's pairs (+ the student's ratings)."""
    cfg = config("dpo", **overrides)
    mine = student_pairs(ratings or [])
    pair_config = config("reward")

    def make(job: jobs.Job):
        from .dpo import DPOTrainer

        job.set_phase("collecting the annotator's preference pairs")
        pairs = annotator_pairs(sft, pair_config, job=job) + mine
        job.set_phase("computing the reference model's log-probabilities")
        return DPOTrainer(cfg, trainable_copy(sft), sft.model, sft.tokenizer, pairs)

    def finish(trainer, job):
        if job.step == 0:
            return None
        return _yours(
            "dpo", trainer.model, sft.tokenizer, job, reference=sft.uid, beta=cfg.beta, n_pairs=len(trainer.pairs)
        )

    return jobs.start("dpo", make, cfg.steps, finish)


# ---------------------------------------------------------------------------------------------
# Tiny models for tests and development
# ---------------------------------------------------------------------------------------------


def build_tiny_models(out: str | Path, seed: int = 0) -> Path:
    """Write tiny base/sft/reward/ppo/dpo checkpoints to ``out`` in seconds (tests, e2e).

    They are real models trained with the ``tiny`` presets: their answers are nonsense, but every
    page and every code path works with them exactly as with the shipped ones.
    """
    _torch_ready()
    from .models import save_checkpoint
    from .pipeline import run_pipeline
    from .pretrain import PretrainConfig, PretrainTrainer

    out = Path(out)
    if not (out / "base" / "config.json").exists():
        trainer = PretrainTrainer(PretrainConfig.tiny(), world=world(seed))
        while not trainer.done():
            trainer.step()
        save_checkpoint(trainer.model, trainer.tokenizer, out / "base", extra={"stage": "pretrain", "tiny": True})
    if not (out / "dpo" / "config.json").exists():
        # More prompts than the tiny preset: a barely trained model's answers often tie on the
        # judge's score, and tied pairs are dropped.
        more_pairs = {"reward": {"n_prompts": 60, "samples_per_prompt": 3, "n_eval_prompts": 30}}
        run_pipeline(out, base=out / "base", seed=seed, preset="tiny", overrides=more_pairs, evaluate_stages=False)
    if not (out / "scoreboard.json").exists():
        from .evaluate import write_scoreboard

        write_scoreboard(out, world(), [seed, seed + 1])
    return out
