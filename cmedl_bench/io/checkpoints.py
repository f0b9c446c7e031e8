"""Checkpoints: saved atomically and verified, loaded with ``weights_only=True``, and a corrupt file is one line
that names it and says how to recover (``--force`` starts the run afresh), never torch's traceback (whose advice,
``weights_only=False``, would be unsafe to follow)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

from cmedl_bench.errors import CmedlError
from cmedl_bench.io.atomic import atomic_torch_save

#: what torch.load raises on a truncated, overwritten or foreign file
_CORRUPT = (RuntimeError, EOFError, OSError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile)


class CorruptFileError(CmedlError):
    """A run-folder file (checkpoint, record, table) that cannot be read back."""


def load_checkpoint(path: Path, device: Any = "cpu", required: dict[str, type] | None = None) -> dict[str, Any]:
    """The checkpoint at ``path``; ``required`` names entries that must be there with their type (a file written by
    another program, or edited, is one line naming what is missing)."""
    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except _CORRUPT as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(f"{path} is corrupt or unreadable ({reason}); run the same command with --force to "
                               f"start this run afresh") from None
    if not isinstance(state, dict):
        raise CorruptFileError(f"{path} is not a cmedl-bench checkpoint; run the same command with --force")
    for key, kind in (required or {}).items():
        if not isinstance(state.get(key), kind):
            raise CorruptFileError(f"{path} has no {key!r} {kind.__name__} (not a cmedl-bench checkpoint, or "
                                   f"edited); run the same command with --force")
    return state


def save_checkpoint(state: dict[str, Any], path: Path, verify: bool = False) -> None:
    """Write ``state`` atomically; with ``verify``, read it back so that a checkpoint the run depends on (``best.pt``)
    is known to load when it is written, not after all training."""
    atomic_torch_save(state, path)
    if verify:
        load_checkpoint(path)
