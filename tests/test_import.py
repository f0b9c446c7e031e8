"""DICOM + RTSTRUCT and image-file import: rasterisation against independent references, then a dataset built from
DICOM that checks clean, trains and is scored."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
from matplotlib.path import Path as PolygonPath

from cmedl_bench import api
from cmedl_bench.data.checks import check_dataset
from cmedl_bench.data.rtstruct import rasterise, read_structure_set
from cmedl_bench.errors import DatasetError
from tests.conftest import cli
from tests.dicom_builder import ellipse, rectangle, write_rtstruct, write_series

SHAPE = (8, 48, 48)  # z, y, x


def _phantom_hu(rng, tumour=None):
    """Air outside an elliptical body of soft tissue with two lungs; optional soft-tissue tumour mask."""
    z, y, x = np.mgrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    hu = np.full(SHAPE, -1000.0)
    body = ((x - 24) / 21) ** 2 + ((y - 24) / 17) ** 2 <= 1
    hu[body] = 40
    for cx in (15, 33):
        hu[body & (((x - cx) / 7) ** 2 + ((y - 24) / 11) ** 2 <= 1)] = -820
    if tumour is not None:
        hu[tumour] = 30
    return (hu + rng.normal(0, 10, SHAPE)).round().astype(np.int16)


def _read(dataset, case_id, kind="labelsTr", suffix=""):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(dataset / "cbct" / kind / f"{case_id}{suffix}.nii.gz")))


def test_rectangle_on_voxel_edges_is_exact_and_holes_are_cut(tmp_path):
    rng = np.random.default_rng(0)
    series = write_series(tmp_path / "dicom", _phantom_hu(rng))
    # voxel centres are at -48 + 2 i mm, edges at -49 + 2 i: columns 10..19, rows 5..14, slice 3 (z = -3 mm)
    outer = rectangle(-29, -9, -39, -19, -3.0)
    inner = rectangle(-25, -13, -35, -23, -3.0)  # columns 12..17, rows 7..12: a hole
    write_rtstruct(tmp_path / "dicom" / "rs.dcm", series, {"GTV": [outer], "Ring": [outer, inner]})
    structure = read_structure_set(tmp_path / "dicom" / "rs.dcm")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "dicom")))
    image = reader.Execute()
    expected = np.zeros(SHAPE, np.uint8)
    expected[3, 5:15, 10:20] = 1
    np.testing.assert_array_equal(rasterise(structure.select("gtv"), image), expected)
    expected[3, 7:13, 12:18] = 0
    np.testing.assert_array_equal(rasterise(structure.select("Ring"), image), expected)


def test_flipped_grid_is_mapped_through_its_direction(tmp_path):
    rng = np.random.default_rng(1)
    # rows run towards -x and columns towards -y: voxel centre x = 48 - 2 i, edges at 49 - 2 i
    series = write_series(tmp_path / "dicom", _phantom_hu(rng), origin=(48.0, 48.0, -12.0),
                          row_dir=(-1.0, 0.0, 0.0), col_dir=(0.0, -1.0, 0.0))
    write_rtstruct(tmp_path / "dicom" / "rs.dcm", series, {"GTV": [rectangle(9, 29, 19, 39, 0.0)]})
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "dicom")))
    image = reader.Execute()
    mask = rasterise(read_structure_set(tmp_path / "dicom" / "rs.dcm").select("GTV"), image)
    expected = np.zeros(SHAPE, np.uint8)
    expected[4, 5:15, 10:20] = 1  # x in (9, 29) -> i 10..19; y in (19, 39) -> j 5..14; z = 0 -> k 4
    np.testing.assert_array_equal(mask, expected)


def test_polygons_match_an_independent_point_in_polygon_test(tmp_path):
    rng = np.random.default_rng(2)
    series = write_series(tmp_path / "dicom", _phantom_hu(rng))
    contours = [ellipse(-10 + k, 4 - k, 13 - k, 8 + k / 2, -12.0 + 3 * k, n=48) for k in range(1, 7)]
    write_rtstruct(tmp_path / "dicom" / "rs.dcm", series, {"GTV": contours})
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "dicom")))
    mask = rasterise(read_structure_set(tmp_path / "dicom" / "rs.dcm").select("GTV"), reader.Execute())
    expected = np.zeros(SHAPE, bool)
    jj, ii = np.mgrid[: SHAPE[1], : SHAPE[2]]
    centres = np.stack([-48 + 2.0 * ii.ravel(), -48 + 2.0 * jj.ravel()], axis=1)
    for k, points in zip(range(1, 7), contours):
        expected[k] = PolygonPath(points[:, :2]).contains_points(centres).reshape(SHAPE[1:])
    dice = 2 * (mask.astype(bool) & expected).sum() / (mask.sum() + expected.sum())
    assert expected.sum() > 300 and dice >= 0.98


def test_unknown_roi_names_the_available_ones(tmp_path):
    rng = np.random.default_rng(3)
    series = write_series(tmp_path / "dicom", _phantom_hu(rng))
    write_rtstruct(tmp_path / "dicom" / "rs.dcm", series, {"GTV_1": [rectangle(-29, -9, -39, -19, -3.0)],
                                                          "Lung_L": [rectangle(-9, 1, -39, -19, -3.0)]})
    structure = read_structure_set(tmp_path / "dicom" / "rs.dcm")
    assert [r.name for r in structure.select("gtv*")] == ["GTV_1"]
    with pytest.raises(DatasetError, match="no ROI matches 'CTV'; ROIs: GTV_1, Lung_L"):
        structure.select("CTV")


@pytest.fixture(scope="module")
def dicom_dataset(tmp_path_factory):
    """Three patients x two weekly CBCT series with RTSTRUCTs, imported through the CLI."""
    root = tmp_path_factory.mktemp("hospital")
    rng = np.random.default_rng(4)
    z, y, x = np.mgrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    for p in range(3):
        for week in range(2):
            radius = 5 - week
            cx, cy = 15 + p, 24
            tumour = (((x - cx) ** 2 + (y - cy) ** 2) <= radius**2) & (z >= 2) & (z <= 5)
            folder = root / "export" / f"P00{p}" / f"week{week + 1}"
            series = write_series(folder, _phantom_hu(rng, tumour), patient=f"P00{p}",
                                  series_date=f"2024010{week + 1}", series_number=week + 1)
            contours = [ellipse(-48 + 2 * cx, -48 + 2 * cy, 2 * radius + 0.5, 2 * radius + 0.5, -12.0 + 3 * k)
                        for k in range(2, 6)]
            write_rtstruct(folder / "rtstruct.dcm", series, {"GTV": contours, "BODY": [rectangle(-47, 47, -47, 47,
                                                                                              0.0)]})
    dataset = root / "dataset"
    result = cli("data", "import", str(dataset), "--dicom", str(root / "export"), "--roi", "GTV", "--quiet")
    assert result.returncode == 0, result.stderr
    return dataset


def test_dicom_import_writes_the_layout_with_patients_and_geometry(dicom_dataset):
    meta = json.loads((dicom_dataset / "dataset.json").read_text())
    cases = meta["cohorts"]["cbct"]["cases"]
    assert sorted(cases) == [f"P00{p}_2024010{w}_{w}" for p in range(3) for w in (1, 2)]
    assert {c["patient"] for c in cases.values()} == {"P000", "P001", "P002"}
    image = sitk.ReadImage(str(dicom_dataset / "cbct" / "imagesTr" / "P000_20240101_1_0000.nii.gz"))
    assert image.GetSpacing() == pytest.approx((2.0, 2.0, 3.0)) and image.GetOrigin() == pytest.approx((-48, -48, -12))
    hu = _read(dicom_dataset, "P000_20240101_1", "imagesTr", "_0000")
    assert hu.min() < -900 and 20 < np.median(hu[hu > -200]) < 60  # rescaled to HU
    label = _read(dicom_dataset, "P000_20240101_1")
    assert label.max() == 1 and set(np.nonzero(label.any(axis=(1, 2)))[0]) == {2, 3, 4, 5}


def test_imported_dicom_dataset_checks_clean_trains_and_scores(dicom_dataset, tmp_path):
    report = check_dataset(dicom_dataset)
    assert report.errors == [] and report.splits_source == "generated (seed 0)"
    assert [f.problem for f in report.findings] == [
        "no MRI training cases: only rows without a translator (CBCT only, 3DUnet) can run"]
    record = api.run(translator="none", segmenter="unet", fusion="none", data=dicom_dataset, preset="smoke",
                     results=tmp_path, device="cpu", quiet=True)
    assert record["status"] == "finished"
    assert record["summary"]["test"]["student"]["dsc"]["n"] == 2  # both weekly scans of the test patient
    assert 0.0 <= record["summary"]["test"]["student"]["dsc"]["mean"] <= 1.0


def test_image_folder_import_picks_the_tumour_by_name_and_resamples_cropped_labels(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    rng = np.random.default_rng(5)
    for case in ("P01_W1", "P01_W2", "P02_W1"):
        hu = sitk.GetImageFromArray(_phantom_hu(rng))
        hu.SetSpacing((2.0, 2.0, 3.0))
        sitk.WriteImage(hu, str(images / f"{case}_0000.nii.gz"))
        label = np.zeros((8, 20, 20), np.uint8)  # cropped: starts at voxel (x 10, y 12, z 0)
        label[2:5, 4:9, 3:8] = 2
        label[6, 1:3, 1:3] = 1
        cropped = sitk.GetImageFromArray(label)
        cropped.SetSpacing((2.0, 2.0, 3.0))
        cropped.SetOrigin((20.0, 24.0, 0.0))
        sitk.WriteImage(cropped, str(labels / f"{case}.nrrd"))
    (labels / "labels.json").write_text(json.dumps({"labels": {"background": 0, "lung": 1, "GTV": 2}}))
    with pytest.raises(DatasetError, match="holds labels \\[1, 2\\]; pick the tumour"):
        api.import_data(tmp_path / "ds", images=images, labels=labels, quiet=True)
    imported = api.import_data(tmp_path / "ds", images=images, labels=labels, label="gtv",
                               patient_pattern=r"^(P\d+)_W", quiet=True)
    assert [(c.case_id, c.patient) for c in imported] == [("P01_W1", "P01"), ("P01_W2", "P01"), ("P02_W1", "P02")]
    assert all(c.source["label_resampled"] for c in imported) and {c.tumour_voxels for c in imported} == {75}
    mask = _read(tmp_path / "ds", "P01_W1")
    expected = np.zeros(SHAPE, np.uint8)
    expected[2:5, 16:21, 13:18] = 1
    np.testing.assert_array_equal(mask, expected)
    again = cli("data", "import", str(tmp_path / "ds"), "--images", str(images), "--labels", str(labels),
                "--label", "2")
    assert again.returncode == 2 and "already exist (use --overwrite)" in again.stderr


def _nnunet_raw(root, channels=("CT", "PET")):
    """An nnU-Net v2 raw dataset as its documentation (dataset_format.md) lays it out: two channels, three labels
    named only in the root dataset.json, weekly scans, a labelled and an unlabelled test image."""
    rng = np.random.default_rng(7)
    for folder in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        (root / folder).mkdir(parents=True)
    cases = {"P01W1": "imagesTr", "P01W2": "imagesTr", "P02W1": "imagesTr", "P03W1": "imagesTs", "P04W1": "imagesTr",
             "P05W1": "imagesTs"}
    for k, (case, folder) in enumerate(cases.items()):
        for channel in range(len(channels)):
            image = sitk.GetImageFromArray(_phantom_hu(rng))
            sitk.WriteImage(image, str(root / folder / f"{case}_{channel:04d}.nii.gz"))
        if case != "P03W1":
            label = np.zeros(SHAPE, np.uint8)
            label[1:7, 10:30, 10:30] = 1  # lung
            label[3:5, 20:24 + k, 20:24] = 2  # tumour, a different size per case
            labels = root / folder.replace("images", "labels")
            sitk.WriteImage(sitk.GetImageFromArray(label), str(labels / f"{case}.nii.gz"))
    meta = {"channel_names": {str(i): name for i, name in enumerate(channels)},
            "labels": {"background": 0, "lung": 1, "tumour": 2, "thorax": [1, 2]},
            "numTraining": 4, "file_ending": ".nii.gz"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def test_nnunet_raw_dataset_imports_channel_zero_with_label_names_from_its_root(tmp_path):
    raw = _nnunet_raw(tmp_path / "Dataset001_Lung")
    refused = cli("data", "check", str(raw))
    assert refused.returncode == 2 and f"data import NEW_FOLDER --nnunet {raw}" in refused.stderr
    ambiguous = cli("data", "import", str(tmp_path / "ds"), "--nnunet", str(raw))
    assert ambiguous.returncode == 2 and "labels lung, tumour; choose the tumour with --label" in ambiguous.stderr
    region = cli("data", "import", str(tmp_path / "ds"), "--nnunet", str(raw), "--label", "thorax")
    assert region.returncode == 2 and "a region or background" in region.stderr
    assert not (tmp_path / "ds").exists()  # nothing written by a refused import
    done = cli("data", "import", str(tmp_path / "ds"), "--nnunet", str(raw), "--label", "Tumour")
    assert done.returncode == 0, done.stderr
    assert "channels 1 (PET) left out" in done.stderr and "1 test image(s) in imagesTs" in done.stderr
    cases = json.loads((tmp_path / "ds" / "dataset.json").read_text())["cohorts"]["cbct"]["cases"]
    assert sorted(cases) == ["P01W1", "P01W2", "P02W1", "P04W1", "P05W1"]
    assert {case: entry["patient"] for case, entry in cases.items()} == {"P01W1": "P01", "P01W2": "P01",
                                                                         "P02W1": "P02", "P04W1": "P04", "P05W1": "P05"}
    for case in sorted(cases):
        folder = "Ts" if case == "P05W1" else "Tr"
        source = sitk.GetArrayFromImage(sitk.ReadImage(str(raw / f"labels{folder}" / f"{case}.nii.gz")))
        np.testing.assert_array_equal(_read(tmp_path / "ds", case), (source == 2).astype(np.uint8))
        image = sitk.GetArrayFromImage(sitk.ReadImage(str(raw / f"images{folder}" / f"{case}_0000.nii.gz")))
        np.testing.assert_array_equal(_read(tmp_path / "ds", case, "imagesTr", "_0000"), image)
    assert not check_dataset(tmp_path / "ds").errors


def test_nnunet_export_keeps_the_split_and_imports_back(cmedl_small_phantom, tmp_path):
    from cmedl_bench.data.layout import load_index

    done = cli("data", "export", str(cmedl_small_phantom), "--nnunet", str(tmp_path / "raw"), "--id", "7")
    assert done.returncode == 0, done.stderr
    raw = tmp_path / "raw" / "Dataset007_CBCT"
    index = load_index(cmedl_small_phantom)
    split = {key: [c.case_id for c in index.split_cases("cbct", key)] for key in ("train", "val", "test")}
    assert json.loads((raw / "splits_final.json").read_text()) == [{"train": split["train"], "val": split["val"]}]
    meta = json.loads((raw / "dataset.json").read_text())
    assert meta["numTraining"] == len(split["train"]) + len(split["val"]) and meta["labels"]["tumour"] == 1
    assert sorted(p.name for p in (raw / "imagesTs").iterdir()) == [f"{c}_0000.nii.gz" for c in split["test"]]
    again = cli("data", "export", str(cmedl_small_phantom), "--nnunet", str(tmp_path / "raw"), "--id", "7")
    assert again.returncode == 2 and "exists" in again.stderr
    back = api.import_data(tmp_path / "back", nnunet=raw, quiet=True)
    assert sorted(c.case_id for c in back) == sorted(sum(split.values(), []))
    case = split["test"][0]
    np.testing.assert_array_equal(_read(tmp_path / "back", case), _read(cmedl_small_phantom, case))
