"""Pre-training: deterministic for a seed, loss goes down, base model never saw the chat format;
the copy drill runs first, stops when it should, and teaches copying."""

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


def test_copy_drill_runs_first_and_stops_at_its_target(world):
    cfg = PretrainConfig.tiny()
    cfg.steps, cfg.copy_drill_steps, cfg.copy_drill_target = 3, 200, 0.0  # any copy meets target 0
    trainer = PretrainTrainer(cfg, world=world)
    drill = [trainer.step() for _ in range(50)]
    assert all("drill/loss" in m and "loss/train" not in m for m in drill)
    assert "drill/copy" in drill[-1] and not trainer.drilling  # checked at step 50, target met
    assert trainer.step_count == 0 and not trainer.done()
    corpus = [trainer.step() for _ in range(3)]
    assert all("loss/train" in m for m in corpus) and trainer.done()
    assert trainer.drill_steps == 50


def test_copy_drill_stops_at_its_step_cap(world):
    cfg = PretrainConfig.tiny()
    cfg.copy_drill_steps, cfg.copy_drill_target = 7, 1.01  # a target no model reaches
    trainer = PretrainTrainer(cfg, world=world)
    metrics = [trainer.step() for _ in range(7)]
    assert "drill/copy" in metrics[-1] and not trainer.drilling and trainer.drill_steps == 7


def test_copy_share_mixes_drill_windows_into_corpus_batches(world):
    cfg = PretrainConfig.tiny()
    cfg.copy_share = 0.25  # 2 of the tiny preset's 8 windows
    trainer = PretrainTrainer(cfg, world=world)
    assert not trainer.drilling and trainer.drill_copy is None  # no drill unless asked for
    batch = trainer._next_batch()
    corpus = {tuple(w) for w in trainer.train_windows.tolist()}
    kinds = [tuple(row) in corpus for row in batch.tolist()]
    assert kinds == [False, False] + [True] * 6
    for row in batch[:2].tolist():
        assert any(row[:n] == row[n : 2 * n] for n in range(3, 24))
    assert batch[:2].min() > max(trainer.tokenizer.all_special_ids)  # drill windows use no special token


def test_copy_drill_teaches_a_rotary_model_to_copy(tiny_copier):
    """The behaviour the drill exists for: a model that could not copy random tokens can after it."""
    assert tiny_copier["copy_before"] < 0.05
    assert tiny_copier["copy_after_drill"] > 0.5, (tiny_copier["drill_steps"], tiny_copier["copy_after_drill"])
