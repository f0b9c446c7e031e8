"""A context-aggregation network in the spirit of Yu & Koltun's dilated convolutions: resolution is kept, the
receptive field grows with dilations 1, 2, 4, 8, 1."""

import torch
from torch import nn


class DilatedFCN(nn.Module):
    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
        super().__init__()
        channels = max(4, round(32 * width))
        layers, previous = [], in_channels
        for dilation in (1, 2, 4, 8, 1):
            layers.append(nn.Sequential(nn.Conv2d(previous, channels, 3, padding=dilation, dilation=dilation),
                                        nn.BatchNorm2d(channels), nn.ReLU(inplace=True)))
            previous = channels
        self.blocks = nn.ModuleList(layers)
        self.head = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        logits = self.head(x)
        return (logits, features[-2:]) if return_features else logits
