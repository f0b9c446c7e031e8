"""What does ``predict --uncertainty N`` hold in memory beyond the scan? The peak of the arrays allocated while the
dropout passes run on one 512 x 512 x 100 CBCT (traced with ``tracemalloc``, which sees numpy's allocations; the
network's own tensors are torch's and not counted), in float32 volumes of the scan, for 2 and 4 passes. The
docstring of ``stages.predicting._dropout_passes`` promises three float32 volumes and one working volume besides
the pass's own probability, whatever the number of passes: the ratio must not grow with the passes, and stays at
most :data:`MAX_VOLUMES`."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from cmedl_bench.config import PRESETS
from cmedl_bench.data.layout import Case, canonical_volume
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.stages.building import build_fusion
from cmedl_bench.stages.models import TrainedModel

PRESET = PRESETS["cpu"]
SHAPE = (100, 512, 512)
#: the documented bound in float32 volumes of the scan: first pass, two sums, one working volume, the pass's
#: probability and the reassembly of that probability on the scan's grid
MAX_VOLUMES = 6.0


class _Task:
    def advance(self) -> None:
        pass


@pytest.fixture(scope="module")
def model_and_scan():
    rng = np.random.default_rng(0)
    zz, yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]].astype(np.float32)
    body = ((yy - 256) / 180) ** 2 + ((xx - 256) / 230) ** 2 < 1
    hu = np.where(body, 40.0, -1000.0) + rng.normal(0, 20, SHAPE)
    image = sitk.GetImageFromArray(hu.astype(np.int16))
    image.SetSpacing((0.9, 0.9, 3.0))
    prepared = prepare(canonical_volume(Case("cbct", "scan", "scan", None, None), image), PRESET.spacing_xy_mm,
                       PRESET.crop_size)
    torch.manual_seed(0)
    fusion = build_fusion("none", "unet", "none", PRESET, torch.device("cpu"))
    fusion.train(False)
    return TrainedModel(fusion, "student", {}), prepared


@pytest.mark.parametrize("passes", [2, 4])
def test_dropout_passes_hold_a_fixed_number_of_volumes(benchmark, record_value, model_and_scan, passes):
    from cmedl_bench.stages.predicting import _dropout_passes

    model, prepared = model_and_scan
    volume_bytes = np.prod(SHAPE) * 4

    def measured() -> float:
        tracemalloc.start()
        try:
            sd, score = _dropout_passes(model, prepared, passes, 0.5, 0, _Task())
            assert sd.shape == SHAPE and 0.0 <= score <= 1.0
            return tracemalloc.get_traced_memory()[1] / volume_bytes
        finally:
            tracemalloc.stop()

    benchmark.group = "uncertainty memory (float32 volumes)"
    volumes = benchmark.pedantic(measured, rounds=1, iterations=1)
    record_value("uncertainty memory 512x512x100", f"{passes} passes", volumes, "volumes")
    assert volumes <= MAX_VOLUMES, f"{volumes:.2f} float32 volumes held during {passes} dropout passes"
