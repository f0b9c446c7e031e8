"""Headroom captured: how much of what is there to gain a row gains, against two reference rows of the same dataset
(reference masks), preset and segmenter:

- the **MRI oracle** (fusion ``mri-oracle``: trained and tested on the MRI aligned to each CBCT scan), the most MRI
  can give: headroom = (row - CBCT only) / (MRI oracle - CBCT only);
- the **CBCT ceiling** (CBCT only trained on more patients, the dataset option ``train_patients``; the largest such
  row), the most CBCT can give at this resolution and preset: headroom = (row - CBCT only) / (ceiling - CBCT only).

Per patient, as the tests pair (:mod:`cmedl_bench.results.comparison`): the ratio of the mean paired differences
over the patients all three rows scored, with a 95 % percentile interval from a seeded patient bootstrap (the
studentised interval of :func:`cmedl_bench.results.statistics.bootstrap_mean_ci` is for means, not ratios;
resamples whose denominator is not positive count as undefined and are left out, and the count is kept). 0 is
CBCT only, 1 the reference row; a row beyond the reference reads above 1. Shown only where the reference rows exist.

A row's training cohort is its dataset's ``train_patients`` option (0: the dataset's own); CBCT only for a row is
the CBCT-only row with the same training cohort, so rows of a learning curve are compared size by size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cmedl_bench.results.comparison import per_unit, unit_of

MRI_ORACLE_FUSION = "mri-oracle"
CBCT_ONLY = {"translator": "none", "fusion": "none"}
TRAIN_PATIENTS = "train_patients"
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0
#: what each reference means, for the reports' footnote
MEANING = {"mri": "headroom (MRI): (row - CBCT only) / (MRI oracle - CBCT only), the share of what MRI of the same "
                  "patients offers that the row captures",
           "ceiling": "headroom (ceiling): (row - CBCT only) / (CBCT ceiling - CBCT only), the ceiling being CBCT "
                      "only trained on the most patients run; the share of what CBCT itself can reveal"}


@dataclass(frozen=True)
class Headroom:
    against: str  # "mri" or "ceiling"
    reference: str  # the reference row's label
    value: float
    ci: tuple[float, float]
    units: int
    pairing: str
    undefined_resamples: int


def training_cohort(row) -> int:
    """The ``train_patients`` option a row's runs were given (0: the dataset's own training cohort)."""
    return run_training_cohort(row.runs[0])


def run_training_cohort(run) -> int:
    """:func:`training_cohort` of one collected run."""
    options = run.record.dataset.options
    value = options.get(TRAIN_PATIENTS, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def cohort_label(run) -> str:
    """What a method's label adds for a run trained on another training cohort: ``", 80 training patients"``, so
    that the CBCT ceiling and the points of a learning curve are rows of their own, named by their size."""
    size = run_training_cohort(run)
    return f", {size} training patients" if size else ""


def trained_patients(row) -> int | None:
    """How many training patients the row's dataset had, where its generator recorded it."""
    generator = row.runs[0].record.dataset.generator or {}
    value = generator.get(TRAIN_PATIENTS)
    return value if isinstance(value, int) else None


def _same_setting(a, b) -> bool:
    return (a.setup["reference"] == b.setup["reference"] and a.setup["preset"] == b.setup["preset"]
            and a.components["segmenter"] == b.components["segmenter"])


def _is_cbct_only(row) -> bool:
    return all(row.components.get(k) == v for k, v in CBCT_ONLY.items())


def reference_rows(row, rows: list) -> dict[str, Any]:
    """The CBCT only, MRI oracle and CBCT ceiling rows for ``row`` (absent keys where there is none)."""
    found: dict[str, Any] = {}
    cohort = training_cohort(row)
    base = [r for r in rows if _is_cbct_only(r) and _same_setting(r, row) and training_cohort(r) == cohort]
    if base:
        found["base"] = base[0]
    oracle = [r for r in rows if r.components["fusion"] == MRI_ORACLE_FUSION and _same_setting(r, row)
              and training_cohort(r) == training_cohort(row)]
    if oracle:
        found["mri"] = oracle[0]
    standard = trained_patients(found["base"]) if base else None
    larger = [r for r in rows if _is_cbct_only(r) and _same_setting(r, row) and standard is not None
              and (trained_patients(r) or 0) > standard]
    if larger:
        found["ceiling"] = max(larger, key=lambda r: trained_patients(r) or 0)
    return found


def headroom(row_scans, base_scans, top_scans, info: dict, pairing: str = "patient",
             seed: int = BOOTSTRAP_SEED) -> tuple[float, tuple[float, float], int, str, int] | None:
    """(value, 95 % interval, units, pairing used, undefined resamples) of the captured share over the units the
    three rows share; None without common units or when the reference row does not beat CBCT only."""
    common = sorted(set(row_scans.index) & set(base_scans.index) & set(top_scans.index))
    if not common:
        return None
    pairing = unit_of(common, info, pairing)
    ours, base, top = (per_unit(values[common], info, pairing) for values in (row_scans, base_scans, top_scans))
    units = ours.index
    gain = (ours - base[units]).to_numpy()
    room = (top[units] - base[units]).to_numpy()
    if room.mean() <= 0:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(units), size=(BOOTSTRAP_SAMPLES, len(units)))
    numerators, denominators = gain[draws].mean(axis=1), room[draws].mean(axis=1)
    defined = denominators > 0
    ratios = numerators[defined] / denominators[defined]
    low, high = np.percentile(ratios, [2.5, 97.5]) if ratios.size else (np.nan, np.nan)
    return (float(gain.mean() / room.mean()), (float(low), float(high)), len(units), pairing,
            int((~defined).sum()))


def attach_headroom(rows: list, pairing: str) -> bool:
    """Each row's headroom against the MRI oracle and the CBCT ceiling where they exist (``row.headroom``);
    returns whether any row has one."""
    any_found = False
    for row in rows:
        refs = reference_rows(row, rows)
        base = refs.get("base")
        for against in ("mri", "ceiling"):
            top = refs.get(against)
            if base is None or top is None or row is base or row is top or row.case_dsc is None:
                continue
            if base.case_dsc is None or top.case_dsc is None:
                continue
            found = headroom(row.case_dsc, base.case_dsc, top.case_dsc, row.info | base.info | top.info, pairing)
            if found is not None:
                value, ci, units, used, undefined = found
                row.headroom[against] = Headroom(against, top.label, value, ci, units, used, undefined)
                any_found = True
    return any_found
