"""KL divergence between intensity histograms (paper III.D: translation accuracy of pseudo-MRI against real MRI).

Fixed so that numbers compare between runs: intensities inside the body, in the translators' [-1, 1] range (values
outside are clipped), 100 equal bins on [-1, 1], add-one (Laplace) smoothing of the counts, natural logarithm, and the
direction D_KL(P_MRI || P_pseudo) = sum_b p_b log(p_b / q_b) with P from real MRI and Q from the translated images.
The paper states neither bins nor direction; these choices are ours and are recorded with every run.
"""

from __future__ import annotations

import numpy as np

from cmedl_bench.plugin import MetricValue

BINS = 100
RANGE = (-1.0, 1.0)


def histogram(values: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.clip(np.asarray(values, dtype=np.float64).ravel(), *RANGE), bins=BINS, range=RANGE)
    return (counts + 1.0) / (counts.sum() + BINS)


def kl(translated: np.ndarray, reference: np.ndarray) -> MetricValue:
    p, q = histogram(reference), histogram(translated)
    return MetricValue(float(np.sum(p * np.log(p / q))))
