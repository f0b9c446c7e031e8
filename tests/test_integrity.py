"""Real-world integrity: what a clinic's exports and a hostile run folder must not do (each test failed before its
fix): a report that publishes files from outside its run folders, ``data synth`` deleting a folder it did not
write, statistics that change with the working directory, planners' contours (drawn twice, crossing, in another
frame of reference) and gantry-tilted series."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from cmedl_bench import api
from cmedl_bench.results.html_report import PNG_SIGNATURE, to_html
from tests.conftest import cli
from tests.dicom_builder import plane_rectangle, rectangle, write_rtstruct, write_series
from tests.test_report import _run_folder

# ------------------------------------------------------------------------------------------------ record paths


def _tiny_png(marker: bytes) -> bytes:
    """A file that starts like a PNG and carries ``marker``: whether it reaches the HTML is what is tested."""
    return PNG_SIGNATURE + marker


def test_html_report_embeds_only_pngs_that_lie_inside_their_run_folder(tmp_path):
    cases = {f"C{i}": 0.5 + 0.04 * i for i in range(6)}
    _run_folder(tmp_path / "res", "a0", "unet", 0, cases)
    run_dir = tmp_path / "res" / "a0"
    secret = tmp_path / "secret.png"
    secret.write_bytes(_tiny_png(b"outside the run folder"))
    (run_dir / "linked.png").symlink_to(secret)
    (run_dir / "notes.png").write_bytes(b"not a png at all")
    (run_dir / "curves.png").write_bytes(_tiny_png(b"the run's own figure"))
    record = json.loads((run_dir / "run.json").read_text())
    for files in ({"learning_curves": str(secret), "examples": "../../secret.png", "sensitivity": "linked.png"},
                  {"learning_curves": "notes.png"},
                  {"learning_curves": "curves.png"}):
        record["files"] = files
        (run_dir / "run.json").write_text(json.dumps(record))
        html = to_html(api.report([tmp_path / "res"]))
        assert base64.b64encode(secret.read_bytes()).decode() not in html
        assert base64.b64encode(b"not a png at all").decode() not in html
    assert base64.b64encode((run_dir / "curves.png").read_bytes()).decode() in html  # the run's own PNG is shown


def test_a_per_case_table_named_outside_the_run_folder_excludes_the_run(tmp_path):
    cases = {f"C{i}": 0.5 + 0.04 * i for i in range(6)}
    _run_folder(tmp_path / "res", "a0", "unet", 0, cases)
    _run_folder(tmp_path / "res", "b0", "densefcn57", 0, cases)
    record = json.loads((tmp_path / "res" / "a0" / "run.json").read_text())
    record["files"] = {"per_case": str(tmp_path / "res" / "b0" / "per_case.parquet")}
    (tmp_path / "res" / "a0" / "run.json").write_text(json.dumps(record))
    board = api.report([tmp_path / "res"])
    assert [path.name for path, _ in board.excluded] == ["a0"]
    assert "refusing to read" in board.excluded[0][1]


def test_evaluate_keeps_the_masks_it_scored_inside_its_run_folder(tmp_path, small_phantom):
    pred = tmp_path / "pred"
    pred.mkdir()
    for label in (small_phantom / "cbct" / "labelsTr").iterdir():
        shutil.copy(label, pred / label.name)
    record = api.evaluate(pred, small_phantom, "copy", results=tmp_path / "res", quiet=True)
    kept = tmp_path / "res" / record["run_id"] / "predictions" / "prediction"
    assert sorted(p.name for p in kept.iterdir()) == sorted(f"{case}.nii.gz" for case in record["prediction_files"])
    shutil.rmtree(pred)  # the report's example slices read the kept masks, not the originals
    html = to_html(api.report([tmp_path / "res"]))
    assert "Example slices" in html


# ------------------------------------------------------------------------------------------------ data synth


def test_data_synth_never_replaces_a_folder_it_did_not_write(tmp_path, small_phantom):
    imported = Path(shutil.copytree(small_phantom, tmp_path / "patients"))
    (imported / "notes.txt").write_text("my imported patients")
    before = sorted(p.relative_to(imported).as_posix() for p in imported.rglob("*"))
    result = cli("data", "synth", str(imported), "--size", "small", "--quiet")
    assert result.returncode == 2 and "data synth did not write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.relative_to(imported).as_posix() for p in imported.rglob("*")) == before
    # a folder data synth wrote is replaced; once a foreign file is added it is not
    ours = tmp_path / "ours"
    assert cli("data", "synth", str(ours), "--size", "small", "--quiet", "--preview").returncode == 0
    assert (ours / "preview.png").is_file()
    (ours / "cbct" / "mine.nii.gz").write_bytes(b"x")
    result = cli("data", "synth", str(ours), "--size", "small", "--quiet")
    assert result.returncode == 2 and "cbct/mine.nii.gz" in result.stderr
    assert cli("data", "synth", str(ours), "--size", "small", "--quiet", "--overwrite", "--seed", "1").returncode == 0
    assert not (ours / "cbct" / "mine.nii.gz").exists()
    assert json.loads((ours / "dataset.json").read_text())["generator"]["seed"] == 1
    assert cli("data", "synth", str(ours), "--size", "small", "--quiet").returncode == 0  # its own: replaced
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


# ------------------------------------------------------------------------------------------------ statistics


def test_leaderboard_statistics_do_not_depend_on_the_working_directory(tmp_path, small_phantom):
    """Runs started with a relative --data, reported from another directory (and after the dataset moved): the
    pairing stays per patient, from the case map stored with each run."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(small_phantom, work / "ds")
    for segmenter in ("unet", "densefcn57"):
        result = cli("run", "--translator", "none", "--segmenter", segmenter, "--fusion", "none", "--preset",
                     "smoke", "--quiet", "--data", "ds", "--results", "res", cwd=work)
        assert result.returncode == 0, result.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(str(work / "ds"), str(tmp_path / "moved"))
    result = cli("report", str(work / "res"), "--format", "json", "--reference", "CBCT only (unet)", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    row = next(r for r in json.loads(result.stdout)["rows"] if "densefcn57" in r["method"])
    test_cases = json.loads((tmp_path / "moved" / "splits.json").read_text())["cbct"]["test"]
    assert row["dsc_pairing"] == "patient" and row["dsc_units"] == len(test_cases)
    # without the stored map, and with the dataset gone, the report pairs scans and says so
    for run_json in (work / "res").glob("*/run.json"):
        record = json.loads(run_json.read_text())
        del record["dataset"]["cases"]
        run_json.write_text(json.dumps(record))
    board = api.report([work / "res"], reference="CBCT only (unet)")
    row = next(r for r in board.rows if r.components["segmenter"] == "densefcn57")
    assert row.comparisons["dsc"].pairing == "scan"
    assert any("paired per scan, not per patient" in note for note in board.notes)


# ------------------------------------------------------------------------------------------------ contours


def _contoured(work: Path, contours: list[np.ndarray], frame: str | None = None) -> dict:
    hu = np.full((6, 24, 24), -800, dtype=np.int16)
    hu[:, 4:20, 4:20] = 40
    series = write_series(work / "dicom", hu, spacing_xyz=(2.0, 2.0, 3.0), origin=(-24.0, -24.0, 0.0))
    write_rtstruct(work / "dicom" / "rs.dcm", dict(series, frame=frame or series["frame"]), {"GTV": contours})
    return series


def _imported_label(work: Path, *extra: str):
    result = cli("data", "import", str(work / "out"), "--dicom", str(work / "dicom"), "--quiet", *extra)
    labels = list((work / "out" / "cbct" / "labelsTr").iterdir()) if (work / "out").exists() else []
    return result, (sitk.GetArrayFromImage(sitk.ReadImage(str(labels[0]))) if labels else None)


def test_a_contour_drawn_twice_keeps_its_tumour(tmp_path):
    outline = rectangle(-10, 6, -10, 6, 6.0)
    _contoured(tmp_path, [rectangle(-10, 6, -10, 6, 3.0), outline, outline.copy(), rectangle(-10, 6, -10, 6, 9.0)])
    result, label = _imported_label(tmp_path)
    assert result.returncode == 0, result.stderr
    assert label.reshape(len(label), -1).sum(1).tolist() == [0, 64, 64, 64, 0, 0]
    assert "drawn twice on one slice counted once (z=6.00 mm)" in result.stderr


def test_nested_contours_make_holes_and_crossing_contours_are_unioned(tmp_path):
    holed = [rectangle(-13, 7, -13, 7, 3.0), rectangle(-7, -1, -7, -1, 3.0)]  # a 10x10 ring around a 3x3 hole
    crossing = [rectangle(-13, -3, -13, -3, 6.0), rectangle(-7, 3, -7, 3, 6.0)]  # 5x5 and 5x5 sharing 2x2
    _contoured(tmp_path, holed + crossing)
    result, label = _imported_label(tmp_path)
    assert result.returncode == 0, result.stderr
    assert label.reshape(len(label), -1).sum(1).tolist() == [0, 100 - 9, 25 + 25 - 4, 0, 0, 0]
    assert label[2, 10, 10] == 1  # the overlap of the crossing contours is tumour, not a hole
    assert "1 pair(s) of crossing contours unioned (z=6.00 mm)" in result.stderr


def test_contours_in_another_frame_of_reference_are_refused(tmp_path):
    from pydicom.uid import generate_uid

    _contoured(tmp_path, [rectangle(-10, 6, -10, 6, 6.0)], frame=generate_uid())
    result, label = _imported_label(tmp_path)
    assert result.returncode == 2 and "frame of reference" in result.stderr and label is None
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------ gantry tilt

TILT = np.radians(15.0)
BOX = (slice(8, 16), slice(6, 14))  # rows, columns of the bright tumour on every source slice


def _tilted(folder: Path, extra: dict | None = None, hu_zyx: np.ndarray | None = None, **kwargs) -> dict:
    """A series acquired with a 15 degree gantry tilt: tilted orientation, couch steps of 3 mm along the scanner's
    axis, so each slice's corner moves -3 sin(15) mm along the image columns: a sheared stack."""
    if hu_zyx is None:
        hu_zyx = np.full((8, 24, 24), -800, dtype=np.int16)
        hu_zyx[:, 2:22, 2:22] = 0
        hu_zyx[(slice(None), *BOX)] = 200
    return write_series(folder, hu_zyx, spacing_xyz=(2.0, 2.0, 3.0), origin=(-24.0, -24.0, 0.0),
                        col_dir=(0.0, np.cos(TILT), -np.sin(TILT)), step=(0.0, 0.0, 3.0), extra=extra, **kwargs)


@pytest.mark.parametrize("extra", [None, {"GantryDetectorTilt": 15}], ids=["geometry only", "with the tag"])
def test_a_gantry_tilted_series_is_refused_with_the_tilt_named(tmp_path, extra):
    series = _tilted(tmp_path / "dicom", extra)
    write_rtstruct(tmp_path / "dicom" / "rs.dcm", series, {"GTV": [plane_rectangle(series, 3, (5.5, 13.5),
                                                                                   (7.5, 15.5))]})
    result, label = _imported_label(tmp_path)
    assert result.returncode == 2 and label is None
    assert "gantry tilt 15.0°" in result.stderr and "--resample-tilt" in result.stderr
    assert ("GantryDetectorTilt 15°" in result.stderr) == (extra is not None)


def _world_centroids(image, weights: np.ndarray, slices: range) -> np.ndarray:
    """Per slice, the weighted centroid of its voxels in patient coordinates (mm)."""
    rows, cols = np.mgrid[:weights.shape[1], :weights.shape[2]]
    return np.array([image.TransformContinuousIndexToPhysicalPoint((
        float((cols * weights[k]).sum() / weights[k].sum()), float((rows * weights[k]).sum() / weights[k].sum()), k))
        for k in slices])


def test_resample_tilt_puts_image_and_label_on_one_orthogonal_grid_where_the_scanner_saw_them(tmp_path):
    series = _tilted(tmp_path / "dicom")
    contours = [plane_rectangle(series, k, (BOX[1].start - 0.5, BOX[1].stop - 0.5), (BOX[0].start - 0.5,
                                                                                      BOX[0].stop - 0.5))
                for k in range(1, 7)]
    write_rtstruct(tmp_path / "dicom" / "rs.dcm", series, {"GTV": contours})
    result, label = _imported_label(tmp_path, "--resample-tilt")
    assert result.returncode == 0, result.stderr
    assert "gantry tilt of 15.0°" in result.stderr
    image = sitk.ReadImage(str(next((tmp_path / "out" / "cbct" / "imagesTr").iterdir())))
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    assert np.allclose(direction.T @ direction, np.eye(3), atol=1e-6)  # orthogonal, so NIfTI holds it exactly
    # where the scanner put the tumour: its box centre on each source slice's own plane
    truth = np.array([plane_rectangle(series, k, (9.5, 9.5), (11.5, 11.5))[0] for k in range(1, 7)])
    pixels = np.clip(sitk.GetArrayFromImage(image).astype(float), 0, None)  # linear interpolation keeps centroids
    assert np.allclose(_world_centroids(image, pixels, range(1, 7)), truth, atol=0.05)
    # the label, rasterised on the same grid from the contours, is there too (to within half a voxel)
    assert label[1:7].sum() == 6 * 64
    assert np.abs(_world_centroids(image, label.astype(float), range(1, 7)) - truth).max() <= 1.0
    bright = sitk.GetArrayFromImage(image) > 100
    assert (label.astype(bool) & bright).sum() >= 0.95 * label.sum()


# ------------------------------------------------------------------------------------------------ field of view


@pytest.mark.parametrize("radius, warned", [(1.0, False), (0.6, True)], ids=["holds the body", "cuts the body"])
def test_data_check_warns_when_the_field_of_view_cuts_the_body(tmp_path, small_phantom, radius, warned):
    """Every CBCT case given a 0 HU cylinder outside a circle (as CBCT reconstructions write it): no intensity
    error from the padding, and a warning only when the circle cuts the body."""
    data = Path(shutil.copytree(small_phantom, tmp_path / "ds"))
    for label in (data / "cbct" / "labelsTr").iterdir():  # room around the body: 8 voxels more air on each side
        sitk.WriteImage(sitk.ConstantPad(sitk.ReadImage(str(label)), [8, 8, 0], [8, 8, 0], 0), str(label))
    for path in [*(data / "mri-aligned" / "imagesTr").iterdir(), *(data / "mri-aligned" / "labelsTr").iterdir()]:
        sitk.WriteImage(sitk.ConstantPad(sitk.ReadImage(str(path)), [8, 8, 0], [8, 8, 0], 0), str(path))  # its grid
    for path in (data / "cbct" / "imagesTr").iterdir():
        image = sitk.ConstantPad(sitk.ReadImage(str(path)), [8, 8, 0], [8, 8, 0], -1000)
        array = sitk.GetArrayFromImage(image)
        yy, xx = np.mgrid[:array.shape[1], :array.shape[2]]
        centre = (np.asarray(array.shape[1:]) - 1) / 2
        array[:, np.hypot(yy - centre[0], xx - centre[1]) > radius * centre[1]] = 0
        changed = sitk.GetImageFromArray(array)
        changed.CopyInformation(image)
        sitk.WriteImage(changed, str(path))
    result = cli("data", "check", str(data), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "implausible" not in result.stdout
    assert ("the field of view cuts the body" in result.stdout) == warned


# ------------------------------------------------------------------------------------------------ published text


def test_names_from_run_folders_reach_no_csv_cell_or_markdown_header_raw(tmp_path):
    """A method name with a carriage return before a formula, and a metric whose name and unit carry Markdown and
    HTML: no control character in any CSV cell, no formula at the start of one, and the Markdown header row
    escaped like its cells."""
    cases = {f"C{i}": 0.5 + 0.04 * i for i in range(6)}
    _run_folder(tmp_path / "res", "a0", "unet", 0, cases)
    run_dir = tmp_path / "res" / "a0"
    record = json.loads((run_dir / "run.json").read_text())
    record["metrics"] = {"x<img src=a>": {"unit": "[u](javascript:1)", "higher_is_better": True, "digits": 2}}
    (run_dir / "run.json").write_text(json.dumps(record))
    rows = pd.read_parquet(run_dir / "per_case.parquet")
    extra = rows.assign(metric="x<img src=a>")
    pd.concat([rows, extra]).to_parquet(run_dir / "per_case.parquet", index=False)
    api.evaluate(*_outside_method(tmp_path), "ok\r=HYPERLINK(\"http://x\")", results=tmp_path / "res", quiet=True)
    csv = cli("report", str(tmp_path / "res"), "--format", "csv").stdout
    parsed = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False)
    cells = [*parsed.columns, *parsed.to_numpy().ravel()]
    assert not any(re.search(r"[\x00-\x1f]", cell) for cell in cells)
    assert not any(cell.lstrip().startswith(("=", "+", "@")) for cell in cells)
    md = cli("report", str(tmp_path / "res"), "--format", "md").stdout
    header = md.splitlines()[0]
    assert "javascript" in header and not re.search(r"(?<!\\)<|(?<!\\)\]\(", header)  # escaped, not dropped


def _outside_method(work: Path) -> tuple[Path, Path]:
    """A plain folder of reference masks and the same masks as an outside method's predictions."""
    ref, pred = work / "ref", work / "pred"
    for folder in (ref, pred):
        folder.mkdir()
        for i in range(6):
            mask = np.zeros((4, 8, 8), dtype=np.uint8)
            mask[1:3, 2:6, 2:6] = 1
            sitk.WriteImage(sitk.GetImageFromArray(mask), str(folder / f"C{i}.nii.gz"))
    return pred, ref


# ------------------------------------------------------------------------------------------------ evaluate's input


def _header_only_nifti(path: Path, size_xyz: tuple[int, int, int]) -> None:
    """A NIfTI-1 file whose header announces ``size_xyz`` voxels but that holds almost no data (a compressed file
    that would unpack to gigabytes is the same to a reader that trusts the header)."""
    import struct

    sitk.WriteImage(sitk.Image(2, 2, 2, sitk.sitkUInt8), str(path))
    raw = bytearray(path.read_bytes())
    struct.pack_into("<3h", raw, 42, *size_xyz)  # dim[1..3] of the NIfTI-1 header
    path.write_bytes(bytes(raw))


def test_evaluate_reads_headers_first_and_never_reads_a_multi_label_map_as_a_mask(tmp_path):
    pred, ref = _outside_method(tmp_path)
    (pred / "C0.nii.gz").unlink()
    _header_only_nifti(pred / "C0.nii", (2000, 2000, 400))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(pred / "C1.nii.gz")))
    sitk.WriteImage(sitk.GetImageFromArray(labels * 2), str(pred / "C1.nii.gz"))  # a mask written as 0/2
    two = labels.copy()
    two[0, 0, 0] = 3  # a second structure
    sitk.WriteImage(sitk.GetImageFromArray(two), str(pred / "C2.nii.gz"))
    probability = labels.astype(np.float32) * 0.9 + 0.05
    sitk.WriteImage(sitk.GetImageFromArray(probability), str(pred / "C3.nii.gz"))
    record = api.evaluate(pred, ref, "m", results=tmp_path / "res", quiet=True)
    assert record["problems"]["geometry"] and "(2000, 2000, 400)" in record["problems"]["geometry"][0]
    assert record["problems"]["non_binary"] == ["C2", "C3"]  # C1 holds one non-zero value (2): a mask
    rows = pd.read_parquet(tmp_path / "res" / record["run_id"] / "per_case.parquet").query("metric == 'dsc'")
    flags = {case: flag if isinstance(flag, str) else None for case, flag in zip(rows["case"], rows["flag"])}
    assert flags == {"C0": "geometry_mismatch", "C1": None, "C2": "non_binary_prediction",
                     "C3": "non_binary_prediction", "C4": None, "C5": None}
    thresholded = api.evaluate(pred, ref, "m", results=tmp_path / "res", quiet=True, threshold=0.5)
    assert thresholded["problems"]["non_binary"] == []
    rows = pd.read_parquet(tmp_path / "res" / thresholded["run_id"] / "per_case.parquet").query("metric == 'dsc'")
    assert rows.set_index("case")["value"]["C3"] == pytest.approx(1.0)  # the probability map read as one


