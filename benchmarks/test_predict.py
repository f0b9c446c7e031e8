"""What does ``predict`` cost beyond the network? Seconds for one 512 x 512 x 100 CBCT (0.9 x 0.9 x 3 mm) through
``predict`` (read, preprocess, sliding window, reassembly on the scan's grid, mask and probability written, preview),
against the raw forward passes of the same network on the same windows in the same run (``cpu`` preset U-Net). The
ratio predict / forward is the overhead of I/O and reassembly (aim: at most 1.3x)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from cmedl_bench.config import PRESETS, RunConfig
from cmedl_bench.data.layout import Case, canonical_volume
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.engine.inference import window_starts
from cmedl_bench.io.checkpoints import save_checkpoint
from cmedl_bench.registry import get_registry
from cmedl_bench.stages.building import build_fusion
from cmedl_bench.stages.models import model_bundle

PRESET = PRESETS["cpu"]
SHAPE = (100, 512, 512)


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
    record = {"run_id": "benchmark", "config_hash": "", "plugins": plugins,
              "config": RunConfig(preset=PRESET).to_dict()}
    save_checkpoint(model_bundle(fusion, "student", record), folder / "model.cmedl")
    return folder, fusion


def test_predict_seconds_per_scan(benchmark, record_value, scan_and_model, tmp_path):
    from cmedl_bench.api import predict

    folder, _ = scan_and_model
    benchmark.group = "predict 512x512x100"
    runs = iter(range(100))
    result = benchmark.pedantic(lambda: predict(folder / "model.cmedl", [folder / "scan.nii.gz"],
                                                tmp_path / f"out{next(runs)}", quiet=True), rounds=2, iterations=1)
    assert result["scans"][0]["tumour_voxels"] >= 0
    if benchmark.stats is not None:
        record_value("predict 512x512x100", "predict (whole scan)", benchmark.stats.stats.mean, "s")
        record_value("predict slices per second", "predict", SHAPE[0] / benchmark.stats.stats.mean, "sl/s")


def test_forward_passes_of_the_same_windows(benchmark, record_value, scan_and_model):
    folder, fusion = scan_and_model
    image = sitk.ReadImage(str(folder / "scan.nii.gz"))
    prepared = prepare(canonical_volume(Case("cbct", "scan", "scan", folder, folder), image), PRESET.spacing_xy_mm,
                       PRESET.crop_size)
    depth, height, width = prepared.image.shape
    crops = torch.stack([torch.from_numpy(prepared.image[:, y:y + PRESET.crop_size, x:x + PRESET.crop_size])
                         for y in window_starts(height, PRESET.crop_size)
                         for x in window_starts(width, PRESET.crop_size)]).reshape(-1, 1, PRESET.crop_size,
                                                                                    PRESET.crop_size)
    network = fusion.head_network("student")

    @torch.no_grad()
    def forward():
        return [network(crops[start:start + 32]) for start in range(0, len(crops), 32)]

    benchmark.group = "predict 512x512x100"
    benchmark.pedantic(forward, rounds=2, iterations=1)
    if benchmark.stats is not None:
        record_value("predict 512x512x100", "baseline", benchmark.stats.stats.mean, "s")
        record_value("predict slices per second", "baseline", depth / benchmark.stats.stats.mean, "sl/s")
