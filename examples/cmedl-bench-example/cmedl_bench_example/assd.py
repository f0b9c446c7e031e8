"""Average symmetric surface distance (ASSD, mm): the mean of the two directed mean surface distances, weighted by
surfel area, with DeepMind's surface-distance (``compute_average_surface_distance``).

Empty masks follow the built-in rules for distances: both empty -> 0 (flag ``both_empty``); exactly one empty ->
the volume's diagonal in mm as a fixed penalty (flag ``empty_prediction`` / ``empty_reference``), through
``ScoredCase.empty_rule``; the surface distances are ``ScoredCase.surface_distances()``, computed once per case and
shared with the built-in metrics.
"""

from __future__ import annotations

from cmedl_bench.plugin import MetricValue, ScoredCase


def assd(case: ScoredCase) -> MetricValue:
    import surface_distance

    ruled = case.empty_rule(both_empty=0.0, one_empty=case.diagonal_mm)
    if ruled is not None:
        return ruled
    to_prediction, to_reference = surface_distance.compute_average_surface_distance(case.surface_distances())
    return MetricValue(float((to_prediction + to_reference) / 2))


def build():
    """The metric factory: returns the metric function."""
    return assd
