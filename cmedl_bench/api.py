"""The functions behind the CLI verbs; notebooks and CI call them too.

Progress and messages go to stderr (rich); return values are plain data. Every training verb follows the same
life cycle: resolve and validate everything (plugins, device, dataset, geometry) before a run folder is created;
skip a finished run with the same configuration hash; resume an unfinished one; record how the run ended.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cmedl_bench.config import RunConfig, require_seed, resolve_preset
from cmedl_bench.errors import CmedlError, DatasetError
from cmedl_bench.io.checkpoints import CorruptFileError
from cmedl_bench.plugins import Registry, get_registry
from cmedl_bench.selection import Selection, select

stderr = Console(stderr=True)
DEFAULT_RESULTS = Path("cmedl-results")


def _progress(quiet: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=stderr, disable=quiet, transient=False)


def list_plugins() -> dict[str, Any]:
    """Installed components and broken plugins, as plain data (no torch import)."""
    registry = get_registry()
    return {
        "components": [
            {"kind": c.kind, "name": c.name, "description": c.description, "distribution": c.distribution,
             "version": c.version, "plugin": c.plugin,
             "capabilities": {k: list(v) if isinstance(v, tuple) else v for k, v in c.capabilities.items()}}
            for c in registry.all()
        ],
        "broken": [asdict(b) for b in registry.broken],
    }


def synth(out: Path, dataset: str = "phantom", seed: int = 0, size: str = "full", quiet: bool = False) -> Path:
    """Generate a dataset plugin's data into ``out``."""
    component = get_registry().get("dataset", dataset)
    sizes = component.capabilities.get("sizes")
    if sizes and size not in sizes:
        raise CmedlError(f"dataset {dataset!r} has no size {size!r}; sizes: {', '.join(sizes)}")
    with _progress(quiet) as progress:
        task = progress.add_task(f"writing {dataset}", total=None, info="")
        component.factory(Path(out), seed=seed, size=size,
                          progress=lambda total: progress.update(task, total=total, advance=1))
    return Path(out)


def check_data(dataset: Path, quiet: bool = False):
    """Every dataset check (see :mod:`cmedl_bench.data.checks`); returns the report."""
    from cmedl_bench.data.checks import check_dataset

    with _progress(quiet) as progress:
        task = progress.add_task("checking", total=None, info="")
        return check_dataset(Path(dataset), progress=lambda total: progress.update(task, total=total, advance=1))


def import_data(dataset: Path, dicom: Path | None = None, roi: str = "GTV*", images: Path | None = None,
                labels: Path | None = None, label: str | None = None, cohort: str = "cbct", patient: str | None = None,
                patient_pattern: str | None = None, case: str | None = None, overwrite: bool = False,
                quiet: bool = False, series: str | None = None, resample_slices: bool = False):
    """Import DICOM + RTSTRUCT (``dicom``) or image files + label maps (``images``, ``labels``) into ``dataset``."""
    from cmedl_bench.data.importing import import_dicom, import_images

    with _progress(quiet) as progress:
        task = progress.add_task("importing", total=None, info="")
        advance = (lambda total: progress.update(task, total=total, advance=1))
        if dicom is not None:
            return import_dicom(Path(dicom), Path(dataset), cohort, roi, patient, case, overwrite, advance, series,
                                resample_slices)
        return import_images(Path(images), Path(labels), Path(dataset), cohort, label, patient_pattern, overwrite,
                             advance)


# --------------------------------------------------------------------------------------------- shared life cycle


class _Run:
    """Resolved inputs of one training run, built before anything is written."""

    def __init__(self, registry: Registry, selection, config: RunConfig, device, index, results: Path):
        self.registry, self.selection, self.config, self.device, self.index = registry, selection, config, device, index
        self.dir = Path(results) / config.run_id
        self.timings: dict[str, float] = {}
        self.record: dict[str, Any] = {}


