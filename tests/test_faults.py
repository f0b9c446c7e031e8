"""The fault table: broken, hostile and unusual inputs given to the command line as a user (or an adversary) would.

Each row builds its inputs in a fresh work folder, runs one command in a subprocess and asserts the exit code, the
one line it prints (on stderr, or the finding on stdout where the verb reports to stdout) and that nothing changed
in the work folder except what the row allows (every file is hashed before and after). Rows that need a trained run
share one smoke run made once per module.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from pydicom.uid import generate_uid

from cmedl_bench.stages.run_folder import LOCK_NAME
from tests.conftest import cli
from tests.dicom_builder import rectangle, write_rtstruct, write_series

SMOKE = ("run", "--translator", "none", "--segmenter", "unet", "--fusion", "none", "--preset", "smoke", "--quiet")


@dataclass
class World:
    """What the rows build on: a copy of the small phantom and a results folder with one finished smoke run."""

    phantom: Path
    trained: Path  # results folder holding one finished run
    run_id: str
    data: Path  # the dataset the trained run used (its path is part of the run's hash)


@dataclass
class Row:
    name: str
    build: Callable[[Path, World], list[str]]  # prepares the work folder, returns the command's arguments
    code: int
    line: str  # what the single stderr line says (a fragment); "" when stderr must stay empty
    changes: tuple[str, ...] = ()  # folders under the work folder that may change
    stdout: str = ""  # a fragment stdout must hold
    check: Callable[[Path], None] | None = None  # more assertions on the work folder afterwards
    cwd: bool = False  # run in the work folder (for relative paths)
    absent: tuple[str, ...] = field(default=("Traceback",))  # regular expressions no output may match


# ------------------------------------------------------------------------------------------------ building blocks


def _copy(world: World, work: Path) -> Path:
    return Path(shutil.copytree(world.phantom, work / "ds"))


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _rename_case(ds: Path, old: str, new: str) -> None:
    """List case ``old`` under the id ``new`` in dataset.json (the files stay where they are)."""
    def change(meta):
        cases = meta["cohorts"]["cbct"]["cases"]
        cases[new] = cases.pop(old)
    _edit_json(ds / "dataset.json", change)


def _dataset_with(world: World, work: Path, change: Callable[[Path], None]) -> list[str]:
    ds = _copy(world, work)
    change(ds)
    return [*SMOKE, "--data", str(ds), "--results", str(work / "res")]


def _rewrite_image(path: Path, transform: Callable) -> None:
    image = sitk.ReadImage(str(path))
    out = transform(image)
    sitk.WriteImage(out, str(path))


def _array_image(array: np.ndarray, like) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(like)
    return image


def _ct_series(folder: Path, offsets: list[float], patient: str = "P001", **kwargs) -> dict:
    rng = np.random.default_rng(0)
    hu = np.full((len(offsets), 24, 24), -800, dtype=np.int16)
    hu[:, 4:20, 4:20] = 40 + rng.integers(-5, 5, (len(offsets), 16, 16))
    return write_series(folder, hu, spacing_xyz=(2.0, 2.0, 3.0), origin=(-24.0, -24.0, 0.0), offsets=offsets,
                        patient=patient, **kwargs)


def _gtv(series: dict, zs: list[float]) -> dict:
    return {"GTV": [rectangle(-10, 6, -10, 6, z) for z in zs]}


def _dicom(work: Path, offsets: list[float], contour_z: list[float], patient: str = "P001",
           extra_rois: dict | None = None) -> dict:
    series = _ct_series(work / "dicom", offsets, patient)
    write_rtstruct(work / "dicom" / "rs.dcm", series, _gtv(series, contour_z) | (extra_rois or {}))
    return series


def _import(work: Path, *extra: str) -> list[str]:
    return ["data", "import", str(work / "out"), "--dicom", str(work / "dicom"), "--quiet", *extra]


EVEN = [0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0]


def _trained(world: World, work: Path, corrupt: Callable[[Path], None]) -> list[str]:
    res = Path(shutil.copytree(world.trained, work / "res"))
    corrupt(res / world.run_id)
    return [*SMOKE, "--data", str(world.data), "--results", str(res)]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _save_without_weights(path: Path) -> None:
    import torch

    torch.save({"epoch": 1, "optimizers": {}}, path)


def _interrupted(run_dir: Path) -> None:
    _edit_json(run_dir / "run.json", lambda r: r.update(status="interrupted"))


def _predictions(world: World, work: Path, transform: Callable | None = None, only_first: bool = False) -> Path:
    """The phantom's own test labels as a method's predictions (transformed: all, or only the first)."""
    pred = work / "pred"
    pred.mkdir(parents=True)
    splits = json.loads((world.phantom / "splits.json").read_text())
    cases = [c for c in sorted((world.phantom / "cbct" / "labelsTr").iterdir()) if c.name[:4] in splits["cbct"]["test"]]
    for k, case in enumerate(cases):
        image = sitk.ReadImage(str(case))
        changed = transform is not None and (k == 0 or not only_first)
        sitk.WriteImage(transform(image) if changed else image, str(pred / case.name))
    return pred


def _evaluate(world: World, work: Path, name: str, ref: Path | None = None, pred: Path | None = None) -> None:
    from cmedl_bench import api

    pred = pred or (work / "pred" if (work / "pred").exists() else _predictions(world, work))
    api.evaluate(pred, ref or world.phantom, name, results=work / "res", quiet=True)


def _grown_reference(work: Path) -> Path:
    """The predictions' masks dilated by one voxel, as a plain folder of other reference masks."""
    ref = work / "ref-grown"
    ref.mkdir()
    for case in (work / "pred").iterdir():
        sitk.WriteImage(sitk.BinaryDilate(sitk.ReadImage(str(case)), [1, 1, 1]), str(ref / case.name))
    return ref


