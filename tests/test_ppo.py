"""PPO: a tiny run against a reward that favours EOS raises the EOS rate; the guard catches blow-ups."""

from __future__ import annotations

import copy

import pytest
import torch

from rlhf_core.generate import SamplingConfig, generate
from rlhf_core.ppo import PPOConfig, PPOTrainer, per_token_kl, stratified_prompts
from rlhf_core.training import DivergenceError, run


def eos_scorer(tok):
    def score(_prompts, _texts, full_ids, _full_mask):
        return torch.tensor([2.0 if tok.eos_token_id in row else -1.0 for row in full_ids.tolist()])

    return score


def eos_trainer(config, sft, tok, prompts) -> PPOTrainer:
    """PPO from a copy of ``sft`` (also the reference), rewarded for ending with EOS."""
    return PPOTrainer(config, copy.deepcopy(sft), sft, None, tok, prompts, score_fn=eos_scorer(tok))


def eos_rate(model, tok, prompts) -> float:
    cfg = SamplingConfig(max_new_tokens=24, temperature=1.0)
    return float(generate(model, tok, prompts, cfg, torch.Generator().manual_seed(1)).finished.float().mean())


def test_stratified_prompts_cover_intents(world):
    import random

    batch = stratified_prompts(world.train_prompts(), 90, random.Random(0))
    intents = {p.intent for p in batch}
    assert intents == {p.intent for p in world.train_prompts()}


def test_stratified_prompts_focus_share(world):
    """A focus share puts that many prompts of the focus intents, evenly split, after the usual
    stratified draws (which stay what they were without a focus); no focus intent is an error."""
    import random
    from collections import Counter

    pool = world.train_prompts()
    plain = stratified_prompts(pool, 64, random.Random(3))
    focused = stratified_prompts(pool, 64, random.Random(3), ("harmful", "benign_howto"), 0.5)
    assert [p.text for p in focused[:32]] == [p.text for p in plain[:32]]
    assert Counter(p.intent for p in focused[32:]) == {"harmful": 16, "benign_howto": 16}
    harmful_share = sum(p.intent == "harmful" for p in focused) / 64
    assert harmful_share > 2 * sum(p.intent == "harmful" for p in plain) / 64
    assert stratified_prompts(pool, 64, random.Random(3), ("harmful",), 0.0) == plain
    with pytest.raises(ValueError, match="focus intent"):
        stratified_prompts(pool, 8, random.Random(0), ("poetry",), 0.5)


def test_ppo_raises_eos_rate_against_an_eos_reward(tiny_sft, world):
    sft, tok = tiny_sft
    policy = copy.deepcopy(sft)
    prompts = world.train_prompts()
    probe = [p.text for p in prompts[:64]]
    before = eos_rate(policy, tok, probe)
    config = PPOConfig(
        steps=12, batch_size=32, minibatch_size=16, max_new_tokens=24, lr=3e-4, kl_coef=0.01, missing_eos_penalty=0.0
    )
    trainer = PPOTrainer(config, policy, sft, None, tok, prompts, score_fn=eos_scorer(tok))
    start = [p.detach().clone() for p in policy.parameters()]
    history = run(trainer)
    keys = {
        "objective/rlhf_reward",
        "objective/score",
        "objective/kl",
        "objective/entropy",
        "policy/clipfrac",
        "policy/approxkl",
        "val/ratio",
        "loss/policy",
        "loss/value",
        "response/length",
    }
    assert keys <= set(history[-1])
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(start, policy.parameters(), strict=True))
    assert trainer.samples and {"prompt", "response", "score", "kl"} <= set(trainer.samples[0])
    after = eos_rate(policy, tok, probe)
    assert after > before + 0.1, (before, after)
    # The reference is frozen: its weights did not move.
    assert all(not p.requires_grad for p in sft.parameters())
    strip = per_token_kl(policy, sft, tok, probe[0], "A short answer.")
    assert strip and all(isinstance(t, str) and isinstance(k, float) for t, k in strip)


