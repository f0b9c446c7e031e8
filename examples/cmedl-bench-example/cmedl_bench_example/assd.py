"""Average symmetric surface distance (ASSD, mm): the mean of the two directed mean surface distances, weighted by
surfel area, with DeepMind's surface-distance (``compute_average_surface_distance``).

Empty masks follow the built-in rules for distances: both empty -> 0 (flag ``both_empty``); exactly one empty ->
the volume's diagonal in mm as a fixed penalty (flag ``empty_prediction`` / ``empty_reference``). Surface distances
are shared with the built-in metrics through the case cache under ``"surface_distances"``.
"""

from __future__ import annotations

from cmedl_bench.plugin import MetricValue, ScoredCase


def assd(case: ScoredCase) -> MetricValue:
    flag = case.empty_flag
    if flag == "both_empty":
        return MetricValue(0.0, flag)
    if flag:
        return MetricValue(case.diagonal_mm, flag)
    import surface_distance

    if "surface_distances" not in case.cache:
        case.cache["surface_distances"] = surface_distance.compute_surface_distances(
            case.reference, case.prediction, case.spacing_zyx)
    to_prediction, to_reference = surface_distance.compute_average_surface_distance(case.cache["surface_distances"])
    return MetricValue(float((to_prediction + to_reference) / 2))


def build():
    """The metric factory: returns the metric function."""
    return assd
