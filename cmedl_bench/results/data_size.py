"""Test DSC against the number of training patients: the learning curve of the ``learning-curve`` suite
(docs/ladder.md), for every method run on two or more training cohorts of one dataset setting.

A point is one report row: x the training patients its dataset's generator recorded (the cohort option where it did
not), y the mean over patients of the per-patient test DSC (a patient's value: the mean over its scans and the seeds,
as the tests pair, :mod:`cmedl_bench.results.comparison`), with the studentised patient-bootstrap 95 % interval of
that mean (:func:`cmedl_bench.results.statistics.bootstrap_mean_ci`, seeded: the band is reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass

from cmedl_bench.io.figures import pyplot
from cmedl_bench.results.comparison import per_unit, unit_of
from cmedl_bench.results.headroom import BOOTSTRAP_SEED, cohort_label, trained_patients, training_cohort
from cmedl_bench.results.statistics import bootstrap_mean_ci


@dataclass(frozen=True)
class CurvePoint:
    patients: int
    mean: float
    ci: tuple[float, float]
    units: int  # patients (or scans, where a case's patient is unknown)


def _method(row) -> tuple:
    """What a row is apart from its training cohort: components, head and the setting it is scored in."""
    return (row.components["translator"], row.components["segmenter"], row.components["fusion"], row.head,
            row.setup["reference"], row.setup["preset"], row.runs[0].record.config.get("dataset"))


def _name(row) -> str:
    """The row's label without the cohort suffix that :func:`cmedl_bench.results.headroom.cohort_label` adds."""
    suffix = cohort_label(row.runs[0])
    return row.label.replace(suffix, "") if suffix else row.label


def _patients(row) -> int:
    return trained_patients(row) or training_cohort(row)


def learning_curves(rows: list) -> dict[str, list[CurvePoint]]:
    """Method name -> its points by increasing training patients, for methods with two or more cohorts."""
    grouped: dict[tuple, list] = {}
    for row in rows:
        if row.case_dsc is not None and len(row.case_dsc):
            grouped.setdefault(_method(row), []).append(row)
    curves: dict[str, list[CurvePoint]] = {}
    for members in grouped.values():
        sizes = {_patients(row) for row in members}
        if len(sizes) < 2:
            continue
        points = []
        for row in members:
            pairing = unit_of(list(row.case_dsc.index), row.info, "patient")
            values = per_unit(row.case_dsc, row.info, pairing).to_numpy()
            points.append(CurvePoint(_patients(row), float(values.mean()),
                                     bootstrap_mean_ci(values, BOOTSTRAP_SEED), len(values)))
        curves[_name(members[0])] = sorted(points, key=lambda point: point.patients)
    return curves


def plot_learning_curves(curves: dict[str, list[CurvePoint]]):
    """One line per method with its 95 % band; the x axis is logarithmic (cohorts double)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, points in curves.items():
        x = [point.patients for point in points]
        line, = ax.plot(x, [point.mean for point in points], marker="o", label=name)
        ax.fill_between(x, [point.ci[0] for point in points], [point.ci[1] for point in points],
                        color=line.get_color(), alpha=0.18)
    sizes = sorted({point.patients for points in curves.values() for point in points})
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(size) for size in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training patients")
    ax.set_ylabel("test DSC (mean over patients)")
    ax.set_title("test DSC against training patients (band: patient-bootstrap 95 % interval)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def curve_table(curves: dict[str, list[CurvePoint]]) -> tuple[list[str], list[list[str]]]:
    """The curves as a table: one row per method, one column per training-cohort size (mean [95 % interval])."""
    sizes = sorted({point.patients for points in curves.values() for point in points})
    header = ["Method", *(f"{size} training patients" for size in sizes)]
    rows = []
    for name, points in curves.items():
        by_size = {point.patients: point for point in points}
        rows.append([name, *(f"{by_size[size].mean:.3f} [{by_size[size].ci[0]:.3f}, {by_size[size].ci[1]:.3f}]"
                             if size in by_size else "—" for size in sizes)])
    return header, rows
