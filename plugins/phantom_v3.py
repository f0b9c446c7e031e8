"""Synthetic thorax phantom, version 3 (the default): embedded data on which a method that uses MRI can be told apart
from one that does not (docs/reference.md §3).

What changes from version 2, and why:

- **A heterogeneous mediastinum** where central tumours grow: hilar vessels and great vessels (blood, close to tumour
  on CBCT, flow voids on T2w), lymph nodes and the oesophagus (soft tissue close to tumour on CBCT, distinct on T2w),
  mediastinal fat anteriorly (-100 HU, bright on T2w). These distractors are nearly isodense with tumour on CBCT and
  separable on MRI: the clinical premise of the paper.
- **Tumour contrast on CBCT comes from tissue values only**: the tumour is a few HU denser than the mediastinal soft
  tissue (:data:`TUMOUR_EXCESS_HU`), a per-voxel CNR of about 0.3-0.5 at the ``cpu`` preset's 2.5 mm; the T2w
  interface has a CNR above 5 (``cmedl-bench data contrast``).
- **The acquisition does not create tumour contrast**: the fan-beam simulation of v2 is kept, but with a scatter
  correction that leaves :data:`SCATTER_RESIDUAL` of the scatter (its noise stays), so the cupping that made v2's
  mediastinal tumours read 34-58 HU above their neighbours is gone; :func:`isodense_control` renders any scan with
  the tumour at the mediastinal value to check it.
- **Cohorts that can discriminate**: :data:`CENTRAL_FRACTION` of the patients of each cohort have a central tumour
  (a fixed count per cohort, drawn by a seeded permutation); CBCT patients are split 16 / 6 / 30 (train / val /
  test) with 3 weekly scans each, stratified by location; 16 MRI patients. ``dataset.json`` records each case's
  ``location`` (``central`` / ``peripheral``) and ``tumour_volume_ml``.
- No necrosis: the tumour core is one tissue, so its contrast is the one the rules above set.

The control dataset ``phantom-mri-null`` has the same anatomy and the same CBCT scans, but on T2w the tumour has
the mediastinal soft tissue's signal: MRI then carries no tumour information, and a method that still wins there wins
by regularisation, not by MRI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from cmedl_bench_plugins.phantom import (_COHORT_CODE, AIR, AORTA, BONE, CSF, FAT, FIELD_OF_VIEW_MM, LUNG, MARROW,
                                         MEDIASTINUM, MRI_FIELD_OF_VIEW_MM, TUMOUR, _ellipse, _grid, _Patient,
                                         _smooth_noise, anatomy, render_dataset, tumour_mask)

VERSION = 3
MEDIASTINAL_FAT, LYMPH_NODE, OESOPHAGUS, HILAR_VESSEL = 13, 14, 15, 16
#: Hounsfield units (non-contrast CT reference values: blood 40-45, nodes and oesophagus 35-45, fat -100)
HU_V3 = np.array([-1000, -100, 50, -830, 40, 42, 42, 700, 250, 10, 42, 40, 40, -100, 38, 40, 42], dtype=np.float32)
#: T2-weighted TSE signal: flow voids dark, fat and tumour bright, nodes intermediate
T2_V3 = np.array([0.0, 0.85, 0.30, 0.04, 0.22, 0.10, 0.06, 0.08, 0.55, 0.95, 0.08, 0.80, 0.80, 0.85, 0.45, 0.30,
                  0.07], dtype=np.float32)
#: how much denser than the mediastinal soft tissue a tumour is on CBCT (HU, drawn per patient)
TUMOUR_EXCESS_HU = (16.0, 24.0)
#: tumour radius before lobulation and shrinkage (v2: 8-20 mm)
TUMOUR_RADIUS_MM = (15.0, 26.0)
#: how deep (in tumour radii) a central tumour's centre lies medial to the lung border (negative: lateral to it, in
#: the lung, the tumour still reaching the mediastinum)
CENTRAL_DEPTH = (-0.2, 0.3)
SCATTER_RESIDUAL = 0.03
CUPPING_SCALE_MM = 10.0
CENTRAL_FRACTION = 0.65


@dataclass(frozen=True)
class Size:
    n_xy: int
    n_z: int
    weeks: int
    splits: dict  # CBCT patients per split
    mri_patients: int
    mri_xy: int
    mri_z: int
    mri_dz: float = 4.0


SIZES = {"full": Size(256, 32, 3, {"train": 16, "val": 6, "test": 30}, 16, 224, 24),
         "small": Size(64, 12, 2, {"train": 2, "val": 1, "test": 1}, 2, 48, 9)}


class _PatientV3(_Patient):
    """A v2 patient whose tumour location is given, plus the mediastinal structures of v3."""

    def __init__(self, rng: np.random.Generator, z_extent_mm: float, central: bool):
        super().__init__(rng, z_extent_mm)
        self.central = central
        self.tumour_radius = rng.uniform(*TUMOUR_RADIUS_MM)
        side = rng.choice([-1, 1])
        lx, ly = self.lung_axes
        medial = side * (self.lung_x - lx)  # the medial lung border at the level of the hilum
        if central:  # at the hilum, partly in the mediastinum: the tumour abuts vessels and nodes
            depth = self.tumour_radius * rng.uniform(*CENTRAL_DEPTH)
            self.tumour_centre = np.array([medial - side * depth, self.lung_y + rng.uniform(-0.25, 0.25) * ly,
                                           self.tumour_centre[2]])
        self.hilar = [(s * (self.lung_x - lx) - s * rng.uniform(6, 10), self.lung_y + rng.uniform(-6, 6),
                       rng.uniform(6, 9)) for s in (-1, 1)]
        self.nodes = [(s * (self.lung_x - lx) - s * rng.uniform(8, 24), self.lung_y + rng.uniform(-22, 22),
                       rng.uniform(4, 8)) for s in (-1, 1) for _ in range(int(rng.integers(2, 4)))]
        self.oesophagus = (rng.uniform(-8, 0), self.spine_y - rng.uniform(24, 28), rng.uniform(6, 8))
        self.mediastinal_fat = (rng.uniform(-6, 6), -self.body[1] * rng.uniform(0.45, 0.55), rng.uniform(22, 30),
                                rng.uniform(8, 12))
        self.tumour_hu = HU_V3[MEDIASTINUM] + rng.uniform(*TUMOUR_EXCESS_HU)


def _tissue_map(p: _PatientV3, rng: np.random.Generator, grid, week: int) -> tuple[np.ndarray, np.ndarray]:
    tissue, tumour = displaced_tissue(p, rng, grid, week)
    tissue[tumour] = TUMOUR
    return tissue, tumour.astype(np.uint8)


def displaced_tissue(p: _PatientV3, rng: np.random.Generator, grid, week: int) -> tuple[np.ndarray, np.ndarray]:
    """The tissue labels of one scan as they would be without the tumour, and the tumour (boolean): what each tumour
    voxel displaced."""
    tissue, (z, y, x) = anatomy(p, rng, grid, week)
    mediastinum = tissue == MEDIASTINUM
    fx, fy, fax, fay = p.mediastinal_fat
    tissue[_ellipse(x, y, fx, fy, fax, fay) & mediastinum] = MEDIASTINAL_FAT
    ox, oy, orad = p.oesophagus
    tissue[np.broadcast_to(_ellipse(x, y, ox, oy, orad, orad), tissue.shape) & (tissue == MEDIASTINUM)] = OESOPHAGUS
    for cx, cy, radius in p.nodes:
        node = ((x - cx) ** 2 + (y - cy) ** 2) <= radius**2
        tissue[np.broadcast_to(node, tissue.shape) & (tissue == MEDIASTINUM)] = LYMPH_NODE
    for cx, cy, radius in p.hilar:
        tissue[np.broadcast_to(_ellipse(x, y, cx, cy, radius, radius), tissue.shape)
               & np.isin(tissue, (MEDIASTINUM, LYMPH_NODE))] = HILAR_VESSEL
    return tissue, tumour_mask(p, tissue, (z, y, x), week, excluded=(BONE, MARROW, CSF, AIR, FAT, AORTA))


def render_cbct(tissue: np.ndarray, tumour_hu: float, rng: np.random.Generator, spacing_zyx) -> np.ndarray:
    """The v2 acquisition (fan beam, scatter, Poisson noise, FBP) with a scatter correction, a slight blur along z
    and a per-scan linear HU calibration error (which shifts every tissue alike)."""
    from cmedl_bench_plugins.cbct_physics import FanBeam, simulate_cbct

    hu = HU_V3[tissue]
    hu[tissue == TUMOUR] = tumour_hu
    lung = tissue == LUNG
    hu[lung] += _smooth_noise(rng, hu.shape, 1.0, 40.0)[lung]  # parenchymal texture
    pixel = spacing_zyx[1]
    beam, downsample = FanBeam(scatter_residual=SCATTER_RESIDUAL), 2 if pixel < 2.0 else 1
    measured = simulate_cbct(hu, pixel, rng, beam, downsample=downsample)
    # the reconstruction's own slowly varying error (residual cupping between the lungs), estimated on a noiseless
    # acquisition of the same anatomy and removed, as a model-based cupping correction does; detail finer than
    # CUPPING_SCALE_MM (streaks, blur) is left as the acquisition made it
    noiseless = simulate_cbct(hu, pixel, np.random.default_rng(0), replace(beam, photons=1e9), downsample=downsample)
    sigma = (0, CUPPING_SCALE_MM / pixel, CUPPING_SCALE_MM / pixel)
    hu = measured - ndimage.gaussian_filter(noiseless - hu, sigma)
    hu = ndimage.gaussian_filter(hu, (0.6, 0, 0))
    hu = hu * rng.uniform(0.9, 1.0) + rng.uniform(-40, 40)
    return np.clip(np.round(hu), -1024, 3000).astype(np.int16)


def render_t2w(tissue: np.ndarray, rng: np.random.Generator, grid, mri_null: bool) -> np.ndarray:
    """T2w signal with a bias field and Rician noise (as v2), on the v3 tissue values; with ``mri_null`` the tumour
    has the mediastinal soft tissue's signal."""
    z, y, x = grid
    values = T2_V3.copy()
    if mri_null:
        values[TUMOUR] = values[MEDIASTINUM]
    signal = values[tissue] * rng.uniform(0.95, 1.05, size=len(values)).astype(np.float32)[tissue]
    signal = ndimage.gaussian_filter(signal, (0.4, 0.8, 0.8))
    coeffs = rng.uniform(-0.25, 0.25, size=4)
    signal = signal * np.exp(coeffs[0] * x / 150 + coeffs[1] * y / 150 + coeffs[2] * (x / 150) ** 2
                             + coeffs[3] * z / 100)
    sigma = 0.035
    noisy = np.sqrt((signal + rng.normal(0, sigma, signal.shape)) ** 2 + rng.normal(0, sigma, signal.shape) ** 2)
    return np.clip(np.round(noisy * 1000), 0, 32767).astype(np.int16)


