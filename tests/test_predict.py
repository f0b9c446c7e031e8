"""``predict`` and ``export``: a smoke-trained model applied to a DICOM CBCT series built here, to NIfTI files and to a
dataset split; geometry kept exactly; RT Structure Sets that our own importer reads back; the exported model
gives the same masks as the run folder; uncertainty maps; bad input as one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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


def _dicom_from(image_path, folder, hu: np.ndarray | None = None, **kwargs) -> dict:
    """The scan at ``image_path`` (or ``hu`` on its grid) written as a DICOM CT series."""
    image = sitk.ReadImage(str(image_path))
    spacing = image.GetSpacing()
    hu = sitk.GetArrayFromImage(image).astype(np.int32) if hu is None else hu
    return write_series(folder, hu, spacing_xyz=spacing, origin=image.GetOrigin(), **kwargs)


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
        write_seg(tmp_path / name, written.astype(np.uint8), image, series, "GTV_auto", "test model")
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
                                  "unfinished_run", "foreign_plugin", "other_major", "no_model", "no_config",
                                  "plugins_not_a_mapping", "weights_of_another_shape", "run_of_another_major",
                                  "out_inside_the_run"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, trained, case):
    import torch

    run_dir, scan = trained
    model, inputs = str(run_dir), [str(scan)]
    hu = np.full((5, 16, 16), -300)
    expected = {"not_an_image": "not a readable image", "mr_series": "is MR", "missing_slice": "a gap of",
                "duplicate_slice": "duplicated slice", "uneven": "uneven slice spacing",
                "unfinished_run": "not finished", "foreign_plugin": "which is not installed",
                "other_major": "another major version", "no_model": "no such run folder",
                "no_config": "field 'config' is missing", "plugins_not_a_mapping": "field 'plugins' is missing or not",
                "weights_of_another_shape": "do not fit its network", "run_of_another_major": "another major version",
                "out_inside_the_run": "lies inside the run folder"}[case]
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
    elif case in ("foreign_plugin", "other_major", "no_config", "plugins_not_a_mapping", "weights_of_another_shape"):
        api.export(run_dir, tmp_path / "m.cmedl")
        (tmp_path / "m.pt2").unlink(missing_ok=True)
        bundle = torch.load(tmp_path / "m.cmedl", weights_only=True)
        if case == "foreign_plugin":
            bundle["plugins"]["segmenter"] = {**bundle["plugins"]["segmenter"], "name": "vnet-x",
                                              "distribution": "their-vnet"}
        elif case == "other_major":
            bundle["plugins"]["segmenter"] = {**bundle["plugins"]["segmenter"], "version": "7.0.0"}
        elif case == "no_config":
            del bundle["config"]
        elif case == "plugins_not_a_mapping":
            bundle["plugins"] = ["unet"]
        else:
            state = next(iter(bundle["weights"].values()))
            first = next(iter(state))
            state[first] = torch.zeros(3, 3)
        torch.save(bundle, tmp_path / "m.cmedl")
        model = str(tmp_path / "m.cmedl")
    elif case == "run_of_another_major":
        copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
        record = json.loads((copy / "run.json").read_text())
        record["plugins"]["segmenter"]["version"] = "7.0.0"
        (copy / "run.json").write_text(json.dumps(record))
        model = str(copy)
    elif case == "no_model":
        model = str(tmp_path / "nothing")
    out = tmp_path / "out"
    if case == "out_inside_the_run":
        model = str(Path(shutil.copytree(run_dir, tmp_path / "run")))
        out = tmp_path / "run" / "predictions"
    before = _tree(tmp_path)
    result = cli("predict", model, *inputs, "--out", str(out), "--quiet")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and _tree(tmp_path) == before
    assert not out.exists() or case == "out_inside_the_run"


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


def _world_points(points: np.ndarray) -> set[tuple[float, ...]]:
    return {tuple(p) for p in np.round(points, 2).tolist()}


def test_tilted_series_outputs_agree_in_patient_coordinates(tmp_path, trained):
    """A phantom scan written as a 15-degree gantry-tilted series: refused without --resample-tilt; with it, the
    NIfTI mask, the RT Structure Set (rasterised back on the mask's grid) and the SEG (read by highdicom) mark the
    same points of the patient."""
    import highdicom as hd

    from cmedl_bench.data.rtstruct import rasterise, read_structure_set
    from tests.test_integrity import _tilted

    _, scan = trained
    hu = sitk.GetArrayFromImage(sitk.ReadImage(str(scan))).astype(np.int32)
    _tilted(tmp_path / "dicom", hu_zyx=hu, patient="TILT1")
    refused = cli("predict", str(trained[0]), str(tmp_path / "dicom"), "--out", str(tmp_path / "out"), "--quiet")
    assert refused.returncode == 2 and "--resample-tilt" in refused.stderr and not (tmp_path / "out").exists()
    result = cli("predict", str(trained[0]), str(tmp_path / "dicom"), "--out", str(tmp_path / "out"), "--quiet",
                 "--resample-tilt")
    assert result.returncode == 0, result.stderr
    row = pd.read_csv(tmp_path / "out" / "predictions.csv").iloc[0]
    nifti = sitk.ReadImage(str(tmp_path / "out" / row["mask"]))
    mask = sitk.GetArrayFromImage(nifti).astype(bool)
    assert mask.any()
    contoured = rasterise(read_structure_set(tmp_path / "out" / row["rtstruct"]).select("*"), nifti)
    assert np.array_equal(contoured.astype(bool), mask)
    volume = hd.seg.segread(tmp_path / "out" / row["seg"]).get_volume(combine_segments=True)
    seg_points = volume.map_indices_to_reference(np.argwhere(volume.array > 0))
    nifti_points = np.array([nifti.TransformIndexToPhysicalPoint([int(v) for v in index[::-1]])
                             for index in np.argwhere(mask)])
    assert _world_points(seg_points) == _world_points(nifti_points)


@pytest.mark.parametrize("image_type, reason", [
    (["ORIGINAL", "PRIMARY", "LOCALIZER"], "ImageType LOCALIZER"),
    (None, "1 slice(s) in another orientation than the volume beside it")], ids=["tagged", "untagged"])
def test_a_scout_beside_the_series_is_skipped_with_one_line(tmp_path, trained, image_type, reason):
    run_dir, scan = trained
    info = _dicom_from(scan, tmp_path / "dicom", patient="SCOUT1")
    write_series(tmp_path / "dicom" / "scout", np.full((1, 64, 48), -500), spacing_xyz=(1.0, 1.0, 1.0),
                 row_dir=(1.0, 0.0, 0.0), col_dir=(0.0, 0.0, -1.0), patient="SCOUT1", series_number=99,
                 study=info["study"], frame=info["frame"], extra={"ImageType": image_type} if image_type else None)
    result = cli("predict", str(run_dir), str(tmp_path / "dicom"), "--out", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:") and "localizer" in line]
    assert len(warned) == 1 and f"skipped: a localizer ({reason})" in warned[0]
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert list(table["patient"]) == ["SCOUT1"] and (tmp_path / "out" / table["mask"][0]).is_file()


#: how far the predictions on a padded or FOV-cut scan may be from the clean scan's: the body threshold is taken
#: from the voxels inside the field of view, so the clean scan's air outside it moves it a little (Otsu), which moves
#: a few rim voxels of the body and with them the z-score statistics
FOV_DICE_TOLERANCE = 0.98


def test_padding_and_a_circular_field_of_view_do_not_change_the_prediction(tmp_path, trained):
    """One scan written by a scanner three ways: clean; padded with -3024 HU outside a circle that holds the body,
    declared as PixelPaddingValue; and 0 HU there (a CBCT's reconstruction cylinder). The body masks of the two
    variants are identical, and the predictions inside the field of view match the clean scan's."""
    from cmedl_bench.data.preprocessing import body_mask, outside_field_of_view

    run_dir, scan = trained
    array = sitk.GetArrayFromImage(sitk.ReadImage(str(scan))).astype(np.int32)
    yy, xx = np.mgrid[:array.shape[1], :array.shape[2]]
    outside = np.hypot(yy - (array.shape[1] - 1) / 2, xx - (array.shape[2] - 1) / 2) > (array.shape[2] - 1) / 2
    assert not body_mask(array.astype(float))[:, outside].any()  # the circle holds the whole body
    variants = {"clean": (array, None), "padded": (np.where(outside, -3024, array), {"PixelPaddingValue": -2000}),
                "cylinder": (np.where(outside, 0, array), None)}
    for number, (name, (hu, extra)) in enumerate(variants.items(), start=1):
        _dicom_from(scan, tmp_path / name, patient="FOV1", series_number=number, extra=extra, hu=hu)
    result = cli("predict", str(run_dir), *(str(tmp_path / name) for name in variants), "--out", str(tmp_path / "out"),
                 "--quiet")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "out" / "predictions.csv").sort_values("scan")
    images = {name: sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / mask)))
              for name, mask in zip(variants, table["mask"])}
    for name in ("padded", "cylinder"):
        assert np.array_equal(outside_field_of_view(variants[name][0]), np.broadcast_to(outside, array.shape))
    assert np.array_equal(*(body_mask(variants[name][0].astype(float)) for name in ("padded", "cylinder")))
    masks = {name: image[:, ~outside] for name, image in images.items()}
    assert masks["clean"].any()
    for name in ("padded", "cylinder"):
        assert dice(masks[name], masks["clean"]) >= FOV_DICE_TOLERANCE, name


