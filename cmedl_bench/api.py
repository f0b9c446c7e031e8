"""The functions behind the CLI verbs; notebooks and CI call them too.

Progress and messages go to stderr (rich); return values are plain data.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cmedl_bench.config import RunConfig, resolve_preset
from cmedl_bench.errors import CmedlError, DatasetError
from cmedl_bench.plugins import get_registry
from cmedl_bench.selection import select

stderr = Console(stderr=True)


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


def _split_or_fail(index, split: str, limit: int | None):
    cases = index.split_cases("cbct", split)
    if not cases:
        raise DatasetError(f"{index.root}: the CBCT cohort has no {split} cases in splits.json")
    return cases[:limit] if limit else cases


def run(translator: str = "none", segmenter: str = "unet", fusion: str = "none", dataset: str = "phantom",
        data: Path | None = None, preset: str | None = None, seed: int = 0, results: Path = Path("cmedl-results"),
        device: str | None = None, overrides: dict[str, Any] | None = None, force: bool = False,
        quiet: bool = False) -> dict[str, Any]:
    """Train one combination and score it on the test split; returns the run record.

    A finished run with the same configuration hash is returned as it is (``force`` retrains); an unfinished one is
    resumed from its last checkpoint.
    """
    registry = get_registry()
    selection = select(registry, translator, segmenter, fusion, dataset)  # fails before any heavy work

    import torch

    from cmedl_bench.data.cache import ensure_dataset
    from cmedl_bench.data.layout import load_index
    from cmedl_bench.engine.devices import seed_everything, select_device
    from cmedl_bench.results.records import read_record

    try:
        dev = select_device(device)
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError) as exc:
        raise CmedlError(f"device {device!r} is not usable: {str(exc).splitlines()[0]}") from None
    resolved = resolve_preset(preset, dev.type == "cuda", overrides)
    timings: dict[str, float] = {}
    tic = time.perf_counter()
    user_data = data is not None
    if not user_data:
        with _progress(quiet) as progress:
            task = progress.add_task(f"generating {dataset} (first use)", total=None, info="")
            data = ensure_dataset(selection.dataset, 0, resolved.dataset_size,
                                  progress=lambda total: progress.update(task, total=total, advance=1))
    config = RunConfig(translator=translator, segmenter=segmenter, fusion=fusion, dataset=dataset,
                       dataset_version=None if user_data else selection.dataset.capabilities.get("version"),
                       data_path=str(Path(data).resolve()) if user_data else None, seed=seed, preset=resolved)
    run_dir = Path(results) / config.run_id
    previous = read_record(run_dir)
    if previous and previous.get("status") == "finished" and not force:
        stderr.print(f"[green]already finished:[/] {run_dir} (use --force to retrain)")
        return previous
    index = load_index(Path(data))
    splits = {name: _split_or_fail(index, name, limit) for name, limit in
              (("train", None), ("val", resolved.max_val_cases), ("test", resolved.max_test_cases))}
    prepared = _prepare_all(splits, resolved, progress_quiet=quiet)
    timings["data_s"] = time.perf_counter() - tic

    if force and run_dir.exists():
        for stale in ("last.pt", "best.pt"):
            (run_dir / stale).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    record = _new_record(config, selection, index, dev, registry)
    if previous:
        record["resumed_from_status"] = previous.get("status")
    _write(run_dir, record)
    try:
        seed_everything(seed)
        from cmedl_bench.fusion import FusionSpec

        fusion_obj = selection.fusion.factory(FusionSpec(selection.segmenter, selection.translator, resolved, dev))
        tic = time.perf_counter()
        fit_result = _fit(fusion_obj, prepared, resolved, seed, run_dir, quiet)
        timings["train_s"] = time.perf_counter() - tic
        tic = time.perf_counter()
        rows = _evaluate(fusion_obj, prepared, resolved, run_dir, config.run_id, registry, quiet)
        timings["evaluate_s"] = time.perf_counter() - tic
        _finish(run_dir, record, fit_result, rows, timings)
    except KeyboardInterrupt:
        record.update(status="interrupted", ended=_now())
        _write(run_dir, record)
        raise
    except BaseException as exc:
        record.update(status="failed", ended=_now(), error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=20))
        _write(run_dir, record)
        raise
    return record


def _now() -> str:
    from cmedl_bench.results.records import now

    return now()


def _write(run_dir: Path, record: dict[str, Any]) -> None:
    from cmedl_bench.results.records import write_record

    write_record(run_dir, record)


def _prepare_all(splits, preset, progress_quiet: bool):
    from cmedl_bench.data.layout import read_volume
    from cmedl_bench.data.preprocessing import prepare

    total = sum(len(cases) for cases in splits.values())
    prepared = {}
    with _progress(progress_quiet) as progress:
        task = progress.add_task("reading and preprocessing CBCT", total=total, info="")
        for split, cases in splits.items():
            prepared[split] = []
            for case in cases:
                prepared[split].append(prepare(read_volume(case), preset.spacing_xy_mm, preset.crop_size))
                progress.advance(task)
    if not any(len(p.tumour_slices) for p in prepared["train"]):
        raise DatasetError("no CBCT training case contains tumour voxels")
    return prepared


def _new_record(config: RunConfig, selection, index, dev, registry) -> dict[str, Any]:
    import torch

    from cmedl_bench.results.records import SCHEMA_VERSION, git_revision, now, package_versions

    metrics = {c.name: {"definition": c.capabilities.get("definition"), "unit": c.capabilities.get("unit"),
                        "higher_is_better": c.capabilities.get("higher_is_better"), "distribution": c.distribution,
                        "version": c.version} for c in registry.components["metric"].values()}
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": config.run_id,
        "status": "running",
        "started": now(),
        "config": config.to_dict(),
        "config_hash": config.hash(),
        "seed": config.seed,
        "plugins": selection.provenance(),
        "dataset": {"name": index.name, "version": index.version, "path": str(index.root),
                    "generator": index.meta.get("generator")},
        "metrics": metrics,
        "git": git_revision(),
        "versions": package_versions() | {"cuda": torch.version.cuda},
        "device": {"type": dev.type, "name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                   "threads": torch.get_num_threads()},
    }


def _fit(fusion_obj, prepared, preset, seed, run_dir, quiet):
    from cmedl_bench.engine.fit import fit

    with _progress(quiet) as progress:
        epochs = progress.add_task("training", total=preset.max_epochs, info="")
        steps = progress.add_task("  epoch", total=None, info="")

        def on_step(step, total):
            progress.update(steps, completed=step, total=total)

        def on_epoch(epoch, total, row):
            losses = " ".join(f"{k[6:]}={v:.3f}" for k, v in row.items() if k.startswith("train_"))
            progress.update(epochs, completed=epoch + 1, info=f"loss {losses} val DSC {row['val_dsc']:.3f}")

        result = fit(fusion_obj, prepared["train"], prepared["val"], preset, seed, run_dir, on_epoch, on_step)
        progress.update(epochs, completed=preset.max_epochs)
    if result.stopped_early:
        stderr.print(f"early stop: best validation DSC {result.best_val_dsc:.3f} at epoch {result.best_epoch + 1}")
    return result


def _evaluate(fusion_obj, prepared, preset, run_dir, run_id, registry, quiet) -> list[dict[str, Any]]:
    import torch

    from cmedl_bench.data.layout import write_volume
    from cmedl_bench.engine.inference import predict_probability
    from cmedl_bench.scoring import score_case

    best = torch.load(run_dir / "best.pt", map_location=fusion_obj.device, weights_only=True)
    fusion_obj.load_weights(best["weights"])
    fusion_obj.train(False)
    metrics = {c.name: c.factory() for c in registry.components["metric"].values()}
    rows = []
    work = [(split, p) for split in ("val", "test") for p in prepared[split]]
    with _progress(quiet) as progress:
        task = progress.add_task("scoring", total=len(work) * len(fusion_obj.heads), info="")
        for head in fusion_obj.heads:
            for split, p in work:
                probability = predict_probability(lambda x: fusion_obj.predict_logits(head, x), p,
                                                  preset.crop_size, fusion_obj.device)
                mask = (probability > 0.5).astype("uint8")
                volume = p.volume
                write_volume(run_dir / "predictions" / head / f"{volume.case.case_id}.nii.gz", mask,
                             volume.spacing_zyx, volume.origin, volume.direction)
                for name, value in score_case(metrics, mask, volume.label, volume.spacing_zyx).items():
                    rows.append({"run_id": run_id, "split": split, "case": volume.case.case_id, "head": head,
                                 "metric": name, "value": value.value, "flag": value.flag})
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


def _finish(run_dir, record, fit_result, rows, timings) -> None:
    import json

    from cmedl_bench.data.layout import atomic_write_text
    from cmedl_bench.results.records import now, plot_learning_curves, write_rows

    write_rows(run_dir, rows)
    atomic_write_text(run_dir / "history.json", json.dumps(fit_result.history, indent=2))
    if fit_result.history:
        plot_learning_curves(fit_result.history, run_dir / "learning_curves.png")
    timings["total_s"] = sum(timings.values())
    record.update(status="finished", ended=now(), timings=timings, summary=summarise(rows),
                  training={"best_epoch": fit_result.best_epoch, "best_val_dsc": fit_result.best_val_dsc,
                            "epochs_run": len(fit_result.history), "stopped_early": fit_result.stopped_early},
                  files={"per_case": "per_case.parquet", "best_checkpoint": "best.pt", "last_checkpoint": "last.pt",
                         "history": "history.json", "learning_curves": "learning_curves.png",
                         "predictions": "predictions/"})
    _write(run_dir, record)
