"""Sliding-window 2D inference over whole volumes and reassembly on the original grid (paper III.B: 3D volumes
are produced by combining the segmentations of 2D patches)."""

from __future__ import annotations

import numpy as np
import torch

from cmedl_bench.data.preprocessing import PreparedVolume, restore


def window_starts(extent: int, window: int) -> list[int]:
    """Window origins covering ``extent`` with half-window overlap; the last window ends at the edge."""
    if extent <= window:
        return [0]
    starts = list(range(0, extent - window, window // 2))
    return starts + [extent - window]


@torch.no_grad()
def predict_probability(predict_logits, prepared: PreparedVolume, window: int, device: torch.device,
                        batch_size: int = 32) -> np.ndarray:
    """Tumour probability on the original voxel grid of ``prepared.volume``.

    ``predict_logits(batch)`` maps CBCT crops (B, 1, window, window) to logits of the same size. Overlapping
    windows are averaged in logit space; all slices are predicted (the tumour's extent is unknown at test time).
    """
    image = torch.from_numpy(prepared.image)
    depth, height, width = image.shape
    logits = torch.zeros(depth, height, width)
    counts = torch.zeros(1, height, width)
    for y in window_starts(height, window):
        for x in window_starts(width, window):
            crops = image[:, y:y + window, x:x + window].unsqueeze(1)
            for start in range(0, depth, batch_size):
                batch = crops[start:start + batch_size].to(device, non_blocking=True)
                logits[start:start + batch_size, y:y + window, x:x + window] += predict_logits(batch)[:, 0].cpu()
            counts[:, y:y + window, x:x + window] += 1
    probability = torch.sigmoid(logits / counts).numpy()
    return restore(probability, prepared)
