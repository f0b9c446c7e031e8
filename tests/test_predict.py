"""``predict`` and ``export``: a smoke-trained model applied to a DICOM CBCT series built here, to NIfTI files and to a
dataset split; geometry kept exactly; RT Structure Sets that our own importer reads back; the exported model
gives the same masks as the run folder; uncertainty maps; bad input as one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from cmedl_bench import api
from cmedl_bench.scoring import dice
from tests.conftest import cli
from tests.dicom_builder import write_series


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_phantom):
    """A CBCT-only U-Net trained with the smoke preset, and the small phantom's first test scan."""
    results = tmp_path_factory.mktemp("results")
    record = api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=results, quiet=True)
    return results / record["run_id"], _test_cases(small_phantom)[0].image_path


def _test_cases(dataset):
    from cmedl_bench.data.layout import load_index

    return load_index(dataset).split_cases("cbct", "test")


def _dicom_from(image_path, folder, **kwargs) -> dict:
    image = sitk.ReadImage(str(image_path))
    spacing = image.GetSpacing()
    return write_series(folder, sitk.GetArrayFromImage(image).astype(np.int32), spacing_xyz=spacing,
                        origin=image.GetOrigin(), **kwargs)


def _same_grid(a, b) -> bool:
    return (a.GetSize() == b.GetSize() and a.GetSpacing() == b.GetSpacing() and a.GetOrigin() == b.GetOrigin()
            and a.GetDirection() == b.GetDirection())


def test_rtstruct_and_seg_writers_round_trip(tmp_path):
    """A known mask (a sphere with a hole and a separate blob) written as RTSTRUCT and imported back by our importer,
    and written as DICOM SEG and read back by highdicom: the same mask both ways."""
    from cmedl_bench.data.dicom_series import read_series, scan_folder, slice_geometry
    from cmedl_bench.data.rtstruct_writer import write_rtstruct

    zz, yy, xx = np.mgrid[:10, :40, :48]
    mask = (((zz - 5) * 3) ** 2 + ((yy - 20) * 2) ** 2 + ((xx - 20) * 2) ** 2 < 20 ** 2)
    mask &= ~((abs(zz - 5) < 2) & (abs(yy - 20) < 3) & (abs(xx - 20) < 3))  # a hole
    mask |= (zz == 2) & (yy > 30) & (xx > 40)  # a separate blob
    write_series(tmp_path / "dicom", np.full(mask.shape, -500), spacing_xyz=(2.0, 1.5, 3.0), patient="RT1")
    series = next(iter(scan_folder(tmp_path / "dicom")[0].values()))
    image = read_series(series, slice_geometry(series))
    write_rtstruct(tmp_path / "dicom" / "rtstruct.dcm", mask.astype(np.uint8), image, series, "GTV_auto", "test")
    result = cli("data", "import", str(tmp_path / "ds"), "--dicom", str(tmp_path / "dicom"), "--roi", "GTV*",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    label = next((tmp_path / "ds" / "cbct" / "labelsTr").iterdir())
    assert dice(sitk.GetArrayFromImage(sitk.ReadImage(str(label))), mask) >= 0.99
    import highdicom as hd
    import pydicom

    from cmedl_bench.data.seg_writer import write_seg

    uids = [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for _, p in series.slices]
    for name, written in (("seg.dcm", mask), ("empty-seg.dcm", np.zeros_like(mask))):  # no tumour predicted too
        write_seg(tmp_path / name, written.astype(np.uint8), series, "GTV_auto", "test model")
        frames = hd.seg.segread(tmp_path / name).get_pixels_by_source_instance(
            source_sop_instance_uids=uids, segment_numbers=[1])[..., 0]
        assert np.array_equal(frames.astype(bool), written)


def test_predict_dicom_nifti_and_dataset_inputs(tmp_path, trained, small_phantom):
    run_dir, scan = trained
    info = _dicom_from(scan, tmp_path / "dicom", patient="PAT1", series_date="20250301")
    scan = shutil.copy(scan, tmp_path / "week1.nii.gz")  # its own id: the dataset input holds the original
    result = cli("predict", str(run_dir), str(tmp_path / "dicom"), str(scan), str(small_phantom), "--out",
                 str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert len(table) == 2 + len(_test_cases(small_phantom))
    nifti = table[table.kind == "image"].iloc[0]
    mask = sitk.ReadImage(str(tmp_path / "out" / nifti["mask"]))
    assert _same_grid(mask, sitk.ReadImage(str(scan)))
    voxel_cc = np.prod(mask.GetSpacing()) / 1000
    assert nifti["tumour_volume_cc"] == pytest.approx(sitk.GetArrayFromImage(mask).sum() * voxel_cc)
    dicom = table[table.kind == "dicom"].iloc[0]
    assert dicom["patient"] == "PAT1" and dicom["date"] == "2025-03-01"
    dicom_mask = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / dicom["mask"])))
    nifti_mask = sitk.GetArrayFromImage(mask)
    assert dice(dicom_mask, nifti_mask) >= 0.99  # the same scan, whichever way it came in
    # the RTSTRUCT refers to the series and our importer reads it back as the predicted mask
    import pydicom

    rtstruct = pydicom.dcmread(tmp_path / "out" / dicom["rtstruct"])
    assert rtstruct.PatientID == "PAT1" and rtstruct.StudyInstanceUID == info["study"]
    referenced = rtstruct.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert referenced.RTReferencedSeriesSequence[0].SeriesInstanceUID == info["series"]
    (tmp_path / "dicom" / "rt.dcm").write_bytes((tmp_path / "out" / dicom["rtstruct"]).read_bytes())
    result = cli("data", "import", str(tmp_path / "back"), "--dicom", str(tmp_path / "dicom"), "--roi", "GTV*",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    back = next((tmp_path / "back" / "cbct" / "labelsTr").iterdir())
    assert dice(sitk.GetArrayFromImage(sitk.ReadImage(str(back))), dicom_mask) >= 0.99
    import highdicom as hd

    seg = hd.seg.segread(tmp_path / "out" / dicom["seg"])
    uids = [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
            for p in sorted((tmp_path / "dicom").glob("slice_*.dcm"), reverse=True)]  # written last slice first
    frames = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1],
                                               ignore_spatial_locations=True)[..., 0]
    assert np.array_equal(frames.astype(bool), dicom_mask.astype(bool))
    assert (tmp_path / "out" / "volume_over_time.png").is_file()  # dataset patients have two weeks each
    assert json.loads((tmp_path / "out" / "prediction.json").read_text())["model"]["run_id"] == run_dir.name


