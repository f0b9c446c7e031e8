"""One training batch per step: random tumour crops of each cohort, moved to the device and augmented."""

from __future__ import annotations

import numpy as np
import torch

from cmedl_bench.data.slices import TumourSliceSampler
from cmedl_bench.engine.augment import augment
from cmedl_bench.engine.performance import to_device


def draw_batch(samplers: dict[str, TumourSliceSampler], batch_size: int, rng: np.random.Generator,
               generator: torch.Generator, device: torch.device, augmented: bool) -> dict[str, torch.Tensor]:
    """``{cohort: images, f"{cohort}_label": masks}``, each (B, 1, crop, crop); cohorts are drawn independently
    (unpaired). Where the sampler's volumes carry aligned MRI, ``f"{cohort}_aligned"`` holds its crops, cut and
    warped exactly as the cohort's images."""
    batch = {}
    for cohort, sampler in samplers.items():
        image, mask = (to_device(torch.from_numpy(a), device) for a in sampler.sample(batch_size, rng))
        channels = image.shape[1]
        if augmented and image.dim() == 5:  # 3D patches: the same in-plane warp for every slice of a patch
            b, _, d, h, w = image.shape
            image, mask = augment(image.view(b, channels * d, h, w), mask.view(b, d, h, w), generator)
            image, mask = image.view(b, channels, d, h, w), mask.view(b, 1, d, h, w)
        elif augmented:
            image, mask = augment(image, mask, generator)
        batch[cohort], batch[f"{cohort}_label"] = image[:, :1].contiguous(), mask
        if channels == 2:
            batch[f"{cohort}_aligned"] = image[:, 1:].contiguous()
    return batch