def _geometries(size: str) -> dict:
    s = SIZES[size]
    return {"cbct": _grid(s.n_xy, s.n_z, FIELD_OF_VIEW_MM / s.n_xy, 3.0),
            "mri": _grid(s.mri_xy, s.mri_z, MRI_FIELD_OF_VIEW_MM / s.mri_xy, s.mri_dz)}


def _scans(seed: int, size: str, cohort: str, patient_id: str, central: bool, mri_null: bool, weeks: int,
           isodense: bool = False):
    """Yield (week, image, tumour mask) of every scan of one patient, from the patient's own generator (the same
    anatomy, noise and set-up for a patient whatever else is rendered)."""
    grid, spacing, _ = _geometries(size)[cohort]
    rng = np.random.default_rng([seed, _COHORT_CODE[cohort], int(patient_id[1:])])
    patient = _PatientV3(rng, grid[0].shape[0] * spacing[0], central)
    for week in range(weeks):
        tissue, tumour = _tissue_map(patient, rng, grid, week)
        if cohort == "cbct":
            image = render_cbct(tissue, HU_V3[MEDIASTINUM] if isodense else patient.tumour_hu, rng, spacing)
        else:
            image = render_t2w(tissue, rng, grid, mri_null)
        yield week, image, tumour


def _render_patient(staging: Path, seed: int, size: str, mri_null: bool, cohort: str, patient_id: str,
                    central: bool, weeks: int) -> list[tuple[str, str, dict]]:
    import torch

    from cmedl_bench.plugin import image_path, label_path
    from cmedl_bench.plugin import write_volume

    torch.set_num_threads(1)  # one patient per core
    _, spacing, origin = _geometries(size)[cohort]
    written = []
    for week, image, tumour in _scans(seed, size, cohort, patient_id, central, mri_null, weeks):
        case_id = f"{patient_id}W{week + 1}" if cohort == "cbct" else patient_id
        write_volume(image_path(staging, cohort, case_id), image, spacing, origin)
        write_volume(label_path(staging, cohort, case_id), tumour, spacing, origin)
        entry = {"patient": patient_id, "location": "central" if central else "peripheral",
                 "tumour_volume_ml": round(float(tumour.sum() * np.prod(spacing) / 1000.0), 3)}
        if cohort == "cbct":
            entry["week"] = week + 1
        written.append((cohort, case_id, entry))
    return written


