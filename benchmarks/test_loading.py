"""Does data loading keep up with training? Slices per second delivered by the sampler + batched augmentation from
the preprocessed in-memory volumes (the run's slice cache: volumes are read and preprocessed once per run, epochs
only crop and warp), against the slices per second that the ``cpu`` preset's CBCT-only training step (U-Net, the
lightest consumer) takes. The ratio in the summary is loader / step: above 1, training never waits for data.
"""

import numpy as np
import pytest
import torch

from cmedl_bench.config import PRESETS
from cmedl_bench.data.layout import load_index, read_volume
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.data.slices import TumourSliceSampler
from cmedl_bench.engine.batches import draw_batch
from cmedl_bench.stages.building import build_fusion

PRESET = PRESETS["cpu"]


@pytest.fixture(scope="module")
def sampler(tmp_path_factory):
    from cmedl_bench.api import synth

    root = synth(tmp_path_factory.mktemp("data") / "phantom", size="small", quiet=True)
    index = load_index(root)
    volumes = [prepare(read_volume(case), PRESET.spacing_xy_mm, PRESET.crop_size)
               for case in index.split_cases("cbct", "train")]
    return TumourSliceSampler(volumes, PRESET.crop_size)


def _draw(sampler, rng, generator):
    return draw_batch({"cbct": sampler}, PRESET.batch_size, rng, generator, torch.device("cpu"), PRESET.augment)


def test_loader_slices_per_second(benchmark, record_value, sampler):
    benchmark.group = "loading vs training"
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    batch = benchmark.pedantic(_draw, args=(sampler, rng, generator), rounds=30, warmup_rounds=2)
    assert batch["cbct"].shape == (PRESET.batch_size, 1, PRESET.crop_size, PRESET.crop_size)
    if benchmark.stats is not None:
        record_value("slices per second", "loader (crop + augment)", PRESET.batch_size / benchmark.stats.stats.mean,
                     "sl/s")


def test_training_step_slices_per_second(benchmark, record_value, sampler):
    benchmark.group = "loading vs training"
    torch.manual_seed(0)
    fusion = build_fusion("none", "unet", "none", PRESET, torch.device("cpu"))
    fusion.train(True)
    batch = _draw(sampler, np.random.default_rng(1), torch.Generator().manual_seed(1))
    losses = benchmark.pedantic(fusion.train_step, args=(batch,), rounds=10, warmup_rounds=2)
    assert all(torch.isfinite(v).all() for v in losses.values())
    if benchmark.stats is not None:
        record_value("slices per second", "baseline", PRESET.batch_size / benchmark.stats.stats.mean, "sl/s")
