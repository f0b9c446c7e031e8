"""nnU-Net v2 raw datasets in and out: a ``DatasetXXX_NAME`` folder as nnU-Net's documentation
(``dataset_format.md``) describes it, imported into the dataset layout, and a dataset exported as one with its split,
so that nnU-Net can be trained on exactly the benchmark's training patients and scored beside the other methods.

nnU-Net's folder: a root ``dataset.json`` with ``channel_names`` (``{"0": "CT"}``), ``labels`` (name -> value,
``background`` 0; a region-based label maps to a list of values), ``file_ending`` (``.nii.gz``, ...) and
``numTraining``; ``imagesTr/CASE_XXXX.ext`` (one file per channel, ``_0000`` the first), ``labelsTr/CASE.ext``, and
optionally ``imagesTs`` (test images, usually without labels).

What is imported: channel ``_0000`` of every case in ``imagesTr`` (and in ``imagesTs`` where a ``labelsTs`` folder
holds its label map) as the CBCT image, the tumour label (``--label NAME`` or value, resolved in the root
``dataset.json``; a dataset with a single foreground label needs none) as the mask. Other channels and unlabelled test
images are not imported, and the import says so. Patients follow :mod:`cmedl_bench.data.importing`'s rule (weekly
scans of one patient stay together).

What is exported (:func:`export_nnunet`): the CBCT cohort; training and validation cases as ``imagesTr``/``labelsTr``,
test cases as ``imagesTs`` with their label maps in ``labelsTs``; ``dataset.json`` (channel 0 ``CBCT``, labels
``background`` 0 and ``tumour`` 1); and ``splits_final.json``, one fold whose ``train`` and ``val`` are the dataset's
training and validation cases (nnU-Net reads it from its preprocessed folder: train that fold, predict ``imagesTs``,
then ``cmedl-bench evaluate --pred PREDICTIONS --ref DATASET``).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cmedl_bench.data.identifiers import require_id
from cmedl_bench.data.importing import import_pairs, require_label_maps
from cmedl_bench.data.layout import NNUNET_SIGNATURE, is_nnunet_raw, load_index, read_json
from cmedl_bench.errors import CmedlError, DatasetError
from cmedl_bench.io.atomic import atomic_write_text
from cmedl_bench.io.images import IMAGE_ENDINGS

@dataclass(frozen=True)
class NnunetRaw:
    root: Path
    channels: dict[str, str]
    labels: dict[str, Any]  # name -> value, or list of values (a region)
    ending: str
    notes: list[str] = field(default_factory=list)

    def tumour_value(self, label: str | None) -> int:
        """The value of the tumour label: the one foreground label, else ``label`` by name (case-insensitive) or
        value."""
        plain = {name: value for name, value in self.labels.items() if isinstance(value, int) and value != 0}
        if label is None:
            if len(plain) == 1:
                return next(iter(plain.values()))
            raise CmedlError(f"{self.root}/dataset.json has labels {', '.join(plain) or 'none but background'}; "
                             f"choose the tumour with --label NAME")
        if re.fullmatch(r"\d+", label) and int(label) in plain.values():
            return int(label)
        for name, value in self.labels.items():
            if name.lower() == label.lower():
                if not isinstance(value, int) or value == 0:
                    raise CmedlError(f"label {name!r} of {self.root}/dataset.json is {value!r}: a region or "
                                     f"background, not one label value")
                return value
        raise CmedlError(f"no label {label!r} in {self.root}/dataset.json (labels: {', '.join(plain)})")

    def cases(self, images: str, labels: str) -> tuple[dict[str, Path], dict[str, Path]]:
        """Channel-0 image files and label maps (case id -> file) of one image folder and its label folder."""
        found = {path.name[: -len(f"_0000{self.ending}")]: path
                 for path in sorted((self.root / images).glob(f"*_0000{self.ending}"))}
        maps = {path.name[: -len(self.ending)]: path for path in sorted((self.root / labels).glob(f"*{self.ending}"))}
        return found, maps


def read_nnunet(root: Path) -> NnunetRaw:
    """The root ``dataset.json`` of an nnU-Net v2 raw dataset, checked: one-line errors for what is missing."""
    root = Path(root)
    where = root / "dataset.json"
    if not where.is_file():
        raise CmedlError(f"--nnunet {root}: no dataset.json (an nnU-Net raw dataset is a DatasetXXX_NAME folder "
                         f"with dataset.json, imagesTr and labelsTr)")
    meta = read_json(where)
    if not is_nnunet_raw(meta):
        missing = [key for key in NNUNET_SIGNATURE if key not in (meta if isinstance(meta, dict) else {})]
        raise DatasetError(f"{where} is not an nnU-Net v2 dataset.json (missing {', '.join(missing) or 'nothing'}"
                           f"{'; it has cohorts: a cmedl-bench dataset' if 'cohorts' in meta else ''})")
    if not (isinstance(meta["channel_names"], dict) and isinstance(meta["labels"], dict)):
        raise DatasetError(f"{where}: channel_names and labels must be mappings")
    ending = meta["file_ending"]
    if ending not in IMAGE_ENDINGS:
        raise DatasetError(f"{where}: file_ending {ending!r} is not one of {', '.join(IMAGE_ENDINGS)}")
    if not (root / "imagesTr").is_dir() or not (root / "labelsTr").is_dir():
        raise DatasetError(f"{root}: no imagesTr and labelsTr folders")
    channels = {str(k): str(v) for k, v in meta["channel_names"].items()}
    notes = []
    if len(channels) > 1:
        notes.append(f"channel 0 ({channels.get('0', '?')}) imported as CBCT; channels "
                     f"{', '.join(f'{k} ({v})' for k, v in channels.items() if k != '0')} left out")
    return NnunetRaw(root, channels, dict(meta["labels"]), ending, notes)


def import_nnunet(source: Path, dataset: Path, label: str | None = None, patient_pattern: str | None = None,
                  overwrite: bool = False, progress: Callable[[int], None] | None = None,
                  patient_per_case: bool = False) -> tuple[list, list[str]]:
    """Import an nnU-Net raw dataset's labelled cases into ``dataset``'s CBCT cohort; returns the imported cases
    and the notes on what was left out."""
    raw = read_nnunet(source)
    value = str(raw.tumour_value(label))
    images, maps = raw.cases("imagesTr", "labelsTr")
    if not images:
        raise DatasetError(f"{raw.root}/imagesTr: no *_0000{raw.ending} files")
    require_label_maps(images, maps, raw.root / "labelsTr")
    notes = list(raw.notes)
    test_images, test_maps = raw.cases("imagesTs", "labelsTs")
    twice = sorted(set(test_images) & set(images))
    if twice:
        raise DatasetError(f"{raw.root}: case {twice[0]!r} is in both imagesTr and imagesTs")
    images |= {case: path for case, path in test_images.items() if case in test_maps}
    maps |= test_maps
    skipped = len(set(test_images) - set(test_maps))
    if skipped:
        notes.append(f"{skipped} test image(s) in imagesTs without a label map in labelsTs left out (they cannot be "
                     f"scored)")
    imported = import_pairs(images, {case: maps[case] for case in images}, raw.root, Path(dataset), "cbct", value,
                            patient_pattern, overwrite, progress, patient_per_case)
    return imported, notes


def export_nnunet(dataset: Path, out: Path, dataset_id: int = 501, name: str = "CBCT") -> Path:
    """Write ``out/DatasetNNN_NAME`` (see the module docstring); returns its path. ``out`` must not hold it yet."""
    if not 1 <= dataset_id <= 999:
        raise CmedlError(f"--id {dataset_id}: nnU-Net dataset ids run from 1 to 999")
    require_id("--name", name)
    index = load_index(Path(dataset))
    target = Path(out) / f"Dataset{dataset_id:03d}_{name}"
    if target.exists():
        raise CmedlError(f"{target} exists; choose another --id or --name, or remove it")
    split = {key: index.split_cases("cbct", key) for key in ("train", "val", "test")}
    if not split["train"] or not split["test"]:
        raise DatasetError(f"{dataset}: the CBCT cohort needs training and test cases to export")
    ending = next(e for e in IMAGE_ENDINGS if split["train"][0].image_path.name.endswith(e))
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for kind, cases in (("Tr", split["train"] + split["val"]), ("Ts", split["test"])):
        (staging / f"images{kind}").mkdir(parents=True)
        (staging / f"labels{kind}").mkdir()
        for case in cases:
            shutil.copyfile(case.image_path, staging / f"images{kind}" / f"{case.case_id}_0000{ending}")
            shutil.copyfile(case.label_path, staging / f"labels{kind}" / f"{case.case_id}{ending}")
    meta = {"name": name, "channel_names": {"0": "CBCT"}, "labels": {"background": 0, "tumour": 1},
            "numTraining": len(split["train"]) + len(split["val"]), "file_ending": ending,
            "description": f"exported by cmedl-bench from {index.name} (splits: {index.splits_source})"}
    atomic_write_text(staging / "dataset.json", json.dumps(meta, indent=2))
    folds = [{"train": [c.case_id for c in split["train"]], "val": [c.case_id for c in split["val"]]}]
    atomic_write_text(staging / "splits_final.json", json.dumps(folds, indent=2))
    staging.rename(target)
    return target