def test_ppo_focus_share_reaches_the_rollouts(tiny_sft, world):
    """With ``focus_share`` the trainer's rollouts hold that share of focus-intent prompts on top of
    their stratified share; a share outside [0, 1] or no prompt of a focus intent is an error at once."""
    sft, tok = tiny_sft
    config = PPOConfig(
        steps=1, batch_size=18, minibatch_size=9, max_new_tokens=4, focus_share=0.5, focus_intents=("harmful",)
    )
    trainer = eos_trainer(config, sft, tok, world.train_prompts())
    trainer.step()
    n_intents = len({p.intent for p in world.train_prompts()})
    # 9 focus slots, all harmful, and 9 stratified slots that cycle over every intent
    assert 9 + 9 // n_intents <= trainer.last_rollout["intents"].count("harmful") <= 9 + -(-9 // n_intents)
    with pytest.raises(ValueError, match="focus_share must be between 0 and 1"):
        eos_trainer(PPOConfig(focus_share=1.5), sft, tok, world.train_prompts())
    benign = [p for p in world.train_prompts() if p.intent != "harmful"]
    with pytest.raises(ValueError, match="no training prompt has a focus intent"):
        eos_trainer(config, sft, tok, benign)


def test_kl_budget_stops_the_run_where_the_kl_first_reaches_it(tiny_sft, world):
    """``kl_budget``: the run ends after the first step at which the mean KL of the last
    ``kl_budget_window`` steps reaches the budget, and says why; without a budget every step runs.
    (No KL penalty and a large learning rate, so that the policy drifts within a few steps.)"""
    sft, tok = tiny_sft
    base = dict(steps=12, batch_size=16, minibatch_size=8, max_new_tokens=16, lr=1e-3, kl_coef=0.0)

    def history(**extra):
        trainer = eos_trainer(PPOConfig(**base, **extra), sft, tok, world.train_prompts())
        return [h["objective/kl"] for h in run(trainer)], trainer

    kl, trainer = history()
    assert len(kl) == 12 and trainer.stopped_early is None
    kl, trainer = history(kl_budget=0.5, kl_budget_window=2)
    windows = [(kl[i - 2] + kl[i - 1]) / 2 for i in range(2, len(kl) + 1)]  # mean of the 2 steps up to i
    assert len(kl) < 12, kl  # it stopped early ...
    assert windows[-1] >= 0.5 and all(w < 0.5 for w in windows[:-1]), kl  # ... at the first window that reached it
    assert trainer.stopped_early and f"after step {len(kl)}" in trainer.stopped_early


def test_divergence_guard_keeps_last_good_weights(tiny_sft, world):
    sft, tok = tiny_sft
    policy = copy.deepcopy(sft)
    config = PPOConfig(steps=20, batch_size=8, minibatch_size=4, max_new_tokens=12, lr=10.0, kl_coef=0.0)
    trainer = PPOTrainer(config, policy, sft, None, tok, world.train_prompts(), score_fn=eos_scorer(tok))
    with pytest.raises(DivergenceError, match="diverged"):
        run(trainer)
    assert trainer.diverged and "learning rate" in trainer.diverged
    assert all(torch.isfinite(p).all() for p in policy.parameters())
    # The kept weights still generate.
    assert generate(policy, tok, ["Hi"], SamplingConfig(max_new_tokens=4)).texts
    with pytest.raises(DivergenceError):
        trainer.step()


def test_bucketed_forwards_equal_the_plain_ones(tiny_sft, world):
    """Length buckets only skip padding: log-probs, hidden states and reward-model scores must be
    those of one plain forward over the left-padded prompt + right-padded response."""
    from transformers import GPT2ForSequenceClassification

    from rlhf_core.losses import token_logprobs
    from rlhf_core.ppo import bucketed_response_logprobs, response_logits
    from rlhf_core.reward import last_token_scores

    sft, tok = tiny_sft
    prompts = [p for p in world.train_prompts()[:12]]
    gen = generate(
        sft, tok, [p.text for p in prompts], SamplingConfig(max_new_tokens=20), torch.Generator().manual_seed(0)
    )
    args = (gen.prompt_ids, gen.prompt_mask, gen.response_ids, gen.response_mask, 0.8)
    assert len(set(gen.response_lengths.tolist())) > 1  # the buckets really differ
    logits, states = response_logits(sft, *args, hidden=True)
    plain = token_logprobs(logits, gen.response_ids)
    bucketed, bucketed_states = bucketed_response_logprobs(sft, *args, hidden=True)
    on = gen.response_mask.bool()
    torch.testing.assert_close(bucketed[on], plain[on], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bucketed_states[on], states[on], atol=1e-5, rtol=1e-5)

    config = copy.deepcopy(sft.config)
    config.num_labels = 1
    torch.manual_seed(0)
    reward_model = GPT2ForSequenceClassification(config).eval()
    trainer = PPOTrainer(PPOConfig.tiny(), copy.deepcopy(sft), sft, reward_model, tok, prompts)
    full_ids = torch.cat([gen.prompt_ids, gen.response_ids], 1)
    full_mask = torch.cat([gen.prompt_mask, gen.response_mask], 1)
    with torch.no_grad():
        expected = last_token_scores(reward_model, full_ids, full_mask)
    torch.testing.assert_close(trainer._scores(prompts, gen), expected, atol=1e-5, rtol=1e-5)


