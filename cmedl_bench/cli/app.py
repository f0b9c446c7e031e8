"""The Typer application, its consoles and the options the verbs share. Importing it does not import torch."""

from __future__ import annotations

import typer
from rich.console import Console

from cmedl_bench import __version__
from cmedl_bench.cli.request_options import table_option
from cmedl_bench.console import stderr

__all__ = ["OPTS", "app", "data_app", "interruptible", "stderr", "stdout"]

app = typer.Typer(name="cmedl-bench", no_args_is_help=True, pretty_exceptions_show_locals=False,
                  add_completion=True, help="Benchmark cross-modality learning for CBCT lung tumour segmentation.")
data_app = typer.Typer(no_args_is_help=True, help="Create and inspect datasets.")
app.add_typer(data_app, name="data")

stdout = Console()


def _version(value: bool) -> None:
    if value:
        print(f"cmedl-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Benchmark cross-modality learning for CBCT lung tumour segmentation."""


#: options the other verbs share with the run request's table (:mod:`cmedl_bench.cli.request_options`)
OPTS = {name: table_option(name) for name in ("device", "results", "quiet", "threads")} | {
    "option": table_option("options"),
    "as_json": typer.Option(False, "--json", help="Print the run record as JSON."),
    "resample_tilt": typer.Option(False, help="Put a DICOM series acquired with a gantry tilt (slices sheared "
                                              "in-plane) on an orthogonal grid instead of refusing it."),
}


def interruptible(call):
    try:
        return call()
    except KeyboardInterrupt:
        stderr.print("interrupted: the same command resumes from the last finished epoch")
        raise typer.Exit(130) from None