def _file(work: Path, name: str) -> Path:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a folder")
    return path


# ------------------------------------------------------------------------------------------------ the table

ROWS = [
    # 1. identifiers are data, never paths
    Row("case id with ../ in dataset.json: run refuses, writes nothing",
        lambda w, W: _dataset_with(W, w, lambda ds: _rename_case(ds, "C000W1", "../escape/X")),
        2, "not a valid identifier"),
    Row("case id '..': run refuses", lambda w, W: _dataset_with(W, w, lambda ds: _rename_case(ds, "C000W1", "..")),
        2, "not a valid identifier"),
    Row("patient id with a separator: run refuses",
        lambda w, W: _dataset_with(W, w, lambda ds: _edit_json(
            ds / "dataset.json", lambda m: m["cohorts"]["cbct"]["cases"]["C000W1"].update(patient="a/b"))),
        2, "patient id 'a/b' is not a valid identifier"),
    Row("case id with ../: data check names dataset.json",
        lambda w, W: check_after(W, w, lambda ds: _rename_case(ds, "C000W1", "../escape/X")),
        1, "", stdout="not a valid identifier"),
    Row("file_ending that climbs out of the dataset: refused",
        lambda w, W: _dataset_with(W, w, lambda ds: _edit_json(ds / "dataset.json",
                                                                lambda m: m.update(file_ending="/../../x"))),
        2, "file_ending '/../../x' is not one of"),
    Row("data import --case ../x: refused before reading",
        lambda w, W: (_dicom(w, EVEN, [6.0]), _import(w, "--case", "../x"))[1], 2, "--case: case id '../x'"),
    Row("DICOM PatientID '..': one line, no stray image",
        lambda w, W: (_dicom(w, EVEN, [6.0], patient=".."), _import(w))[1], 2, "PatientID '..' gives no usable"),
    Row("DICOM PatientID '.': one line",
        lambda w, W: (_dicom(w, EVEN, [6.0], patient="."), _import(w))[1], 2, "PatientID '.' gives no usable"),
    Row("DICOM PatientID '../../etc': made an identifier, written inside the dataset only",
        lambda w, W: (_dicom(w, EVEN, [6.0], patient="../../etc"), _import(w))[1], 0, "", changes=("out",),
        check=lambda w: assert_listed(w / "out", "etc-7baf5c_20240102_1")),
    # 2. DICOM geometry is verified, not assumed
    Row("DICOM series with a missing slice: the gap is named",
        lambda w, W: (_dicom(w, [0, 3, 6, 12, 15, 18, 21], [6.0, 12.0]), _import(w))[1],
        2, "a gap of 6.00 mm between z=6.00 and z=12.00 mm (expected spacing 3.00 mm"),
    Row("DICOM series with a duplicated slice", lambda w, W: (_dicom(w, [0, 3, 3, 6, 9], [3.0]), _import(w))[1],
        2, "duplicated slice at z=3.00 mm"),
    Row("DICOM series with uneven spacing", lambda w, W: (_dicom(w, [0, 3, 6, 9.5, 12.5, 15.5], [6.0]),
                                                          _import(w))[1],
        2, "uneven slice spacing: a gap of 3.50 mm"),
    Row("--resample-slices puts a gapped series on a uniform grid and says so",
        lambda w, W: (_dicom(w, [0, 3, 6, 12, 15, 18, 21], [6.0, 12.0]), _import(w, "--resample-slices"))[1],
        0, "resampled onto a uniform grid at 3.00 mm", changes=("out",),
        check=lambda w: assert_grid(w / "out", slices=8, spacing=3.0)),
    Row("single-slice series takes its SliceThickness", lambda w, W: (_dicom(w, [0.0], [0.0]), _import(w))[1],
        0, "", changes=("out",), check=lambda w: assert_grid(w / "out", slices=1, spacing=3.0)),
    Row("contour between two slices: ROI and z named",
        lambda w, W: (_dicom(w, EVEN, [6.0, 7.5]), _import(w))[1], 2, "ROI 'GTV': a contour at z=7.50 mm lies "
                                                                       "between slices"),
    Row("referenced series absent: refused, --series suggested",
        lambda w, W: absent_reference(w, with_series=False), 2, "name the series to use with --series UID"),
    Row("referenced series absent, --series names it: imported",
        lambda w, W: absent_reference(w, with_series=True), 0, "", changes=("out",)),
    Row("ROI without a contour on the series: warned",
        lambda w, W: (_dicom(w, EVEN, [6.0], extra_rois={"GTV_node": []}), _import(w))[1],
        0, "ROI 'GTV_node' has no contour on series", changes=("out",)),
    # 3. orientation
    Row("evaluate: a prediction written in RAS order is re-indexed, scored exactly, not dropped",
        lambda w, W: ["evaluate", "--pred", str(_predictions(W, w, lambda i: sitk.DICOMOrient(i, "RAS"))), "--ref",
                      str(W.phantom), "--name", "ras", "--results", str(w / "res"), "--quiet", "--json"],
        0, "re-indexed onto it", changes=("res",), check=lambda w: assert_scored(w / "res", [(1.0, None)] * 2)),
    Row("evaluate: a prediction on another grid is scored as empty with a flag, never dropped from n",
        lambda w, W: ["evaluate", "--pred", str(_predictions(W, w, coarser, only_first=True)), "--ref",
                      str(W.phantom), "--name", "coarse", "--results", str(w / "res"), "--quiet", "--json"],
        0, "1 prediction(s) not on the reference grid, scored as empty", changes=("res",),
        check=lambda w: assert_scored(w / "res", [(0.0, "geometry_mismatch"), (1.0, None)])),
    Row("data check reports mixed orientations", lambda w, W: check_after(W, w, reorient_case),
        0, "", stdout="mixed orientations"),
    # 4. run folders under corruption
    Row("truncated run.json: one line naming it and --force",
        lambda w, W: _trained(W, w, lambda d: _truncate(d / "run.json")), 2, "run.json is corrupt or unreadable"),
    Row("run.json that is not an object", lambda w, W: _trained(W, w, lambda d: (d / "run.json").write_text("[1]")),
        2, "is not a run record"),
    Row("--force recovers from a truncated run.json",
        lambda w, W: [*_trained(W, w, lambda d: _truncate(d / "run.json")), "--force"], 0, "run folder:",
        changes=("res",),
        check=lambda w: assert_status(w / "res", "finished")),
    Row("corrupt last.pt of an interrupted run: one line, no torch traceback",
        lambda w, W: _trained(W, w, lambda d: (_interrupted(d), (d / "last.pt").write_bytes(b"PK\x03\x04junk"))),
        2, "last.pt is corrupt or unreadable", changes=("res",), absent=("Traceback", "weights_only")),
    Row("last.pt without its weights: one line naming it",
        lambda w, W: _trained(W, w, lambda d: (_interrupted(d), _save_without_weights(d / "last.pt"))),
        2, "last.pt has no 'weights' dict", changes=("res",)),
    Row("corrupt best.pt found before training resumes",
        lambda w, W: _trained(W, w, lambda d: (_interrupted(d), _truncate(d / "best.pt"))),
        2, "best.pt is corrupt or unreadable", changes=("res",)),
    Row("sensitivity on a truncated run.json",
        lambda w, W: ["sensitivity", str(Path(_trained(W, w, lambda d: _truncate(d / "run.json"))[-1]) / W.run_id),
                      "--quiet"], 2, "run.json is corrupt"),
    Row("report skips a run whose per-case table is truncated, and lists why",
        lambda w, W: ["report", str(Path(_trained(W, w, lambda d: _truncate(d / "per_case.parquet"))[-1])),
                      str(second_run(w, W)), "--format", "md"],
        0, "", stdout="unreadable per\\_case.parquet"),
    Row("report skips a run.json with wrong field types",
        lambda w, W: ["report", str(Path(_trained(W, w, lambda d: _edit_json(
            d / "run.json", lambda r: r.update(seed="zero")))[-1])), str(second_run(w, W)), "--format", "md"],
        0, "", stdout="field 'seed' is str"),
    # 5. reports are safe to publish
    Row("Markdown: HTML in a method name is escaped",
        lambda w, W: (_evaluate(W, w, "<script>alert(1)</script><img src=x onerror=alert(2)>"),
                      ["report", str(w / "res"), "--format", "md"])[1],
        0, "", stdout="\\<script\\>", absent=(r"(?<!\\)<(script|img)",)),
    Row("Markdown: links in a method name are neutralised, newlines do not break the table",
        lambda w, W: (_evaluate(W, w, "[click](javascript:alert(1))\nx|y"), ["report", str(w / "res"),
                                                                              "--format", "md"])[1],
        0, "", stdout="\\[click\\]\\(javascript\\:alert", absent=(r"\]\(javascript", r"\nx\|y")),
    Row("CSV: a formula in a method name is defused",
        lambda w, W: (_evaluate(W, w, "=HYPERLINK(\"http://x\")"), ["report", str(w / "res"), "--format", "csv"])[1],
        0, "", stdout="'=HYPERLINK", absent=(r"(^|,)=HYPERLINK",)),
    Row("results against different reference masks are labelled and never tested against each other",
        lambda w, W: two_reference_sets(w, W), 0, "", stdout="other reference masks\\: not tested"),
    # 6. one line and exit 2 for bad options and inputs
    Row("--epochs 0", lambda w, W: [*SMOKE, "--data", str(W.phantom), "--epochs", "0", "--results", str(w / "res")],
        2, "--epochs must be a whole number of at least 1"),
    Row("--foreground outside (0, 1]", lambda w, W: [*SMOKE, "--data", str(W.phantom), "--foreground", "1.5",
                                                     "--results", str(w / "res")], 2, "--foreground must be a fraction"),
    Row("--lambda-hint below zero", lambda w, W: ["run", "--lambda-hint", "-1", "--preset", "smoke", "--data",
                                                   str(W.phantom), "--results", str(w / "res"), "--quiet"],
        2, "--lambda-hint must not be negative"),
    Row("--threads 0", lambda w, W: [*SMOKE, "--data", str(W.phantom), "--threads", "0", "--results", str(w / "res")],
        2, "--threads must be a whole number of at least 1"),
    Row("--seed -5, before any folder is made",
        lambda w, W: [*SMOKE, "--data", str(W.phantom), "--seed", "-5", "--results", str(w / "res")],
        2, "--seed must be a non-negative whole number"),
    Row("--results pointing to a file", lambda w, W: [*SMOKE, "--data", str(W.phantom), "--results",
                                                      str(_file(w, "results.txt"))], 2, "is a file"),
    Row("evaluate --results pointing to a file",
        lambda w, W: ["evaluate", "--pred", str(_predictions(W, w)), "--ref", str(W.phantom), "--name", "m",
                      "--results", str(_file(w, "results.txt")), "--quiet"], 2, "is a file"),
    Row("--gpus 3 --device cpu with a batch of 4",
        lambda w, W: [*SMOKE, "--data", str(W.phantom), "--gpus", "3", "--device", "cpu", "--results",
                      str(w / "res")], 2, "batch_size (4) cannot be split over 3 processes"),
    Row("a path with rich markup characters is printed as it is",
        lambda w, W: [*SMOKE, "--data", str(w / "a[/]b[red]"), "--results", str(w / "res")],
        2, "a[/]b[red] does not exist"),
    Row("dataset.json case entry of the wrong type",
        lambda w, W: _dataset_with(W, w, lambda ds: _edit_json(
            ds / "dataset.json", lambda m: m["cohorts"]["cbct"]["cases"].update(C000W1=["x"]))),
        2, "entry must be a mapping, not list"),
    Row("splits.json with a string where a list belongs",
        lambda w, W: _dataset_with(W, w, lambda ds: _edit_json(
            ds / "splits.json", lambda s: s["cbct"].update(train="C000"))),
        2, "cbct/train must be a list of patient id strings"),
    Row("split_seed that is not a number",
        lambda w, W: _dataset_with(W, w, lambda ds: ((ds / "splits.json").unlink(), _edit_json(
            ds / "dataset.json", lambda m: m.update(split_seed="x")))),
        2, "split_seed must be an integer"),
    Row("a vector (2-component) image passes no check",
        lambda w, W: _dataset_with(W, w, lambda ds: _rewrite_image(
            ds / "cbct" / "imagesTr" / "C000W1_0000.nii.gz", lambda i: sitk.Compose(i, i))),
        2, "2 components per voxel"),
    Row("NaN voxels in a .nii.gz are found (SimpleITK reads them as 0)",
        lambda w, W: _dataset_with(W, w, lambda ds: _rewrite_image(
            ds / "cbct" / "imagesTr" / "C001W1_0000.nii.gz",
            lambda i: _array_image(np.where(np.arange(np.prod(i.GetSize())).reshape(i.GetSize()[::-1]) == 7,
                                            np.nan, sitk.GetArrayFromImage(i).astype(np.float32)), i))),
        2, "1 NaN or infinite voxels"),
    Row("100 mm slice spacing is flagged as implausible", lambda w, W: check_after(W, w, slice_spacing_100),
        0, "", stdout="implausible voxel spacing"),
    Row("data synth into a file", lambda w, W: ["data", "synth", str(_file(w, "notes.txt")), "--size", "small",
                                                "--quiet"], 2, "is a file; give a folder"),
    Row("data synth into a folder with other content never replaces it",
        lambda w, W: ["data", "synth", str(_file(w, "mine/notes.txt").parent), "--size", "small", "--quiet"],
        2, "is a folder with other content"),
    Row("report --out pointing to a folder",
        lambda w, W: ["report", str(W.trained), "--format", "md", "--out", str(w)], 2, "is a folder; give a file"),
    Row("image import from relative paths records absolute sources",
        lambda w, W: image_folders(w, W), 0, "", changes=("out",), cwd=True,
        check=lambda w: assert_absolute_sources(w / "out")),
]


