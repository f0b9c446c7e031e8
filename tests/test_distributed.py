"""Data-parallel training: two gloo processes on CPU, each with half of the global batch, end where one process
with the whole batch ends (a batch-norm-free segmenter: torch's SyncBatchNorm is GPU-only)."""

import json

import pytest
import torch

from cmedl_bench.engine.distributed import launch
from cmedl_bench.registry import unregister_plugin
from tests import ddp_helpers


@pytest.fixture
def plain_fcn():
    ddp_helpers.ensure_registered()
    yield
    unregister_plugin("ddp-test")


def test_two_processes_equal_one_process_on_the_same_global_batch(tmp_path, small_phantom, plain_fcn):
    kwargs = dict(translator="none", segmenter="plain-fcn", fusion="none", data=small_phantom, preset="smoke",
                  device="cpu", quiet=True, overrides={"max_epochs": 2, "steps_per_epoch": 3})
    single = ddp_helpers.train_rank(kwargs | {"results": tmp_path / "one"})
    parallel = launch(2, False, ddp_helpers.train_rank, kwargs | {"results": tmp_path / "two"})
    assert parallel["status"] == "finished"
    # the number of processes changes results (per-process batch norm and pools), so it is part of the hash
    assert (single["config"]["processes"], parallel["config"]["processes"]) == (1, 2)
    assert single["run_id"] != parallel["run_id"]
    assert {k: v for k, v in single["config"].items() if k != "processes"} == {
        k: v for k, v in parallel["config"].items() if k != "processes"}
    one, two = tmp_path / "one" / single["run_id"], tmp_path / "two" / parallel["run_id"]
    weights_one = torch.load(one / "last.pt", weights_only=True)["weights"]["segmenter"]
    weights_two = torch.load(two / "last.pt", weights_only=True)["weights"]["segmenter"]
    for name, tensor in weights_one.items():
        torch.testing.assert_close(weights_two[name], tensor, rtol=1e-4, atol=1e-5)
    history_one = json.loads((one / "history.json").read_text())
    history_two = json.loads((two / "history.json").read_text())
    for a, b in zip(history_one, history_two):
        assert a["train_seg"] == pytest.approx(b["train_seg"], rel=1e-4)
        assert a["val_dsc"] == pytest.approx(b["val_dsc"], abs=1e-6)
    assert single["summary"]["test"]["student"]["dsc"]["mean"] == pytest.approx(
        parallel["summary"]["test"]["student"]["dsc"]["mean"], abs=1e-6)
    assert history_one[0]["train_seg"] != history_one[-1]["train_seg"]  # it trained


def test_batch_must_split_evenly(tmp_path, small_phantom, plain_fcn):
    kwargs = dict(translator="none", segmenter="plain-fcn", fusion="none", data=small_phantom, preset="smoke",
                  device="cpu", quiet=True, results=tmp_path, overrides={"batch_size": 3})
    with pytest.raises(Exception, match="cannot be split over 2 processes"):
        launch(2, False, ddp_helpers.train_rank, kwargs)
