"""``run``: train one translator + segmenter + fusion combination and score it on the validation and test splits.

The run folder is named by the configuration hash; a finished one is returned as it is (``force`` retrains) and an
unfinished one resumes from its last checkpoint (:mod:`cmedl_bench.stages.run_folder`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cmedl_bench.config import resolve_preset
from cmedl_bench.errors import CmedlError
from cmedl_bench.registry import get_registry
from cmedl_bench.request import RunRequest
from cmedl_bench.results.run_record import Head
from cmedl_bench.selection import requires_aligned_mri, select
from cmedl_bench.stages.inputs import (RunInputs, aligned_cases, case_map, open_run, prepare_groups, run_record,
                                      split_cases)
from cmedl_bench.stages.progress import Reporter
from cmedl_bench.stages.run_folder import RunFolder
from cmedl_bench.stages.scoring import case_rows, translation_rows

STALE_FILES = ("last.pt", "best.pt", "translator.pt")


def run(reporter: Reporter, request: RunRequest) -> dict[str, Any]:
    """Train and score one combination; returns the run record. The request's component options are checked
    against the options the selected components declare (:func:`cmedl_bench.selection.component_options`)."""
    registry = get_registry()
    selection = select(registry, request.translator, request.segmenter, request.fusion, request.dataset)
    tic = time.perf_counter()
    inputs = open_run(selection, registry, reporter, request)
    force = request.force
    folder = RunFolder(inputs.run_dir, reporter)
    with folder.claim(force) as previous:
        if folder.already_finished(previous, force):
            return previous
        prepared = _read_splits(inputs, reporter)
        folder.timings["data_s"] = time.perf_counter() - tic
        folder.start(run_record(inputs, "training"), previous, force, STALE_FILES)
        return folder.guarded(lambda: _train_and_score(inputs, prepared, folder, reporter))


def _read_splits(inputs: RunInputs, reporter: Reporter) -> dict[str, list]:
    p, index, selection = inputs.config.preset, inputs.index, inputs.selection
    groups = {"train": split_cases(index, "cbct", "train")}
    if "mri" in selection.fusion.info.cohorts:
        groups["mri_train"] = split_cases(index, "mri", "train")
    groups |= {"val": split_cases(index, "cbct", "val", p.max_val_cases),
               "test": split_cases(index, "cbct", "test", p.max_test_cases)}
    three_d = selection.segmenter.info.dims == 3
    # aligned MRI where it is read: every split for a component that needs it (a reference row), else the
    # validation scans only, for a fusion's diagnostic heads (scoring attaches the test scans' for fidelity)
    reading = ("train", "val", "test") if requires_aligned_mri(selection) else ("val",)
    cbct = [case for name in reading for case in groups[name]]
    return prepare_groups(groups, p, reporter, min_depth=p.patch_depth if three_d else 1,
                          aligned=aligned_cases(index, selection, cbct))


def _train_and_score(inputs: RunInputs, prepared: dict[str, list], folder: RunFolder, reporter: Reporter) -> None:
    from cmedl_bench.engine import distributed
    import torch

    from cmedl_bench.engine.devices import peak_memory, reset_peak_memory, seed_everything
    from cmedl_bench.engine.performance import tune_for_device
    from cmedl_bench.stages.building import build_fusion

    config, p, device = inputs.config, inputs.config.preset, inputs.device
    threads = torch.get_num_threads()  # as open_run set them (--threads)
    train = {"cbct": prepared["train"], "mri": prepared.get("mri_train", [])}
    seed_everything(config.seed)
    reset_peak_memory(device)
    fusion = build_fusion(config.fusion, config.segmenter, config.translator, p, device, config.options,
                          inputs.registry)
    tune_for_device(fusion.modules(), device, p.compile)
    distributed.synchronise(fusion.modules(), fusion.optimizers(), device)
    folder.record["translator"] = fusion.translator_info
    main = distributed.is_main()  # one log per run: data-parallel ranks other than 0 log nothing
    loggers = [component.factory(folder.path, folder.record) for component in inputs.loggers] if main else []
    folder.record["loggers"] = [component.name for component in inputs.loggers]
    tic = time.perf_counter()
    fusion.before_fit(train, config.seed, folder.path, reporter)
    fit_result = _fit(fusion, train, prepared["val"], p, config.seed, folder.path, reporter, loggers)
    folder.timings["train_s"] = time.perf_counter() - tic
    del train, prepared["train"]  # scoring reads the CBCT validation and test scans (and MRI training intensities)
    if not main:  # rank 0 scores and writes the results
        return
    tic = time.perf_counter()
    central = {case for case, entry in case_map(inputs.index).items() if entry.get("location") == "central"}
    scored = [v.volume.case for v in prepared["val"] + prepared["test"]]
    fidelity = aligned_cases(inputs.index, inputs.selection, scored, fidelity=True) if config.translator != "none" \
        else {}
    rows, folder.record["reference"] = predict_and_score(fusion, prepared, p, folder.path, inputs.registry, reporter,
                                                         central, fidelity)
    rows = [{"run_id": config.run_id, **row} for row in rows]
    folder.timings["evaluate_s"] = time.perf_counter() - tic
    folder.record["training"] = {"best_epoch": fit_result.best_epoch, "best_val_dsc": fit_result.best_val_dsc,
                                 "epochs_run": len(fit_result.history), "stopped_early": fit_result.stopped_early}
    folder.record["performance"] = {"train_slices_per_s": fit_result.slices_per_second, "threads": threads,
                                    **peak_memory(device)}
    files = {"best_checkpoint": "best.pt", "last_checkpoint": "last.pt", "predictions": "predictions/"}
    folder.finish(rows, fit_result.history, files | ({"chain": CHAIN_FIGURE} if (folder.path / CHAIN_FIGURE).is_file()
                                                     else {}))
    for logger in loggers:
        logger.finish(folder.record)


def _fit(fusion, train, val, preset, seed, run_dir, reporter: Reporter, loggers=()):
    from cmedl_bench.trainers import fusion_trainer

    def on_epoch(epoch: int, total: int, row: dict[str, float]) -> None:
        epochs.update(completed=epoch + 1, info=f"{losses_text(row)} {validation_text(row)}")
        for logger in loggers:
            logger.epoch(epoch + 1, {k: v for k, v in row.items() if k != "epoch"})

    with reporter.task("training", total=preset.max_epochs) as epochs, reporter.task("  epoch") as steps:
        result = fusion_trainer.fit(fusion, train, val, preset, seed, run_dir, on_epoch=on_epoch,
                                    on_step=lambda step, total: steps.update(completed=step, total=total))
        epochs.update(completed=preset.max_epochs)
    if result.stopped_early:
        reporter.message(f"early stop: best validation DSC {result.best_val_dsc:.3f} at epoch {result.best_epoch + 1}")
    return result


def losses_text(row: dict[str, float]) -> str:
    return "loss " + " ".join(f"{k[6:]}={v:.3f}" for k, v in row.items() if k.startswith("train_"))


def validation_text(row: dict[str, float]) -> str:
    heads = {k[8:]: v for k, v in row.items() if k.startswith("val_dsc_")}
    if not heads:
        return f"val DSC {row['val_dsc']:.3f}"
    return "val DSC " + " ".join(f"{head}={value:.3f}" for head, value in heads.items())


def predict_and_score(fusion, prepared, preset, run_dir: Path, registry, reporter: Reporter,
                      central: set[str] | frozenset = frozenset(), fidelity: dict[str, Any] | None = None
                      ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """With the best checkpoint: every head's mask of every validation and test case, written on the scan's own
    grid and scored; the translator's rows (KL, fidelity, the latter against the aligned MRI of ``fidelity``: case
    id -> aligned case, attached only now, so that a fusion that does not read aligned MRI never sees it); the
    fingerprint of the reference masks. With a translator, :data:`CHAIN_FIGURE` shows up to three ``central`` test
    cases (one per patient): CBCT, pseudo-MRI and the true MRI where the dataset has it, with the reference and every
    head's prediction."""
    from cmedl_bench.data.identifiers import inside
    from cmedl_bench.data.layout import write_on_source_grid
    from cmedl_bench.io.checkpoints import load_checkpoint
    from cmedl_bench.scoring import ReferenceFingerprint

    fusion.load_weights(load_checkpoint(run_dir / "best.pt", fusion.device, required={"weights": dict})["weights"])
    fusion.train(False)
    metrics = registry.metric_functions()
    rows: list[dict[str, Any]] = []
    work = [(split, p) for split in ("val", "test") for p in prepared[split]]
    fingerprint = ReferenceFingerprint()
    for split, p in work:
        fingerprint.add(split, p.volume.case.case_id, p.volume.label)
    translator = getattr(fusion, "translator", None)
    chosen = _chain_cases(prepared["test"], central) if translator is not None else []
    masks: dict[str, dict[str, Any]] = {}
    with reporter.task("scoring", total=len(work) * len(fusion.heads)) as task:
        for head in fusion.heads:
            for split, p in work:
                mask = (fusion.predict_probability(head, p) > 0.5).astype("uint8")
                volume = p.volume
                if split == "test" and volume.case.case_id in chosen:
                    masks.setdefault(volume.case.case_id, {})[head] = mask
                path = inside(run_dir, run_dir / "predictions" / head / f"{volume.case.case_id}.nii.gz")
                write_on_source_grid(path, mask, volume)
                rows += case_rows(metrics, split, volume.case.case_id, head, mask, volume.label, volume.spacing_zyx)
                task.advance()
    if translator is not None and prepared.get("mri_train"):
        _attach_aligned([p for split in ("val", "test") for p in prepared[split]], fidelity or {})
        examples: list[dict[str, Any]] = []

        def collect(split, volume, pmri):
            if split == "test" and volume.volume.case.case_id in chosen:
                examples.append(_chain_example(volume, pmri, masks[volume.volume.case.case_id]))

        rows += translation_rows(translator.pseudo_mri, prepared, preset, fusion.device, registry, Head.TRANSLATOR,
                                 reporter, collect)
        if examples:
            from cmedl_bench.results.figures import plot_chain

            plot_chain(examples, run_dir / CHAIN_FIGURE)
    return rows, fingerprint.digests()


