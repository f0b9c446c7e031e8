"""CycleGAN networks (paper II.D; reference: junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``).

- :class:`ResnetGenerator`: reflect-pad 3, 7x7 conv to 64, instance norm, ReLU; two stride-2 3x3 convolutions
  (128, 256); 9 residual blocks; two 3x3 transposed convolutions (stride 2, padding 1, output padding 1); reflect-pad
  3, 7x7 conv, tanh. Instance norm without affine parameters, so convolutions carry biases, as in the reference.
  11,365,633 parameters at 1 input and 1 output channel.
- :class:`PatchDiscriminator`: the 70x70 PatchGAN (``NLayerDiscriminator``, 3 layers): 4x4 convolutions
  64-128-256-512-1, LeakyReLU 0.2, batch norm on all but the first and last layers (biases only where there is no
  batch norm). 2,763,585 parameters at 1 input channel.

``width`` scales the channel counts (64 at 1.0) for the CPU presets.
"""

from __future__ import annotations

import torch
from torch import nn


def _channels(base: int, width: float) -> int:
    return max(4, round(base * width))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: float = 1.0, n_blocks: int = 9):
        super().__init__()
        c = _channels(64, width)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, c, 7), nn.InstanceNorm2d(c),
                                   nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(c * mult, c * mult * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(c * mult * 2),
                       nn.ReLU(True)]
        layers += [ResidualBlock(c * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(c * mult, c * mult // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(c * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int = 1, width: float = 1.0, n_layers: int = 3):
        super().__init__()
        c = _channels(64, width)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            previous, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(c * previous, c * mult, 4, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(c * mult), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(c * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
