"""The leaderboard: one row per method (translator + segmenter + fusion + head, or an outside method), in the shape of
the paper's Tables 1 and 2, with the paper's statistics (III.B; docs/reference.md §4).

- Mean +- SD of every segmentation metric on validation and test, over all cases of all seeds pooled.
- KL of pseudo-MRI to real MRI where a translator ran (the run's ``translator`` rows).
- Paired two-sided Wilcoxon signed-rank tests of test DSC and SDSC against a reference row (default: CBCT only with
  the same segmenter on the same dataset and preset), paired by patient by default (:mod:`cmedl_bench.results.
  comparison`: a patient's value is its mean over scans and seeds), with a studentised bootstrap 95 % interval of the
  mean paired difference; Holm-Bonferroni adjustment over the whole family (every compared row x every tested metric).
- Rank by mean test DSC (``rank_by`` another metric, in its recorded direction); equal means share a rank. A
  difference is called only when the adjusted p < alpha.
- Rows scored against different reference masks (:class:`cmedl_bench.scoring.ReferenceFingerprint`) are labelled
  with their reference set and ranked and tested only within it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmedl_bench.errors import CmedlError
from cmedl_bench.results.collect import Collection, CollectedRun, dedupe, method_label, variant_suffixes
from cmedl_bench.results.flat import flat_records
from cmedl_bench.results.comparison import PAIRINGS, Comparison, case_info, compare, subgroup_means
from cmedl_bench.results.headroom import MEANING, attach_headroom, cohort_label, training_cohort
from cmedl_bench.results.run_record import Head
from cmedl_bench.results.ranking import MetricColumn, metric_columns, rank, unknown_rank_metric
from cmedl_bench.results.statistics import holm_bonferroni
from cmedl_bench.results.summaries import Summary, summarise
from cmedl_bench.results.translators import TranslationRow, translator_rows

@dataclass
class Row:
    label: str
    components: dict[str, str]
    head: str
    setup_hash: str
    setup: dict[str, Any]
    runs: list[CollectedRun]
    metrics: dict[tuple[str, str], Summary] = field(default_factory=dict)  # (split, metric) -> summary
    kl: Summary | None = None
    case_values: dict[str, Any] = field(default_factory=dict)  # metric -> pandas Series: test case -> mean over seeds
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # case -> dataset.json entry (patient, location)
    reference: str | None = None
    comparisons: dict[str, Comparison] = field(default_factory=dict)  # metric -> test against the reference
    p_holm_by_metric: dict[str, float] = field(default_factory=dict)
    headroom: dict[str, Any] = field(default_factory=dict)  # "mri" / "ceiling" -> results.headroom.Headroom
    verdict: str = ""
    rank: int | None = None

    @property
    def case_dsc(self):
        return self.case_values.get("dsc")

    @property
    def p(self) -> float | None:
        return self.comparisons["dsc"].p if "dsc" in self.comparisons else None

    @property
    def p_holm(self) -> float | None:
        return self.p_holm_by_metric.get("dsc")

    @property
    def n_pairs(self) -> int:
        return self.comparisons["dsc"].units if "dsc" in self.comparisons else 0

    @property
    def subgroups(self) -> dict[str, float]:
        return subgroup_means(self.case_dsc, self.info) if self.case_dsc is not None else {}

    @property
    def seeds(self) -> list[int]:
        return sorted({run.seed for run in self.runs if run.seed is not None})

    @property
    def n_cases(self) -> int:
        return 0 if self.case_dsc is None else len(self.case_dsc)

    @property
    def test_dsc(self) -> float | None:
        summary = self.metrics.get(("test", "dsc"))
        return summary.mean if summary else None

    @property
    def flagged(self) -> int:
        return sum(s.flagged for (split, _), s in self.metrics.items() if split == "test")


@dataclass
class Leaderboard:
    rows: list[Row]
    translation: list[TranslationRow]
    excluded: list[tuple[Path, str]]
    notes: list[str]
    alpha: float
    reference_rule: str
    metrics: list[MetricColumn] = field(default_factory=list)
    rank_by: str = "dsc"

    def to_frame(self):
        """A pandas DataFrame, a row per method, with the CSV format's columns (notebooks)."""
        import pandas as pd

        return pd.DataFrame(flat_records(self))

    def row(self, label: str) -> Row:
        for row in self.rows:
            if row.label.lower() == label.lower():
                return row
        raise CmedlError(f"no leaderboard row {label!r}; rows: {', '.join(r.label for r in self.rows)}")


