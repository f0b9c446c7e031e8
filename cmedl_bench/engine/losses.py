"""Losses shared by fusions."""

from __future__ import annotations

import torch


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice overlap loss (paper eq. 5, L_seg = 1 - DSC) over the whole batch, from logits."""
    prob = torch.sigmoid(logits.float())
    target = target.float()
    intersection = (prob * target).sum()
    return 1.0 - (2.0 * intersection + eps) / (prob.sum() + target.sum() + eps)
