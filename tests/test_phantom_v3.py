"""Phantom v3 (kept as ``phantom-v3``; v4, the default, keeps its images) and ``data contrast``: the contrast the
data are built to carry holds on generated data, the acquisition creates none (isodense control), the cohorts are
what the benchmark needs, generation is deterministic, and the contrast measure returns what a hand-made volume
has."""

import hashlib
import json

import numpy as np
import pytest
import SimpleITK as sitk

from cmedl_bench.data.contrast import case_contrast, resample_in_plane
from cmedl_bench.stages.datasets import SYNTH_RECORD
from cmedl_bench_plugins import phantom_v3
from tests.conftest import cli

PATIENTS = [f"C{i:03d}" for i in range(8)]


def _at_cpu_spacing(image: np.ndarray, label: np.ndarray, spacing_zyx):
    """Measure as the cpu preset sees the data: 2.5 mm in-plane."""
    def itk(array):
        out = sitk.GetImageFromArray(array)
        out.SetSpacing(tuple(float(s) for s in spacing_zyx[::-1]))
        return out

    image, label = resample_in_plane(itk(image.astype(np.float32)), itk(label.astype(np.uint8)), 2.5)
    return sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(label) > 0, image.GetSpacing()[::-1]


def test_measure_returns_the_contrast_of_a_hand_made_volume():
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[:16, :80, :80]
    image = np.full((16, 80, 80), 40.0)
    image[(x < 12)] = -830.0  # a lung along one side
    tumour = ((x - 45) ** 2 + (y - 40) ** 2 <= 12**2) & (z >= 3) & (z < 13)
    image[tumour] = 60.0
    noisy = image + rng.normal(0, 10.0, image.shape)
    found = case_contrast("hand-made", noisy, tumour, (2.0, 1.0, 1.0), "cbct")
    assert found.contrast == pytest.approx(20.0, abs=1.0)
    assert found.noise_sd == pytest.approx(10.0, abs=0.5)
    assert found.cnr == pytest.approx(2.0, abs=0.15)
    assert found.tumour_volume_ml == pytest.approx(tumour.sum() * 2.0 / 1000)
    surrounded_by_lung = case_contrast("peripheral", np.where(tumour, 60.0, -830.0), tumour, (2.0, 1.0, 1.0), "cbct")
    assert surrounded_by_lung.cnr is None  # no soft-tissue interface to measure


@pytest.mark.parametrize("offset", [0.0, -60.0], ids=["calibrated", "CBCT 60 HU low"])
def test_fat_next_to_a_tumour_is_not_measured_as_its_surroundings(offset):
    """A 60 HU tumour in 40 HU soft tissue with a fat layer over most of its shell (-45 HU: fat at the partial
    volume of a coarse grid): the contrast is tumour against soft tissue, 20 HU, on a calibrated scan and on a CBCT
    whose HU are 60 too low alike; no shell voxel is fat."""
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[:16, :80, :80]
    image = np.full((16, 80, 80), 40.0)
    tumour = ((x - 40) ** 2 + (y - 40) ** 2 <= 10**2) & (z >= 3) & (z < 13)
    fat = (np.hypot(x - 40, y - 40) > 10) & (y < 46)
    image[fat] = -45.0
    image[tumour] = 60.0
    noisy = image + rng.normal(0, 5.0, image.shape) + offset
    found = case_contrast("fat layer", noisy, tumour, (2.0, 1.0, 1.0), "cbct")
    assert found.contrast == pytest.approx(20.0, abs=1.5)
    assert found.noise_sd == pytest.approx(5.0, abs=0.5)


def test_cbct_contrast_is_weak_but_real_and_the_acquisition_makes_none():
    cnr, control = [], []
    for patient in PATIENTS:
        (_, image, tumour), = phantom_v3._scans(0, "full", "cbct", patient, True, False, 1)
        (_, isodense, _), = phantom_v3._scans(0, "full", "cbct", patient, True, False, 1, isodense=True)
        spacing = phantom_v3._geometries("full")["cbct"][1]
        a, label, at = _at_cpu_spacing(image, tumour, spacing)
        b, _, _ = _at_cpu_spacing(isodense, tumour, spacing)
        found, reference = case_contrast(patient, a, label, at, "cbct"), case_contrast(patient, b, label, at, "cbct")
        if found.cnr is not None:
            cnr.append(found.cnr)
            control.append(reference.cnr)
    assert len(cnr) >= 6
    assert 0.3 <= float(np.median(cnr)) <= 0.5
    assert abs(float(np.mean(control))) <= 0.1  # within 0.1 noise SD of the neighbours, on average


