"""The ``cmedl-bench`` command line: a thin Typer shell over :mod:`cmedl_bench.api`.

Data goes to stdout (``--json`` for machines); progress and messages to stderr. Known errors print one line and
exit with code 2; ``CMEDL_BENCH_DEBUG=1`` shows the traceback. Importing this module does not import torch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
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


@app.command()
def run(
    translator: str = typer.Option("none", help="Translator plugin, or 'none'."),
    segmenter: str = typer.Option("unet", help="Segmenter plugin."),
    fusion: str = typer.Option("none", help="Fusion strategy plugin."),
    dataset: str = typer.Option("phantom", help="Dataset plugin generated when --data is not given."),
    data: Optional[Path] = typer.Option(None, help="An existing dataset folder (cmedl-bench layout)."),
    preset: Optional[str] = typer.Option(None, help="smoke, cpu or paper (default: paper on a GPU, else cpu)."),
    seed: int = typer.Option(0, help="Training seed."),
    results: Path = typer.Option(Path(os.environ.get("CMEDL_BENCH_RESULTS", "cmedl-results")),
                                 help="Folder that receives one sub-folder per run."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or cuda:N (default: CUDA when present)."),
    epochs: Optional[int] = typer.Option(None, help="Override the preset's maximum number of epochs."),
    force: bool = typer.Option(False, help="Retrain even if a finished run with this configuration exists."),
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
    quiet: bool = typer.Option(False, help="No progress bars."),
) -> None:
    """Train one translator + segmenter + fusion combination and score it on the test split."""
    from cmedl_bench.api import run as run_api

    try:
        record = run_api(translator=translator, segmenter=segmenter, fusion=fusion, dataset=dataset, data=data,
                         preset=preset, seed=seed, results=results, device=device,
                         overrides={"max_epochs": epochs}, force=force, quiet=quiet)
    except KeyboardInterrupt:
        stderr.print("interrupted: the same command resumes from the last finished epoch")
        raise typer.Exit(130) from None
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    _print_summary(record, results)


def _print_summary(record: dict, results: Path) -> None:
    table = Table(title=f"{record['run_id']}  (test split, mean ± SD)")
    for column in ("head", "n", "DSC", "SDSC", "HD95 (mm)", "flagged"):
        table.add_column(column, justify="right" if column != "head" else "left")
    for head, metrics in record["summary"].get("test", {}).items():
        cells = [f"{metrics[m]['mean']:.3f} ± {metrics[m]['sd']:.3f}" if m in metrics else "-"
                 for m in ("dsc", "sdsc")]
        hd = metrics.get("hd95")
        cells.append(f"{hd['mean']:.2f} ± {hd['sd']:.2f}" if hd else "-")
        n = max((m["n"] for m in metrics.values()), default=0)
        flagged = max((m["flagged"] for m in metrics.values()), default=0)
        table.add_row(head, str(n), *cells, str(flagged))
    stdout.print(table)
    stderr.print(f"run folder: {results / record['run_id']}")


@data_app.command("synth")
def data_synth(
    out: Path = typer.Argument(..., help="Folder to write the dataset into."),
    dataset: str = typer.Option("phantom", help="Dataset plugin."),
    seed: int = typer.Option(0, help="Generator seed."),
    size: str = typer.Option("full", help="full or small."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Generate a synthetic dataset (default: the thorax phantom) in the cmedl-bench layout."""
    from cmedl_bench.api import synth

    path = synth(out, dataset=dataset, seed=seed, size=size, quiet=quiet)
    print(path)


def main() -> None:
    """Entry point: run the app, turning known errors into one line and exit code 2."""
    try:
        app()
    except CmedlError as exc:
        if os.environ.get("CMEDL_BENCH_DEBUG"):
            raise
        stderr.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