# ------------------------------------------------------------------------------------------------ row helpers


def check_after(world: World, work: Path, change: Callable[[Path], None]) -> list[str]:
    ds = _copy(world, work)
    change(ds)
    return ["data", "check", str(ds), "--quiet"]


def slice_spacing_100(ds: Path) -> None:
    """C000W1 (image and label, and its aligned MRI) with 100 mm between slices: only the spacing rule can fire."""
    def respace(image):
        image.SetSpacing((*image.GetSpacing()[:2], 100.0))
        return image
    for cohort in ("cbct", "mri-aligned"):
        for path in (ds / cohort / "imagesTr" / "C000W1_0000.nii.gz", ds / cohort / "labelsTr" / "C000W1.nii.gz"):
            _rewrite_image(path, respace)


def coarser(image):
    """The same mask on a grid of twice the spacing (half the voxels): not the reference grid."""
    return sitk.Resample(image, [s // 2 for s in image.GetSize()], sitk.Transform(), sitk.sitkNearestNeighbor,
                         image.GetOrigin(), [2 * s for s in image.GetSpacing()], image.GetDirection())


def assert_listed(dataset: Path, case_id: str) -> None:
    meta = json.loads((dataset / "dataset.json").read_text())
    assert case_id in meta["cohorts"]["cbct"]["cases"]


def assert_grid(dataset: Path, slices: int, spacing: float) -> None:
    (image_file,) = (dataset / "cbct" / "imagesTr").iterdir()
    image = sitk.ReadImage(str(image_file))
    assert image.GetSize()[2] == slices and image.GetSpacing()[2] == pytest.approx(spacing)


def assert_scored(results: Path, expected: list[tuple[float, str | None]]) -> None:
    """Per test case in case order: (DSC, flag). The small phantom's test patient has two weekly scans, so two rows
    mean that none was dropped."""
    (run_dir,) = results.iterdir()
    rows = pd.read_parquet(run_dir / "per_case.parquet")
    dsc_rows = rows[rows["metric"] == "dsc"].sort_values("case")
    found = [(value, None if pd.isna(flag) else flag) for value, flag in zip(dsc_rows["value"], dsc_rows["flag"])]
    assert [(pytest.approx(v), f) for v, f in expected] == found


def assert_status(results: Path, status: str) -> None:
    (run_dir,) = results.iterdir()
    assert json.loads((run_dir / "run.json").read_text())["status"] == status


def assert_absolute_sources(dataset: Path) -> None:
    meta = json.loads((dataset / "dataset.json").read_text())
    for entry in meta["cohorts"]["cbct"]["cases"].values():
        assert Path(entry["source"]["image"]).is_absolute() and Path(entry["source"]["label"]).is_absolute()


def absent_reference(work: Path, with_series: bool) -> list[str]:
    """An RTSTRUCT referencing a series that is not in the folder; another series of its frame of reference is."""
    present = _ct_series(work / "dicom", EVEN)
    referenced = dict(present, series=generate_uid())
    write_rtstruct(work / "dicom" / "rs.dcm", referenced, _gtv(referenced, [6.0]))
    return _import(work, *(("--series", present["series"]) if with_series else ()))


def reorient_case(ds: Path) -> None:
    for path in (ds / "cbct" / "imagesTr" / "C001W2_0000.nii.gz", ds / "cbct" / "labelsTr" / "C001W2.nii.gz"):
        _rewrite_image(path, lambda i: sitk.DICOMOrient(i, "RAS"))


def second_run(work: Path, world: World) -> Path:
    """A second, intact results folder (an outside method scored on the same test masks)."""
    _evaluate(world, work / "second", "intact")
    return work / "second" / "res"


def two_reference_sets(work: Path, world: World) -> list[str]:
    """The same predictions scored against the phantom's masks and against grown masks; the report is asked to
    test every row against one of them."""
    from cmedl_bench import api

    pred = _predictions(world, work)
    _evaluate(world, work, "M", ref=world.phantom, pred=pred)
    _evaluate(world, work, "M", ref=_grown_reference(work), pred=pred)
    labels = [row.label for row in api.report([work / "res"]).rows]
    assert len(labels) == 2 and all("[reference" in label for label in labels)
    return ["report", str(work / "res"), "--format", "md", "--reference", labels[0]]


def image_folders(work: Path, world: World) -> list[str]:
    for kind, folder in (("imagesTr", "imgs"), ("labelsTr", "lbls")):
        (work / folder).mkdir()
        source = world.phantom / "cbct" / kind / ("C000W1_0000.nii.gz" if kind == "imagesTr" else "C000W1.nii.gz")
        shutil.copy(source, work / folder / "C000W1.nii.gz")
    return ["data", "import", "out", "--images", "imgs", "--labels", "lbls", "--quiet"]


def _tree(root: Path, allowed: tuple[str, ...]) -> dict[str, str]:
    """Every file's digest, except under ``allowed`` and run folders' locks (a claim writes its pid there)."""
    skip = [root / a for a in allowed]
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != LOCK_NAME and not any(s == p or s in p.parents for s in skip)}


