"""DSC, surface Dice at tolerance tau and HD95, in mm, with DeepMind's surface-distance (docs/reference.md §4).

Definitions (recorded in every run):
- ``dsc``: 2|P n R| / (|P| + |R|) on voxels.
- ``sdsc``: surface Dice at tau = 4.38 mm (paper III.B): ``compute_surface_dice_at_tolerance``; surfels on the
  corner lattice, area-weighted.
- ``hd95``: ``compute_robust_hausdorff(.., 95)``: the larger of the two directed 95th percentiles of surfel
  distances, area-weighted.

Empty masks are decided here, before surface-distance is called (its PyPI release 0.1 raises AttributeError on
numpy 2 for an empty mask): both empty -> DSC 1, SDSC 1, HD95 0 (flag ``both_empty``); exactly one empty ->
DSC 0, SDSC 0 and HD95 = the volume's diagonal in mm as a fixed penalty (flag ``empty_prediction`` or
``empty_reference``). No case ever becomes NaN and drops out of a mean.
"""

from __future__ import annotations

from cmedl_bench.plugin import SURFACE_DICE_TOLERANCE_MM, MetricValue, ScoredCase, dice


def dsc(case: ScoredCase) -> MetricValue:
    box = case.box(margin=0)  # outside the masks' box both are empty: the overlap and sizes are the box's
    return MetricValue(dice(case.prediction[box], case.reference[box]), case.empty_flag)


def sdsc(case: ScoredCase, tolerance_mm: float = SURFACE_DICE_TOLERANCE_MM) -> MetricValue:
    import surface_distance

    return case.empty_rule(both_empty=1.0, one_empty=0.0) or MetricValue(float(
        surface_distance.compute_surface_dice_at_tolerance(case.surface_distances(), tolerance_mm)))


def hd95(case: ScoredCase) -> MetricValue:
    import surface_distance

    return case.empty_rule(both_empty=0.0, one_empty=case.diagonal_mm) or MetricValue(float(
        surface_distance.compute_robust_hausdorff(case.surface_distances(), 95)))
