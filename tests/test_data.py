"""Phantom generation, the dataset layout and its validation, preprocessing and augmentation."""

import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from cmedl_bench.data.layout import load_index, read_volume
from cmedl_bench.data.preprocessing import body_mask, prepare
from cmedl_bench.engine.augment import augment
from cmedl_bench.engine.inference import restore
from cmedl_bench.errors import DatasetError


def test_phantom_layout_and_splits(small_phantom):
    index = load_index(small_phantom)
    assert index.name == "phantom" and index.version == 4
    cbct_patients = {c.patient for c in index.cases["cbct"].values()}
    mri_patients = {c.patient for c in index.cases["mri"].values()}
    assert cbct_patients and mri_patients and not cbct_patients & mri_patients  # unpaired cohorts
    weeks = {}
    for case in index.cases["cbct"].values():
        weeks.setdefault(case.patient, []).append(case.case_id)
    assert all(len(v) == 2 for v in weeks.values())  # weekly scans
    splits = index.splits["cbct"]
    assert set(splits) == {"train", "val", "test"}
    seen = [p for ps in splits.values() for p in ps]
    assert len(seen) == len(set(seen)) == len(cbct_patients)  # every patient in exactly one split
    for split in ("train", "val", "test"):  # all weeks of a patient stay together
        for case in index.split_cases("cbct", split):
            assert case.patient in splits[split]
    assert (small_phantom / "cbct" / "imagesTr" / "C000W1_0000.nii.gz").exists()
    assert (small_phantom / "cbct" / "labelsTr" / "C000W1.nii.gz").exists()


def test_phantom_volumes_have_tumour_and_thoracic_spacing(small_phantom):
    index = load_index(small_phantom)
    for case in index.cases["cbct"].values():
        volume = read_volume(case)
        assert volume.label.sum() > 0
        assert volume.spacing_zyx[0] == pytest.approx(3.0)
        assert volume.image.min() < -900 and volume.image.max() > 200  # air, and bone brighter than soft tissue


def test_phantom_is_reproducible_and_seeded(tmp_path):
    from cmedl_bench.api import synth

    a = synth(tmp_path / "a", size="small", seed=3, quiet=True)
    b = synth(tmp_path / "b", size="small", seed=3, quiet=True)
    c = synth(tmp_path / "c", size="small", seed=4, quiet=True)
    name = "cbct/imagesTr/C001W2_0000.nii.gz"
    arrays = [sitk.GetArrayFromImage(sitk.ReadImage(str(root / name))) for root in (a, b, c)]
    assert np.array_equal(arrays[0], arrays[1])
    assert not np.array_equal(arrays[0], arrays[2])


def test_tumour_is_hard_against_mediastinum(small_phantom):
    """CBCT contrast between tumour and the surrounding soft tissue is small relative to the noise."""
    index = load_index(small_phantom)
    volume = read_volume(index.cases["cbct"]["C000W1"])
    tumour = volume.image[volume.label > 0]
    soft = volume.image[(volume.image > -200) & (volume.image < 200) & (volume.label == 0)]
    assert abs(tumour.mean() - soft.mean()) < 2 * soft.std()


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_index(tmp_path / "nowhere")


def test_malformed_dataset_json(small_phantom, tmp_path):
    root = _copy(small_phantom, tmp_path / "ds")
    (root / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError, match="dataset.json is not valid JSON"):
        load_index(root)


def test_missing_image_names_the_file(small_phantom, tmp_path):
    root = _copy(small_phantom, tmp_path / "ds")
    (root / "cbct" / "imagesTr" / "C000W1_0000.nii.gz").unlink()
    with pytest.raises(DatasetError, match="C000W1_0000.nii.gz: listed in dataset.json but missing"):
        load_index(root)


def test_patient_in_two_splits(small_phantom, tmp_path):
    root = _copy(small_phantom, tmp_path / "ds")
    splits = json.loads((root / "splits.json").read_text())
    splits["cbct"]["test"].append(splits["cbct"]["train"][0])
    (root / "splits.json").write_text(json.dumps(splits))
    with pytest.raises(DatasetError, match="is in both"):
        load_index(root)


def test_geometry_mismatch_names_the_label(small_phantom, tmp_path):
    root = _copy(small_phantom, tmp_path / "ds")
    path = root / "cbct" / "labelsTr" / "C000W1.nii.gz"
    label = sitk.ReadImage(str(path))
    label.SetSpacing((2.0, 2.0, 2.0))
    sitk.WriteImage(label, str(path))
    with pytest.raises(DatasetError, match="C000W1.nii.gz does not match its image's geometry"):
        read_volume(load_index(root).cases["cbct"]["C000W1"])


def test_body_mask_fills_lungs_and_drops_noise():
    image = np.full((4, 40, 40), -1000.0, dtype=np.float32)
    image[:, 5:35, 5:35] = 40.0
    image[:, 12:28, 10:18] = -800.0  # a lung: a hole in the body
    image[:, 0, 0] = 500.0  # a speck outside the body
    mask = body_mask(image)
    assert mask[:, 5:35, 5:35].all() and mask.sum() == 4 * 30 * 30


