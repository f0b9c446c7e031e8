"""The metric columns of a report and the ranking by one of them: which segmentation metrics the rows have, named,
rounded and oriented as the runs recorded them (``run.json`` ``metrics``), so a metric plugin is a column in every
format and can rank the rows. Rows are :class:`cmedl_bench.results.leaderboard.Row` (``metrics``, ``runs``,
``setup``, ``rank``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cmedl_bench.errors import CmedlError

#: the paper's metrics, shown first and under the paper's names; any other installed metric follows
PAPER_METRICS = {"dsc": "DSC", "sdsc": "SDSC", "hd95": "HD95 (mm)"}


@dataclass(frozen=True)
class MetricColumn:
    """A segmentation metric as the report shows it, from the definition its runs recorded (``run.json``
    ``metrics``: unit, direction, optional ``digits``), so a metric plugin appears in every format."""

    name: str
    label: str
    digits: int
    higher_is_better: bool | None

    @classmethod
    def from_definition(cls, name: str, definition: dict[str, Any]) -> "MetricColumn":
        unit = definition.get("unit") or ""
        label = PAPER_METRICS.get(name) or (f"{name.upper()} ({unit})" if unit else name.upper())
        digits = definition.get("digits")
        return cls(name, label, int(digits) if isinstance(digits, int) else (2 if unit == "mm" else 3),
                   definition.get("higher_is_better"))


def metric_columns(rows: list[Any]) -> list[MetricColumn]:
    """Every segmentation metric some row has values of: the paper's three first, then the others by name."""
    definitions: dict[str, dict[str, Any]] = {}
    for row in rows:
        for run in row.runs:
            for name, definition in run.record.metrics.items():
                definitions.setdefault(name, definition if isinstance(definition, dict) else {})
    present = {metric for row in rows for _, metric in row.metrics}
    ordered = [m for m in PAPER_METRICS if m in present] + sorted(present - set(PAPER_METRICS))
    return [MetricColumn.from_definition(name, definitions.get(name, {})) for name in ordered]


def unknown_rank_metric(name: str, columns: list[MetricColumn]) -> MetricColumn:
    raise CmedlError(f"--rank-by {name!r} is not a metric of these runs; metrics: {', '.join(c.name for c in columns)}")


def rank(rows: list[Any], by: MetricColumn) -> None:
    """Sort by the mean test value of ``by`` (best first, in its direction), within each set of reference masks;
    equal means share a rank; rows without a value come last, unranked."""
    sign = 1.0 if by.higher_is_better is not False else -1.0

    def value(row: Any) -> float | None:
        summary = row.metrics.get(("test", by.name))
        return None if summary is None or summary.mean != summary.mean else summary.mean

    rows.sort(key=lambda r: (r.setup["reference"], value(r) is None, -sign * (value(r) or 0.0), r.label))
    for reference_set in {r.setup["reference"] for r in rows}:
        previous, members = None, [r for r in rows if r.setup["reference"] == reference_set]
        for position, row in enumerate(members, start=1):
            if value(row) is None:
                break
            row.rank = previous.rank if previous is not None and value(previous) == value(row) else position
            previous = row
