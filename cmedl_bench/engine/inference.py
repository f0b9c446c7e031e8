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
def sliding_window(fn, image: torch.Tensor, window: int, device: torch.device, batch_size: int = 32) -> torch.Tensor:
    """Apply ``fn`` (B, C, window, window) -> (B, 1, window, window) to every slice of a (z, h, w) image, or of a
    (C, z, h, w) one, in overlapping windows; overlaps are averaged. Returns a (z, h, w) CPU tensor."""
    image = image if image.dim() == 4 else image.unsqueeze(0)
    _, depth, height, width = image.shape
    out = torch.zeros(depth, height, width)
    counts = torch.zeros(1, height, width)
    for y in window_starts(height, window):
        for x in window_starts(width, window):
            crops = image[:, :, y:y + window, x:x + window].transpose(0, 1)
            for start in range(0, depth, batch_size):
                batch = crops[start:start + batch_size].to(device, non_blocking=True)
                out[start:start + batch_size, y:y + window, x:x + window] += fn(batch)[:, 0].float().cpu()
            counts[:, y:y + window, x:x + window] += 1
    return out / counts


@torch.no_grad()
def sliding_window_3d(fn, image: torch.Tensor, depth_window: int, window: int, device: torch.device) -> torch.Tensor:
    """As :func:`sliding_window` with 3D patches (1, C, depth_window, window, window) for 3D networks."""
    image = image if image.dim() == 4 else image.unsqueeze(0)
    _, depth, height, width = image.shape
    out = torch.zeros(depth, height, width)
    counts = torch.zeros(depth, height, width)
    for z in window_starts(depth, depth_window):
        for y in window_starts(height, window):
            for x in window_starts(width, window):
                box = (slice(z, z + depth_window), slice(y, y + window), slice(x, x + window))
                patch = image[(slice(None), *box)].unsqueeze(0).to(device, non_blocking=True)
                out[box] += fn(patch)[0, 0].float().cpu()
                counts[box] += 1
    return out / counts


def predict_probability(predict_logits, prepared: PreparedVolume, crop_size: int, device: torch.device,
                        depth_window: int | None = None, aligned: bool = False) -> np.ndarray:
    """Tumour probability on the original voxel grid of ``prepared.volume``.

    ``predict_logits(batch)`` maps CBCT crops (B, 1, crop, crop), or 3D patches (1, 1, depth_window, crop, crop)
    when ``depth_window`` is given, to logits of the same size; overlapping windows are averaged in logit space. The
    whole volume is predicted (the tumour's extent is unknown at test time). With ``aligned`` the crops hold the
    volume's aligned MRI as a second channel, cut from the same windows.
    """
    image = torch.from_numpy(prepared.image)
    if aligned:
        image = torch.stack([image, torch.from_numpy(prepared.aligned)])
    if depth_window:
        logits = sliding_window_3d(predict_logits, image, depth_window, crop_size, device)
    else:
        logits = sliding_window(predict_logits, image, crop_size, device)
    return restore(torch.sigmoid(logits).numpy(), prepared)
