"""Saving and resuming the training state of a module group (a fusion or a translator): weights, optimiser moments
and whatever the trainer adds (epoch, history, best score). One format for every trainer::

    {"weights": {module: state_dict}, "optimizers": {name: state_dict}, "epoch": int, "history": [...], ...}

Written atomically after every epoch; a corrupt file is a one-line error (:mod:`cmedl_bench.io.checkpoints`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmedl_bench.engine.performance import load_optimiser_state
from cmedl_bench.io.checkpoints import CorruptFileError, load_checkpoint, save_checkpoint
from cmedl_bench.modules import ModuleGroup, WeightsMismatch


def save_training_state(path: Path, group: ModuleGroup, **extra: Any) -> None:
    save_checkpoint({"weights": group.weights(),
                     "optimizers": {name: opt.state_dict() for name, opt in group.optimizers().items()}, **extra},
                    path)


def resume_training_state(path: Path, group: ModuleGroup, device) -> dict[str, Any] | None:
    """Load the weights and optimiser moments saved in ``path`` into ``group``; returns the whole state (None when
    there is no checkpoint yet)."""
    if not path.exists():
        return None
    state = load_checkpoint(path, device, required={"weights": dict, "optimizers": dict})
    try:
        group.load_weights(state["weights"])
    except WeightsMismatch as exc:
        raise CorruptFileError(f"{path}: {exc}; run the same command with --force to start afresh") from None
    for name, opt in group.optimizers().items():
        if not isinstance(state["optimizers"].get(name), dict):
            raise CorruptFileError(f"{path} has no state of the optimiser {name!r}; run the same command with --force")
        load_optimiser_state(opt, state["optimizers"][name])
    return state
