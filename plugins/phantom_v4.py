"""Synthetic thorax phantom, version 4 (the default): phantom v3's patients and CBCT scans, unchanged to the voxel,
with what a benchmark needs to say *why* a method wins or loses (docs/reference.md §3):

- **Aligned MRI** (cohort ``mri-aligned``): for every CBCT scan, the T2w MRI of the same patient, the same week and
  the same tissue map, rendered on the CBCT grid (the v3 T2w model, its own noise generator, so the CBCT stays
  v3's). Its case ids and labels are the CBCT's. Only the reference rows (MRI oracle, oracle translator) and the
  translation-fidelity metrics read it; no CMEDL row sees it.
- **A true null** (``phantom-mri-null``): on every MRI of the control (the unpaired cohort and the aligned one) the
  tumour's voxels take the tissue the tumour displaced (:func:`cmedl_bench_plugins.phantom_v3.displaced_tissue`),
  so MRI shows nothing of the tumour against any neighbour: soft tissue, blood, fat or lung. (v3's null gave the
  tumour the mediastinal soft tissue's signal, which still stood out against blood and fat.)
- **Tissue maps** (``CASE`` of ``cbct/tissuesTr`` and ``mri/tissuesTr``): the tissue under each voxel without the
  tumour, so ``data contrast`` measures the tumour against each neighbour class (soft tissue, blood, fat, lung).
- **Location from the anatomy**: a case is ``central`` when at least :data:`CENTRAL_MEDIASTINAL_FRACTION` of its
  tumour volume lies in mediastinal tissue (:data:`MEDIASTINAL_TISSUES`: the tissue the tumour displaced), else
  ``peripheral``; recorded per case with that ``mediastinal_fraction``. v3 labelled by the placement drawn, and
  about half its "peripheral" tumours (placed near the hilum, as v2 placed them) lay mostly in the mediastinum.
- **More training patients on request** (dataset option ``train_patients``): the same validation and test patients,
  and a training cohort of that many patients: fewer are a nested subset of the standard ones (a seeded order, so 4
  training patients are among the 8), more add new patients after the last id. The CBCT-ceiling and learning-curve
  rows use it.

Splits, seeds and every v3 image are unchanged, so v4 results on CBCT are comparable with v3's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmedl_bench_plugins.phantom import (_COHORT_CODE, AORTA, FAT, HEART, LUNG, MEDIASTINUM, MUSCLE, TUMOUR, VESSEL,
                                         render_dataset)
from cmedl_bench_plugins.phantom_v3 import (CENTRAL_FRACTION, HILAR_VESSEL, HU_V3, LYMPH_NODE, MEDIASTINAL_FAT,
                                            OESOPHAGUS, SIZES, _geometries, _PatientV3, _plan, displaced_tissue,
                                            render_cbct, render_t2w)

VERSION = 4
ALIGNED = "mri-aligned"
#: tissues of the mediastinum: what a tumour displaces when it grows there
MEDIASTINAL_TISSUES = (MEDIASTINUM, HEART, AORTA, MEDIASTINAL_FAT, LYMPH_NODE, OESOPHAGUS, HILAR_VESSEL)
CENTRAL_MEDIASTINAL_FRACTION = 0.5
#: the neighbour classes of the tissue maps (``data contrast`` measures the tumour against each)
TISSUE_CLASSES = {"soft tissue": [MUSCLE, MEDIASTINUM, LYMPH_NODE, OESOPHAGUS], "blood": [HEART, AORTA, VESSEL,
                                                                                        HILAR_VESSEL],
                  "fat": [FAT, MEDIASTINAL_FAT], "lung": [LUNG]}
_ALIGNED_CODE = 3  # generator stream of the aligned MRI (CBCT 1, MRI 2)
_SUBSET_CODE, _EXTRA_CODE = 101, 102


def mediastinal_fraction(displaced: np.ndarray, tumour: np.ndarray) -> float:
    """Share of the tumour's voxels that displaced mediastinal tissue (0 for an empty tumour)."""
    inside = displaced[tumour.astype(bool)]
    return float(np.isin(inside, MEDIASTINAL_TISSUES).mean()) if inside.size else 0.0


def location(fraction: float) -> str:
    """The location rule (module docstring)."""
    return "central" if fraction >= CENTRAL_MEDIASTINAL_FRACTION else "peripheral"


def _scans(seed: int, size: str, cohort: str, patient_id: str, central: bool, weeks: int, mri_null: bool,
           isodense: bool = False):
    """Yield (week, image, tumour, displaced tissue, aligned MRI or None) of every scan of one patient. The image
    and the anatomy come from the patient's v3 generator; the aligned MRI (CBCT patients) from its own."""
    grid, spacing, _ = _geometries(size)[cohort]
    number = int(patient_id[1:])
    rng = np.random.default_rng([seed, _COHORT_CODE[cohort], number])
    patient = _PatientV3(rng, grid[0].shape[0] * spacing[0], central)
    for week in range(weeks):
        displaced, tumour = displaced_tissue(patient, rng, grid, week)
        tissue = displaced.copy()
        tissue[tumour] = TUMOUR
        mri_tissue = displaced if mri_null else tissue
        aligned = None
        if cohort == "cbct":
            image = render_cbct(tissue, HU_V3[MEDIASTINUM] if isodense else patient.tumour_hu, rng, spacing)
            aligned = render_t2w(mri_tissue, np.random.default_rng([seed, _ALIGNED_CODE, number, week]), grid,
                                 mri_null=False)
        else:
            image = render_t2w(mri_tissue, rng, grid, mri_null=False)
        yield week, image, tumour.astype(np.uint8), displaced, aligned