def _plan(seed: int, size: str) -> tuple[list[tuple[str, str, bool, int]], dict]:
    """Patients (cohort, id, central, scans) and the CBCT splits, stratified by tumour location."""
    s = SIZES[size]
    n_cbct = sum(s.splits.values())
    patients, splits = [], {}
    for cohort, n, weeks, prefix in (("cbct", n_cbct, s.weeks, "C"), ("mri", s.mri_patients, 1, "M")):
        order = np.random.default_rng([seed, 77, _COHORT_CODE[cohort]]).permutation(n)
        central = set(order[: math.ceil(CENTRAL_FRACTION * n)].tolist())
        patients += [(cohort, f"{prefix}{i:03d}", i in central, weeks) for i in range(n)]
    cbct = [(pid, c) for cohort, pid, c, _ in patients if cohort == "cbct"]
    splits["cbct"] = {name: [] for name in s.splits}
    for location in (True, False):
        group = [pid for pid, c in cbct if c == location]
        group = [group[i] for i in np.random.default_rng([seed, 99, int(location)]).permutation(len(group))]
        share = len(group) / len(cbct)
        counts = {name: round(count * share) for name, count in s.splits.items() if name != "train"}
        start = 0
        for name in ("test", "val"):
            splits["cbct"][name] += group[start:start + counts[name]]
            start += counts[name]
        splits["cbct"]["train"] += group[start:]
    splits["cbct"] = {name: sorted(ids) for name, ids in splits["cbct"].items()}
    splits["mri"] = {"train": [pid for cohort, pid, _, _ in patients if cohort == "mri"], "val": [], "test": []}
    return patients, splits