def test_prepare_and_restore_round_trip(small_phantom):
    volume = read_volume(load_index(small_phantom).cases["cbct"]["C000W1"])
    prepared = prepare(volume, spacing_xy_mm=2.5, min_size=32)
    inside = prepared.image[:, : prepared.resampled_hw[0], : prepared.resampled_hw[1]]
    assert abs(float(inside.mean())) < 1.0  # z-scored (inside the body mean 0; the air margin is at the floor)
    assert len(prepared.tumour_slices) > 0
    restored = restore(torch.from_numpy(prepared.label.astype(np.float32)), prepared) > 0.5
    reference = volume.label.astype(bool)
    dice = 2 * (restored & reference).sum() / (restored.sum() + reference.sum())
    assert dice > 0.85


def test_restore_interpolates_as_the_way_in_does(small_phantom):
    """The torch restore equals ``ndimage.zoom(order=1, grid_mode=True, mode="nearest")`` (resize_slices) of the box,
    placed in the box, to float32 rounding."""
    from cmedl_bench.data.preprocessing import resize_slices

    prepared = prepare(read_volume(load_index(small_phantom).cases["cbct"]["C000W1"]), spacing_xy_mm=2.5, min_size=32)
    probability = np.random.default_rng(0).random(prepared.image.shape, dtype=np.float32)
    h, w = prepared.resampled_hw
    y0, y1, x0, x1 = prepared.bbox
    assert (h, w) != (y1 - y0, x1 - x0)
    expected = np.zeros(prepared.volume.shape, dtype=np.float32)
    expected[:, y0:y1, x0:x1] = resize_slices(probability[:, :h, :w], (y1 - y0, x1 - x0), order=1)
    restored = restore(torch.from_numpy(probability), prepared)
    assert restored.shape == expected.shape
    np.testing.assert_allclose(restored, expected, rtol=0, atol=1e-6)


def test_augmentation_moves_image_and_mask_together():
    generator = torch.Generator().manual_seed(0)
    mask = torch.zeros(4, 1, 48, 48)
    mask[:, :, 10:30, 14:26] = 1
    image = mask * 5.0
    warped, warped_mask = augment(image, mask, generator)
    assert not torch.equal(warped_mask, mask)  # something happened
    agreement = ((warped > 2.5).float() == warped_mask).float().mean()
    assert agreement > 0.99
    assert set(warped_mask.unique().tolist()) <= {0.0, 1.0}


def test_sampler_draws_tumour_free_crops_at_the_configured_rate():
    """With foreground 0.25 a quarter of each batch is tumour-centred; the rest is drawn over every slice. Tumour
    fills slices 0-4 of 20 here, so a crop from any other slice is tumour-free: expected 0.75 x 15/20 of a batch."""
    from cmedl_bench.data.preprocessing import PreparedVolume
    from cmedl_bench.data.slices import TumourSliceSampler

    rng = np.random.default_rng(0)
    label = np.zeros((20, 64, 64), dtype=np.uint8)
    label[:5] = 1
    volumes = [PreparedVolume(None, rng.normal(size=(20, 64, 64)).astype(np.float32), label, (0, 64, 0, 64),
                              (64, 64))]
    _, masks = TumourSliceSampler(volumes, 32).sample(64, rng)
    assert (masks.reshape(64, -1).max(1) > 0).all()  # the paper's sampling: tumour in every crop
    mixed = TumourSliceSampler(volumes, 32, foreground=0.25)
    tumour_free, batches = 0, 400
    for _ in range(batches):
        _, masks = mixed.sample(8, rng)
        has_tumour = masks.reshape(8, -1).max(1) > 0
        assert has_tumour[:2].all()  # ceil(0.25 x 8) tumour-centred crops lead each batch
        tumour_free += int((~has_tumour).sum())
    expected = 6 * batches * 15 / 20
    assert 0.9 * expected <= tumour_free <= 1.1 * expected
    with pytest.raises(ValueError, match="foreground"):
        TumourSliceSampler(volumes, 32, foreground=0.0)


def test_hole_filling_in_one_labelling_equals_scipy_slice_by_slice():
    from scipy import ndimage

    from cmedl_bench.data.preprocessing import fill_holes_per_slice

    rng = np.random.default_rng(0)
    for shape, share in [((7, 30, 40), 0.5), ((5, 20, 20), 0.7), ((3, 64, 64), 0.3), ((2, 1, 5), 0.5)]:
        for _ in range(10):
            mask = rng.random(shape) < share
            if min(shape) > 2:
                mask = ndimage.binary_opening(mask)
            expected = np.stack([ndimage.binary_fill_holes(plane) for plane in mask])
            assert np.array_equal(fill_holes_per_slice(mask), expected)


def test_component_sizes_count_each_label_as_bincount_does():
    from scipy import ndimage

    from cmedl_bench.data.preprocessing import component_sizes

    mask = np.random.default_rng(1).random((6, 30, 30)) > 0.6
    labels, count = ndimage.label(mask)
    assert count > 10
    np.testing.assert_array_equal(component_sizes(labels, count), np.bincount(labels.ravel(), minlength=count + 1)[1:])
