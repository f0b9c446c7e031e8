"""The training verbs: ``run``, ``translate``, ``sweep`` and ``sensitivity``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from cmedl_bench.cli.app import (OPTS, app, interruptible, key_values, stderr, stdout, translator_options,
                              use_settings)
from cmedl_bench.cli.summaries import summary_table
from cmedl_bench.errors import CmedlError


@app.command()
def run(
    translator: str = typer.Option("cx", help="Translator plugin, or 'none'."),
    segmenter: str = typer.Option("unet", help="Segmenter plugin."),
    fusion: str = typer.Option("hint", help="Fusion strategy plugin."),
    dataset: str = OPTS["dataset"], data: Optional[Path] = OPTS["data"], preset: Optional[str] = OPTS["preset"],
    seed: int = OPTS["seed"], results: Path = OPTS["results"], device: Optional[str] = OPTS["device"],
    epochs: Optional[int] = OPTS["epochs"], patience: Optional[int] = OPTS["patience"],
    foreground: Optional[float] = OPTS["foreground"],
    vgg19: Optional[Path] = OPTS["vgg19"], gan_mode: str = OPTS["gan_mode"],
    lambda_hint: Optional[float] = OPTS["lambda_hint"],
    segmenter_seg_weight: Optional[float] = OPTS["segmenter_seg_weight"],
    hint_teacher: Optional[bool] = OPTS["hint_teacher"], option: list[str] = OPTS["option"],
    metrics: str = OPTS["metrics"], compile_: bool = OPTS["compile"],
    gpus: int = typer.Option(1, help="Data-parallel processes, one per GPU (with --device cpu: gloo processes)."),
    force: bool = OPTS["force"], as_json: bool = OPTS["as_json"], quiet: bool = OPTS["quiet"],
    threads: Optional[int] = OPTS["threads"], log: Optional[str] = OPTS["log"],
) -> None:
    """Train one translator + segmenter + fusion combination and score it on the validation and test splits.
    The defaults are the paper's method, CMEDL (cx + unet + hint); CBCT only is --translator none --fusion none."""
    from cmedl_bench.api import run as run_api
    from cmedl_bench.api import run_parallel

    use_settings(threads, log)
    settings = _training_settings(epochs, patience, foreground, compile_, vgg19, gan_mode, lambda_hint,
                                  segmenter_seg_weight, hint_teacher, option, metrics)
    if translator == "none":
        settings["options"] = {}  # translator options mean nothing without a translator (and stay out of the hash)
    kwargs = dict(translator=translator, segmenter=segmenter, fusion=fusion, dataset=dataset, data=data,
                  preset=preset, seed=seed, results=results, device=device, force=force, quiet=quiet, **settings)
    if gpus < 1:
        raise CmedlError("--gpus takes 1 or more")
    record = interruptible(lambda: run_parallel(gpus, **kwargs) if gpus > 1 else run_api(**kwargs))
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    smoke = ((record.get("config") or {}).get("preset") or {}).get("name") == "smoke"
    stdout.print(summary_table([record], f"{record['run_id']}  (test split, mean ± SD"
                                         + ("; smoke preset: it proves the pipeline, these numbers mean nothing)"
                                            if smoke else ")")))
    stderr.print(f"run folder: {escape(str(results / record['run_id']))}", highlight=False)


@app.command()
def translate(
    translator: str = typer.Option("cx", help="Translator plugin."),
    dataset: str = OPTS["dataset"], data: Optional[Path] = OPTS["data"], preset: Optional[str] = OPTS["preset"],
    seed: int = OPTS["seed"], results: Path = OPTS["results"], device: Optional[str] = OPTS["device"],
    epochs: Optional[int] = OPTS["epochs"], vgg19: Optional[Path] = OPTS["vgg19"], gan_mode: str = OPTS["gan_mode"],
    option: list[str] = OPTS["option"],
    force: bool = OPTS["force"], as_json: bool = OPTS["as_json"], quiet: bool = OPTS["quiet"],
) -> None:
    """Train a CBCT <-> MRI translator alone and report pseudo-MRI quality (KL divergence to real MRI)."""
    from cmedl_bench.api import translate as translate_api

    record = interruptible(lambda: translate_api(
        translator=translator, dataset=dataset, data=data, preset=preset, seed=seed, results=results, device=device,
        overrides={"translator_epochs": epochs}, options=translator_options(vgg19, gan_mode), force=force,
        quiet=quiet, component_options=key_values(option, "--option")))
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    stdout.print(summary_table([record], f"{record['run_id']}  (pseudo-MRI (pmri) and raw CBCT (cbct) against real "
                                          f"MRI: KL, lower is closer; fidelity at the tumour; mean ± SD)",
                               ("val", "test")))
    features = record.get("translator", {}).get("cx_features")
    if features:
        stderr.print(f"contextual-loss features: {escape(str(features))}", highlight=False)
    stderr.print(f"run folder: {escape(str(results / record['run_id']))}", highlight=False)


@app.command()
def sweep(
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
    dataset: str = OPTS["dataset"], data: Optional[Path] = OPTS["data"], preset: Optional[str] = OPTS["preset"],
    results: Path = OPTS["results"], device: Optional[str] = OPTS["device"],
    epochs: Optional[int] = OPTS["epochs"], patience: Optional[int] = OPTS["patience"],
    foreground: Optional[float] = OPTS["foreground"],
    vgg19: Optional[Path] = OPTS["vgg19"], gan_mode: str = OPTS["gan_mode"],
    lambda_hint: Optional[float] = OPTS["lambda_hint"],
    segmenter_seg_weight: Optional[float] = OPTS["segmenter_seg_weight"],
    hint_teacher: Optional[bool] = OPTS["hint_teacher"], option: list[str] = OPTS["option"],
    metrics: str = OPTS["metrics"], compile_: bool = OPTS["compile"], as_json: bool = OPTS["as_json"],
    quiet: bool = OPTS["quiet"], threads: Optional[int] = OPTS["threads"], log: Optional[str] = OPTS["log"],
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
    use_settings(threads, log)
    settings = _training_settings(epochs, patience, foreground, compile_, vgg19, gan_mode, lambda_hint,
                                  segmenter_seg_weight, hint_teacher, option, metrics)
    if grid and suite:
        raise CmedlError("give --suite or --grid, not both")
    rows = grid_rows(parse_grid(grid)) if grid else None
    name = "grid" if grid else suite or "paper"
    outcomes = interruptible(lambda: sweep_api(
        name, seed_list, rows=rows, launcher=launcher,
        launcher_options=key_values(launcher_option, "--launcher-option"), dataset=dataset, data=data, preset=preset, results=results, device=device, quiet=quiet, **settings))
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


def _training_settings(epochs, patience, foreground, compile_, vgg19, gan_mode, lambda_hint, segmenter_seg_weight,
                       hint_teacher, option: list[str], metrics: str) -> dict:
    """What ``run`` and ``sweep`` pass on from the training options they share: preset overrides, the named
    component options, the ``--option`` pairs and the metric selection."""
    return {"overrides": _overrides(epochs, patience, compile_, foreground),
            "options": translator_options(vgg19, gan_mode, lambda_hint, segmenter_seg_weight, hint_teacher),
            "component_options": key_values(option, "--option"),
            "metrics": tuple(name.strip() for name in metrics.split(",") if name.strip())}


def _overrides(epochs: Optional[int], patience: Optional[int], compile_: bool, foreground: Optional[float]) -> dict:
    """Preset fields the options change (None: the preset's own value)."""
    return {"max_epochs": epochs, "patience": patience, "compile": compile_ or None,
            "foreground_fraction": foreground}
