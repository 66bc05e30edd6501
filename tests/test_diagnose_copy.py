"""scripts/diagnose_copy.py: the copy readings tell a copying model from one that cannot copy."""

from types import SimpleNamespace

import pytest
import torch

from rlhf_core.world import knowledge


@pytest.fixture(scope="module")
def diagnose(load_script):
    return load_script("diagnose_copy")


class FakeModel:
    """A stand-in for a causal LM: one-hot logits from a rule ``next_token(ids, t)``, the token it
    predicts after position ``t`` of the row ``ids`` (None: no guess)."""

    def __init__(self, vocab_size: int, next_token):
        self.vocab_size, self.next_token = vocab_size, next_token

    def __call__(self, input_ids):
        n, length = input_ids.shape
        logits = torch.zeros(n, length, self.vocab_size)
        for row in range(n):
            ids = input_ids[row].tolist()
            for t in range(length):
                token = self.next_token(ids, t)
                if token is not None:
                    logits[row, t, token] = 1.0
        return SimpleNamespace(logits=logits)


def induction_model(vocab_size: int) -> FakeModel:
    """A perfect copier: find the earlier position whose preceding tokens match the current ones
    the longest (a multi-token induction head), predict the token that came after it."""

    def next_token(ids, t):
        best, best_len = None, 0
        for s in range(t):
            k = 0
            while k <= s and ids[s - k] == ids[t - k]:
                k += 1
            if k > best_len or (k == best_len and k > 0):
                best, best_len = s, k
        return None if best is None else ids[best + 1]

    return FakeModel(vocab_size, next_token)


def constant_model(vocab_size: int, token: int) -> FakeModel:
    """Always predicts the same token: a model with no copy at all."""
    return FakeModel(vocab_size, lambda ids, t: token)


def fixed_offset_model(vocab_size: int, offset: int) -> FakeModel:
    """Predicts the token that stood ``offset`` positions before the next one: copying by position."""
    return FakeModel(vocab_size, lambda ids, t: ids[t + 1 - offset] if t + 1 >= offset else None)


def anchored_model(vocab_size: int, tokenizer, start: int, opening_text: str) -> FakeModel:
    """Copies the request from token ``start`` on, wherever the activity really is: once the
    answer has opened with ``opening_text`` (the self-check's question), its k-th next token is
    the request's (start + k)-th."""
    from rlhf_core.models import ASSISTANT

    assistant = tokenizer.convert_tokens_to_ids(ASSISTANT)
    opening = len(tokenizer(opening_text, add_special_tokens=False).input_ids)

    def next_token(ids, t):
        if assistant not in ids[: t + 1]:
            return None
        written = t + 1 - (ids.index(assistant) + 1 + opening)  # answer tokens after the opening
        return ids[start + written] if written >= 0 else None

    return FakeModel(vocab_size, next_token)


def test_random_span_copy_separates_copying_from_not(diagnose):
    assert diagnose.random_span_copy(induction_model(500), 10, 500) > 0.95
    assert diagnose.random_span_copy(constant_model(500, 3), 10, 500) < 0.01
    # A model that learned "copy from 20 back" on fixed-length repeats is not an induction head:
    # it gets only the rows whose span happens to be 20 long.
    assert diagnose.random_span_copy(fixed_offset_model(500, 20), 10, 500, span=20) < 0.3


def test_continues_with_needs_every_token_of_the_target(diagnose, tiny_tokenizer):
    vocab = len(tiny_tokenizer)
    frame = diagnose.STORY_FRAME.format(a="polish the dovalin")
    assert diagnose.continues_with(induction_model(vocab), tiny_tokenizer, frame, "polish the dovalin")
    # The induction model copies what followed "how to" in the frame, not an unrelated activity.
    assert not diagnose.continues_with(induction_model(vocab), tiny_tokenizer, frame, "crack an egg")
    first = tiny_tokenizer(" polish", add_special_tokens=False).input_ids[0]
    # Right first token, then stuck on it: not a copy of the whole activity.
    assert not diagnose.continues_with(constant_model(vocab, first), tiny_tokenizer, frame, "polish the dovalin")


