"""A batch-norm-free segmenter plugin and a per-rank entry point for the data-parallel test (spawned processes
import this module and register the plugin themselves)."""

import sys

import torch
from torch import nn

from cmedl_bench import api, hookimpl
from cmedl_bench.plugin import SegmenterInfo
from cmedl_bench.registry import register_plugin


class PlainFCN(nn.Module):
    """Convolutions and ReLUs only: no batch statistics, so data-parallel training can match one process exactly."""

    def __init__(self, in_channels=1, out_channels=1, width=1.0):
        super().__init__()
        c = max(4, int(16 * width))
        self.body = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=2,
                                  dilation=2), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(c, out_channels, 1)

    def forward(self, x, return_features=False):
        features = self.body(x)
        logits = self.head(features)
        return (logits, [features, features]) if return_features else logits


@hookimpl
def register_segmenters(register):
    register("plain-fcn", PlainFCN, description="test segmenter without batch norm", info=SegmenterInfo(dims=2))


def ensure_registered() -> None:
    from cmedl_bench.registry import get_registry

    if "plain-fcn" not in get_registry().names("segmenter"):
        register_plugin(sys.modules[__name__], name="ddp-test")


def train_rank(kwargs: dict) -> dict:
    torch.set_num_threads(1)
    ensure_registered()
    return api.run(**kwargs)
