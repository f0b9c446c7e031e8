"""The on-disk dataset layout, after nnU-Net's raw format with one folder per modality cohort.

CBCT and MRI are unpaired (different patients), so each cohort is its own nnU-Net-like folder::

    DATASET/dataset.json
    DATASET/splits.json                      # patient-level train/val/test per cohort
    DATASET/cbct/imagesTr/CASE_0000.nii.gz   # channel suffix _0000 as in nnU-Net
    DATASET/cbct/labelsTr/CASE.nii.gz        # 0 background, 1 tumour
    DATASET/mri/imagesTr/...  DATASET/mri/labelsTr/...

``dataset.json`` names the cases of each cohort and the patient each belongs to, so that several weekly scans of
one patient stay in one split. Any SimpleITK-readable format is accepted (``file_ending``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cmedl_bench.errors import DatasetError

COHORTS = ("cbct", "mri")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Case:
    cohort: str
    case_id: str
    patient: str
    image_path: Path
    label_path: Path


@dataclass(frozen=True)
class Volume:
    """A case read into memory: arrays in SimpleITK's numpy order (z, y, x), spacing in the same order (mm)."""

    case: Case
    image: np.ndarray  # float32
    label: np.ndarray  # uint8, 0/1
    spacing_zyx: tuple[float, float, float]
    origin: tuple[float, ...]
    direction: tuple[float, ...]