def _nll(model, rows) -> float:
    from rlhf_core.losses import sft_loss

    ids, attention, labels = rows
    with torch.no_grad():
        return float(sft_loss(model(input_ids=ids, attention_mask=attention).logits, labels))


def test_ptx_data_sources(tiny_sft, world):
    from rlhf_core.ppo import ptx_data

    _, tok = tiny_sft
    ids, attention, labels = ptx_data(world, tok, "web", max_len=32)
    assert ids.shape[1] == 32 and bool(attention.all()) and torch.equal(ids, labels)
    ids, attention, labels = ptx_data(world, tok, "sft", n=40, max_len=64)
    assert len(ids) == 40 and ids.shape == labels.shape == attention.shape
    # prompt tokens are masked out of the labels, response tokens are kept
    assert bool((labels[:, :3] == -100).all()) and bool((labels != -100).any(1).all())
    with pytest.raises(ValueError, match="ptx_source"):
        ptx_data(world, tok, "books")


def test_ptx_skip_intents_leaves_those_demonstrations_out(tiny_sft, world):
    """The rows are exactly the SFT demonstrations of the other intents, in the same order, and
    ``rehearsal_rows`` passes the config's intents on; skipping every intent is refused."""
    from rlhf_core.ppo import ptx_data, rehearsal_rows
    from rlhf_core.sft import SFTConfig
    from rlhf_core.training import tokenize_conversations
    from rlhf_core.world import INTENTS

    _, tok = tiny_sft
    skip = ("harmful", "benign_howto")
    demos = world.sft_demonstrations(n=60, refusal_share=SFTConfig().refusal_share)
    kept = [(p, r) for p, r in demos if p.intent not in skip]
    assert 0 < len(kept) < len(demos)
    expected = tokenize_conversations(tok, [p.text for p, _ in kept], [r for _, r in kept], max_len=64)
    rows = ptx_data(world, tok, "sft", n=60, max_len=64, skip_intents=skip)
    assert all(torch.equal(a, b) for a, b in zip(rows, expected, strict=True))
    config = PPOConfig(ptx_coef=0.5, ptx_source="sft", ptx_skip_intents=skip)
    assert len(rehearsal_rows(config, world, tok)[0]) < len(ptx_data(world, tok, "sft")[0])
    with pytest.raises(ValueError, match="leaves no demonstration"):
        ptx_data(world, tok, "sft", n=60, skip_intents=INTENTS)


def test_freeze_blocks_and_embeddings_in_ppo(tiny_sft, world):
    """PPOConfig.freeze_blocks / freeze_embeddings: after PPO updates the frozen block and the
    (tied) embeddings are SFT's, bit for bit, while the rest of the policy moved."""
    from rlhf_core.training import transformer_blocks

    sft, tok = tiny_sft
    torch.manual_seed(0)
    policy = copy.deepcopy(sft)
    config = PPOConfig(
        steps=3, batch_size=8, minibatch_size=4, max_new_tokens=8, lr=2e-3, freeze_blocks=1, freeze_embeddings=True
    )
    run(PPOTrainer(config, policy, sft, None, tok, world.train_prompts(), score_fn=eos_scorer(tok)))
    frozen = {n for n, p in policy.named_parameters() if not p.requires_grad}
    assert frozen
    for (name, after), before in zip(policy.named_parameters(), sft.parameters(), strict=True):
        assert torch.equal(after, before) == (name in frozen), name
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            transformer_blocks(policy)[0].parameters(), transformer_blocks(sft)[0].parameters(), strict=True
        )
    )