def _render_patient(staging: Path, seed: int, size: str, mri_null: bool, cohort: str, patient_id: str,
                    central: bool, weeks: int, files: int) -> list[tuple[str, str, dict]]:
    import torch

    from cmedl_bench.plugin import image_path, label_path, tissue_path, write_volume

    torch.set_num_threads(1)  # one patient per core
    _, spacing, origin = _geometries(size)[cohort]
    written = []
    for week, image, tumour, displaced, aligned in _scans(seed, size, cohort, patient_id, central, weeks, mri_null):
        case_id = f"{patient_id}W{week + 1}" if cohort == "cbct" else patient_id
        fraction = mediastinal_fraction(displaced, tumour)
        entry = {"patient": patient_id, "location": location(fraction), "mediastinal_fraction": round(fraction, 3),
                 "tumour_volume_ml": round(float(tumour.sum() * np.prod(spacing) / 1000.0), 3)}
        if cohort == "cbct":
            entry["week"] = week + 1
        write_volume(tissue_path(staging, cohort, case_id), displaced, spacing, origin)
        for name, array in ((cohort, image), (ALIGNED, aligned)):
            if array is not None:
                write_volume(image_path(staging, name, case_id), array, spacing, origin)
                write_volume(label_path(staging, name, case_id), tumour, spacing, origin)
                written.append((name, case_id, entry))
    return written


def plan(seed: int, size: str, train_patients: int = 0) -> tuple[list[tuple[str, str, bool, int]], dict]:
    """Patients (cohort, id, placed centrally, scans) and splits: v3's, with ``train_patients`` CBCT training
    patients when it is not 0 (module docstring)."""
    if size not in SIZES:
        raise ValueError(f"unknown phantom size {size!r}; known: {', '.join(SIZES)}")
    if isinstance(train_patients, bool) or not isinstance(train_patients, int) or train_patients < 0:
        raise ValueError(f"train_patients must be a whole number (0: the size's own {SIZES[size].splits['train']}), "
                         f"not {train_patients!r}")
    patients, splits = _plan(seed, size)
    train = splits["cbct"]["train"]
    if train_patients and train_patients < len(train):
        order = np.random.default_rng([seed, _SUBSET_CODE]).permutation(len(train))
        kept = {train[i] for i in order[:train_patients]}
        patients = [p for p in patients if p[0] != "cbct" or p[1] not in set(train) - kept]
        train = sorted(kept)
    elif train_patients > len(train):
        first = sum(1 for p in patients if p[0] == "cbct")
        extra = [("cbct", f"C{first + k:03d}",
                  bool(np.random.default_rng([seed, _EXTRA_CODE, k]).random() < CENTRAL_FRACTION), SIZES[size].weeks)
                 for k in range(train_patients - len(train))]
        patients, train = patients + extra, train + [pid for _, pid, _, _ in extra]
    splits["cbct"]["train"] = train
    splits[ALIGNED] = {name: list(ids) for name, ids in splits["cbct"].items()}
    return patients, splits


def _generate(root: Path, seed: int, size: str, progress, mri_null: bool, train_patients: int) -> Path:
    patients, splits = plan(seed, size, train_patients)
    geometry = _geometries(size)
    name = "phantom-mri-null" if mri_null else "phantom"

    def describe(cohorts):
        meta = {"name": name, "version": VERSION, "file_ending": ".nii.gz", "labels": {"background": 0, "tumour": 1},
                "tissue_classes": TISSUE_CLASSES,
                "description": "cmedl-bench synthetic thorax phantom v4" + (", MRI-null control" if mri_null else ""),
                "cohorts": cohorts, "generator": {
                    "seed": seed, "size": size, "mri_null": mri_null, "train_patients": len(splits["cbct"]["train"]),
                    "spacing_zyx_mm": list(geometry["cbct"][1]), "mri_spacing_zyx_mm": list(geometry["mri"][1]),
                    "location_rule": f"central when at least {CENTRAL_MEDIASTINAL_FRACTION:.0%} of the tumour "
                                     f"volume lies in mediastinal tissue"}}
        return meta, splits

    jobs = [(seed, size, mri_null, cohort, pid, central, weeks, weeks * (2 if cohort == "cbct" else 1))
            for cohort, pid, central, weeks in patients]
    return render_dataset(root, jobs, _render_patient, describe, progress)


def generate(root: Path, seed: int = 0, size: str = "full", progress=None, train_patients: int = 0) -> Path:
    """Write phantom v4 into ``root``, atomically."""
    return _generate(root, seed, size, progress, False, train_patients)


def generate_mri_null(root: Path, seed: int = 0, size: str = "full", progress=None, train_patients: int = 0) -> Path:
    """Write the MRI-null control of phantom v4 (every MRI rendered without its tumour) into ``root``."""
    return _generate(root, seed, size, progress, True, train_patients)


def isodense_control(root: Path, case_id: str) -> np.ndarray:
    """The CBCT scan ``case_id`` of a generated v4 dataset rendered again with the tumour at the mediastinal soft
    tissue's HU, with the same anatomy and noise."""
    import json

    meta = json.loads((Path(root) / "dataset.json").read_text())
    generator, entry = meta["generator"], meta["cohorts"]["cbct"]["cases"][case_id]
    patients, _ = plan(generator["seed"], generator["size"], generator.get("train_patients", 0))
    central = next(c for cohort, pid, c, _ in patients if cohort == "cbct" and pid == entry["patient"])
    for week, image, *_ in _scans(generator["seed"], generator["size"], "cbct", entry["patient"], central,
                                  entry["week"], generator["mri_null"], isodense=True):
        if week == entry["week"] - 1:
            return image
    raise KeyError(case_id)