def _attach_aligned(volumes: list, aligned: dict[str, Any]) -> None:
    from cmedl_bench.data.layout import read_volume
    from cmedl_bench.data.preprocessing import with_aligned

    for prepared in volumes:
        partner = aligned.get(prepared.volume.case.case_id)
        if prepared.aligned is None and partner is not None:
            with_aligned(prepared, read_volume(partner))


#: the chain figure of a run with a translator (``run.json`` ``files.chain``)
CHAIN_FIGURE = "chain.png"


def _chain_cases(test: list, central: set[str], count: int = 3) -> list[str]:
    """Up to ``count`` central test cases, one per patient."""
    chosen, patients = [], set()
    for prepared in test:
        case = prepared.volume.case
        if case.case_id in central and case.patient not in patients and len(chosen) < count:
            chosen.append(case.case_id)
            patients.add(case.patient)
    return chosen


def _chain_example(prepared, pmri, masks: dict[str, Any]) -> dict[str, Any]:
    """The slice with the most tumour on the working grid: CBCT, pseudo-MRI and true MRI in [-1, 1], the reference
    and each head's mask (cut and resampled from the original grid as the image was)."""
    import numpy as np
    import torch

    from cmedl_bench.data.preprocessing import resize_slices
    from cmedl_bench.translator import to_unit_range

    h, w = prepared.resampled_hw
    y0, y1, x0, x1 = prepared.bbox
    z = int(np.argmax(prepared.label.reshape(prepared.label.shape[0], -1).sum(1)))

    def unit(array):
        return None if array is None else to_unit_range(torch.from_numpy(array[z, :h, :w])).numpy()

    on_grid = {head: resize_slices(mask[z:z + 1, y0:y1, x0:x1], (h, w), order=0)[0] for head, mask in masks.items()}
    return {Head.CBCT: unit(prepared.image), Head.PSEUDO_MRI: pmri[z, :h, :w], Head.MRI: unit(prepared.aligned),
            "reference": prepared.label[z, :h, :w], "masks": on_grid,
            "title": f"{prepared.volume.case.case_id} z={z}"}


def check_parallel(processes: int, request: RunRequest, cuda: bool) -> None:
    """Refuse, before any process starts, a data-parallel run whose global batches cannot be split evenly."""
    preset = resolve_preset(request.preset, cuda, request.overrides)
    batches = {"batch_size": preset.batch_size}
    if request.translator != "none":
        batches["translator_batch_size"] = preset.translator_batch_size
    for name, size in batches.items():
        if size % processes:
            raise CmedlError(f"--gpus {processes}: the {preset.name} preset's {name} ({size}) cannot be split over "
                             f"{processes} processes; use a divisor of it")
