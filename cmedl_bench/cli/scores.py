"""The scoring verbs: ``evaluate`` (masks made by any tool) and ``report`` (the leaderboard)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from cmedl_bench.cli.app import OPTS, app, stderr, stdout
from cmedl_bench.cli.summaries import summary_table
from cmedl_bench.errors import CmedlError
from cmedl_bench.request import key_values
from cmedl_bench.settings import results_dir


@app.command()
def evaluate(
    pred: Path = typer.Option(..., help="Folder of predicted masks, one file per case (NIfTI, NRRD, MHA)."),
    ref: Path = typer.Option(..., help="Reference: a cmedl-bench dataset folder, or a folder of label maps."),
    name: str = typer.Option(..., help="Method name shown in reports."),
    split: str = typer.Option("test", help="Split(s) of the reference dataset to score, e.g. test or val,test."),
    label: Optional[int] = typer.Option(None, help="Label value of the tumour in multi-label predictions (default: "
                                                   "binary masks, one non-zero value)."),
    threshold: Optional[float] = typer.Option(None, help="Read predictions as probability maps: tumour where the "
                                                         "value exceeds this."),
    results: Path = OPTS["results"], as_json: bool = OPTS["as_json"], quiet: bool = OPTS["quiet"],
) -> None:
    """Score predictions made by any tool against reference masks with the metric plugins; stored as a run that
    `report` ranks beside trained ones."""
    from cmedl_bench.api import evaluate as evaluate_api

    splits = tuple(s.strip() for s in split.split(",") if s.strip())
    if not splits or not set(splits) <= {"train", "val", "test"}:
        raise CmedlError(f"--split takes train, val and/or test, not {split!r}")
    record = evaluate_api(pred, ref, name, results=results, splits=splits, label=label, threshold=threshold,
                          quiet=quiet)
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    stdout.print(summary_table([record], f"{record['run_id']}  (mean ± SD)", tuple(record["summary"])))
    stderr.print(f"run folder: {escape(str(results / record['run_id']))}", highlight=False)


def _print_board(board, wide: bool) -> None:
    """The terminal leaderboard (:mod:`cmedl_bench.results.terminal`) on stdout, its footnotes on stderr."""
    from cmedl_bench.results.render import footnotes
    from cmedl_bench.results.terminal import blocks, rich_table

    table = rich_table(board, wide)
    needed = Console(width=1000).measure(table).maximum  # every column at its natural width
    width = stdout.width if stdout.is_terminal else int(os.environ.get("COLUMNS") or 0) or needed
    if needed > width and not wide:  # the table would squeeze names and cut values: one block per method
        print(blocks(board, width))
    else:
        Console(width=max(width, needed), force_terminal=stdout.is_terminal).print(table)
    for line in footnotes(board):
        stderr.print(escape(line), highlight=False)


def _thresholds(values: list[str]) -> dict[str, float]:
    out = {}
    for label, floor in key_values(values, "--fail-below").items():
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
    pairing: str = typer.Option("patient", help="Unit of the paired tests: patient (a patient's scans and seeds "
                                                "averaged; the default) or scan."),
    test_metrics: str = typer.Option("dsc,sdsc", "--metrics", help="Metrics tested against the reference (the "
                                                                   "Holm family is every row x these)."),
    rank_by: str = typer.Option("dsc", help="Metric the rows are ranked by (mean on test, best first in the "
                                            "metric's direction); any metric of the runs."),
    fail_below: list[str] = typer.Option([], "--fail-below", help="METHOD=DSC: exit 1 when the row's mean test "
                                                                  "DSC is below DSC (repeatable); for CI."),
    wide: bool = typer.Option(False, "--wide", help="table: every column (validation, every metric, subgroups, "
                                                    "KL); by default the compact ones, or one block per method "
                                                    "below 120 columns."),
) -> None:
    """Leaderboard of finished runs in the paper's table shape, with paired Wilcoxon tests (Holm-Bonferroni)."""
    from cmedl_bench.api import check_thresholds
    from cmedl_bench.api import report as report_api

    formats = ("table", "md", "csv", "json", "html")
    if fmt not in formats:
        raise CmedlError(f"unknown --format {fmt!r}; use one of {', '.join(formats)}")
    thresholds = _thresholds(fail_below)
    if out is not None and out.is_dir():
        raise CmedlError(f"--out {out} is a folder; give a file name")
    board = report_api(results or [results_dir()], reference=reference, alpha=alpha, pairing=pairing,
                       metrics=tuple(m.strip() for m in test_metrics.split(",") if m.strip()), rank_by=rank_by)
    failures = check_thresholds(board, thresholds)
    if fmt == "html":
        from cmedl_bench.io.atomic import atomic_write_text
        from cmedl_bench.results.html_report import to_html

        target = out or Path("leaderboard.html")
        atomic_write_text(target, to_html(board))
        stderr.print(f"wrote {escape(str(target))}", highlight=False)
    elif fmt == "table":
        _print_board(board, wide)
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