def test_ptx_rehearses_its_text_and_is_off_by_default(tiny_sft, world):
    """PPO-ptx (InstructGPT): against a reward for never stopping, which pulls the policy away from
    the SFT demonstrations, rehearsing them keeps their loss lower than PPO alone. With ptx_coef 0
    the data is ignored: the weights are exactly those of a run without it."""
    from rlhf_core.ppo import ptx_data

    sft, tok = tiny_sft
    rows = ptx_data(world, tok, "sft", n=300, max_len=64)
    eos = eos_scorer(tok)

    def no_stop(*args):
        return -eos(*args)

    def train(coef, data):
        torch.manual_seed(0)
        policy = copy.deepcopy(sft)
        config = PPOConfig(
            steps=10, batch_size=16, minibatch_size=8, max_new_tokens=16, lr=2e-3, kl_coef=0.0,
            missing_eos_penalty=0.0, ptx_coef=coef, ptx_rows=8, ptx_source="sft",
        )  # fmt: skip
        trainer = PPOTrainer(config, policy, sft, None, tok, world.train_prompts(), score_fn=no_stop, ptx_data=data)
        return policy, run(trainer)

    plain, history = train(0.0, None)
    ignored, _ = train(0.0, rows)
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), ignored.parameters(), strict=True))
    assert "loss/ptx" not in history[-1]
    rehearsed, history = train(1.0, rows)
    assert "loss/ptx" in history[-1] and all(h["loss/ptx"] > 0 for h in history)
    start, without, with_ptx = _nll(sft, rows), _nll(plain, rows), _nll(rehearsed, rows)
    assert without > start + 0.05, (start, without)  # the reward really pulls away from the demonstrations
    assert with_ptx < without - 0.5 * (without - start), (start, without, with_ptx)
    with pytest.raises(ValueError, match="ptx_data"):
        PPOTrainer(PPOConfig(ptx_coef=0.5), copy.deepcopy(sft), sft, None, tok, world.train_prompts(), score_fn=eos)


def test_an_ensemble_rewards_ppo_with_the_mean_of_its_normalised_scores(tiny_sft, world):
    """``reward_model`` as a list: each member's score is normalised with its own statistics, then
    averaged (RewardConfig.ensemble). Two members with different heads and statistics, so neither
    the first member alone nor an unnormalised mean would pass."""
    from transformers import GPT2ForSequenceClassification

    from rlhf_core.reward import last_token_scores

    sft, tok = tiny_sft
    prompts = world.train_prompts()[:10]
    gen = generate(
        sft, tok, [p.text for p in prompts], SamplingConfig(max_new_tokens=16), torch.Generator().manual_seed(1)
    )
    config = copy.deepcopy(sft.config)
    config.num_labels = 1
    members = []
    for seed, (mean, std) in enumerate([(0.5, 2.0), (-3.0, 0.25)]):
        torch.manual_seed(seed)
        member = GPT2ForSequenceClassification(config).eval()
        member.config.reward_mean, member.config.reward_std = mean, std
        members.append(member)
    full_ids = torch.cat([gen.prompt_ids, gen.response_ids], 1)
    full_mask = torch.cat([gen.prompt_mask, gen.response_mask], 1)
    with torch.no_grad():
        each = [
            (last_token_scores(m, full_ids, full_mask) - m.config.reward_mean) / m.config.reward_std for m in members
        ]
    assert not torch.allclose(each[0], each[1], atol=1e-3)
    trainer = PPOTrainer(PPOConfig.tiny(), copy.deepcopy(sft), sft, members, tok, prompts)
    assert all(not p.requires_grad for m in members for p in m.parameters())  # every member is frozen
    torch.testing.assert_close(trainer._scores(prompts, gen), (each[0] + each[1]) / 2, atol=1e-5, rtol=1e-5)
    single = PPOTrainer(PPOConfig.tiny(), copy.deepcopy(sft), sft, members[1], tok, prompts)
    torch.testing.assert_close(single._scores(prompts, gen), each[1], atol=1e-5, rtol=1e-5)
