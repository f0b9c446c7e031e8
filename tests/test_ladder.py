"""The ladder and learning-curve suites (docs/ladder.md) at the smoke preset: every row trains and is reported,
the learning curve's points are compared size by size, and CBCT only on another cohort against CBCT only on the
dataset's own."""

import numpy as np
import pytest

from cmedl_bench import api
from cmedl_bench.results.collect import collect
from cmedl_bench.results.headroom import training_cohort
from cmedl_bench.results.leaderboard import build_leaderboard
from cmedl_bench.suites import LADDER, LEARNING_CURVE, LEARNING_CURVE_SIZES, SUITES


def test_learning_curve_shares_the_ladders_rows_at_the_own_cohort():
    own = [row for row in LEARNING_CURVE if not row.options]
    assert own == [LADDER[0], LADDER[3], LADDER[2]]  # the same configurations: run once, read by both suites
    sizes = sorted({(row.options or {}).get("train_patients", 16) for row in LEARNING_CURVE})
    assert sizes == list(LEARNING_CURVE_SIZES)
    assert SUITES["ladder"].budget == SUITES["evidence"].budget == SUITES["learning-curve"].budget


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    results = tmp_path_factory.mktemp("ladder")
    ladder = api.sweep("ladder", seeds=(0,), preset="smoke", results=results, quiet=True)
    curve = api.sweep("learning-curve", seeds=(0,), preset="smoke", results=results, quiet=True)
    return results, ladder, curve


def test_every_row_of_both_suites_trains(swept):
    _, ladder, curve = swept
    assert [o.status for o in ladder] == ["finished"] * len(LADDER)
    assert [o.status for o in curve] == ["finished"] * len(LEARNING_CURVE)
    own = {o.record["run_id"] for o in ladder}
    shared = [o.record["run_id"] for o in curve if o.record["run_id"] in own]
    assert len(shared) == 3  # the own-cohort rows were found finished, not trained again


def test_the_report_compares_each_size_with_cbct_only_of_that_size(swept):
    results, _, _ = swept
    board = build_leaderboard(collect([results]))
    by_label = {row.label: row for row in board.rows}
    cmedl = [row for row in board.rows if row.components["translator"] == "cx" and row.head == "student"
             and row.runs[0].record.config["dataset"] == "phantom"]
    assert sorted(training_cohort(row) for row in cmedl) == [0, 4, 8, 48]
    for row in cmedl:
        reference = by_label[row.reference]
        assert training_cohort(reference) == training_cohort(row)
        assert reference.components == {"translator": "none", "segmenter": "unet", "fusion": "none"}
        assert row.verdict not in ("reference", "other reference masks: not tested", "no reference row")
    ceiling = next(row for row in board.rows if training_cohort(row) == 80)
    assert training_cohort(by_label[ceiling.reference]) == 0 and ceiling.verdict != "reference"
    teachers = {row.components["translator"] for row in board.rows if row.head == "teacher"}
    assert teachers == {"cx", "cycle", "oracle", "identity"}  # teacher heads reported where a row has one


def test_learning_curve_points_are_patient_means_with_bootstrap_bands(tmp_path):
    from cmedl_bench.results.data_size import learning_curves
    from cmedl_bench.results.html_report import to_html
    from cmedl_bench.results.render import to_markdown
    from tests.test_diagnostics import _run, _scans

    base = _scans(0.5, 0.05)
    for size, gain in ((4, -0.2), (0, 0.0), (48, 0.1)):
        trained = size or 16
        _run(tmp_path, f"cbct{size}", "none", "none", "student", {c: v + gain for c, v in base.items()},
             train_patients=size, trained=trained)
        _run(tmp_path, f"cmedl{size}", "cx", "hint", "student", {c: v + gain + 0.01 for c, v in base.items()},
             train_patients=size, trained=trained)
    _run(tmp_path, "oracle", "none", "mri-oracle", "mri", {c: v + 0.3 for c, v in base.items()})
    board = api.report([tmp_path])
    curves = learning_curves(board.rows)
    assert set(curves) == {"CBCT only (unet)", "CMEDL (unet)"}  # one cohort (the oracle) is no curve
    points = curves["CBCT only (unet)"]
    assert [p.patients for p in points] == [4, 16, 48]
    patient_means = {p: np.mean([v for c, v in base.items() if c.startswith(p)]) for p in {c[:4] for c in base}}
    assert points[1].mean == pytest.approx(np.mean(list(patient_means.values())), abs=1e-12)
    assert points[0].mean == pytest.approx(points[1].mean - 0.2, abs=1e-12)
    assert all(p.ci[0] < p.mean < p.ci[1] and p.units == 10 for p in points)
    first = curves["CMEDL (unet)"][0]
    line = next(line for line in to_markdown(board).splitlines() if line.startswith("| CMEDL \\(unet\\) | "))
    assert line.split(" | ")[1] == f"{first.mean:.3f} \\[{first.ci[0]:.3f}, {first.ci[1]:.3f}\\]"
    assert "Test DSC against training patients" in to_html(board)
