"""Bringing hospital data into the dataset layout: DICOM series with RT Structure Sets, or folders of NIfTI / NRRD /
MHA images with label maps. Every imported case is written atomically and added to ``dataset.json``; patient ids
keep several weekly scans of one patient together when splits are made.

Image files name no patient, so the patient of a case is, in this order: the first group of ``--patient-pattern``
matched against the case id; the case itself with ``--patient-per-case``; otherwise the case id without a trailing
visit (:func:`cmedl_bench.data.identifiers.visit_stem`: a week, visit, fraction, time point, day, scan or session
number, or a date), so that ``C000W1`` and ``C000W2`` are two scans of patient ``C000`` and never land in different
splits; a case id that names no visit is its own patient. How many cases were grouped is said in one line.

DICOM: every RTSTRUCT found under the input folder is paired with the image series it references
(``ReferencedFrameOfReferenceSequence`` -> study -> series), the series is read with SimpleITK from its files sorted
along the slice normal (geometry kept: origin, spacing, direction, rescaled to HU), and the ROIs matching a name
pattern are rasterised onto it (:mod:`cmedl_bench.data.rtstruct`).
"""

from __future__ import annotations

import json
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from cmedl_bench.data.layout import COHORTS, image_files, image_path, label_path, read_json
from cmedl_bench.io.images import IMAGE_ENDINGS, read_image, write_volume
from cmedl_bench.io.geometry import grid_difference
from cmedl_bench.data.identifiers import require_id, sanitise_id, visit_stem
from cmedl_bench.errors import CmedlError, DatasetError
from cmedl_bench.io.atomic import atomic_write_text

@dataclass
class ImportedCase:
    case_id: str
    patient: str
    source: dict[str, Any]
    tumour_voxels: int


@contextmanager
def _written_or_removed(dataset: Path) -> Iterator[list[Path]]:
    """Collects the files an import writes; if the import fails, those that did not exist before are removed, so a
    failed import leaves no stray image behind."""
    written: list[Path] = []
    folders = [dataset / cohort / kind for cohort in COHORTS for kind in ("imagesTr", "labelsTr")]
    existed = {path for folder in folders if folder.is_dir() for path in folder.iterdir()}
    try:
        yield written
    except BaseException:
        for path in written:
            if path not in existed:
                path.unlink(missing_ok=True)
        raise


def _add_cases(dataset: Path, cohort: str, cases: list[ImportedCase]) -> None:
    meta_path = dataset / "dataset.json"
    meta = read_json(meta_path) if meta_path.exists() else {
        "name": dataset.name, "version": None, "file_ending": ".nii.gz", "labels": {"background": 0, "tumour": 1},
        "cohorts": {}}
    entries = meta["cohorts"].setdefault(cohort, {"modality": cohort.upper(), "cases": {}})["cases"]
    for case in cases:
        entries[case.case_id] = {"patient": case.patient, "source": case.source}
    atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True))


def _write_case(dataset: Path, cohort: str, case_id: str, image, mask: np.ndarray) -> list[Path]:
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(image)
    fits_int16 = np.issubdtype(array.dtype, np.integer) and array.min() >= -32768 and array.max() <= 32767
    array = array.astype(np.int16 if fits_int16 else np.float32)
    spacing = image.GetSpacing()[::-1]
    paths = [image_path(dataset, cohort, case_id), label_path(dataset, cohort, case_id)]
    write_volume(paths[0], array, spacing, image.GetOrigin(), image.GetDirection())
    write_volume(paths[1], mask.astype(np.uint8), spacing, image.GetOrigin(), image.GetDirection())
    return paths


def _check_target(dataset: Path, cohort: str, case_ids: list[str], overwrite: bool) -> None:
    if cohort not in COHORTS:
        raise CmedlError(f"unknown cohort {cohort!r}; use {' or '.join(COHORTS)}")
    if dataset.exists() and not dataset.is_dir():
        raise CmedlError(f"dataset {dataset} is a file, not a folder")
    if len(set(case_ids)) != len(case_ids):
        raise DatasetError(f"two imported cases would share an id: {sorted(case_ids)}")
    meta_path = dataset / "dataset.json"
    if meta_path.exists() and not overwrite:
        known = (read_json(meta_path).get("cohorts") or {}).get(cohort, {}).get("cases", {})
        clash = sorted(set(case_ids) & set(known))
        if clash:
            raise DatasetError(f"{dataset}: case(s) {', '.join(clash)} already exist (use --overwrite)")


# ------------------------------------------------------------------------------------------------ DICOM


def _image_series_for(structure, series: dict, chosen: str | None, source: Path) -> str:
    """The series a structure set is drawn on: the one it references, or the one the user names with --series.
    Another series of the same frame of reference is never taken silently (it may be a different scan)."""
    if chosen is not None:
        if chosen not in series:
            raise DatasetError(f"--series {chosen}: no such image series under {source}")
        return chosen
    matches = [uid for uid in structure.referenced_series if uid in series]
    if len(matches) == 1:
        return matches[0]
    referenced = ", ".join(sorted(structure.referenced_series)) or "none"
    raise DatasetError(f"{structure.path}: the image series it references ({referenced}) is not under {source}; "
                       f"name the series to use with --series UID")


