"""``evaluate``: scoring masks made outside cmedl-bench (nnU-Net, MONAI, a clinician) against reference masks, with
the same metric plugins and scorer as trained runs (:mod:`cmedl_bench.stages.scoring`), stored as a run folder of
kind ``evaluation`` so that ``report`` ranks them side by side.

Predictions and references are matched by case id: the file name without its image ending (``.nii.gz``, ``.nii``,
``.nrrd``, ``.mha``, ``.mhd``). The reference is a cmedl-bench dataset folder (its CBCT cohort's labels, with the
splits of ``splits.json``) or a plain folder of label maps (every case in the split named on the command line).
Nothing here stops at the first bad case:

- a reference case without a prediction is scored as an empty prediction (the method produced nothing for it), so
  a method cannot improve its mean by skipping hard cases; the row carries the flag ``missing_prediction``;
- a prediction without a reference case is listed as extra and ignored;
- a prediction that holds the reference's voxels in another axis order or direction (RAS-based tools write such
  files) is re-indexed onto the reference grid, voxel-exactly (:func:`cmedl_bench.io.geometry.onto_grid`), and
  listed as reoriented;
- a prediction on another grid, or an unreadable one, cannot be compared voxel by voxel: it is scored as an empty
  prediction with the flag ``geometry_mismatch`` or ``unreadable_prediction`` and listed, so that no case is ever
  dropped from n. The header is read before the pixels: a file whose voxel count differs from the reference's (a
  compressed file that would unpack to gigabytes, say) is a geometry mismatch without its pixels ever being read;
- a prediction is a mask only when it holds at most one non-zero value; a multi-label map or a probability map is
  never read as "anything above zero" silently: it is scored as empty with the flag ``non_binary_prediction`` and
  listed, unless ``--label`` (one value of a multi-label map) or ``--threshold`` (a probability map) says how to
  read it (:class:`MaskRule`).

Every scored mask is written into the run folder (``predictions/prediction/CASE.nii.gz``, on the reference grid, as
it was scored), so that the folder holds everything a report reads: no path in its ``run.json`` points outside it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cmedl_bench.io.geometry import grid_difference, onto_grid
from cmedl_bench.data.identifiers import require_id
from cmedl_bench.data.layout import image_files
from cmedl_bench.io.images import IMAGE_ENDINGS
from cmedl_bench.errors import CmedlError
from cmedl_bench.registry import get_registry
from cmedl_bench.stages.inputs import case_map, require_results_folder
from cmedl_bench.stages.progress import Reporter
from cmedl_bench.stages.scoring import case_rows

#: the head name of an outside method's rows and the folder its scored masks are kept in
EXTERNAL_HEAD = "prediction"


@dataclass(frozen=True)
class MaskRule:
    """How a prediction file becomes a mask: a binary mask as it is (default), one ``label`` of a multi-label map,
    or a probability map above ``threshold``."""

    label: int | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.label is not None and self.threshold is not None:
            raise CmedlError("give --label or --threshold, not both")

    def mask(self, array: np.ndarray) -> np.ndarray | None:
        """The tumour mask, or None for a non-binary map that no rule says how to read."""
        if self.label is not None:
            return array == self.label
        if self.threshold is not None:
            return array > self.threshold
        mask = array != 0
        found = array[mask]  # the tumour's voxels: few, so this is cheap even on a clinical volume
        return mask if found.size == 0 or found.min() == found.max() else None

    def as_config(self) -> dict[str, Any]:
        return {"label": self.label} | ({"threshold": self.threshold} if self.threshold is not None else {})


@dataclass
class ReferenceCase:
    case_id: str
    split: str
    label_path: Path


@dataclass
class Reference:
    cases: list[ReferenceCase]
    dataset: dict[str, Any]  # name, version, path: as in a trained run's record


def load_reference(ref: Path, splits: tuple[str, ...]) -> Reference:
    from cmedl_bench.data.layout import load_index

    ref = Path(ref)
    if not ref.is_dir():
        raise CmedlError(f"--ref {ref} is not a folder")
    if (ref / "dataset.json").exists():
        index = load_index(ref)
        cases = [ReferenceCase(c.case_id, split, c.label_path) for split in splits
                 for c in index.split_cases("cbct", split)]
        return Reference(cases, {"name": index.name, "version": index.version, "path": str(ref.resolve()),
                                 "cases": case_map(index)})
    if len(splits) != 1:
        raise CmedlError("a plain folder of reference masks belongs to one split; give a single --split")
    files = image_files(ref)
    if not files:
        raise CmedlError(f"--ref {ref} holds no image files ({', '.join(IMAGE_ENDINGS)})")
    return Reference([ReferenceCase(require_id("case", case_id, path), splits[0], path)
                      for case_id, path in files.items()],
                     {"name": ref.name, "version": None, "path": str(ref.resolve())})


@dataclass
class Problems:
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    geometry: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    reoriented: list[str] = field(default_factory=list)
    non_binary: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per kind of problem, each listing its cases."""
        out = []
        if self.missing:
            out.append(f"{len(self.missing)} reference case(s) without a prediction, scored as empty: "
                       + ", ".join(self.missing))
        if self.extra:
            out.append(f"{len(self.extra)} prediction(s) without a reference case, ignored: " + ", ".join(self.extra))
        if self.geometry:
            out.append(f"{len(self.geometry)} prediction(s) not on the reference grid, scored as empty: "
                       + "; ".join(self.geometry))
        if self.unreadable:
            out.append(f"{len(self.unreadable)} unreadable file(s) (a prediction is scored as empty, a reference "
                       f"cannot be scored): " + "; ".join(self.unreadable))
        if self.non_binary:
            out.append(f"{len(self.non_binary)} prediction(s) with more than one non-zero value, scored as empty "
                       f"(give --label N for a multi-label map, --threshold T for a probability map): "
                       + ", ".join(self.non_binary))
        if self.reoriented:
            out.append(f"{len(self.reoriented)} prediction(s) in another orientation of the reference grid, "
                       f"re-indexed onto it: " + ", ".join(self.reoriented))
        return out