def _device(requested: str | None):
    import torch

    from cmedl_bench.engine.devices import select_device

    try:
        dev = select_device(requested)
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError) as exc:
        raise CmedlError(f"device {requested!r} is not usable: {str(exc).splitlines()[0]}") from None
    return dev


def _open(selection, registry: Registry, *, translator: str, segmenter: str, fusion: str, dataset: str,
          data: Path | None, preset: str | None, seed: int, device: str | None, overrides, options, results: Path,
          quiet: bool) -> _Run:
    from cmedl_bench.data.cache import ensure_dataset
    from cmedl_bench.data.checks import require_clean
    from cmedl_bench.data.layout import load_index

    from cmedl_bench.engine.distributed import device_for_rank, init_from_environment, world_size

    require_seed(seed)
    if Path(results).exists() and not Path(results).is_dir():
        raise CmedlError(f"--results {results} is a file; it must be a folder (created if absent)")
    init_from_environment()  # under torchrun
    dev = _device(device_for_rank(device))
    resolved = resolve_preset(preset, dev.type == "cuda", overrides)
    user_data = data is not None
    if not user_data:
        with _progress(quiet) as progress:
            task = progress.add_task(f"generating {dataset} (first use)", total=None, info="")
            data = ensure_dataset(selection.dataset, 0, resolved.dataset_size,
                                  progress=lambda total: progress.update(task, total=total, advance=1))
    config = RunConfig(translator=translator, segmenter=segmenter, fusion=fusion, dataset=dataset,
                       dataset_version=None if user_data else selection.dataset.capabilities.get("version"),
                       data_path=str(Path(data).resolve()) if user_data else None, seed=seed, preset=resolved,
                       options={k: v for k, v in (options or {}).items() if v is not None}, device_type=dev.type,
                       processes=world_size())
    with _progress(quiet) as progress:
        task = progress.add_task("checking the dataset", total=None, info="")
        require_clean(Path(data), progress=lambda total: progress.update(task, total=total, advance=1))
    index = load_index(Path(data))
    return _Run(registry, selection, config, dev, index, results)


@contextmanager
def _claimed(run: _Run, force: bool, quiet: bool) -> Iterator[dict[str, Any] | None]:
    """Hold the run folder's lock (rank 0; a second identical run waits, then finds the first one's result) and
    yield its previous record. A corrupt ``run.json`` is an error that names it, unless ``force`` starts afresh."""
    from cmedl_bench.engine.distributed import is_main
    from cmedl_bench.data.cache import run_folder_lock
    from cmedl_bench.io.locks import exclusive
    from cmedl_bench.results.records import read_record

    def waiting(holder: str) -> None:
        stderr.print(f"waiting: process {escape(holder)} is running this configuration in {escape(str(run.dir))}",
                     highlight=False, soft_wrap=True)

    with exclusive(run_folder_lock(run.dir), waiting) if is_main() else nullcontext():
        try:
            previous = read_record(run.dir)
        except CorruptFileError:
            if not force:
                raise
            previous = None
        yield previous


def _cases(index, cohort: str, split: str, limit: int | None = None):
    cases = index.split_cases(cohort, split)
    if not cases:
        raise DatasetError(f"{index.root}: the {cohort.upper()} cohort has no {split} cases in splits.json")
    return cases[:limit] if limit else cases


def _prepare(groups: dict[str, list], preset, quiet: bool, min_depth: int = 1) -> dict[str, list]:
    """Read and preprocess every case of every group (this is where broken files are found)."""
    from cmedl_bench.data.layout import read_volume
    from cmedl_bench.data.preprocessing import prepare

    prepared: dict[str, list] = {}
    with _progress(quiet) as progress:
        task = progress.add_task("reading and preprocessing", total=sum(map(len, groups.values())), info="")
        for name, cases in groups.items():
            prepared[name] = []
            for case in cases:
                prepared[name].append(prepare(read_volume(case), preset.spacing_xy_mm, preset.crop_size, min_depth))
                progress.advance(task)
            if name.endswith("train") and not any(len(p.tumour_slices) for p in prepared[name]):
                raise DatasetError(f"no {name.replace('_', ' ')} case contains tumour voxels")
    return prepared


