"""What a prepared training case holds in memory: ``stages.inputs.prepare_groups`` keeps each scan's prepared arrays,
its original-grid label packed to one bit a voxel and its geometry, and drops its original-grid float32 image as soon
as the scan is prepared (:func:`cmedl_bench.data.layout.without_image`). Measured with
``tracemalloc`` (numpy's allocations) as the memory still held once three clinical-size scans (512 x 512 x 100,
0.9 mm in-plane, the ``cpu`` preset's 2.5 mm working grid) are prepared, against the baseline that keeps each scan as
read (the behaviour before). The ratio must stay at most :data:`MAX_RATIO`."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import SimpleITK as sitk

from cmedl_bench.config import PRESETS
from cmedl_bench.data.layout import Case, read_volume
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.stages.inputs import prepare_groups
from cmedl_bench.stages.progress import SilentReporter

PRESET = PRESETS["cpu"]
SHAPE = (100, 512, 512)
SCANS = 3
MAX_RATIO = 0.2


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scans")
    rng = np.random.default_rng(0)
    _, yy, xx = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    body = ((yy - 256) / 180) ** 2 + ((xx - 256) / 230) ** 2 < 1
    tumour = np.zeros(SHAPE, dtype=np.uint8)
    tumour[40:60, 240:270, 300:330] = 1
    out = []
    for k in range(SCANS):
        hu = np.where(body, 40.0, -1000.0) + rng.normal(0, 20, SHAPE)
        image, label = sitk.GetImageFromArray(hu.astype(np.int16)), sitk.GetImageFromArray(tumour)
        for item in (image, label):
            item.SetSpacing((0.9, 0.9, 3.0))
        case = Case("cbct", f"S{k}", f"S{k}", folder / f"S{k}_0000.nii.gz", folder / f"S{k}.nii.gz")
        sitk.WriteImage(image, str(case.image_path))
        sitk.WriteImage(label, str(case.label_path))
        out.append(case)
    return out


def _held(prepare_all) -> float:
    """MiB still allocated once every scan is prepared (and kept)."""
    tracemalloc.start()
    try:
        kept = prepare_all()
        held = tracemalloc.get_traced_memory()[0] / 2**20
        del kept
        return held
    finally:
        tracemalloc.stop()


def test_prepared_cases_keep_neither_their_original_image_nor_an_unpacked_label(benchmark, record_value, cases):
    def as_read():
        return [prepare(read_volume(case), PRESET.spacing_xy_mm, PRESET.crop_size) for case in cases]

    def as_prepared():
        return prepare_groups({"train": cases}, PRESET, SilentReporter())

    baseline = _held(as_read)
    benchmark.group = "prepared data footprint"
    held = benchmark.pedantic(lambda: _held(as_prepared), rounds=1, iterations=1)
    record_value("prepared data (MiB, 3 scans)", "baseline", baseline, "MiB")
    record_value("prepared data (MiB, 3 scans)", "image dropped, label packed", held, "MiB")
    assert held <= MAX_RATIO * baseline, f"{held:.0f} MiB held against {baseline:.0f} MiB keeping the images"
