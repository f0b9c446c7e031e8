"""Experiment tracking (``run --log``): the TensorBoard event file and the MLflow run read back with their own
libraries hold what ``history.json`` holds; nothing is logged without the flag; a logger that cannot run is one line
before any data are read."""

import json

import pytest

from cmedl_bench import api, hookimpl
from cmedl_bench.errors import CmedlError
from cmedl_bench.plugin import Logger, LoggerInfo
from tests.conftest import cli


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory, small_phantom):
    results = tmp_path_factory.mktemp("tracked")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CMEDL_BENCH_LOG", "tensorboard,mlflow")
        record = api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=results,
                         quiet=True)
    history = json.loads((results / record["run_id"] / "history.json").read_text())
    return results, record, history


def test_tensorboard_event_file_holds_every_epoch_and_the_figures(logged_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    results, record, history = logged_run
    events = EventAccumulator(str(results / record["run_id"] / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert record["loggers"] == ["tensorboard", "mlflow"]
    for key in ("train_seg", "val_dsc"):
        scalars = events.Scalars(key.replace("_", "/", 1))
        assert [s.step for s in scalars] == [row["epoch"] + 1 for row in history]
        assert [s.value for s in scalars] == pytest.approx([row[key] for row in history])
    test_dsc = events.Scalars("test/student/dsc")[0].value
    assert test_dsc == pytest.approx(record["summary"]["test"]["student"]["dsc"]["mean"])
    assert "learning_curves" in events.Tags()["images"]


def test_mlflow_run_holds_the_config_the_curves_and_the_record(logged_run):
    from mlflow.tracking import MlflowClient

    results, record, history = logged_run
    client = MlflowClient(tracking_uri=(results / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("cmedl-bench")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == record["run_id"] and run.info.status == "FINISHED"
    assert run.data.params["preset.max_epochs"] == str(record["config"]["preset"]["max_epochs"])
    assert run.data.tags["cmedl_bench.config_hash"] == record["config_hash"]
    curve = client.get_metric_history(run.info.run_id, "val_dsc")
    assert [m.step for m in curve] == [row["epoch"] + 1 for row in history]
    assert [m.value for m in curve] == pytest.approx([row["val_dsc"] for row in history])
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"run.json", "history.json"}


def test_nothing_is_logged_without_the_flag_and_a_logger_that_cannot_run_is_one_line(
        tmp_path, small_phantom, cmedl_register, monkeypatch):
    class NeedsMissing(Logger):
        pass

    class Plugin:
        @hookimpl
        def register_loggers(self, register):
            register("needs-missing", NeedsMissing, description="needs a package that is not there",
                     info=LoggerInfo(requires=("not_a_module_anyone_installed",), extra="tracking"))

    cmedl_register(Plugin(), name="needs-missing", distribution="needs-dist", version="1")
    monkeypatch.setenv("CMEDL_BENCH_LOG", "needs-missing")
    with pytest.raises(CmedlError, match=r"--log needs-missing needs not_a_module_anyone_installed.*cmedl-bench\["
                                         r"tracking\]"):
        api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=tmp_path / "r",
                quiet=True)
    assert not (tmp_path / "r").exists()
    unknown = cli("run", "--translator", "none", "--fusion", "none", "--preset", "smoke", "--data", str(small_phantom),
                  "--results", str(tmp_path / "r"), "--log", "tensorbord")
    assert unknown.returncode == 2 and "tensorbord" in unknown.stderr and not (tmp_path / "r").exists()
    monkeypatch.delenv("CMEDL_BENCH_LOG")
    record = api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=tmp_path / "q",
                     quiet=True)
    assert record["loggers"] == [] and not (tmp_path / "q" / record["run_id"] / "tensorboard").exists()
    assert not (tmp_path / "q" / "mlruns").exists()
