"""scripts/diagnose_copy.py: the copy readings tell a copying model from one that cannot copy."""

from types import SimpleNamespace

import pytest
import torch

from rlhf_core.world import knowledge


@pytest.fixture(scope="module")
def diagnose(load_script):
    return load_script("diagnose_copy")


class InductionModel:
    """A perfect copier: find the earlier position whose preceding tokens match the current ones
    the longest (a multi-token induction head), predict the token that came after it."""

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size

    def __call__(self, input_ids):
        n, length = input_ids.shape
        logits = torch.zeros(n, length, self.vocab_size)
        for row in range(n):
            ids = input_ids[row].tolist()
            for t in range(length):
                best, best_len = None, 0
                for s in range(t):
                    k = 0
                    while k <= s and ids[s - k] == ids[t - k]:
                        k += 1
                    if k > best_len or (k == best_len and k > 0):
                        best, best_len = s, k
                if best is not None:
                    logits[row, t, ids[best + 1]] = 1.0
        return SimpleNamespace(logits=logits)


class ConstantModel:
    """Always predicts the same token: a model with no copy at all."""

    def __init__(self, vocab_size: int, token: int):
        self.vocab_size, self.token = vocab_size, token

    def __call__(self, input_ids):
        logits = torch.zeros(*input_ids.shape, self.vocab_size)
        logits[..., self.token] = 1.0
        return SimpleNamespace(logits=logits)


class FixedOffsetModel:
    """Predicts the token that stood ``offset`` positions before the next one: copying by position."""

    def __init__(self, vocab_size: int, offset: int):
        self.vocab_size, self.offset = vocab_size, offset

    def __call__(self, input_ids):
        logits = torch.zeros(*input_ids.shape, self.vocab_size)
        for t in range(self.offset - 1, input_ids.shape[1]):
            logits[torch.arange(input_ids.shape[0]), t, input_ids[:, t + 1 - self.offset]] = 1.0
        return SimpleNamespace(logits=logits)


def test_random_span_copy_separates_copying_from_not(diagnose):
    assert diagnose.random_span_copy(InductionModel(500), 10, 500) > 0.95
    assert diagnose.random_span_copy(ConstantModel(500, 3), 10, 500) < 0.01
    # A model that learned "copy from 20 back" on fixed-length repeats is not an induction head:
    # it gets only the rows whose span happens to be 20 long.
    assert diagnose.random_span_copy(FixedOffsetModel(500, 20), 10, 500, span=20) < 0.3


def test_continues_with_needs_every_token_of_the_target(diagnose, tiny_tokenizer):
    vocab = len(tiny_tokenizer)
    frame = diagnose.STORY_FRAME.format(a="polish the dovalin")
    assert diagnose.continues_with(InductionModel(vocab), tiny_tokenizer, frame, "polish the dovalin")
    # The induction model copies what followed "how to" in the frame, not an unrelated activity.
    assert not diagnose.continues_with(InductionModel(vocab), tiny_tokenizer, frame, "crack an egg")
    first = tiny_tokenizer(" polish", add_special_tokens=False).input_ids[0]
    # Right first token, then stuck on it: not a copy of the whole activity.
    assert not diagnose.continues_with(ConstantModel(vocab, first), tiny_tokenizer, frame, "polish the dovalin")


def test_copy_rate_and_activity_sets(diagnose, tiny_tokenizer):
    sets = diagnose.activity_sets(n_nonce=5)
    everything = knowledge.HARMFUL_ACTIVITIES + knowledge.BENIGN_ACTIVITIES
    assert set(sets["held-out"]) == {a.request for a in everything if a.heldout}
    assert not set(sets["training"]) & set(sets["held-out"])
    assert len(sets["made-up"]) == 5
    vocab = len(tiny_tokenizer)
    items = sets["held-out"][:3]
    assert diagnose.copy_rate(InductionModel(vocab), tiny_tokenizer, diagnose.STORY_FRAME, items) == 1.0
    assert diagnose.copy_rate(ConstantModel(vocab, 5), tiny_tokenizer, diagnose.STORY_FRAME, items) == 0.0
