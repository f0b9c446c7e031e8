"""VGG19 feature extractor for the contextual loss, defined here (no torchvision), with torchvision's module
indices so that a torchvision ``vgg19`` state dict (``features.N.weight``) loads as it is.

Weights cannot be downloaded at run time. They come from, in order: an explicit path (CLI ``--vgg19`` or config),
the ``CMEDL_BENCH_VGG19`` environment variable, or torch hub's cache file ``vgg19-dcbb9e9d.pth``. Without any, a
fixed-seed random initialisation is used with one warning, and ``cx_features: random-init`` goes into the run record.

Layer names follow the paper's running count of convolutions (conv1 ... conv16): the paper's conv7, conv8, conv9
are conv3_3, conv3_4 and conv4_1 (64x64x256, 64x64x256, 32x32x512 at a 256x256 input). Features are taken after
the ReLU. Grey-level input in [-1, 1] is mapped to [0, 1], repeated to three channels and normalised with ImageNet's
mean and standard deviation.

A ``width`` below 1 (the preset field ``loss_network_width``; the paper's network is 1) keeps that fraction of every
layer's filters (at least 8): with ImageNet weights, the first filters of each layer and their weights on the kept
input channels, a truncated VGG19 whose features are not the paper's; without, a narrower random network. It cuts
the contextual loss's share of a training step (57 % of a CMEDL step at the ``cpu`` preset at width 1).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from cmedl_bench.plugin import CmedlError

CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
PAPER_LAYERS = ("conv7", "conv8", "conv9")
HUB_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_indices() -> list[int]:
    """Index in ``features`` of the ReLU after each convolution (conv1 -> first ReLU, ...)."""
    indices, position = [], 0
    for item in CONFIG:
        if item == "M":
            position += 1
        else:
            indices.append(position + 1)
            position += 2
    return indices


def kept_filters(channels: int, width: float) -> int:
    return channels if width >= 1 else max(8, round(channels * width))


class VGG19Features(nn.Module):
    def __init__(self, layers: tuple[str, ...] = PAPER_LAYERS, width: float = 1.0):
        super().__init__()
        modules: list[nn.Module] = []
        channels = 3
        for item in CONFIG:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                filters = kept_filters(item, width)
                modules += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(inplace=False)]
                channels = filters
        relu_of = _conv_indices()
        try:
            self.taps = {relu_of[int(name.removeprefix("conv")) - 1]: name for name in layers}
        except (ValueError, IndexError):
            raise CmedlError(f"unknown VGG19 layer in {layers}; use conv1 ... conv16") from None
        self.features = nn.Sequential(*modules[: max(self.taps) + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = ((image + 1) / 2).repeat(1, 3, 1, 1)
        x = (x - self.mean) / self.std
        out = []
        for index, module in enumerate(self.features):
            x = module(x)
            if index in self.taps:
                out.append(x)
        return out


def find_weights(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    from cmedl_bench.plugin import vgg19_weights

    if vgg19_weights() is not None:
        return vgg19_weights()
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints" / HUB_FILE
    return hub if hub.exists() else None


def load_vgg19(layers: tuple[str, ...] = PAPER_LAYERS, weights: str | os.PathLike | None = None,
               width: float = 1.0) -> tuple[VGG19Features, str]:
    """The feature extractor and a provenance string (``imagenet:<file>:<sha256 prefix>`` or ``random-init``)."""
    if not 0 < width <= 1:
        raise CmedlError(f"loss_network_width must be in (0, 1], not {width}")
    model = VGG19Features(layers, width)
    path = find_weights(weights)
    if path is None:
        warnings.warn("no VGG19 weights given (--vgg19, CMEDL_BENCH_VGG19 or torch hub cache): the contextual loss "
                      "uses a fixed-seed random VGG19 (recorded as cx_features: random-init)", stacklevel=2)
        generator = torch.Generator().manual_seed(19)
        for module in model.features:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, generator=generator)
                nn.init.zeros_(module.bias)
        return model.eval(), "random-init"
    if not path.is_file():
        raise CmedlError(f"VGG19 weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CmedlError(f"VGG19 weights file {path} cannot be read as a torch state dict "
                         f"({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise CmedlError(f"VGG19 weights file {path} does not hold a state dict")
    wanted = model.features.state_dict()
    missing = [k for k in wanted if f"features.{k}" not in state]
    if missing:
        raise CmedlError(f"VGG19 weights file {path} is not a torchvision vgg19 state dict "
                         f"(missing features.{missing[0]})")
    try:  # a narrower network keeps the first filters of each layer and their weights on the kept inputs
        model.features.load_state_dict({k: state[f"features.{k}"][tuple(slice(0, n) for n in v.shape)]
                                        for k, v in wanted.items()})
    except (RuntimeError, IndexError):
        raise CmedlError(f"VGG19 weights file {path} has tensors of the wrong shape for vgg19") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return model.eval(), f"imagenet:{path.name}:{digest}"
