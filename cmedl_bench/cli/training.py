"""The training verbs: ``run``, ``translate``, ``sweep`` and ``sensitivity``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from cmedl_bench.cli.app import OPTS, app, interruptible, stderr, stdout
from cmedl_bench.cli.request_options import request_command
from cmedl_bench.cli.summaries import summary_table
from cmedl_bench.errors import CmedlError
from cmedl_bench.request import RunRequest, key_values


@app.command()
@request_command("run")
def run(request: RunRequest,
        gpus: int = typer.Option(1, help="Data-parallel processes, one per GPU (with --device cpu: gloo processes)."),
        as_json: bool = OPTS["as_json"]) -> None:
    """Train one translator + segmenter + fusion combination and score it on the validation and test splits.
    The defaults are the paper's method, CMEDL (cx + unet + hint); CBCT only is --translator none --fusion none."""
    from cmedl_bench.api import run as run_api
    from cmedl_bench.api import run_parallel

    if gpus < 1:
        raise CmedlError("--gpus takes 1 or more")
    record = interruptible(lambda: run_parallel(gpus, request) if gpus > 1 else run_api(request))
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    smoke = ((record.get("config") or {}).get("preset") or {}).get("name") == "smoke"
    stdout.print(summary_table([record], f"{record['run_id']}  (test split, mean ± SD"
                                         + ("; smoke preset: it proves the pipeline, these numbers mean nothing)"
                                            if smoke else ")")))
    stderr.print(f"run folder: {escape(str(request.results / record['run_id']))}", highlight=False)


@app.command()
@request_command("translate")
def translate(request: RunRequest, as_json: bool = OPTS["as_json"]) -> None:
    """Train a CBCT <-> MRI translator alone and report pseudo-MRI quality (KL divergence to real MRI)."""
    from cmedl_bench.api import translate as translate_api

    record = interruptible(lambda: translate_api(request))
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    stdout.print(summary_table([record], f"{record['run_id']}  (pseudo-MRI (pmri) and raw CBCT (cbct) against real "
                                          f"MRI: KL, lower is closer; fidelity at the tumour; mean ± SD)",
                               ("val", "test")))
    features = record.get("translator", {}).get("cx_features")
    if features:
        stderr.print(f"contextual-loss features: {escape(str(features))}", highlight=False)
    stderr.print(f"run folder: {escape(str(request.results / record['run_id']))}", highlight=False)


@app.command()
@request_command("sweep")
def sweep(
    request: RunRequest,
    suite: Optional[str] = typer.Option(None, help="A built-in suite: paper (default), paper-table1, paper-table2, "
                                                   "evidence, diagnostics, ladder, learning-curve (docs/results.md, "
                                                   "docs/ladder.md); or a suite file ending in .toml "
                                                   "(docs/reference.md, suite files)."),
    grid: list[str] = typer.Option([], "--grid", help="AXIS=NAME[,NAME...] (translator, segmenter, fusion, "
                                                      "dataset; repeatable): sweep every combination instead of a "
                                                      "suite, e.g. --grid segmenter=unet,my-seg."),
    seeds: str = typer.Option("0", help="Comma-separated training seeds, e.g. 0,1,2."),
    launcher: str = typer.Option("local", help="Where the jobs run: local, slurm or ray (launcher plugins)."),
    launcher_option: list[str] = typer.Option([], "--launcher-option", help="KEY=VALUE for the launcher, e.g. "
                                                                            "partition=gpu (repeatable)."),
    as_json: bool = OPTS["as_json"],
) -> None:
    """Run every row of a suite (or of a --grid) for every seed with a launcher; every row is checked before the
    first trains, finished rows are skipped, so an interrupted sweep resumes where it stopped. Exit code 1 when a job
    failed (each failure names its log)."""
    from cmedl_bench.api import sweep as sweep_api
    from cmedl_bench.suite_files import grid_rows, parse_grid

    try:
        seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError:
        raise CmedlError(f"--seeds takes comma-separated integers, not {seeds!r}") from None
    if grid and suite:
        raise CmedlError("give --suite or --grid, not both")
    rows = grid_rows(parse_grid(grid)) if grid else None
    name = "grid" if grid else suite or "paper"
    outcomes = interruptible(lambda: sweep_api(name, seed_list, rows=rows, launcher=launcher,
                                               launcher_options=key_values(launcher_option, "--launcher-option"),
                                               request=request))
    failed = [o for o in outcomes if o.status != "finished"]
    if as_json:
        print(json.dumps([{"job": o.job.label, "status": o.status, "error": o.error,
                           "log": str(o.log) if o.log else None, "record": o.record} for o in outcomes],
                         indent=2, default=str))
    else:
        stdout.print(summary_table([o.record for o in outcomes if o.record],
                                   f"sweep {name} ({launcher}): test split, mean ± SD"))
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
    as_json: bool = OPTS["as_json"], quiet: bool = OPTS["quiet"],
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