def test_patient_ids_that_differ_only_beyond_ascii_stay_two_patients(tmp_path):
    for k, patient in enumerate(("Zoë Ünal", "Zoé Ünal")):
        series = write_series(tmp_path / "dicom" / str(k), np.full((4, 16, 16), -500), patient=patient,
                              series_number=k + 1)
        write_rtstruct(tmp_path / "dicom" / str(k) / "rs.dcm", series, {"GTV": [rectangle(-40, -30, -40, -30, 3.0)]})
    result = cli("data", "import", str(tmp_path / "out"), "--dicom", str(tmp_path / "dicom"), "--quiet")
    assert result.returncode == 0, result.stderr
    cases = json.loads((tmp_path / "out" / "dataset.json").read_text())["cohorts"]["cbct"]["cases"]
    patients = sorted(entry["patient"] for entry in cases.values())
    assert len(set(patients)) == 2 and all(p.startswith("Zoe-Unal-") for p in patients)


def test_run_repeats_the_warnings_of_data_check_every_time(tmp_path, small_phantom):
    from tests.test_faults import slice_spacing_100

    data = Path(shutil.copytree(small_phantom, tmp_path / "ds"))
    slice_spacing_100(data)
    for _ in range(2):  # the second run finds the check's result in the cache, and still warns
        result = cli("run", "--translator", "none", "--segmenter", "unet", "--fusion", "none", "--preset", "smoke",
                     "--quiet", "--data", str(data), "--results", str(tmp_path / "res"), "--epochs", "1")
        assert result.returncode == 0, result.stderr
        warned = [line for line in result.stderr.splitlines() if line.startswith("warning: data check:")]
        assert len(warned) == 1 and "implausible voxel spacing" in warned[0]


