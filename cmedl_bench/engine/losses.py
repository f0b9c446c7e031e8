"""Losses shared by fusions."""

from __future__ import annotations

import torch

from cmedl_bench.engine.distributed import global_sum


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice overlap loss (paper eq. 5, L_seg = 1 - DSC) over the whole batch, from logits; in data-parallel
    training the sums run over the global batch (all ranks)."""
    prob = torch.sigmoid(logits.float())
    target = target.float()
    sums = global_sum(torch.stack([(prob * target).sum(), prob.sum() + target.sum()]))
    return 1.0 - (2.0 * sums[0] + eps) / (sums[1] + eps)
