"""``plugins`` and the data verbs: ``data synth``, ``data check``, ``data import`` and ``data export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from cmedl_bench.cli.app import OPTS, app, data_app, stderr, stdout
from cmedl_bench.cli.summaries import contrast_table, neighbour_table
from cmedl_bench.errors import CmedlError
from cmedl_bench.request import key_values


plugins_app = typer.Typer(help="List installed plugins (and broken ones); 'plugins check' tests them.")
app.add_typer(plugins_app, name="plugins")


@plugins_app.callback(invoke_without_command=True)
def plugins(ctx: typer.Context,
            as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List installed translators, segmenters, fusions, datasets and metrics, and broken plugins."""
    if ctx.invoked_subcommand is None:
        print_plugins(as_json)


def print_plugins(as_json: bool) -> None:
    from cmedl_bench.api import list_plugins

    listing = list_plugins()
    if as_json:
        print(json.dumps(listing, indent=2))
        return
    table = Table(title="cmedl-bench plugins")
    for column in ("kind", "name", "description", "from"):
        table.add_column(column)
    for c in listing["components"]:
        table.add_row(*(escape(str(v)) for v in (c["kind"], c["name"], c["description"],
                                                  f"{c['distribution']} {c['version']}")))
    for b in listing["broken"]:
        table.add_row("[red]broken[/]", escape(b["plugin"]), f"[red]{escape(b['error'])}[/]",
                      escape(f"{b['distribution']} {b['version']}"))
    stdout.print(table)
    for note in listing["notes"]:
        stdout.print(f"note: {escape(note)}", highlight=False)


@plugins_app.command("check")
def plugins_check(
    distribution: Optional[str] = typer.Argument(None, help="Check only this distribution's components."),
    kind: list[str] = typer.Option([], "--kind", help="segmenter, translator, fusion, metric, translation-metric or "
                                                     "dataset (repeatable)."),
    name: list[str] = typer.Option([], "--name", help="Check only the components of this name (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    option: list[str] = typer.Option([], "--option", help="KEY=VALUE for an option a checked dataset declares "
                                                          "(e.g. the folder it serves); repeatable."),
) -> None:
    """Run the conformance checks on installed segmenters, translators, fusions, metrics and datasets (small, on
    the CPU);
    exit code 1 when a rule does not hold."""
    from dataclasses import asdict

    from cmedl_bench.stages.conformance import CHECKS, check_components

    unknown = set(kind) - set(CHECKS)
    if unknown:
        raise CmedlError(f"--kind {', '.join(sorted(unknown))} is not checked here; kinds: {', '.join(CHECKS)}")
    from cmedl_bench.registry import get_registry

    findings = check_components(distribution, tuple(kind) or tuple(CHECKS), tuple(name),
                                options=key_values(option, "--option"))
    for note in get_registry().notes:
        if distribution is None or note.startswith(f"{distribution} ") or f" {distribution}" in note:
            stderr.print(f"note: {escape(note)}", highlight=False)
    if as_json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        table = Table(title=escape(f"conformance of {distribution or 'every installed distribution'}"))
        for column in ("kind", "name", "from", "rule", "result"):
            table.add_column(column)
        for f in findings:
            table.add_row(f.kind, escape(f.name), escape(f.distribution), escape(f.rule),
                          "[green]ok[/]" if f.passed else f"[red]failed[/]: {escape(f.detail)}")
        stdout.print(table)
    if not all(f.passed for f in findings):
        raise typer.Exit(1)



