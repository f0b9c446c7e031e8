"""``data check`` names every fault with its file; ``run`` refuses the dataset with one line and writes nothing."""

import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from cmedl_bench.data.checks import check_dataset
from cmedl_bench.data.layout import generate_splits, load_index
from tests.conftest import cli


def _edit(path, change):
    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    edited = sitk.GetImageFromArray(change(array))
    edited.CopyInformation(image)
    sitk.WriteImage(edited, str(path))


def _as_mha(source, root):
    """A copy of a dataset in MetaImage files (NIfTI as SimpleITK reads it cannot hold NaN: it reads as 0)."""
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("*.nii.gz"))
    for path in source.rglob("*.nii.gz"):
        sitk.WriteImage(sitk.ReadImage(str(path)), str(root / path.relative_to(source)).replace(".nii.gz", ".mha"))
    meta = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps(meta | {"file_ending": ".mha"}))
    return root


def test_every_fault_is_named_with_its_file(tmp_path, small_phantom):
    root = _as_mha(small_phantom, tmp_path / "ds")
    splits = json.loads((root / "splits.json").read_text())
    train, val, test = (splits["cbct"][s] for s in ("train", "val", "test"))
    images, labels = root / "cbct" / "imagesTr", root / "cbct" / "labelsTr"
    faults = {
        "missing": labels / f"{train[0]}W1.mha",
        "geometry": labels / f"{train[0]}W2.mha",
        "empty": labels / f"{train[1]}W1.mha",
        "non_binary": labels / f"{train[1]}W2.mha",
        "nan": images / f"{test[0]}W1_0000.mha",
        "intensity": images / f"{test[0]}W2_0000.mha",
        "mri_negative": root / "mri" / "imagesTr" / "M000_0000.mha",
        "leak": images / f"{val[0]}W1_0000.mha",
    }
    faults["missing"].unlink()
    label = sitk.ReadImage(str(faults["geometry"]))
    label.SetSpacing((2 * label.GetSpacing()[0], *label.GetSpacing()[1:]))
    sitk.WriteImage(label, str(faults["geometry"]))
    _edit(faults["empty"], np.zeros_like)
    _edit(faults["non_binary"], lambda a: a * 2)
    _edit(faults["nan"], lambda a: np.where(np.arange(a.size).reshape(a.shape) == 5, np.nan, a.astype(np.float32)))
    _edit(faults["intensity"], lambda a: a + 1500)  # raw detector values: no air below -500
    _edit(faults["mri_negative"], lambda a: a.astype(np.int16) - 1000)
    shutil.copy(images / f"{test[0]}W1_0000.mha", faults["leak"])  # a test scan reappears in validation
    splits["cbct"]["train"] += splits["cbct"]["val"]
    splits["cbct"]["val"] = []
    (root / "splits.json").write_text(json.dumps(splits))

    result = cli("data", "check", str(root), "--json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]

    def found(path, *words):
        return any(f["file"] == str(path) and all(w in f["problem"] for w in words) and f["severity"] == "error"
                   for f in findings)

    assert found(faults["missing"], "listed in dataset.json but missing")
    assert found(faults["geometry"], "label spacing", "differs")
    assert found(faults["empty"], "empty label")
    assert found(faults["non_binary"], "not binary", "[0, 2]")
    assert found(faults["nan"], "NaN or infinite")
    assert found(faults["intensity"], "implausible CBCT intensities")
    assert found(faults["mri_negative"], "implausible MRI intensities")
    assert found(faults["leak"], "the same scan as", "test data would leak")
    assert found(root / "splits.json", "val split has no cases")

    table = cli("data", "check", str(root))
    assert table.returncode == 1 and "error(s)" in table.stdout
    run = cli("run", "--translator", "none", "--fusion", "none", "--preset", "smoke", "--quiet", "--data", str(root),
              "--results", str(tmp_path / "r"))
    lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
    assert run.returncode == 2 and len(lines) == 1 and "see cmedl-bench data check" in lines[0]
    assert not (tmp_path / "r").exists()


def test_clean_phantom_and_generated_splits(tmp_path, small_phantom):
    report = check_dataset(small_phantom)
    assert report.findings == [] and report.cases == 18  # 8 CBCT scans, their 8 aligned MRIs, 2 MRI
    root = shutil.copytree(small_phantom, tmp_path / "ds")
    (root / "splits.json").unlink()
    index = load_index(root)
    assert index.splits_source == "generated (seed 0)"
    cbct = index.splits["cbct"]
    patients = [p for s in ("train", "val", "test") for p in cbct[s]]
    assert sorted(patients) == sorted({c.patient for c in index.cases["cbct"].values()})  # each exactly once
    assert all(cbct[s] for s in ("train", "val", "test"))
    assert generate_splits(index.cases, 0) == index.splits  # reproducible
    assert any(generate_splits(index.cases, seed)["cbct"] != cbct for seed in range(1, 6))


@pytest.mark.parametrize("ending, slope", [(".nii.gz", None), (".nii", None), (".nii", (0.5, 10.0))])
def test_a_float_nifti_reads_as_itk_reads_it_and_counts_its_non_finite_voxels(tmp_path, ending, slope):
    """One pass over the file's data block gives the image ITK gives (voxels, scale factor, spacing, origin,
    direction) and the NaN/Inf count that ITK's reader hides."""
    import struct

    from cmedl_bench.io.images import read_scan

    array = np.random.default_rng(0).normal(0, 100, (5, 6, 7)).astype(np.float32)
    array[1, 2, 3], array[4, 5, 6] = np.nan, np.inf
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.8, 0.9, 2.5))
    image.SetOrigin((-10.0, 20.0, 30.5))
    image.SetDirection((0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    path = tmp_path / f"scan{ending}"
    sitk.WriteImage(image, str(path))
    if slope:  # NIfTI-1 scl_slope, scl_inter at bytes 112-119
        raw = bytearray(path.read_bytes())
        struct.pack_into("<ff", raw, 112, *slope)
        path.write_bytes(bytes(raw))
    ours, non_finite = read_scan(path, "scan")
    itk = sitk.ReadImage(str(path))
    assert non_finite == 2
    assert np.array_equal(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(itk))
    assert ours.GetPixelID() == itk.GetPixelID()
    assert (ours.GetSpacing(), ours.GetOrigin(), ours.GetDirection()) == (itk.GetSpacing(), itk.GetOrigin(),
                                                                         itk.GetDirection())


def test_a_fraction_map_reads_back_within_half_a_level(tmp_path):
    """``write_fraction_map``: uint8 levels with scale factor 1/255, so readers get each value back to within
    1/510; values outside [0, 1] are clipped. More slices than one quantising chunk."""
    from cmedl_bench.io.nifti import FRACTION_LEVELS, write_fraction_map

    values = np.random.default_rng(0).uniform(-0.1, 1.1, (37, 9, 11)).astype(np.float32)
    image = sitk.GetImageFromArray(values)
    image.SetSpacing((0.9, 0.8, 3.0))
    read = sitk.ReadImage(str(write_fraction_map(tmp_path / "map.nii.gz", image)))
    back = sitk.GetArrayFromImage(read)
    assert np.allclose(read.GetSpacing(), image.GetSpacing())
    assert np.abs(back - np.clip(values, 0, 1)).max() <= 1 / (2 * FRACTION_LEVELS) + 1e-6
    assert back.min() == 0 and back.max() == 1
