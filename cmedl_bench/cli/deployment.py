"""The verbs that take a trained model to new scans: ``predict`` and ``export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from cmedl_bench.cli.app import OPTS, app, stderr, stdout


@app.command()
def predict(
    model: Path = typer.Argument(..., help="A finished run folder or a model file made by 'export'."),
    inputs: list[Path] = typer.Argument(..., help="DICOM folders (each CT/CBCT series is predicted), NIfTI, NRRD or "
                                                  "MHA files, or a cmedl-bench dataset folder (with --split)."),
    out: Path = typer.Option(..., help="Output folder: one folder per scan, predictions.csv, figures."),
    head: Optional[str] = typer.Option(None, help="Head to apply (default: the run's selection head, the CBCT "
                                                  "network)."),
    split: Optional[str] = typer.Option(None, help="Split of a dataset input (default: test)."),
    series: Optional[str] = typer.Option(None, help="SeriesInstanceUID of the one series to predict in a DICOM "
                                                    "folder (default: every image series)."),
    uncertainty: int = typer.Option(0, help="Test-time-dropout passes for an uncertainty map and score (0: off)."),
    dropout_rate: float = typer.Option(0.5, help="Dropout rate of the uncertainty passes (paper III.E: 0.5)."),
    flag_above: float = typer.Option(0.1, help="Flag a scan whose uncertainty score (1 - mean DSC of the passes "
                                               "against their consensus) exceeds this."),
    roi_name: str = typer.Option("GTV_cmedl", help="ROI name in the RT Structure Set of DICOM input."),
    seed: int = typer.Option(0, help="Seed of the dropout masks."),
    device: Optional[str] = OPTS["device"],
    overwrite: bool = typer.Option(False, help="Replace earlier predictions of the same scans in --out."),
    resample_tilt: bool = OPTS["resample_tilt"],
    as_json: bool = OPTS["as_json"], quiet: bool = OPTS["quiet"], threads: Optional[int] = OPTS["threads"],
) -> None:
    """Apply a trained CBCT model to new scans: mask and probability on each scan's own grid, an RT Structure Set
    for DICOM input, tumour volumes (and uncertainty) in predictions.csv. Nothing is written unless every scan
    succeeds."""
    from cmedl_bench.api import predict as predict_api

    result = predict_api(model, inputs, out, quiet=quiet, head=head, split=split, series=series,
                         uncertainty=uncertainty, dropout_rate=dropout_rate, flag_above=flag_above,
                         roi_name=roi_name, seed=seed, device=device, overwrite=overwrite,
                         resample_tilt=resample_tilt, threads=threads)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    table = Table(title=escape(f"{result['model']['run_id']} [{result['head']}]: predictions"))
    for column in ("scan", "patient", "date", "tumour volume (cc)", "uncertainty", "flag"):
        table.add_column(column, justify="right" if column.startswith(("tumour", "unc")) else "left")
    for row in result["scans"]:
        score = "" if row["uncertainty"] != row["uncertainty"] else f"{row['uncertainty']:.3f}"
        table.add_row(escape(row["scan"]), escape(row["patient"]), row["date"] or "",
                      f"{row['tumour_volume_cc']:.1f}", score,
                      ", ".join(f for f in ("uncertain" if row["flagged"] else "",
                                            "implausible" if row["implausible"] else "") if f))
    stdout.print(table)
    stderr.print(f"written to {escape(str(out))} (predictions.csv)", highlight=False)


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    out: Path = typer.Option(..., help="The model file to write, e.g. model.cmedl."),
    head: Optional[str] = typer.Option(None, help="Head the model applies (default: the run's selection head)."),
    overwrite: bool = typer.Option(False, help="Replace an existing model file (and its .pt2 program)."),
    as_json: bool = OPTS["as_json"],
) -> None:
    """Write a finished run's model as one file (weights, architecture plugins and versions, preprocessing,
    provenance) that predict accepts without the run folder or the dataset; and, where the head exports, a
    torch.export program of its logits (same name, .pt2) checked against the eager model."""
    from cmedl_bench.api import export as export_api

    info = export_api(run_dir, out, head, overwrite)
    if as_json:
        print(json.dumps(info, indent=2, default=str))
        return
    stderr.print(escape(f"model of {info['run_id']} [{info['head']}] written to {out}"),
                 highlight=False)
    program = info["exported_program"]
    stderr.print(f"torch.export program: {escape(program['path'])} (max |difference| to the eager model "
                 f"{program['max_abs_difference']:.1g})" if program["written"] else
                 f"no torch.export program: {escape(program['reason'])}", highlight=False)
