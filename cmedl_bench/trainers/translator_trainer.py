"""The translator trainer: a translator trained on its own (the first stage of the ``pmri`` and ``two-channel``
fusions, and ``cmedl-bench translate``).

Unpaired: each step draws CBCT crops and MRI crops independently (tumour-containing slices of each cohort, as the
paper's 42,740 CBCT and 21,967 MRI training slices), flips and small affine/elastic warps applied per cohort, then
maps z-scores to [-1, 1]. Translators train for a fixed number of epochs (there is no validation DSC to stop on); the
weights are saved after every epoch to ``translator.pt``, from which an interrupted run resumes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from cmedl_bench.config import Preset
from cmedl_bench.data.preprocessing import PreparedVolume
from cmedl_bench.data.slices import TumourSliceSampler
from cmedl_bench.engine import distributed
from cmedl_bench.engine.batches import draw_batch
from cmedl_bench.engine.devices import seed_epoch
from cmedl_bench.trainers.checkpointing import resume_training_state, save_training_state
from cmedl_bench.translator import Translator, to_unit_range


def fit_translator(translator: Translator, cbct: list[PreparedVolume], mri: list[PreparedVolume], preset: Preset,
                   seed: int, checkpoint: Path,
                   on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
                   on_step: Callable[[int, int], None] | None = None) -> list[dict[str, float]]:
    crop = preset.translator_crop_size
    samplers = {"cbct": TumourSliceSampler(cbct, crop), "mri": TumourSliceSampler(mri, crop)}
    batch_size = preset.translator_batch_size
    steps = preset.steps_per_epoch or math.ceil(max(map(len, samplers.values())) / batch_size)
    history: list[dict[str, float]] = []
    if not translator.trainable:  # nothing to learn: no epochs, no losses, no learning curves
        return history
    start = 0
    distributed.synchronise(translator.modules(), translator.optimizers(), translator.device)
    state = resume_training_state(checkpoint, translator, translator.device)
    if state is not None:
        history, start = list(state["history"]), int(state["epoch"]) + 1
    for epoch in range(start, preset.translator_epochs):
        rng, generator = seed_epoch(seed, 7, epoch)
        translator.train(True)
        totals: dict[str, float] = {}
        for step in range(steps):
            batch = draw_batch(samplers, batch_size, rng, generator, translator.device, preset.augment)
            local = distributed.shard(batch)
            losses = translator.train_step(to_unit_range(local["cbct"]), to_unit_range(local["mri"]))
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + value
            if on_step:
                on_step(step + 1, steps)
        row = {"epoch": epoch, **{f"train_{k}": float(v) / steps for k, v in totals.items()}}
        history.append(row)
        if distributed.is_main():
            save_training_state(checkpoint, translator, epoch=epoch, history=history)
        distributed.barrier()
        if on_epoch:
            on_epoch(epoch, preset.translator_epochs, row)
    return history


def fit_translator_first(translator: Translator, train: dict[str, list[PreparedVolume]], preset: Preset, seed: int,
                         checkpoint: Path, progress=None) -> None:
    """Stage one of a two-stage fusion (its ``before_fit``): train the translator on its own on the unpaired
    training cohorts ``train["cbct"]`` and ``train["mri"]`` with :func:`fit_translator` (resumable from
    ``checkpoint``) when it learns, showing an epoch bar on ``progress`` (a reporter, or None), then freeze it in
    evaluation mode."""
    if translator.trainable:
        if progress is None:
            fit_translator(translator, train["cbct"], train["mri"], preset, seed, checkpoint)
        else:
            with progress.task("training translator (stage 1)", total=preset.translator_epochs) as task:
                fit_translator(translator, train["cbct"], train["mri"], preset, seed, checkpoint,
                               on_epoch=lambda epoch, total, row: task.update(completed=epoch + 1))
    translator.train(False)
    translator.set_requires_grad(tuple(translator.modules()), False)
