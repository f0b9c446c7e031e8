"""How visible a tumour is: its contrast and contrast-to-noise ratio (CNR) against the soft tissue around it, per case
(``cmedl-bench data contrast``). This is how a user sees how hard their own data are, and how the embedded phantom is
kept honest (docs/reference.md §3).

Per case, on the image and its tumour label (optionally resampled in-plane to a working spacing first):

- lung and air are found by intensity (CT/CBCT: below :data:`LUNG_AIR_HU` HU; MRI: below the lower threshold of a
  three-class Otsu split of the volume) on the image smoothed in-plane by one voxel (so that a vessel or a
  partial-volume edge inside lung counts as lung), opened by one voxel and kept only as connected regions of at least
  :data:`LARGE_REGION` of the volume (lungs, lung pockets and outside air; not isolated noise);
- on CT/CBCT only soft tissue is measured, by HU range: voxels of the image smoothed in-plane by one voxel (so that
  noise is not clipped) within :data:`SOFT_TISSUE_WINDOW_HU` of the tumour core's median. Fat (-190 to -30 HU:
  about 140 HU below soft tissue), bone and metal (hundreds of HU above), lung and air fall outside it; they are a
  different, easy interface. The window is anchored on the tumour, itself soft tissue, rather than fixed in HU
  because CBCT HU are poorly calibrated (offsets of 60 HU are common), and rather than on the shell, whose median a
  fat-rich neighbourhood drags down until fat passes as tissue; on a calibrated CT with a 40 HU tumour the window is
  the textbook -30 to 130 HU. The two voxels next to fat, bone or lung are left out too: smoothing (and the partial
  volume of a coarse grid) gives them values between the two tissues;
- the tumour **core** is the tumour at least :data:`CORE_DEPTH_MM` inside its boundary; the **shell** is the tissue
  :data:`SHELL_MM` (1 to 7 mm) outside it; both keep only voxels at least :data:`FROM_LUNG_MM` (5 mm) from lung or
  air, so what is measured is the soft-tissue interface (a central tumour against the mediastinum), not the easy
  lung interface or its partial-volume blur;
- contrast = mean(core) - mean(shell); noise SD = the pooled within-region SD of core and shell (noise and texture:
  what a classifier of single voxels faces); CNR = contrast / noise SD. A case without at least
  :data:`MIN_VOXELS` voxels in either region (a peripheral tumour surrounded by lung) has no interface to measure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

LUNG_AIR_HU = -300.0
#: CT/CBCT soft tissue: this many HU below and above the tumour core's median (after an in-plane smoothing of one
#: voxel); the lower limit lies halfway to fat (about 140 HU below soft tissue), the upper below bone
SOFT_TISSUE_WINDOW_HU = (-70.0, 90.0)
LARGE_REGION = 0.0005
#: the in-plane neighbours of a voxel (slices are thick: a voxel's neighbour along z is another tissue's plane)
_IN_PLANE = np.array([[[0, 0, 0], [0, 0, 0], [0, 0, 0]], [[0, 1, 0], [1, 1, 1], [0, 1, 0]],
                      [[0, 0, 0], [0, 0, 0], [0, 0, 0]]], dtype=bool)
CORE_DEPTH_MM = 2.0
SHELL_MM = (1.0, 7.0)
FROM_LUNG_MM = 5.0
MIN_VOXELS = 10


@dataclass(frozen=True)
class CaseContrast:
    case: str
    tumour_volume_ml: float
    contrast: float | None  # mean(core) - mean(shell), in image units (HU for CT/CBCT)
    noise_sd: float | None
    cnr: float | None
    core_voxels: int
    shell_voxels: int

    def as_dict(self) -> dict:
        return asdict(self)


def dark_threshold(values: np.ndarray, bins: int = 128) -> float:
    """The lower of the two thresholds of a three-class Otsu split (dark: air and lung; intermediate: muscle and
    mediastinum; bright: fat, fluid, tumour on T2w), found by exhaustive search of the histogram: the pair of cuts
    that maximises the between-class variance (Liao et al., J Inf Sci Eng 2001)."""
    histogram, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    p = histogram / histogram.sum()
    w = np.concatenate([[0.0], np.cumsum(p)])  # w[k]: mass of bins < k
    m = np.concatenate([[0.0], np.cumsum(p * centres)])
    best, cut = -1.0, 1
    for i in range(1, bins - 1):
        j = np.arange(i + 1, bins)
        weights = np.stack([np.full(j.shape, w[i]), w[j] - w[i], 1 - w[j]])
        sums = np.stack([np.full(j.shape, m[i]), m[j] - m[i], m[-1] - m[j]])
        score = (sums**2 / np.maximum(weights, 1e-12)).sum(0)
        k = int(np.argmax(score))
        if score[k] > best:
            best, cut = float(score[k]), i
    return float(edges[cut])


def lung_and_air(image: np.ndarray, modality: str) -> np.ndarray:
    """Large dark regions: lungs and the air around the body."""
    from scipy import ndimage

    from cmedl_bench.data.preprocessing import component_sizes

    threshold = LUNG_AIR_HU if modality in ("cbct", "ct") else dark_threshold(image)
    smoothed = ndimage.gaussian_filter(image.astype(np.float32), (0, 1, 1))  # a vessel in lung is lung
    dark = ndimage.binary_opening(smoothed < threshold)  # isolated noise voxels are not lung
    labels, count = ndimage.label(dark)
    if count == 0:
        return dark
    large = 1 + np.flatnonzero(component_sizes(labels, count) >= LARGE_REGION * image.size)
    return np.isin(labels, large)


def case_contrast(case: str, image: np.ndarray, label: np.ndarray, spacing_zyx, modality: str) -> CaseContrast:
    """The contrast of one case (module docstring); arrays are (z, y, x) with spacing in the same order, mm."""
    from scipy import ndimage

    tumour = label.astype(bool)
    volume_ml = float(tumour.sum() * np.prod(spacing_zyx) / 1000.0)
    far = ndimage.distance_transform_edt(~lung_and_air(image, modality), sampling=spacing_zyx) >= FROM_LUNG_MM
    depth = ndimage.distance_transform_edt(tumour, sampling=spacing_zyx)
    outside = ndimage.distance_transform_edt(~tumour, sampling=spacing_zyx)
    core = tumour & (depth >= CORE_DEPTH_MM) & far
    shell = ~tumour & (outside >= SHELL_MM[0]) & (outside <= SHELL_MM[1]) & far
    if modality in ("cbct", "ct") and core.any():
        smoothed = ndimage.gaussian_filter(image.astype(np.float32), (0, 1, 1))
        offset = smoothed - np.median(smoothed[core])
        other = (offset < SOFT_TISSUE_WINDOW_HU[0]) | (offset > SOFT_TISSUE_WINDOW_HU[1])
        other = ndimage.binary_dilation(other, structure=_IN_PLANE, iterations=2)  # and the blurred rim next to it
        core, shell = core & ~other, shell & ~other
    return _interface(case, volume_ml, image, core, shell)


def neighbour_contrast(image: np.ndarray, label: np.ndarray, tissue: np.ndarray, classes: dict[str, list[int]],
                       spacing_zyx) -> dict[str, CaseContrast]:
    """The tumour against each neighbour class of a tissue map (:data:`cmedl_bench.data.layout.TISSUE_CLASSES`),
    like with like: for each tissue code of the class, the tumour core voxels that displaced that tissue against
    the shell voxels of that tissue (the core and shell of :func:`case_contrast`, without its soft-tissue window and
    lung distance: the map says what each voxel is), each tissue without its two in-plane voxels next to another
    tissue (blur and partial volume mix them). The class's contrast is the mean of the per-tissue
    differences weighted by their core voxels, its noise the SD pooled within every tissue's core and shell. So a
    true null reads zero: an MRI rendered without its tumour shows, inside the label, exactly the tissues around it,
    however different the tissues of one class are (muscle and lymph nodes are both soft tissue)."""
    from scipy import ndimage

    tumour = label.astype(bool)
    volume_ml = float(tumour.sum() * np.prod(spacing_zyx) / 1000.0)
    core = tumour & (ndimage.distance_transform_edt(tumour, sampling=spacing_zyx) >= CORE_DEPTH_MM)
    outside = ndimage.distance_transform_edt(~tumour, sampling=spacing_zyx)
    shell = ~tumour & (outside >= SHELL_MM[0]) & (outside <= SHELL_MM[1])
    found = {}
    for name, codes in classes.items():
        pairs = []
        for code in codes:  # the two voxels next to another tissue are left out (partial volume, as above)
            member = ndimage.binary_erosion(tissue == code, structure=_IN_PLANE, iterations=2)
            pairs.append((image[core & member].astype(np.float64), image[shell & member].astype(np.float64)))
        pairs = [(a, b) for a, b in pairs if a.size >= MIN_VOXELS and b.size >= MIN_VOXELS]
        n_core, n_shell = sum(a.size for a, _ in pairs), sum(b.size for _, b in pairs)
        if not pairs:
            found[name] = CaseContrast(name, volume_ml, None, None, None, n_core, n_shell)
            continue
        contrast = sum(a.size * (a.mean() - b.mean()) for a, b in pairs) / n_core
        squares = sum(((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum() for a, b in pairs)
        pooled = float(np.sqrt(squares / (n_core + n_shell - 2 * len(pairs))))
        found[name] = CaseContrast(name, volume_ml, float(contrast), pooled,
                                   float(contrast) / pooled if pooled > 0 else None, n_core, n_shell)
    return found


def _interface(case: str, volume_ml: float, image: np.ndarray, core: np.ndarray, shell: np.ndarray) -> CaseContrast:
    """Contrast, pooled noise SD and CNR of two regions (None below :data:`MIN_VOXELS` in either)."""
    n_core, n_shell = int(core.sum()), int(shell.sum())
    if min(n_core, n_shell) < MIN_VOXELS:
        return CaseContrast(case, volume_ml, None, None, None, n_core, n_shell)
    a, b = image[core].astype(np.float64), image[shell].astype(np.float64)
    pooled = np.sqrt((((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()) / (a.size + b.size - 2))
    contrast = float(a.mean() - b.mean())
    return CaseContrast(case, volume_ml, contrast, float(pooled), contrast / float(pooled) if pooled > 0 else None,
                        n_core, n_shell)


def summarise(cases: list[CaseContrast]) -> dict:
    """Medians over the cases with a measurable interface, and how many there were."""
    measured = [c for c in cases if c.cnr is not None]

    def median(values):
        return float(np.median(values)) if values else None

    return {"cases": len(cases), "measured": len(measured),
            "contrast": median([c.contrast for c in measured]), "noise_sd": median([c.noise_sd for c in measured]),
            "cnr": median([c.cnr for c in measured]), "cnr_mean": float(np.mean([c.cnr for c in measured]))
            if measured else None, "tumour_volume_ml": median([c.tumour_volume_ml for c in cases])}


def resample_in_plane(image, label, spacing_mm: float):
    """SimpleITK image and label resampled to ``spacing_mm`` in-plane (linear, nearest neighbour), slices kept: the
    working resolution of a preset (the ``cpu`` preset trains at 2.5 mm)."""
    import SimpleITK as sitk

    spacing = image.GetSpacing()
    size = [max(1, int(round(image.GetSize()[i] * spacing[i] / spacing_mm))) for i in range(2)] + [image.GetSize()[2]]
    target = (spacing_mm, spacing_mm, spacing[2])
    resampled = sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(), target,
                              image.GetDirection(), 0.0, sitk.sitkFloat32)
    mask = sitk.Resample(label, size, sitk.Transform(), sitk.sitkNearestNeighbor, image.GetOrigin(), target,
                         image.GetDirection(), 0, label.GetPixelID())
    return resampled, mask
