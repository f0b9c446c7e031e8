"""The data verbs: ``plugins`` (what is installed), ``data synth``, ``data check`` and ``data import``."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Mapping

from cmedl_bench.errors import CmedlError
from cmedl_bench.registry import get_registry
from cmedl_bench.stages.progress import Reporter


def list_plugins() -> dict[str, Any]:
    """Installed components and broken plugins, as plain data (no torch import)."""
    registry = get_registry()
    return {
        "components": [
            {"kind": c.kind, "name": c.name, "description": c.description, "distribution": c.distribution,
             "version": c.version, "plugin": c.plugin,
             "info": {f.name: _plain(getattr(c.info, f.name)) for f in fields(c.info)}}
            for c in registry.all()
        ],
        "broken": [asdict(b) for b in registry.broken],
    }


def _plain(value: Any) -> Any:
    """An info field as JSON data: tuples become lists, mappings dicts, callables their name."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return getattr(value, "__name__", repr(value)) if callable(value) else value


def require_replaceable(out: Path) -> None:
    """A generator writes a whole folder and replaces what was there: only a missing or empty folder, or an earlier
    dataset (one with a ``dataset.json``), may be that folder."""
    if out.exists() and not out.is_dir():
        raise CmedlError(f"{out} is a file; give a folder to write the dataset into")
    if out.is_dir() and any(out.iterdir()) and not (out / "dataset.json").is_file():
        raise CmedlError(f"{out} is a folder with other content; give a new or empty folder (a generated dataset "
                         f"there would replace everything in it)")


def synth(reporter: Reporter, out: Path, dataset: str = "phantom", seed: int = 0, size: str = "full",
          options: dict[str, str] | None = None) -> Path:
    """Write a dataset plugin's data into ``out``; ``options`` are ``--option KEY=VALUE`` texts for the options the
    dataset declares."""
    from cmedl_bench.selection import dataset_options, options_of

    component = get_registry().get("dataset", dataset)
    sizes = component.info.sizes
    if sizes and size not in sizes:
        raise CmedlError(f"dataset {dataset!r} has no size {size!r}; sizes: {', '.join(sizes)}")
    chosen = dataset_options(component, options_of(component, options or {}))
    require_replaceable(Path(out))
    from cmedl_bench.data.cache import disk_size_mb

    with reporter.task(f"writing {dataset}") as task:
        component.factory(Path(out), seed=seed, size=size, progress=task.tick, **chosen)
    reporter.message(f"wrote {dataset} ({size}) into {out}: {disk_size_mb(Path(out)):.0f} MB")
    return Path(out)


def check_data(reporter: Reporter, dataset: Path):
    """Every dataset check (:mod:`cmedl_bench.data.checks`); returns the report."""
    from cmedl_bench.data.checks import check_dataset

    with reporter.task("checking") as task:
        return check_dataset(Path(dataset), progress=task.tick)


def import_data(reporter: Reporter, dataset: Path, dicom: Path | None = None, roi: str = "GTV*",
                images: Path | None = None, labels: Path | None = None, label: str | None = None,
                cohort: str = "cbct", patient: str | None = None, patient_pattern: str | None = None,
                case: str | None = None, overwrite: bool = False, series: str | None = None,
                resample_slices: bool = False):
    """Import DICOM + RTSTRUCT (``dicom``) or image files + label maps (``images``, ``labels``) into ``dataset``."""
    from cmedl_bench.data.importing import import_dicom, import_images

    with reporter.task("importing") as task:
        if dicom is not None:
            return import_dicom(Path(dicom), Path(dataset), cohort, roi, patient, case, overwrite, task.tick, series,
                                resample_slices)
        return import_images(Path(images), Path(labels), Path(dataset), cohort, label, patient_pattern, overwrite,
                             task.tick)