@data_app.command("synth")
def data_synth(
    out: Path = typer.Argument(..., help="Folder to write the dataset into."),
    dataset: str = typer.Option("phantom", help="Dataset plugin."),
    seed: int = typer.Option(0, help="Generator seed."),
    size: str = typer.Option("full", help="full or small."),
    preview: bool = typer.Option(False, help="Also write OUT/preview.png: CBCT and MRI slices with tumour "
                                             "contours."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    option: list[str] = OPTS["option"],
    overwrite: bool = typer.Option(False, help="Replace OUT even when data synth did not write it (everything in "
                                               "it is lost)."),
) -> None:
    """Write a dataset plugin's data (default: the thorax phantom) in the cmedl-bench layout."""
    from cmedl_bench.api import synth

    path = synth(out, dataset=dataset, seed=seed, size=size, quiet=quiet, options=key_values(option, "--option"),
                 preview=preview, overwrite=overwrite)
    print(path)
    if preview:
        print(path / "preview.png")


@data_app.command("check")
def data_check(
    dataset: Path = typer.Argument(..., help="Dataset folder (cmedl-bench layout)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Validate a dataset before training: every problem with the file it is in. Exit code 1 when errors exist."""
    from cmedl_bench.api import check_data

    report = check_data(dataset, quiet=quiet)
    if as_json:
        print(json.dumps({"dataset": str(report.root), "cases": report.cases, "splits": report.splits_source,
                          "findings": [f.__dict__ for f in report.findings]}, indent=2))
    else:
        table = Table(title=f"{report.root}: {report.cases} cases, splits from {report.splits_source}")
        for column in ("severity", "file", "problem"):
            table.add_column(column, overflow="fold")
        for f in report.findings:
            colour = "red" if f.severity == "error" else "yellow"
            table.add_row(f"[{colour}]{f.severity}[/]", escape(f.file), escape(f.problem))
        if report.findings:
            stdout.print(table)
        n_errors = len(report.errors)
        stdout.print(f"{n_errors} error(s), {len(report.findings) - n_errors} warning(s)" if report.findings
                     else f"{report.root}: {report.cases} cases, no problems found (splits from "
                          f"{report.splits_source})", highlight=False)
    if report.errors:
        raise typer.Exit(1)


@data_app.command("contrast")
def data_contrast(
    dataset: Path = typer.Argument(..., help="Dataset folder (cmedl-bench layout), real or synthetic."),
    spacing: Optional[float] = typer.Option(None, help="Resample in-plane to this spacing in mm first (the cpu "
                                                       "preset works at 2.5); default: native."),
    control: int = typer.Option(8, help="Central CBCT cases per split rendered again as an isodense control, where "
                                        "the dataset plugin can (0: none)."),
    as_json: bool = typer.Option(False, "--json", help="Print every group and case as JSON."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """How visible the tumours are: contrast and CNR of the tumour against the soft tissue around it (at least 5 mm
    from lung), noise SD, tumour volume and central fraction, per cohort and split; where the dataset has tissue maps,
    the CNR against each neighbour class (soft tissue, blood, fat, lung)."""
    from cmedl_bench.api import contrast

    result = contrast(dataset, spacing_mm=spacing, control_cases=control, quiet=quiet)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    stdout.print(contrast_table(result))
    neighbours = neighbour_table(result)
    if neighbours is not None:
        stdout.print(neighbours)


@data_app.command("import")
def data_import(
    dataset: Path = typer.Argument(..., help="Dataset folder to add the cases to (created if absent)."),
    dicom: Optional[Path] = typer.Option(None, help="Folder with DICOM image series and RTSTRUCT files."),
    roi: str = typer.Option("GTV*", help="ROI name or pattern of the tumour in the RTSTRUCT (case-insensitive)."),
    images: Optional[Path] = typer.Option(None, help="Folder of NIfTI/NRRD/MHA images (CASE.ext or "
                                                     "CASE_0000.ext)."),
    labels: Optional[Path] = typer.Option(None, help="Folder of label maps (CASE.ext), with --images."),
    nnunet: Optional[Path] = typer.Option(None, help="An nnU-Net v2 raw dataset folder (DatasetXXX_NAME: "
                                                     "dataset.json, imagesTr, labelsTr): channel 0000 as CBCT."),
    label: Optional[str] = typer.Option(None, help="Tumour label value or name in the label maps (default: any "
                                                   "non-zero voxel; with --nnunet, names from its dataset.json)."),
    cohort: str = typer.Option("cbct", help="cbct or mri."),
    patient: Optional[str] = typer.Option(None, help="Patient id for DICOM imports (default: PatientID)."),
    patient_pattern: Optional[str] = typer.Option(None, help="Regex whose first group is the patient id in a "
                                                             "case id, e.g. '^(P\\d+)_W'."),
    patient_per_case: bool = typer.Option(False, help="Make every image file its own patient (default: cases whose "
                                                      "ids differ only in a trailing visit, C000W1 and C000W2, are "
                                                      "scans of one patient)."),
    case: Optional[str] = typer.Option(None, help="Case id when the DICOM folder holds one contoured series."),
    series: Optional[str] = typer.Option(None, help="SeriesInstanceUID the RTSTRUCT's contours are drawn on, when "
                                                    "the series it references is not in the folder."),
    resample_slices: bool = typer.Option(False, help="Interpolate a DICOM series with uneven slice spacing onto a "
                                                     "uniform grid instead of refusing it."),
    resample_tilt: bool = OPTS["resample_tilt"],
    overwrite: bool = typer.Option(False, help="Replace cases that already exist."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Import DICOM series + RTSTRUCT, image files + label maps, or an nnU-Net raw dataset into the dataset
    layout."""
    from cmedl_bench.api import import_data

    sources = [dicom is not None, images is not None, nnunet is not None]
    if sum(sources) != 1 or (images is not None) != (labels is not None):
        raise CmedlError("give one of --dicom DIR, --images DIR with --labels DIR, or --nnunet DIR")
    if nnunet is not None and cohort != "cbct":
        raise CmedlError("--nnunet imports the CBCT cohort; leave out --cohort")
    imported = import_data(dataset, dicom=dicom, roi=roi, images=images, labels=labels, label=label, cohort=cohort,
                           nnunet=nnunet, patient=patient, patient_pattern=patient_pattern, case=case,
                           overwrite=overwrite, patient_per_case=patient_per_case, quiet=quiet, series=series,
                           resample_slices=resample_slices, resample_tilt=resample_tilt)
    table = Table(title=f"imported into {dataset} ({cohort})")
    for column in ("case", "patient", "tumour voxels", "source"):
        table.add_column(column, overflow="fold")
    for c in imported:
        source = ", ".join(f"{k}={v}" for k, v in c.source.items() if k in ("rois", "value", "label_resampled"))
        table.add_row(c.case_id, c.patient, str(c.tumour_voxels), escape(source))
    stdout.print(table)


@data_app.command("export")
def data_export(
    dataset: Path = typer.Argument(..., help="A dataset folder in the cmedl-bench layout."),
    nnunet: Path = typer.Option(..., help="Folder to write the nnU-Net v2 raw dataset into (e.g. $nnUNet_raw)."),
    dataset_id: int = typer.Option(501, "--id", help="nnU-Net dataset id (1-999)."),
    name: str = typer.Option("CBCT", help="nnU-Net dataset name (DatasetNNN_NAME)."),
) -> None:
    """Export the CBCT cohort as an nnU-Net v2 raw dataset with the benchmark's split (splits_final.json), to train
    nnU-Net on exactly the same patients and score it with 'evaluate'."""
    from cmedl_bench.data.nnunet import export_nnunet

    target = export_nnunet(dataset, nnunet, dataset_id, name)
    stdout.print(f"wrote {escape(str(target))}: imagesTr/labelsTr (training and validation cases), imagesTs/labelsTs "
                 f"(test cases), dataset.json, splits_final.json (one fold: the benchmark's train/val split; copy "
                 f"it into nnUNet_preprocessed/{escape(target.name)}/ and train fold 0)")