def _group(collection: Collection, notes: list[str]) -> tuple[list[Row], list[TranslationRow]]:
    import pandas as pd

    runs = dedupe(collection.runs, notes)
    by_method: dict[tuple[str, str], list[CollectedRun]] = {}
    for run in runs:
        if run.components["fusion"] != "translate":
            for head in sorted(set(run.rows["head"]) - {Head.TRANSLATOR}):
                by_method.setdefault((method_label(run.components, head) + cohort_label(run), head), []).append(run)
    rows = []
    for (label, head), method_runs in by_method.items():
        suffixes = variant_suffixes(method_runs)
        if len(suffixes) > 1:
            notes.append(f"{label}: {len(suffixes)} different setups are shown as separate rows, not pooled")
        for setup_hash, suffix in suffixes.items():
            members = [run for run in method_runs if run.setup_hash == setup_hash]
            frame = pd.concat([run.rows.assign(seed=run.seed) for run in members], ignore_index=True)
            own = frame[frame["head"] == head]
            row = Row(label + suffix, members[0].components, head, setup_hash, members[0].setup, members)
            for split in ("val", "test"):
                for metric in sorted(set(own["metric"])):
                    summary = summarise(own, split, metric)
                    if summary:
                        row.metrics[(split, metric)] = summary
            row.kl = summarise(frame[frame["head"] == Head.TRANSLATOR], "test", "kl")
            test = own[own["split"] == "test"]
            row.case_values = {metric: group.groupby("case")["value"].mean()
                               for metric, group in test.groupby("metric")}
            row.info = case_info(members)
            rows.append(row)
    return rows, translator_rows(runs)


def _default_reference(row: Row, rows: list[Row]) -> Row | None:
    """CBCT only with the same segmenter, reference masks, preset and training cohort (:func:`cmedl_bench.results.
    headroom.training_cohort`); else CBCT only with the U-Net on them. CBCT only trained on another cohort (a CBCT
    ceiling, a learning curve's point) is compared with CBCT only on the dataset's own cohort: what more (or fewer)
    patients give. Outside methods (``evaluate``) have no preset and match on the reference masks alone."""
    cbct_only = row.components["translator"] == "none" and row.components["fusion"] == "none"
    cohort = 0 if cbct_only else training_cohort(row)

    def candidates(segmenter: str) -> list[Row]:
        return [r for r in rows if r.components == {"translator": "none", "segmenter": segmenter, "fusion": "none"}
                and r.setup["reference"] == row.setup["reference"] and training_cohort(r) == cohort
                and (row.setup["preset"] is None or r.setup["preset"] == row.setup["preset"])]

    found = candidates(row.components["segmenter"]) or candidates("unet")
    return found[0] if found else None


def _label_reference_sets(rows: list[Row], notes: list[str]) -> None:
    """When rows were scored against different reference masks, each label says against which; they are ranked
    and tested only within their own set."""
    sets: dict[str, list[Row]] = {}
    for row in rows:
        sets.setdefault(row.setup["reference"], []).append(row)
    if len(sets) < 2:
        return
    for reference, members in sets.items():
        for row in members:
            row.label += f" [reference {row.setup['dataset']} {reference}]"
    notes.append(f"rows were scored against {len(sets)} different sets of reference masks (labelled); ranks and "
                 f"tests are within each set, never across")


