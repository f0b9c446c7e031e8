"""Inference over whole volumes and reassembly on the original grid (paper III.B: 3D volumes are produced by
combining the segmentations of 2D patches): sliding windows of the training crop size, or, for a fully convolutional
2D network (:attr:`cmedl_bench.info.SegmenterInfo.input_multiple`), one forward of each whole slice.

Whole slices are padded by edge replication to the network's input multiple and the output cropped back; with
nothing but convolutions, poolings and batch norm in evaluation mode a window and a whole slice see the same
weights, so the two differ only where a window's edge cut the receptive field (the windows' overlap averaging
blurs those edges). A network with per-image statistics (instance norm, as in the CycleGAN generators) is not
window-invariant, so a head whose path holds one stays on windows (:attr:`cmedl_bench.fusion.Fusion.whole_slice_heads`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cmedl_bench.data.preprocessing import PreparedVolume

#: slices resampled per interpolation call in :func:`restore` (bounds its temporary to a few slices of the box)
RESTORE_SLICES = 16


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
def whole_slices(fn, image: torch.Tensor, multiple: int, device: torch.device, pixels: int = 32 * 96 * 96
                 ) -> torch.Tensor:
    """Apply ``fn`` (B, C, H', W') -> (B, 1, H', W') to every whole slice of a (z, h, w) or (C, z, h, w) image, the
    slices padded by edge replication to multiples of ``multiple``; batches hold about ``pixels`` pixels (the
    sliding window's 32 windows of 96 x 96). Returns a (z, h, w) CPU tensor."""
    image = image if image.dim() == 4 else image.unsqueeze(0)
    _, depth, height, width = image.shape
    pad_y, pad_x = -height % multiple, -width % multiple
    batch_size = max(1, pixels // ((height + pad_y) * (width + pad_x)))
    out = torch.empty(depth, height, width)
    slices = image.transpose(0, 1)
    for start in range(0, depth, batch_size):
        batch = slices[start:start + batch_size].to(device, non_blocking=True)
        if pad_y or pad_x:
            batch = F.pad(batch, (0, pad_x, 0, pad_y), mode="replicate")
        out[start:start + batch_size] = fn(batch)[:, 0, :height, :width].float().cpu()
    return out


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
                        depth_window: int | None = None, aligned: bool = False,
                        slice_multiple: int | None = None) -> np.ndarray:
    """Tumour probability on the original voxel grid of ``prepared.volume``.

    ``predict_logits(batch)`` maps CBCT crops (B, 1, crop, crop), or 3D patches (1, 1, depth_window, crop, crop)
    when ``depth_window`` is given, to logits of the same size; overlapping windows are averaged in logit space. With
    ``slice_multiple`` it is given whole slices padded to that multiple instead (:func:`whole_slices`). The whole
    volume is predicted (the tumour's extent is unknown at test time). With ``aligned`` the crops hold the volume's
    aligned MRI as a second channel, cut from the same windows.
    """
    image = torch.from_numpy(prepared.image)
    if aligned:
        image = torch.stack([image, torch.from_numpy(prepared.aligned)])
    if depth_window:
        logits = sliding_window_3d(predict_logits, image, depth_window, crop_size, device)
    elif slice_multiple:
        logits = whole_slices(predict_logits, image, slice_multiple, device)
    else:
        logits = sliding_window(predict_logits, image, crop_size, device)
    return restore(torch.sigmoid(logits), prepared)


def restore(probability: torch.Tensor, prepared: PreparedVolume) -> np.ndarray:
    """Map a (z, h, w) probability map on the prepared grid back to the original grid: the resampled body box is
    interpolated in-plane to the box's original size, bilinearly with half-pixel centres and edge values beyond the
    border (the interpolation :func:`cmedl_bench.data.preprocessing.resize_slices` applies on the way in:
    ``ndimage.zoom(order=1, grid_mode=True, mode="nearest")``, here in float32 with torch's threads), and put in
    place; voxels outside the box are 0. Interpolated a few slices at a time, straight into the result."""
    h, w = prepared.resampled_hw
    y0, y1, x0, x1 = prepared.bbox
    depth = prepared.volume.shape[0]
    box = probability[:depth, :h, :w].float()
    full = np.zeros(prepared.volume.shape, dtype=np.float32)
    target = torch.from_numpy(full)[:, y0:y1, x0:x1]
    for start in range(0, depth, RESTORE_SLICES):
        chunk = box[start:start + RESTORE_SLICES]
        if chunk.shape[1:] != target.shape[1:]:
            chunk = F.interpolate(chunk[:, None], size=tuple(target.shape[1:]), mode="bilinear",
                                  align_corners=False)[:, 0]
        target[start:start + RESTORE_SLICES] = chunk
    return full