def _mask(image) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayViewFromImage(image) > 0


def score_predictions(pred: Path, reference: Reference, metrics: dict[str, Callable], rule: MaskRule,
                      on_case: Callable[[], None] | None = None, keep: Path | None = None
                      ) -> tuple[list[dict[str, Any]], dict[str, str], Problems, dict[str, str]]:
    """Per-case rows (without run id) in the long format, the prediction file of each scored case, problems, and
    the fingerprint of the reference masks per split (:class:`cmedl_bench.scoring.ReferenceFingerprint`). With
    ``keep``, each scored mask is written there as ``CASE.nii.gz`` on the reference grid."""
    import SimpleITK as sitk

    from cmedl_bench.io.geometry import CANONICAL_ORIENTATION, reorient
    from cmedl_bench.io.images import write_volume
    from cmedl_bench.scoring import ReferenceFingerprint

    pred = Path(pred)
    if not pred.is_dir():
        raise CmedlError(f"--pred {pred} is not a folder")
    predictions = image_files(pred)
    problems = Problems(extra=sorted(set(predictions) - {c.case_id for c in reference.cases}))
    rows, used = [], {}
    fingerprint = ReferenceFingerprint()
    for case in reference.cases:
        try:
            ref_image = sitk.ReadImage(str(case.label_path))
        except RuntimeError as exc:
            problems.unreadable.append(f"{case.label_path}: unreadable reference ({str(exc).strip()[:80]})")
            continue
        reference_mask = _mask(ref_image)
        fingerprint.add(case.split, case.case_id, _mask(reorient(ref_image, CANONICAL_ORIENTATION)))
        spacing = ref_image.GetSpacing()[::-1]
        path = predictions.get(case.case_id)
        prediction, flag = _read_prediction(path, ref_image, case, rule, problems)
        if flag is None:
            used[case.case_id] = str(path.resolve())
            if keep is not None:
                write_volume(keep / f"{case.case_id}.nii.gz", prediction.astype(np.uint8), spacing, like=ref_image)
        else:
            prediction = np.zeros_like(reference_mask)
        rows += case_rows(metrics, case.split, case.case_id, EXTERNAL_HEAD, prediction, reference_mask, spacing, flag)
        if on_case:
            on_case()
    return rows, used, problems, fingerprint.digests()


