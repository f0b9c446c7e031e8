"""``predict``: apply a trained CBCT model to new scans (the paper's point: only the CBCT network is needed at test
time).

Per scan, into ``OUT/<scan id>/``: ``mask.nii.gz`` (binary, probability > 0.5) and ``probability.nii.gz`` (uint8
with scale factor 1/255: readers return the probability to within 1/510, :func:`cmedl_bench.io.nifti.
write_fraction_map`) on the input's own grid (size, spacing, origin and direction copied from the input),
``rtstruct.dcm`` for DICOM input (:mod:`cmedl_bench.data.rtstruct_writer`) and ``seg.dcm``, a DICOM SEG
(:mod:`cmedl_bench.data.seg_writer`), with ``--uncertainty N`` ``uncertainty_sd.nii.gz``, and ``preview.png``.
In ``OUT``: ``predictions.csv`` and ``.parquet`` (patient, scan date, tumour volume in cc, uncertainty score,
flag), ``volume_over_time.png`` when a patient has several timepoints, and ``prediction.json`` (the model's
provenance, options, versions and git revision).

Preprocessing and inference (whole slices, or sliding windows for a head that is not window-invariant) are the
training run's own (:meth:`cmedl_bench.fusion.Fusion.predict_probability`); the scan's body mask is computed once,
for preprocessing and for the plausibility check. Uncertainty is test-time dropout on the head network's last two layers
(:class:`cmedl_bench.engine.dropout.WeightDropout`, paper III.E): the per-voxel SD of the N passes' probabilities,
and per scan 1 - the mean DSC of each pass's mask against the mask of the mean probability (0: every pass agrees);
a scan whose score exceeds the threshold is flagged. The mask itself is the unperturbed network's. No
post-processing is applied.

Every input is checked before anything is written, outputs are written to a staging folder inside ``OUT`` and moved
into place together at the end: an interruption leaves ``OUT`` as it was. A scan that fails (a broken file, a
series the model cannot read) does not cost the others their outputs: they are written, and the command ends with
one line naming each failed scan and why (exit 2).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from cmedl_bench.data.layout import Case, canonical_volume, on_source_grid
from cmedl_bench.data.preprocessing import body_mask, prepare
from cmedl_bench.data.scan_inputs import NewScan, resolve_scans
from cmedl_bench.engine.devices import apply_threads
from cmedl_bench.engine.dropout import WeightDropout
from cmedl_bench.errors import CmedlError
from cmedl_bench.io.atomic import atomic_write_json
from cmedl_bench.io.images import write_image
from cmedl_bench.io.nifti import write_fraction_map
from cmedl_bench.io.staging import new_staging
from cmedl_bench.results.records import git_revision, now, package_versions
from cmedl_bench.scoring import dice
from cmedl_bench.stages.models import TrainedModel, load_model
from cmedl_bench.stages.progress import Reporter

#: staging folders of predict inside OUT
STAGING_PREFIX = ".predict-staging-"
#: a predicted tumour larger than this (cc) is physically implausible: the largest lung tumours treated with
#: radiotherapy are around a litre
MAX_PLAUSIBLE_TUMOUR_CC = 2000.0
#: ... and so is one that covers more than this share of the body
MAX_PLAUSIBLE_BODY_SHARE = 0.5
TABLE_COLUMNS = ("scan", "patient", "date", "timepoint", "kind", "source", "tumour_volume_cc", "tumour_voxels",
                 "uncertainty", "flagged", "implausible", "mask", "probability", "uncertainty_sd", "rtstruct", "seg")


def _check_options(uncertainty: int, rate: float, threshold: float) -> None:
    if uncertainty < 0 or uncertainty == 1:
        raise CmedlError(f"--uncertainty takes 0 (off) or at least 2 dropout passes, not {uncertainty}")
    if not 0 <= rate < 1:
        raise CmedlError(f"--dropout-rate must be in [0, 1), not {rate}")
    if not 0 <= threshold <= 1:
        raise CmedlError(f"--flag-above must be in [0, 1], not {threshold}")


def _check_out(out: Path, scans: list[NewScan], overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise CmedlError(f"--out {out} is a file; give a folder")
    taken = [name for name in [s.scan_id for s in scans] + ["predictions.csv"] if (out / name).exists()]
    if taken and not overwrite:
        raise CmedlError(f"--out {out} already holds {', '.join(taken[:3])}{' ...' if len(taken) > 3 else ''}; "
                         f"choose another folder or pass --overwrite")


def _dropout_passes(model: TrainedModel, prepared, passes: int, rate: float, seed: int, task) -> tuple:
    """Per-voxel SD of the passes' probabilities and the scan's disagreement score. Passes are accumulated, not
    kept: besides the probability each pass produces, memory is three float32 volumes (the first pass and the two
    sums about it) and one working volume, plus one bit per voxel and pass for the masks, whatever the number of
    passes (measured in ``benchmarks/test_uncertainty_memory.py``). Sums are taken about the first pass, so the SD
    is exactly 0 where every pass agrees."""
    dropout = WeightDropout(model.fusion.head_network(model.head), rate, seed)
    first, total, squares, work, masks = None, None, None, None, []
    try:
        for _ in range(passes):
            dropout.perturb()
            probability = model.fusion.predict_probability(model.head, prepared).astype(np.float32, copy=False)
            masks.append(np.packbits(probability > 0.5))
            if first is None:
                first = probability
                total, squares, work = (np.zeros_like(first) for _ in range(3))
            else:
                np.subtract(probability, first, out=work)
                total += work
                np.square(work, out=work)
                squares += work
            del probability
            task.advance()
    finally:
        dropout.restore()
    mean_shift = np.divide(total, passes, out=total)
    np.add(first, mean_shift, out=work)
    consensus = work > 0.5
    count = consensus.size
    score = 1.0 - float(np.mean([dice(np.unpackbits(m, count=count).reshape(consensus.shape), consensus)
                                 for m in masks]))
    np.divide(squares, passes, out=squares)
    squares -= np.square(mean_shift, out=work)
    return np.sqrt(np.maximum(squares, 0.0, out=squares), out=squares), score


def _predict_scan(model: TrainedModel, scan: NewScan, folder: Path, options: dict[str, Any], reporter: Reporter
                  ) -> dict[str, Any]:
    from cmedl_bench.results.figures import plot_prediction

    preset = model.preset
    image = scan.read()
    volume = canonical_volume(Case("cbct", scan.scan_id, scan.patient, Path(scan.source), Path(scan.source)), image)
    body = body_mask(volume.image)
    prepared = prepare(volume, preset.spacing_xy_mm, preset.crop_size,
                       preset.patch_depth if model.fusion.dims == 3 else 1, body=body)
    probability = model.fusion.predict_probability(model.head, prepared)
    mask = (probability > 0.5).astype(np.uint8)
    folder.mkdir(parents=True)
    files = {"mask": folder / "mask.nii.gz", "probability": folder / "probability.nii.gz"}
    source_mask = on_source_grid(mask, volume, image)
    write_image(files["mask"], source_mask)
    write_fraction_map(files["probability"], on_source_grid(probability.astype(np.float32, copy=False), volume, image))
    sd, score = None, float("nan")
    if options["uncertainty"]:
        with reporter.task("  dropout passes", total=options["uncertainty"], info=scan.scan_id) as task:
            sd, score = _dropout_passes(model, prepared, options["uncertainty"], options["dropout_rate"],
                                        options["seed"], task)
        files["uncertainty_sd"] = folder / "uncertainty_sd.nii.gz"
        write_fraction_map(files["uncertainty_sd"], on_source_grid(sd, volume, image))
    if scan.series is not None:
        files |= _write_dicom_objects(folder, source_mask, image, scan, model, options["roi_name"])
    plot_prediction(volume.image, probability, sd, scan.scan_id, folder / "preview.png")
    voxels = int(mask.sum())
    flagged = bool(options["uncertainty"]) and score > options["flag_above"]
    implausible = _implausible(mask, volume, body)
    if implausible:
        reporter.warning(f"{scan.scan_id}: implausible prediction: {implausible}")
    return {"scan": scan.scan_id, "patient": scan.patient, "date": scan.date, "timepoint": scan.timepoint,
            "kind": scan.kind, "source": scan.source, "tumour_volume_cc": voxels * float(np.prod(volume.spacing_zyx))
            / 1000.0, "tumour_voxels": voxels, "uncertainty": score, "flagged": flagged, "implausible": implausible,
            **{name: files[name].relative_to(folder.parent).as_posix() if name in files else None
               for name in ("mask", "probability", "uncertainty_sd", "rtstruct", "seg")}}


def _implausible(mask: np.ndarray, volume, body: np.ndarray) -> str:
    """Why a predicted mask cannot be a tumour (larger than :data:`MAX_PLAUSIBLE_TUMOUR_CC`, or more than
    :data:`MAX_PLAUSIBLE_BODY_SHARE` of the ``body`` mask), or "" when it can."""
    cc = float(mask.sum()) * float(np.prod(volume.spacing_zyx)) / 1000.0
    if cc > MAX_PLAUSIBLE_TUMOUR_CC:
        return f"a tumour of {cc:.0f} cc (above {MAX_PLAUSIBLE_TUMOUR_CC:.0f} cc)"
    share = float((mask.astype(bool) & body).sum()) / max(1, int(body.sum()))
    if share > MAX_PLAUSIBLE_BODY_SHARE:
        return f"tumour over {share:.0%} of the body"
    return ""


def _write_dicom_objects(folder: Path, source_mask, image, scan: NewScan, model: TrainedModel, roi_name: str
                         ) -> dict[str, Path]:
    """The RT Structure Set and the DICOM SEG of a DICOM input's mask."""
    import SimpleITK as sitk

    from cmedl_bench.data.rtstruct_writer import write_rtstruct
    from cmedl_bench.data.seg_writer import write_seg

    files = {"rtstruct": folder / "rtstruct.dcm", "seg": folder / "seg.dcm"}
    model_name = f"cmedl-bench {model.provenance['run_id']} [{model.head}]"
    array = sitk.GetArrayFromImage(source_mask)
    write_rtstruct(files["rtstruct"], array, image, scan.series, roi_name, model_name)
    write_seg(files["seg"], array, image, scan.series, roi_name, model_name)
    return files