# ------------------------------------------------------------------------------------------------ smaller faults


def test_rtstruct_carries_the_type_2_attributes_and_the_study_description(tmp_path):
    import pydicom

    from cmedl_bench.data.dicom_series import read_series, scan_folder, slice_geometry
    from cmedl_bench.data.rtstruct_writer import write_rtstruct as write_structure_set

    write_series(tmp_path / "dicom", np.full((3, 8, 8), -500), extra={"StudyDescription": "THORAX CBCT week 3"})
    files = next(iter(scan_folder(tmp_path / "dicom")[0].values()))
    mask = np.zeros((3, 8, 8), dtype=np.uint8)
    mask[1, 2:5, 2:5] = 1
    write_structure_set(tmp_path / "rs.dcm", mask, read_series(files, slice_geometry(files)), files, "GTV", "model")
    written = pydicom.dcmread(tmp_path / "rs.dcm")
    assert "OperatorsName" in written and "PositionReferenceIndicator" in written
    assert written.StudyDescription == "THORAX CBCT week 3"
    verified = subprocess.run(["dciodvfy", str(tmp_path / "rs.dcm")], capture_output=True, text=True)
    found = (verified.stdout + verified.stderr).splitlines()
    assert "RTStructureSet" in found and not [line for line in found if line.startswith("Error")], found


