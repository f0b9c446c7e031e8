"""Contextual loss (paper eq. 3-4; Mechrez et al. 2018, reference roimehrez/contextualLoss ``CX/CSFlow.py``).

For generated features g_i and target features m_j (one image, positions flattened):
both sets are centred by the target's mean feature and L2-normalised along channels; d_ij = (1 - cos(g_i, m_j)) / 2;
d~_ij = d_ij / (min_k d_ik + 1e-5); w_ij = exp((1 - d~_ij) / h) with h = 0.5; CX_ij = w_ij / sum_k w_ik;
CX = mean_j max_i CX_ij; L_CX = -log CX. Over several VGG19 layers the per-layer losses are averaged (so L_CX keeps
eq. 4's scale with lambda_CX = 1), and over the batch too.

:func:`contextual_loss_naive` holds the full (N x N) affinity matrix. :func:`contextual_loss` computes the same value
in row blocks with a running max, and its backward pass recomputes the blocks and back-propagates only the entries
that won a max, so memory grows linearly with the number of feature positions N (a block holds at most
``BLOCK_ELEMENTS`` affinities). The winners are selected by a mask, not gathered: gathering them would need their
number on the host, a device synchronisation inside the training step.

The affinities are computed in fp32 even under bf16 autocast: d_ij is divided by the row minimum, and bf16's 8-bit
mantissa cannot resolve the small distances that decide which position wins.
"""

from __future__ import annotations

import torch

BANDWIDTH = 0.5
EPSILON = 1e-5
BLOCK_ELEMENTS = 1 << 22  # affinities per block: 16 MiB in fp32


def _full_precision(like: torch.Tensor):
    """Autocast off on the tensor's device (the backward pass may run inside the caller's autocast region)."""
    return torch.autocast(like.device.type, enabled=False)


def _normalise(generated: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, H, W) pair -> (B, N, C) pair, centred on the target's mean and unit-norm along channels."""
    mean = target.mean(dim=(2, 3), keepdim=True)
    g = torch.nn.functional.normalize((generated - mean).flatten(2).transpose(1, 2), dim=2)
    t = torch.nn.functional.normalize((target - mean).flatten(2).transpose(1, 2), dim=2)
    return g, t


def _cx_rows(g: torch.Tensor, t: torch.Tensor, h: float) -> torch.Tensor:
    """CX_ij for a block of generated rows g (b, C) against all target features t (N, C)."""
    d = (1.0 - g @ t.T) / 2.0
    d_tilde = d / (d.min(dim=1, keepdim=True).values + EPSILON)
    w = torch.exp((1.0 - d_tilde) / h)
    return w / w.sum(dim=1, keepdim=True)


def contextual_similarity_naive(generated: torch.Tensor, target: torch.Tensor, h: float = BANDWIDTH) -> torch.Tensor:
    """CX per image, (B,), from the full affinity matrix."""
    g, t = _normalise(generated, target)
    return torch.stack([_cx_rows(gi, ti, h).max(dim=0).values.mean() for gi, ti in zip(g, t)])


class _BlockedMaxCX(torch.autograd.Function):
    """max_i CX_ij for every target j, one image, in row blocks; backward through the winning rows only."""

    @staticmethod
    def forward(ctx, g: torch.Tensor, t: torch.Tensor, h: float) -> torch.Tensor:
        n_gen, n_tgt = g.shape[0], t.shape[0]
        block = max(1, BLOCK_ELEMENTS // max(n_tgt, 1))
        best = torch.full((n_tgt,), -1.0, dtype=g.dtype, device=g.device)
        winner = torch.zeros(n_tgt, dtype=torch.long, device=g.device)
        for start in range(0, n_gen, block):
            values, rows = _cx_rows(g[start:start + block], t, h).max(dim=0)
            better = values > best
            best = torch.where(better, values, best)
            winner = torch.where(better, rows + start, winner)
        ctx.save_for_backward(g, t, winner)
        ctx.h, ctx.block = h, block
        return best

    @staticmethod
    def backward(ctx, grad_best: torch.Tensor):
        g, t, winner = ctx.saved_tensors
        grad_g, grad_t = torch.empty_like(g), torch.zeros_like(t)
        for start in range(0, g.shape[0], ctx.block):
            with torch.enable_grad(), _full_precision(g):
                g_rows = g[start:start + ctx.block].detach().requires_grad_(True)
                t_all = t.detach().requires_grad_(True)
                cx = _cx_rows(g_rows, t_all, ctx.h)
                rows = torch.arange(start, start + g_rows.shape[0], device=g.device)
                won = winner.unsqueeze(0) == rows.unsqueeze(1)  # (rows, N_t): which columns each row won
                objective = (cx * won * grad_best.unsqueeze(0)).sum()
                d_rows, d_t = torch.autograd.grad(objective, (g_rows, t_all))
            grad_g[start:start + ctx.block] = d_rows
            grad_t += d_t
        return grad_g, grad_t, None


def contextual_similarity(generated: torch.Tensor, target: torch.Tensor, h: float = BANDWIDTH) -> torch.Tensor:
    """CX per image, (B,), with memory linear in the number of positions (fp32 inputs: see contextual_loss)."""
    g, t = _normalise(generated, target)
    return torch.stack([_BlockedMaxCX.apply(gi, ti, h).mean() for gi, ti in zip(g, t)])


def contextual_loss(generated: list[torch.Tensor], target: list[torch.Tensor], naive: bool = False) -> torch.Tensor:
    """L_CX = -log CX, averaged over layers and batch (eq. 4). Lists hold one feature map per VGG19 layer."""
    similarity = contextual_similarity_naive if naive else contextual_similarity
    with _full_precision(generated[0]):
        losses = [-torch.log(similarity(g.float(), t.float()) + EPSILON).mean() for g, t in zip(generated, target)]
        return torch.stack(losses).mean()
