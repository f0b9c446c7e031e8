"""The leaderboard: one row per method (translator + segmenter + fusion + head, or an outside method), in the shape of
the paper's Tables 1 and 2, with the paper's statistics (III.B; docs/reference.md §4).

- Mean +- SD of every segmentation metric on validation and test, over all cases of all seeds pooled.
- KL of pseudo-MRI to real MRI where a translator ran (the run's ``translator`` rows).
- Paired two-sided Wilcoxon signed-rank test on per-case test DSC against a reference row (default: CBCT only with
  the same segmenter on the same dataset and preset). With several seeds a case's DSC is its mean over seeds; only
  cases present in both rows are paired. Holm-Bonferroni adjustment over all comparisons of the report.
- Rank by mean test DSC; equal means share a rank. A difference is called only when the adjusted p < alpha.
- Rows scored against different reference masks (:class:`cmedl_bench.scoring.ReferenceFingerprint`) are labelled
  with their reference set and ranked and tested only within it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmedl_bench.errors import CmedlError
from cmedl_bench.results.collect import Collection, CollectedRun, method_label, variant_suffixes
from cmedl_bench.results.statistics import holm_bonferroni, wilcoxon_signed_rank

SEGMENTATION_METRICS = ("dsc", "sdsc", "hd95")
TRANSLATOR_HEAD = "translator"


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float
    n: int
    flagged: int = 0

    def text(self, digits: int) -> str:
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"


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
    case_dsc: Any = None  # pandas Series: test case -> DSC averaged over seeds
    reference: str | None = None
    n_pairs: int = 0
    p: float | None = None
    p_holm: float | None = None
    verdict: str = ""
    rank: int | None = None

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
class TranslationRow:
    label: str
    runs: list[CollectedRun]
    kl_pmri: Summary
    kl_cbct: Summary | None


@dataclass
class Leaderboard:
    rows: list[Row]
    translation: list[TranslationRow]
    excluded: list[tuple[Path, str]]
    notes: list[str]
    alpha: float
    reference_rule: str

    def row(self, label: str) -> Row:
        for row in self.rows:
            if row.label.lower() == label.lower():
                return row
        raise CmedlError(f"no leaderboard row {label!r}; rows: {', '.join(r.label for r in self.rows)}")

    def records(self) -> list[dict[str, Any]]:
        """Flat rows with numeric values (CSV, JSON)."""
        out = []
        for row in self.rows:
            item: dict[str, Any] = {"rank": row.rank, "method": row.label, "head": row.head, **row.components,
                                    "setup": row.setup_hash, "dataset": row.setup["dataset"],
                                    "reference_masks": row.setup["reference"],
                                    "preset": row.setup["preset"], "seeds": ",".join(map(str, row.seeds)),
                                    "n_test_cases": row.n_cases}
            for split in ("val", "test"):
                for metric in SEGMENTATION_METRICS:
                    summary = row.metrics.get((split, metric))
                    item[f"{split}_{metric}_mean"] = summary.mean if summary else None
                    item[f"{split}_{metric}_sd"] = summary.sd if summary else None
            item |= {"kl_mean": row.kl.mean if row.kl else None, "flagged_test_values": row.flagged,
                     "reference": row.reference, "n_pairs": row.n_pairs, "p_wilcoxon": row.p,
                     "p_holm": row.p_holm, "verdict": row.verdict,
                     "run_ids": ",".join(run.record["run_id"] for run in row.runs)}
            out.append(item)
        return out


def _summary(frame, split: str, metric: str) -> Summary | None:
    values = frame[(frame["split"] == split) & (frame["metric"] == metric)]
    if values.empty:
        return None
    v = values["value"].astype(float)
    return Summary(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, int(len(v)),
                   int(values["flag"].notna().sum()))


def _dedupe(runs: list[CollectedRun], notes: list[str]) -> list[CollectedRun]:
    """The same configuration (hash) found twice, e.g. in two results folders: count it once."""
    seen: dict[str, CollectedRun] = {}
    for run in runs:
        key = run.record.get("config_hash") or str(run.path)
        if key in seen:
            notes.append(f"{run.path} repeats {seen[key].path} (same configuration hash); counted once")
            continue
        seen[key] = run
    return list(seen.values())


def _group(collection: Collection, notes: list[str]) -> tuple[list[Row], list[TranslationRow]]:
    import pandas as pd

    by_method: dict[tuple[str, str], list[CollectedRun]] = {}
    translate_runs: dict[tuple[str, str], list[CollectedRun]] = {}
    for run in _dedupe(collection.runs, notes):
        if run.components["fusion"] == "translate":
            translate_runs.setdefault((run.components["translator"], run.setup_hash), []).append(run)
            continue
        for head in sorted(set(run.rows["head"]) - {TRANSLATOR_HEAD}):
            by_method.setdefault((method_label(run.components, head), head), []).append(run)
    rows = []
    for (label, head), runs in by_method.items():
        suffixes = variant_suffixes(runs)
        if len(suffixes) > 1:
            notes.append(f"{label}: {len(suffixes)} different setups are shown as separate rows, not pooled")
        for setup_hash, suffix in suffixes.items():
            members = [run for run in runs if run.setup_hash == setup_hash]
            frame = pd.concat([run.rows.assign(seed=run.seed) for run in members], ignore_index=True)
            own = frame[frame["head"] == head]
            row = Row(label + suffix, members[0].components, head, setup_hash, members[0].setup, members)
            for split in ("val", "test"):
                for metric in sorted(set(own["metric"])):
                    summary = _summary(own, split, metric)
                    if summary:
                        row.metrics[(split, metric)] = summary
            row.kl = _summary(frame[frame["head"] == TRANSLATOR_HEAD], "test", "kl")
            dsc = own[(own["split"] == "test") & (own["metric"] == "dsc")]
            row.case_dsc = dsc.groupby("case")["value"].mean() if not dsc.empty else None
            rows.append(row)
    translation = []
    for (translator, setup_hash), runs in translate_runs.items():
        frame = pd.concat([run.rows for run in runs], ignore_index=True)
        pmri = _summary(frame[frame["head"] == "pmri"], "test", "kl")
        if pmri is not None:
            suffix = variant_suffixes([r for (t, _), rs in translate_runs.items() if t == translator for r in rs])
            translation.append(TranslationRow(f"{translator}{suffix[setup_hash]}", runs, pmri,
                                              _summary(frame[frame["head"] == "cbct"], "test", "kl")))
    return rows, translation


def _default_reference(row: Row, rows: list[Row]) -> Row | None:
    """CBCT only with the same segmenter, reference masks and preset; else CBCT only with the U-Net on them. Outside
    methods (``evaluate``) have no preset and match on the reference masks alone."""
    def candidates(segmenter: str) -> list[Row]:
        return [r for r in rows if r.components == {"translator": "none", "segmenter": segmenter, "fusion": "none"}
                and r.setup["reference"] == row.setup["reference"]
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


def _compare(row: Row, reference: Row) -> None:
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
    common = sorted(set(row.case_dsc.index) & set(reference.case_dsc.index))
    row.n_pairs = len(common)
    if not common:
        row.verdict = "no paired cases"
        return
    row.p = wilcoxon_signed_rank(row.case_dsc[common].to_numpy(), reference.case_dsc[common].to_numpy()).p


def build_leaderboard(collection: Collection, reference: str | None = None, alpha: float = 0.05) -> Leaderboard:
    notes: list[str] = []
    rows, translation = _group(collection, notes)
    _label_reference_sets(rows, notes)
    if reference is not None:
        chosen = [r for r in rows if r.label.lower() == reference.lower()]
        if not chosen:
            raise CmedlError(f"--reference {reference!r} is not a row; rows: {', '.join(r.label for r in rows)}")
        rule = f"Paired two-sided Wilcoxon on per-case test DSC against {chosen[0].label}"
    else:
        rule = "Paired two-sided Wilcoxon on per-case test DSC against CBCT only with the same segmenter"
    for row in rows:
        ref = chosen[0] if reference is not None else _default_reference(row, rows)
        if ref is None:
            row.verdict = "no reference row"
        else:
            _compare(row, ref)
    for row, adjusted in zip(rows, holm_bonferroni([r.p for r in rows])):
        row.p_holm = adjusted
        if adjusted is not None:
            ref_mean = next(r for r in rows if r.label == row.reference).test_dsc
            if adjusted >= alpha:
                row.verdict = f"not different (p >= {alpha:g})"
            else:
                row.verdict = "better" if row.test_dsc > ref_mean else "worse"
    rows.sort(key=lambda r: (r.setup["reference"], r.test_dsc is None, -(r.test_dsc or 0.0), r.label))
    for reference_set in {r.setup["reference"] for r in rows}:
        previous, members = None, [r for r in rows if r.setup["reference"] == reference_set]
        for position, row in enumerate(members, start=1):
            if row.test_dsc is None:
                break
            row.rank = previous.rank if previous is not None and previous.test_dsc == row.test_dsc else position
            previous = row
    return Leaderboard(rows, translation, collection.excluded, notes, alpha,
                       rule + f", Holm-Bonferroni adjusted over {sum(r.p is not None for r in rows)} comparisons")
