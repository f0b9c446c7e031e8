"""Translation fidelity at the tumour: does the pseudo-MRI show the tumour as MRI would? KL of intensity histograms
(paper III.D) cannot say; these metrics look where the segmentation happens.

On any data (the CBCT label says where the tumour is):

- ``tumour_cnr``: the tumour's CNR against its surroundings in the pseudo-MRI, with ``data contrast``'s definition
  (:func:`cmedl_bench.data.contrast.case_contrast`: tumour core >= 2 mm inside, shell 1-7 mm outside, both 5 mm
  from lung and air; MRI rules);
- ``tumour_contrast_ratio``: that contrast divided by the MRI training cohort's median tumour contrast, measured the
  same way on its own labels: 1 when the pseudo-MRI shows the tumour as strongly as the MRI cohort does, 0 when not
  at all.

Where the dataset has the true MRI of the scan (cohort ``mri-aligned``):

- ``mae_body`` and ``mae_tumour``: mean absolute error against it in [-1, 1], inside the body and in the tumour's
  neighbourhood (the tumour and :data:`NEIGHBOURHOOD_MM` around it, inside the body);
- ``ssim_body`` and ``ssim_tumour``: structural similarity (Wang et al., IEEE TIP 2004: Gaussian window of
  sigma 1.5 pixels in-plane, per slice, K1 = 0.01, K2 = 0.03, dynamic range 2), averaged over the same regions;
- ``tumour_contrast_vs_true``: the pseudo-MRI's tumour contrast divided by the true MRI's, same definition.

A value that cannot be measured is NaN with a flag: ``no_aligned_mri``, ``no_interface`` (a tumour surrounded by
lung has no soft-tissue interface), or, for the two ratios, ``no_reference_tumour``: the reference (the MRI cohort,
or the true MRI) does not show the tumour, its CNR below :data:`MIN_REFERENCE_CNR` in magnitude. A ratio to a
contrast within the noise divides by the mix of tissues around the tumour, not by a tumour signal: on
``phantom-mri-null``, whose MRI is rendered without the tumour (CNR about 0.3), it read -10.
"""

from __future__ import annotations

import numpy as np

from cmedl_bench.plugin import MetricValue, TranslatedCase, case_contrast

NEIGHBOURHOOD_MM = 10.0
SSIM_SIGMA = 1.5
K1, K2, DYNAMIC_RANGE = 0.01, 0.03, 2.0
#: the reference of a contrast ratio shows the tumour when its contrast exceeds the noise SD around it
MIN_REFERENCE_CNR = 1.0


def _contrast(case: TranslatedCase, image: np.ndarray):
    return case_contrast("translated", np.where(case.body, image, image[case.body].min()), case.label,
                         case.spacing_zyx, "mri")


def _pseudo_contrast(case: TranslatedCase):
    if "pseudo_contrast" not in case.cache:
        case.cache["pseudo_contrast"] = _contrast(case, case.pseudo_mri)
    return case.cache["pseudo_contrast"]


def _ratio(numerator: float | None, denominator: float | None, denominator_cnr: float | None) -> MetricValue:
    if numerator is None or denominator is None or denominator_cnr is None:
        return MetricValue(float("nan"), "no_interface")
    if abs(denominator_cnr) < MIN_REFERENCE_CNR:
        return MetricValue(float("nan"), "no_reference_tumour")
    return MetricValue(float(numerator / denominator))


def tumour_cnr(case: TranslatedCase) -> MetricValue:
    found = _pseudo_contrast(case)
    return MetricValue(float("nan"), "no_interface") if found.cnr is None else MetricValue(found.cnr)


def tumour_contrast_ratio(case: TranslatedCase) -> MetricValue:
    reference = case.reference_contrast
    return _ratio(_pseudo_contrast(case).contrast, reference.get("contrast"), reference.get("cnr"))


def tumour_contrast_vs_true(case: TranslatedCase) -> MetricValue:
    if case.aligned is None:
        return MetricValue(float("nan"), "no_aligned_mri")
    true = _contrast(case, case.aligned)
    return _ratio(_pseudo_contrast(case).contrast, true.contrast, true.cnr)


def _neighbourhood(case: TranslatedCase) -> np.ndarray:
    from scipy import ndimage

    if "neighbourhood" not in case.cache:
        distance = ndimage.distance_transform_edt(~case.label.astype(bool), sampling=case.spacing_zyx)
        case.cache["neighbourhood"] = (distance <= NEIGHBOURHOOD_MM) & case.body
    return case.cache["neighbourhood"]


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The SSIM index of every voxel, per slice (module docstring)."""
    from scipy import ndimage

    def blur(x):
        return ndimage.gaussian_filter(x, (0, SSIM_SIGMA, SSIM_SIGMA))

    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    covariance = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * DYNAMIC_RANGE) ** 2, (K2 * DYNAMIC_RANGE) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def _against_true(region: str, measure: str):
    def metric(case: TranslatedCase) -> MetricValue:
        if case.aligned is None:
            return MetricValue(float("nan"), "no_aligned_mri")
        mask = case.body if region == "body" else _neighbourhood(case)
        if measure == "mae":
            return MetricValue(float(np.abs(case.pseudo_mri - case.aligned)[mask].mean()))
        if "ssim" not in case.cache:
            case.cache["ssim"] = ssim_map(case.pseudo_mri, case.aligned)
        return MetricValue(float(case.cache["ssim"][mask].mean()))

    return metric


mae_body = _against_true("body", "mae")
mae_tumour = _against_true("tumour", "mae")
ssim_body = _against_true("body", "ssim")
ssim_tumour = _against_true("tumour", "ssim")
