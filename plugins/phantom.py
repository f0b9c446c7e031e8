"""Synthetic thorax phantom (docs/reference.md §3): the embedded default dataset, in two versions.

Each virtual patient gets its own anatomy (body with subcutaneous fat and muscle, two lungs with vessels, a
mediastinum, heart, aorta, vertebra with marrow and spinal canal, ribs) and one lung tumour: a lobulated ellipsoid,
peripheral (surrounded by lung) or central (abutting the mediastinum, where CBCT contrast fails). Tissues are drawn as
a label map and rendered twice:

- CBCT-like, from Hounsfield units (version 1): tumour and mediastinum within ~10 HU of each other, blur, cupping,
  streaks radiating from bone, correlated noise and a per-scan HU calibration error (why the pipeline z-scores
  volumes).
- T2w MRI-like: bright tumour, fluid and fat, dark lung, bone and flowing blood, mid-grey muscle, a smooth
  multiplicative bias field and Rician noise.

Version 2 (the default) renders the CBCT physically instead: the HU map goes through a simulated fan-beam
acquisition (attenuation, a limited number of views, scatter, Poisson noise) and filtered back-projection
(:mod:`cmedl_bench_plugins.cbct_physics`), so cupping, streaks and noise have CBCT's structure rather than being
painted on; and the MRI is drawn on its own grid (1.5 mm in-plane, 4 mm slices), as a separate scanner would.
Version 1 stays available as the ``phantom-v1`` dataset so that earlier results remain comparable.

The CBCT cohort and the MRI cohort are different virtual patients; each CBCT patient has several weekly scans in which
the tumour shrinks with treatment and the set-up shifts by a few millimetres. Spacing is about 1.25 x 1.25 x 3 mm.
Everything is drawn from ``numpy.random.default_rng([seed, cohort, patient])``, so a dataset is reproducible from
its seed and a patient does not change when the cohort size does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

FIELD_OF_VIEW_MM = 320.0
MRI_FIELD_OF_VIEW_MM = 336.0
SIZES = {
    # name: (in-plane pixels, slices, CBCT patients, weekly scans, MRI patients)
    "full": (256, 32, 12, 3, 8),
    "small": (64, 12, 4, 2, 2),
}
SIZES_V2 = {  # version 2 adds the MRI grid: (in-plane pixels, slices, slice spacing in mm)
    "full": (*SIZES["full"], 224, 24, 4.0),
    "small": (*SIZES["small"], 48, 9, 4.0),
}

AIR, FAT, MUSCLE, LUNG, MEDIASTINUM, HEART, AORTA, BONE, MARROW, CSF, VESSEL, TUMOUR, NECROSIS = range(13)
# Hounsfield units of each tissue (CT reference values; mediastinal soft tissue close to tumour on purpose).
HU = np.array([-1000, -100, 50, -830, 40, 45, 45, 700, 250, 10, 40, 0, 20], dtype=np.float32)
# T2-weighted TSE signal of each tissue, arbitrary units in [0, 1].
T2 = np.array([0.0, 0.85, 0.30, 0.06, 0.40, 0.12, 0.08, 0.08, 0.55, 0.95, 0.12, 0.72, 0.90], dtype=np.float32)
_COHORT_CODE = {"cbct": 1, "mri": 2}


def _ellipse(x, y, cx, cy, ax, ay):
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0


def _smooth_noise(rng, shape, sigma, amplitude=1.0):
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field * (amplitude / (field.std() + 1e-8))


class _Patient:
    """Anatomy parameters of one virtual patient (all in mm)."""

    def __init__(self, rng: np.random.Generator, z_extent_mm: float):
        self.body = (rng.uniform(140, 158), rng.uniform(95, 112))
        self.fat = rng.uniform(6, 16)
        self.lung_x = rng.uniform(66, 78)
        self.lung_axes = (rng.uniform(46, 56), rng.uniform(66, 80))
        self.lung_y = rng.uniform(-5, 8)
        self.heart = (rng.uniform(10, 25), rng.uniform(-45, -30), rng.uniform(40, 50), rng.uniform(34, 42))
        self.spine_y = self.body[1] - rng.uniform(32, 40)
        self.vessels = [(rng.uniform(0, 2 * np.pi), rng.uniform(-0.25, 0.25), rng.uniform(1.5, 3.0), side)
                        for side in (-1, 1) for _ in range(rng.integers(4, 8))]
        self.tumour_radius = rng.uniform(8, 20)
        self.tumour_axes = rng.uniform(0.75, 1.25, size=3)
        self.central = rng.random() < 0.45
        side = rng.choice([-1, 1])
        lx, ly = self.lung_axes
        if self.central:  # centre on the medial lung border: the tumour touches the mediastinum
            cx = side * (self.lung_x - lx + self.tumour_radius * rng.uniform(0.2, 0.6))
            cy = self.lung_y + rng.uniform(-0.4, 0.3) * ly
        else:
            cx = side * (self.lung_x + rng.uniform(-0.35, 0.35) * lx)
            cy = self.lung_y + rng.uniform(-0.55, 0.45) * ly
        cz = rng.uniform(-0.25, 0.25) * z_extent_mm
        self.tumour_centre = np.array([cx, cy, cz])
        self.lobulation_seed = int(rng.integers(2**31))
        self.tumour_hu = rng.uniform(28, 48)
        self.response = rng.uniform(0.0, 1.0)  # shrinkage per week under treatment


def _paint(tissue: np.ndarray, mask: np.ndarray, value: int) -> None:
    tissue[np.broadcast_to(mask, tissue.shape)] = value


def _tissue_map(p: _Patient, rng: np.random.Generator, grid, week: int) -> tuple[np.ndarray, np.ndarray]:
    """Tissue labels (z, y, x) and the tumour mask of one scan of patient ``p`` (phantom v1 and v2)."""
    tissue, shifted = anatomy(p, rng, grid, week)
    tumour = tumour_mask(p, tissue, shifted, week, excluded=(BONE, MARROW, CSF, AIR, FAT))
    tissue[tumour] = TUMOUR
    radius = p.tumour_radius * max(0.45, 1 - 0.12 * week * p.response)
    if radius > 14 and tumour.any():
        z, y, x = shifted
        cx, cy, cz = p.tumour_centre
        ax_, ay_, az_ = p.tumour_axes
        dist = np.sqrt(((x - cx) / (radius * ax_)) ** 2 + ((y - cy) / (radius * ay_)) ** 2
                       + ((z - cz) / (radius * az_)) ** 2)
        tissue[tumour & (dist < 0.35)] = NECROSIS
    return tissue, tumour.astype(np.uint8)


def anatomy(p: _Patient, rng: np.random.Generator, grid, week: int) -> tuple[np.ndarray, tuple]:
    """Tissue labels (z, y, x) of one scan without its tumour, and the grid shifted by the scan's set-up error.

    ``grid`` holds broadcastable coordinates in mm: z (Z,1,1), y (1,Y,1), x (1,1,X); structures that do not change
    along z are drawn once in 2D.
    """
    z, y, x = grid
    shift = rng.uniform(-4, 4, size=2) if week else np.zeros(2)  # set-up error between fractions
    x, y = x - shift[0], y - shift[1]
    breathing = 1 + (rng.uniform(-0.03, 0.03) if week else 0.0)
    z_half = max(float(np.abs(z).max()), 1.0)
    dome = np.sqrt(np.clip(1.0 - ((z + 0.3 * z_half) / (1.6 * z_half)) ** 2, 0.2, 1))  # lungs narrow caudally
    shape = (z.shape[0], y.shape[1], x.shape[2])
    tissue = np.full(shape, AIR, dtype=np.uint8)
    bx, by = p.body
    body = _ellipse(x, y, 0, 0, bx, by)
    _paint(tissue, body, FAT)
    _paint(tissue, _ellipse(x, y, 0, 0, bx - p.fat, by - p.fat), MUSCLE)
    inner = _ellipse(x, y, 0, 0, bx - p.fat - 14, by - p.fat - 12)
    _paint(tissue, inner, MEDIASTINUM)
    lx, ly = p.lung_axes
    lungs = np.zeros(shape, dtype=bool)
    for side in (-1, 1):
        lungs |= _ellipse(x, y, side * p.lung_x, p.lung_y, lx * dome * breathing, ly * dome * breathing)
    lungs &= inner
    tissue[lungs] = LUNG
    hx, hy, hax, hay = p.heart
    heart_profile = np.sqrt(np.clip(1 - ((z + 0.5 * z_half) / z_half) ** 2, 0, 1))
    tissue[_ellipse(x, y, hx, hy, hax * heart_profile + 1e-3, hay * heart_profile + 1e-3) & ~lungs] = HEART
    _paint(tissue, _ellipse(x, y, -12, p.lung_y + 18, 12, 12), AORTA)
    _paint(tissue, _ellipse(x, y, 0, p.spine_y, 19, 16), BONE)
    _paint(tissue, _ellipse(x, y, 0, p.spine_y, 14, 11), MARROW)
    _paint(tissue, _ellipse(x, y, 0, p.spine_y + 24, 7, 7), CSF)
    for angle in np.linspace(0.15 * np.pi, 0.85 * np.pi, 7):  # posterior and lateral ribs
        for side in (-1, 1):
            rx, ry = side * (bx - p.fat - 9) * np.cos(angle), (by - p.fat - 8) * np.sin(angle)
            _paint(tissue, _ellipse(x, y, rx, ry, 5, 5), BONE)
    for angle, slope, radius, side in p.vessels:  # vessels fanning out from each hilum
        hilum = np.array([side * (p.lung_x - lx * 0.6), p.lung_y])
        direction = np.array([np.cos(angle), np.sin(angle)])
        rel_x, rel_y = x - hilum[0], y - hilum[1]  # the vessel drifts by slope * z along x
        along = (rel_x * direction[0] + rel_y * direction[1]) - (slope * direction[0]) * z
        across = np.abs((rel_y * direction[0] - rel_x * direction[1]) + (slope * direction[1]) * z)
        tissue[lungs & (along > 0) & (across < radius * np.exp(-along / 120))] = VESSEL
    return tissue, (z, y, x)


def tumour_mask(p: _Patient, tissue: np.ndarray, grid, week: int, excluded: tuple[int, ...]) -> np.ndarray:
    """The lobulated tumour of week ``week``: an ellipsoid whose boundary is perturbed by smooth noise, shrinking
    week by week, drawn inside its bounding box only and never over the ``excluded`` tissues."""
    z, y, x = grid
    shape = tissue.shape
    radius = p.tumour_radius * max(0.45, 1 - 0.12 * week * p.response)
    tumour = np.zeros(shape, dtype=bool)
    box = []
    for coord, centre, scale in zip((z, y, x), p.tumour_centre[::-1], p.tumour_axes[::-1]):
        values = coord.reshape(-1)
        inside = np.nonzero(np.abs(values - centre) <= 1.4 * radius * scale)[0]
        if inside.size == 0:
            return tumour
        box.append(slice(int(inside[0]), int(inside[-1]) + 1))
    box = tuple(box)
    zb, yb, xb = z[box[0]], y[:, box[1]], x[:, :, box[2]]
    cx, cy, cz = p.tumour_centre
    ax_, ay_, az_ = p.tumour_axes
    dist = np.sqrt(((xb - cx) / (radius * ax_)) ** 2 + ((yb - cy) / (radius * ay_)) ** 2
                   + ((zb - cz) / (radius * az_)) ** 2)
    lobes = _smooth_noise(np.random.default_rng(p.lobulation_seed), dist.shape, sigma=(1.5, 4, 4), amplitude=0.18)
    tumour[box] = (dist <= 1.0 + lobes) & ~np.isin(tissue[box], excluded)
    return tumour


def render_cbct(tissue: np.ndarray, p: _Patient, rng: np.random.Generator, grid, spacing_zyx) -> np.ndarray:
    """CBCT-like HU: blur, cupping, bone streaks, correlated noise, per-scan calibration error."""
    z, y, x = grid
    hu = HU[tissue]
    hu[tissue == TUMOUR] = p.tumour_hu
    lung = tissue == LUNG
    hu[lung] += _smooth_noise(rng, hu.shape, 1.0, 40.0)[lung]  # parenchymal texture
    pixel = spacing_zyx[1]
    hu = ndimage.gaussian_filter(hu, (0.4, 1.0 * 1.25 / pixel, 1.0 * 1.25 / pixel))
    body = tissue != AIR
    bx, by = p.body
    r2 = np.clip((x / bx) ** 2 + (y / by) ** 2, 0, 1)
    hu -= rng.uniform(40, 90) * (1 - r2) * body  # cupping: the centre reads low
    streaks = np.zeros(hu.shape[1:], dtype=np.float32)
    for _ in range(int(rng.integers(5, 10))):  # streaks radiating from the vertebra
        theta = rng.uniform(0, np.pi)
        distance = np.abs(x[0] * np.sin(theta) - (y[0] - p.spine_y) * np.cos(theta))
        streaks += rng.choice([-1, 1]) * rng.uniform(25, 60) * np.exp(-(distance / 1.5) ** 2)
    hu += streaks * body
    hu += _smooth_noise(rng, hu.shape, (0.5, 1.2, 1.2), 45.0) + rng.normal(0, 15, hu.shape).astype(np.float32)
    hu = hu * rng.uniform(0.85, 1.0) + rng.uniform(-60, 60)  # poor HU calibration of CBCT
    return np.clip(np.round(hu), -1024, 3000).astype(np.int16)


def render_t2w(tissue: np.ndarray, rng: np.random.Generator, grid) -> np.ndarray:
    """T2w-MRI-like signal: tissue contrast, bias field, Rician noise; stored as 0..1000 arbitrary units."""
    z, y, x = grid
    signal = T2[tissue] * rng.uniform(0.9, 1.1, size=len(T2)).astype(np.float32)[tissue]
    signal = ndimage.gaussian_filter(signal, (0.4, 0.8, 0.8))
    coeffs = rng.uniform(-0.25, 0.25, size=4)
    bias = np.exp(coeffs[0] * x / 150 + coeffs[1] * y / 150 + coeffs[2] * (x / 150) ** 2 + coeffs[3] * z / 100)
    signal = signal * bias
    sigma = 0.035
    noisy = np.sqrt((signal + rng.normal(0, sigma, signal.shape)) ** 2 + rng.normal(0, sigma, signal.shape) ** 2)
    return np.clip(np.round(noisy * 1000), 0, 32767).astype(np.int16)


def _splits(patients: list[str], rng: np.random.Generator) -> dict[str, list[str]]:
    order = list(rng.permutation(patients))
    n_test = max(1, round(0.25 * len(order)))
    n_val = max(1, round(0.15 * len(order)))
    return {"test": sorted(order[:n_test]), "val": sorted(order[n_test:n_test + n_val]),
            "train": sorted(order[n_test + n_val:])}


def _grid(n_xy: int, n_z: int, pixel: float, dz: float):
    """Coordinates (mm, broadcastable z/y/x), spacing (z, y, x) and ITK origin of a centred grid."""
    axis = (np.arange(n_xy) - (n_xy - 1) / 2) * pixel
    zs = (np.arange(n_z) - (n_z - 1) / 2) * dz
    grid = (zs.reshape(-1, 1, 1).astype(np.float32), axis.reshape(1, -1, 1).astype(np.float32),
            axis.reshape(1, 1, -1).astype(np.float32))
    return grid, (dz, pixel, pixel), (float(axis[0]), float(axis[0]), float(zs[0]))


def render_cbct_v2(tissue: np.ndarray, p: _Patient, rng: np.random.Generator, grid, spacing_zyx) -> np.ndarray:
    """Phantom v2 CBCT: the HU map through the fan-beam acquisition and reconstruction of
    :mod:`cmedl_bench_plugins.cbct_physics` (scatter cupping, view-aliasing streaks and quantum noise come from
    the physics), a slight blur along z (cone-beam), and a per-scan HU calibration error."""
    from cmedl_bench_plugins.cbct_physics import simulate_cbct

    hu = HU[tissue]
    hu[tissue == TUMOUR] = p.tumour_hu
    lung = tissue == LUNG
    hu[lung] += _smooth_noise(rng, hu.shape, 1.0, 40.0)[lung]  # parenchymal texture
    pixel = spacing_zyx[1]
    hu = simulate_cbct(hu, pixel, rng, downsample=2 if pixel < 2.0 else 1)
    hu = ndimage.gaussian_filter(hu, (0.6, 0, 0))
    hu = hu * rng.uniform(0.9, 1.0) + rng.uniform(-40, 40)
    return np.clip(np.round(hu), -1024, 3000).astype(np.int16)


@dataclass(frozen=True)
class _Geometry:
    grid: tuple
    spacing_zyx: tuple[float, float, float]
    origin: tuple[float, float, float]


def _geometries(version: int, size: str) -> dict[str, _Geometry]:
    sizes = SIZES if version == 1 else SIZES_V2
    if size not in sizes:
        raise ValueError(f"unknown phantom size {size!r}; known: {', '.join(sizes)}")
    n_xy, n_z = sizes[size][:2]
    cbct = _Geometry(*_grid(n_xy, n_z, FIELD_OF_VIEW_MM / n_xy, 3.0))
    if version == 1:
        return {"cbct": cbct, "mri": cbct}
    n_mri_xy, n_mri_z, dz = sizes[size][5:]  # the MRI has its own grid: coarser slices, its own in-plane spacing
    return {"cbct": cbct, "mri": _Geometry(*_grid(n_mri_xy, n_mri_z, MRI_FIELD_OF_VIEW_MM / n_mri_xy, dz))}


def _render_patient(staging: Path, seed: int, version: int, size: str, cohort: str, patient_id: str,
                    weeks: int) -> list[tuple[str, str, dict]]:
    """Every scan of one patient, written into ``staging``; the patient's own generator makes it independent of
    the other patients, so patients can be rendered in parallel with identical results."""
    import torch

    from cmedl_bench.plugin import image_path, label_path
    from cmedl_bench.plugin import write_volume

    torch.set_num_threads(1)  # one patient per core
    geometry = _geometries(version, size)
    cbct = geometry["cbct"]
    rng = np.random.default_rng([seed, _COHORT_CODE[cohort], int(patient_id[1:])])
    patient = _Patient(rng, cbct.grid[0].shape[0] * cbct.spacing_zyx[0])
    render = render_cbct if version == 1 else render_cbct_v2
    written = []
    for week in range(weeks):
        g = geometry[cohort]
        tissue, tumour = _tissue_map(patient, rng, g.grid, week)
        if cohort == "cbct":
            case_id, image = f"{patient_id}W{week + 1}", render(tissue, patient, rng, g.grid, g.spacing_zyx)
        else:
            case_id, image = patient_id, render_t2w(tissue, rng, g.grid)
        write_volume(image_path(staging, cohort, case_id), image, g.spacing_zyx, g.origin)
        write_volume(label_path(staging, cohort, case_id), tumour, g.spacing_zyx, g.origin)
        entry = {"patient": patient_id, "central_tumour": bool(patient.central)}
        if cohort == "cbct":
            entry["week"] = week + 1
        written.append((cohort, case_id, entry))
    return written


def render_dataset(root: Path, jobs: list[tuple], render_job, describe, progress) -> Path:
    """Render every job (``render_job(staging, *job)`` returns ``[(cohort, case_id, entry)]``) in parallel processes,
    one per core, into a staging folder; ``describe(cohorts)`` returns the dataset's (meta, splits); then move the
    folder into place, so a partial dataset never appears at ``root``."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from cmedl_bench.plugin import write_meta

    n_cases = sum(job[-1] for job in jobs)  # every job's last argument is its number of scans
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(root)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.staging-"))
    (staging / _OWNER).write_text(str(os.getpid()))
    workers = max(1, min(os.cpu_count() or 1, len(jobs)))
    try:
        cohorts: dict[str, dict] = {}
        # spawn, not fork: the parent may already run torch's thread pools
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_die_with_parent) as pool:
            futures = [pool.submit(render_job, staging, *job) for job in jobs]
            for future in as_completed(futures):
                for cohort, case_id, entry in future.result():
                    cohorts.setdefault(cohort, {"modality": cohort.upper(), "cases": {}})["cases"][case_id] = entry
                    if progress is not None:
                        progress(n_cases)
        for cohort in cohorts.values():  # listing order independent of completion order
            cohort["cases"] = dict(sorted(cohort["cases"].items()))
        write_meta(staging, *describe(dict(sorted(cohorts.items()))))
        (staging / _OWNER).unlink()
        if root.exists():
            if not (root / "dataset.json").is_file() and any(root.iterdir()):
                raise FileExistsError(f"{root} holds something other than a dataset; refusing to replace it")
            shutil.rmtree(root)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def _generate(root: Path, seed: int, size: str, progress, version: int) -> Path:
    """Phantom v1 or v2: every patient rendered by :func:`_render_patient`."""
    geometry = _geometries(version, size)
    n_cbct, weeks, n_mri = (SIZES if version == 1 else SIZES_V2)[size][2:5]
    patients = [("cbct", f"C{i:03d}", weeks) for i in range(n_cbct)] + [("mri", f"M{i:03d}", 1) for i in range(n_mri)]

    def describe(cohorts):
        split_rng = np.random.default_rng([seed, 99])
        splits = {"cbct": _splits([p for c, p, _ in patients if c == "cbct"], split_rng),
                  "mri": {"train": [p for c, p, _ in patients if c == "mri"], "val": [], "test": []}}
        meta = {"name": "phantom", "version": version, "description": "cmedl-bench synthetic thorax phantom",
                "file_ending": ".nii.gz", "labels": {"background": 0, "tumour": 1}, "cohorts": cohorts,
                "generator": {"seed": seed, "size": size, "spacing_zyx_mm": list(geometry["cbct"].spacing_zyx)}}
        if version >= 2:
            meta["generator"]["mri_spacing_zyx_mm"] = list(geometry["mri"].spacing_zyx)
        return meta, splits

    return render_dataset(root, [(seed, version, size, *job) for job in patients], _render_patient, describe,
                          progress)


