"""Metric plugins are first-class: an installed metric appears in every report format under its own name and unit,
and a metric that fails records NaN with the flag ``metric_error`` while the run finishes; JSON stays standard."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cmedl_bench import api, hookimpl
from cmedl_bench.plugin import MetricInfo
from cmedl_bench.request import RunRequest
from cmedl_bench.results.render import to_csv, to_json, to_markdown
from cmedl_bench.stages.reporting import report


def _volume_difference():
    from cmedl_bench.scoring import MetricValue

    def volume_difference(case):
        voxel_ml = float(np.prod(case.spacing_zyx)) / 1000.0
        return MetricValue(abs(int(case.prediction.sum()) - int(case.reference.sum())) * voxel_ml)

    return volume_difference


def _failing():
    def failing(case):
        raise RuntimeError("this metric always fails")

    return failing


class ExtraMetrics:
    @hookimpl
    def register_metrics(self, register):
        register("voldiff", _volume_difference, description="absolute volume difference",
                 info=MetricInfo(unit="ml", higher_is_better=False, digits=1))
        register("failing", _failing, description="raises on every case",
                 info=MetricInfo(unit="", higher_is_better=True))


@pytest.fixture
def extra_metrics(cmedl_register):
    cmedl_register(ExtraMetrics(), name="extra", distribution="extra-dist", version="1.0")


def test_extra_metrics_reach_every_format_and_a_failing_one_is_flagged(extra_metrics, tmp_path, small_phantom):
    with pytest.warns(UserWarning, match="metric 'failing' failed .RuntimeError: this metric always fails"):
        record = api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=tmp_path,
                         quiet=True)
    assert record["status"] == "finished"
    rows = pd.read_parquet(tmp_path / record["run_id"] / "per_case.parquet")
    failing = rows[rows.metric == "failing"]
    assert len(failing) and failing["value"].isna().all() and (failing["flag"] == "metric_error").all()
    assert rows[rows.metric == "voldiff"]["value"].notna().all()
    json.loads((tmp_path / record["run_id"] / "run.json").read_text(), parse_constant=pytest.fail)

    board = report([tmp_path])
    assert [m.name for m in board.metrics][:3] == ["dsc", "sdsc", "hd95"]
    assert next(m for m in board.metrics if m.name == "voldiff").digits == 1
    assert "Test VOLDIFF \\(ml\\)" in to_markdown(board) and "Test FAILING" in to_markdown(board)
    assert "test_voldiff_mean" in to_csv(board)
    payload = json.loads(to_json(board), parse_constant=pytest.fail)  # no NaN: standard JSON
    row = payload["rows"][0]
    assert math.isfinite(row["test_voldiff_mean"]) and row["test_failing_mean"] is None
    from cmedl_bench.results.html_report import to_html

    assert "VOLDIFF (ml)" in to_html(board)
    by_volume = report([tmp_path], rank_by="voldiff")
    assert by_volume.rows[0].rank == 1 and "Rank by mean test VOLDIFF" in to_markdown(by_volume)
    with pytest.raises(Exception, match="--rank-by 'volume' is not a metric of these runs; metrics: dsc, sdsc"):
        report([tmp_path], rank_by="volume")


def test_metrics_selects_what_a_run_scores_and_the_report_follows(extra_metrics, tmp_path, small_phantom):
    """``--metrics voldiff``: only DSC (always) and the named metric are scored and recorded, the selection is
    another configuration, and the report shows what was scored; the failing metric is never called."""
    from cmedl_bench.errors import PluginError
    from cmedl_bench.launch import Job

    record = api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=tmp_path,
                     quiet=True, metrics=("voldiff",))
    rows = pd.read_parquet(tmp_path / record["run_id"] / "per_case.parquet")
    assert set(rows.metric) == {"dsc", "voldiff"} and set(record["metrics"]) == {"dsc", "voldiff"}
    assert list(record["config"]["metrics"]) == ["dsc", "voldiff"]
    assert [m.name for m in report([tmp_path]).metrics] == ["dsc", "voldiff"]
    with pytest.raises(PluginError, match="unknown metric 'volume'; known metrics: .*voldiff"):
        api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=tmp_path,
                quiet=True, metrics=("volume",))
    job = Job("row", RunRequest.build(translator="none", metrics=("dsc", "voldiff")), tmp_path / "log")
    assert "--metrics dsc,voldiff" in job.command()
