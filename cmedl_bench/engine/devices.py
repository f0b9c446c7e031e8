"""Device selection and mixed precision."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


def select_device(requested: str | None = None) -> torch.device:
    """``requested`` if given ('cpu', 'cuda', 'cuda:1'), else CUDA when present, else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device):
    """bf16 autocast on CUDA; full precision elsewhere (CPU results must not change)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
