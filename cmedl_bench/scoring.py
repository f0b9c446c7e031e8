"""Per-case scoring with the metric plugins, on 3D masks in the original voxel grid, in mm (docs/reference.md §4)."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np


@dataclass
class ScoredCase:
    """A predicted and a reference mask of one case, (z, y, x) arrays with spacing in the same order (mm).

    ``cache`` lets metrics share expensive intermediate results (e.g. surface distances) within one case.
    """

    prediction: np.ndarray
    reference: np.ndarray
    spacing_zyx: tuple[float, float, float]
    cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prediction = np.asarray(self.prediction).astype(bool, copy=False)
        self.reference = np.asarray(self.reference).astype(bool, copy=False)
        if self.prediction.shape != self.reference.shape:
            raise ValueError(f"prediction shape {self.prediction.shape} != reference shape {self.reference.shape}")

    def extent(self, which: str) -> tuple[tuple[int, int], ...] | None:
        """(first, last) index per axis of the ``prediction``'s or ``reference``'s voxels; None when it is empty.
        Found slab first (the slices holding voxels), then within the slab, and cached: every metric of the case
        shares it."""
        key = ("extent", which)
        if key not in self.cache:
            mask = getattr(self, which)
            slices = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
            if not slices.size:
                self.cache[key] = None
            else:
                slab = mask[slices[0]:slices[-1] + 1]
                rest = [np.flatnonzero(slab.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
                        for axis in range(1, mask.ndim)]
                self.cache[key] = ((int(slices[0]), int(slices[-1])),
                                   *((int(r[0]), int(r[-1])) for r in rest))
        return self.cache[key]

    @property
    def empty_flag(self) -> str | None:
        """'both_empty', 'empty_prediction', 'empty_reference' or None."""
        pred_empty, ref_empty = self.extent("prediction") is None, self.extent("reference") is None
        if pred_empty and ref_empty:
            return "both_empty"
        if pred_empty:
            return "empty_prediction"
        if ref_empty:
            return "empty_reference"
        return None

    @property
    def diagonal_mm(self) -> float:
        return float(np.sqrt(sum((n * s) ** 2 for n, s in zip(self.prediction.shape, self.spacing_zyx))))

    def empty_rule(self, both_empty: float, one_empty: float) -> MetricValue | None:
        """The flagged value an empty mask sets (``both_empty`` when both masks are empty, ``one_empty`` when only
        one is), or None when both hold tumour and the metric measures. The built-in rules: DSC and SDSC 1 / 0,
        distances 0 / :attr:`diagonal_mm` (docs/writing-plugins.md, "Metrics")."""
        flag = self.empty_flag
        if flag is None:
            return None
        return MetricValue(both_empty if flag == "both_empty" else one_empty, flag)

    def box(self, margin: int = 1) -> tuple[slice, ...]:
        """The bounding box of both masks grown by ``margin`` voxels (clipped to the volume): surfaces and distances
        between them lie inside it, so metrics computed there equal the whole volume's (cache key ``"box"``)."""
        extents = [e for e in (self.extent("prediction"), self.extent("reference")) if e is not None]
        if not extents:
            return tuple(slice(0, 0) for _ in self.prediction.shape)
        return tuple(slice(max(0, min(e[axis][0] for e in extents) - margin), max(e[axis][1] for e in extents) + 1
                           + margin) for axis in range(self.prediction.ndim))

    def surface_distances(self) -> dict[str, Any]:
        """DeepMind surface-distance's ``compute_surface_distances(reference, prediction, spacing)`` of two
        non-empty masks, computed once per case and shared by every metric that asks (cache key
        ``"surface_distances"``). The same definition as the library's: surfels where a 2 x 2 x 2 neighbourhood
        code of the masks' bounding box (one background voxel past its end) is neither empty nor full, their areas
        from the library's lookup table, each surfel's distance in mm to the nearest surfel of the other mask, sorted
        by (distance, area). The nearest surfel is found with a k-d tree over the surfels rather than a distance
        transform of the whole box, so a distant false positive (a large box) costs little; the values are the
        library's (benchmarks/test_metric_path.py checks them to 1e-6)."""
        if "surface_distances" not in self.cache:
            from scipy import ndimage
            from surface_distance import lookup_tables

            box = self.box(margin=0)
            grid = tuple(s.stop - s.start + 1 for s in box)
            areas = _surfel_areas(self.spacing_zyx)
            codes, borders = {}, {}
            for name in ("reference", "prediction"):
                crop = np.zeros(grid, np.uint8)
                crop[tuple(slice(0, -1) for _ in grid)] = getattr(self, name)[box]
                codes[name] = ndimage.correlate(crop, lookup_tables.ENCODE_NEIGHBOURHOOD_3D_KERNEL, mode="constant",
                                                cval=0)
                borders[name] = (codes[name] != 0) & (codes[name] != 0b11111111)
            found = _nearest_surfel_distances(borders["reference"], borders["prediction"], self.spacing_zyx)
            result = {}
            for name, mask in (("reference", "gt"), ("prediction", "pred")):
                surfel_areas = areas[codes[name][borders[name]]]
                order = np.lexsort((surfel_areas, found[name]))  # by distance, then area, as the library sorts
                other = "pred" if mask == "gt" else "gt"
                result[f"distances_{mask}_to_{other}"] = found[name][order]
                result[f"surfel_areas_{mask}"] = surfel_areas[order]
            self.cache["surface_distances"] = result
        return self.cache["surface_distances"]


