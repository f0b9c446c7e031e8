"""``report`` and ``evaluate``: real smoke runs (two segmenters x two seeds) plus an outside method, and hand-made
run folders for the provenance rules."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from cmedl_bench import api
from cmedl_bench.cli import app
from cmedl_bench.errors import CmedlError
from cmedl_bench.results.records import write_record, write_rows
from cmedl_bench.results.statistics import holm_bonferroni, wilcoxon_signed_rank
from tests.conftest import cli

ROWS = [("none", "unet", "none"), ("none", "densefcn57", "none")]


@pytest.fixture(scope="module")
def results(tmp_path_factory, small_phantom):
    """Two methods x two seeds trained with the smoke preset, and an outside method (a copy of one run's masks)."""
    folder = tmp_path_factory.mktemp("results")
    records = [o.record for o in api.sweep(rows=ROWS, seeds=(0, 1), data=small_phantom, preset="smoke",
                                           results=folder, device="cpu", quiet=True)]
    unet0 = next(r for r in records if r["config"]["segmenter"] == "unet" and r["seed"] == 0)
    outside = tmp_path_factory.mktemp("outside")
    for path in (folder / unet0["run_id"] / "predictions" / "student").iterdir():
        shutil.copy(path, outside / path.name)
    evaluation = api.evaluate(outside, small_phantom, "nnU-Net <b>copy</b>", results=folder, splits=("val", "test"),
                              quiet=True)
    return folder, {r["run_id"]: r for r in records}, unet0, evaluation, outside


def test_evaluate_scores_exactly_what_the_run_scored(results):
    folder, _, unet0, evaluation, _ = results
    trained = pd.read_parquet(folder / unet0["run_id"] / "per_case.parquet")
    trained = trained.set_index(["split", "case", "metric"])["value"].sort_index()
    outside = pd.read_parquet(folder / evaluation["run_id"] / "per_case.parquet")
    outside = outside.set_index(["split", "case", "metric"])
    assert evaluation["problems"] == {"missing": [], "extra": [], "geometry": [], "unreadable": [], "reoriented": [],
                                      "non_binary": []}
    assert len(trained) > 0
    pd.testing.assert_series_equal(outside["value"].sort_index(), trained, check_names=False)


def test_report_ranks_trained_and_outside_methods_with_holm_adjusted_wilcoxon(results):
    folder, records, unet0, evaluation, _ = results
    board = api.report([folder], reference="CBCT only (unet)", pairing="scan", metrics=("dsc",))
    labels = {row.label for row in board.rows}
    assert labels == {"CBCT only (unet)", "CBCT only (densefcn57)", "nnU-Net <b>copy</b>"}
    unet = board.row("CBCT only (unet)")
    assert unet.seeds == [0, 1] and unet.verdict == "reference"
    # the paired test uses each case's DSC averaged over seeds, on the cases both rows scored
    frames = [pd.read_parquet(folder / run_id / "per_case.parquet").query("split == 'test' and metric == 'dsc'")
              for run_id, r in records.items() if r["config"]["segmenter"] == "densefcn57"]
    dense = pd.concat(frames).groupby("case")["value"].mean()
    cases = sorted(dense.index)
    raw = wilcoxon_signed_rank(dense[cases].to_numpy(), unet.case_dsc[cases].to_numpy()).p
    others = [board.row("CBCT only (densefcn57)"), board.row("nnU-Net <b>copy</b>")]
    assert others[0].p == pytest.approx(raw)
    assert [r.p_holm for r in others] == pytest.approx(holm_bonferroni([r.p for r in others]))
    assert [r.rank for r in board.rows] == sorted(r.rank for r in board.rows)
    assert all((r.p_holm >= 0.05) == r.verdict.startswith("not different") for r in others)


def test_report_formats(results, tmp_path):
    folder, *_ = results
    runner = CliRunner()
    md = runner.invoke(app, ["report", str(folder), "--format", "md"])
    assert md.exit_code == 0, md.output
    lines = md.stdout.splitlines()
    assert lines[0].startswith("| Rank | Method |") and "Test DSC" in lines[0] and "Val HD95 \\(mm\\)" in lines[0]
    assert sum(line.startswith("| ") for line in lines) == 2 + 3
    as_json = json.loads(runner.invoke(app, ["report", str(folder), "--format", "json"]).stdout)
    assert {row["method"] for row in as_json["rows"]} >= {"CBCT only (unet)"}
    csv = runner.invoke(app, ["report", str(folder), "--format", "csv"]).stdout
    assert csv.splitlines()[0].startswith("rank,method,head")
    page = tmp_path / "board.html"
    html = runner.invoke(app, ["report", str(folder), "--format", "html", "--out", str(page)])
    assert html.exit_code == 0, html.output
    text = page.read_text()
    assert "nnU-Net &lt;b&gt;copy&lt;/b&gt;" in text and "<b>copy" not in text  # names are escaped
    assert "src=\"http" not in text and "<script" not in text  # opens offline
    assert text.count("data:image/png;base64,") >= 3  # box plots, example slices, learning curves
    assert '<div class="scroll"><table>' in text and "overflow-x:auto" in text  # a wide table scrolls sideways
    assert "td{white-space:nowrap}" in text  # "mean ± SD" stays on one line (checked in headless Chromium)
    assert "<td>2 (0, 1)</td>" in text  # seeds as count and list: a lone "0" read as zero seeds


def test_the_table_is_reported_from_the_run_records_alone(results, tmp_path):
    """A results folder published without its checkpoints and masks (docs/ladder.md: only run.json, history.json,
    per_case.parquet and the figures) reports the same table."""
    folder, *_ = results
    records = tmp_path / "records"
    shutil.copytree(folder, records, ignore=shutil.ignore_patterns("*.pt", "predictions", ".lock"))
    assert not list(records.rglob("*.pt")) and not list(records.rglob("*.nii.gz"))
    runner = CliRunner()
    full, alone = (runner.invoke(app, ["report", str(path), "--format", "md"]) for path in (folder, records))
    assert alone.exit_code == 0, alone.output
    assert alone.stdout == full.stdout and alone.stdout.count("| ") > 10


def test_fail_below_guards_a_ci(results):
    folder, *_ = results
    runner = CliRunner()
    ok = runner.invoke(app, ["report", str(folder), "--format", "md", "--fail-below", "CBCT only (unet)=0"])
    assert ok.exit_code == 0
    bad = runner.invoke(app, ["report", str(folder), "--format", "md", "--fail-below", "CBCT only (unet)=1.01"])
    assert bad.exit_code == 1 and "below 1.01" in bad.stderr
    unknown = cli("report", str(folder), "--fail-below", "no such method=0.5")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1


def test_evaluate_reports_missing_extra_and_mismatched_cases(results, small_phantom, tmp_path):
    folder, _, _, _, outside = results
    pred = tmp_path / "pred"
    shutil.copytree(outside, pred)
    files = sorted(pred.iterdir())
    files[0].unlink()  # missing
    image = sitk.ReadImage(str(files[1]))
    image.SetSpacing(tuple(s * 2 for s in image.GetSpacing()))
    sitk.WriteImage(image, str(files[1]))  # another grid
    shutil.copy(files[2], pred / "NOT_A_CASE.nii.gz")  # extra
    result = cli("evaluate", "--pred", str(pred), "--ref", str(small_phantom), "--name", "faulty", "--split",
                 "val,test", "--results", str(tmp_path / "res"), "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    missing = files[0].name.removesuffix(".nii.gz")
    assert record["problems"]["missing"] == [missing]
    assert record["problems"]["extra"] == ["NOT_A_CASE"]
    assert len(record["problems"]["geometry"]) == 1 and files[1].name in record["problems"]["geometry"][0]
    rows = pd.read_parquet(tmp_path / "res" / record["run_id"] / "per_case.parquet")
    mismatched = rows[(rows["case"] == files[1].name.removesuffix(".nii.gz")) & (rows["metric"] == "dsc")]
    assert mismatched["flag"].tolist() == ["geometry_mismatch"] and mismatched["value"].tolist() == [0.0]
    dsc = rows[(rows["case"] == missing) & (rows["metric"] == "dsc")].iloc[0]
    assert dsc["value"] == 0.0 and dsc["flag"] == "missing_prediction"
    assert "without a prediction" in result.stderr and "geometry differs" in result.stderr


# ------------------------------------------------------------------ provenance rules on hand-made run folders


def _run_folder(root: Path, name: str, segmenter: str, seed: int, dsc: dict, preset: str = "cpu",
                status: str = "finished", version: str = "0.1.0") -> None:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    config = {"translator": "none", "segmenter": segmenter, "fusion": "none", "dataset": "phantom",
              "dataset_version": 1, "data_path": None, "data_seed": 0, "seed": seed, "preset": {"name": preset},
              "options": {}}
    plugin = {"name": segmenter, "distribution": "cmedl-bench", "version": version, "plugin": "segmenters"}
    write_record(run_dir, {"run_id": name, "status": status, "seed": seed, "config": config,
                           "config_hash": f"{name}-hash", "plugins": {"segmenter": plugin},
                           "dataset": {"name": "phantom", "version": 1}})
    if status == "finished":
        write_rows(run_dir, [{"run_id": name, "split": "test", "case": case, "head": "student", "metric": "dsc",
                              "value": value, "flag": None} for case, value in dsc.items()])


def test_unfinished_runs_and_different_setups_are_not_pooled(tmp_path):
    cases = {f"C{i}": 0.5 + 0.04 * i for i in range(8)}
    _run_folder(tmp_path, "a0", "unet", 0, cases)
    _run_folder(tmp_path, "a1", "unet", 1, {c: v + 0.01 for c, v in cases.items()})
    _run_folder(tmp_path, "a2", "unet", 2, cases, status="interrupted")
    _run_folder(tmp_path, "b0", "unet", 0, cases, preset="paper")
    _run_folder(tmp_path, "c0", "unet", 3, cases, version="0.2.0")
    board = api.report([tmp_path])
    assert [p.name for p, _ in board.excluded] == ["a2"] and "interrupted" in board.excluded[0][1]
    pooled = [r for r in board.rows if [run.path.name for run in r.runs] == ["a0", "a1"]]
    assert len(pooled) == 1 and pooled[0].seeds == [0, 1]
    labels = sorted(r.label for r in board.rows)
    assert len(labels) == 3 and len(set(labels)) == 3
    assert any("preset paper" in label for label in labels)
    assert any("0.2.0" in label for label in labels)
    assert any("not pooled" in note for note in board.notes)


def test_a_method_with_fewer_or_no_paired_cases_is_handled(tmp_path):
    cases = {f"C{i}": 0.5 + 0.04 * i for i in range(8)}
    _run_folder(tmp_path, "ref", "unet", 0, cases)
    _run_folder(tmp_path, "few", "densefcn57", 0, {c: v - 0.1 * (k + 1) for k, (c, v) in enumerate(list(cases.items())[:3])})
    _run_folder(tmp_path, "none", "unet3d", 0, {"X1": 0.7, "X2": 0.8})
    board = api.report([tmp_path], reference="CBCT only (unet)")
    few = next(r for r in board.rows if r.components["segmenter"] == "densefcn57")
    assert few.n_pairs == 3 and few.p == pytest.approx(0.25)  # exact: all three differences negative
    unpaired = next(r for r in board.rows if r.components["segmenter"] == "unet3d")
    assert unpaired.p is None and unpaired.verdict == "no paired cases"
    with pytest.raises(CmedlError, match="is not a row"):
        api.report([tmp_path], reference="no such row")


def test_report_without_finished_runs_is_one_line(tmp_path):
    _run_folder(tmp_path, "a0", "unet", 0, {}, status="failed")
    result = cli("report", str(tmp_path))
    assert result.returncode == 2 and "no finished run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ patient-level statistics


def _dataset_json(root: Path, patients: dict[str, str], locations: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    cases = {case: {"patient": patient, "location": locations[case]} for case, patient in patients.items()}
    (root / "dataset.json").write_text(json.dumps({"cohorts": {"cbct": {"cases": cases}}}))
    return root


def test_patient_level_pairing_averages_scans_before_the_exact_wilcoxon(tmp_path):
    """Six patients with two weekly scans each: the test pairs the six patient means (all six differences
    positive: exact two-sided p = 2 / 2**6 = 0.03125), not the twelve scans (which would give 2 / 2**12)."""
    patients = {f"P{p}W{w}": f"P{p}" for p in range(6) for w in (1, 2)}
    locations = {case: "central" if int(case[1]) < 4 else "peripheral" for case in patients}
    data = _dataset_json(tmp_path / "data", patients, locations)
    base = {case: 0.5 + 0.01 * i for i, case in enumerate(sorted(patients))}
    better = {case: value + 0.02 + 0.001 * i for i, (case, value) in enumerate(sorted(base.items()))}
    for name, segmenter, values in (("ref", "unet", base), ("new", "densefcn57", better)):
        _run_folder(tmp_path / "res", name, segmenter, 0, values)
        record = json.loads((tmp_path / "res" / name / "run.json").read_text())
        record["dataset"]["path"] = str(data)
        (tmp_path / "res" / name / "run.json").write_text(json.dumps(record))
    board = api.report([tmp_path / "res"], reference="CBCT only (unet)", metrics=("dsc",))
    row = next(r for r in board.rows if r.components["segmenter"] == "densefcn57")
    found = row.comparisons["dsc"]
    assert (found.pairing, found.units, found.scans) == ("patient", 6, 12)
    assert found.p == pytest.approx(2 / 2**6)
    differences = [np.mean([better[f"P{p}W{w}"] - base[f"P{p}W{w}"] for w in (1, 2)]) for p in range(6)]
    assert found.mean_difference == pytest.approx(np.mean(differences))
    assert found.ci[0] <= found.mean_difference <= found.ci[1]
    assert row.subgroups["central"] == pytest.approx(np.mean([better[c] for c in patients if locations[c] == "central"]))
    per_scan = api.report([tmp_path / "res"], reference="CBCT only (unet)", pairing="scan", metrics=("dsc",))
    scan_row = next(r for r in per_scan.rows if r.components["segmenter"] == "densefcn57")
    assert scan_row.comparisons["dsc"].units == 12 and scan_row.p == pytest.approx(2 / 2**12)
    md = CliRunner().invoke(app, ["report", str(tmp_path / "res"), "--format", "md", "--metrics", "dsc",
                                  "--reference", "CBCT only (unet)"]).stdout
    assert "Test DSC central" in md and "n=6 patients, 12 scans" in md and "ΔDSC \\[95% CI\\]" in md


def test_bootstrap_interval_is_reproducible_and_covers_a_known_difference():
    from cmedl_bench.results.statistics import bootstrap_mean_ci

    rng = np.random.default_rng(0)
    sample = rng.normal(0.05, 0.1, 30)
    assert bootstrap_mean_ci(sample, seed=3) == bootstrap_mean_ci(sample, seed=3)
    covered = 0
    for _ in range(200):
        low, high = bootstrap_mean_ci(rng.normal(0.05, 0.1, 30), seed=1, resamples=2000)
        covered += low <= 0.05 <= high
    assert 0.88 <= covered / 200 <= 0.99  # a 95 % interval, give or take the percentile method's small-n bias