def test_export_never_writes_into_a_run_folder_or_over_a_file(tmp_path, trained):
    run_dir, _ = trained
    copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
    record = (copy / "run.json").read_bytes()
    for out, expected in ((copy / "run.json", "lies inside the run folder"),
                          (tmp_path / "m.pt2", ".pt2 is the ending of the torch.export program")):
        result = cli("export", str(copy), "--out", str(out))
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr
    assert (copy / "run.json").read_bytes() == record and not (tmp_path / "m.pt2").exists()
    assert cli("export", str(copy), "--out", str(tmp_path / "m.cmedl")).returncode == 0
    written = (tmp_path / "m.cmedl").read_bytes()
    again = cli("export", str(copy), "--out", str(tmp_path / "m.cmedl"))
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert (tmp_path / "m.cmedl").read_bytes() == written


def test_an_interrupted_predicts_staging_is_removed_by_the_next(tmp_path, trained):
    run_dir, scan = trained
    stale = tmp_path / "out" / ".predict-staging-killed"
    stale.mkdir(parents=True)
    (stale / ".owner-pid").write_text("999999999")  # no such process
    (stale / "half-written.nii.gz").write_bytes(b"x")
    result = cli("predict", str(run_dir), str(scan), "--out", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".predict-staging")]
    assert "was trained with the smoke preset" in result.stderr  # said plainly: its masks mean nothing