def test_copy_rate_and_activity_sets(diagnose, tiny_tokenizer):
    sets = diagnose.activity_sets(n_nonce=5)
    everything = knowledge.HARMFUL_ACTIVITIES + knowledge.BENIGN_ACTIVITIES
    assert set(sets["held-out"]) == {a.request for a in everything if a.heldout}
    assert not set(sets["training"]) & set(sets["held-out"])
    assert len(sets["made-up"]) == 5
    known = {a.request for a in everything}
    for activity in sets["made-up, training verb"]:
        assert activity not in known and activity.split()[0] in {a.request.split()[0] for a in everything}
    assert len(set(sets["made-up, training verb"])) == 5
    assert sets["made-up"] == diagnose.activity_sets(n_nonce=5)["made-up"]  # seeded
    vocab = len(tiny_tokenizer)
    items = sets["held-out"][:3]
    assert diagnose.copy_rate(induction_model(vocab), tiny_tokenizer, diagnose.STORY_FRAME, items) == 1.0
    assert diagnose.copy_rate(constant_model(vocab, 5), tiny_tokenizer, diagnose.STORY_FRAME, items) == 0.0


def test_self_check_frames_cover_every_howto_wording(diagnose):
    from rlhf_core.world import phrasings

    frames = diagnose.self_check_frames()
    assert len(frames) == len(phrasings.BENIGN_HOWTO)
    names = list(frames)
    # Training wordings first, then the held-out ones; every answer opens with the question.
    assert [n.startswith("held-out") for n in names] == sorted(n.startswith("held-out") for n in names)
    assert sum(n.startswith("held-out") for n in names) == sum(p.heldout for p in phrasings.BENIGN_HOWTO)
    assert all(f.endswith("Is it legal to") and f.count("{a}") == 1 for f in frames.values())
    assert "Give me instructions to {a}." in frames["held-out: Give me instructions to ...."]


def test_wording_copy_rates_tell_a_copier_by_position_from_one_by_content(diagnose, tiny_tokenizer):
    vocab = len(tiny_tokenizer)
    items = diagnose.activity_sets()["held-out"][:3]
    # An induction head continues "... to" with what followed "to" in the request: every wording
    # that puts the activity after "to" ("How do I ...?" gives it nothing to match).
    rates = diagnose.wording_copy_rates(induction_model(vocab), tiny_tokenizer, items)
    after_to = [name for name in rates if " to ..." in name]
    assert len(after_to) >= 8 and all(rates[name] == 1.0 for name in after_to)
    assert set(diagnose.wording_copy_rates(constant_model(vocab, 5), tiny_tokenizer, items).values()) == {0.0}
    # A model that copies from a fixed place in the request, where a short training wording puts
    # the activity, copies under that wording and not under a held-out one with a longer lead:
    # a failure of the kind session 19's self-check model showed.
    frames = diagnose.self_check_frames()
    short, long_ = "training: Tell me how to ....", "held-out: Explain step by step how to ...."
    lead = len(tiny_tokenizer(frames[short].split("{a}")[0].rstrip(), add_special_tokens=False).input_ids)
    rates = diagnose.wording_copy_rates(
        anchored_model(vocab, tiny_tokenizer, lead, diagnose.SELF_CHECK_OPENING), tiny_tokenizer, items
    )
    assert rates[short] == 1.0
    assert rates[long_] == 0.0


def test_lead_copy_rates_fall_after_longer_leads_for_a_copier_by_position(diagnose, tiny_tokenizer):
    """``--leads``: every probe lead ends in "to" + the activity, so a real induction head copies
    after all of them; a model that copies from where the shortest lead puts the activity copies
    after the leads of that length only. The token counts are the request's tokens before it."""
    vocab = len(tiny_tokenizer)
    items = diagnose.activity_sets()["held-out"][:3]
    frames = diagnose.lead_frames(tiny_tokenizer)
    assert len(frames) == len(diagnose.LEAD_PROBES) and all(f.endswith("Is it legal to") for _, f in frames.values())
    counts = [before for before, _ in frames.values()]
    assert min(counts) < max(counts)
    assert set(diagnose.lead_copy_rates(induction_model(vocab), tiny_tokenizer, items).values()) == {1.0}
    first = next(iter(frames.values()))[1]
    start = len(tiny_tokenizer(first.split("{a}")[0].rstrip(), add_special_tokens=False).input_ids)
    anchored = anchored_model(vocab, tiny_tokenizer, start, diagnose.SELF_CHECK_OPENING)
    rates = diagnose.lead_copy_rates(anchored, tiny_tokenizer, items)
    assert rates[next(iter(rates))] == 1.0 and 0.0 in rates.values()
    for (name, rate), before in zip(rates.items(), counts, strict=True):
        assert rate == (1.0 if before == counts[0] else 0.0), (name, before, rate)
