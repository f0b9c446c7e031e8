"""Bringing hospital data into the dataset layout: DICOM series with RT Structure Sets, or folders of NIfTI / NRRD /
MHA images with label maps. Every imported case is written atomically and added to ``dataset.json``; patient ids
keep several weekly scans of one patient together when splits are made.

DICOM: every RTSTRUCT found under the input folder is paired with the image series it references
(``ReferencedFrameOfReferenceSequence`` -> study -> series), the series is read with SimpleITK from its files sorted
along the slice normal (geometry kept: origin, spacing, direction, rescaled to HU), and the ROIs matching a name
pattern are rasterised onto it (:mod:`cmedl_bench.data.rtstruct`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cmedl_bench.data.layout import (COHORTS, IMAGE_ENDINGS, atomic_write_text, image_files, image_path,
                                      label_path)
from cmedl_bench.errors import CmedlError, DatasetError

@dataclass
class ImportedCase:
    case_id: str
    patient: str
    source: dict[str, Any]
    tumour_voxels: int


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "case"


def _add_cases(dataset: Path, cohort: str, cases: list[ImportedCase]) -> None:
    meta_path = dataset / "dataset.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
        "name": dataset.name, "version": None, "file_ending": ".nii.gz", "labels": {"background": 0, "tumour": 1},
        "cohorts": {}}
    entries = meta["cohorts"].setdefault(cohort, {"modality": cohort.upper(), "cases": {}})["cases"]
    for case in cases:
        entries[case.case_id] = {"patient": case.patient, "source": case.source}
    atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True))


def _write_case(dataset: Path, cohort: str, case_id: str, image, mask: np.ndarray) -> None:
    import SimpleITK as sitk

    from cmedl_bench.data.layout import write_volume

    array = sitk.GetArrayFromImage(image)
    fits_int16 = np.issubdtype(array.dtype, np.integer) and array.min() >= -32768 and array.max() <= 32767
    array = array.astype(np.int16 if fits_int16 else np.float32)
    spacing = image.GetSpacing()[::-1]
    write_volume(image_path(dataset, cohort, case_id), array, spacing, image.GetOrigin(), image.GetDirection())
    write_volume(label_path(dataset, cohort, case_id), mask.astype(np.uint8), spacing, image.GetOrigin(),
                 image.GetDirection())


def _check_target(dataset: Path, cohort: str, case_ids: list[str], overwrite: bool) -> None:
    if cohort not in COHORTS:
        raise CmedlError(f"unknown cohort {cohort!r}; use {' or '.join(COHORTS)}")
    if len(set(case_ids)) != len(case_ids):
        raise DatasetError(f"two imported cases would share an id: {sorted(case_ids)}")
    meta_path = dataset / "dataset.json"
    if meta_path.exists() and not overwrite:
        known = json.loads(meta_path.read_text()).get("cohorts", {}).get(cohort, {}).get("cases", {})
        clash = sorted(set(case_ids) & set(known))
        if clash:
            raise DatasetError(f"{dataset}: case(s) {', '.join(clash)} already exist (use --overwrite)")


# ------------------------------------------------------------------------------------------------ DICOM


def _scan_dicom(folder: Path) -> tuple[dict[str, list[tuple[float, Path]]], list[Path], dict[str, Any]]:
    """Image series (uid -> [(position along the normal, file)]), RTSTRUCT files, and one header per series."""
    import pydicom

    series: dict[str, list[tuple[float, Path]]] = {}
    headers: dict[str, Any] = {}
    structures: list[Path] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError, ValueError):
            continue
        modality = str(getattr(ds, "Modality", ""))
        if modality == "RTSTRUCT":
            structures.append(path)
        elif "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
            orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
            normal = np.cross(orientation[:3], orientation[3:])
            uid = str(ds.SeriesInstanceUID)
            series.setdefault(uid, []).append((float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))),
                                               path))
            headers.setdefault(uid, ds)
    return series, structures, headers


def _read_series(files: list[tuple[float, Path]]):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(p) for _, p in sorted(files)])
    try:
        return reader.Execute()
    except RuntimeError as exc:
        raise DatasetError(f"cannot read the DICOM series in {files[0][1].parent}: "
                           f"{str(exc).strip().splitlines()[0]}") from None


def import_dicom(source: Path, dataset: Path, cohort: str = "cbct", roi: str = "GTV*", patient: str | None = None,
                 case_id: str | None = None, overwrite: bool = False,
                 progress: Callable[[int], None] | None = None) -> list[ImportedCase]:
    """Import every (image series, RTSTRUCT) pair under ``source``; the tumour is the union of the ROIs whose names
    match ``roi``. Case ids are ``PATIENT_DATE_SERIESNUMBER`` unless ``case_id`` names the only case."""
    from cmedl_bench.data.rtstruct import rasterise, read_structure_set

    source, dataset = Path(source), Path(dataset)
    if not source.is_dir():
        raise CmedlError(f"--dicom {source} is not a folder")
    series, structure_files, headers = _scan_dicom(source)
    if not structure_files:
        raise DatasetError(f"{source}: no RTSTRUCT file found (tumour contours are read from an RT Structure Set)")
    plans = []
    for path in structure_files:
        structure = read_structure_set(path)
        matches = [uid for uid in structure.referenced_series if uid in series]
        if not matches and structure.frame_of_reference:
            matches = [uid for uid, h in headers.items()
                       if str(getattr(h, "FrameOfReferenceUID", "")) == structure.frame_of_reference]
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise DatasetError(f"{path}: {found} image series under {source} match the series it references")
        header = headers[matches[0]]
        pid = patient or str(getattr(header, "PatientID", "") or "patient")
        date = str(getattr(header, "SeriesDate", "") or getattr(header, "StudyDate", "") or "")
        number = str(getattr(header, "SeriesNumber", "") or "")
        name = case_id or _safe_id("_".join(part for part in (pid, date, number) if part))
        plans.append((name, _safe_id(pid), matches[0], structure))
    if case_id and len(plans) > 1:
        raise CmedlError(f"--case names one case but {source} holds {len(plans)} contoured series")
    _check_target(dataset, cohort, [p[0] for p in plans], overwrite)
    imported = []
    for name, pid, uid, structure in plans:
        image = _read_series(series[uid])
        rois = structure.select(roi)
        mask = rasterise(rois, image)
        _write_case(dataset, cohort, name, image, mask)
        imported.append(ImportedCase(name, pid, {"dicom_series": uid, "rtstruct": str(structure.path),
                                                 "rois": [r.name for r in rois]}, int(mask.sum())))
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
                  progress: Callable[[int], None] | None = None) -> list[ImportedCase]:
    """Import image/label pairs matched by case id (``CASE_0000.ext`` or ``CASE.ext`` for images, ``CASE.ext`` for
    labels). A label map on a different grid from its image is resampled onto the image grid (nearest neighbour)
    when it lies in the same physical space; the patient id is the first group of ``patient_pattern`` matched
    against the case id (default: the case id itself)."""
    import SimpleITK as sitk

    images, labels, dataset = Path(images), Path(labels), Path(dataset)
    for folder, option in ((images, "--images"), (labels, "--labels")):
        if not folder.is_dir():
            raise CmedlError(f"{option} {folder} is not a folder")
    found_images, label_files = image_files(images, channel_suffix=True), image_files(labels)
    if not found_images:
        raise DatasetError(f"{images}: no image files ({', '.join(IMAGE_ENDINGS)})")
    unlabelled = sorted(set(found_images) - set(label_files))
    if unlabelled:
        raise DatasetError(f"{labels}: no label map for {', '.join(unlabelled[:5])}"
                           + (" ..." if len(unlabelled) > 5 else ""))
    pattern = re.compile(patient_pattern) if patient_pattern else None
    case_ids = sorted(found_images)
    _check_target(dataset, cohort, [_safe_id(c) for c in case_ids], overwrite)
    imported = []
    for case in case_ids:
        image = sitk.ReadImage(str(found_images[case]))
        label_image = sitk.ReadImage(str(label_files[case]))
        if label_image.GetNumberOfComponentsPerPixel() > 1:
            raise DatasetError(f"{label_files[case]}: multi-component label maps are not supported; export a "
                               f"label map")
        values = np.unique(sitk.GetArrayViewFromImage(label_image)).astype(int).tolist()
        value = _label_value(label, label_files[case], labels, values)
        resampled = (label_image.GetSize() != image.GetSize()
                     or not np.allclose(label_image.GetSpacing(), image.GetSpacing(), atol=1e-4)
                     or not np.allclose(label_image.GetOrigin(), image.GetOrigin(), atol=1e-3)
                     or not np.allclose(label_image.GetDirection(), image.GetDirection(), atol=1e-5))
        if resampled:
            label_image = sitk.Resample(label_image, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        array = sitk.GetArrayFromImage(label_image)
        mask = array > 0 if value is None else array == value
        if value is not None and value not in values:
            raise DatasetError(f"{label_files[case]}: label value {value} does not occur (values {values})")
        patient = case
        if pattern:
            match = pattern.search(case)
            if not match:
                raise DatasetError(f"case id {case!r} does not match --patient-pattern {patient_pattern!r}")
            patient = match.group(1) if match.groups() else match.group(0)
        name = _safe_id(case)
        _write_case(dataset, cohort, name, image, mask)
        imported.append(ImportedCase(name, _safe_id(patient), {"image": str(found_images[case]),
                                                               "label": str(label_files[case]), "value": value,
                                                               "label_resampled": bool(resampled)},
                                     int(mask.sum())))
        if progress:
            progress(len(case_ids))
    _add_cases(dataset, cohort, imported)
    return imported