def test_physically_implausible_predictions_are_flagged():
    from cmedl_bench.data.layout import Case, Volume
    from cmedl_bench.data.preprocessing import body_mask
    from cmedl_bench.stages.predicting import _implausible

    image = np.full((20, 64, 64), -1000.0)
    image[:, 8:56, 8:56] = 40.0  # the body: 20 x 48 x 48 voxels
    volume = Volume(Case("cbct", "x", "x", Path("x"), Path("x")), image, np.zeros(image.shape, np.uint8),
                    (5.0, 2.0, 2.0), (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    outline = body_mask(image)
    small, body, huge = (np.zeros(image.shape, np.uint8) for _ in range(3))
    small[8:12, 20:30, 20:30] = 1  # 400 voxels of 20 mm3: 8 cc
    body[:, 8:56, 8:50] = 1  # 88 % of the body
    huge[:] = 1  # every voxel: 1638 cc at 20 mm3 a voxel, 13107 cc at 160 mm3
    assert _implausible(small, volume, outline) == ""
    assert _implausible(body, volume, outline) == "tumour over 88% of the body"
    big = Volume(volume.case, image, volume.label, (10.0, 4.0, 4.0), volume.origin, volume.direction)
    assert _implausible(huge, big, outline).startswith("a tumour of 13107 cc (above 2000 cc)")
