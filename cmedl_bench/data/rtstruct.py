"""DICOM RT Structure Sets: reading ROI contours with pydicom and rasterising them onto an image grid.

Written here rather than taken from a converter package (those on PyPI are unmaintained or pin old pydicom/numpy).
The rules follow the DICOM standard (PS3.3 C.8.8.6, ROI Contour Module) and common practice of treatment-planning
systems:

- only ``CLOSED_PLANAR`` contours describe areas (points and open polylines are ignored, and counted);
- contour points are patient coordinates (LPS, mm); they are mapped to continuous in-plane voxel indices with the
  image's origin, spacing and direction, so oblique or flipped grids are handled; a contour must be planar and lie on
  the centre of one source slice (within :data:`CONTOUR_PLANE_TOLERANCE` of the slice spacing), matched by the
  slices' real positions (:mod:`cmedl_bench.data.dicom_series`); a contour between two slices is an error naming the
  ROI and z, never snapped to a neighbour (where it would cancel that slice's own contour as if it were a hole);
- a voxel belongs to a contour when its centre is inside the polygon (even-odd rule, half-open at the boundary, so a
  polygon drawn along voxel edges covers exactly the voxels it encloses);
- several contours of one ROI on the same slice combine as planners draw them (:func:`combine_contours`): a contour
  drawn twice counts once, a contour properly inside another is a hole (and one inside that hole an island again:
  the even-odd rule over nested contours), and contours that cross (overlap without one holding the other) are
  unioned; duplicates and crossings are counted and reported by ``data import``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cmedl_bench.errors import DatasetError

#: how far (as a fraction of the slice spacing) a contour may lie from a slice centre, and deviate from planarity
CONTOUR_PLANE_TOLERANCE = 0.1


@dataclass
class RoiContours:
    number: int
    name: str
    planes: list[np.ndarray] = field(default_factory=list)  # (N, 3) LPS points of each closed planar contour
    skipped: int = 0  # contours of other geometric types
    outside: int = 0  # contours beyond the scanned range (counted by :func:`rasterise`)
    frame: str | None = None  # the FrameOfReferenceUID its contours are given in
    duplicated: list[float] = field(default_factory=list)  # z (mm) of each contour drawn twice on a slice
    crossing: list[float] = field(default_factory=list)  # z (mm) of each pair of crossing contours on a slice

    def warnings(self, series: str) -> list[str]:
        """What the user should know about this ROI on ``series``: no contour on it, contours left out."""
        out = []
        drawn = len(self.planes) - self.outside
        if drawn <= 0:
            out.append(f"ROI {self.name!r} has no contour on series {series}: its label is empty")
        if self.outside:
            out.append(f"ROI {self.name!r}: {self.outside} contour(s) beyond the scanned range of series {series} "
                       f"left out")
        if self.skipped:
            out.append(f"ROI {self.name!r}: {self.skipped} contour(s) that are not CLOSED_PLANAR ignored")
        if self.duplicated:
            out.append(f"ROI {self.name!r}: {len(self.duplicated)} contour(s) drawn twice on one slice counted once "
                       f"(z={_zs(self.duplicated)} mm)")
        if self.crossing:
            out.append(f"ROI {self.name!r}: {len(self.crossing)} pair(s) of crossing contours unioned "
                       f"(z={_zs(self.crossing)} mm)")
        return out


def _zs(values: list[float]) -> str:
    shown = sorted(set(round(v, 2) for v in values))
    return ", ".join(f"{v:.2f}" for v in shown[:5]) + (" ..." if len(shown) > 5 else "")


@dataclass
class StructureSet:
    path: Path
    referenced_series: set[str]
    frame_of_reference: str | None
    rois: dict[int, RoiContours]

    def select(self, pattern: str, frame: str | None = None) -> list[RoiContours]:
        """ROIs whose name matches the shell-style pattern, case-insensitively (``GTV*`` matches ``GTV_1``). With
        ``frame`` (the image series' FrameOfReferenceUID), an ROI drawn in another frame of reference is an error:
        its coordinates mean another place."""
        chosen = [r for r in self.rois.values() if fnmatch.fnmatch(r.name.lower(), pattern.lower())]
        if not chosen:
            names = ", ".join(sorted(r.name for r in self.rois.values())) or "none"
            raise DatasetError(f"{self.path}: no ROI matches {pattern!r}; ROIs: {names}")
        for roi in chosen:
            if frame and roi.frame and roi.frame != frame:
                raise DatasetError(f"{self.path}: ROI {roi.name!r} is drawn in frame of reference {roi.frame}, not "
                                   f"the image series' {frame}; its coordinates cannot be placed on that series")
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
    rois = {int(item.ROINumber): RoiContours(int(item.ROINumber), str(item.ROIName),
                                             frame=str(item.ReferencedFrameOfReferenceUID)
                                             if "ReferencedFrameOfReferenceUID" in item else None)
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


def combine_contours(filled: list[np.ndarray]) -> tuple[np.ndarray, int, int]:
    """The area of one ROI on one slice from its contours' filled masks, and how many duplicates and crossing pairs
    were found. A mask equal to an earlier one is a duplicate and counted once; contours whose areas overlap without
    one containing the other are unioned into one outline; the outlines left are disjoint or nested, and a voxel
    belongs to the ROI when an odd number of them contains it (a hole inside an outline, an island inside a hole)."""
    unique: list[np.ndarray] = []
    duplicates = 0
    for mask in filled:
        if not mask.any():
            continue
        if any(np.array_equal(mask, seen) for seen in unique):
            duplicates += 1
        else:
            unique.append(mask)
    group = list(range(len(unique)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    crossings = 0
    for i in range(len(unique)):
        for j in range(i + 1, len(unique)):
            overlap = unique[i] & unique[j]
            if overlap.any() and not (np.array_equal(overlap, unique[i]) or np.array_equal(overlap, unique[j])):
                crossings += 1
                group[root(j)] = root(i)
    outlines: dict[int, np.ndarray] = {}
    for i, mask in enumerate(unique):
        k = root(i)
        outlines[k] = outlines[k] | mask if k in outlines else mask.copy()
    area = np.zeros(filled[0].shape, dtype=bool) if filled else np.zeros((0, 0), dtype=bool)
    for outline in outlines.values():
        area ^= outline
    return area, duplicates, crossings


def rasterise(rois: list[RoiContours], image, positions: np.ndarray | None = None) -> np.ndarray:
    """Union of the given ROIs as a (slice, y, x) uint8 mask on the in-plane grid of the SimpleITK ``image``, one
    plane per source slice at ``positions`` (mm along the image's third axis; default: the image's own slices).
    Contours beyond the scanned range are left out and counted in :attr:`RoiContours.outside`."""
    size = image.GetSize()  # x, y, z
    spacing = np.asarray(image.GetSpacing())
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    origin = np.asarray(image.GetOrigin())
    relative = (np.arange(size[2]) * spacing[2] if positions is None
                else np.asarray(positions, float) - float(positions[0]))
    tolerance = CONTOUR_PLANE_TOLERANCE * spacing[2]
    to_index = np.linalg.inv(direction @ np.diag(spacing))
    mask = np.zeros((len(relative), size[1], size[0]), dtype=bool)
    along = float(origin @ direction[:, 2])  # position of the first slice along the normal, mm
    for roi in rois:
        planes: dict[int, list[np.ndarray]] = {}
        for points in roi.planes:
            index = (points - origin) @ to_index.T  # continuous (i, j) in-plane indices
            z = (points - origin) @ direction[:, 2]  # mm along the slice normal from the first slice
            if np.ptp(z) > tolerance:
                raise DatasetError(f"ROI {roi.name!r}: a contour spans {np.ptp(z):.2f} mm along the slice normal; "
                                   f"contours must be planar")
            centre = float(z.mean())
            k = int(np.abs(relative - centre).argmin())
            if abs(relative[k] - centre) > tolerance:
                if relative[0] - tolerance <= centre <= relative[-1] + tolerance:
                    raise DatasetError(
                        f"ROI {roi.name!r}: a contour at z={centre + along:.2f} mm lies between "
                        f"slices (nearest slice centre at z={relative[k] + along:.2f} mm)")
                roi.outside += 1
                continue
            planes.setdefault(k, []).append(fill_polygon(index[:, 0], index[:, 1], (size[1], size[0])))
        for k, filled in planes.items():
            area, duplicates, crossings = combine_contours(filled)
            roi.duplicated += [relative[k] + along] * duplicates
            roi.crossing += [relative[k] + along] * crossings
            mask[k] |= area
    return mask.astype(np.uint8)