def test_reoriented_input_keeps_its_exact_grid(tmp_path, trained):
    run_dir, scan = trained
    image = sitk.ReadImage(str(scan))
    flipped = sitk.DICOMOrient(image, "RAI")
    sitk.WriteImage(flipped, str(tmp_path / "rai.nii.gz"))
    api.predict(run_dir, [tmp_path / "rai.nii.gz"], tmp_path / "out", quiet=True)
    mask = sitk.ReadImage(str(tmp_path / "out" / "rai" / "mask.nii.gz"))
    assert _same_grid(mask, flipped)
    api.predict(run_dir, [scan], tmp_path / "out2", quiet=True)
    original = sitk.ReadImage(next((tmp_path / "out2").glob("*/mask.nii.gz")).as_posix())
    assert np.array_equal(sitk.GetArrayFromImage(sitk.DICOMOrient(mask, "LPS")),
                          sitk.GetArrayFromImage(sitk.DICOMOrient(original, "LPS")))


def test_exported_model_gives_identical_masks(tmp_path, trained):
    run_dir, scan = trained
    result = cli("export", str(run_dir), "--out", str(tmp_path / "model.cmedl"))
    assert result.returncode == 0, result.stderr
    import torch

    bundle = torch.load(tmp_path / "model.cmedl", weights_only=True)
    assert bundle["plugins"]["segmenter"]["name"] == "unet" and bundle["preprocessing"]["crop_size"] == 32
    exported = torch.export.load(tmp_path / "model.pt2").module()
    crops = torch.randn(2, 1, 32, 32)
    from cmedl_bench.stages.models import load_model

    eager = load_model(tmp_path / "model.cmedl", None, torch.device("cpu"))
    with torch.no_grad():
        assert torch.allclose(exported(crops), eager.fusion.predict_logits("student", crops), atol=1e-4)
    from_run = api.predict(run_dir, [scan], tmp_path / "a", quiet=True)["scans"][0]
    from_file = api.predict(tmp_path / "model.cmedl", [scan], tmp_path / "b", quiet=True)["scans"][0]
    arrays = [sitk.GetArrayFromImage(sitk.ReadImage(str(folder / row["probability"])))
              for folder, row in ((tmp_path / "a", from_run), (tmp_path / "b", from_file))]
    assert np.array_equal(arrays[0], arrays[1])