@pytest.fixture(scope="module")
def world(tmp_path_factory, small_phantom) -> World:
    from cmedl_bench import api

    root = tmp_path_factory.mktemp("world")
    data = Path(shutil.copytree(small_phantom, root / "data"))
    record = api.run(translator="none", segmenter="unet", fusion="none", data=data, preset="smoke",
                     results=root / "trained", quiet=True)
    return World(small_phantom, root / "trained", record["run_id"], data)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_fault(row: Row, world: World, tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    args = row.build(work, world)
    before = _tree(work, row.changes)
    world_before = _tree(world.trained, ())
    result = cli(*args, cwd=work if row.cwd else None)
    assert result.returncode == row.code, result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if row.line:
        assert len(lines) == 1 and row.line in lines[0], result.stderr
    else:
        assert not lines, result.stderr
    assert row.stdout in result.stdout, result.stdout
    for pattern in row.absent:
        assert not re.search(pattern, result.stdout + result.stderr), pattern
    assert _tree(work, row.changes) == before  # nothing outside the intended folder changed
    assert _tree(world.trained, ()) == world_before
    if row.check:
        row.check(work)


def test_the_table_has_a_row_for_every_kind_of_fault():
    assert len(ROWS) >= 35


# ------------------------------------------------------------------------------------------------ beyond the table


def test_two_identical_runs_started_together_end_with_one_finished_run(tmp_path, small_phantom):
    import os
    import subprocess
    import sys

    data = shutil.copytree(small_phantom, tmp_path / "data")
    command = [sys.executable, "-m", "cmedl_bench", *SMOKE, "--data", str(data), "--results", str(tmp_path / "res")]
    env = {**os.environ, "COLUMNS": "200"}
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    (run_dir,) = (tmp_path / "res").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "finished" and "error" not in record
    assert sum("already finished" in err for _, err in outputs) == 1  # the second waited, then found the first's
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == [".lock"]  # no temporary file left


def test_killed_generation_leaves_no_worker_and_its_staging_is_removed_next_time(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "phantom"
    generation = subprocess.Popen([sys.executable, "-m", "cmedl_bench", "data", "synth", str(out), "--quiet"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and not (workers and list(tmp_path.glob(".phantom.synth-*/*/*/imagesTr/*"))):
        workers = _children(generation.pid)
        time.sleep(0.2)
    assert workers, "the generation started no worker"
    generation.send_signal(signal.SIGKILL)
    generation.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)
    assert list(tmp_path.glob(".phantom.synth-*"))  # the killed run could not clean up ...
    result = cli("data", "synth", str(out), "--size", "small", "--quiet")
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob(".phantom.*"))  # ... the next start did


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_grids_that_hold_the_same_voxels_map_exactly_and_others_do_not():
    from cmedl_bench.io.geometry import index_mapping, onto_grid

    array = np.random.default_rng(0).integers(0, 2, (5, 6, 7)).astype(np.uint8)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0, 1.5, 3.0))
    image.SetOrigin((-10.0, 5.0, 2.0))
    for code in ("RAS", "LPI", "SLP"):
        moved = sitk.DICOMOrient(image, code)
        assert index_mapping(moved, image) is not None
        back = onto_grid(moved, image)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(back), array)
    shifted = sitk.Image(image)
    shifted.SetOrigin((-9.5, 5.0, 2.0))  # half a voxel: not the same voxels
    assert index_mapping(shifted, image) is None and onto_grid(shifted, image) is None