@dataclass(frozen=True)
class DatasetIndex:
    root: Path
    meta: dict[str, Any]
    cases: dict[str, dict[str, Case]]  # cohort -> case id -> case
    splits: dict[str, dict[str, list[str]]]  # cohort -> split -> patient ids
    splits_source: str = "splits.json"  # or "generated (seed N)" when the dataset has no splits.json

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.root.name))

    @property
    def version(self) -> Any:
        return self.meta.get("version")

    def split_cases(self, cohort: str, split: str) -> list[Case]:
        patients = set(self.splits.get(cohort, {}).get(split, []))
        return [c for _, c in sorted(self.cases.get(cohort, {}).items()) if c.patient in patients]


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask (mkstemp's own files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see either the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, default_file_mode())
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: endings of the image files SimpleITK reads that the importers and ``evaluate`` recognise (longest first)
IMAGE_ENDINGS = (".seg.nrrd", ".nii.gz", ".nrrd", ".nii", ".mha", ".mhd")


def image_files(folder: Path, channel_suffix: bool = False) -> dict[str, Path]:
    """Case id -> file for the image files in ``folder`` (id = file name without its ending; with
    ``channel_suffix``, an nnU-Net channel suffix ``_0000`` is not part of the id either)."""
    out: dict[str, Path] = {}
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        ending = next((e for e in IMAGE_ENDINGS if path.name.endswith(e)), None)
        if ending is None:
            continue
        case = path.name[: -len(ending)]
        if channel_suffix and case.endswith("_0000"):
            case = case[:-5]
        if case in out:
            raise DatasetError(f"{folder}: two files for case {case!r} ({out[case].name}, {path.name})")
        out[case] = path
    return out


def image_path(root: Path, cohort: str, case_id: str, ending: str = ".nii.gz") -> Path:
    return root / cohort / "imagesTr" / f"{case_id}_0000{ending}"


def label_path(root: Path, cohort: str, case_id: str, ending: str = ".nii.gz") -> Path:
    return root / cohort / "labelsTr" / f"{case_id}{ending}"


def write_meta(root: Path, meta: dict[str, Any], splits: dict[str, dict[str, list[str]]]) -> None:
    atomic_write_text(root / "dataset.json", json.dumps(meta, indent=2, sort_keys=True))
    atomic_write_text(root / "splits.json", json.dumps(splits, indent=2, sort_keys=True))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; is this a cmedl-bench dataset folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from None


@dataclass
class LayoutScan:
    """What ``dataset.json`` and ``splits.json`` say, and every problem found in them (file, message)."""

    index: DatasetIndex
    problems: list[tuple[Path, str]]


def scan_layout(root: Path) -> LayoutScan:
    """Read ``dataset.json`` and ``splits.json`` (or generate splits), collecting problems instead of stopping at
    the first: listed files that are missing, unknown cohorts, splits naming unknown patients or a patient twice.
    Only an unreadable ``dataset.json`` stops the scan. Cases whose files are missing are left out of the index."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    meta = _read_json(root / "dataset.json")
    if not isinstance(meta, dict) or not isinstance(meta.get("cohorts"), dict):
        raise DatasetError(f"{root / 'dataset.json'} has no 'cohorts' mapping")
    ending = meta.get("file_ending", ".nii.gz")
    problems: list[tuple[Path, str]] = []
    cases: dict[str, dict[str, Case]] = {}
    for cohort, spec in meta["cohorts"].items():
        entries = spec.get("cases") if isinstance(spec, dict) else None
        if cohort not in COHORTS:
            problems.append((root / "dataset.json", f"unknown cohort {cohort!r} (expected {', '.join(COHORTS)})"))
            continue
        if not isinstance(entries, dict):
            problems.append((root / "dataset.json", f"cohort {cohort!r} has no 'cases' mapping"))
            continue
        cases[cohort] = {}
        for case_id, info in entries.items():
            info = info if isinstance(info, dict) else {}
            case = Case(cohort, case_id, str(info.get("patient", case_id)), image_path(root, cohort, case_id, ending),
                        label_path(root, cohort, case_id, ending))
            missing = [path for path in (case.image_path, case.label_path) if not path.is_file()]
            problems += [(path, "listed in dataset.json but missing") for path in missing]
            if not missing:
                cases[cohort][case_id] = case
    if (root / "splits.json").exists():
        splits, source = _read_json(root / "splits.json"), "splits.json"
    else:
        seed = int(meta.get("split_seed", 0))
        splits, source = generate_splits(cases, seed), f"generated (seed {seed})"
    problems += _split_problems(root, splits, meta["cohorts"])
    if not isinstance(splits, dict):
        splits = {}
    return LayoutScan(DatasetIndex(root, meta, cases, splits, source), problems)


def load_index(root: Path) -> DatasetIndex:
    """Read and validate ``dataset.json`` and ``splits.json``; every listed file must exist."""
    scan = scan_layout(root)
    if scan.problems:
        path, message = scan.problems[0]
        raise DatasetError(f"{path}: {message}")
    return scan.index


def generate_splits(cases: dict[str, dict[str, Case]], seed: int = 0,
                    fractions: tuple[float, float] = (0.2, 0.2)) -> dict[str, dict[str, list[str]]]:
    """Patient-level splits for a dataset without ``splits.json``, reproducible from ``seed``: CBCT patients are
    shuffled and cut into test, validation and training (``fractions`` of test and validation, at least one patient
    each when there are three or more), so all weekly scans of a patient share a split; MRI patients all train (the
    MRI cohort is only used to train translators and teachers, as in the paper)."""
    splits: dict[str, dict[str, list[str]]] = {}
    for cohort, by_case in cases.items():
        patients = sorted({c.patient for c in by_case.values()})
        if cohort != "cbct":
            splits[cohort] = {"train": patients, "val": [], "test": []}
            continue
        order = [patients[i] for i in np.random.default_rng([seed, 7]).permutation(len(patients))]
        minimum = 1 if len(order) >= 3 else 0
        n_test = max(minimum, round(fractions[0] * len(order)))
        n_val = max(minimum, round(fractions[1] * len(order)))
        splits[cohort] = {"test": sorted(order[:n_test]), "val": sorted(order[n_test:n_test + n_val]),
                          "train": sorted(order[n_test + n_val:])}
    return splits


def _split_problems(root: Path, splits: Any, cohorts: dict[str, Any]) -> list[tuple[Path, str]]:
    where = root / "splits.json"
    if not isinstance(splits, dict):
        return [(where, "must map cohort -> split -> patient ids")]
    problems = []
    for cohort, by_split in splits.items():
        if cohort not in cohorts or not isinstance(by_split, dict):
            problems.append((where, f"cohort {cohort!r} is not in dataset.json"))
            continue
        owner: dict[str, str] = {}
        known = {str(info.get("patient", case_id)) if isinstance(info, dict) else case_id
                 for case_id, info in (cohorts[cohort].get("cases") or {}).items()}
        for split, patients in by_split.items():
            if split not in SPLITS:
                problems.append((where, f"unknown split {split!r} (expected {', '.join(SPLITS)})"))
                continue
            for patient in patients:
                if patient not in known:
                    problems.append((where, f"patient {patient!r} of {cohort}/{split} has no case"))
                elif patient in owner:
                    problems.append((where, f"patient {patient!r} is in both {owner[patient]} and {split}"))
                else:
                    owner[patient] = split
    return problems


def _same_geometry(a, b) -> bool:
    return (a.GetSize() == b.GetSize()
            and np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=0, atol=1e-4)
            and np.allclose(a.GetOrigin(), b.GetOrigin(), rtol=0, atol=1e-3)
            and np.allclose(a.GetDirection(), b.GetDirection(), rtol=0, atol=1e-5))


def read_volume(case: Case) -> Volume:
    """Read one case; the image and label must share size, spacing, origin and direction."""
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(case.image_path))
        label = sitk.ReadImage(str(case.label_path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(f"cannot read {case.cohort} case {case.case_id}: {first}") from None
    if image.GetDimension() != 3 or label.GetDimension() != 3:
        raise DatasetError(f"{case.image_path}: expected 3D volumes, got {image.GetDimension()}D image and "
                           f"{label.GetDimension()}D label")
    if not _same_geometry(image, label):
        raise DatasetError(
            f"{case.label_path} does not match its image's geometry "
            f"(size {label.GetSize()} vs {image.GetSize()}, spacing {tuple(round(s, 4) for s in label.GetSpacing())} "
            f"vs {tuple(round(s, 4) for s in image.GetSpacing())}, or origin/direction differ)"
        )
    image_array = sitk.GetArrayFromImage(image).astype(np.float32)
    label_array = sitk.GetArrayFromImage(label)
    if not np.isfinite(image_array).all():
        raise DatasetError(f"{case.image_path} contains NaN or infinite voxels")
    values = np.unique(label_array)
    if not set(values.tolist()) <= {0, 1}:
        raise DatasetError(f"{case.label_path} is not binary (values {values[:6].tolist()}); expected 0/1")
    spacing = image.GetSpacing()
    return Volume(case, image_array, label_array.astype(np.uint8), (spacing[2], spacing[1], spacing[0]),
                  image.GetOrigin(), image.GetDirection())


def write_volume(path: Path, array: np.ndarray, spacing_zyx, origin=None, direction=None) -> None:
    """Write a (z, y, x) array with the given geometry, atomically."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in reversed(spacing_zyx)))
    if origin is not None:
        image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{''.join(path.suffixes)}")
    sitk.WriteImage(image, str(tmp), useCompression=True)
    os.replace(tmp, path)
