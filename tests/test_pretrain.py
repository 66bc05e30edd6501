"""Pre-training: deterministic for a seed, loss goes down, base model never saw the chat format."""

from __future__ import annotations

import torch

from rlhf_core.pretrain import PretrainConfig, PretrainTrainer, pack_documents


def test_pack_documents_separates_with_bos():
    windows = pack_documents([[5, 6], [7, 8, 9]], bos_id=1, seq_len=3)
    assert windows.tolist() == [[1, 5, 6], [1, 7, 8]]


def test_pretraining_is_deterministic_and_learns(world):
    def train(steps: int):
        cfg = PretrainConfig.tiny()
        cfg.steps = steps
        trainer = PretrainTrainer(cfg, world=world)
        before = trainer.validation_loss()["loss/val"]
        losses = [trainer.step()["loss/train"] for _ in range(steps)]
        return trainer, before, losses

    a, before, losses_a = train(12)
    b, _, losses_b = train(12)
    assert losses_a == losses_b  # same seed, same run
    assert a.corpus_stats["sha256"] == b.corpus_stats["sha256"]
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    after = a.validation_loss()
    assert after["loss/val"] < before
    assert after["val/perplexity"] > 1


def test_base_never_sees_eos(world):
    trainer = PretrainTrainer(PretrainConfig.tiny(), world=world)
    tok = trainer.tokenizer
    assert not (trainer.train_windows == tok.eos_token_id).any()
    assert not (trainer.train_windows == tok.convert_tokens_to_ids("<|user|>")).any()