def import_dicom(source: Path, dataset: Path, cohort: str = "cbct", roi: str = "GTV*", patient: str | None = None,
                 case_id: str | None = None, overwrite: bool = False,
                 progress: Callable[[int], None] | None = None, series_uid: str | None = None,
                 resample_slices: bool = False, resample_tilt: bool = False) -> list[ImportedCase]:
    """Import every (image series, RTSTRUCT) pair under ``source``; the tumour is the union of the ROIs whose names
    match ``roi``. Case ids are ``PATIENT_DATE_SERIESNUMBER`` unless ``case_id`` names the only case. Slice geometry
    is verified (:mod:`cmedl_bench.data.dicom_series`); ``resample_slices`` interpolates an uneven series onto a
    uniform grid instead of refusing it, ``resample_tilt`` a sheared (gantry-tilted) series onto an orthogonal one.
    Warnings (empty ROI, resampled series, duplicated or crossing contours) go through :mod:`warnings`."""
    from cmedl_bench.data.dicom_series import (onto_uniform_slices, read_series, scan_folder, series_identity,
                                               slice_geometry)
    from cmedl_bench.data.rtstruct import rasterise, read_structure_set

    source, dataset = Path(source), Path(dataset)
    if not source.is_dir():
        raise CmedlError(f"--dicom {source} is not a folder")
    for kind, value in (("case", case_id), ("patient", patient)):
        if value is not None:
            require_id(kind, value, f"--{kind}")
    series, structure_files = scan_folder(source)
    if not structure_files:
        raise DatasetError(f"{source}: no RTSTRUCT file found (tumour contours are read from an RT Structure Set)")
    plans = []
    for path in structure_files:
        structure = read_structure_set(path)
        uid = _image_series_for(structure, series, series_uid, source)
        identity = series_identity(series[uid].header, patient)
        name = case_id or identity.default_id
        plans.append((name, identity.patient, uid, structure, slice_geometry(series[uid], resample_slices,
                                                                              resample_tilt)))
    if case_id and len(plans) > 1:
        raise CmedlError(f"--case names one case but {source} holds {len(plans)} contoured series")
    _check_target(dataset, cohort, [p[0] for p in plans], overwrite)
    imported = []
    with _written_or_removed(dataset) as written:
        for name, pid, uid, structure, geometry in plans:
            image = read_series(series[uid], geometry)
            rois = structure.select(roi, str(getattr(series[uid].header, "FrameOfReferenceUID", "") or "") or None)
            mask = onto_uniform_slices(rasterise(rois, image, geometry.positions), geometry)
            for roi_contours in rois:
                for message in roi_contours.warnings(uid):
                    warnings.warn(message, stacklevel=2)
            if geometry.shifts is not None:
                warnings.warn(f"series {uid} is sheared by a gantry tilt of {geometry.tilt_deg:.1f}°; resampled onto "
                              f"an orthogonal grid", stacklevel=2)
            if geometry.resampled:
                warnings.warn(f"series {uid} has uneven slice spacing; resampled onto a uniform grid at "
                              f"{geometry.spacing:.2f} mm", stacklevel=2)
            written += _write_case(dataset, cohort, name, image, mask)
            imported.append(ImportedCase(name, pid, {"dicom_series": uid, "rtstruct": str(structure.path.resolve()),
                                                     "rois": [r.name for r in rois],
                                                     "slices_resampled": geometry.resampled,
                                                     "tilt_deg": geometry.tilt_deg}, int(mask.sum())))
            if progress:
                progress(len(plans))
        _add_cases(dataset, cohort, imported)
    return imported


# ------------------------------------------------------------------------------------------------ image files


def _label_value(label: str | None, label_file: Path, labels_folder: Path, values: list[int]) -> int | None:
    """The tumour's value: a number, or a name looked up in the folder's ``dataset.json``/``labels.json``
    (``{"labels": {name: value}}``, nnU-Net style) or in the NRRD segment metadata of the label file."""
    import SimpleITK as sitk

    if label is None:
        nonzero = [v for v in values if v != 0]
        if len(nonzero) > 1:
            raise DatasetError(f"{label_file} holds labels {nonzero}; pick the tumour with --label VALUE or NAME")
        return None
    if re.fullmatch(r"\d+", label):
        return int(label)
    for name in ("dataset.json", "labels.json"):
        path = labels_folder / name
        if path.exists():
            table = json.loads(path.read_text()).get("labels", {})
            for key, value in table.items():
                if key.lower() == label.lower():
                    return int(value)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(label_file))
    reader.ReadImageInformation()
    for key in reader.GetMetaDataKeys():  # 3D Slicer .seg.nrrd: SegmentN_Name / SegmentN_LabelValue
        match = re.fullmatch(r"(Segment\d+)_Name", key)
        if match and reader.GetMetaData(key).lower() == label.lower():
            return int(reader.GetMetaData(f"{match.group(1)}_LabelValue"))
    raise DatasetError(f"{label_file}: no label named {label!r} (in {labels_folder}/dataset.json, labels.json or "
                       f"the file's segment metadata)")


