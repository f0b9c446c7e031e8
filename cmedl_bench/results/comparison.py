"""Comparing a leaderboard row with its reference row, paired at the level where the data are independent.

Weekly scans of one patient are not independent, so by default the unit is the **patient**: a patient's value is the
mean over its scans and over the seeds of the row, and the paired two-sided Wilcoxon signed-rank test runs on the
patients both rows scored (``pairing="scan"`` pairs scans instead, and is labelled as such). Patients come from the
case -> patient map each run records (``run.json`` ``dataset.cases``), or for records older than that map, the
``dataset.json`` at the absolute path the run recorded. A comparison in which any case has no known patient (a plain
folder of masks, a dataset that moved, a path recorded relative to a directory nobody knows) is paired per scan and
says so: scans are never counted as patients. The mean paired difference gets a studentised bootstrap 95 % interval,
resampling units (:func:`cmedl_bench.results.statistics.bootstrap_mean_ci`, seeded, so a report is reproducible).
Tumour locations recorded in ``dataset.json`` (``central`` / ``peripheral``) give subgroup means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cmedl_bench.results.statistics import bootstrap_mean_ci, wilcoxon_signed_rank

PAIRINGS = ("patient", "scan")
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Comparison:
    metric: str
    pairing: str
    units: int  # patients (or scans) both rows scored
    scans: int  # scans behind those units
    p: float
    mean_difference: float  # row minus reference
    ci: tuple[float, float]


@lru_cache(maxsize=64)
def _dataset_cases(path: str) -> dict[str, dict[str, Any]]:
    if not Path(path).is_absolute():  # relative to a working directory that is not recorded: unusable
        return {}
    try:
        meta = json.loads((Path(path) / "dataset.json").read_text())
        return dict(meta["cohorts"]["cbct"]["cases"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def case_info(runs) -> dict[str, dict[str, Any]]:
    """Case id -> patient (and location) of the cases the runs were scored on: each run's recorded map, else the
    ``dataset.json`` at the absolute path it recorded."""
    info: dict[str, dict[str, Any]] = {}
    for run in runs:
        dataset = run.record.dataset
        if isinstance(dataset.cases, dict):
            info.update({case: entry for case, entry in dataset.cases.items() if isinstance(entry, dict)})
        elif dataset.path:
            info.update(_dataset_cases(str(dataset.path)))
    return info


def unit_of(cases, info: dict[str, dict[str, Any]], pairing: str) -> str:
    """The pairing that can be honoured for ``cases``: ``patient`` only when every case has a known patient."""
    if pairing == "patient" and all("patient" in (info.get(case) or {}) for case in cases):
        return "patient"
    return "scan"


def per_unit(scan_values, info: dict[str, dict[str, Any]], pairing: str):
    """Per unit (patient or scan), the mean of its scans' values (themselves means over seeds)."""
    if pairing == "scan":
        return scan_values
    patients = [str(info[case]["patient"]) for case in scan_values.index]
    return scan_values.groupby(patients).mean()


def compare(row_scans, reference_scans, info: dict[str, dict[str, Any]], metric: str,
            pairing: str) -> Comparison | None:
    """The paired test of one metric; None when no unit was scored by both rows. ``pairing`` falls back to
    ``scan`` when a case's patient is unknown (:func:`unit_of`); the comparison records what it used."""
    common_scans = sorted(set(row_scans.index) & set(reference_scans.index))
    if not common_scans:
        return None
    pairing = unit_of(common_scans, info, pairing)
    ours = per_unit(row_scans[common_scans], info, pairing)
    theirs = per_unit(reference_scans[common_scans], info, pairing)
    differences = (ours - theirs[ours.index]).to_numpy()
    test = wilcoxon_signed_rank(ours.to_numpy(), theirs[ours.index].to_numpy())
    return Comparison(metric, pairing, len(ours), len(common_scans), test.p, float(differences.mean()),
                      bootstrap_mean_ci(differences, BOOTSTRAP_SEED))


def subgroup_means(scan_values, info: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Mean per recorded tumour location (empty when the dataset records none)."""
    locations = {case: (info.get(case) or {}).get("location") for case in scan_values.index}
    if not any(locations.values()):
        return {}
    grouped = scan_values.groupby([locations[case] or "unknown" for case in scan_values.index]).mean()
    return {str(location): float(value) for location, value in grouped.items()}
