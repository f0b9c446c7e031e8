"""A dataset that serves scans from a folder (option ``source``) in the cmedl-bench layout.

``source`` holds ``cbct/images``, ``cbct/labels`` and, for fusions that train on MRI, ``mri/images``,
``mri/labels``: one image file per scan and a label map of the same name (0 background, 1 tumour; any
SimpleITK-readable format). The patient of a scan is the part of its file name before the first ``_``
(``P007_week2.nii.gz`` -> ``P007``), so the weekly scans of one patient stay in one split. CBCT patients are split
60/20/20 into train/val/test by a seeded shuffle; every MRI patient trains.

cmedl-bench caches what this writes by the option's text (the path), not by the folder's content: after changing
files inside the same source folder, remove its entry under ``datasets/folder-v1-*`` in the cache folder.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from cmedl_bench.plugin import DatasetError, image_path, label_path, write_meta

ENDINGS = (".nii.gz", ".nii", ".nrrd", ".mha")


def _scans(folder: Path) -> dict[str, tuple[Path, Path, str]]:
    """Case id -> (image, label, file ending) for each image in ``folder/images`` with a label in
    ``folder/labels``."""
    found = {}
    for image in sorted((folder / "images").glob("*")):
        ending = next((e for e in ENDINGS if image.name.endswith(e)), None)
        if ending is None:
            continue
        label = folder / "labels" / image.name
        if not label.is_file():
            raise DatasetError(f"{image} has no label map {label}")
        found[image.name[: -len(ending)]] = (image, label, ending)
    return found


def _split(patients: list[str], seed: int) -> dict[str, list[str]]:
    order = sorted(patients)
    random.Random(seed).shuffle(order)
    n_val = n_test = max(1, round(0.2 * len(order)))
    return {"test": sorted(order[:n_test]), "val": sorted(order[n_test:n_test + n_val]),
            "train": sorted(order[n_test + n_val:])}


def serve(root, seed: int = 0, size: str = "full", progress=None, source: str = "") -> Path:
    """Copy the scans of ``source`` into ``root`` in the cmedl-bench layout; returns ``root``."""
    source_path = Path(source).expanduser()
    if not source or not (source_path / "cbct" / "images").is_dir():
        raise DatasetError(f"dataset 'folder' needs --option source=FOLDER with cbct/images and cbct/labels "
                           f"(given {source!r})")
    scans = {cohort: _scans(source_path / cohort) if (source_path / cohort / "images").is_dir() else {}
             for cohort in ("cbct", "mri")}
    endings = {ending for found in scans.values() for (_, _, ending) in found.values()}
    if len(endings) != 1:
        raise DatasetError(f"{source_path}: the scans must share one file format, found {sorted(endings) or 'none'}")
    ending, root, total = endings.pop(), Path(root), sum(map(len, scans.values()))
    cohorts, splits = {}, {}
    for cohort, found in scans.items():
        for case_id, (image, label, _) in found.items():
            for src, dst in ((image, image_path(root, cohort, case_id, ending)),
                             (label, label_path(root, cohort, case_id, ending))):
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
            if progress:
                progress(total)
        cases = {case_id: {"patient": case_id.split("_")[0]} for case_id in found}
        cohorts[cohort] = {"modality": cohort.upper(), "cases": cases}
        patients = sorted({c["patient"] for c in cases.values()})
        splits[cohort] = _split(patients, seed) if cohort == "cbct" else {"train": patients, "val": [], "test": []}
    write_meta(root, {"name": "folder", "version": 1, "description": f"scans served from {source_path}",
                      "file_ending": ending, "labels": {"background": 0, "tumour": 1}, "cohorts": cohorts}, splits)
    return root
