"""Shared behaviour of objects that own several torch modules (fusions and translators)."""

from __future__ import annotations

import torch

from cmedl_bench.errors import CmedlError


class WeightsMismatch(CmedlError):
    """Saved weights that do not fit the networks they are loaded into (a module missing, a tensor of another
    shape): the file was made for other networks, or edited."""


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
        """Load every module's state dict; a missing module or a tensor that does not fit is a
        :class:`WeightsMismatch` naming the module."""
        for name, module in self.modules().items():
            state = weights.get(name) if isinstance(weights, dict) else None
            if not isinstance(state, dict):
                raise WeightsMismatch(f"no weights for the network {name!r}")
            try:
                module.load_state_dict(state)
            except (RuntimeError, TypeError, ValueError) as exc:
                reason = " ".join(str(exc).split())[:160]
                raise WeightsMismatch(f"the weights of {name!r} do not fit its network ({reason})") from None

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def set_requires_grad(self, names: tuple[str, ...], flag: bool) -> None:
        for name in names:
            for p in self.modules()[name].parameters():
                p.requires_grad_(flag)
