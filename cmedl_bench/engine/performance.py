"""Making the training step fast on a GPU without changing anything on the CPU.

- ``adam``: torch's fused Adam (one kernel per step for all parameters) on CUDA; the default implementation
  elsewhere, so CPU results stay bit-identical.
- ``tune_for_device``: on CUDA, cuDNN autotuning and channels-last memory format for every module of a fusion (convolutions
  run in NHWC, or NDHWC for the 3DUnet, on tensor cores); with ``compile``, ``torch.compile`` of each module in
  place (``Module.compile``, so state-dict keys and checkpoints do not change). bf16 autocast is applied by the
  fusions (engine.devices.autocast).
- ``load_optimiser_state``: a resumed optimiser's moments take their parameters' memory layout (fused Adam refuses
  a channels-last parameter with contiguous moments, e.g. a run started on the CPU and resumed on a GPU).
- ``to_device``: batches are copied from pinned memory without blocking the host and, on CUDA, in channels-last.
  Together with losses read back once per epoch, a training step never waits for the device
  (tests/test_step_synchronisation.py).
"""

from __future__ import annotations

from typing import Iterable

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float, device: torch.device, **kwargs) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr, **kwargs)``, fused on CUDA."""
    return torch.optim.Adam(params, lr=lr, fused=True if device.type == "cuda" else None, **kwargs)


def tune_for_device(modules: dict[str, torch.nn.Module], device: torch.device, compile_modules: bool = False) -> None:
    """On CUDA, cuDNN autotuning and channels-last weights; with ``compile_modules``, ``torch.compile`` each module.
    Nothing changes on the CPU unless compilation is asked for."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        for module in modules.values():
            to_channels_last(module)
    if compile_modules:
        for module in modules.values():
            module.compile()


def channels_last_format(tensor: torch.Tensor) -> torch.memory_format:
    """NHWC for 2D feature maps and weights, NDHWC for 3D ones (3DUnet), unchanged otherwise."""
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(tensor.dim(), torch.contiguous_format)


def to_channels_last(module: torch.nn.Module) -> torch.nn.Module:
    """Every 4-D and 5-D parameter and buffer in its channels-last layout, in place. (``Module.to(memory_format=
    torch.channels_last)`` refuses 5-D weights, so a network with 3D convolutions needs this per-tensor form.)"""
    for tensor in [*module.parameters(), *module.buffers()]:
        layout = channels_last_format(tensor)
        if layout is not torch.contiguous_format:
            tensor.data = tensor.data.contiguous(memory_format=layout)
    return module


def load_optimiser_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    optimizer.load_state_dict(state)
    for group in optimizer.param_groups:
        for param in group["params"]:
            for key, value in optimizer.state.get(param, {}).items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    optimizer.state[param][key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def to_device(array_tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type != "cuda":
        return array_tensor.to(device, non_blocking=True)  # nothing to copy, or nothing to overlap with
    moved = array_tensor.pin_memory().to(device, non_blocking=True)
    return moved.contiguous(memory_format=channels_last_format(moved))
