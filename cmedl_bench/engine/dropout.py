"""Test-time dropout on the weights of a network's last layers (paper III.E, Fig. 8), shared by ``sensitivity`` and
``predict --uncertainty``.

Dropped weights are zeroed and the kept ones scaled by 1 / (1 - rate) (inverted dropout, as ``torch.nn.Dropout``),
so that each layer's expected output is unchanged; the paper says only that weights were zeroed at random. At rate 0
every pass is the unperturbed network.
"""

from __future__ import annotations

import torch
from torch import nn

_LAYERS = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)


def last_layers(network: nn.Module, count: int = 2) -> list[nn.Module]:
    """The last ``count`` weight layers in definition order (for the built-in networks, forward order)."""
    layers = [m for m in network.modules() if isinstance(m, _LAYERS)]
    return layers[-count:]


class WeightDropout:
    """Perturbs the weights of ``network``'s last two layers on :meth:`perturb`; :meth:`restore` puts the trained
    weights back. Masks are drawn on the CPU from a seeded generator, so passes are reproducible on any device."""

    def __init__(self, network: nn.Module, rate: float, seed: int):
        self.layers = last_layers(network)
        self.originals = [layer.weight.detach().clone() for layer in self.layers]
        self.rate = rate
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    @torch.no_grad()
    def perturb(self) -> None:
        for layer, weight in zip(self.layers, self.originals):
            keep = (torch.rand(weight.shape, generator=self.generator) >= self.rate).to(weight.device)
            layer.weight.copy_(weight * keep / (1 - self.rate))

    @torch.no_grad()
    def restore(self) -> None:
        for layer, weight in zip(self.layers, self.originals):
            layer.weight.copy_(weight)