def _start(run: _Run, previous: dict[str, Any] | None, force: bool, stale: tuple[str, ...]) -> None:
    from cmedl_bench.engine.distributed import barrier, is_main
    from cmedl_bench.results.records import new_record, write_record

    run.record = new_record(run.config, run.selection, run.index, run.device, run.registry)
    if not is_main():  # in data-parallel training only rank 0 writes
        barrier()
        return
    if force:
        for name in stale:
            (run.dir / name).unlink(missing_ok=True)
    run.dir.mkdir(parents=True, exist_ok=True)
    if previous:
        run.record["resumed_from_status"] = previous.get("status")
    write_record(run.dir, run.record)
    barrier()


def _guarded(run: _Run, body: Callable[[], None]) -> dict[str, Any]:
    """Run ``body``; whatever happens, run.json says how the run ended."""
    from cmedl_bench.engine.distributed import is_main
    from cmedl_bench.results.records import now, write_record

    try:
        body()
    except KeyboardInterrupt:
        run.record.update(status="interrupted", ended=now())
        if is_main():
            write_record(run.dir, run.record)
        raise
    except BaseException as exc:
        run.record.update(status="failed", ended=now(), error=f"{type(exc).__name__}: {exc}",
                          traceback=traceback.format_exc(limit=20))
        if is_main():
            write_record(run.dir, run.record)
        raise
    return run.record


def _already_finished(run: _Run, previous: dict[str, Any] | None, force: bool) -> bool:
    if previous and previous.get("status") == "finished" and not force:
        stderr.print(f"[green]already finished:[/] {escape(str(run.dir))} (use --force to retrain)", highlight=False,
                     soft_wrap=True)
        return True
    return False


# --------------------------------------------------------------------------------------------- run