def _write_summary(staging: Path, rows: list[dict[str, Any]], model: TrainedModel, options: dict[str, Any]) -> None:
    import pandas as pd

    from cmedl_bench.io.atomic import atomic_write, atomic_write_parquet
    from cmedl_bench.results.figures import plot_volume_over_time

    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["timepoint"] = table["timepoint"].astype(object)
    atomic_write(staging / "predictions.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write_parquet(table.astype({"timepoint": str}), staging / "predictions.parquet")
    plot_volume_over_time(table, staging / "volume_over_time.png")
    info = {"created": now(), "model": model.provenance, "head": model.head, "options": options,
            "scans": len(rows), "flagged": int(table["flagged"].sum()), "git": git_revision(),
            "versions": package_versions()}
    atomic_write_json(staging / "prediction.json", info)


def _move_into_place(staging: Path, out: Path) -> None:
    for entry in sorted(staging.iterdir()):
        target = out / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        entry.replace(target)
    staging.rmdir()


def predict(reporter: Reporter, model_path: Path, inputs: list[Path], out: Path, *, head: str | None = None,
            split: str | None = None, series: str | None = None, uncertainty: int = 0, dropout_rate: float = 0.5,
            flag_above: float = 0.1, roi_name: str = "GTV_cmedl", seed: int = 0, device: str | None = None,
            overwrite: bool = False, resample_tilt: bool = False, threads: int | None = None) -> dict[str, Any]:
    """Predict every scan of ``inputs`` with the model at ``model_path`` (see the module docstring); ``threads``:
    torch threads (else ``CMEDL_BENCH_THREADS``, else one per core)."""
    from cmedl_bench.stages.inputs import require_outside_run_folders, usable_device

    _check_options(uncertainty, dropout_rate, flag_above)
    out = Path(out)
    require_outside_run_folders(out, "--out")
    scans = resolve_scans([Path(p) for p in inputs], split, series, resample_tilt)
    _check_out(out, scans, overwrite)
    apply_threads(threads)
    model = load_model(Path(model_path), head, usable_device(device))
    if model.preset.name == "smoke":
        reporter.warning(f"{model_path} was trained with the smoke preset, which proves the pipeline, not a model: "
                         f"its masks mean nothing")
    options = {"uncertainty": uncertainty, "dropout_rate": dropout_rate, "flag_above": flag_above,
               "roi_name": roi_name, "seed": seed, "resample_tilt": resample_tilt}
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = new_staging(out, STAGING_PREFIX)  # an interrupted predict's staging is removed here
    try:
        rows, failed = [], {}
        with reporter.task("predicting", total=len(scans)) as task:
            for scan in scans:
                task.update(info=scan.scan_id)
                try:
                    rows.append(_predict_scan(model, scan, staging / scan.scan_id, options, reporter))
                except Exception as exc:  # one scan's failure, whatever it is, must not cost the others
                    shutil.rmtree(staging / scan.scan_id, ignore_errors=True)
                    failed[scan.scan_id] = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                task.advance()
        if not rows:
            raise CmedlError("no scan could be predicted: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
        _write_summary(staging, rows, model, options | {"failed": failed})
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    if failed:
        raise CmedlError(f"{len(failed)} of {len(scans)} scan(s) failed ("
                         + "; ".join(f"{k}: {v}" for k, v in failed.items())
                         + f"); the other scans' outputs are in {out}")
    return {"out": str(out), "model": model.provenance, "head": model.head, "scans": rows}