def test_uncertainty_is_zero_without_dropout_and_positive_with_it(tmp_path, trained):
    run_dir, scan = trained
    off = api.predict(run_dir, [scan], tmp_path / "off", uncertainty=3, dropout_rate=0.0, quiet=True)["scans"][0]
    on = api.predict(run_dir, [scan], tmp_path / "on", uncertainty=3, dropout_rate=0.5, quiet=True)["scans"][0]
    sd_off = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "off" / off["uncertainty_sd"])))
    sd_on = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "on" / on["uncertainty_sd"])))
    assert sd_off.max() == 0 and off["uncertainty"] == 0
    assert sd_on.max() > 0


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else None


@pytest.mark.parametrize("case", ["not_an_image", "mr_series", "missing_slice", "duplicate_slice", "uneven",
                                  "unfinished_run", "foreign_plugin", "other_major", "no_model"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, trained, case):
    import torch

    run_dir, scan = trained
    model, inputs = str(run_dir), [str(scan)]
    hu = np.full((5, 16, 16), -300)
    expected = {"not_an_image": "not a readable image", "mr_series": "is MR", "missing_slice": "a gap of",
                "duplicate_slice": "duplicated slice", "uneven": "uneven slice spacing",
                "unfinished_run": "not finished", "foreign_plugin": "which is not installed",
                "other_major": "another major version", "no_model": "no such run folder"}[case]
    if case == "not_an_image":
        (tmp_path / "notes.txt").write_text("not an image")
        inputs = [str(tmp_path / "notes.txt")]
    elif case in ("missing_slice", "duplicate_slice", "uneven", "mr_series"):
        offsets = {"missing_slice": [0, 3, 9, 12, 15], "duplicate_slice": [0, 3, 3, 6, 9],
                   "uneven": [0, 3, 6.5, 9, 12], "mr_series": None}[case]
        write_series(tmp_path / "dicom", hu, offsets=offsets)
        if case == "mr_series":
            import pydicom

            for path in (tmp_path / "dicom").iterdir():
                ds = pydicom.dcmread(path)
                ds.Modality = "MR"
                ds.save_as(path)
        inputs = [str(tmp_path / "dicom")]
    elif case == "unfinished_run":
        copy = tmp_path / "run"
        copy.mkdir()
        record = json.loads((run_dir / "run.json").read_text())
        (copy / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
        model = str(copy)
    elif case in ("foreign_plugin", "other_major"):
        api.export(run_dir, tmp_path / "m.cmedl")
        bundle = torch.load(tmp_path / "m.cmedl", weights_only=True)
        if case == "foreign_plugin":
            bundle["plugins"]["segmenter"] = {**bundle["plugins"]["segmenter"], "name": "vnet-x",
                                              "distribution": "their-vnet"}
        else:
            bundle["plugins"]["segmenter"] = {**bundle["plugins"]["segmenter"], "version": "7.0.0"}
        torch.save(bundle, tmp_path / "m.cmedl")
        model = str(tmp_path / "m.cmedl")
    elif case == "no_model":
        model = str(tmp_path / "nothing")
    out = tmp_path / "out"
    before = _tree(tmp_path)
    result = cli("predict", model, *inputs, "--out", str(out), "--quiet")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and _tree(tmp_path) == before and not out.exists()


def test_cmedl_student_and_teacher_heads_predict(tmp_path, small_phantom):
    """The student runs the CBCT network alone; the teacher head runs the translator first (pseudo-MRI)."""
    record = api.run(translator="cycle", fusion="hint", data=small_phantom, preset="smoke", results=tmp_path,
                     quiet=True)
    run_dir, scan = tmp_path / record["run_id"], _test_cases(small_phantom)[0].image_path
    student = api.predict(run_dir, [scan], tmp_path / "s", quiet=True)
    teacher = api.predict(run_dir, [scan], tmp_path / "t", head="teacher", quiet=True)
    assert (student["head"], teacher["head"]) == ("student", "teacher")
    probabilities = [sitk.GetArrayFromImage(sitk.ReadImage(str(folder / result["scans"][0]["probability"])))
                     for folder, result in ((tmp_path / "s", student), (tmp_path / "t", teacher))]
    assert not np.array_equal(*probabilities)
    with pytest.raises(Exception, match="has no head 'pmri'"):
        api.predict(run_dir, [scan], tmp_path / "x", head="pmri", quiet=True)
    assert not (tmp_path / "x").exists()
