"""Metric plugins agree with surface-distance and give defined values for empty masks."""

import math

import numpy as np
import pytest
import surface_distance

from cmedl_bench.registry import get_registry
from cmedl_bench.scoring import score_case

SPACING = (3.0, 0.9, 1.3)  # z, y, x, anisotropic


@pytest.fixture(scope="module")
def metrics():
    return get_registry().metric_functions()


def _blob(rng, shape):
    zz, yy, xx = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    centre = [rng.uniform(n * 0.3, n * 0.7) for n in shape]
    radii = [rng.uniform(n * 0.1, n * 0.3) for n in shape]
    mask = ((zz - centre[0]) / radii[0]) ** 2 + ((yy - centre[1]) / radii[1]) ** 2 + ((xx - centre[2]) / radii[2]) ** 2
    return (mask <= 1) ^ (rng.random(shape) < 0.02)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_equal_surface_distance(metrics, seed):
    rng = np.random.default_rng(seed)
    pred, ref = _blob(rng, (12, 40, 36)), _blob(rng, (12, 40, 36))
    scores = score_case(metrics, pred, ref, SPACING)
    distances = surface_distance.compute_surface_distances(ref, pred, SPACING)
    assert scores["sdsc"].value == pytest.approx(surface_distance.compute_surface_dice_at_tolerance(distances, 4.38))
    assert scores["hd95"].value == pytest.approx(surface_distance.compute_robust_hausdorff(distances, 95))
    assert scores["dsc"].value == pytest.approx(surface_distance.compute_dice_coefficient(ref, pred))
    assert all(v.flag is None for v in scores.values())
    assert 0 < scores["dsc"].value < 1


def test_identical_masks_are_perfect(metrics):
    mask = _blob(np.random.default_rng(7), (10, 30, 30))
    scores = score_case(metrics, mask, mask, SPACING)
    assert (scores["dsc"].value, scores["sdsc"].value, scores["hd95"].value) == (1.0, 1.0, 0.0)


def test_both_empty(metrics):
    empty = np.zeros((6, 20, 20), bool)
    scores = score_case(metrics, empty, empty, SPACING)
    assert {k: (v.value, v.flag) for k, v in scores.items()} == {
        "dsc": (1.0, "both_empty"), "sdsc": (1.0, "both_empty"), "hd95": (0.0, "both_empty"), "fp": (0.0, None)}


@pytest.mark.parametrize("empty_side", ["prediction", "reference"])
def test_one_empty_is_penalised_and_flagged(metrics, empty_side):
    shape = (6, 20, 20)
    mask = np.zeros(shape, bool)
    mask[2:4, 5:10, 5:10] = True
    empty = np.zeros(shape, bool)
    pred, ref = (empty, mask) if empty_side == "prediction" else (mask, empty)
    scores = score_case(metrics, pred, ref, SPACING)
    diagonal = math.sqrt((6 * 3.0) ** 2 + (20 * 0.9) ** 2 + (20 * 1.3) ** 2)
    assert scores["dsc"].value == 0.0 and scores["sdsc"].value == 0.0
    assert scores["hd95"].value == pytest.approx(diagonal)
    assert {scores[m].flag for m in ("dsc", "sdsc", "hd95")} == {f"empty_{empty_side}"}
    assert scores["fp"].value == (1.0 if empty_side == "reference" else 0.0)  # a measured count, not a rule
    assert not any(math.isnan(v.value) for v in scores.values())


def test_shape_mismatch_is_refused(metrics):
    with pytest.raises(ValueError, match="shape"):
        score_case(metrics, np.zeros((2, 3, 4)), np.zeros((2, 3, 5)), SPACING)


def test_false_positive_components_are_counted_beyond_the_tolerance(metrics):
    """``fp``: a blob overlapping the tumour (not counted), a voxel 4 mm from it (inside tau = 4.38 mm, not
    counted), one 5 mm from it and two far away (counted); a diagonal neighbour belongs to its component
    (26-connectivity)."""
    spacing = (1.0, 1.0, 1.0)
    ref, pred = np.zeros((10, 40, 40), bool), np.zeros((10, 40, 40), bool)
    ref[4:7, 10:15, 10:15] = True
    pred[4:7, 12:17, 12:17] = True  # overlaps
    pred[5, 12, 19] = True  # 5 mm beyond the tumour's edge at x = 14 (> tau), apart from the blob (x <= 16)
    pred[5, 18, 12] = True  # 4 mm from the tumour's edge at y = 14: within tau, not counted
    pred[1, 30:33, 30:33] = True
    pred[2, 33, 33] = True  # touches the blob above diagonally only: one component
    pred[8, 2, 35] = True
    assert score_case(metrics, pred, ref, spacing)["fp"].value == 3.0
    assert score_case(metrics, ref, ref, spacing)["fp"].value == 0.0
    coarse = score_case(metrics, pred, ref, (1.0, 1.0, 0.5))["fp"].value  # x spacing halved: the x blob is 2.5 mm off
    assert coarse == 2.0


@pytest.mark.parametrize("nearest", ["distance transform", "k-d tree"])
@pytest.mark.parametrize("where", ["inside", "touching the border", "with a distant false positive"])
def test_the_bounding_box_path_equals_surface_distance_on_the_whole_volume(where, nearest, monkeypatch):
    """DSC, SDSC and HD95 computed in the masks' bounding box (cmedl_bench.scoring.ScoredCase.box) are surface-
    distance's values on the whole volume, to 1e-9, wherever the masks lie and whichever way the nearest surfel is
    found."""
    from cmedl_bench import scoring

    monkeypatch.setattr(scoring, "_DENSE_BOX_VOXELS_PER_SURFEL", 10**9 if nearest == "distance transform" else 0)
    rng = np.random.default_rng(3)
    zz, yy, xx = np.ogrid[:20, :64, :64]
    centre = (10, 32, 32) if where != "touching the border" else (1, 2, 60)
    reference = ((zz - centre[0]) / 5.0) ** 2 + ((yy - centre[1]) / 9.0) ** 2 + ((xx - centre[2]) / 8.0) ** 2 <= 1
    prediction = reference ^ (rng.random(reference.shape) < 0.02) & (np.abs(yy - centre[1]) < 12)
    if where == "with a distant false positive":
        prediction = prediction | (((zz - 17) / 2.0) ** 2 + ((yy - 55) / 3.0) ** 2 + ((xx - 5) / 3.0) ** 2 <= 1)
    spacing = (2.5, 0.9, 1.1)
    metrics = {n: f for n, f in get_registry().metric_functions("metric").items() if n in ("dsc", "sdsc", "hd95")}
    ours = score_case(metrics, prediction, reference, spacing)
    distances = surface_distance.compute_surface_distances(reference, prediction, spacing)
    dice = surface_distance.compute_dice_coefficient(reference, prediction)
    assert ours["dsc"].value == pytest.approx(dice, abs=1e-9)
    assert ours["sdsc"].value == pytest.approx(surface_distance.compute_surface_dice_at_tolerance(distances, 4.38),
                                               abs=1e-9)
    assert ours["hd95"].value == pytest.approx(surface_distance.compute_robust_hausdorff(distances, 95), abs=1e-9)