def test_t2w_separates_the_tumour_and_the_mri_null_control_does_not():
    strong, null = [], []
    spacing = phantom_v3._geometries("full")["mri"][1]
    for patient in [f"M{i:03d}" for i in range(6)]:
        for mri_null, found in ((False, strong), (True, null)):
            (_, image, tumour), = phantom_v3._scans(0, "full", "mri", patient, True, mri_null, 1)
            measured = case_contrast(patient, image.astype(np.float32), tumour, spacing, "mri")
            if measured.cnr is not None:
                found.append(measured.cnr)
    assert float(np.median(strong)) >= 5
    assert abs(float(np.median(null))) < 1.5


def test_cohorts_central_fraction_and_patient_level_splits():
    patients, splits = phantom_v3._plan(0, "full")
    for cohort, expected in (("cbct", 52), ("mri", 16)):
        members = [p for p in patients if p[0] == cohort]
        assert len(members) == expected
        assert sum(p[2] for p in members) >= 0.6 * expected
    sizes = {name: len(ids) for name, ids in splits["cbct"].items()}
    assert sizes == {"train": 16, "val": 6, "test": 30}
    central = {pid for cohort, pid, is_central, _ in patients if cohort == "cbct" and is_central}
    for name, ids in splits["cbct"].items():
        assert sum(pid in central for pid in ids) >= 0.6 * len(ids)  # stratified by location
    assert all(weeks == 3 for cohort, _, _, weeks in patients if cohort == "cbct")


def test_dataset_records_location_and_volume_and_is_deterministic(small_phantom, tmp_path):
    """On the default dataset (v4: v3's images and more) every case records a location and a volume, and generation
    is deterministic."""
    from cmedl_bench_plugins import phantom_v4

    meta = json.loads((small_phantom / "dataset.json").read_text())
    for cohort in ("cbct", "mri"):
        entries = meta["cohorts"][cohort]["cases"].values()
        assert all(e["location"] in ("central", "peripheral") and e["tumour_volume_ml"] > 0 for e in entries)
    again = phantom_v4.generate(tmp_path / "again", seed=0, size="small")

    def digest(root):  # what the generator wrote (data synth adds its record of the files)
        return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file() and p.name != SYNTH_RECORD}

    assert digest(again) == digest(small_phantom)


def test_mri_null_control_shares_anatomy_and_cbct(small_phantom, tmp_path):
    from cmedl_bench_plugins import phantom_v4

    null = phantom_v4.generate_mri_null(tmp_path / "null", seed=0, size="small")
    for name in ("cbct/imagesTr/C000W1_0000.nii.gz", "cbct/labelsTr/C000W1.nii.gz", "mri/labelsTr/M000.nii.gz"):
        assert (null / name).read_bytes() == (small_phantom / name).read_bytes() or np.array_equal(
            sitk.GetArrayFromImage(sitk.ReadImage(str(null / name))),
            sitk.GetArrayFromImage(sitk.ReadImage(str(small_phantom / name))))
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(null / "mri/labelsTr/M000.nii.gz"))) > 0
    real = sitk.GetArrayFromImage(sitk.ReadImage(str(small_phantom / "mri/imagesTr/M000_0000.nii.gz")))
    control = sitk.GetArrayFromImage(sitk.ReadImage(str(null / "mri/imagesTr/M000_0000.nii.gz")))
    assert real[label].mean() > 2 * control[label].mean()  # the tumour is bright only where MRI carries it


def test_data_contrast_command(small_phantom):
    result = cli("data", "contrast", str(small_phantom), "--json", "--quiet", "--control", "1")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    groups = {(g["cohort"], g["split"]): g for g in report["groups"]}
    assert set(groups) >= {("cbct", "train"), ("cbct", "val"), ("cbct", "test"), ("mri", "train")}
    assert 0.0 <= groups[("mri", "train")]["central_fraction"] <= 1.0
    assert set(groups[("mri-aligned", "test")]["neighbours"]) == {"soft tissue", "blood", "fat", "lung"}
    assert len(report["cases"]) == sum(g["cases"] for g in report["groups"])
    table = cli("data", "contrast", str(small_phantom), "--quiet", "--control", "0")
    assert table.returncode == 0 and "CNR" in table.stdout
