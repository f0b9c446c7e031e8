"""The fusion contract: a training recipe that owns the translator and segmenter modules and names the heads
that are scored. The engine drives it; plugins subclass :class:`Fusion`.

Imported only by fusion factories (it imports torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cmedl_bench.config import Preset
from cmedl_bench.engine.devices import autocast
from cmedl_bench.plugins import Component


@dataclass(frozen=True)
class FusionSpec:
    segmenter: Component
    translator: Component | None
    preset: Preset
    device: torch.device


class Fusion:
    """Base class. Subclasses build modules and optimisers in ``__init__`` and implement ``train_step`` and
    ``predict_logits``; the base class handles modes and (de)serialisation."""

    heads: tuple[str, ...] = ("student",)
    #: the head whose validation DSC selects the best checkpoint
    selection_head: str = "student"

    def __init__(self, spec: FusionSpec):
        self.spec = spec
        self.device = spec.device

    def modules(self) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch (``cbct``, ``cbct_label``, ...); returns detached losses."""
        raise NotImplementedError

    def predict_logits(self, head: str, cbct: torch.Tensor) -> torch.Tensor:
        """Tumour logits (B, 1, H, W) for a batch of CBCT crops, as the given head sees them."""
        raise NotImplementedError

    def autocast(self):
        return autocast(self.device)

    def train(self, mode: bool = True) -> None:
        for module in self.modules().values():
            module.train(mode)

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: module.state_dict() for name, module in self.modules().items()}

    def load_weights(self, weights: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, module in self.modules().items():
            module.load_state_dict(weights[name])

    def training_state(self) -> dict[str, Any]:
        return {"weights": self.weights(),
                "optimizers": {name: opt.state_dict() for name, opt in self.optimizers().items()}}

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_weights(state["weights"])
        for name, opt in self.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])
