"""The paper's 2D U-Net (II.E, Fig. 2a; 13.39M parameters).

The count matches the "bilinear" U-Net of milesial/Pytorch-UNet in its early layout: double 3x3 convolutions with bias,
batch norm and ReLU; four max-pool stages with 64-128-256-512-512 channels; bilinear x2 upsampling, concatenation with
the skip connection and a double convolution to 256, 128, 64 and 64 channels; a 1x1 output convolution. At 1 input
and 1 output channel this is 13,394,177 parameters. ``width`` scales every channel count (CPU presets).

The last two decoder blocks (128x128x64 and 256x256x64 at a 256x256 input) are the hint layers of CMEDL (eq. 6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        )


class Up(nn.Module):
    """Bilinear x2 upsampling, padding to the skip's size, concatenation, double convolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        if dy or dx:
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
        super().__init__()
        c1, c2, c3, c4 = (max(2, round(c * width)) for c in (64, 128, 256, 512))
        self.inc = DoubleConv(in_channels, c1)
        self.downs = nn.ModuleList([DoubleConv(a, b) for a, b in ((c1, c2), (c2, c3), (c3, c4), (c4, c4))])
        self.ups = nn.ModuleList([Up(2 * c4, c3), Up(2 * c3, c2), Up(2 * c2, c1), Up(2 * c1, c1)])
        self.outc = nn.Conv2d(c1, out_channels, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(F.max_pool2d(skips[-1], 2)))
        x = skips.pop()
        features = []
        for up in self.ups:
            x = up(x, skips.pop())
            features.append(x)
        logits = self.outc(x)
        if return_features:
            return logits, features[-2:]
        return logits


def build(in_channels: int = 1, out_channels: int = 1, width: float = 1.0) -> UNet:
    return UNet(in_channels, out_channels, width)
