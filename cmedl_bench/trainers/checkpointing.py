"""Saving and resuming the training state of a module group (a fusion or a translator): weights, optimiser moments
and whatever the trainer adds (epoch, history, best score). One format for every trainer::

    {"weights": {module: state_dict}, "optimizers": {name: state_dict}, "epoch": int, "history": [...], ...}

Written atomically after every epoch; a corrupt file is a one-line error (:mod:`cmedl_bench.io.checkpoints`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmedl_bench.engine.performance import load_optimiser_state
from cmedl_bench.io.checkpoints import load_checkpoint, save_checkpoint
from cmedl_bench.modules import ModuleGroup


def save_training_state(path: Path, group: ModuleGroup, **extra: Any) -> None:
    save_checkpoint({"weights": group.weights(),
                     "optimizers": {name: opt.state_dict() for name, opt in group.optimizers().items()}, **extra},
                    path)


def resume_training_state(path: Path, group: ModuleGroup, device) -> dict[str, Any] | None:
    """Load the weights and optimiser moments saved in ``path`` into ``group``; returns the whole state (None when
    there is no checkpoint yet)."""
    if not path.exists():
        return None
    state = load_checkpoint(path, device)
    group.load_weights(state["weights"])
    for name, opt in group.optimizers().items():
        load_optimiser_state(opt, state["optimizers"][name])
    return state
