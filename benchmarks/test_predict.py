"""What does ``predict`` cost beyond the network? Seconds for one 512 x 512 x 100 CBCT (0.9 x 0.9 x 3 mm) through
``predict`` (read, preprocess, whole-slice inference, reassembly on the scan's grid, mask and probability written,
preview), against the raw forward passes of the same network on the same whole slices in the same run (``cpu`` preset
U-Net). The ratio predict / forward is the overhead of I/O, preprocessing and reassembly. Its threshold
:data:`MAX_OVERHEAD` is 2.0x, not the 1.3x first aimed at: that aim was set against the sliding windows' forward
passes, which whole slices made about 2.2 times faster, while the overhead did not shrink with them. The overhead
works on the scan's 26 M voxels (body mask, z-score, in-plane resampling both ways, NIfTI reading and writing,
preview: about 1.4 s), the network on the ``cpu`` preset's 2.5 mm grid, 7.7 times fewer; measured 1.5-1.9x,
depending on how fast the forward passes run in the environment (the same code in two virtual environments). The forward
passes of the sliding windows are measured too: whole slices must take at most :data:`MAX_WHOLE_SLICE` of their
time, and predict less than they did."""

from __future__ import annotations

import time

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from cmedl_bench.config import PRESETS, RunConfig
from cmedl_bench.data.layout import Case, canonical_volume
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.engine.inference import sliding_window, whole_slices
from cmedl_bench.io.checkpoints import save_checkpoint
from cmedl_bench.registry import get_registry
from cmedl_bench.results.run_record import RunRecord
from cmedl_bench.stages.building import build_fusion
from cmedl_bench.stages.models import model_bundle

PRESET = PRESETS["cpu"]
SHAPE = (100, 512, 512)
MAX_OVERHEAD = 2.0
MAX_WHOLE_SLICE = 0.85
ROUNDS = 3
_seconds: dict[str, float] = {}


@pytest.fixture(scope="module")
def scan_and_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict")
    zz, yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]].astype(np.float32)
    body = ((yy - 256) / 180) ** 2 + ((xx - 256) / 230) ** 2 < 1
    hu = np.where(body, 40.0, -1000.0) + np.random.default_rng(0).normal(0, 20, SHAPE)
    hu[((zz - 50) * 3) ** 2 + ((yy - 220) * 0.9) ** 2 + ((xx - 300) * 0.9) ** 2 < 25 ** 2] = 70
    image = sitk.GetImageFromArray(hu.astype(np.int16))
    image.SetSpacing((0.9, 0.9, 3.0))
    sitk.WriteImage(image, str(folder / "scan.nii.gz"))
    torch.manual_seed(0)
    fusion = build_fusion("none", "unet", "none", PRESET, torch.device("cpu"))
    registry = get_registry()
    plugins = {kind: registry.get(kind, name).provenance() for kind, name in
               (("fusion", "none"), ("segmenter", "unet"))} | {"translator": None}
    record = RunRecord.from_json({"run_id": "benchmark", "status": "finished", "config_hash": "", "plugins": plugins,
                                  "config": RunConfig(preset=PRESET).to_dict()}, folder)
    save_checkpoint(model_bundle(fusion, "student", record), folder / "model.cmedl")
    return folder, fusion


def _prepared(folder):
    image = sitk.ReadImage(str(folder / "scan.nii.gz"))
    return prepare(canonical_volume(Case("cbct", "scan", "scan", folder, folder), image), PRESET.spacing_xy_mm,
                   PRESET.crop_size)


def _measure(benchmark, record_value, role: str, run, setup=None) -> None:
    """Time ``run``: one warm-up round (first-call costs: imports, allocator), then :data:`ROUNDS` rounds, each after
    ``setup`` (not timed); the ratios use each side's fastest round, the estimator least moved by other load on a
    shared machine (rounds of one ``predict`` differed by up to 15 % here)."""
    benchmark.group = "predict 512x512x100"
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1, setup=setup)
    if benchmark.stats is not None:
        _seconds[role] = benchmark.stats.stats.min
        record_value("predict 512x512x100", role, benchmark.stats.stats.min, "s")
        record_value("predict slices per second", role, SHAPE[0] / benchmark.stats.stats.min, "sl/s")


def test_forward_of_whole_slices(benchmark, record_value, scan_and_model):
    folder, fusion = scan_and_model
    image = torch.from_numpy(_prepared(folder).image)
    network = fusion.head_network("student")
    _measure(benchmark, record_value, "baseline", lambda: whole_slices(network, image, 16, torch.device("cpu")))


def test_forward_of_sliding_windows(benchmark, record_value, scan_and_model):
    folder, fusion = scan_and_model
    image = torch.from_numpy(_prepared(folder).image)
    network = fusion.head_network("student")
    _measure(benchmark, record_value, "sliding windows",
             lambda: sliding_window(network, image, PRESET.crop_size, torch.device("cpu")))
    if {"baseline", "sliding windows"} <= set(_seconds):
        ratio = _seconds["baseline"] / _seconds["sliding windows"]
        assert ratio <= MAX_WHOLE_SLICE, f"whole slices take {ratio:.2f}x the sliding windows' time"


def test_predict_seconds_per_scan(benchmark, record_value, scan_and_model, tmp_path):
    """The threshold compares predict with the forward passes timed just before each of its rounds: the forward's
    speed drifts between tests (1.86 to 2.7 s in runs on this machine) while the overhead stays, so a baseline
    measured minutes earlier would move the ratio more than a regression does."""
    from cmedl_bench.api import predict

    folder, fusion = scan_and_model
    image = torch.from_numpy(_prepared(folder).image)
    network = fusion.head_network("student")
    forwards: list[float] = []

    def time_forward() -> None:
        start = time.perf_counter()
        whole_slices(network, image, 16, torch.device("cpu"))
        forwards.append(time.perf_counter() - start)

    runs = iter(range(100))
    _measure(benchmark, record_value, "predict (whole scan)",
             lambda: predict(folder / "model.cmedl", [folder / "scan.nii.gz"], tmp_path / f"out{next(runs)}",
                             quiet=True), setup=time_forward)
    if benchmark.stats is None:
        return
    record_value("predict 512x512x100", "forward, between predicts", min(forwards), "s")
    ratio = _seconds["predict (whole scan)"] / min(forwards)
    assert ratio <= MAX_OVERHEAD, f"predict takes {ratio:.2f}x the raw forward passes"
    if "sliding windows" in _seconds:
        assert _seconds["predict (whole scan)"] < _seconds["sliding windows"], "predict is slower than its windows were"
