"""The ``cmedl-bench`` command line: a thin Typer shell over :mod:`cmedl_bench.api`.

Data goes to stdout (``--json`` for machines); progress and messages to stderr. Known errors print one line and
exit with code 2; ``CMEDL_BENCH_DEBUG=1`` shows the traceback. Importing this module does not import torch.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cmedl_bench import __version__
from cmedl_bench.errors import CmedlError

app = typer.Typer(name="cmedl-bench", no_args_is_help=True, pretty_exceptions_show_locals=False,
                  add_completion=False, help="Benchmark cross-modality learning for CBCT lung tumour segmentation.")
data_app = typer.Typer(no_args_is_help=True, help="Create and inspect datasets.")
app.add_typer(data_app, name="data")

stdout = Console()
stderr = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"cmedl-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Benchmark cross-modality learning for CBCT lung tumour segmentation."""


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List installed translators, segmenters, fusions, datasets and metrics, and broken plugins."""
    from cmedl_bench.api import list_plugins

    listing = list_plugins()
    if as_json:
        print(json.dumps(listing, indent=2))
        return
    table = Table(title="cmedl-bench plugins")
    for column in ("kind", "name", "description", "from"):
        table.add_column(column)
    for c in listing["components"]:
        table.add_row(c["kind"], c["name"], c["description"], f"{c['distribution']} {c['version']}")
    for b in listing["broken"]:
        table.add_row("[red]broken[/]", b["plugin"], f"[red]{b['error']}[/]", f"{b['distribution']} {b['version']}")
    stdout.print(table)


_RESULTS = Path(os.environ.get("CMEDL_BENCH_RESULTS", "cmedl-results"))
_OPTS = {
    "dataset": typer.Option("phantom", help="Dataset plugin generated when --data is not given."),
    "data": typer.Option(None, help="An existing dataset folder (cmedl-bench layout)."),
    "preset": typer.Option(None, help="smoke, cpu or paper (default: paper on a GPU, else cpu)."),
    "seed": typer.Option(0, help="Training seed."),
    "results": typer.Option(_RESULTS, help="Folder that receives one sub-folder per run."),
    "device": typer.Option(None, help="cpu, cuda or cuda:N (default: CUDA when present)."),
    "epochs": typer.Option(None, help="Override the preset's maximum number of epochs."),
    "vgg19": typer.Option(None, help="torchvision-format VGG19 state dict for the contextual loss "
                                     "(else $CMEDL_BENCH_VGG19 or the torch hub cache; else random init)."),
    "gan_mode": typer.Option("log", help="Adversarial loss: log (paper eq. 1) or lsgan."),
    "force": typer.Option(False, help="Retrain even if a finished run with this configuration exists."),
    "compile": typer.Option(False, "--compile", help="torch.compile every network (opt-in; worth it on a GPU)."),
    "as_json": typer.Option(False, "--json", help="Print the run record as JSON."),
    "quiet": typer.Option(False, help="No progress bars."),
}


def _translator_options(vgg19: Optional[Path], gan_mode: str) -> dict:
    if gan_mode not in ("log", "lsgan"):
        raise CmedlError(f"unknown --gan-mode {gan_mode!r}; use log or lsgan")
    return {"vgg19": str(vgg19.resolve()) if vgg19 else None, "gan_mode": gan_mode}


def _interruptible(call):
    try:
        return call()
    except KeyboardInterrupt:
        stderr.print("interrupted: the same command resumes from the last finished epoch")
        raise typer.Exit(130) from None


@app.command()
def run(
    translator: str = typer.Option("cx", help="Translator plugin, or 'none'."),
    segmenter: str = typer.Option("unet", help="Segmenter plugin."),
    fusion: str = typer.Option("hint", help="Fusion strategy plugin."),
    dataset: str = _OPTS["dataset"], data: Optional[Path] = _OPTS["data"], preset: Optional[str] = _OPTS["preset"],
    seed: int = _OPTS["seed"], results: Path = _OPTS["results"], device: Optional[str] = _OPTS["device"],
    epochs: Optional[int] = _OPTS["epochs"], vgg19: Optional[Path] = _OPTS["vgg19"], gan_mode: str = _OPTS["gan_mode"],
    compile_: bool = _OPTS["compile"],
    gpus: int = typer.Option(1, help="Data-parallel processes, one per GPU (with --device cpu: gloo processes)."),
    force: bool = _OPTS["force"], as_json: bool = _OPTS["as_json"], quiet: bool = _OPTS["quiet"],
) -> None:
    """Train one translator + segmenter + fusion combination and score it on the validation and test splits.
    The defaults are the paper's method, CMEDL (cx + unet + hint); CBCT only is --translator none --fusion none."""
    from cmedl_bench.api import run as run_api
    from cmedl_bench.api import run_parallel

    options = _translator_options(vgg19, gan_mode) if translator != "none" else {}
    kwargs = dict(translator=translator, segmenter=segmenter, fusion=fusion, dataset=dataset, data=data,
                  preset=preset, seed=seed, results=results, device=device,
                  overrides={"max_epochs": epochs, "compile": compile_ or None}, options=options, force=force,
                  quiet=quiet)
    if gpus < 1:
        raise CmedlError("--gpus takes 1 or more")
    record = _interruptible(lambda: run_parallel(gpus, **kwargs) if gpus > 1 else run_api(**kwargs))
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    _print_summary(record, results)


