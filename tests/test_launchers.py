"""Launchers: the same grid through submitit's local executor and a local Ray instance lands in one results folder,
idempotent by configuration hash; a failed job names its log and the command that re-runs it."""

import json

import pytest

from cmedl_bench import api
from cmedl_bench.errors import CmedlError

ROWS = [("none", "unet", "none"), ("none", "densefcn57", "none")]


def _sweep(folder, data, launcher, options=None, rows=ROWS, **kwargs):
    return api.sweep(rows=rows, seeds=(0,), launcher=launcher, launcher_options=options or {}, data=data,
                     preset="smoke", results=folder, quiet=True, **kwargs)


def test_slurm_launcher_through_submitit_local_executor(tmp_path, small_phantom):
    pytest.importorskip("submitit")
    outcomes = _sweep(tmp_path, small_phantom, "slurm", {"cluster": "local", "time": "10"})
    assert [o.status for o in outcomes] == ["finished", "finished"], [o.error for o in outcomes]
    assert all(o.extra.get("job_id") for o in outcomes)
    run_ids = sorted(o.record["run_id"] for o in outcomes)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("_")) == run_ids
    started = {o.record["run_id"]: o.record["started"] for o in outcomes}
    # the local launcher sees the same runs as finished: idempotent by configuration hash, whoever ran them
    again = _sweep(tmp_path, small_phantom, "local")
    assert {o.record["run_id"]: o.record["started"] for o in again} == started
    assert len(api.report([tmp_path]).rows) == 2


def test_ray_launcher_on_a_local_instance(tmp_path, small_phantom):
    pytest.importorskip("ray")
    outcomes = _sweep(tmp_path, small_phantom, "ray", {"num_cpus": "2"}, rows=ROWS[:1])
    assert [o.status for o in outcomes] == ["finished"], [o.error for o in outcomes]
    record = json.loads((tmp_path / outcomes[0].record["run_id"] / "run.json").read_text())
    assert record["status"] == "finished" and record["summary"]["test"]["student"]["dsc"]["n"] > 0
    assert outcomes[0].job.log.exists()  # the job's own output


def test_a_failed_job_names_its_log_and_the_command_to_rerun_it(tmp_path, small_phantom):
    pytest.importorskip("submitit")
    outcomes = _sweep(tmp_path, small_phantom, "slurm", {"cluster": "local"}, rows=ROWS[:1], device="cuda:9")
    assert [o.status for o in outcomes] == ["failed"]
    failure = outcomes[0]
    assert "not usable" in failure.error and failure.log.exists()
    assert "cuda:9" in failure.log.read_text() or "not usable" in failure.job.log.read_text()
    command = failure.job.command()
    assert command.startswith("cmedl-bench run --translator none --segmenter unet --fusion none")
    assert "--device cuda:9" in command and "--preset smoke" in command


def test_local_launcher_goes_on_after_a_failure(tmp_path, small_phantom):
    outcomes = _sweep(tmp_path, small_phantom, "local", rows=ROWS[:1], device="cuda:9")
    assert outcomes[0].status == "failed" and "not usable" in outcomes[0].log.read_text()


def test_unknown_launcher_option_is_an_error(tmp_path, small_phantom):
    with pytest.raises(CmedlError, match="launcher 'slurm' has no option\\(s\\) colour"):
        _sweep(tmp_path, small_phantom, "slurm", {"colour": "blue"})


def test_a_row_another_sweep_is_training_is_put_off_then_found_finished(tmp_path, small_phantom):
    """Two sweeps over one results folder share its rows: the local launcher puts off a row whose run folder another
    process holds, runs the others, then comes back to it (here it waits for the holder, then finds the row finished
    and does not train it again)."""
    import threading

    from cmedl_bench.io.locks import exclusive
    from cmedl_bench.request import RunRequest
    from cmedl_bench.stages.run_folder import run_folder_lock
    from cmedl_bench.stages.sweeping import sweep

    first = _sweep(tmp_path, small_phantom, "local", rows=ROWS[:1])[0].record
    held, release = threading.Event(), threading.Event()

    def other_sweep():
        with exclusive(run_folder_lock(tmp_path / first["run_id"])):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=other_sweep)
    holder.start()
    held.wait(10)
    order = []

    def runner(request):
        order.append(request.segmenter)
        if len(order) == 3:
            release.set()  # the other sweep finishes the row it held
        return api.run(request) if request.segmenter == "unet" else {"run_id": "second row"}

    request = RunRequest.build(data=small_phantom, preset="smoke", results=tmp_path, quiet=True)
    outcomes = sweep(runner, "paper", (0,), ROWS, "local", {}, request)
    holder.join()
    assert order == ["unet", "densefcn57", "unet"]
    assert [o.status for o in outcomes] == ["finished", "finished"]
    assert outcomes[0].record["run_id"] == first["run_id"] and outcomes[0].record["started"] == first["started"]
    assert outcomes[1].record == {"run_id": "second row"}


def test_a_busy_run_folder_raises_at_once_only_where_asked(tmp_path):
    from cmedl_bench.io.locks import exclusive
    from cmedl_bench.plugin import RunBusy, unless_busy
    from cmedl_bench.stages.progress import SilentReporter
    from cmedl_bench.stages.run_folder import RunFolder, run_folder_lock

    folder = RunFolder(tmp_path / "run", SilentReporter())
    with exclusive(run_folder_lock(folder.path)):
        with unless_busy(), pytest.raises(RunBusy, match="running this configuration in"):
            with folder.claim(force=False):
                pass
    with folder.claim(force=False) as previous:  # released: claimed as usual
        assert previous is None
