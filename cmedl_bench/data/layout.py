"""The on-disk dataset layout, after nnU-Net's raw format with one folder per modality cohort.

CBCT and MRI are unpaired (different patients), so each cohort is its own nnU-Net-like folder::

    DATASET/dataset.json
    DATASET/splits.json                      # patient-level train/val/test per cohort
    DATASET/cbct/imagesTr/CASE_0000.nii.gz   # channel suffix _0000 as in nnU-Net
    DATASET/cbct/labelsTr/CASE.nii.gz        # 0 background, 1 tumour
    DATASET/mri/imagesTr/...  DATASET/mri/labelsTr/...
    DATASET/mri-aligned/imagesTr/CASE_0000.nii.gz   # optional: MRI registered to CBCT case CASE, on its grid

``dataset.json`` names the cases of each cohort and the patient each belongs to, so that several weekly scans of
one patient stay in one split. Any SimpleITK-readable format is accepted (``file_ending``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cmedl_bench.io.geometry import CANONICAL_ORIENTATION, grid_difference, orientation, reorient
from cmedl_bench.data.identifiers import id_problem, inside
from cmedl_bench.errors import DatasetError
from cmedl_bench.io.atomic import atomic_write_text
from cmedl_bench.io.images import IMAGE_ENDINGS, on_grid, read_image, write_image
from cmedl_bench.data.splits import ALIGNED_COHORT, generate_splits, split_problems, well_typed

COHORTS = ("cbct", "mri", ALIGNED_COHORT)


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
    image: np.ndarray | None  # float32; None once prepared for training (:func:`without_image`)
    stored_label: np.ndarray  # uint8 0/1 on the grid, or its bits (``np.packbits``) where ``packed_shape`` is set
    spacing_zyx: tuple[float, float, float]
    origin: tuple[float, ...]
    direction: tuple[float, ...]
    source_orientation: str = CANONICAL_ORIENTATION  # the file's own orientation; arrays are in the canonical one
    packed_shape: tuple[int, int, int] | None = None  # the label's shape once :func:`without_image` packed it

    @property
    def shape(self) -> tuple[int, ...]:
        """The (z, y, x) size of the scan's grid (read without unpacking the label)."""
        return tuple(self.packed_shape or self.stored_label.shape)

    @property
    def label(self) -> np.ndarray:
        """The reference mask, uint8 0/1 (z, y, x); unpacked on each access once packed."""
        if self.packed_shape is None:
            return self.stored_label
        return np.unpackbits(self.stored_label, count=int(np.prod(self.packed_shape))).reshape(self.packed_shape)


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


def image_files(folder: Path, channel_suffix: bool = False) -> dict[str, Path]:
    """Case id -> file for the image files in ``folder`` (id = file name without its ending; with
    ``channel_suffix``, an nnU-Net channel suffix ``_0000`` is not part of the id either)."""
    out: dict[str, Path] = {}
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        case = file_case_id(path, channel_suffix)
        if case is None:
            continue
        if case in out:
            raise DatasetError(f"{folder}: two files for case {case!r} ({out[case].name}, {path.name})")
        out[case] = path
    return out


def file_case_id(path: Path, channel_suffix: bool = True) -> str | None:
    """The name of an image file without its ending (and, with ``channel_suffix``, without nnU-Net's ``_0000``);
    None when the ending is not an image ending."""
    ending = next((e for e in IMAGE_ENDINGS if path.name.endswith(e)), None)
    if ending is None:
        return None
    case = path.name[: -len(ending)]
    return case[:-5] if channel_suffix and case.endswith("_0000") else case


def image_path(root: Path, cohort: str, case_id: str, ending: str = ".nii.gz") -> Path:
    return inside(root, root / cohort / "imagesTr" / f"{case_id}_0000{ending}")


def label_path(root: Path, cohort: str, case_id: str, ending: str = ".nii.gz") -> Path:
    return inside(root, root / cohort / "labelsTr" / f"{case_id}{ending}")


