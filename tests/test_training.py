"""rlhf_core/training.py: freezing the lower layers of a fine-tune."""

import copy

import pytest
import torch

from rlhf_core.training import freeze_lower, transformer_blocks


def test_freeze_lower_on_both_architectures(stopping_model):
    """The lower blocks (and, on request, the embeddings) stop receiving gradients; everything else
    still trains; the count it returns is what is left to train; bad counts are refused. Runs on the
    GPT-2 and the Llama model ``build_model`` makes (the fixture's two params)."""
    model = copy.deepcopy(stopping_model).train().requires_grad_(True)
    blocks = transformer_blocks(model)
    assert len(blocks) == 1
    total = sum(p.numel() for p in model.parameters())
    left = freeze_lower(model, blocks=1, embeddings=True)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert left == sum(p.numel() for p in model.parameters() if p.requires_grad) and 0 < left < total
    assert all(not p.requires_grad for p in blocks[0].parameters())
    assert not model.get_input_embeddings().weight.requires_grad
    assert any("wpe" in n for n in frozen) == hasattr(model.base_model, "wpe")  # GPT-2's positions too
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(3, 100, (2, 8))
    model(input_ids=ids, labels=ids).loss.backward()
    opt.step()
    for name, p in model.named_parameters():
        assert torch.equal(before[name], p) == (name in frozen), name
    with pytest.raises(ValueError, match="between 0 and 1"):
        freeze_lower(copy.deepcopy(stopping_model), blocks=2)
    unchanged = copy.deepcopy(stopping_model).requires_grad_(True)
    assert freeze_lower(unchanged) == total  # the defaults freeze nothing
