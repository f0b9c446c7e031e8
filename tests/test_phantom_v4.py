"""Phantom v4 (the default): MRI aligned to every CBCT scan, a null control whose MRI shows the tumour against no
neighbour, locations from the anatomy, and training cohorts of any size with the same validation and test patients;
and the neighbour-class contrast that proves the null."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from cmedl_bench.data.checks import check_dataset
from cmedl_bench.data.contrast import neighbour_contrast
from cmedl_bench_plugins import phantom_v4
from cmedl_bench_plugins.phantom import LUNG, MEDIASTINUM, MUSCLE
from cmedl_bench_plugins.phantom_v3 import _geometries, displaced_tissue

CLASSES = phantom_v4.TISSUE_CLASSES


def _array(path):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_aligned_mri_lies_on_its_cbct_scan_with_the_same_tumour(small_phantom):
    meta = json.loads((small_phantom / "dataset.json").read_text())
    splits = json.loads((small_phantom / "splits.json").read_text())
    cohorts = meta["cohorts"]
    assert meta["version"] == 4 and set(cohorts["mri-aligned"]["cases"]) == set(cohorts["cbct"]["cases"])
    assert splits["mri-aligned"] == splits["cbct"]
    for case in meta["cohorts"]["cbct"]["cases"]:
        cbct = sitk.ReadImage(str(small_phantom / "cbct" / "imagesTr" / f"{case}_0000.nii.gz"))
        aligned = sitk.ReadImage(str(small_phantom / "mri-aligned" / "imagesTr" / f"{case}_0000.nii.gz"))
        assert (cbct.GetSize(), cbct.GetSpacing(), cbct.GetOrigin()) == (
            aligned.GetSize(), aligned.GetSpacing(), aligned.GetOrigin())
        assert np.array_equal(_array(small_phantom / "cbct" / "labelsTr" / f"{case}.nii.gz"),
                              _array(small_phantom / "mri-aligned" / "labelsTr" / f"{case}.nii.gz"))
        label = _array(small_phantom / "cbct" / "labelsTr" / f"{case}.nii.gz") > 0
        image = sitk.GetArrayFromImage(aligned)
        assert image[label].mean() > 1.5 * np.median(image[image > 50])  # T2w: the tumour is bright
    assert not check_dataset(small_phantom).errors


def test_aligned_mri_is_deterministic_for_a_seed_and_leaves_the_cbct_as_v3_made_it():
    from cmedl_bench_plugins import phantom_v3

    (_, cbct, tumour, _, aligned), = phantom_v4._scans(0, "small", "cbct", "C001", True, 1, False)
    (_, _, _, _, again), = phantom_v4._scans(0, "small", "cbct", "C001", True, 1, False)
    (_, _, _, _, other), = phantom_v4._scans(1, "small", "cbct", "C001", True, 1, False)
    (_, v3_cbct, v3_tumour), = phantom_v3._scans(0, "small", "cbct", "C001", True, False, 1)
    assert np.array_equal(aligned, again) and not np.array_equal(aligned, other)
    assert np.array_equal(cbct, v3_cbct) and np.array_equal(tumour, v3_tumour)


def test_location_follows_the_mediastinal_fraction_rule(small_phantom):
    displaced = np.full((2, 4, 4), LUNG, dtype=np.uint8)
    displaced[:, :2] = MEDIASTINUM
    tumour = np.zeros(displaced.shape, dtype=bool)
    tumour[:, 1:3, 1:3] = True  # half on mediastinum, half on lung
    assert phantom_v4.mediastinal_fraction(displaced, tumour) == 0.5
    assert phantom_v4.location(0.5) == "central" and phantom_v4.location(0.49) == "peripheral"
    meta = json.loads((small_phantom / "dataset.json").read_text())
    for cohort in ("cbct", "mri"):
        for case, entry in meta["cohorts"][cohort]["cases"].items():
            tissue = _array(small_phantom / cohort / "tissuesTr" / f"{case}.nii.gz")
            label = _array(small_phantom / cohort / "labelsTr" / f"{case}.nii.gz") > 0
            fraction = phantom_v4.mediastinal_fraction(tissue, label)
            assert entry["mediastinal_fraction"] == pytest.approx(fraction, abs=1e-3)
            assert entry["location"] == phantom_v4.location(fraction)


def test_train_patients_keeps_validation_and_test_and_nests_the_training_cohorts():
    _, standard = phantom_v4.plan(0, "full")
    cohorts = {n: phantom_v4.plan(0, "full", n) for n in (4, 8, 48)}
    for patients, splits in cohorts.values():
        assert splits["cbct"]["val"] == standard["cbct"]["val"] and splits["cbct"]["test"] == standard["cbct"]["test"]
        assert splits["mri-aligned"] == splits["cbct"]
        rendered = {pid for cohort, pid, _, _ in patients if cohort == "cbct"}
        assert rendered == {p for ids in splits["cbct"].values() for p in ids}  # nothing rendered that is unused
    train = {n: set(splits["cbct"]["train"]) for n, (_, splits) in cohorts.items()}
    assert len(train[4]) == 4 and len(train[8]) == 8 and len(train[48]) == 48
    assert train[4] < train[8] < set(standard["cbct"]["train"]) < train[48]
    with pytest.raises(ValueError, match="train_patients"):
        phantom_v4.plan(0, "full", -1)


def test_null_mri_shows_the_tumour_against_no_neighbour_class():
    """MRI patients at full size: on the default T2w the tumour stands out against soft tissue, blood and lung (CNR
    above 3); on the null control's it does not against any class (|CNR| below 0.1 in the median)."""
    spacing = _geometries("full")["mri"][1]
    found = {False: {}, True: {}}
    for null in (False, True):
        for patient in ("M000", "M001", "M002", "M003"):
            (_, image, tumour, displaced, _), = phantom_v4._scans(0, "full", "mri", patient, True, 1, null)
            for name, value in neighbour_contrast(image.astype(np.float32), tumour, displaced, CLASSES,
                                                  spacing).items():
                if value.cnr is not None:
                    found[null].setdefault(name, []).append(value.cnr)
    default = {name: float(np.median(v)) for name, v in found[False].items()}
    null = {name: float(np.median(v)) for name, v in found[True].items()}
    assert {"soft tissue", "blood", "lung"} <= set(default) and set(null) == set(default)
    assert all(cnr > 3 for cnr in default.values()), default
    assert all(abs(cnr) < 0.1 for cnr in null.values()), null


