"""``translate``: train a CBCT <-> MRI translator alone on the two unpaired training cohorts, save its generators
(``translator.pt``) and score translation quality: KL of pseudo-MRI (head ``pmri``) and, as the baseline, of raw
CBCT (head ``cbct``) against real MRI, and the fidelity metrics at the tumour (against the aligned true MRI where
the dataset has it), per validation and test CBCT case; a grid of examples."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cmedl_bench.registry import get_registry
from cmedl_bench.request import RunRequest
from cmedl_bench.results.run_record import Head
from cmedl_bench.selection import Selection
from cmedl_bench.stages.inputs import RunInputs, aligned_cases, open_run, prepare_groups, run_record, split_cases
from cmedl_bench.stages.progress import Reporter
from cmedl_bench.stages.run_folder import RunFolder
from cmedl_bench.stages.scoring import translation_rows
from cmedl_bench.stages.training import losses_text


def translate(reporter: Reporter, request: RunRequest) -> dict[str, Any]:
    registry = get_registry()
    component = registry.get("translator", request.translator)
    selection = Selection(fusion=None, segmenter=None, translator=component,
                          dataset=registry.get("dataset", request.dataset))
    tic = time.perf_counter()
    inputs = open_run(selection, registry, reporter, request, (request.translator, "none", "translate"))
    force = request.force
    folder = RunFolder(inputs.run_dir, reporter)
    with folder.claim(force) as previous:
        if folder.already_finished(previous, force):
            return previous
        p, index = inputs.config.preset, inputs.index
        groups = {"cbct_train": split_cases(index, "cbct", "train"), "mri_train": split_cases(index, "mri", "train"),
                  "val": split_cases(index, "cbct", "val", p.max_val_cases),
                  "test": split_cases(index, "cbct", "test", p.max_test_cases)}
        scored = groups["val"] + groups["test"]  # scored against their aligned MRI where the dataset has it
        prepared = prepare_groups(groups, p, reporter, aligned=aligned_cases(index, selection, scored, fidelity=True))
        folder.timings["data_s"] = time.perf_counter() - tic
        folder.start(run_record(inputs, "translation"), previous, force, ("translator.pt",))
        return folder.guarded(lambda: _train_and_score(inputs, prepared, folder, reporter))


def _train_and_score(inputs: RunInputs, prepared: dict[str, list], folder: RunFolder, reporter: Reporter) -> None:
    from cmedl_bench.engine import distributed
    from cmedl_bench.engine.devices import seed_everything
    from cmedl_bench.engine.performance import tune_for_device
    from cmedl_bench.translator import build_translator

    config, p = inputs.config, inputs.config.preset
    seed_everything(config.seed)
    model = build_translator(inputs.selection.translator, p, inputs.device, config.options)
    tune_for_device(model.modules(), inputs.device, p.compile)
    folder.record["translator"] = model.info
    tic = time.perf_counter()
    history = _fit(model, prepared["cbct_train"], prepared["mri_train"], p, config.seed,
                   folder.path / "translator.pt", reporter)
    folder.timings["train_s"] = time.perf_counter() - tic
    if not distributed.is_main():
        return
    tic = time.perf_counter()
    rows = [{"run_id": config.run_id, **row} for row in _score(model, prepared, inputs, folder.path, reporter)]
    folder.timings["evaluate_s"] = time.perf_counter() - tic
    files = {"translator": "translator.pt", "examples": "translation_examples.png"}
    folder.finish(rows, history, {k: v for k, v in files.items() if (folder.path / v).exists()})


def _fit(model, cbct, mri, preset, seed, checkpoint, reporter: Reporter):
    from cmedl_bench.trainers.translator_trainer import fit_translator

    with reporter.task("training translator", total=preset.translator_epochs) as epochs, \
            reporter.task("  epoch") as steps:
        history = fit_translator(
            model, cbct, mri, preset, seed, checkpoint,
            on_epoch=lambda epoch, total, row: epochs.update(completed=epoch + 1, info=losses_text(row)),
            on_step=lambda step, total: steps.update(completed=step, total=total))
        epochs.update(completed=preset.translator_epochs)
    return history


def _score(model, prepared, inputs: RunInputs, run_dir: Path, reporter: Reporter) -> list[dict[str, Any]]:
    from cmedl_bench.results.figures import plot_translation_grid
    from cmedl_bench.translator import Translator

    model.train(False)
    examples: list[dict[str, Any]] = []
    preset = inputs.config.preset

    reconstructs = type(model).to_cbct is not Translator.to_cbct  # a one-directional translator has no examples

    def collect_example(split, volume, pmri):
        patient = volume.volume.case.patient
        if reconstructs and split == "test" and len(examples) < 4 and patient not in {e["patient"] for e in examples}:
            examples.append(_example(model, volume, pmri, preset, inputs.device) | {"patient": patient})

    rows = translation_rows(model.pseudo_mri, prepared, preset, inputs.device, inputs.registry,
                            Head.PSEUDO_MRI.value, reporter, collect_example, baseline=Head.CBCT.value)
    if examples:
        plot_translation_grid(examples, run_dir / "translation_examples.png")
    return rows


def _example(model, volume, pmri, preset, device) -> dict[str, Any]:
    """The slice with the most tumour: CBCT, pseudo-MRI and CBCT reconstructed from the pseudo-MRI."""
    import numpy as np
    import torch

    from cmedl_bench.engine.inference import sliding_window
    from cmedl_bench.translator import to_unit_range

    z = int(np.argmax(volume.label.reshape(volume.label.shape[0], -1).sum(1)))
    h, w = volume.resampled_hw
    with torch.no_grad():
        reconstructed = sliding_window(model.to_cbct, torch.from_numpy(pmri[z:z + 1]), preset.crop_size, device)
    cbct = to_unit_range(torch.from_numpy(volume.image[z])).numpy()
    return {Head.CBCT: cbct[:h, :w], Head.PSEUDO_MRI: pmri[z, :h, :w],
            "reconstructed": reconstructed[0, :h, :w].numpy(), "mask": volume.label[z, :h, :w],
            "title": f"{volume.volume.case.case_id} z={z}"}