def run(translator: str = "cx", segmenter: str = "unet", fusion: str = "hint", dataset: str = "phantom",
        data: Path | None = None, preset: str | None = None, seed: int = 0, results: Path = DEFAULT_RESULTS,
        device: str | None = None, overrides: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
        force: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train one combination and score it on the validation and test splits; returns the run record.

    A finished run with the same configuration hash is returned as it is (``force`` retrains); an unfinished one is
    resumed from its last checkpoint.
    """
    registry = get_registry()
    selection = select(registry, translator, segmenter, fusion, dataset)  # fails before any heavy work
    options = options if translator != "none" else None
    quiet = quiet or int(os.environ.get("RANK", "0")) > 0  # in data-parallel training rank 0 shows progress
    tic = time.perf_counter()
    run_ = _open(selection, registry, translator=translator, segmenter=segmenter, fusion=fusion,
                 dataset=dataset, data=data, preset=preset, seed=seed, device=device, overrides=overrides,
                 options=options, results=results, quiet=quiet)
    with _claimed(run_, force, quiet) as previous:
        if _already_finished(run_, previous, force):
            return previous
        p = run_.config.preset
        cohorts = tuple(selection.fusion.capabilities.get("cohorts", ("cbct",)))
        groups = {"train": _cases(run_.index, "cbct", "train")}
        if "mri" in cohorts:
            groups["mri_train"] = _cases(run_.index, "mri", "train")
        groups |= {"val": _cases(run_.index, "cbct", "val", p.max_val_cases),
                   "test": _cases(run_.index, "cbct", "test", p.max_test_cases)}
        three_d = selection.segmenter.capabilities.get("dims", 2) == 3
        prepared = _prepare(groups, p, quiet, min_depth=p.patch_depth if three_d else 1)
        train = {"cbct": prepared["train"], "mri": prepared.get("mri_train", [])}
        run_.timings["data_s"] = time.perf_counter() - tic
        _start(run_, previous, force, ("last.pt", "best.pt", "translator.pt"))

        def body() -> None:
            from cmedl_bench.engine import distributed
            from cmedl_bench.engine.devices import peak_memory, reset_peak_memory, seed_everything
            from cmedl_bench.engine.performance import optimise
            from cmedl_bench.fusion import FusionSpec

            seed_everything(seed)
            reset_peak_memory(run_.device)
            fusion_obj = selection.fusion.factory(FusionSpec(selection.segmenter, selection.translator, p, run_.device,
                                                             dict(run_.config.options)))
            optimise(fusion_obj.modules(), run_.device, p.compile)
            distributed.synchronise(fusion_obj.modules(), fusion_obj.optimizers(), run_.device)
            run_.record["translator"] = fusion_obj.translator_info
            tic = time.perf_counter()
            with _progress(quiet) as progress:
                fusion_obj.before_fit(train, seed, run_.dir, progress)
            fit_result = _fit(fusion_obj, train, prepared["val"], p, seed, run_.dir, quiet)
            run_.timings["train_s"] = time.perf_counter() - tic
            if not distributed.is_main():  # rank 0 scores and writes the results
                return
            tic = time.perf_counter()
            rows, run_.record["reference"] = _evaluate(fusion_obj, prepared, p, run_.dir, run_.config.run_id,
                                                       registry, quiet)
            run_.timings["evaluate_s"] = time.perf_counter() - tic
            run_.record["training"] = {"best_epoch": fit_result.best_epoch, "best_val_dsc": fit_result.best_val_dsc,
                                       "epochs_run": len(fit_result.history), "stopped_early": fit_result.stopped_early}
            run_.record["performance"] = {"train_slices_per_s": fit_result.slices_per_second,
                                          **peak_memory(run_.device)}
            _finish(run_, rows, fit_result.history, {"best_checkpoint": "best.pt", "last_checkpoint": "last.pt",
                                                     "predictions": "predictions/"})

        return _guarded(run_, body)


def run_parallel(processes: int, **run_kwargs: Any) -> dict[str, Any]:
    """:func:`run` as ``processes`` data-parallel processes, one per GPU (on CPU, gloo processes: for testing);
    returns rank 0's run record. See :mod:`cmedl_bench.engine.distributed`."""
    from cmedl_bench.engine.devices import select_device
    from cmedl_bench.engine.distributed import launch

    cuda = select_device(run_kwargs.get("device")).type == "cuda"
    preset = resolve_preset(run_kwargs.get("preset"), cuda, run_kwargs.get("overrides"))
    batches = {"batch_size": preset.batch_size}
    if run_kwargs.get("translator", "none") != "none":
        batches["translator_batch_size"] = preset.translator_batch_size
    for name, size in batches.items():
        if size % processes:
            raise CmedlError(f"--gpus {processes}: the {preset.name} preset's {name} ({size}) cannot be "
                             f"split over {processes} processes; use a divisor of it")
    return launch(processes, cuda, _run_one_rank, run_kwargs)


def _run_one_rank(run_kwargs: dict[str, Any]) -> dict[str, Any]:
    return run(**run_kwargs)


def _fit(fusion_obj, train, val, preset, seed, run_dir, quiet):
    from cmedl_bench.engine.fit import fit

    with _progress(quiet) as progress:
        epochs = progress.add_task("training", total=preset.max_epochs, info="")
        steps = progress.add_task("  epoch", total=None, info="")

        def on_step(step, total):
            progress.update(steps, completed=step, total=total)

        def on_epoch(epoch, total, row):
            progress.update(epochs, completed=epoch + 1, info=f"{_losses(row)} val DSC {row['val_dsc']:.3f}")

        result = fit(fusion_obj, train, val, preset, seed, run_dir, on_epoch, on_step)
        progress.update(epochs, completed=preset.max_epochs)
    if result.stopped_early:
        stderr.print(f"early stop: best validation DSC {result.best_val_dsc:.3f} at epoch {result.best_epoch + 1}")
    return result


def _losses(row: dict[str, float]) -> str:
    return "loss " + " ".join(f"{k[6:]}={v:.3f}" for k, v in row.items() if k.startswith("train_"))


def _evaluate(fusion_obj, prepared, preset, run_dir, run_id, registry, quiet) -> list[dict[str, Any]]:
    from cmedl_bench.data.identifiers import inside
    from cmedl_bench.data.layout import write_on_source_grid
    from cmedl_bench.io.checkpoints import load_checkpoint
    from cmedl_bench.scoring import ReferenceFingerprint, score_case

    best = load_checkpoint(run_dir / "best.pt", fusion_obj.device)
    fusion_obj.load_weights(best["weights"])
    fusion_obj.train(False)
    metrics = registry.metric_functions("segmentation")
    rows = []
    work = [(split, p) for split in ("val", "test") for p in prepared[split]]
    fingerprint = ReferenceFingerprint()
    for split, p in work:
        fingerprint.add(split, p.volume.case.case_id, p.volume.label)
    with _progress(quiet) as progress:
        task = progress.add_task("scoring", total=len(work) * len(fusion_obj.heads), info="")
        for head in fusion_obj.heads:
            for split, p in work:
                probability = fusion_obj.predict_probability(head, p)
                mask = (probability > 0.5).astype("uint8")
                volume = p.volume
                write_on_source_grid(inside(run_dir, run_dir / "predictions" / head / f"{volume.case.case_id}.nii.gz"),
                                     mask, volume)
                for name, value in score_case(metrics, mask, volume.label, volume.spacing_zyx).items():
                    rows.append({"run_id": run_id, "split": split, "case": volume.case.case_id, "head": head,
                                 "metric": name, "value": value.value, "flag": value.flag})
                progress.advance(task)
    translator = getattr(fusion_obj, "translator", None)
    if translator is not None and prepared.get("mri_train"):
        rows += _kl_rows(translator.to_mri, prepared, preset, fusion_obj.device, run_id, registry, "translator",
                         quiet)
    return rows, fingerprint.digests()


def _kl_rows(convert, prepared, preset, device, run_id, registry, head, quiet, on_volume=None, baseline=None):
    """KL of pseudo-MRI to the MRI training cohort's intensities (paper III.D), per validation and test case;
    with ``baseline`` (a head name), also of the raw CBCT; ``on_volume(split, volume, pmri)`` sees every
    translated volume."""
    import numpy as np

    from cmedl_bench.engine.translate import body_values, translate_volume, unit_values

    kl = registry.metric_functions("translation")
    reference = np.concatenate([unit_values(v) for v in prepared["mri_train"]])
    rows = []
    work = [(split, v) for split in ("val", "test") for v in prepared[split]]
    with _progress(quiet) as progress:
        task = progress.add_task("translating and scoring", total=len(work), info="")
        for split, volume in work:
            pmri = translate_volume(convert, volume, preset.crop_size, device)
            scored = [(head, body_values(pmri, volume))] + ([(baseline, unit_values(volume))] if baseline else [])
            for scored_head, values in scored:
                for name, fn in kl.items():
                    value = fn(values, reference)
                    rows.append({"run_id": run_id, "split": split, "case": volume.volume.case.case_id,
                                 "head": scored_head, "metric": name, "value": value.value, "flag": value.flag})
            if on_volume:
                on_volume(split, volume, pmri)
            progress.advance(task)
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, SD and count per split, head and metric; counts of flagged (rule-set) values."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    summary: dict[str, Any] = {}
    for (split, head, metric), group in frame.groupby(["split", "head", "metric"], sort=True):
        values = group["value"].astype(float)
        summary.setdefault(split, {}).setdefault(head, {})[metric] = {
            "mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "n": int(len(values)), "flagged": int(group["flag"].notna().sum())}
    return summary


def _finish(run: _Run, rows: list[dict[str, Any]], history: list[dict[str, float]], files: dict[str, str]) -> None:
    from cmedl_bench.io.atomic import atomic_write_text
    from cmedl_bench.results.figures import plot_learning_curves
    from cmedl_bench.results.records import now, write_record, write_rows

    write_rows(run.dir, rows)
    atomic_write_text(run.dir / "history.json", json.dumps(history, indent=2))
    if history:
        plot_learning_curves(history, run.dir / "learning_curves.png")
    run.timings["total_s"] = sum(run.timings.values())
    run.record.update(status="finished", ended=now(), timings=run.timings, summary=summarise(rows),
                      files={"per_case": "per_case.parquet", "history": "history.json",
                             "learning_curves": "learning_curves.png", **files})
    write_record(run.dir, run.record)


# --------------------------------------------------------------------------------------------- translate


def translate(translator: str = "cx", dataset: str = "phantom", data: Path | None = None, preset: str | None = None,
              seed: int = 0, results: Path = DEFAULT_RESULTS, device: str | None = None,
              overrides: dict[str, Any] | None = None, options: dict[str, Any] | None = None, force: bool = False,
              quiet: bool = False) -> dict[str, Any]:
    """Train a translator alone on the CBCT and MRI training cohorts, save its generators (``translator.pt``) and
    score translation quality: KL of pseudo-MRI (and, as the baseline, of raw CBCT) against real MRI, per
    validation and test CBCT case."""
    registry = get_registry()
    component = registry.get("translator", translator)
    selection = Selection(fusion=None, segmenter=None, translator=component, dataset=registry.get("dataset", dataset))
    tic = time.perf_counter()
    run_ = _open(selection, registry, translator=translator, segmenter="none", fusion="translate",
                 dataset=dataset, data=data, preset=preset, seed=seed, device=device, overrides=overrides,
                 options=options, results=results, quiet=quiet)
    with _claimed(run_, force, quiet) as previous:
        if _already_finished(run_, previous, force):
            return previous
        p = run_.config.preset
        prepared = _prepare({"cbct_train": _cases(run_.index, "cbct", "train"),
                             "mri_train": _cases(run_.index, "mri", "train"),
                             "val": _cases(run_.index, "cbct", "val", p.max_val_cases),
                             "test": _cases(run_.index, "cbct", "test", p.max_test_cases)}, p, quiet)
        run_.timings["data_s"] = time.perf_counter() - tic
        _start(run_, previous, force, ("translator.pt",))

        def body() -> None:
            from cmedl_bench.engine.devices import seed_everything

            seed_everything(seed)
            from cmedl_bench.engine import distributed
            from cmedl_bench.engine.performance import optimise
            from cmedl_bench.translator import build_translator

            model = build_translator(component, p, run_.device, run_.config.options)
            optimise(model.modules(), run_.device, p.compile)
            run_.record["translator"] = model.info
            tic = time.perf_counter()
            history = _fit_translator(model, prepared["cbct_train"], prepared["mri_train"], p, seed,
                                      run_.dir / "translator.pt", quiet)
            run_.timings["train_s"] = time.perf_counter() - tic
            if not distributed.is_main():
                return
            tic = time.perf_counter()
            rows = _score_translation(model, prepared, p, run_, quiet)
            run_.timings["evaluate_s"] = time.perf_counter() - tic
            _finish(run_, rows, history, {"translator": "translator.pt", "examples": "translation_examples.png"})

        return _guarded(run_, body)


def _fit_translator(model, cbct, mri, preset, seed, checkpoint, quiet):
    from cmedl_bench.engine.translate import fit_translator

    with _progress(quiet) as progress:
        epochs = progress.add_task("training translator", total=preset.translator_epochs, info="")
        steps = progress.add_task("  epoch", total=None, info="")
        history = fit_translator(
            model, cbct, mri, preset, seed, checkpoint,
            on_epoch=lambda epoch, total, row: progress.update(epochs, completed=epoch + 1, info=_losses(row)),
            on_step=lambda step, total: progress.update(steps, completed=step, total=total))
        progress.update(epochs, completed=preset.translator_epochs)
    return history


def _score_translation(model, prepared, preset, run: _Run, quiet) -> list[dict[str, Any]]:
    """KL of pseudo-MRI (head ``pmri``) and, as the baseline, of raw CBCT (head ``cbct``) to real MRI; a grid of
    examples from different test patients."""
    from cmedl_bench.results.figures import plot_translation_grid

    model.train(False)
    examples = []

    def collect_example(split, volume, pmri):
        patient = volume.volume.case.patient
        if split == "test" and len(examples) < 4 and patient not in {e["patient"] for e in examples}:
            examples.append(_example(model, volume, pmri, preset, run.device) | {"patient": patient})

    rows = _kl_rows(model.to_mri, prepared, preset, run.device, run.config.run_id, run.registry, "pmri", quiet,
                    collect_example, baseline="cbct")
    if examples:
        plot_translation_grid(examples, run.dir / "translation_examples.png")
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
    return {"cbct": cbct[:h, :w], "pmri": pmri[z, :h, :w], "reconstructed": reconstructed[0, :h, :w].numpy(),
            "mask": volume.label[z, :h, :w], "title": f"{volume.volume.case.case_id} z={z}"}


# --------------------------------------------------------------------------------------------- sweep


def sweep(suite_name: str = "paper", seeds: tuple[int, ...] = (0,), rows: list[tuple[str, str, str]] | None = None,
          launcher: str = "local", launcher_options: dict[str, str] | None = None, **run_kwargs: Any):
    """Run every row of a suite (or the given rows) for every seed with a launcher plugin; returns one
    :class:`cmedl_bench.launch.JobOutcome` per job. Finished runs (same config hash) are skipped and unfinished ones
    resumed, so an interrupted sweep continues where it stopped; a failed job does not stop the others."""
    from cmedl_bench.launch import Job
    from cmedl_bench.suites import suite

    grid = rows if rows is not None else suite(suite_name)
    for seed in seeds:
        require_seed(seed)
    registry = get_registry()
    dataset = run_kwargs.get("dataset", "phantom")
    for translator, segmenter, fusion in grid:  # every row is checked before the first one trains
        select(registry, translator, segmenter, fusion, dataset)
    component = registry.get("launcher", launcher)
    allowed = set(component.capabilities.get("options", ()))
    unknown = set(launcher_options or {}) - allowed
    if unknown:
        raise CmedlError(f"launcher {launcher!r} has no option(s) {', '.join(sorted(unknown))}; options: "
                         f"{', '.join(sorted(allowed)) or 'none'}")
    results = Path(run_kwargs.pop("results", DEFAULT_RESULTS)).resolve()
    jobs = [Job(f"{t}+{s}+{f} seed {seed}", {"translator": t, "segmenter": s, "fusion": f, "seed": seed,
                                             "results": results, **run_kwargs},
                results / "_logs" / f"{t}-{s}-{f}-s{seed}.log")
            for seed in seeds for t, s, f in grid]
    return component.factory(dict(launcher_options or {})).launch(jobs)


# --------------------------------------------------------------------------------------------- sensitivity


def sensitivity(run_dir: Path, head: str | None = None, passes: int = 10, rate: float = 0.5, seed: int = 0,
                quiet: bool = False) -> dict[str, Any]:
    """Test-time dropout (paper III.E) on a finished run: ``passes`` predictions per test case with dropout at
    ``rate`` on the weights of the head network's last two layers; per-case DSC spread and the mean SD (mSD).
    Writes ``sensitivity.json`` and ``sensitivity.png`` into the run folder."""
    from cmedl_bench.analysis.sensitivity import run_sensitivity
    from cmedl_bench.results.records import read_record

    run_dir = Path(run_dir)
    record = read_record(run_dir)
    if record is None or record.get("status") != "finished":
        raise CmedlError(f"{run_dir} is not a finished run folder (no run.json with status finished)")
    if not 0 < rate < 1 or passes < 2:
        raise CmedlError("--rate must be in (0, 1) and --passes at least 2")
    return run_sensitivity(run_dir, record, head, passes, rate, seed, quiet, _progress(quiet))


# --------------------------------------------------------------------------------------------- evaluate


def evaluate(pred: Path, ref: Path, name: str, results: Path = DEFAULT_RESULTS, splits: tuple[str, ...] = ("test",),
             label: int | None = None, quiet: bool = False) -> dict[str, Any]:
    """Score a folder of predicted masks made by any tool against reference masks (matched by case id) with the
    metric plugins, and store the result as a run folder that ``report`` ranks beside trained runs. Missing,
    extra and mis-registered cases are recorded under ``problems`` and printed, never fatal."""
    import hashlib
    import re

    from cmedl_bench.evaluation import load_reference, score_predictions
    from cmedl_bench.results.records import (SCHEMA_VERSION, git_revision, metric_definitions, now, package_versions,
                                             write_record, write_rows)

    if not name.strip():
        raise CmedlError("--name must not be empty")
    if Path(results).exists() and not Path(results).is_dir():
        raise CmedlError(f"--results {results} is a file; it must be a folder (created if absent)")
    registry = get_registry()
    reference = load_reference(Path(ref), splits)
    config = {"method": name, "pred": str(Path(pred).resolve()), "ref": reference.dataset["path"],
              "splits": list(splits), "label": label}
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "method"
    run_id = f"external-{slug}-{config_hash[:8]}"
    started, tic = now(), time.perf_counter()
    with _progress(quiet) as progress:
        task = progress.add_task("scoring predictions", total=len(reference.cases), info="")
        rows, used, problems, fingerprint = score_predictions(
            Path(pred), reference, registry.metric_functions("segmentation"), label,
            on_case=lambda: progress.advance(task))
    if not used:
        raise CmedlError(f"no prediction in {pred} could be scored: " + "; ".join(problems.lines()))
    for line in problems.lines():
        stderr.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
    rows = [{"run_id": run_id, **row} for row in rows]
    run_dir = Path(results) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_rows(run_dir, rows)
    record = {"schema_version": SCHEMA_VERSION, "kind": "evaluation", "run_id": run_id, "status": "finished",
              "started": started, "ended": now(), "method": {"name": name}, "config": config,
              "config_hash": config_hash, "seed": None, "dataset": reference.dataset, "reference": fingerprint,
              "metrics": metric_definitions(registry), "git": git_revision(), "versions": package_versions(),
              "problems": {"missing": problems.missing, "extra": problems.extra, "geometry": problems.geometry,
                           "unreadable": problems.unreadable, "reoriented": problems.reoriented},
              "prediction_files": used, "timings": {"evaluate_s": time.perf_counter() - tic},
              "summary": summarise(rows), "files": {"per_case": "per_case.parquet"}}
    write_record(run_dir, record)
    return record


# --------------------------------------------------------------------------------------------- report


def report(paths: list[Path], reference: str | None = None, alpha: float = 0.05):
    """Collect finished run folders and build the leaderboard (see :mod:`cmedl_bench.results.leaderboard`)."""
    from cmedl_bench.results.collect import collect
    from cmedl_bench.results.leaderboard import build_leaderboard

    for path in paths:
        if not Path(path).exists():
            raise CmedlError(f"results folder {path} does not exist")
    collection = collect([Path(p) for p in paths])
    if not collection.runs:
        reasons = "; ".join(f"{p}: {r}" for p, r in collection.excluded[:3])
        raise CmedlError(f"no finished run under {', '.join(map(str, paths))}" + (f" ({reasons})" if reasons else ""))
    return build_leaderboard(collection, reference, alpha)


def check_thresholds(board, thresholds: dict[str, float]) -> list[str]:
    """Rows whose mean test DSC is below the given floor (a CI regression guard); unknown labels are an error."""
    failures = []
    for label, floor in thresholds.items():
        row = board.row(label)
        if row.test_dsc is None or row.test_dsc < floor:
            shown = "none" if row.test_dsc is None else f"{row.test_dsc:.3f}"
            failures.append(f"{row.label}: mean test DSC {shown} is below {floor:g}")
    return failures
