"""The scans ``predict`` is given: DICOM folders, image files and cmedl-bench datasets, resolved and checked before
anything is written.

Every input becomes one or more :class:`NewScan` records whose pixels are read only when the scan's turn comes
(:meth:`NewScan.read`). Resolving checks what can be checked without pixels: a DICOM series' modality (CT, which
includes CBCT) and slice geometry (:func:`cmedl_bench.data.dicom_series.slice_geometry`, without resampling: the
mask must lie on the scan's own slices), an image file's header, a dataset's split. Scan ids are identifiers
(:mod:`cmedl_bench.data.identifiers`) and unique: they name the output folders.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cmedl_bench.data.dicom_series import (SeriesFiles, read_series, scan_folder, scouts, series_identity,
                                           slice_geometry)
from cmedl_bench.data.identifiers import sanitise_id
from cmedl_bench.data.layout import file_case_id, load_index
from cmedl_bench.data.splits import SPLITS
from cmedl_bench.errors import CmedlError, DatasetError
from cmedl_bench.io.images import read_image

#: DICOM modalities a CBCT model may be applied to (CBCT series are stored as CT)
CT_MODALITIES = ("CT",)


@dataclass
class NewScan:
    scan_id: str
    patient: str
    date: str | None  # ISO date of the series (else of the study), when the input records one
    timepoint: Any  # what orders a patient's scans: the date, a dataset's week, or None
    source: str
    kind: str  # "dicom", "image" or "dataset"
    read: Callable[[], Any]  # -> the SimpleITK image on the scan's own grid
    series: SeriesFiles | None = None  # DICOM input: the series, for the RT Structure Set


def _iso(date: str | None) -> str | None:
    text = str(date or "").strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) >= 8 and text[:8].isdigit() else None


def _dicom_scans(folder: Path, series_uid: str | None, resample_tilt: bool = False) -> list[NewScan]:
    """The CT series of a DICOM folder; localizers (scouts) are skipped with one line each."""
    series, _ = scan_folder(folder)
    if series_uid is not None:
        if series_uid not in series:
            raise DatasetError(f"{folder}: no image series {series_uid} (series: {', '.join(series) or 'none'})")
        series = {series_uid: series[series_uid]}
    else:
        for uid, reason in scouts(series).items():
            warnings.warn(f"{folder}: series {uid} skipped: a localizer ({reason})", stacklevel=2)
            del series[uid]
    if not series:
        raise DatasetError(f"{folder}: no DICOM image series found")
    scans = []
    for uid, files in series.items():
        modality = str(getattr(files.header, "Modality", ""))
        if modality not in CT_MODALITIES:
            raise DatasetError(f"{folder}: series {uid} is {modality or 'of no modality'}; the model segments CBCT "
                               f"(DICOM modality CT)")
        # a missing, duplicated or unevenly spaced slice is an error here, a sheared one too unless resampled
        geometry = slice_geometry(files, resample_tilt=resample_tilt)
        identity = series_identity(files.header, patient_hint="predict needs a PatientID with a letter or digit",
                                   id_hint="predict needs a PatientID with a letter or digit")
        date = _iso(identity.date)
        scans.append(NewScan(identity.default_id, identity.patient, date, date, str(folder), "dicom",
                             lambda files=files, geometry=geometry: read_series(files, geometry), files))
    return scans


def _image_scan(path: Path) -> NewScan:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise DatasetError(f"{path}: not a readable image (NIfTI, NRRD, MHA or a DICOM folder)") from None
    if reader.GetDimension() != 3:
        raise DatasetError(f"{path}: expected a 3D volume, got {reader.GetDimension()}D")
    scan_id = sanitise_id(file_case_id(path) or path.stem, "scan id", "the file name")
    return NewScan(scan_id, scan_id, None, None, str(path), "image", lambda: read_image(path, "scan"))


def _dataset_scans(root: Path, split: str) -> list[NewScan]:
    if split not in SPLITS:
        raise CmedlError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    index = load_index(root)
    entries = (index.meta.get("cohorts", {}).get("cbct", {}) or {}).get("cases", {})
    scans = []
    for case in index.split_cases("cbct", split):
        entry = entries.get(case.case_id) or {}
        date = _iso(str(entry.get("date", "")).replace("-", ""))
        scans.append(NewScan(case.case_id, case.patient, date, date or entry.get("week"), str(case.image_path),
                             "dataset", lambda case=case: read_image(case.image_path, "scan")))
    if not scans:
        raise DatasetError(f"{root}: no CBCT cases in the {split} split")
    return scans


def resolve_scans(inputs: list[Path], split: str | None = None, series_uid: str | None = None,
                  resample_tilt: bool = False) -> list[NewScan]:
    """Every scan of every input, checked (one-line errors), with unique ids."""
    if not inputs:
        raise CmedlError("give at least one INPUT: a DICOM folder, an image file or a dataset folder")
    scans: list[NewScan] = []
    for path in inputs:
        if not path.exists():
            raise CmedlError(f"{path}: no such file or folder")
        if path.is_dir() and (path / "dataset.json").is_file():
            scans += _dataset_scans(path, split or "test")
        elif path.is_dir():
            scans += _dicom_scans(path, series_uid, resample_tilt)
        else:
            scans.append(_image_scan(path))
    seen: dict[str, str] = {}
    for scan in scans:
        if scan.scan_id in seen:
            raise CmedlError(f"two inputs give the scan id {scan.scan_id!r} ({seen[scan.scan_id]} and "
                             f"{scan.source}); predict them into different --out folders")
        seen[scan.scan_id] = scan.source
    return scans