def _compare(row: Row, reference: Row, metrics: tuple[str, ...], pairing: str) -> None:
    row.reference = reference.label
    if row is reference:
        row.verdict = "reference"
        return
    if row.setup["reference"] != reference.setup["reference"]:
        row.verdict = "other reference masks: not tested"
        return
    if row.case_dsc is None or reference.case_dsc is None:
        row.verdict = "no test DSC to compare"
        return
    for metric in metrics:
        if metric in row.case_values and metric in reference.case_values:
            found = compare(row.case_values[metric], reference.case_values[metric], row.info | reference.info,
                            metric, pairing)
            if found is not None:
                row.comparisons[metric] = found
    if "dsc" not in row.comparisons:
        row.verdict = "no paired cases"


def build_leaderboard(collection: Collection, reference: str | None = None, alpha: float = 0.05,
                      pairing: str = "patient", metrics: tuple[str, ...] = ("dsc", "sdsc"),
                      rank_by: str = "dsc") -> Leaderboard:
    """``pairing``: ``patient`` (default) or ``scan``; ``metrics``: the family of tested metrics (DSC decides the
    verdict)."""
    if pairing not in PAIRINGS:
        raise CmedlError(f"unknown pairing {pairing!r}; use {' or '.join(PAIRINGS)}")
    if "dsc" not in metrics:
        raise CmedlError("the tested metrics must include dsc (it decides better / worse)")
    notes: list[str] = []
    rows, translation = _group(collection, notes)
    _label_reference_sets(rows, notes)
    if reference is not None:
        chosen = [r for r in rows if r.label.lower() == reference.lower()]
        if not chosen:
            raise CmedlError(f"--reference {reference!r} is not a row; rows: {', '.join(r.label for r in rows)}")
        against = chosen[0].label
    else:
        against = "CBCT only with the same segmenter"
    rule = (f"Paired two-sided Wilcoxon on per-{pairing} test {' and '.join(m.upper() for m in metrics)} against "
            f"{against}")
    for row in rows:
        ref = chosen[0] if reference is not None else _default_reference(row, rows)
        if ref is None:
            row.verdict = "no reference row"
        else:
            _compare(row, ref, metrics, pairing)
    per_scan = [row.label for row in rows if pairing == "patient" and "dsc" in row.comparisons
                and row.comparisons["dsc"].pairing == "scan"]
    if per_scan:
        notes.append(f"paired per scan, not per patient (no case -> patient map recorded with the run or found at "
                     f"its dataset's absolute path): {', '.join(per_scan)}")
    family = [(row, metric) for row in rows for metric in metrics if metric in row.comparisons]
    for (row, metric), adjusted in zip(family, holm_bonferroni([row.comparisons[m].p for row, m in family])):
        row.p_holm_by_metric[metric] = adjusted
    for row in rows:
        adjusted = row.p_holm
        if adjusted is not None:
            ref_mean = next(r for r in rows if r.label == row.reference).test_dsc
            if adjusted >= alpha:
                row.verdict = f"not different (p >= {alpha:g})"
            else:
                row.verdict = "better" if row.test_dsc > ref_mean else "worse"
    if attach_headroom(rows, pairing):
        notes += [MEANING[k] + "; 95 % interval: percentile bootstrap over patients" for k in MEANING
                  if any(k in row.headroom for row in rows)]
    columns = metric_columns(rows)
    if rows:  # a report of translator runs alone has nothing to rank
        rank(rows, next((c for c in columns if c.name == rank_by), None) or unknown_rank_metric(rank_by, columns))
    return Leaderboard(rows, translation, collection.excluded, notes, alpha,
                       rule + f", Holm-Bonferroni adjusted over a family of {len(family)} tests (rows x metrics); "
                       f"95 % intervals: studentised bootstrap over {pairing}s", columns, rank_by)