def import_images(images: Path, labels: Path, dataset: Path, cohort: str = "cbct", label: str | None = None,
                  patient_pattern: str | None = None, overwrite: bool = False,
                  progress: Callable[[int], None] | None = None, patient_per_case: bool = False) -> list[ImportedCase]:
    """Import image/label pairs matched by case id (``CASE_0000.ext`` or ``CASE.ext`` for images, ``CASE.ext`` for
    labels). A label map on a different grid from its image is resampled onto the image grid (nearest neighbour)
    when it lies in the same physical space; the patient id follows the module docstring's rule."""
    images, labels, dataset = Path(images), Path(labels), Path(dataset)
    for folder, option in ((images, "--images"), (labels, "--labels")):
        if not folder.is_dir():
            raise CmedlError(f"{option} {folder} is not a folder")
    found_images, label_files = image_files(images, channel_suffix=True), image_files(labels)
    if not found_images:
        raise DatasetError(f"{images}: no image files ({', '.join(IMAGE_ENDINGS)})")
    require_label_maps(found_images, label_files, labels)
    return import_pairs(found_images, label_files, labels, dataset, cohort, label, patient_pattern, overwrite,
                        progress, patient_per_case)


def require_label_maps(images: dict[str, Path], label_files: dict[str, Path], folder: Path) -> None:
    """Every image has its label map in ``folder``, else one line naming the first cases without one."""
    unlabelled = sorted(set(images) - set(label_files))
    if unlabelled:
        raise DatasetError(f"{folder}: no label map for {', '.join(unlabelled[:5])}"
                           + (" ..." if len(unlabelled) > 5 else ""))


def import_pairs(found_images: dict[str, Path], label_files: dict[str, Path], labels: Path, dataset: Path,
                 cohort: str = "cbct", label: str | None = None, patient_pattern: str | None = None,
                 overwrite: bool = False, progress: Callable[[int], None] | None = None,
                 patient_per_case: bool = False) -> list[ImportedCase]:
    """Import image files (case id -> file) with their label maps (case id -> file; ``labels``: the folder whose
    ``dataset.json`` names label values), all or nothing: a failure removes what this call wrote."""
    if patient_pattern and patient_per_case:
        raise CmedlError("give --patient-pattern or --patient-per-case, not both")
    try:
        pattern = re.compile(patient_pattern) if patient_pattern else None
    except re.error as exc:
        raise CmedlError(f"--patient-pattern {patient_pattern!r} is not a regular expression: {exc}") from None
    case_ids = sorted(found_images)
    names = {case: sanitise_id(case, "file name", "rename the file") for case in case_ids}
    _check_target(dataset, cohort, list(names.values()), overwrite)
    imported = []
    with _written_or_removed(dataset) as written:
        for case in case_ids:
            imported.append(_import_image_case(case, names[case], found_images[case], label_files[case], labels,
                                               label, pattern, dataset, cohort, written, patient_per_case))
            if progress:
                progress(len(case_ids))
        _add_cases(dataset, cohort, imported)
    if not (pattern or patient_per_case):
        patients = {c.patient for c in imported}
        if len(patients) < len(imported):
            warnings.warn(f"{len(imported)} cases grouped into {len(patients)} patients by the visit at the end of "
                          f"their ids (e.g. {imported[0].case_id} -> {imported[0].patient}); --patient-per-case keeps "
                          f"each case its own patient", stacklevel=2)
    return imported


def _import_image_case(case: str, name: str, image_file: Path, label_file: Path, labels: Path, label: str | None,
                       pattern, dataset: Path, cohort: str, written: list[Path],
                       patient_per_case: bool = False) -> ImportedCase:
    """One image/label pair: the label read as the tumour mask on the image grid, written under ``name``."""
    import SimpleITK as sitk

    image = read_image(image_file, "image")
    label_image = sitk.ReadImage(str(label_file))
    if label_image.GetNumberOfComponentsPerPixel() > 1:
        raise DatasetError(f"{label_file}: multi-component label maps are not supported; export a label map")
    values = np.unique(sitk.GetArrayViewFromImage(label_image)).astype(int).tolist()
    value = _label_value(label, label_file, labels, values)
    resampled = grid_difference(label_image, image) is not None
    if resampled:
        label_image = sitk.Resample(label_image, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    array = sitk.GetArrayFromImage(label_image)
    mask = array > 0 if value is None else array == value
    if value is not None and value not in values:
        raise DatasetError(f"{label_file}: label value {value} does not occur (values {values})")
    patient = case if patient_per_case else visit_stem(case) or case
    if pattern:
        match = pattern.search(case)
        if not match:
            raise DatasetError(f"case id {case!r} does not match --patient-pattern {pattern.pattern!r}")
        patient = match.group(1) if match.groups() else match.group(0)
    written += _write_case(dataset, cohort, name, image, mask)
    return ImportedCase(name, sanitise_id(patient, "patient id", "change --patient-pattern"),
                        {"image": str(image_file.resolve()), "label": str(label_file.resolve()), "value": value,
                         "label_resampled": bool(resampled)}, int(mask.sum()))