@functools.lru_cache(maxsize=8)
def _surfel_areas(spacing_zyx: tuple[float, float, float]) -> np.ndarray:
    """surface-distance's table: 2 x 2 x 2 neighbourhood code -> surfel area in mm^2, for a spacing."""
    from surface_distance import lookup_tables

    return lookup_tables.create_table_neighbour_code_to_surface_area(spacing_zyx)


def _nearest_surfel_distances(reference: np.ndarray, prediction: np.ndarray, spacing_zyx) -> dict[str, np.ndarray]:
    """For each surfel of each border map (same grid), the distance in mm to the nearest surfel of the other: a
    distance transform of the box where the surfels fill it densely, else a k-d tree over the surfels (a distant
    false positive makes a large, empty box); both are exact Euclidean distances."""
    count = int(reference.sum() + prediction.sum())
    if reference.size <= _DENSE_BOX_VOXELS_PER_SURFEL * count:
        from scipy import ndimage

        return {"reference": ndimage.distance_transform_edt(~prediction, sampling=spacing_zyx)[reference],
                "prediction": ndimage.distance_transform_edt(~reference, sampling=spacing_zyx)[prediction]}
    from scipy.spatial import cKDTree

    points = {name: np.argwhere(border) * np.asarray(spacing_zyx)
              for name, border in (("reference", reference), ("prediction", prediction))}
    return {"reference": cKDTree(points["prediction"]).query(points["reference"])[0],
            "prediction": cKDTree(points["reference"]).query(points["prediction"])[0]}


#: box voxels per surfel above which the k-d tree is faster than the distance transform (measured on 512 x 512 x 100
#: masks: about 7 in a tumour's own box, where the transform wins; about 95 with a distant false positive)
_DENSE_BOX_VOXELS_PER_SURFEL = 30


@dataclass(frozen=True)
class MetricValue:
    value: float
    flag: str | None = None  # why a value was set by rule rather than measured