def tissue_path(root: Path, cohort: str, case_id: str, ending: str = ".nii.gz") -> Path:
    """Optional tissue map of a case (``TISSUE_CLASSES``): the tissue under each voxel as it would be without the
    tumour (where the tumour grew, what it displaced), on the image's grid; a synthetic dataset can write it, and
    ``data contrast`` then measures the tumour against each neighbour class. The aligned MRI uses its CBCT case's."""
    return inside(root, root / cohort / "tissuesTr" / f"{case_id}{ending}")


#: ``dataset.json`` key of a dataset with tissue maps: neighbour class name -> the tissue codes it holds
TISSUE_CLASSES = "tissue_classes"


def write_meta(root: Path, meta: dict[str, Any], splits: dict[str, dict[str, list[str]]]) -> None:
    atomic_write_text(root / "dataset.json", json.dumps(meta, indent=2, sort_keys=True))
    atomic_write_text(root / "splits.json", json.dumps(splits, indent=2, sort_keys=True))


def read_json(path: Path) -> Any:
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


#: the keys of an nnU-Net v2 raw ``dataset.json`` (:mod:`cmedl_bench.data.nnunet`)
NNUNET_SIGNATURE = ("channel_names", "labels", "file_ending")


def is_nnunet_raw(meta: Any) -> bool:
    """Whether a parsed ``dataset.json`` is nnU-Net's raw one (and not the layout's: no ``cohorts``)."""
    return isinstance(meta, dict) and "cohorts" not in meta and all(key in meta for key in NNUNET_SIGNATURE)


