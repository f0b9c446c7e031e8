"""``cmedl-bench run`` end to end on the small phantom with the smoke preset, and its failure modes."""

import importlib.metadata
import json
import shutil
import sys

import pandas as pd
import pytest
import SimpleITK as sitk
import torch

from cmedl_bench import api, hookimpl
from cmedl_bench.errors import PluginError
from cmedl_bench.plugin import SegmenterInfo
from cmedl_bench.registry import register_plugin, unregister_plugin
from tests.conftest import cli

SMOKE = ("run", "--translator", "none", "--segmenter", "unet", "--fusion", "none", "--preset", "smoke", "--quiet")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, small_phantom):
    results = tmp_path_factory.mktemp("results")
    result = cli(*SMOKE, "--results", str(results), "--json", "--threads", "1")
    assert result.returncode == 0, result.stderr
    return results, json.loads(result.stdout)


def test_smoke_run_writes_a_complete_run_folder(smoke_run):
    results, record = smoke_run
    run_dir = results / record["run_id"]
    assert record["status"] == "finished"
    for key in ("schema_version", "config", "config_hash", "seed", "plugins", "git", "versions", "device",
                "timings", "dataset", "metrics"):
        assert key in record, key
    assert record["plugins"]["segmenter"]["distribution"] == "cmedl-bench"
    assert record["dataset"]["version"] == 4 and record["config"]["dataset_version"] == 4
    assert record["config"]["preset"]["name"] == "smoke"
    performance = record["performance"]
    assert performance["train_slices_per_s"] > 0 and performance["peak_memory_mib"] > 50
    assert performance["kind"] == "process max RSS" and performance["threads"] == 1  # --threads, recorded
    assert record["versions"]["torch"] == importlib.metadata.version("torch")
    assert record["versions"]["cmedl-bench"] == importlib.metadata.version("cmedl-bench")
    device = record["device"]  # what explains a difference between machines
    assert device["threads"] == 1 and device["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert device["processor"] and device["processor"] != "cpu"
    assert "4.38" in record["metrics"]["sdsc"]["definition"]
    on_disk = json.loads((run_dir / "run.json").read_text())
    assert on_disk["config_hash"] == record["config_hash"] and record["config_hash"][:8] in record["run_id"]
    rows = pd.read_parquet(run_dir / "per_case.parquet")
    assert list(rows.columns) == ["run_id", "split", "case", "head", "metric", "value", "flag"]
    assert set(rows["metric"]) == {"dsc", "sdsc", "hd95", "fp"} and set(rows["split"]) == {"val", "test"}
    assert rows["value"].notna().all()
    test_dsc = rows[(rows.split == "test") & (rows.metric == "dsc")]["value"]
    assert record["summary"]["test"]["student"]["dsc"]["mean"] == pytest.approx(test_dsc.mean())
    best = torch.load(run_dir / "best.pt", weights_only=True)
    assert "segmenter" in best["weights"]
    torch.load(run_dir / "last.pt", weights_only=True)
    assert (run_dir / "learning_curves.png").stat().st_size > 1000
    for case in rows["case"].unique():
        prediction = run_dir / "predictions" / "student" / f"{case}.nii.gz"
        assert sitk.ReadImage(str(prediction)).GetSpacing()[2] == pytest.approx(3.0)


def test_finished_run_is_not_repeated(smoke_run):
    results, record = smoke_run
    again = cli(*SMOKE, "--results", str(results), "--json")
    assert again.returncode == 0
    assert "already finished" in again.stderr
    assert json.loads(again.stdout)["started"] == record["started"]


def _assert_one_line_error(result, fragment):
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0] and "Traceback" not in result.stderr


def test_unknown_plugin_is_one_line(tmp_path):
    result = cli(*SMOKE, "--segmenter", "resnet-9000", "--results", str(tmp_path / "r"))
    _assert_one_line_error(result, "unknown segmenter 'resnet-9000'; known segmenters:")
    assert not (tmp_path / "r").exists()


def test_missing_dataset_is_one_line(tmp_path):
    result = cli(*SMOKE, "--data", str(tmp_path / "missing"), "--results", str(tmp_path / "r"))
    _assert_one_line_error(result, "does not exist")
    assert not (tmp_path / "r").exists()


def test_malformed_dataset_is_one_line(tmp_path, small_phantom):
    root = shutil.copytree(small_phantom, tmp_path / "ds")
    (root / "splits.json").write_text("[1, 2")
    result = cli(*SMOKE, "--data", str(root), "--results", str(tmp_path / "r"))
    _assert_one_line_error(result, "splits.json is not valid JSON")
    assert not (tmp_path / "r").exists()


