"""Patient-level splits of a dataset (:mod:`cmedl_bench.data.layout`): generated reproducibly for a dataset without
``splits.json``, and checked (every problem collected) for one with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")
#: MRI of the CBCT patients registered to each CBCT scan (same case ids, grids and labels): read only by reference
#: rows (an MRI oracle, an oracle translator) and translation-fidelity metrics, never by a method under test
ALIGNED_COHORT = "mri-aligned"


def generate_splits(cases: dict[str, dict[str, Any]], seed: int = 0,
                    fractions: tuple[float, float] = (0.2, 0.2)) -> dict[str, dict[str, list[str]]]:
    """Patient-level splits for a dataset without ``splits.json``, reproducible from ``seed``: CBCT patients are
    shuffled and cut into test, validation and training (``fractions`` of test and validation, at least one patient
    each when there are three or more), so all weekly scans of a patient share a split; MRI patients all train (the
    MRI cohort is only used to train translators and teachers, as in the paper); aligned MRI follows the CBCT
    patients' splits."""
    splits: dict[str, dict[str, list[str]]] = {}
    for cohort, by_case in sorted(cases.items()):  # "cbct" before "mri-aligned"
        patients = sorted({c.patient for c in by_case.values()})
        if cohort == ALIGNED_COHORT:
            splits[cohort] = {name: [p for p in ids if p in patients] for name, ids in splits.get("cbct", {}).items()}
            continue
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


def split_problems(root: Path, splits: Any, cohorts: dict[str, Any]) -> list[tuple[Path, str]]:
    where = root / "splits.json"
    if not isinstance(splits, dict):
        return [(where, "must map cohort -> split -> patient ids")]
    problems = []
    for cohort, by_split in splits.items():
        if cohort not in cohorts or not isinstance(by_split, dict):
            problems.append((where, f"cohort {cohort!r} is not in dataset.json"))
            continue
        owner: dict[str, str] = {}
        entries = cohorts[cohort].get("cases") if isinstance(cohorts[cohort], dict) else None
        known = {info.get("patient", case_id) if isinstance(info, dict) else case_id
                 for case_id, info in (entries if isinstance(entries, dict) else {}).items()}
        for split, patients in by_split.items():
            if split not in SPLITS:
                problems.append((where, f"unknown split {split!r} (expected {', '.join(SPLITS)})"))
                continue
            if not isinstance(patients, list) or not all(isinstance(p, str) for p in patients):
                problems.append((where, f"{cohort}/{split} must be a list of patient id strings"))
                continue
            for patient in patients:
                if patient not in known:
                    problems.append((where, f"patient {patient!r} of {cohort}/{split} has no case"))
                elif patient in owner:
                    problems.append((where, f"patient {patient!r} is in both {owner[patient]} and {split}"))
                else:
                    owner[patient] = split
    return problems


def well_typed(splits: dict) -> dict[str, dict[str, list[str]]]:
    """The part of a splits mapping whose types are right (the rest has been reported)."""
    return {cohort: {split: [p for p in patients if isinstance(p, str)]
                     for split, patients in by_split.items() if isinstance(patients, list)}
            for cohort, by_split in splits.items() if isinstance(by_split, dict)}
