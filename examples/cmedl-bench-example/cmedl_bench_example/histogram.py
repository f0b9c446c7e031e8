"""A translator that does not learn: CBCT -> MRI by histogram matching.

Each CBCT slice's intensity quantiles (levels 0, 0.1, ..., 1) are mapped onto a target MRI quantile table by
piecewise-linear interpolation, the classic histogram-matching step (Nyul and Udupa's standardisation, one
landmark per decile). The target table is the option ``mri_deciles``: eleven comma-separated values in [-1, 1].
Its default, evenly spaced deciles, equalises each slice's histogram. Nothing here has parameters, so ``hint``
trains only the segmenters and ``translate`` scores it without training.
"""

from __future__ import annotations

import torch

from cmedl_bench.plugin import Translator, TranslatorSpec
from cmedl_bench_example import DEFAULT_DECILES

LEVELS = 11  # landmarks at the deciles, minimum and maximum included


def parse_deciles(text: str) -> torch.Tensor:
    """The option's eleven values as a tensor; they must rise and lie in [-1, 1]."""
    values = torch.tensor([float(v) for v in text.split(",")])
    if values.numel() != LEVELS or (values.diff() < 0).any() or values.abs().max() > 1:
        raise ValueError(f"mri_deciles must be {LEVELS} rising values in [-1, 1], not {text!r}")
    return values


def match_histogram(images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``images`` (B, 1, H, W) mapped slice by slice so that their deciles land on ``target``'s."""
    flat = images.flatten(1).float()
    levels = torch.linspace(0, 1, LEVELS, device=images.device)
    source = torch.quantile(flat, levels, dim=1).T.contiguous()  # (B, LEVELS), rising
    target = target.to(images.device)
    index = torch.searchsorted(source, flat.contiguous()).clamp(1, LEVELS - 1)
    low, high = source.gather(1, index - 1), source.gather(1, index)
    fraction = ((flat - low) / (high - low).clamp_min(1e-6)).clamp(0, 1)
    mapped = target[index - 1] + fraction * (target[index] - target[index - 1])
    return mapped.view_as(images).to(images.dtype)


class HistogramMatch(Translator):
    def __init__(self, spec: TranslatorSpec):
        super().__init__(spec)
        self.target = parse_deciles(str(spec.options.get("mri_deciles", DEFAULT_DECILES)))

    def to_mri(self, cbct: torch.Tensor) -> torch.Tensor:
        return match_histogram(cbct, self.target)
