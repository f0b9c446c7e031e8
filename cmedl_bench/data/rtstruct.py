"""DICOM RT Structure Sets: reading ROI contours with pydicom and rasterising them onto an image grid.

Written here rather than taken from a converter package (those on PyPI are unmaintained or pin old pydicom/numpy).
The rules follow the DICOM standard (PS3.3 C.8.8.6, ROI Contour Module) and common practice of treatment-planning
systems:

- only ``CLOSED_PLANAR`` contours describe areas (points and open polylines are ignored, and counted);
- contour points are patient coordinates (LPS, mm); they are mapped to continuous voxel indices with the image's
  origin, spacing and direction, so oblique or flipped grids are handled; a contour must lie on one slice plane
  (within half a slice);
- a voxel belongs to a contour when its centre is inside the polygon (even-odd rule, half-open at the boundary, so a
  polygon drawn along voxel edges covers exactly the voxels it encloses);
- several contours of one ROI on the same slice combine by exclusive or, which is how holes (a contour inside
  another) are encoded.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cmedl_bench.errors import DatasetError

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


@dataclass
class RoiContours:
    number: int
    name: str
    planes: list[np.ndarray] = field(default_factory=list)  # (N, 3) LPS points of each closed planar contour
    skipped: int = 0  # contours of other geometric types


@dataclass
class StructureSet:
    path: Path
    referenced_series: set[str]
    frame_of_reference: str | None
    rois: dict[int, RoiContours]

    def select(self, pattern: str) -> list[RoiContours]:
        """ROIs whose name matches the shell-style pattern, case-insensitively (``GTV*`` matches ``GTV_1``)."""
        chosen = [r for r in self.rois.values() if fnmatch.fnmatch(r.name.lower(), pattern.lower())]
        if not chosen:
            names = ", ".join(sorted(r.name for r in self.rois.values())) or "none"
            raise DatasetError(f"{self.path}: no ROI matches {pattern!r}; ROIs: {names}")
        return chosen


def _referenced_series(ds) -> set[str]:
    series = set()
    for frame in getattr(ds, "ReferencedFrameOfReferenceSequence", []):
        for study in getattr(frame, "RTReferencedStudySequence", []):
            for item in getattr(study, "RTReferencedSeriesSequence", []):
                series.add(str(item.SeriesInstanceUID))
    return series


def read_structure_set(path: Path) -> StructureSet:
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
    except (pydicom.errors.InvalidDicomError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable DICOM file ({exc})") from None
    if str(getattr(ds, "Modality", "")) != "RTSTRUCT":
        raise DatasetError(f"{path}: not an RT Structure Set (Modality {getattr(ds, 'Modality', None)!r})")
    rois = {int(item.ROINumber): RoiContours(int(item.ROINumber), str(item.ROIName))
            for item in getattr(ds, "StructureSetROISequence", [])}
    frames = {str(item.ReferencedFrameOfReferenceUID) for item in getattr(ds, "StructureSetROISequence", [])
              if "ReferencedFrameOfReferenceUID" in item}
    for roi_contour in getattr(ds, "ROIContourSequence", []):
        roi = rois.get(int(roi_contour.ReferencedROINumber))
        if roi is None:
            continue
        for contour in getattr(roi_contour, "ContourSequence", []):
            if str(getattr(contour, "ContourGeometricType", "")) != "CLOSED_PLANAR":
                roi.skipped += 1
                continue
            points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            if len(points) >= 3:
                roi.planes.append(points)
    return StructureSet(Path(path), _referenced_series(ds), next(iter(frames), None), rois)


def fill_polygon(cols: np.ndarray, rows: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Voxels (row, col) of a 2D grid whose centres lie inside the polygon with vertices (cols, rows), given in
    continuous index coordinates; even-odd rule, half-open (a centre on a left/top edge is inside, on a right/bottom
    edge outside)."""
    mask = np.zeros(shape, dtype=bool)
    c0, r0 = np.asarray(cols, float), np.asarray(rows, float)
    c1, r1 = np.roll(c0, -1), np.roll(r0, -1)
    first, last = max(0, int(np.ceil(r0.min()))), min(shape[0] - 1, int(np.ceil(r0.max())) - 1)
    for row in range(first, last + 1):
        crossing = ((r0 <= row) & (r1 > row)) | ((r1 <= row) & (r0 > row))
        if not crossing.any():
            continue
        a, b = c0[crossing], c1[crossing]
        ra, rb = r0[crossing], r1[crossing]
        xs = np.sort(a + (row - ra) * (b - a) / (rb - ra))
        for start, stop in zip(xs[0::2], xs[1::2]):
            lo, hi = max(0, int(np.ceil(start))), min(shape[1], int(np.ceil(stop)))
            if hi > lo:
                mask[row, lo:hi] ^= True
    return mask


def rasterise(rois: list[RoiContours], image) -> np.ndarray:
    """Union of the given ROIs as a (z, y, x) uint8 mask on the grid of the SimpleITK ``image``."""
    size = image.GetSize()  # x, y, z
    spacing = np.asarray(image.GetSpacing())
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    origin = np.asarray(image.GetOrigin())
    to_index = np.linalg.inv(direction @ np.diag(spacing))
    mask = np.zeros(size[::-1], dtype=bool)
    for roi in rois:
        planes: dict[int, np.ndarray] = {}
        for points in roi.planes:
            index = (points - origin) @ to_index.T  # continuous (i, j, k) = (x, y, z) indices
            k = float(index[:, 2].mean())
            if np.ptp(index[:, 2]) > 0.5 or abs(k - round(k)) > 0.5 + 1e-6:
                raise DatasetError(f"ROI {roi.name!r}: a contour does not lie on one slice of the image grid")
            slice_index = int(round(k))
            if not 0 <= slice_index < size[2]:
                continue  # outside the scanned volume
            filled = fill_polygon(index[:, 0], index[:, 1], (size[1], size[0]))
            planes[slice_index] = planes.get(slice_index, np.zeros_like(filled)) ^ filled
        for slice_index, filled in planes.items():
            mask[slice_index] |= filled
    return mask.astype(np.uint8)
