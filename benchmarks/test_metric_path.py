"""The default metric path (the plugins dsc + sdsc + hd95 + fp through ``score_case``) against calling
surface-distance directly for DSC, SDSC and HD95 on the whole volume, on one 512 x 512 x 100 case with anisotropic
spacing, without and with a distant false positive. The project's aim: at most :data:`MAX_RATIO` of the direct
call's time, values unchanged to 1e-6 (so the benchmark fails when a change makes the default path slower)."""

import numpy as np
import pytest
import surface_distance

from cmedl_bench.registry import get_registry
from cmedl_bench.scoring import score_case

SPACING = (3.0, 0.98, 0.98)
MAX_RATIO = 1.0
_times: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module", params=["clean", "distant false positive"])
def case(request):
    zz, yy, xx = np.ogrid[:100, :512, :512]
    reference = ((zz - 50) / 12.0) ** 2 + ((yy - 250) / 30.0) ** 2 + ((xx - 260) / 35.0) ** 2 <= 1
    prediction = ((zz - 52) / 11.0) ** 2 + ((yy - 255) / 33.0) ** 2 + ((xx - 256) / 31.0) ** 2 <= 1
    if request.param != "clean":
        prediction = prediction | (((zz - 20) / 3.0) ** 2 + ((yy - 420) / 8.0) ** 2 + ((xx - 90) / 8.0) ** 2 <= 1)
    return request.param, prediction, reference


def direct(prediction, reference):
    distances = surface_distance.compute_surface_distances(reference, prediction, SPACING)
    return (surface_distance.compute_dice_coefficient(reference, prediction),
            surface_distance.compute_surface_dice_at_tolerance(distances, 4.38),
            surface_distance.compute_robust_hausdorff(distances, 95))


def test_surface_distance_direct(benchmark, case, record_value):
    name, prediction, reference = case
    benchmark.group = f"metric path 512x512x100, {name}"
    result = benchmark(direct, prediction, reference)
    record_value(f"metric path ({name})", "baseline", benchmark)
    if benchmark.stats is not None:
        _times.setdefault(name, {})["direct"] = benchmark.stats.stats.mean
    assert 0 < result[0] < 1


def test_cmedl_metric_plugins(benchmark, case, record_value):
    name, prediction, reference = case
    benchmark.group = f"metric path 512x512x100, {name}"
    metrics = {n: f for n, f in get_registry().metric_functions("metric").items() if n in ("dsc", "sdsc", "hd95", "fp")}
    scores = benchmark(score_case, metrics, prediction, reference, SPACING)
    record_value(f"metric path ({name})", "dsc+sdsc+hd95+fp", benchmark)
    expected = direct(prediction, reference)
    assert scores["dsc"].value == pytest.approx(expected[0], abs=1e-6)
    assert scores["sdsc"].value == pytest.approx(expected[1], abs=1e-6)
    assert scores["hd95"].value == pytest.approx(expected[2], abs=1e-6)
    assert scores["fp"].value == (0.0 if name == "clean" else 1.0)
    if benchmark.stats is not None and "direct" in _times.get(name, {}):
        ratio = benchmark.stats.stats.mean / _times[name]["direct"]
        assert ratio <= MAX_RATIO, f"the metric path takes {ratio:.2f}x surface-distance's time ({name})"
