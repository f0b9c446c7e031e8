"""The fusion trainer: epochs of fusion steps on augmented tumour crops, validation DSC on whole 3D volumes after
each epoch (the ``dsc`` metric's definition, :func:`cmedl_bench.scoring.dice`), early stopping, best and last
checkpoints, resumable after an interruption.

Checkpoints hold only tensors, numbers and strings, so ``torch.load(path, weights_only=True)`` reads them:
- ``best.pt``: ``{"weights": {module: state_dict}, "epoch": int, "val_dsc": float}``
- ``last.pt``: the training state (:mod:`cmedl_bench.trainers.checkpointing`) with the epoch, the history and the
  best score so far.
Random crops and augmentation are seeded from (seed, epoch), so a resumed run continues the same sequence.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from cmedl_bench.config import Preset
from cmedl_bench.data.preprocessing import PreparedVolume
from cmedl_bench.data.slices import sampler_for
from cmedl_bench.engine import distributed
from cmedl_bench.engine.batches import draw_batch
from cmedl_bench.engine.devices import seed_epoch
from cmedl_bench.fusion import Fusion
from cmedl_bench.io.checkpoints import load_checkpoint, save_checkpoint
from cmedl_bench.scoring import dice
from cmedl_bench.trainers.checkpointing import resume_training_state, save_training_state


@dataclass
class FitResult:
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_dsc: float = -math.inf
    stopped_early: bool = False
    slices_per_second: float | None = None  # training throughput of the epochs run in this process


def fit(fusion: Fusion, train: dict[str, list[PreparedVolume]], val: list[PreparedVolume], preset: Preset,
        seed: int, run_dir: Path, on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
        on_step: Callable[[int, int], None] | None = None) -> FitResult:
    """``train`` maps each cohort the fusion trains on (``fusion.cohorts``) to its prepared training volumes."""
    samplers = {cohort: sampler_for(train[cohort], preset.crop_size, fusion.dims, preset.patch_depth,
                                    preset.foreground_fraction)
                for cohort in fusion.cohorts}
    batch_size = max(1, preset.batch_size // 4) if fusion.dims == 3 else preset.batch_size  # see config.py
    steps = preset.steps_per_epoch or math.ceil(len(samplers["cbct"]) / batch_size)
    result = FitResult()
    start_epoch = 0
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    main = distributed.is_main()
    state = resume_training_state(last_path, fusion, fusion.device)
    if state is not None:
        result.history = list(state["history"])
        result.best_epoch, result.best_val_dsc = int(state["best_epoch"]), float(state["best_val_dsc"])
        start_epoch = int(state["epoch"]) + 1
        if best_path.exists():  # the run ends by loading it: a corrupt one is found now, not after training
            load_checkpoint(best_path)
    slices_per_step = batch_size * (preset.patch_depth if fusion.dims == 3 else 1)
    trained_slices, trained_seconds = 0, 0.0
    for epoch in range(start_epoch, preset.max_epochs):
        if epoch - result.best_epoch > preset.patience and result.best_epoch >= 0:
            result.stopped_early = True
            break
        rng, generator = seed_epoch(seed, epoch)
        fusion.train(True)
        tic = time.perf_counter()
        totals: dict[str, torch.Tensor] = {}
        for step in range(steps):
            batch = draw_batch(samplers, batch_size, rng, generator, fusion.device, preset.augment)
            losses = fusion.train_step(distributed.shard(batch))
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + value
            if on_step:
                on_step(step + 1, steps)
        # the losses are read back once per epoch (not per step), which also waits for queued device work
        row = {"epoch": epoch, **{f"train_{k}": float(v) / steps for k, v in totals.items()}}
        train_seconds = time.perf_counter() - tic
        trained_slices, trained_seconds = trained_slices + steps * slices_per_step, trained_seconds + train_seconds
        result.slices_per_second = trained_slices / trained_seconds
        every = preset.head_curves_every
        row.update(validate_heads(fusion, val, all_heads=(epoch + 1) % every == 0 or epoch + 1 == preset.max_epochs))
        row["seconds"] = train_seconds
        result.history.append(row)
        if row["val_dsc"] > result.best_val_dsc:
            result.best_val_dsc, result.best_epoch = row["val_dsc"], epoch
            if main:
                save_checkpoint({"weights": fusion.weights(), "epoch": epoch, "val_dsc": row["val_dsc"]},
                                best_path, verify=True)
        if main:
            save_training_state(last_path, fusion, history=result.history, epoch=epoch, best_epoch=result.best_epoch,
                                best_val_dsc=result.best_val_dsc)
        distributed.barrier()  # checkpoints are on disk before any rank goes on
        if on_epoch:
            on_epoch(epoch, preset.max_epochs, row)
    return result


def validate_heads(fusion: Fusion, val: list[PreparedVolume], all_heads: bool = True) -> dict[str, float]:
    """``val_dsc``, the selection head's validation DSC (model selection and early stopping read only this), and with
    several heads and ``all_heads`` ``val_dsc_<head>`` for each, so the learning curves show whether a teacher has
    learned before its features are trusted as hints, and, where the validation volumes carry aligned MRI, each of
    the fusion's ``diagnostic_heads``. Those curves cost most of a CMEDL epoch's validation (the
    teacher's pseudo-MRI is translated again), so the preset's ``head_curves_every`` spaces them out."""
    scores = {"val_dsc": validate(fusion, val, fusion.selection_head)}
    if all_heads and len(fusion.heads) > 1:
        scores |= {f"val_dsc_{head}": scores["val_dsc"] if head == fusion.selection_head else
                   validate(fusion, val, head) for head in fusion.heads}
    if all_heads and val and all(p.aligned is not None for p in val):
        scores |= {f"val_dsc_{head}": validate(fusion, val, head) for head in fusion.diagnostic_heads}
    return scores


def validate(fusion: Fusion, val: list[PreparedVolume], head: str) -> float:
    """Mean 3D DSC of ``head`` over the validation volumes (original grid); in data-parallel training each rank
    scores every world-size-th volume."""
    fusion.train(False)
    scores = []
    for prepared in val[distributed.rank()::distributed.world_size()]:
        probability = fusion.predict_probability(head, prepared)
        scores.append(dice(probability > 0.5, prepared.volume.label))
    return distributed.global_mean(scores)
