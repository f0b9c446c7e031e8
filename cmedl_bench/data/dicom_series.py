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
- a single slice takes its ``SliceThickness`` as slice spacing (ITK would give it 1 mm);
- the step between consecutive slices must lie along the normal: a series acquired with a gantry tilt (tilted
  ``ImageOrientationPatient``, couch steps along the scanner's axis) has slices that shift in-plane from one to the
  next, a sheared volume that no orthogonal image grid (NIfTI, ITK) can describe. It is refused with one line naming
  the tilt (and ``GantryDetectorTilt`` where the header gives it), or with ``resample_tilt=True`` put on an
  orthogonal grid exactly: each slice keeps its own plane and is shifted in-plane by its offset (linear
  interpolation), so the grid's slice k is the plane of source slice k; contours are then rasterised on that grid
  from their world coordinates, so the labels follow the same transform without interpolation.

The slice positions are kept (:class:`SeriesGeometry`) so that contours are matched to the slice they were drawn on
(:mod:`cmedl_bench.data.rtstruct`), not to a slice index computed from an assumed spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
#: largest in-plane offset between a slice and the first (as a fraction of the pixel spacing) that is not a shear
#: (DICOM's decimal strings round positions to far less)
SHEAR_TOLERANCE = 0.05


@dataclass
class SeriesFiles:
    """One image series as found on disk: its files with their positions along the slice normal."""

    uid: str
    header: Any  # the first file's pydicom header (no pixels)
    slices: list[tuple[float, Path]]  # (position along the normal in mm, file)
    orientations: set[tuple[float, ...]]
    corners: dict[Path, np.ndarray] = field(default_factory=dict)  # ImagePositionPatient of each file (mm)


@dataclass
class SeriesGeometry:
    """Where the slices of a series really are, and the uniform grid the volume is written on."""

    positions: np.ndarray  # positions of the source slices along the normal, mm, increasing
    spacing: float  # slice spacing of the written volume, mm
    resampled: bool  # True when an uneven series was interpolated onto a uniform grid
    shifts: np.ndarray | None = None  # sheared series put on an orthogonal grid: (slice, [row, column]) offsets, mm
    tilt_deg: float = 0.0  # the tilt the shear implies (0 for an orthogonal series)


#: a series with fewer slices than this, beside a series of another orientation with more, is a scout
SCOUT_MAX_SLICES = 2


def scan_folder(folder: Path) -> tuple[dict[str, SeriesFiles], list[Path]]:
    """Image series (uid -> files) and RTSTRUCT files under ``folder``; files that are not DICOM are skipped. A
    folder whose only images are multi-frame (Enhanced CT) is refused with a line that says so: their geometry is in
    per-frame sequences this reader does not take apart."""
    import pydicom

    series: dict[str, SeriesFiles] = {}
    structures: list[Path] = []
    multi_frame: list[Path] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError, ValueError):
            continue
        if str(getattr(ds, "Modality", "")) == "RTSTRUCT":
            structures.append(path)
        elif int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            multi_frame.append(path)
        elif "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
            orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
            normal = np.cross(orientation[:3], orientation[3:])
            uid = str(ds.SeriesInstanceUID)
            entry = series.setdefault(uid, SeriesFiles(uid, ds, [], set()))
            corner = np.asarray(ds.ImagePositionPatient, float)
            entry.slices.append((float(np.dot(normal, corner)), path))
            entry.corners[path] = corner
            entry.orientations.add(tuple(np.round(orientation, 4)))
    for entry in series.values():
        entry.slices.sort()
    if multi_frame and not series:
        raise DatasetError(f"{multi_frame[0]}: a multi-frame (Enhanced) image; only single-frame series (one file "
                           f"per slice) are read: convert it first (e.g. dcmtk's or dicom3tools' multi-frame to "
                           f"single-frame converters)")
    return series, structures


def scouts(series: dict[str, SeriesFiles]) -> dict[str, str]:
    """Series that are localizers, not volumes, with the reason: ``ImageType`` says LOCALIZER, or a series of at
    most :data:`SCOUT_MAX_SLICES` slices lies beside a longer series of another orientation."""
    found: dict[str, str] = {}
    for uid, files in series.items():
        image_type = [str(v).upper() for v in (getattr(files.header, "ImageType", None) or [])]
        if "LOCALIZER" in image_type:
            found[uid] = "ImageType LOCALIZER"
        elif len(files.slices) <= SCOUT_MAX_SLICES and any(
                len(other.slices) > SCOUT_MAX_SLICES and other.orientations != files.orientations
                for other in series.values()):
            found[uid] = f"{len(files.slices)} slice(s) in another orientation than the volume beside it"
    return found


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


