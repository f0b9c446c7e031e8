"""3D U-Net (Cicek et al. 2016) for the paper's 3DUnet row, with nnU-Net's conventions for thick slices.

Double 3x3x3 convolutions with batch norm and ReLU (Cicek et al.); four resolution levels with 32-64-128-256
channels at full width (MONAI BasicUNet's small default widths); max-pooling that halves only the in-plane axes at
the first level, because 3 mm slices are already three times coarser than the ~1 mm pixels (nnU-Net's anisotropic
pooling rule), then all three axes; transposed-convolution upsampling, skip concatenation; a 1x1x1 output.
Input and output (B, C, D, H, W); D must be divisible by 4 and H, W by 8.
"""

from __future__ import annotations

import torch
from torch import nn

POOLING = ((1, 2, 2), (2, 2, 2), (2, 2, 2))


class DoubleConv3d(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(True),
                         nn.Conv3d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(True))


class UNet3D(nn.Module):
    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
        super().__init__()
        chans = [max(4, round(c * width)) for c in (32, 64, 128, 256)]
        self.encoders = nn.ModuleList([DoubleConv3d(in_channels, chans[0])])
        self.pools = nn.ModuleList()
        for level, pool in enumerate(POOLING):
            self.pools.append(nn.MaxPool3d(pool))
            self.encoders.append(DoubleConv3d(chans[level], chans[level + 1]))
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(POOLING))):
            self.ups.append(nn.ConvTranspose3d(chans[level + 1], chans[level], POOLING[level], stride=POOLING[level]))
            self.decoders.append(DoubleConv3d(2 * chans[level], chans[level]))
        self.out = nn.Conv3d(chans[0], out_channels, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x)
            if level < len(self.pools):
                skips.append(x)
                x = self.pools[level](x)
        features = []
        for up, decoder in zip(self.ups, self.decoders):
            x = decoder(torch.cat([skips.pop(), up(x)], 1))
            features.append(x)
        logits = self.out(x)
        return (logits, features[-2:]) if return_features else logits


def build(in_channels: int = 1, out_channels: int = 1, width: float = 1.0) -> UNet3D:
    return UNet3D(in_channels, out_channels, width)
