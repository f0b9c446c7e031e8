"""Dataset checks run before any training (``cmedl-bench data check``, and ``run`` before it creates a run folder).

Every finding names the file it is about. Errors make ``run`` refuse the dataset; warnings are printed.

- layout: fields of the wrong type, case or patient ids that are not identifiers
  (:mod:`cmedl_bench.data.identifiers`), files listed but missing, unknown cohorts, splits naming unknown patients
  or one patient twice;
- per case: image/label geometry mismatch (size, spacing, origin, direction), non-3D or vector volumes, NaN or
  infinite voxels (read raw for NIfTI), empty or non-binary labels, intensities implausible for the modality (CBCT in
  HU: air and lung well below -500 HU and nothing beyond the metal range; MRI magnitudes are not negative; measured
  inside the field of view, padding outside it is no intensity), implausible spacing (warning), a CBCT whose field
  of view cuts the body (warning);
- across cases: identical scans under two case ids (in two splits this leaks test data into training), mixed
  orientations (warning; training reorients, :mod:`cmedl_bench.io.geometry`);
- across cases: identical scans under two case ids (in two splits this leaks test data into training);
- aligned MRI (cohort ``mri-aligned``): each case is the MRI of a CBCT case of the same id and patient, on its grid;
- splits: a CBCT split without patients, no training case with tumour voxels, no MRI training cohort (warning: the
  rows with a translator need it).

A clean result is remembered in the cache, keyed by every file's size and modification time, so a sweep checks a
dataset once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from cmedl_bench.io.geometry import (CANONICAL_ORIENTATION, grid, grid_difference, grid_mapping, grids_differ,
                                     orientation, spacing_warning)
from cmedl_bench.data.identifiers import visit_stem
from cmedl_bench.data.layout import ALIGNED_COHORT, DatasetIndex, scan_layout
from cmedl_bench.data.splits import SPLITS
from cmedl_bench.data.preprocessing import body_mask, field_of_view_contact, outside_field_of_view
from cmedl_bench.io.atomic import atomic_write_json
from cmedl_bench.io.images import read_scan
from cmedl_bench.errors import DatasetError

CHECKS_VERSION = 4  # 3: field of view, too few patients, visits split across splits; 4: aligned MRI
#: plausible HU of CBCT: the 1st percentile is air or lung, the 99.9th below dense bone or metal streak levels
CBCT_LOW_PERCENTILE_MAX_HU = -500.0
CBCT_HIGH_PERCENTILE_MAX_HU = 4000.0


@dataclass(frozen=True)
class _Seen:
    """A scan already read (for finding the same scan under two case ids)."""

    case: object
    split: str | None


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    file: str
    problem: str


@dataclass
class CheckReport:
    root: Path
    findings: list[Finding] = field(default_factory=list)
    cases: int = 0
    splits_source: str = "splits.json"
    orientations: dict[str, list[str]] = field(default_factory=dict)  # orientation code -> case ids

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def add(self, severity: str, file, problem: str) -> None:
        self.findings.append(Finding(severity, str(file), problem))


#: share of the body outline on the edge of the field of view above which a CBCT is reported as truncated
TRUNCATION_WARNING_SHARE = 0.05


def _intensity_problem(cohort: str, image: np.ndarray) -> str | None:
    """What is implausible about the intensities inside the field of view (padding outside it is no intensity)."""
    low, high = np.percentile(image, [1, 99.9])
    if cohort == "cbct":
        if low > CBCT_LOW_PERCENTILE_MAX_HU:
            return (f"implausible CBCT intensities: 1st percentile {low:.0f} (expected air/lung below "
                    f"{CBCT_LOW_PERCENTILE_MAX_HU:.0f} HU; raw detector values or an MRI?)")
        if high > CBCT_HIGH_PERCENTILE_MAX_HU:
            return f"implausible CBCT intensities: 99.9th percentile {high:.0f} HU"
    elif cohort in ("mri", ALIGNED_COHORT) and low < -1.0:
        return f"implausible MRI intensities: 1st percentile {low:.0f} (negative; a CT in HU?)"
    if high - low <= 0:
        return "constant image"
    return None


def _read(report: CheckReport, path: Path, what: str):
    """The image and its number of non-finite voxels, or (None, 0) with the reason recorded (unreadable, not 3D,
    vector voxels)."""
    try:
        return read_scan(path, what)
    except DatasetError as exc:
        report.add("error", path, str(exc).removeprefix(f"{path}: "))
        return None, 0


def _check_case(report: CheckReport, case, split: str | None, hashes: dict[str, _Seen], grids: dict) -> bool:
    """Content checks of one case; returns whether its label has tumour voxels. Its image grid goes into ``grids``
    (keyed by cohort and case id)."""
    import SimpleITK as sitk

    image, non_finite = _read(report, case.image_path, "image")
    label, _ = _read(report, case.label_path, "label")
    if image is None or label is None:
        return False
    difference = grid_difference(label, image)
    if difference:
        name, ours, theirs = difference
        report.add("error", case.label_path, f"label {name} {ours} differs from the image's {theirs}")
    grids[(case.cohort, case.case_id)] = grid(image)
    warning = spacing_warning(image)
    if warning:
        report.add("warning", case.image_path, warning)
    report.orientations.setdefault(orientation(image), []).append(case.case_id)
    array = sitk.GetArrayViewFromImage(image)
    outside = outside_field_of_view(array) if not non_finite else np.zeros(array.shape, dtype=bool)
    inside = array[~outside] if (~outside).any() else np.asarray(array).ravel()
    problem = f"{non_finite} NaN or infinite voxels" if non_finite else _intensity_problem(case.cohort, inside)
    if problem:
        report.add("error", case.image_path, problem)
    elif case.cohort == "cbct" and outside.any():
        contact = field_of_view_contact(body_mask(array, outside), outside)
        if contact > TRUNCATION_WARNING_SHARE:
            report.add("warning", case.image_path, f"the field of view cuts the body: {contact:.0%} of its outline "
                                                   f"lies on the edge of the reconstructed region")
    values = np.unique(sitk.GetArrayViewFromImage(label))
    has_tumour = bool((values != 0).any())
    if not set(values.tolist()) <= {0, 1}:
        report.add("error", case.label_path, f"not binary: values {values[:8].tolist()} (expected 0 background, "
                                             f"1 tumour)")
    elif not has_tumour:
        report.add("error", case.label_path, "empty label: no tumour voxels")
    digest = hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()
    if digest in hashes:  # reported on both files, so the finding does not depend on the order of reading
        other = hashes[digest]
        across = split is not None and other.split is not None and split != other.split
        for this, that, this_split, that_split in ((case, other.case, split, other.split),
                                                   (other.case, case, other.split, split)):
            report.add("error" if across else "warning", this.image_path, f"the same scan as {that.case_id}"
                       + (f" ({that_split} vs {this_split}: test data would leak)" if across else ""))
    else:
        hashes[digest] = _Seen(case, split)
    return has_tumour


def _split_of(index: DatasetIndex, case) -> str | None:
    for split in SPLITS:
        if case.patient in index.splits.get(case.cohort, {}).get(split, []):
            return split
    return None


def _check_visits(report: CheckReport, index: DatasetIndex, where: Path) -> None:
    """Case ids that read as visits of one patient (``C000W1``, ``C000W2``: :func:`cmedl_bench.data.identifiers.
    visit_stem`) but are listed as different patients in different splits: the weekly scans of one patient would
    train and test the same model (a warning: the ids may mean something else)."""
    groups: dict[str, list] = {}
    for case in index.cases.get("cbct", {}).values():
        stem = visit_stem(case.case_id)
        if stem:
            groups.setdefault(stem, []).append(case)
    for stem, cases in sorted(groups.items()):
        splits = {_split_of(index, case) for case in cases} - {None}
        if len({case.patient for case in cases}) > 1 and len(splits) > 1:
            listed = ", ".join(sorted(c.case_id for c in cases)[:4])
            report.add("warning", where, f"cases {listed} read as visits of one patient ({stem}) but are different "
                                         f"patients in the {', '.join(sorted(splits))} splits: test data would leak "
                                         f"if they are; give them one patient id")


def _check_aligned(report: CheckReport, index: DatasetIndex, grids: dict) -> None:
    """Each aligned MRI case belongs to the CBCT case of the same id (same patient) and lies on its grid: the same
    voxels in space, whatever the order and direction the two files store their axes in."""
    cbct = index.cases.get("cbct", {})
    for case_id, case in sorted(index.cases.get(ALIGNED_COHORT, {}).items()):
        partner = cbct.get(case_id)
        if partner is None or partner.patient != case.patient:
            report.add("error", case.image_path, f"aligned MRI {case_id!r} has no CBCT case of that id and patient "
                                                 f"({case.patient})")
            continue
        ours, theirs = grids.get((ALIGNED_COHORT, case_id)), grids.get(("cbct", case_id))
        difference = grids_differ(ours, theirs) if ours and theirs and grid_mapping(ours, theirs) is None else None
        if difference:
            name, a, b = difference
            report.add("error", case.image_path, f"aligned MRI {name} {a} differs from its CBCT scan's {b}: "
                                                 f"register and resample it onto the CBCT grid")


def _check_splits(report: CheckReport, index: DatasetIndex, tumour_in_train: bool) -> None:
    where = index.root / "splits.json" if index.splits_source == "splits.json" else index.root / "dataset.json"
    cbct = index.cases.get("cbct", {})
    if not cbct:
        report.add("error", index.root / "dataset.json", "no CBCT cases")
        return
    patients = len({c.patient for c in cbct.values()})
    if patients < len(SPLITS) and index.splits_source != "splits.json":
        report.add("error", where, f"{patients} CBCT patient(s) cannot be split into train, val and test (one "
                                   f"patient's scans stay in one split, so at least {len(SPLITS)} patients are needed)")
    else:
        for split in SPLITS:
            if not index.split_cases("cbct", split):
                report.add("error", where, f"the CBCT {split} split has no cases (need at least one patient in each)")
    _check_visits(report, index, where)
    unassigned = sorted({c.patient for c in cbct.values()} - {p for s in SPLITS for p in
                                                               index.splits.get("cbct", {}).get(s, [])})
    if unassigned:
        report.add("warning", where, f"CBCT patient(s) in no split, never used: {', '.join(unassigned[:8])}")
    if index.split_cases("cbct", "train") and not tumour_in_train:
        report.add("error", where, "no CBCT training case contains tumour voxels")
    if not index.split_cases("mri", "train"):
        report.add("warning", index.root / "dataset.json", "no MRI training cases: only rows without a translator "
                                                           "(CBCT only, 3DUnet) can run")


def _stamp(root: Path) -> str:
    entries = sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                     for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(json.dumps([CHECKS_VERSION, str(root.resolve()), entries]).encode()).hexdigest()


def _clean_marker(root: Path) -> Path:
    from cmedl_bench.settings import cache_dir

    return cache_dir() / "checks" / f"{_stamp(root)}.json"


def check_dataset(root: Path, progress: Callable[[int], None] | None = None) -> CheckReport:
    """Every check above, over every case of the dataset."""
    root = Path(root)
    scan = scan_layout(root)
    index = scan.index
    report = CheckReport(root, splits_source=index.splits_source)
    for path, message in scan.problems:
        report.add("error", path, message)
    hashes: dict[str, _Seen] = {}
    grids: dict = {}
    tumour_in_train = False
    cases = [case for cohort in index.cases.values() for _, case in sorted(cohort.items())]
    report.cases = len(cases)
    for case in cases:
        split = _split_of(index, case)
        has_tumour = _check_case(report, case, split, hashes, grids)
        tumour_in_train |= has_tumour and case.cohort == "cbct" and split == "train"
        if progress:
            progress(len(cases))
    _check_splits(report, index, tumour_in_train)
    _check_aligned(report, index, grids)
    if len(report.orientations) > 1:
        report.add("warning", root / "dataset.json", "mixed orientations: " + "; ".join(
            f"{code} ({len(ids)} case(s), e.g. {ids[0]})" for code, ids in sorted(report.orientations.items()))
            + f"; training reads every volume in {CANONICAL_ORIENTATION} and writes predictions on each scan's "
              f"own grid")
    return report


def require_clean(root: Path, progress: Callable[[int], None] | None = None) -> list[str]:
    """``run``'s gate: a dataset with errors is refused with one line; returns the warnings (``FILE: problem``),
    which are cached with the clean result so that every run repeats them."""
    marker = _clean_marker(Path(root))
    try:
        return [str(line) for line in json.loads(marker.read_text())]
    except (OSError, ValueError, TypeError):
        pass
    report = check_dataset(root, progress)
    if report.errors:
        first = report.errors[0]
        more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        raise DatasetError(f"{first.file}: {first.problem}{more}; see cmedl-bench data check {root}")
    warnings = [f"{f.file}: {f.problem}" for f in report.findings if f.severity == "warning"]
    atomic_write_json(marker, warnings)
    return warnings
