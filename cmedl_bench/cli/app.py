"""The Typer application, its consoles and the options the verbs share. Importing it does not import torch."""

from __future__ import annotations

import os

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from cmedl_bench import __version__
from cmedl_bench.console import stderr
from cmedl_bench.errors import CmedlError
from cmedl_bench.settings import results_dir

__all__ = ["OPTS", "app", "data_app", "interruptible", "key_values", "stderr", "stdout", "translator_options",
           "use_settings"]

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


OPTS = {
    "dataset": typer.Option("phantom", help="Dataset plugin generated when --data is not given."),
    "data": typer.Option(None, help="An existing dataset folder (cmedl-bench layout)."),
    "preset": typer.Option(None, help="smoke, cpu or paper (default: paper on a GPU, else cpu)."),
    "seed": typer.Option(0, help="Training seed."),
    "results": typer.Option(results_dir(), help="Folder that receives one sub-folder per run."),
    "device": typer.Option(None, help="cpu, cuda or cuda:N (default: CUDA when present)."),
    "epochs": typer.Option(None, help="Override the preset's maximum number of epochs."),
    "metrics": typer.Option("", help="Comma-separated metrics to score, e.g. dsc,hd95,assd (dsc always); default: "
                                      "every installed metric ('cmedl-bench plugins')."),
    "option": typer.Option([], "--option", help="KEY=VALUE for an option a selected component declares (see "
                                                "'cmedl-bench plugins --json', info options), e.g. "
                                                "lambda_seg=5; repeatable; typed like its default."),
    "patience": typer.Option(None, help="Override the preset's early-stopping patience: epochs without a better "
                                        "validation DSC before training stops."),
    "foreground": typer.Option(None, help="Share of each batch's crops centred on tumour; the rest are drawn anywhere "
                                          "in the body, tumour-free slices included (default: the preset's, 1 = "
                                          "tumour crops only, as the paper)."),
    "vgg19": typer.Option(None, help="torchvision-format VGG19 state dict for the contextual loss "
                                     "(else $CMEDL_BENCH_VGG19 or the torch hub cache; else random init)."),
    "gan_mode": typer.Option("log", help="Adversarial loss: log (paper eq. 1) or lsgan."),
    "lambda_hint": typer.Option(None, help="Weight of the hint loss (fusion hint; default 1, eq. 7)."),
    "segmenter_seg_weight": typer.Option(None, help="Weight of the Dice losses in the segmenters' update (fusion "
                                                    "hint; default 1, the gradient sentence; 5: eq. 7 literally)."),
    "hint_teacher": typer.Option(None, "--hint-teacher/--no-hint-teacher",
                                 help="Let the hint also pull the teacher (fusion hint; default: teacher detached)."),
    "force": typer.Option(False, help="Retrain even if a finished run with this configuration exists."),
    "compile": typer.Option(False, "--compile", help="torch.compile every network (opt-in; worth it on a GPU)."),
    "as_json": typer.Option(False, "--json", help="Print the run record as JSON."),
    "quiet": typer.Option(False, help="No progress bars."),
    "threads": typer.Option(None, help="Torch threads (default: one per core); recorded in run.json."),
    "log": typer.Option(None, "--log", help="Experiment trackers to follow the run, e.g. tensorboard,mlflow "
                                             "(pip install 'cmedl-bench[tracking]'); nothing is logged without it."),
    "resample_tilt": typer.Option(False, help="Put a DICOM series acquired with a gantry tilt (slices sheared "
                                              "in-plane) on an orthogonal grid instead of refusing it."),
}


def translator_options(vgg19: Optional[Path], gan_mode: str, lambda_hint: Optional[float] = None,
                       segmenter_seg_weight: Optional[float] = None, hint_teacher: Optional[bool] = None) -> dict:
    """Component options of a run with a translator; unset ones stay out (and out of the configuration hash)."""
    if gan_mode not in ("log", "lsgan"):
        raise CmedlError(f"unknown --gan-mode {gan_mode!r}; use log or lsgan")
    for name, value in (("--lambda-hint", lambda_hint), ("--segmenter-seg-weight", segmenter_seg_weight)):
        if value is not None and value < 0:
            raise CmedlError(f"{name} must not be negative, not {value}")
    return {"vgg19": str(vgg19.resolve()) if vgg19 else None, "gan_mode": gan_mode, "lambda_hint": lambda_hint,
            "segmenter_seg_weight": segmenter_seg_weight, "hint_teacher": hint_teacher}


def interruptible(call):
    try:
        return call()
    except KeyboardInterrupt:
        stderr.print("interrupted: the same command resumes from the last finished epoch")
        raise typer.Exit(130) from None


def use_settings(threads: int | None = None, log: str | None = None) -> None:
    """``--threads N`` and ``--log NAMES``: the command's torch threads and experiment trackers, through
    :data:`cmedl_bench.settings.THREADS_VARIABLE` and :data:`cmedl_bench.settings.LOG_VARIABLE` (so jobs a local
    sweep runs in this process see them too)."""
    from cmedl_bench.settings import LOG_VARIABLE, THREADS_VARIABLE

    if threads is not None:
        if threads < 1:
            raise CmedlError(f"--threads must be a whole number of at least 1, not {threads}")
        os.environ[THREADS_VARIABLE] = str(threads)
    if log:
        os.environ[LOG_VARIABLE] = log


def key_values(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key.strip():
            raise CmedlError(f"{option} takes KEY=VALUE, not {value!r}")
        out[key.strip()] = item.strip()
    return out