def test_training_reads_every_scan_in_one_orientation_and_writes_back_on_its_own_grid(tmp_path, small_phantom):
    from cmedl_bench.data.layout import load_index, read_volume, write_on_source_grid

    ds = Path(shutil.copytree(small_phantom, tmp_path / "ds"))
    case = load_index(ds).cases["cbct"]["C001W2"]
    original = read_volume(case)
    reorient_case(ds)
    reoriented = read_volume(case)
    assert reoriented.source_orientation == "RAS" and original.source_orientation == "LPS"
    np.testing.assert_array_equal(reoriented.image, original.image)
    np.testing.assert_array_equal(reoriented.label, original.label)
    write_on_source_grid(tmp_path / "mask.nii.gz", reoriented.label, reoriented)
    written, source = sitk.ReadImage(str(tmp_path / "mask.nii.gz")), sitk.ReadImage(str(case.label_path))
    assert written.GetDirection() == pytest.approx(source.GetDirection())
    assert written.GetOrigin() == pytest.approx(source.GetOrigin())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(source))


def test_everything_that_changes_results_enters_the_configuration_hash():
    from cmedl_bench.config import RunConfig

    base = RunConfig()
    assert len({base.hash(), RunConfig(processes=2).hash(), RunConfig(device_type="cuda").hash()}) == 3