@dataclass
class TranslatedCase:
    """One translated CBCT case, for a translation metric whose info sets ``takes_case`` (docs/writing-plugins.md,
    "Translation metrics"). Arrays are (z, y, x) on the working grid (the preset's in-plane spacing, cropped to the
    body's box), intensities in the translators' [-1, 1]:

    - ``pseudo_mri``: the translation; ``cbct``: the scan it came from; ``body``: the body mask;
    - ``label``: the CBCT scan's tumour label (the tumour's place in the pseudo-MRI);
    - ``aligned``: the true MRI of the scan (cohort ``mri-aligned``) where the dataset has it, else None;
    - ``reference``: body intensities of the MRI training cohort (1D; what KL compares with);
    - ``reference_contrast``: the MRI cohort's median tumour contrast and CNR against the surroundings
      (:func:`cmedl_bench.data.contrast.case_contrast`, the ``data contrast`` definition), keys ``contrast`` and
      ``cnr`` (None where no cohort case has a soft-tissue interface).
    """

    pseudo_mri: np.ndarray
    cbct: np.ndarray
    body: np.ndarray
    label: np.ndarray
    spacing_zyx: tuple[float, float, float]
    reference: np.ndarray
    reference_contrast: dict[str, float | None]
    aligned: np.ndarray | None = None
    cache: dict[str, Any] = field(default_factory=dict)


MetricFn = Callable[[ScoredCase], MetricValue]
#: the flag of a value that a metric failed to compute
METRIC_ERROR = "metric_error"


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice similarity coefficient 2|P & R| / (|P| + |R|) of two binary masks; 1 when both are empty. The ``dsc``
    metric and the trainer's validation DSC are this function."""
    prediction, reference = np.asarray(prediction, dtype=bool), np.asarray(reference, dtype=bool)
    denominator = prediction.sum() + reference.sum()
    return 1.0 if denominator == 0 else float(2.0 * (prediction & reference).sum() / denominator)


def score_case(metrics: Mapping[str, MetricFn], prediction, reference, spacing_zyx) -> dict[str, MetricValue]:
    """Every metric on one case (:func:`measured`)."""
    case = ScoredCase(prediction, reference, tuple(float(s) for s in spacing_zyx))
    return {name: measured(name, lambda fn=fn: fn(case)) for name, fn in metrics.items()}


_FAILED_METRICS: set[str] = set()  # metrics already warned about in this process


def measured(name: str, call: Callable[[], Any]) -> MetricValue:
    """One metric's value (segmentation or translation metric). A metric that raises, returns something other than
    a :class:`MetricValue`, or NaN without a flag (a value nobody explained) gives NaN with the flag
    ``metric_error`` and one warning per metric and process, so one faulty metric plugin never stops a run or the
    other metrics."""
    try:
        value = call()
        if not isinstance(value, MetricValue):
            raise TypeError(f"returned {type(value).__name__}, not a MetricValue")
        if value.value != value.value and not value.flag:
            raise ValueError("returned NaN without a flag saying why")
        return value
    except Exception as exc:  # noqa: BLE001 - a metric plugin's failure is recorded, never fatal
        if name not in _FAILED_METRICS:
            _FAILED_METRICS.add(name)
            reason = str(exc).splitlines()[0] if str(exc) else ""
            warnings.warn(f"metric {name!r} failed ({type(exc).__name__}: {reason}); its values are NaN with the flag "
                          f"{METRIC_ERROR}", stacklevel=2)
        return MetricValue(float("nan"), METRIC_ERROR)


class ReferenceFingerprint:
    """Identifies the reference masks a result was scored against, per split: SHA-256 over (case id, SHA-1 of the
    binary mask in the canonical orientation). Two results are comparable only when their test fingerprints are
    equal; ``report`` never ranks or tests them against each other otherwise."""

    def __init__(self) -> None:
        self._cases: dict[str, list[str]] = {}

    def add(self, split: str, case_id: str, reference: np.ndarray) -> None:
        import hashlib

        digest = hashlib.sha1(np.packbits(np.ascontiguousarray(reference, dtype=bool)).tobytes()
                              + repr(reference.shape).encode()).hexdigest()
        self._cases.setdefault(split, []).append(f"{case_id}:{digest}")

    def digests(self) -> dict[str, str]:
        import hashlib

        return {split: hashlib.sha256("\n".join(sorted(cases)).encode()).hexdigest()
                for split, cases in sorted(self._cases.items())}