def test_geometry_mismatch_is_one_line_and_writes_nothing(tmp_path, small_phantom):
    root = shutil.copytree(small_phantom, tmp_path / "ds")
    index = json.loads((root / "splits.json").read_text())
    patient = index["cbct"]["test"][0]
    path = root / "cbct" / "labelsTr" / f"{patient}W1.nii.gz"
    label = sitk.ReadImage(str(path))
    label.SetOrigin((5.0, 0.0, 0.0))
    sitk.WriteImage(label, str(path))
    result = cli(*SMOKE, "--data", str(root), "--results", str(tmp_path / "r"))
    _assert_one_line_error(result, f"{patient}W1.nii.gz: label origin (5.0, 0.0, 0.0) differs from the image's")
    assert not (tmp_path / "r").exists()


def test_translator_with_fusion_none_is_one_line(tmp_path):
    result = cli(*SMOKE, "--translator", "cycle", "--results", str(tmp_path / "r"))
    _assert_one_line_error(result, "fusion 'none' trains on CBCT alone and takes no translator")
    assert not (tmp_path / "r").exists()


class _Fake3DSegmenter:
    @hookimpl
    def register_segmenters(self, register):
        register("fake-3d", lambda **kw: None, description="fake 3D", info=SegmenterInfo(dims=3))


def test_translator_with_3d_segmenter_is_rejected_before_training(tmp_path, monkeypatch, capsys):
    register_plugin(_Fake3DSegmenter(), name="fake-3d")
    try:
        with pytest.raises(PluginError, match="is 2D and cannot feed the 3D segmenter 'fake-3d'"):
            api.run(translator="cycle", segmenter="fake-3d", fusion="none", preset="smoke", results=tmp_path)
        from cmedl_bench.cli import main

        monkeypatch.setattr(sys, "argv", ["cmedl-bench", *SMOKE, "--translator", "cx", "--segmenter", "fake-3d",
                                          "--results", str(tmp_path / "r")])
        with pytest.raises(SystemExit) as exit_info:
            main()
        assert exit_info.value.code == 2
        assert "cannot feed the 3D segmenter" in capsys.readouterr().err
    finally:
        unregister_plugin("fake-3d")
    assert not any(tmp_path.iterdir())


def test_interrupted_run_resumes(tmp_path, small_phantom, monkeypatch):
    """An interruption after the first epoch leaves a resumable run and no per-case table; resumed, it trains exactly
    as a run that was never interrupted, dropout masks included (DenseFCN57 draws them from torch's global
    generator)."""
    import cmedl_bench.trainers.fusion_trainer as fit_module

    real_fit = fit_module.fit

    def interrupted_fit(*args, **kwargs):
        def on_epoch(epoch, total, row):
            raise KeyboardInterrupt

        return real_fit(*args[:6], on_epoch=on_epoch)

    monkeypatch.setattr(fit_module, "fit", interrupted_fit)
    kwargs = dict(translator="none", segmenter="densefcn57", fusion="none", data=small_phantom, preset="smoke",
                  results=tmp_path / "interrupted", quiet=True, overrides={"max_epochs": 3})
    with pytest.raises(KeyboardInterrupt):
        api.run(**kwargs)
    (run_dir,) = (tmp_path / "interrupted").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert (run_dir / "last.pt").exists() and not (run_dir / "per_case.parquet").exists()

    monkeypatch.setattr(fit_module, "fit", real_fit)
    record = api.run(**kwargs)
    assert record["status"] == "finished" and record["resumed_from_status"] == "interrupted"
    history = json.loads((run_dir / "history.json").read_text())
    assert [row["epoch"] for row in history] == [0, 1, 2]

    api.run(**{**kwargs, "results": tmp_path / "straight"})
    (straight_dir,) = (tmp_path / "straight").iterdir()
    straight = json.loads((straight_dir / "history.json").read_text())
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in history] == \
        [{k: v for k, v in row.items() if k != "seconds"} for row in straight]


def test_sigterm_marks_the_run_interrupted(tmp_path, small_phantom):
    """A scheduler's SIGTERM mid-run is recorded like Ctrl-C: status interrupted, exit 130, no per-case table.
    A smoke run can finish before the signal lands; such an attempt is repeated in a fresh folder."""
    import os
    import signal
    import subprocess
    import time

    for attempt in range(3):
        results = tmp_path / f"attempt{attempt}"
        args = [sys.executable, "-m", "cmedl_bench", *SMOKE, "--data", str(small_phantom), "--results", str(results),
                "--epochs", "400"]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "COLUMNS": "200"})
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None and not list(results.glob("*/run.json")):
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:  # finished before the signal arrived
            continue
        assert process.returncode == 130, err
        (run_dir,) = results.iterdir()
        assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
        assert "resumes" in err and not (run_dir / "per_case.parquet").exists()
        return
    pytest.fail("every attempt finished before SIGTERM arrived")