def _read_prediction(path: Path | None, ref_image, case: ReferenceCase, rule: MaskRule,
                     problems: Problems) -> tuple[np.ndarray | None, str | None]:
    """The prediction mask on the reference grid and no flag; or None and the flag that says why it is scored as
    an empty prediction (recorded in ``problems``)."""
    import SimpleITK as sitk

    if path is None:
        problems.missing.append(case.case_id)
        return None, "missing_prediction"
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
        if int(np.prod(reader.GetSize())) != int(np.prod(ref_image.GetSize())):  # pixels never read
            problems.geometry.append(f"{path}: geometry differs from {case.label_path.name}: size "
                                     f"{tuple(reader.GetSize())} vs reference {tuple(ref_image.GetSize())}")
            return None, "geometry_mismatch"
        pred_image = reader.Execute()
    except RuntimeError as exc:
        problems.unreadable.append(f"{path}: unreadable prediction ({str(exc).strip()[:80]})")
        return None, "unreadable_prediction"
    difference = grid_difference(pred_image, ref_image)
    if difference:
        moved = onto_grid(pred_image, ref_image)
        if moved is None:
            name, ours, theirs = difference
            problems.geometry.append(f"{path}: geometry differs from {case.label_path.name}: {name} {ours} vs "
                                     f"reference {theirs}")
            return None, "geometry_mismatch"
        problems.reoriented.append(case.case_id)
        pred_image = moved
    mask = rule.mask(sitk.GetArrayViewFromImage(pred_image))
    if mask is None:
        problems.non_binary.append(case.case_id)
        return None, "non_binary_prediction"
    return mask, None


def evaluate(reporter: Reporter, pred: Path, ref: Path, name: str, results: Path,
             splits: tuple[str, ...] = ("test",), rule: MaskRule = MaskRule()) -> dict[str, Any]:
    """Score a folder of predicted masks against reference masks (matched by case id) and store the result as a run
    folder. Missing, extra and mis-registered cases are recorded under ``problems`` and reported, never fatal."""
    from cmedl_bench.results.records import new_record, now, summarise, write_record, write_rows

    if not name.strip():
        raise CmedlError("--name must not be empty")
    require_results_folder(results)
    registry = get_registry()
    reference = load_reference(Path(ref), splits)
    config = {"method": name, "pred": str(Path(pred).resolve()), "ref": reference.dataset["path"],
              "splits": list(splits), **rule.as_config()}
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "method"
    run_id = f"external-{slug}-{config_hash[:8]}"
    record = new_record("evaluation", run_id, config, config_hash, None, reference.dataset, registry,
                        method={"name": name})
    tic = time.perf_counter()
    run_dir = Path(results) / run_id
    kept = run_dir / "predictions" / EXTERNAL_HEAD
    with reporter.task("scoring predictions", total=len(reference.cases)) as task:
        rows, used, problems, fingerprint = score_predictions(
            Path(pred), reference, registry.metric_functions(), rule, on_case=task.advance, keep=kept)
    if not used:
        raise CmedlError(f"no prediction in {pred} could be scored: " + "; ".join(problems.lines()))
    for line in problems.lines():
        reporter.warning(line)
    rows = [{"run_id": run_id, **row} for row in rows]
    write_rows(run_dir, rows)
    record.update(status="finished", ended=now(), reference=fingerprint,
                  problems={"missing": problems.missing, "extra": problems.extra, "geometry": problems.geometry,
                            "unreadable": problems.unreadable, "reoriented": problems.reoriented,
                            "non_binary": problems.non_binary},
                  prediction_files=used, timings={"evaluate_s": time.perf_counter() - tic}, summary=summarise(rows),
                  files={"per_case": "per_case.parquet"})
    write_record(run_dir, record)
    return record