def scan_layout(root: Path) -> LayoutScan:
    """Read ``dataset.json`` and ``splits.json`` (or generate splits), collecting problems instead of stopping at
    the first: fields of the wrong type, invalid case or patient ids (:mod:`cmedl_bench.data.identifiers`), listed
    files that are missing, unknown cohorts, splits naming unknown patients or a patient twice. Only an unreadable
    ``dataset.json`` stops the scan. Cases with an invalid id or missing files are left out of the index."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} " + ("is a file, not a folder" if root.exists() else "does not exist"))
    where = root / "dataset.json"
    meta = read_json(where)
    if is_nnunet_raw(meta):
        raise DatasetError(f"{root} is an nnU-Net raw dataset, not the cmedl-bench layout; import it with "
                           f"'cmedl-bench data import NEW_FOLDER --nnunet {root}'")
    if not isinstance(meta, dict) or not isinstance(meta.get("cohorts"), dict):
        raise DatasetError(f"{where} has no 'cohorts' mapping")
    ending = meta.get("file_ending", ".nii.gz")
    if ending not in IMAGE_ENDINGS:
        raise DatasetError(f"{where}: file_ending {ending!r} is not one of {', '.join(IMAGE_ENDINGS)}")
    problems: list[tuple[Path, str]] = []
    cases: dict[str, dict[str, Case]] = {}
    for cohort, spec in meta["cohorts"].items():
        entries = spec.get("cases") if isinstance(spec, dict) else None
        if cohort not in COHORTS:
            problems.append((where, f"unknown cohort {cohort!r} (expected {', '.join(COHORTS)})"))
            continue
        if not isinstance(entries, dict):
            problems.append((where, f"cohort {cohort!r} has no 'cases' mapping"))
            continue
        cases[cohort] = {}
        for case_id, info in entries.items():
            if not isinstance(info, dict):
                problems.append((where, f"{cohort} case {case_id!r}: entry must be a mapping, not "
                                        f"{type(info).__name__}"))
                continue
            patient = info.get("patient", case_id)
            bad = [f"{kind} id {problem}" for kind, problem in (("case", id_problem(case_id)),
                                                                 ("patient", id_problem(patient))) if problem]
            if bad:
                problems.append((where, f"{cohort} case {case_id!r}: " + "; ".join(bad)))
                continue
            case = Case(cohort, case_id, patient, image_path(root, cohort, case_id, ending),
                        label_path(root, cohort, case_id, ending))
            missing = [path for path in (case.image_path, case.label_path) if not path.is_file()]
            problems += [(path, "listed in dataset.json but missing") for path in missing]
            if not missing:
                cases[cohort][case_id] = case
    if (root / "splits.json").exists():
        splits, source = read_json(root / "splits.json"), "splits.json"
    else:
        seed = meta.get("split_seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise DatasetError(f"{where}: split_seed must be an integer, not {seed!r}")
        splits, source = generate_splits(cases, seed), f"generated (seed {seed})"
    problems += split_problems(root, splits, meta["cohorts"])
    splits = well_typed(splits) if isinstance(splits, dict) else {}
    return LayoutScan(DatasetIndex(root, meta, cases, splits, source), problems)



def load_index(root: Path) -> DatasetIndex:
    """Read and validate ``dataset.json`` and ``splits.json``; every listed file must exist."""
    scan = scan_layout(root)
    if scan.problems:
        path, message = scan.problems[0]
        raise DatasetError(f"{path}: {message}")
    return scan.index




def read_volume(case: Case) -> Volume:
    """Read one case in the canonical orientation; the image and label must share size, spacing, origin and
    direction."""
    image = read_image(case.image_path, f"{case.cohort} case {case.case_id}")
    label = read_image(case.label_path, f"{case.cohort} label {case.case_id}")
    difference = grid_difference(label, image)
    if difference:
        name, ours, theirs = difference
        raise DatasetError(f"{case.label_path} does not match its image's geometry: label {name} {ours} vs {theirs}")
    return canonical_volume(case, image, label)


def without_image(volume: Volume) -> Volume:
    """The volume as a prepared case keeps it: without its original-grid image and with its label packed to one bit
    a voxel. After preprocessing, training, scoring and writing read only the label and the geometry; the float32
    image is most of a prepared case's memory (about 100 MB a clinical 512 x 512 x 100 scan) and the uint8 label
    the next largest (26 MB there; 2 of a phantom scan's 3.9 MB), 0.25 MB packed."""
    from dataclasses import replace

    if volume.packed_shape is not None:
        return replace(volume, image=None)
    return replace(volume, image=None, stored_label=np.packbits(volume.stored_label, axis=None),
                   packed_shape=volume.stored_label.shape)


def canonical_volume(case: Case, image, label=None) -> Volume:
    """A SimpleITK image (and its label on the same grid) as a :class:`Volume` in the canonical orientation; without
    a label (a new scan to predict) the label is empty."""
    import SimpleITK as sitk

    source = orientation(image)
    image = reorient(image, CANONICAL_ORIENTATION)
    image_array = sitk.GetArrayFromImage(image).astype(np.float32)
    if label is None:
        label_array = np.zeros(image_array.shape, dtype=np.uint8)
    else:
        label_array = sitk.GetArrayFromImage(reorient(label, CANONICAL_ORIENTATION))
        values = np.unique(label_array)
        if not set(values.tolist()) <= {0, 1}:
            raise DatasetError(f"{case.label_path} is not binary (values {values[:6].tolist()}); expected 0/1")
    spacing = image.GetSpacing()
    return Volume(case, image_array, label_array.astype(np.uint8), (spacing[2], spacing[1], spacing[0]),
                  image.GetOrigin(), image.GetDirection(), source)


def on_source_grid(array: np.ndarray, volume: Volume, source=None):
    """A (z, y, x) array computed on ``volume``'s canonical arrays as a SimpleITK image on the scan's own grid
    (orientation, origin, spacing and direction of the file it was read from; with ``source``, the image read, its
    header exactly)."""
    return on_grid(array, volume.spacing_zyx, volume.origin, volume.direction, volume.source_orientation, source)


def write_on_source_grid(path: Path, array: np.ndarray, volume: Volume) -> None:
    """Write :func:`on_source_grid` of the array, atomically."""
    write_image(path, on_source_grid(array, volume))
