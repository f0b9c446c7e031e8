"""Shared behaviour of objects that own several torch modules (fusions and translators)."""

from __future__ import annotations

import torch


class ModuleGroup:
    """Named modules that switch mode, save and load together. Subclasses implement :meth:`modules`."""

    def modules(self) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    def train(self, mode: bool = True) -> None:
        for module in self.modules().values():
            module.train(mode)

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: module.state_dict() for name, module in self.modules().items()}

    def load_weights(self, weights: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, module in self.modules().items():
            module.load_state_dict(weights[name])

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def set_requires_grad(self, names: tuple[str, ...], flag: bool) -> None:
        for name in names:
            for p in self.modules()[name].parameters():
                p.requires_grad_(flag)
