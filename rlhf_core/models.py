"""Tokenizer and model building, loading and atomic checkpoints.

Everything here is an ordinary Hugging Face artefact so that students can take a checkpoint to
any other tool: the tokenizer is a byte-level BPE trained with ``tokenizers`` and saved as
``tokenizer.json`` with its own ``chat_template``; the policy is a GPT-2 built from a
``transformers`` config; checkpoints are safetensors + config loadable with
``AutoTokenizer`` / ``AutoModelForCausalLM.from_pretrained(local_dir)`` offline. Nothing here
ever loads a pickle (``use_safetensors=True`` everywhere).

Chat format (the tokenizer's ``chat_template``)::

    <|bos|><|user|>Write a poem about nature<|end|><|assistant|>The ...<|end|>

``<|end|>`` is the EOS token: it closes a turn. Pre-training documents are separated by
``<|bos|>`` only, so a base model has never seen ``<|end|>``: like a real base model it does not
know how to stop answering. PAD is a separate token, so padding is never confused with EOS.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

BOS, EOS, PAD, USER, ASSISTANT = "<|bos|>", "<|end|>", "<|pad|>", "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, USER, ASSISTANT]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def strip_control_characters(text: str) -> str:
    """Drop control characters (Unicode Cc) and lone surrogates (Cs); keep newlines and tabs."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))


def strip_chat_markers(text: str) -> str:
    """Remove the special tokens' text (``<|user|>`` ...) so typed input cannot forge a turn."""
    for marker in SPECIAL_TOKENS:
        text = text.replace(marker, "")
    return text


ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
MODELS_DIR = ASSETS_DIR / "models"


@dataclass
class ModelSize:
    """Shape of the GPT-2 we pre-train. Defaults are sized for ~12 minutes on one CPU thread."""

    n_layer: int = 4
    """Transformer blocks. Depth helps the model copy a topic from the prompt (induction heads)."""
    n_embd: int = 192
    """Width of the residual stream."""
    n_head: int = 6
    """Attention heads (n_embd must be divisible by n_head)."""
    n_positions: int = 256
    """Longest sequence (prompt + response) in tokens."""
    positions: str = "learned"
    """How the model knows where a token is. ``"learned"``: GPT-2's learned absolute position
    embeddings. ``"rotary"``: rotary embeddings (RoPE) in a Llama block (RMSNorm, SwiGLU MLP sized
    to the same parameter count), which make "attend to the previous token" the same pattern at
    every position; see ``docs/results.md`` on copying."""


def build_tokenizer(texts: list[str], vocab_size: int = 1024):
    """Train a byte-level BPE on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``.

    Byte-level means any string (emoji, control characters) round-trips without unknown tokens.
    A small vocabulary keeps the LM head, which dominates the cost of models this small, cheap.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[USER, ASSISTANT],
        padding_side="left",
        model_max_length=ModelSize.n_positions,
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_model(tokenizer, size: ModelSize | None = None, seed: int = 0):
    """A freshly initialised language model for ``tokenizer``'s vocabulary: a GPT-2, or with
    ``size.positions == "rotary"`` a Llama of the same shape."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    size = size or ModelSize()
    if size.positions not in ("learned", "rotary"):
        raise ValueError(f"positions must be 'learned' or 'rotary', not {size.positions!r}")
    common = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    if size.positions == "rotary":
        config = LlamaConfig(
            max_position_embeddings=size.n_positions,
            hidden_size=size.n_embd,
            # SwiGLU has three matrices where GPT-2's MLP has two of width 4C: 8C/3 (rounded to a
            # multiple of 64) keeps the parameter count equal.
            intermediate_size=max(64, round(8 * size.n_embd / 3 / 64) * 64),
            num_hidden_layers=size.n_layer,
            num_attention_heads=size.n_head,
            num_key_value_heads=size.n_head,
            **common,
        )
        model_class = LlamaForCausalLM
    else:
        config = GPT2Config(
            n_positions=size.n_positions,
            n_embd=size.n_embd,
            n_layer=size.n_layer,
            n_head=size.n_head,
            # GPT-2's tanh-approximated GELU (the same function as "gelu_new") as one fused kernel:
            # the unfused version spent ~15% of every CPU forward pass in its separate element-wise ops.
            activation_function="gelu_pytorch_tanh",
            # No dropout: it would make PPO's old and new log-probs disagree on identical weights.
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            **common,
        )
        model_class = GPT2LMHeadModel
    torch.manual_seed(seed)
    return model_class(config)


def load_tokenizer(path: str | os.PathLike):
    """Load a tokenizer saved by :func:`save_checkpoint` (offline, from a local folder)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    tok.padding_side = "left"
    return tok


def same_vocabulary(tokenizer, other) -> bool:
    """Whether two tokenizers map every token to the same id. Every base model builds its own
    tokenizer (:func:`build_tokenizer`), so models of different bases fail this, and one model reading
    the other's token ids gets gibberish without any error."""
    return tokenizer.get_vocab() == other.get_vocab()


def load_model(path: str | os.PathLike, kind: str = "causal_lm", device: str = "cpu"):
    """Load a checkpoint folder with ``from_pretrained`` (safetensors only, offline)."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"No model checkpoint in {path} (config.json is missing).")
    cls = AutoModelForSequenceClassification if kind == "reward" else AutoModelForCausalLM
    model = cls.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
    return model.to(device).eval()


ENSEMBLE_DIR = "ensemble"
"""Sub-folder of a reward-model checkpoint holding its ensemble's other members (``1``, ``2``, ...;
``RewardConfig.ensemble``). The checkpoint folder itself is member 0."""


def load_ensemble_members(reward_dir: str | os.PathLike, device: str = "cpu") -> list:
    """The other members of a reward-model ensemble saved in ``reward_dir`` (none: ``[]``)."""
    folder = Path(reward_dir) / ENSEMBLE_DIR
    if not folder.is_dir():
        return []
    names = sorted((d for d in folder.iterdir() if d.name.isdigit() and d.is_dir()), key=lambda d: int(d.name))
    return [load_model(d, kind="reward", device=device) for d in names]


def load(path: str | os.PathLike, device: str = "cpu"):
    """Load ``(model, tokenizer)`` from a checkpoint folder."""
    return load_model(path, device=device), load_tokenizer(path)


def save_checkpoint(model, tokenizer, path: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write model + tokenizer (+ ``training_info.json``) to ``path`` atomically.

    Everything is written to a temporary sibling folder first and then renamed into place, so a
    crash or a Stop never leaves a half-written checkpoint where the app will look for one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a class server's app may run as another user
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        if extra is not None:
            (tmp / "training_info.json").write_text(json.dumps(extra, indent=2, default=str))
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def size_dict(size: ModelSize) -> dict:
    """``ModelSize`` as a plain dict (for metrics and info files)."""
    return asdict(size)
