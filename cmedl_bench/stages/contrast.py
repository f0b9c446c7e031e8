"""``data contrast``: how visible the tumours of a dataset are, per cohort and split (:mod:`cmedl_bench.data.contrast`),
and, where the dataset plugin can render one, the same for an isodense control (the tumour at its neighbours' value:
any contrast left there is made by the acquisition, not by tissue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmedl_bench.data.contrast import CaseContrast, case_contrast, neighbour_contrast, resample_in_plane, summarise
from cmedl_bench.data.layout import ALIGNED_COHORT, COHORTS, TISSUE_CLASSES, Case, load_index, tissue_path
from cmedl_bench.data.splits import SPLITS
from cmedl_bench.errors import CmedlError
from cmedl_bench.registry import get_registry
from cmedl_bench.stages.progress import Reporter


def dataset_contrast(reporter: Reporter, dataset: Path, spacing_mm: float | None = None,
                     control_cases: int = 8) -> dict[str, Any]:
    """Per cohort and split: medians of contrast, noise SD and CNR over the cases with a soft-tissue interface,
    tumour volume and the central fraction where the dataset records tumour locations; with an isodense control
    for up to ``control_cases`` central CBCT cases per split; and, where the dataset has tissue maps
    (:func:`cmedl_bench.data.layout.tissue_path`), the same medians against each neighbour class
    (:func:`cmedl_bench.data.contrast.neighbour_contrast`) under ``neighbours``."""
    import SimpleITK as sitk

    if spacing_mm is not None and spacing_mm <= 0:
        raise CmedlError(f"--spacing must be positive, not {spacing_mm}")
    index = load_index(Path(dataset))
    control = _control_renderer(index)
    classes = index.meta.get(TISSUE_CLASSES) or {}
    groups = [(cohort, split, index.split_cases(cohort, split)) for cohort in COHORTS for split in SPLITS]
    groups = [g for g in groups if g[2]]
    result: dict[str, Any] = {"dataset": str(index.root), "name": index.name, "version": index.version,
                              "spacing_mm": spacing_mm, "groups": [], "cases": []}
    with reporter.task("measuring contrast", total=sum(len(cases) for _, _, cases in groups)) as task:
        for cohort, split, cases in groups:
            measured, controls, neighbours = [], [], {name: [] for name in classes}
            for case in cases:
                image, label = sitk.ReadImage(str(case.image_path)), sitk.ReadImage(str(case.label_path))
                found = _measure(case, image, label, spacing_mm)
                measured.append(found)
                for name, value in _by_neighbour(index, case, image, label, spacing_mm, classes).items():
                    neighbours[name].append(value)
                location = _location(index, case)
                result["cases"].append({"cohort": cohort, "split": split, "location": location, **found.as_dict()})
                if control and cohort == "cbct" and location == "central" and len(controls) < control_cases:
                    rendered = sitk.GetImageFromArray(control(index.root, case.case_id))
                    rendered.CopyInformation(image)
                    controls.append(_measure(case, rendered, label, spacing_mm))
                task.advance()
            locations = [_location(index, c) for c in cases]
            known = [loc for loc in locations if loc is not None]
            group = {"cohort": cohort, "split": split, **summarise(measured),
                     "central_fraction": known.count("central") / len(known) if known else None}
            if controls:
                group["control"] = summarise(controls)
            if any(neighbours.values()):
                group["neighbours"] = {name: summarise(values) for name, values in neighbours.items()}
            result["groups"].append(group)
    return result


def _measure(case: Case, image, label, spacing_mm: float | None) -> CaseContrast:
    import SimpleITK as sitk

    from cmedl_bench.io.geometry import CANONICAL_ORIENTATION, reorient

    if spacing_mm is not None:
        image, label = resample_in_plane(image, label, spacing_mm)
    image, label = reorient(image, CANONICAL_ORIENTATION), reorient(label, CANONICAL_ORIENTATION)
    spacing = image.GetSpacing()[::-1]
    return case_contrast(case.case_id, sitk.GetArrayFromImage(image).astype("float32"),
                         sitk.GetArrayFromImage(label) > 0, spacing, case.cohort)


def _by_neighbour(index, case: Case, image, label, spacing_mm: float | None, classes: dict) -> dict[str, CaseContrast]:
    """The case against each neighbour class, where its tissue map exists (the aligned MRI reads its CBCT case's)."""
    import SimpleITK as sitk

    from cmedl_bench.io.geometry import CANONICAL_ORIENTATION, reorient

    cohort = "cbct" if case.cohort == ALIGNED_COHORT else case.cohort
    path = tissue_path(index.root, cohort, case.case_id, index.meta.get("file_ending", ".nii.gz"))
    if not classes or not path.is_file():
        return {}
    tissue = sitk.ReadImage(str(path))
    if spacing_mm is not None:
        image, label = resample_in_plane(image, label, spacing_mm)
        _, tissue = resample_in_plane(sitk.ReadImage(str(case.image_path)), tissue, spacing_mm)
    arrays = [sitk.GetArrayFromImage(reorient(x, CANONICAL_ORIENTATION)) for x in (image, label, tissue)]
    spacing = reorient(image, CANONICAL_ORIENTATION).GetSpacing()[::-1]
    return neighbour_contrast(arrays[0].astype("float32"), arrays[1] > 0, arrays[2], classes, spacing)


def _location(index, case: Case) -> str | None:
    entry = index.meta["cohorts"][case.cohort]["cases"][case.case_id]
    if "location" in entry:
        return entry["location"]
    if "central_tumour" in entry:  # phantom v1 and v2
        return "central" if entry["central_tumour"] else "peripheral"
    return None


def _control_renderer(index):
    """The isodense control of the dataset plugin that generated this dataset (same name, or ``NAME-vVERSION`` for an
    earlier version kept under that name, and the same version), if it has one."""
    registry = get_registry()
    for component in registry.components["dataset"].values():
        if (component.name in (index.name, f"{index.name}-v{index.version}")
                and component.info.version == index.version):
            return component.info.isodense_control
    return None