def test_a_multi_frame_ct_is_refused_with_a_line_that_says_so(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT Image Storage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Modality, ds.NumberOfFrames, ds.SeriesInstanceUID = "CT", 3, generate_uid()
    (tmp_path / "dicom").mkdir()
    ds.save_as(tmp_path / "dicom" / "enhanced.dcm", enforce_file_format=True)
    result = cli("data", "import", str(tmp_path / "out"), "--dicom", str(tmp_path / "dicom"), "--quiet")
    assert result.returncode == 2 and "multi-frame (Enhanced)" in result.stderr and "enhanced.dcm" in result.stderr


def test_a_truncated_slice_is_named(tmp_path):
    series = _contoured(tmp_path, [rectangle(-10, 6, -10, 6, 6.0)])
    broken = sorted((tmp_path / "dicom").glob("slice_*.dcm"))[2]
    broken.write_bytes(broken.read_bytes()[:-300])
    result, _ = _imported_label(tmp_path)
    assert result.returncode == 2 and f"{broken}: unreadable DICOM slice" in result.stderr, result.stderr
    assert series["series"] in result.stderr


def test_two_patients_without_splits_are_named_as_too_few(tmp_path, small_phantom):
    data = Path(shutil.copytree(small_phantom, tmp_path / "ds"))
    (data / "splits.json").unlink()
    meta = json.loads((data / "dataset.json").read_text())
    cases = meta["cohorts"]["cbct"]["cases"]
    meta["cohorts"]["cbct"]["cases"] = {k: v for k, v in cases.items() if v["patient"] in ("C000", "C001")}
    (data / "dataset.json").write_text(json.dumps(meta))
    result = cli("data", "check", str(data), "--quiet")
    assert result.returncode == 1 and "2 CBCT patient(s) cannot be split into train, val and test" in result.stdout
    assert "split has no cases" not in result.stdout


def test_an_operating_system_error_is_one_line_naming_the_path(tmp_path, small_phantom):
    (tmp_path / "a-file").write_text("not a folder")
    result = cli("run", "--translator", "none", "--segmenter", "unet", "--fusion", "none", "--preset", "smoke",
                 "--quiet", "--data", str(small_phantom), "--results", str(tmp_path / "a-file" / "results"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "a-file" in lines[0] and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------------ weekly scans


def _weekly_image_folders(work: Path, phantom: Path) -> tuple[Path, Path]:
    """The small phantom's CBCT scans as nnU-Net-style image files (``C000W1_0000.nii.gz``) and label maps."""
    images, labels = work / "imgs", work / "lbls"
    shutil.copytree(phantom / "cbct" / "imagesTr", images)
    shutil.copytree(phantom / "cbct" / "labelsTr", labels)
    return images, labels


def test_image_import_keeps_the_weekly_scans_of_a_patient_together(tmp_path, small_phantom):
    """Weekly scans imported from files are grouped into patients by their visit suffix, so the generated
    patient-level split never puts two weeks of one patient in two splits; --patient-per-case opts out."""
    images, labels = _weekly_image_folders(tmp_path, small_phantom)
    result = cli("data", "import", str(tmp_path / "ds"), "--images", str(images), "--labels", str(labels), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "8 cases grouped into 4 patients" in result.stderr
    cases = json.loads((tmp_path / "ds" / "dataset.json").read_text())["cohorts"]["cbct"]["cases"]
    assert {case: entry["patient"] for case, entry in cases.items()} == {
        f"C{p:03d}W{w}": f"C{p:03d}" for p in range(4) for w in (1, 2)}
    checked = cli("data", "check", str(tmp_path / "ds"), "--quiet", "--json")
    assert checked.returncode == 0, checked.stdout
    per_case = cli("data", "import", str(tmp_path / "own"), "--images", str(images), "--labels", str(labels),
                   "--quiet", "--patient-per-case")
    assert per_case.returncode == 0 and not per_case.stderr.strip()
    cases = json.loads((tmp_path / "own" / "dataset.json").read_text())["cohorts"]["cbct"]["cases"]
    assert all(entry["patient"] == case for case, entry in cases.items())


def test_data_check_warns_when_visits_of_one_patient_sit_in_different_splits(tmp_path, small_phantom):
    data = Path(shutil.copytree(small_phantom, tmp_path / "ds"))
    meta = json.loads((data / "dataset.json").read_text())
    splits = json.loads((data / "splits.json").read_text())
    moved = splits["cbct"]["train"][0]  # its second week becomes a patient of its own, in the test split
    for cohort in ("cbct", "mri-aligned"):  # the aligned MRI of a scan belongs to the scan's patient
        meta["cohorts"][cohort]["cases"][f"{moved}W2"]["patient"] = f"{moved}b"
        splits[cohort]["test"].append(f"{moved}b")
    (data / "dataset.json").write_text(json.dumps(meta))
    (data / "splits.json").write_text(json.dumps(splits))
    result = cli("data", "check", str(data), "--quiet")
    assert result.returncode == 0, result.stdout
    assert f"read as visits of one patient ({moved})" in result.stdout and "test, train" in result.stdout
