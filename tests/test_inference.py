"""Whole-slice and sliding-window inference: the same output where a window is the whole slice, padding that never
reaches the output, and the heads that may use whole slices."""

import dataclasses

import pytest
import torch

from cmedl_bench.config import PRESETS
from cmedl_bench.engine.inference import sliding_window, whole_slices
from cmedl_bench.stages.building import build_fusion


def test_whole_slices_pad_to_the_multiple_and_crop_back():
    image = torch.randn(3, 2, 37, 50)  # channels, slices, height, width
    seen = []

    def doubled(batch):
        seen.append(tuple(batch.shape[-2:]))
        return batch[:, :1] * 2

    out = whole_slices(doubled, image, 16, torch.device("cpu"))
    assert set(seen) == {(48, 64)}
    torch.testing.assert_close(out, image[0] * 2)


def test_a_window_as_large_as_the_slice_gives_the_whole_slice_result():
    from cmedl_bench_plugins.unet import build

    torch.manual_seed(0)
    network = build(width=0.125).eval()
    image = torch.randn(4, 32, 32)
    windowed = sliding_window(network, image, 32, torch.device("cpu"))
    torch.testing.assert_close(whole_slices(network, image, 16, torch.device("cpu")), windowed)


@pytest.mark.parametrize("fusion, translator, segmenter, expected", [
    ("none", "none", "unet", {"student": 16}),
    ("none", "none", "densefcn57", {"student": 32}),
    ("none", "none", "unet3d", {"student": None}),  # 3D patches: windows
    ("hint", "cycle", "unet", {"student": 16, "teacher": None, "teacher_on_mri": 16}),  # the teacher: translator
    ("pmri", "cycle", "unet", {"pmri": None}),
    ("mri-oracle", "none", "unet", {"mri": 16}),
])
def test_whole_slices_only_for_heads_without_per_image_statistics(fusion, translator, segmenter, expected):
    preset = PRESETS["smoke"]
    built = build_fusion(fusion, segmenter, translator, preset, torch.device("cpu"), training=False)
    assert {head: built.slice_multiple(head) for head in expected} == expected
    windows = build_fusion(fusion, segmenter, translator, dataclasses.replace(preset, whole_slice_inference=False),
                           torch.device("cpu"), training=False)
    assert all(windows.slice_multiple(head) is None for head in expected)