def _generate(root: Path, seed: int, size: str, progress, mri_null: bool) -> Path:
    if size not in SIZES:
        raise ValueError(f"unknown phantom size {size!r}; known: {', '.join(SIZES)}")
    patients, splits = _plan(seed, size)
    geometry = _geometries(size)
    name = "phantom-mri-null" if mri_null else "phantom"

    def describe(cohorts):
        meta = {"name": name, "version": VERSION, "file_ending": ".nii.gz", "labels": {"background": 0, "tumour": 1},
                "description": "cmedl-bench synthetic thorax phantom v3" + (", MRI-null control" if mri_null else ""),
                "cohorts": cohorts, "generator": {"seed": seed, "size": size, "mri_null": mri_null,
                                                  "spacing_zyx_mm": list(geometry["cbct"][1]),
                                                  "mri_spacing_zyx_mm": list(geometry["mri"][1])}}
        return meta, splits

    return render_dataset(root, [(seed, size, mri_null, *job) for job in patients], _render_patient, describe,
                          progress)


def generate(root: Path, seed: int = 0, size: str = "full", progress=None) -> Path:
    """Write phantom v3 into ``root``, atomically."""
    return _generate(root, seed, size, progress, mri_null=False)


def generate_mri_null(root: Path, seed: int = 0, size: str = "full", progress=None) -> Path:
    """Write the MRI-null control of phantom v3 (tumour isointense to the mediastinum on T2w) into ``root``."""
    return _generate(root, seed, size, progress, mri_null=True)


def isodense_control(root: Path, case_id: str) -> np.ndarray:
    """The CBCT scan ``case_id`` of a generated v3 dataset rendered again with the tumour at the mediastinal soft
    tissue's HU, with the same anatomy and noise: what the acquisition alone does to the tumour's surroundings."""
    import json

    meta = json.loads((Path(root) / "dataset.json").read_text())
    generator = meta["generator"]
    entry = meta["cohorts"]["cbct"]["cases"][case_id]
    for week, image, _ in _scans(generator["seed"], generator["size"], "cbct", entry["patient"],
                                 entry["location"] == "central", generator["mri_null"], entry["week"], isodense=True):
        if week == entry["week"] - 1:
            return image
    raise KeyError(case_id)
