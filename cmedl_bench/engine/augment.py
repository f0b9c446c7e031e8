"""Online augmentation on the training device, applied identically to image and mask (paper II.F):
horizontal flips, scaling, rotation and elastic deformation, composed into one sampling grid per sample.

Ranges follow common 2D practice (nnU-Net's default rotation and scaling are wider; the paper gives none):
rotation +-15 degrees, isotropic scale 0.85-1.15, elastic displacement up to ~4% of the field of view from a
4 x 4 control grid upsampled bicubically.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cmedl_bench.engine.performance import to_device


def augment(image: torch.Tensor, mask: torch.Tensor, generator: torch.Generator,
            max_rotation_deg: float = 15.0, scale_range: tuple[float, float] = (0.85, 1.15),
            elastic_alpha: float = 0.08, p_elastic: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch: image (B, C, H, W) float, mask (B, 1, H, W) in {0, 1}. Returns new tensors."""
    b = image.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * (high - low) + low

    # the parameters are drawn and assembled on the host, then copied without blocking (engine.performance)
    angle = uniform(-max_rotation_deg, max_rotation_deg, b) * math.pi / 180
    scale = uniform(*scale_range, b)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    control = torch.randn(b, 2, 4, 4, generator=generator) * elastic_alpha
    control = control * (torch.rand(b, 1, 1, 1, generator=generator) < p_elastic)
    theta, control = to_device(theta, image.device), to_device(control, image.device)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    displacement = F.interpolate(control, size=image.shape[-2:], mode="bicubic", align_corners=False)
    grid = grid + displacement.permute(0, 2, 3, 1)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    warped_mask = F.grid_sample(mask, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped, (warped_mask > 0.5).to(mask.dtype)
