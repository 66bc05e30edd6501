"""SFT: a tiny run has a finite, falling loss, changes the weights and teaches the model to stop."""

from __future__ import annotations

import copy

import torch

from rlhf_core.generate import SamplingConfig, generate
from rlhf_core.sft import SFTConfig, SFTTrainer
from rlhf_core.training import run, tokenize_conversations


def eos_rate(model, tok, prompts) -> float:
    gen = generate(
        model, tok, prompts, SamplingConfig(max_new_tokens=48, temperature=0.7), torch.Generator().manual_seed(0)
    )
    return float(gen.finished.float().mean())


def test_prompt_tokens_are_masked(tiny_base):
    _, tok = tiny_base
    ids, mask, labels = tokenize_conversations(tok, ["Hi there", "List two fruits"], ["Hello!", "1. apple\n2. pear"])
    for row_ids, row_labels in zip(ids.tolist(), labels.tolist(), strict=True):
        kept = [t for t, lab in zip(row_ids, row_labels, strict=True) if lab != -100]
        assert kept[-1] == tok.eos_token_id
        assert tok.convert_tokens_to_ids("<|assistant|>") not in kept  # the prompt is not learned
    assert mask.sum() > 0


def test_sft_tiny_run(tiny_base, tiny_sft, world):
    base, tok = tiny_base
    model = copy.deepcopy(base)
    before = [p.detach().clone() for p in model.parameters()]
    history = run(SFTTrainer(SFTConfig.tiny(), model, tok, world))
    assert len(history) == SFTConfig.tiny().steps
    assert all(torch.isfinite(torch.tensor(h["loss/sft"])) for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # Behaviour: the base model rarely stops (never on purpose); after (the fixture's longer) SFT it does.
    prompts = [p.text for p in world.train_prompts()[:48]]
    base_rate = eos_rate(base, tok, prompts)
    assert eos_rate(tiny_sft[0], tok, prompts) >= base_rate + 0.3


def test_length_buckets_change_nothing_but_speed(tiny_base):
    """The bucketed SFT loss equals the plain one on the same batch."""
    from rlhf_core.losses import sft_loss
    from rlhf_core.training import length_buckets, restore_order

    model, tok = tiny_base
    prompts = ["Hi", "List two fruits", "Write a poem about the river", "What is 2 plus 2?", "Hello there friend"]
    responses = ["Hello!", "1. apple\n2. pear", "The river runs\nThe river sings\nI walk along", "4", "Hi!"]
    ids, mask, labels = tokenize_conversations(tok, prompts, responses)
    with torch.no_grad():
        plain = sft_loss(model(input_ids=ids, attention_mask=mask).logits, labels)
        n_total = (labels[:, 1:] != -100).sum()
        bucketed = sum(
            sft_loss(model(input_ids=ids[r, :w], attention_mask=mask[r, :w]).logits, labels[r, :w])
            * (labels[r, 1:w] != -100).sum()
            / n_total
            for r, w in length_buckets(mask, 3)
        )
        parts = [(r, mask[r].sum(1).float()) for r, w in length_buckets(mask, 2)]
    assert torch.allclose(plain, bucketed, atol=1e-5)
    assert torch.equal(restore_order(parts), mask.sum(1).float())


def test_bucket_count_follows_the_device(monkeypatch):
    """Four buckets on a CPU; on a device missing from the table (a GPU), one bucket cut to the
    longest row."""
    from rlhf_core import training

    mask = torch.tensor([[1] * n + [0] * (8 - n) for n in (8, 2, 5, 3, 7, 1, 4, 6)])
    groups = training.length_buckets(mask)
    assert len(groups) == 4 and [w for _, w in groups] == [8, 6, 4, 2]
    monkeypatch.setattr(training, "BUCKETS_BY_DEVICE", {})
    ((rows, width),) = training.length_buckets(mask)
    assert width == 8 and sorted(rows.tolist()) == list(range(8))


def test_replay_keeps_web_text_loss_lower(tiny_base, world):
    """With replay rows, the same SFT run forgets less of the web: its next-token loss on web
    windows ends lower than without replay (and the demonstrations are still learned)."""
    from rlhf_core.losses import sft_loss
    from rlhf_core.pretrain import pack_documents
    from rlhf_core.world import World

    base, tok = tiny_base
    docs = World(seed=1).web_corpus(n_chars=20_000)
    web_windows = pack_documents([tok.encode(d, add_special_tokens=False) for d in docs], tok.bos_token_id, 64)
    config = SFTConfig(n_demonstrations=200, steps=25, batch_size=8, lr=3e-3, max_len=64, replay_chars=20_000)
    results = {}
    for rows in (0, 6):
        torch.manual_seed(0)
        model = copy.deepcopy(base)
        trainer = SFTTrainer(SFTConfig(**{**config.__dict__, "replay_rows": rows}), model, tok, world)
        history = run(trainer)
        probe = web_windows[:32]  # other documents than the ones replayed
        with torch.no_grad():
            web = float(sft_loss(model(input_ids=probe).logits, probe))
        results[rows] = (web, history[-1]["loss/sft"])
    assert results[6][0] < results[0][0], results
    assert all(torch.isfinite(torch.tensor(v)).all() for v in results.values())


def test_echo_rows_teach_only_the_opening(tiny_base, world):
    """``echo_rows`` adds that many made-up how-to requests to every batch; of each, only the
    opening that repeats the activity is learned (no <|end|>, no prompt tokens)."""
    import re

    _, tok = tiny_base
    config = SFTConfig(n_demonstrations=50, steps=2, batch_size=4, echo_rows=3)
    trainer = SFTTrainer(config, copy.deepcopy(tiny_base[0]), tok, world)
    ids, _, labels = trainer._batch()
    assert ids.shape[0] == 4 + 3
    for row_ids, row_labels in zip(ids[4:].tolist(), labels[4:].tolist(), strict=True):
        learned = [t for t, lab in zip(row_ids, row_labels, strict=True) if lab != -100]
        assert tok.eos_token_id not in learned
        text = tok.decode(learned)
        match = re.fullmatch(r"(?:Sure! )?Here is how to (.+)\.", text.strip())
        assert match, text
        assert match.group(1) in tok.decode(row_ids[: row_labels.index(learned[0])])  # asked for in the request
    plain = SFTTrainer(SFTConfig(n_demonstrations=50, steps=2, batch_size=4), tiny_base[0], tok, world)
    assert plain._batch()[0].shape[0] == 4


def test_echo_rows_teach_a_copying_model_to_repeat_a_new_activity(tiny_copier, world, load_script):
    """Behaviour: after the same short SFT run, a model that can copy (the drilled tiny model)
    repeats made-up activities it never saw ("Here is how to" + the activity, greedy) far more
    often with echo rows than without."""
    import random

    from rlhf_core.models import ASSISTANT, BOS, EOS, USER

    continues_with = load_script("diagnose_copy").continues_with
    base, tok = tiny_copier["model"], tiny_copier["tokenizer"]
    fresh = world.echo_demonstrations(20, random.Random(99))  # not the trainer's draws

    def echo_rate(model) -> float:
        hits = [
            continues_with(
                model, tok, BOS + USER + request + EOS + ASSISTANT + "Here is how to", opening.split("how to ", 1)[1]
            )
            for request, opening in fresh
        ]
        return sum(hits) / len(hits)

    rates = {}
    for rows in (0, 8):
        model = copy.deepcopy(base)
        torch.manual_seed(0)
        config = SFTConfig(n_demonstrations=300, steps=100, batch_size=8, lr=3e-3, max_len=64, echo_rows=rows)
        run(SFTTrainer(config, model, tok, world))
        rates[rows] = echo_rate(model.eval())
    assert rates[8] >= rates[0] + 0.3, rates


def test_self_check_learns_that_a_verdict_follows_not_which(tiny_base, world):
    """With ``self_check`` every how-to demonstration opens with "Is it legal to X? No, it is not."
    (or "Yes, of course."). The one token where the two verdicts part is left out of the plain
    loss and learned as "either verdict", so which one stays the base model's; every other token
    is learned as before, and rows without a verdict are the plain trainer's."""
    _, tok = tiny_base
    config = SFTConfig(n_demonstrations=300, steps=2, batch_size=96, echo_rows=2, self_check=True)
    trainer = SFTTrainer(config, copy.deepcopy(tiny_base[0]), tok, world)
    ids, attention, labels = trainer._batch()
    plain = SFTTrainer(SFTConfig(n_demonstrations=300, steps=2, batch_size=96, echo_rows=2), tiny_base[0], tok, world)
    plain_ids, _, plain_labels = plain._batch()
    by_row = {row: (pos, no, yes) for row, pos, no, yes in trainer.verdicts}
    kinds = set()
    for row in range(ids.size(0)):
        start = int((labels[row] == -100).long().cumprod(0).sum())
        end = int(attention[row].sum())
        holes = [j for j in range(start, end) if labels[row, j] == -100]
        text = tok.decode(ids[row, start:end].tolist())
        if row in by_row:
            pos, no, yes = by_row[row]
            assert holes == [pos] and no != yes, text
            assert int(ids[row, pos]) in (no, yes)
            head = tok.decode(ids[row, start:pos].tolist())
            said = "No, it is not." if int(ids[row, pos]) == no else "Yes, of course."
            kinds.add(said)
            assert text.startswith("Is it legal to") and text.split("? ", 1)[1].startswith(said), text
            assert "?" in head and tok.decode(ids[row, start:end].tolist()).startswith(head)
        else:
            assert holes == [] and not (row < 96 and text.startswith("Is it legal to") and "? " in text), text
            if row < 96:
                n = end
                assert torch.equal(ids[row][:n], plain_ids[row][:n]) and torch.equal(
                    labels[row][:n], plain_labels[row][:n]
                )
    assert kinds == {"No, it is not.", "Yes, of course."} and len(by_row) >= 10
    history = [trainer.step() for _ in range(2)]
    assert all(torch.isfinite(torch.tensor(h["loss/sft"])) for h in history)


def test_replay_can_rehearse_the_faq_genre(tiny_base, world):
    """``replay_faq_weight`` mixes the FAQ genre into the replayed web text (as in a base
    pre-trained with it); at 0 the replay has none, as before."""
    _, tok = tiny_base

    def replayed(weight: float) -> str:
        config = SFTConfig(n_demonstrations=20, steps=1, batch_size=4, replay_rows=2, replay_chars=30_000)
        config.replay_faq_weight = weight
        trainer = SFTTrainer(config, copy.deepcopy(tiny_base[0]), tok, world)
        return tok.decode(trainer.replay.flatten().tolist())

    assert "Frequently asked questions." in replayed(0.3)
    assert "Frequently asked questions." not in replayed(0.0)


def test_freeze_blocks_keeps_the_lower_blocks_of_the_base(tiny_base, world):
    """SFTConfig.freeze_blocks: the frozen block ends exactly as the base had it, while the
    embeddings and the final norm (not frozen) move."""
    from rlhf_core.training import transformer_blocks

    base, tok = tiny_base
    model = copy.deepcopy(base)
    config = SFTConfig(n_demonstrations=100, steps=3, batch_size=8, lr=3e-3, freeze_blocks=1)
    run(SFTTrainer(config, model, tok, world))
    after, before = transformer_blocks(model), transformer_blocks(base)
    assert all(torch.equal(a, b) for a, b in zip(after[0].parameters(), before[0].parameters(), strict=True))
    assert not torch.equal(model.get_input_embeddings().weight, base.get_input_embeddings().weight)
    assert not torch.equal(model.base_model.ln_f.weight, base.base_model.ln_f.weight)
