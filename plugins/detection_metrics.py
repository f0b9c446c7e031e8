"""Tumour-level detection errors of a predicted mask: false-positive components away from the tumour
(docs/reference.md §4).

A 2D segmenter applied slice by slice to a whole volume can mark tissue far from the tumour; DSC hides how often
(one stray blob and a large one cost the same overlap) and HD95 shows it only as a distance. ``fp`` counts them:
the connected components of the prediction (26-connected, the usual 3D lesion definition, as in lesion-wise
detection scores such as the BraTS 2023 lesion-wise metrics) that hold no voxel within tau = 4.38 mm of the
reference tumour, the paper's surface tolerance (III.B), so a component that only overshoots the boundary is not
counted. An empty reference makes every component a false positive; an empty prediction has none.

Distances are computed only in the reference's bounding box grown by tau (and one voxel): it holds every reference
voxel, so the distance from a predicted voxel inside it to the nearest reference voxel is the same as in the whole
volume, and a component with no voxel inside it is farther than tau from the reference.
"""

from __future__ import annotations

import numpy as np

from cmedl_bench.plugin import SURFACE_DICE_TOLERANCE_MM, MetricValue, ScoredCase


def fp(case: ScoredCase, tolerance_mm: float = SURFACE_DICE_TOLERANCE_MM) -> MetricValue:
    from scipy import ndimage

    if not (case.prediction.any() and case.reference.any()):
        return MetricValue(float(ndimage.label(case.prediction, structure=np.ones((3, 3, 3), bool))[1]))
    both = case.box(margin=0)  # components and the reference, in the box of both masks
    prediction, reference = case.prediction[both], case.reference[both]
    components, count = ndimage.label(prediction, structure=np.ones((3, 3, 3), bool))
    reference_box = ndimage.find_objects(reference.astype(np.uint8))[0]
    near = tuple(slice(max(0, s.start - int(np.ceil(tolerance_mm / step)) - 1),
                       s.stop + int(np.ceil(tolerance_mm / step)) + 1)
                 for s, step in zip(reference_box, case.spacing_zyx))
    distance = ndimage.distance_transform_edt(~reference[near], sampling=case.spacing_zyx)
    close = np.unique(components[near][(distance <= tolerance_mm) & (components[near] > 0)])
    return MetricValue(float(count - close.size))