def test_neighbour_contrast_returns_the_contrast_of_a_hand_made_volume():
    """A 60-unit tumour over muscle (30) and lung (0); noise SD 2: contrast 30 against muscle, 60 against lung; a
    volume that shows the displaced tissues inside the label reads zero against both."""
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[:12, :60, :60]
    tissue = np.where(x < 30, MUSCLE, LUNG).astype(np.uint8)
    tumour = ((x - 30) ** 2 + (y - 30) ** 2 <= 14**2) & (z >= 2) & (z < 10)
    values = np.where(tissue == MUSCLE, 30.0, 0.0)
    shown = np.where(tumour, 60.0, values) + rng.normal(0, 2.0, tissue.shape)
    found = neighbour_contrast(shown, tumour, tissue, CLASSES, (3.0, 1.0, 1.0))
    assert found["soft tissue"].contrast == pytest.approx(30.0, abs=0.5)
    assert found["lung"].contrast == pytest.approx(60.0, abs=0.5)
    assert found["soft tissue"].noise_sd == pytest.approx(2.0, abs=0.2)
    assert found["blood"].cnr is None  # no blood around this tumour
    hidden = neighbour_contrast(values + rng.normal(0, 2.0, tissue.shape), tumour, tissue, CLASSES, (3.0, 1.0, 1.0))
    assert abs(hidden["soft tissue"].cnr) < 0.1 and abs(hidden["lung"].cnr) < 0.1


def test_displaced_tissue_is_what_the_tumour_grew_into():
    from cmedl_bench_plugins.phantom import TUMOUR
    from cmedl_bench_plugins.phantom_v3 import _PatientV3, _tissue_map

    grid, spacing, _ = _geometries("small")["cbct"]
    make = (lambda: (np.random.default_rng([0, 1, 1]),))
    rng_a, = make()
    patient = _PatientV3(rng_a, grid[0].shape[0] * spacing[0], True)
    rng_b, = make()
    _PatientV3(rng_b, grid[0].shape[0] * spacing[0], True)
    displaced, tumour = displaced_tissue(patient, rng_a, grid, 0)
    tissue, label = _tissue_map(patient, rng_b, grid, 0)
    assert tumour.any() and not (displaced == TUMOUR).any()
    assert np.array_equal(label.astype(bool), tumour)
    assert np.array_equal(np.where(tumour, TUMOUR, displaced), tissue)