@app.command()
def translate(
    translator: str = typer.Option("cx", help="Translator plugin."),
    dataset: str = _OPTS["dataset"], data: Optional[Path] = _OPTS["data"], preset: Optional[str] = _OPTS["preset"],
    seed: int = _OPTS["seed"], results: Path = _OPTS["results"], device: Optional[str] = _OPTS["device"],
    epochs: Optional[int] = _OPTS["epochs"], vgg19: Optional[Path] = _OPTS["vgg19"], gan_mode: str = _OPTS["gan_mode"],
    force: bool = _OPTS["force"], as_json: bool = _OPTS["as_json"], quiet: bool = _OPTS["quiet"],
) -> None:
    """Train a CBCT <-> MRI translator alone and report pseudo-MRI quality (KL divergence to real MRI)."""
    from cmedl_bench.api import translate as translate_api

    record = _interruptible(lambda: translate_api(
        translator=translator, dataset=dataset, data=data, preset=preset, seed=seed, results=results, device=device,
        overrides={"translator_epochs": epochs}, options=_translator_options(vgg19, gan_mode), force=force,
        quiet=quiet))
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    table = Table(title=f"{record['run_id']}  (KL to real MRI, nats, mean ± SD; lower is closer)")
    for column in ("split", "pseudo-MRI", "raw CBCT", "n"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split in ("val", "test"):
        heads = record["summary"].get(split, {})
        if "pmri" in heads:
            pm, cb = heads["pmri"]["kl"], heads["cbct"]["kl"]
            table.add_row(split, f"{pm['mean']:.3f} ± {pm['sd']:.3f}", f"{cb['mean']:.3f} ± {cb['sd']:.3f}",
                          str(pm["n"]))
    stdout.print(table)
    features = record.get("translator", {}).get("cx_features")
    if features:
        stderr.print(f"contextual-loss features: {features}")
    stderr.print(f"run folder: {escape(str(results / record['run_id']))}", highlight=False)


def _print_summary(record: dict, results: Path) -> None:
    table = Table(title=f"{record['run_id']}  (test split, mean ± SD)")
    for column in ("head", "n", "DSC", "SDSC", "HD95 (mm)", "flagged"):
        table.add_column(column, justify="right" if column != "head" else "left")
    for head, metrics in record["summary"].get("test", {}).items():
        if "dsc" not in metrics:
            continue
        cells = [f"{metrics[m]['mean']:.3f} ± {metrics[m]['sd']:.3f}" if m in metrics else "-"
                 for m in ("dsc", "sdsc")]
        hd = metrics.get("hd95")
        cells.append(f"{hd['mean']:.2f} ± {hd['sd']:.2f}" if hd else "-")
        n = max((m["n"] for m in metrics.values()), default=0)
        flagged = max((m["flagged"] for m in metrics.values()), default=0)
        table.add_row(head, str(n), *cells, str(flagged))
    stdout.print(table)
    kl = record["summary"].get("test", {}).get("translator", {}).get("kl")
    if kl:
        stdout.print(f"pseudo-MRI KL to real MRI (test): {kl['mean']:.3f} ± {kl['sd']:.3f}")
    stderr.print(f"run folder: {escape(str(results / record['run_id']))}", highlight=False)


def _key_values(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key.strip():
            raise CmedlError(f"{option} takes KEY=VALUE, not {value!r}")
        out[key.strip()] = item.strip()
    return out


@app.command()
def sweep(
    suite: str = typer.Option("paper", help="paper, paper-table1 or paper-table2."),
    seeds: str = typer.Option("0", help="Comma-separated training seeds, e.g. 0,1,2."),
    launcher: str = typer.Option("local", help="Where the jobs run: local, slurm or ray (launcher plugins)."),
    launcher_option: list[str] = typer.Option([], "--launcher-option", help="KEY=VALUE for the launcher, e.g. "
                                                                            "partition=gpu (repeatable)."),
    dataset: str = _OPTS["dataset"], data: Optional[Path] = _OPTS["data"], preset: Optional[str] = _OPTS["preset"],
    results: Path = _OPTS["results"], device: Optional[str] = _OPTS["device"],
    epochs: Optional[int] = _OPTS["epochs"], vgg19: Optional[Path] = _OPTS["vgg19"], gan_mode: str = _OPTS["gan_mode"],
    compile_: bool = _OPTS["compile"], as_json: bool = _OPTS["as_json"], quiet: bool = _OPTS["quiet"],
) -> None:
    """Run every row of a suite of the paper's tables with a launcher; finished rows are skipped, so an interrupted
    sweep resumes where it stopped. Exit code 1 when a job failed (each failure names its log)."""
    from cmedl_bench.api import sweep as sweep_api

    try:
        seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError:
        raise CmedlError(f"--seeds takes comma-separated integers, not {seeds!r}") from None
    options = _translator_options(vgg19, gan_mode)
    outcomes = _interruptible(lambda: sweep_api(
        suite, seed_list, launcher=launcher, launcher_options=_key_values(launcher_option, "--launcher-option"),
        dataset=dataset, data=data, preset=preset, results=results, device=device,
        overrides={"max_epochs": epochs, "compile": compile_ or None}, options=options, quiet=quiet))
    failed = [o for o in outcomes if o.status != "finished"]
    if as_json:
        print(json.dumps([{"job": o.job.label, "status": o.status, "error": o.error,
                           "log": str(o.log) if o.log else None, "record": o.record} for o in outcomes],
                         indent=2, default=str))
    else:
        table = Table(title=f"sweep {suite} ({launcher}): test split, mean ± SD")
        for column in ("translator", "segmenter", "fusion", "head", "seed", "DSC", "SDSC", "HD95 (mm)", "wall (s)"):
            table.add_column(column)
        for record in (o.record for o in outcomes if o.record):
            config = record["config"]
            for head, metrics in record["summary"].get("test", {}).items():
                if "dsc" not in metrics:
                    continue
                table.add_row(config["translator"], config["segmenter"], config["fusion"], head,
                              str(config["seed"]),
                              *(f"{metrics[m]['mean']:.3f} ± {metrics[m]['sd']:.3f}" for m in ("dsc", "sdsc")),
                              f"{metrics['hd95']['mean']:.2f} ± {metrics['hd95']['sd']:.2f}",
                              f"{record.get('timings', {}).get('total_s', 0):.0f}")
        stdout.print(table)
    for outcome in failed:
        details = f"{outcome.job.label}: {outcome.error}\n  log: {outcome.log}\n  re-run alone: {outcome.job.command()}"
        stderr.print(f"[red]failed:[/] {escape(details)}", highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def sensitivity(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    head: Optional[str] = typer.Option(None, help="Head to analyse (default: the run's selection head)."),
    passes: int = typer.Option(10, help="Dropout passes per test case."),
    rate: float = typer.Option(0.5, help="Dropout rate on the weights of the last two layers."),
    seed: int = typer.Option(0, help="Seed of the dropout masks."),
    as_json: bool = _OPTS["as_json"], quiet: bool = _OPTS["quiet"],
) -> None:
    """Test-time dropout sensitivity analysis of a finished run (paper III.E, Fig. 8)."""
    from cmedl_bench.api import sensitivity as sensitivity_api

    result = sensitivity_api(run_dir, head=head, passes=passes, rate=rate, seed=seed, quiet=quiet)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"{result['run_id']} [{result['head']}]: DSC under test-time dropout")
    for column in ("case", "no dropout", "mean", "SD"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for name, case in result["cases"].items():
        table.add_row(name, f"{case['unperturbed']:.3f}", f"{case['mean']:.3f}", f"{case['sd']:.3f}")
    stdout.print(table)
    stdout.print(f"mSD = {result['mean_sd']:.4f}")
    stderr.print(f"plot: {escape(str(Path(run_dir) / 'sensitivity.png'))}", highlight=False)


@app.command()
def evaluate(
    pred: Path = typer.Option(..., help="Folder of predicted masks, one file per case (NIfTI, NRRD, MHA)."),
    ref: Path = typer.Option(..., help="Reference: a cmedl-bench dataset folder, or a folder of label maps."),
    name: str = typer.Option(..., help="Method name shown in reports."),
    split: str = typer.Option("test", help="Split(s) of the reference dataset to score, e.g. test or val,test."),
    label: Optional[int] = typer.Option(None, help="Label value of the tumour in the predictions (default: any "
                                                   "non-zero voxel)."),
    results: Path = _OPTS["results"], as_json: bool = _OPTS["as_json"], quiet: bool = _OPTS["quiet"],
) -> None:
    """Score predictions made by any tool against reference masks with the metric plugins; stored as a run that
    `report` ranks beside trained ones."""
    from cmedl_bench.api import evaluate as evaluate_api

    splits = tuple(s.strip() for s in split.split(",") if s.strip())
    if not splits or not set(splits) <= {"train", "val", "test"}:
        raise CmedlError(f"--split takes train, val and/or test, not {split!r}")
    record = evaluate_api(pred, ref, name, results=results, splits=splits, label=label, quiet=quiet)
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    table = Table(title=f"{record['run_id']}  (mean ± SD)")
    for column in ("split", "n", "DSC", "SDSC", "HD95 (mm)", "flagged"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split_name, heads in record["summary"].items():
        metrics = heads["prediction"]
        table.add_row(split_name, str(metrics["dsc"]["n"]),
                      *(f"{metrics[m]['mean']:.3f} ± {metrics[m]['sd']:.3f}" for m in ("dsc", "sdsc")),
                      f"{metrics['hd95']['mean']:.2f} ± {metrics['hd95']['sd']:.2f}",
                      str(max(m["flagged"] for m in metrics.values())))
    stdout.print(table)
    stderr.print(f"run folder: {escape(str(results / record['run_id']))}", highlight=False)


def _thresholds(values: list[str]) -> dict[str, float]:
    out = {}
    for label, floor in _key_values(values, "--fail-below").items():
        try:
            out[label] = float(floor)
        except ValueError:
            raise CmedlError(f"--fail-below takes METHOD=DSC, e.g. 'CMEDL (unet)=0.7', not {label}={floor}") from None
    return out


@app.command()
def report(
    results: list[Path] = typer.Argument(None, help="Run folders or folders of run folders (default: "
                                                    "$CMEDL_BENCH_RESULTS or cmedl-results)."),
    fmt: str = typer.Option("table", "--format", help="table, md, csv, json or html."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write to this file instead of stdout (html: default "
                                                           "leaderboard.html)."),
    reference: Optional[str] = typer.Option(None, help="Row every method is tested against (default: CBCT only "
                                                       "with the same segmenter)."),
    alpha: float = typer.Option(0.05, help="Significance level after Holm-Bonferroni adjustment."),
    fail_below: list[str] = typer.Option([], "--fail-below", help="METHOD=DSC: exit 1 when the row's mean test "
                                                                  "DSC is below DSC (repeatable); for CI."),
) -> None:
    """Leaderboard of finished runs in the paper's table shape, with paired Wilcoxon tests (Holm-Bonferroni)."""
    from cmedl_bench.api import check_thresholds
    from cmedl_bench.api import report as report_api

    formats = ("table", "md", "csv", "json", "html")
    if fmt not in formats:
        raise CmedlError(f"unknown --format {fmt!r}; use one of {', '.join(formats)}")
    thresholds = _thresholds(fail_below)
    board = report_api(results or [_RESULTS], reference=reference, alpha=alpha)
    failures = check_thresholds(board, thresholds)
    if fmt == "html":
        from cmedl_bench.io.atomic import atomic_write_text
        from cmedl_bench.results.html_report import to_html

        target = out or Path("leaderboard.html")
        atomic_write_text(target, to_html(board))
        stderr.print(f"wrote {escape(str(target))}", highlight=False)
    elif fmt == "table":
        from cmedl_bench.results.render import footnotes, rich_table

        wide = stdout if stdout.is_terminal else Console(width=180)
        wide.print(rich_table(board))
        for line in footnotes(board):
            stderr.print(escape(line), highlight=False)
    else:
        from cmedl_bench.results import render

        text = {"md": render.to_markdown, "csv": render.to_csv, "json": render.to_json}[fmt](board)
        if out:
            from cmedl_bench.io.atomic import atomic_write_text

            atomic_write_text(out, text)
            stderr.print(f"wrote {escape(str(out))}", highlight=False)
        else:
            sys.stdout.write(text)
    for failure in failures:
        stderr.print(f"[red]below threshold:[/] {escape(failure)}", highlight=False)
    if failures:
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
) -> None:
    """Generate a synthetic dataset (default: the thorax phantom) in the cmedl-bench layout."""
    from cmedl_bench.api import synth

    path = synth(out, dataset=dataset, seed=seed, size=size, quiet=quiet)
    print(path)
    if preview:
        from cmedl_bench.data.preview import plot_preview

        print(plot_preview(path, path / "preview.png"))


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


@data_app.command("import")
def data_import(
    dataset: Path = typer.Argument(..., help="Dataset folder to add the cases to (created if absent)."),
    dicom: Optional[Path] = typer.Option(None, help="Folder with DICOM image series and RTSTRUCT files."),
    roi: str = typer.Option("GTV*", help="ROI name or pattern of the tumour in the RTSTRUCT (case-insensitive)."),
    images: Optional[Path] = typer.Option(None, help="Folder of NIfTI/NRRD/MHA images (CASE.ext or "
                                                     "CASE_0000.ext)."),
    labels: Optional[Path] = typer.Option(None, help="Folder of label maps (CASE.ext), with --images."),
    label: Optional[str] = typer.Option(None, help="Tumour label value or name in the label maps (default: any "
                                                   "non-zero voxel)."),
    cohort: str = typer.Option("cbct", help="cbct or mri."),
    patient: Optional[str] = typer.Option(None, help="Patient id for DICOM imports (default: PatientID)."),
    patient_pattern: Optional[str] = typer.Option(None, help="Regex whose first group is the patient id in a "
                                                             "case id, e.g. '^(P\\d+)_W'."),
    case: Optional[str] = typer.Option(None, help="Case id when the DICOM folder holds one contoured series."),
    series: Optional[str] = typer.Option(None, help="SeriesInstanceUID the RTSTRUCT's contours are drawn on, when "
                                                    "the series it references is not in the folder."),
    resample_slices: bool = typer.Option(False, help="Interpolate a DICOM series with uneven slice spacing onto a "
                                                     "uniform grid instead of refusing it."),
    overwrite: bool = typer.Option(False, help="Replace cases that already exist."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Import DICOM series + RTSTRUCT, or image files + label maps, into the dataset layout."""
    from cmedl_bench.api import import_data

    if (dicom is None) == (images is None) or (images is not None) != (labels is not None):
        raise CmedlError("give either --dicom DIR, or --images DIR with --labels DIR")
    imported = import_data(dataset, dicom=dicom, roi=roi, images=images, labels=labels, label=label, cohort=cohort,
                           patient=patient, patient_pattern=patient_pattern, case=case, overwrite=overwrite,
                           quiet=quiet, series=series, resample_slices=resample_slices)
    table = Table(title=f"imported into {dataset} ({cohort})")
    for column in ("case", "patient", "tumour voxels", "source"):
        table.add_column(column, overflow="fold")
    for c in imported:
        source = ", ".join(f"{k}={v}" for k, v in c.source.items() if k in ("rois", "value", "label_resampled"))
        table.add_row(c.case_id, c.patient, str(c.tumour_voxels), escape(source))
    stdout.print(table)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    stderr.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or ``kill``'s stop), handled like Ctrl-C: the run is marked interrupted and resumes.

    A subclass rather than KeyboardInterrupt itself: with a plain KeyboardInterrupt, about one SIGTERM in ten
    ended the process by SIGINT (status -2) after it had printed the interruption and exited with 130. CPython
    marks an "unhandled Ctrl-C", and at shutdown kills itself with SIGINT, when a KeyboardInterrupt leaves certain
    C-level evaluations, and it tests for the exact type (``== PyExc_KeyboardInterrupt``), so a subclass is caught
    by every ``except KeyboardInterrupt`` here and never so marked."""


def _terminated(signum, frame) -> None:
    raise Terminated


def main() -> None:
    """Entry point: run the app, turning known errors into one line and exit code 2."""
    if not os.environ.get("CMEDL_BENCH_DEBUG"):
        warnings.showwarning = _one_line_warning
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except CmedlError as exc:
        if os.environ.get("CMEDL_BENCH_DEBUG"):
            raise
        stderr.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
