"""DICOM image series with verified geometry: slice positions are checked, never assumed.

A volume's slice spacing is not a DICOM attribute: it follows from the slices' positions along the normal of their
common orientation (``ImagePositionPatient`` projected on ``ImageOrientationPatient``'s row x column). A reader that
assumes even spacing turns a series with a missing slice (8 slices at 3 mm minus one) into 7 slices at 3.5 mm, and
every contour after the gap lands on the wrong slice. So before anything is read:

- every slice must share one orientation;
- positions along the normal must be unique (a duplicated slice is an error naming both files) and evenly spaced
  within :data:`SPACING_TOLERANCE` (relative) of the median step; otherwise the error names the gap;
- with ``resample=True`` an uneven series is instead interpolated (linearly, between the two nearest slices) onto a
  uniform grid at the median step, and the caller is told so;
- a single slice takes its ``SliceThickness`` as slice spacing (ITK would give it 1 mm).

The slice positions are kept (:class:`SeriesGeometry`) so that contours are matched to the slice they were drawn on
(:mod:`cmedl_bench.data.rtstruct`), not to a slice index computed from an assumed spacing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cmedl_bench.data.identifiers import sanitise_id
from cmedl_bench.errors import DatasetError

#: relative deviation of one slice step from the median step that is still "evenly spaced" (absorbs the rounding
#: of DICOM's decimal strings; a missing slice doubles a step)
SPACING_TOLERANCE = 0.01
#: smallest step between two slices (mm) that does not make them duplicates
DUPLICATE_TOLERANCE_MM = 1e-3


@dataclass
class SeriesFiles:
    """One image series as found on disk: its files with their positions along the slice normal."""

    uid: str
    header: Any  # the first file's pydicom header (no pixels)
    slices: list[tuple[float, Path]]  # (position along the normal in mm, file)
    orientations: set[tuple[float, ...]]


@dataclass
class SeriesGeometry:
    """Where the slices of a series really are, and the uniform grid the volume is written on."""

    positions: np.ndarray  # positions of the source slices along the normal, mm, increasing
    spacing: float  # slice spacing of the written volume, mm
    resampled: bool  # True when an uneven series was interpolated onto a uniform grid


def scan_folder(folder: Path) -> tuple[dict[str, SeriesFiles], list[Path]]:
    """Image series (uid -> files) and RTSTRUCT files under ``folder``; files that are not DICOM are skipped."""
    import pydicom

    series: dict[str, SeriesFiles] = {}
    structures: list[Path] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError, ValueError):
            continue
        if str(getattr(ds, "Modality", "")) == "RTSTRUCT":
            structures.append(path)
        elif "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
            orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
            normal = np.cross(orientation[:3], orientation[3:])
            uid = str(ds.SeriesInstanceUID)
            entry = series.setdefault(uid, SeriesFiles(uid, ds, [], set()))
            entry.slices.append((float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))), path))
            entry.orientations.add(tuple(np.round(orientation, 4)))
    for entry in series.values():
        entry.slices.sort()
    return series, structures


@dataclass(frozen=True)
class SeriesIdentity:
    """Who and when a series is, and the id a case or scan of it gets by default: ``PATIENT_DATE_SERIESNUMBER``
    (the parts the header has), so ``data import`` and ``predict`` name the same series the same way."""

    patient: str
    date: str  # YYYYMMDD from SeriesDate, else StudyDate; "" when the header has neither
    default_id: str


def series_identity(header: Any, patient: str | None = None,
                    patient_hint: str = "give the patient id with --patient",
                    id_hint: str = "give the case id with --case") -> SeriesIdentity:
    """The identity of a series from its first header; ``patient`` replaces the DICOM PatientID. Free text is made
    an identifier (:func:`cmedl_bench.data.identifiers.sanitise_id`); the hints say which option to pass when
    nothing usable is left."""
    pid = patient or sanitise_id(str(getattr(header, "PatientID", "") or "patient"), "DICOM PatientID", patient_hint)
    date = str(getattr(header, "SeriesDate", "") or getattr(header, "StudyDate", "") or "")
    number = str(getattr(header, "SeriesNumber", "") or "")
    return SeriesIdentity(pid, date, sanitise_id("_".join(p for p in (pid, date, number) if p), "case id", id_hint))


def slice_geometry(files: SeriesFiles, resample: bool = False) -> SeriesGeometry:
    """Verify the slice positions of a series (see the module docstring); one-line errors name the problem."""
    where = files.slices[0][1].parent
    if len(files.orientations) > 1:
        raise DatasetError(f"{where}: series {files.uid} mixes {len(files.orientations)} slice orientations")
    positions = np.array([p for p, _ in files.slices])
    if len(positions) == 1:
        thickness = float(getattr(files.header, "SliceThickness", 0) or 0)
        if thickness <= 0:
            raise DatasetError(f"{files.slices[0][1]}: a single-slice series without a SliceThickness has no slice "
                               f"spacing")
        return SeriesGeometry(positions, thickness, False)
    steps = np.diff(positions)
    duplicate = np.flatnonzero(steps < DUPLICATE_TOLERANCE_MM)
    if duplicate.size:
        k = int(duplicate[0])
        raise DatasetError(f"{where}: duplicated slice at z={positions[k]:.2f} mm ({files.slices[k][1].name} and "
                           f"{files.slices[k + 1][1].name})")
    expected = float(np.median(steps))
    uneven = np.flatnonzero(np.abs(steps - expected) > SPACING_TOLERANCE * expected)
    if uneven.size and not resample:
        k = int(uneven[0])
        raise DatasetError(f"{where}: uneven slice spacing: a gap of {steps[k]:.2f} mm between z={positions[k]:.2f} "
                           f"and z={positions[k + 1]:.2f} mm (expected spacing {expected:.2f} mm; a missing slice?); "
                           f"--resample-slices interpolates onto a uniform grid")
    return SeriesGeometry(positions, expected, bool(uneven.size))


def read_series(files: SeriesFiles, geometry: SeriesGeometry):
    """The series as a SimpleITK image in HU on a uniform grid: the source slices themselves when they are evenly
    spaced, else linearly interpolated along the normal at ``geometry.spacing``."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(p) for _, p in files.slices])
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # ITK's spacing warning: the geometry is handled here
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise DatasetError(f"cannot read the DICOM series in {files.slices[0][1].parent}: "
                           f"{str(exc).strip().splitlines()[0]}") from None
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)
    spacing = list(image.GetSpacing())
    if not geometry.resampled:
        image.SetSpacing((spacing[0], spacing[1], geometry.spacing))
        return image
    source = sitk.GetArrayFromImage(image).astype(np.float32)
    targets = uniform_positions(geometry)
    upper = np.clip(np.searchsorted(geometry.positions, targets, side="right"), 1, len(geometry.positions) - 1)
    lower = upper - 1
    span = geometry.positions[upper] - geometry.positions[lower]
    weight = np.clip((targets - geometry.positions[lower]) / span, 0.0, 1.0)[:, None, None]
    array = (1 - weight) * source[lower] + weight * source[upper]
    out = sitk.GetImageFromArray(np.rint(array).astype(np.int16) if np.issubdtype(
        sitk.GetArrayViewFromImage(image).dtype, np.integer) else array.astype(np.float32))
    out.SetOrigin(image.GetOrigin())
    out.SetDirection(image.GetDirection())
    out.SetSpacing((spacing[0], spacing[1], geometry.spacing))
    return out


def uniform_positions(geometry: SeriesGeometry) -> np.ndarray:
    """Positions along the normal of the written volume's slices."""
    if not geometry.resampled:
        return geometry.positions
    count = int(round((geometry.positions[-1] - geometry.positions[0]) / geometry.spacing)) + 1
    return geometry.positions[0] + geometry.spacing * np.arange(count)


def onto_uniform_slices(mask: np.ndarray, geometry: SeriesGeometry) -> np.ndarray:
    """A (source slice, y, x) mask moved onto the written volume's slices (nearest source slice)."""
    if not geometry.resampled:
        return mask
    targets = uniform_positions(geometry)
    nearest = np.abs(targets[:, None] - geometry.positions[None, :]).argmin(1)
    return mask[nearest]