def in_plane_offsets(files: SeriesFiles) -> np.ndarray:
    """(slice, [along the rows, along the columns]) offset in mm of each slice's corner from the first slice's,
    projected on the image plane: zero for every slice of an orthogonal series."""
    orientation = np.asarray(files.header.ImageOrientationPatient, float)
    corners = np.array([files.corners[path] for _, path in files.slices]) if files.corners else np.zeros((1, 3))
    moved = corners - corners[0]
    return np.column_stack([moved @ orientation[:3], moved @ orientation[3:]])


def _shear(files: SeriesFiles, positions: np.ndarray, resample_tilt: bool, where: Path
           ) -> tuple[np.ndarray | None, float]:
    """The in-plane offsets of a sheared series and its tilt; (None, 0) for an orthogonal one; an error when the
    series is sheared and ``resample_tilt`` is off."""
    offsets = in_plane_offsets(files)
    pixel = float(min(np.asarray(getattr(files.header, "PixelSpacing", [1.0, 1.0]), float)))
    if len(positions) < 2 or np.abs(offsets).max() <= SHEAR_TOLERANCE * pixel:
        return None, 0.0
    travel = float(np.linalg.norm(offsets[-1]))
    tilt = float(np.degrees(np.arctan2(travel, positions[-1] - positions[0])))
    if not resample_tilt:
        tag = getattr(files.header, "GantryDetectorTilt", None)
        named = f", GantryDetectorTilt {float(tag):g}°" if tag not in (None, "") else ""
        step = float(np.median(np.diff(positions)))
        shift = travel / (len(positions) - 1)
        raise DatasetError(f"{where}: series {files.uid} is sheared: its slices shift {shift:.2f}"
                           f" mm in-plane per {step:.2f} mm step (gantry tilt {tilt:.1f}°{named}); --resample-tilt "
                           f"puts it on an orthogonal grid")
    return offsets, tilt


def slice_geometry(files: SeriesFiles, resample: bool = False, resample_tilt: bool = False) -> SeriesGeometry:
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
    shifts, tilt = _shear(files, positions, resample_tilt, where)
    return SeriesGeometry(positions, expected, bool(uneven.size), shifts, tilt)


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
        broken = _unreadable_slice(files)
        if broken is not None:
            raise DatasetError(f"{broken}: unreadable DICOM slice (truncated or corrupt pixel data) in series "
                               f"{files.uid}") from None
        raise DatasetError(f"cannot read the DICOM series in {files.slices[0][1].parent}: "
                           f"{str(exc).strip().splitlines()[0]}") from None
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)
    spacing = list(image.GetSpacing())
    if geometry.shifts is not None:
        image = _unshear(image, files, geometry)
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


def _unreadable_slice(files: SeriesFiles) -> Path | None:
    """The first slice file ITK cannot read on its own (ITK's series error names its own source, not the file)."""
    import SimpleITK as sitk

    for _, path in files.slices:
        try:
            sitk.ReadImage(str(path))
        except RuntimeError:
            return path
    return None


def _unshear(image, files: SeriesFiles, geometry: SeriesGeometry):
    """A sheared series on the orthogonal grid whose slice k is the plane of source slice k: origin at the first
    slice's corner, axes (row, column, normal); each slice shifted in-plane by its offset, linear interpolation,
    outside the source's field of view the series' lowest value."""
    import SimpleITK as sitk
    from scipy.ndimage import shift

    orientation = np.asarray(files.header.ImageOrientationPatient, float)
    row, column = orientation[:3], orientation[3:]
    spacing = np.asarray(image.GetSpacing())
    source = sitk.GetArrayFromImage(image)
    floor = float(source.min())
    moved = np.stack([shift(plane.astype(np.float32), (dy / spacing[1], dx / spacing[0]), order=1, mode="constant",
                            cval=floor) for plane, (dx, dy) in zip(source, geometry.shifts)])
    out = sitk.GetImageFromArray(np.rint(moved).astype(source.dtype) if source.dtype.kind in "iu" else moved)
    out.SetSpacing(tuple(spacing))
    out.SetOrigin(tuple(float(v) for v in files.corners[files.slices[0][1]]))
    out.SetDirection(tuple(float(v) for v in np.column_stack([row, column, np.cross(row, column)]).ravel()))
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
