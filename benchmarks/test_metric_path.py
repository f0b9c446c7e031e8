"""The metric path (plugins dsc + sdsc + hd95 through score_case) against calling surface-distance directly,
on one 512 x 512 x 100 case with anisotropic spacing."""

import numpy as np
import pytest
import surface_distance

from cmedl_bench.registry import get_registry
from cmedl_bench.scoring import score_case

SPACING = (3.0, 0.98, 0.98)


@pytest.fixture(scope="module")
def case():
    zz, yy, xx = np.ogrid[:100, :512, :512]
    reference = ((zz - 50) / 12.0) ** 2 + ((yy - 250) / 30.0) ** 2 + ((xx - 260) / 35.0) ** 2 <= 1
    prediction = ((zz - 52) / 11.0) ** 2 + ((yy - 255) / 33.0) ** 2 + ((xx - 256) / 31.0) ** 2 <= 1
    return prediction, reference


def direct(prediction, reference):
    distances = surface_distance.compute_surface_distances(reference, prediction, SPACING)
    return (surface_distance.compute_dice_coefficient(reference, prediction),
            surface_distance.compute_surface_dice_at_tolerance(distances, 4.38),
            surface_distance.compute_robust_hausdorff(distances, 95))


def test_surface_distance_direct(benchmark, case, record_value):
    benchmark.group = "metric-path-512x512x100"
    result = benchmark(direct, *case)
    record_value("metric-path", "baseline", benchmark)
    assert 0 < result[0] < 1


def test_cmedl_metric_plugins(benchmark, case, record_value):
    benchmark.group = "metric-path-512x512x100"
    metrics = get_registry().metric_functions("segmentation")
    scores = benchmark(score_case, metrics, *case, SPACING)
    record_value("metric-path", "cmedl-bench plugins", benchmark)
    expected = direct(*case)
    assert scores["dsc"].value == pytest.approx(expected[0])
    assert scores["sdsc"].value == pytest.approx(expected[1])
    assert scores["hd95"].value == pytest.approx(expected[2])