_OWNER = ".owner-pid"


def _die_with_parent() -> None:
    """Worker initialiser: on Linux, ask the kernel to kill this worker when the generating process dies (even by
    SIGKILL), so no orphan keeps rendering into a staging folder nobody will move into place."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _remove_stale_staging(root: Path) -> None:
    """Staging folders of ``root`` whose generating process no longer runs (killed before it could clean up)."""
    for staging in root.parent.glob(f".{root.name}.staging-*"):
        try:
            owner = int((staging / _OWNER).read_text())
            os.kill(owner, 0)  # signal 0 only asks whether the process exists
            continue  # another generation of the same folder is running now
        except PermissionError:
            continue  # it exists, under another user
        except (OSError, ValueError):  # no such process, or no owner recorded
            shutil.rmtree(staging, ignore_errors=True)


def generate(root: Path, seed: int = 0, size: str = "full", progress=None) -> Path:
    """Write phantom v1 into ``root`` (created atomically: a partial dataset never appears there)."""
    return _generate(root, seed, size, progress, version=1)


def generate_v2(root: Path, seed: int = 0, size: str = "full", progress=None) -> Path:
    """Write phantom v2 (physically simulated CBCT, MRI on its own grid) into ``root``, atomically."""
    return _generate(root, seed, size, progress, version=2)


def isodense_control_v2(root: Path, case_id: str) -> np.ndarray:
    """The CBCT scan ``case_id`` of a generated v2 dataset rendered again with the tumour (necrosis included) at the
    mediastinum's HU, with the same anatomy and noise (the patient's generator replayed)."""
    import json

    meta = json.loads((Path(root) / "dataset.json").read_text())
    seed, size = meta["generator"]["seed"], meta["generator"]["size"]
    entry = meta["cohorts"]["cbct"]["cases"][case_id]
    g = _geometries(2, size)["cbct"]
    rng = np.random.default_rng([seed, _COHORT_CODE["cbct"], int(entry["patient"][1:])])
    patient = _Patient(rng, g.grid[0].shape[0] * g.spacing_zyx[0])
    patient.tumour_hu = float(HU[MEDIASTINUM])
    for week in range(entry["week"]):
        tissue, _ = _tissue_map(patient, rng, g.grid, week)
        tissue[tissue == NECROSIS] = TUMOUR
        image = render_cbct_v2(tissue, patient, rng, g.grid, g.spacing_zyx)
    return image
