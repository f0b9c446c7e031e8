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
        "notes": list(registry.notes),  # names offered twice, deprecated forms a plugin still uses
    }


def _plain(value: Any) -> Any:
    """An info field as JSON data: tuples become lists, mappings dicts, callables their name."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return getattr(value, "__name__", repr(value)) if callable(value) else value


#: the record ``data synth`` leaves in a folder it wrote: which generator, and every file it wrote
SYNTH_RECORD = ".cmedl-bench-synth.json"


def _files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink())


def _not_generated(out: Path) -> str | None:
    """Why a non-empty folder is not one that ``data synth`` wrote and may replace: no record of the generator, or
    files the generator did not write (a user's notes, an imported dataset sharing the folder)."""
    import json

    try:
        written = set(json.loads((out / SYNTH_RECORD).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"no {SYNTH_RECORD} says that data synth wrote it"
    foreign = [name for name in _files_under(out) if name != SYNTH_RECORD and name not in written]
    if foreign:
        return f"it holds {len(foreign)} file(s) that data synth did not write: {', '.join(foreign[:3])}"
    return None


def require_replaceable(out: Path, overwrite: bool = False) -> None:
    """A generator writes a whole folder and replaces what was there: only a missing or empty folder, or one that
    ``data synth`` wrote and that holds nothing else (its :data:`SYNTH_RECORD` lists every file), may be that folder;
    anything else only with ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise CmedlError(f"{out} is a file; give a folder to write the dataset into")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        reason = _not_generated(out)
        if reason:
            raise CmedlError(f"{out} is a folder with other content ({reason}); give a new or empty folder, or "
                             f"--overwrite to replace it and everything in it")


def synth(reporter: Reporter, out: Path, dataset: str = "phantom", seed: int = 0, size: str = "full",
          options: dict[str, str] | None = None, preview: bool = False, overwrite: bool = False) -> Path:
    """Write a dataset plugin's data into ``out``; ``options`` are ``--option KEY=VALUE`` texts for the options the
    dataset declares; ``preview`` adds ``preview.png``. The data are written into a staging folder beside ``out``
    and swapped in only when complete, so a failure leaves ``out`` as it was."""
    import shutil

    from cmedl_bench.data.cache import disk_size_mb
    from cmedl_bench.io.atomic import atomic_write_json
    from cmedl_bench.io.staging import new_staging
    from cmedl_bench.selection import dataset_options, options_of

    component = get_registry().get("dataset", dataset)
    sizes = component.info.sizes
    if sizes and size not in sizes:
        raise CmedlError(f"dataset {dataset!r} has no size {size!r}; sizes: {', '.join(sizes)}")
    chosen = dataset_options(component, options_of(component, options or {}))
    out = Path(out)
    require_replaceable(out, overwrite)
    staging = new_staging(out.parent, f".{out.name}.synth-")
    try:
        target = staging / "data"
        with reporter.task(f"writing {dataset}") as task:
            component.factory(target, seed=seed, size=size, progress=task.tick, **chosen)
        if preview:
            from cmedl_bench.data.preview import plot_preview

            plot_preview(target, target / "preview.png")
        atomic_write_json(target / SYNTH_RECORD, {
            "dataset": dataset, "distribution": component.distribution, "version": component.version, "seed": seed,
            "size": size, "options": chosen, "files": _files_under(target)})
        if out.exists():
            out.rename(staging / "replaced")
        target.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    reporter.message(f"wrote {dataset} ({size}) into {out}: {disk_size_mb(out):.0f} MB")
    return out


def check_data(reporter: Reporter, dataset: Path):
    """Every dataset check (:mod:`cmedl_bench.data.checks`); returns the report."""
    from cmedl_bench.data.checks import check_dataset

    with reporter.task("checking") as task:
        return check_dataset(Path(dataset), progress=task.tick)


def import_data(reporter: Reporter, dataset: Path, dicom: Path | None = None, roi: str = "GTV*",
                images: Path | None = None, labels: Path | None = None, label: str | None = None,
                cohort: str = "cbct", patient: str | None = None, patient_pattern: str | None = None,
                case: str | None = None, overwrite: bool = False, series: str | None = None,
                resample_slices: bool = False, resample_tilt: bool = False, patient_per_case: bool = False,
                nnunet: Path | None = None):
    """Import DICOM + RTSTRUCT (``dicom``), image files + label maps (``images``, ``labels``) or an nnU-Net v2 raw
    dataset (``nnunet``) into ``dataset``."""
    from cmedl_bench.data.importing import import_dicom, import_images
    from cmedl_bench.data.nnunet import import_nnunet

    with reporter.task("importing") as task:
        if nnunet is not None:
            imported, notes = import_nnunet(Path(nnunet), Path(dataset), label, patient_pattern, overwrite, task.tick,
                                            patient_per_case)
            for note in notes:
                reporter.message(note)
            return imported
        if dicom is not None:
            return import_dicom(Path(dicom), Path(dataset), cohort, roi, patient, case, overwrite, task.tick, series,
                                resample_slices, resample_tilt)
        return import_images(Path(images), Path(labels), Path(dataset), cohort, label, patient_pattern, overwrite,
                             task.tick, patient_per_case)
