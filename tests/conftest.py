"""Shared fixtures. Everything runs offline and on one CPU thread."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

# Every key the eval JSON must carry (the foundation issue's list, plus continuation_rate).
EVAL_KEYS = frozenset(
    {
        "eos_rate",
        "gold_score",
        "criteria",
        "refusal_rate_harmful",
        "overrefusal_rate_benign",
        "repetition_rate",
        "distinct_2",
        "mean_length",
        "n_prompts",
        "by_intent",
        "continuation_rate",
        "gold_score_seen",
        "gold_score_unseen",
        "refusal_rate_harmful_seen",
        "refusal_rate_harmful_unseen",
        "overrefusal_rate_benign_seen",
        "overrefusal_rate_benign_unseen",
    }
)

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)`` imports ``scripts/<name>.py`` (the scripts are not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


ECHO_TEXTS = [f"say {w}" for w in ("cat", "dog", "sun", "tree", "moon", "bird", "fish", "rain", "star", "leaf")]


@pytest.fixture(scope="session")
def eval_keys() -> frozenset[str]:
    return EVAL_KEYS


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A byte-level BPE trained on a few lines (seconds)."""
    from rlhf_core.models import build_tokenizer

    texts = ECHO_TEXTS * 5 + ["the quick brown fox jumps over the lazy dog"] * 5
    return build_tokenizer(texts, vocab_size=300)


@pytest.fixture(scope="session", params=["learned", "rotary"])
def stopping_model(tiny_tokenizer, request):
    """A 1-layer model trained for a few seconds on "say X" -> "X<|end|>" chats, so it answers
    in a couple of tokens and emits EOS: the real stop-at-EOS path, not a mock. Once as a GPT-2
    (learned positions) and once as a Llama (rotary positions): every test that uses it runs on
    both models ``build_model`` makes."""
    from rlhf_core.generate import encode_prompts
    from rlhf_core.models import ModelSize, build_model

    tok = tiny_tokenizer
    size = ModelSize(n_layer=1, n_embd=64, n_head=2, n_positions=64, positions=request.param)
    model = build_model(tok, size, seed=0)
    rows = []
    for text in ECHO_TEXTS:
        msgs = [{"role": "user", "content": text}, {"role": "assistant", "content": text.split()[1]}]
        ids = tok.apply_chat_template(msgs, tokenize=True)
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "input_ids") else ids
        rows.append(list(ids))
    width = max(map(len, rows))
    batch = torch.full((len(rows), width), tok.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    for i, r in enumerate(rows):
        batch[i, : len(r)] = torch.tensor(r)
        labels[i, : len(r)] = torch.tensor(r)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    for _ in range(150):
        loss = model(input_ids=batch, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert encode_prompts(tok, ["say cat"])[0].shape[0] == 1
    return model


@pytest.fixture(scope="session")
def world():
    from rlhf_core.world import World

    return World(seed=0)


@pytest.fixture(scope="session")
def tiny_base(world):
    """A seconds-long pre-training run: (model, tokenizer) that knows a little of the world."""
    from rlhf_core.pretrain import PretrainConfig, PretrainTrainer

    trainer = PretrainTrainer(PretrainConfig.tiny(), world=world)
    while not trainer.done():
        trainer.step()
    return trainer.model.eval(), trainer.tokenizer


@pytest.fixture(scope="session")
def tiny_sft(tiny_base, world):
    """The tiny base after a short SFT: it has learned to emit EOS sometimes."""
    import copy

    from rlhf_core.sft import SFTConfig, SFTTrainer
    from rlhf_core.training import run

    base, tok = tiny_base
    model = copy.deepcopy(base)
    config = SFTConfig(n_demonstrations=400, steps=60, batch_size=16, lr=3e-3)
    run(SFTTrainer(config, model, tok, world))
    return model.eval(), tok


@pytest.fixture(scope="session")
def tiny_copier(world):
    """A tiny rotary model taught to copy by the drill (about 750 drill steps, 25-45 s on one
    thread), then its few corpus steps: ``{"model", "tokenizer", "copy_before",
    "copy_after_drill", "drill_steps"}``. Shared by the drill's test and SFT's echo-rows test."""
    from rlhf_core.copying import random_span_copy
    from rlhf_core.models import ModelSize
    from rlhf_core.pretrain import PretrainConfig, PretrainTrainer

    cfg = PretrainConfig.tiny()
    cfg.size = ModelSize(n_layer=2, n_embd=64, n_head=2, n_positions=128, positions="rotary")
    cfg.copy_drill_steps, cfg.copy_drill_target, cfg.copy_drill_lr, cfg.batch_size = 1000, 0.9, 1e-3, 32
    trainer = PretrainTrainer(cfg, world=world)
    before = trainer.drill_copy
    while trainer.drilling:
        trainer.step()
    after = random_span_copy(trainer.model.eval(), *trainer.plain_ids)
    while not trainer.done():
        trainer.step()
    return {
        "model": trainer.model.eval(),
        "tokenizer": trainer.tokenizer,
        "copy_before": before,
        "copy_after_drill": after,
        "drill_steps": trainer.drill_steps,
    }
