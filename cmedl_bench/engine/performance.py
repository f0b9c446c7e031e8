"""Making the training step fast on a GPU without changing anything on the CPU.

- ``adam``: torch's fused Adam (one kernel per step for all parameters) on CUDA; the default implementation
  elsewhere, so CPU results stay bit-identical.
- ``optimise``: on CUDA, cuDNN autotuning and channels-last memory format for every module of a fusion (convolutions
  run in NHWC on tensor cores); with ``compile``, ``torch.compile`` of each module in place (``Module.compile``, so
  state-dict keys and checkpoints do not change). bf16 autocast is applied by the fusions (engine.devices.autocast).
- ``to_device``: batches are copied from pinned memory without blocking the host and, on CUDA, in channels-last.
"""

from __future__ import annotations

from typing import Iterable

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float, device: torch.device, **kwargs) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr, **kwargs)``, fused on CUDA."""
    return torch.optim.Adam(params, lr=lr, fused=True if device.type == "cuda" else None, **kwargs)


def optimise(modules: dict[str, torch.nn.Module], device: torch.device, compile_modules: bool = False) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        for module in modules.values():
            module.to(memory_format=torch.channels_last)
    if compile_modules:
        for module in modules.values():
            module.compile()


def to_device(array_tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type != "cuda":
        return array_tensor.to(device)
    moved = array_tensor.pin_memory().to(device, non_blocking=True)
    return moved.contiguous(memory_format=torch.channels_last) if moved.dim() == 4 else moved
