"""Launchers run a sweep's jobs somewhere: this process (``local``), a Slurm cluster through submitit (``slurm``),
or a Ray cluster (``ray``). They are plugins (kind ``launcher``); the core only defines the job and its outcome.

Every job is one call of its ``runner`` (``cmedl_bench.api.run``) and writes into the sweep's results folder, where
a run folder is named by its configuration hash: whichever launcher ran a grid, ``report`` sees the same folders, a
finished job is never run twice, and an unfinished one resumes. A job that fails does not stop the others; its outcome
names its log and the command that re-runs it alone.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Job:
    label: str  # translator+segmenter+fusion seed N
    run: dict[str, Any]  # keyword arguments of cmedl_bench.api.run
    log: Path  # where a remote job writes its output
    runner: Callable[..., dict[str, Any]] | None = None  # called with ``run`` (cmedl_bench.api.run); picklable
    threads: int | None = None  # torch threads for the job (None: torch's default)

    def command(self) -> str:
        """The ``cmedl-bench run`` command line that runs this job alone."""
        args = ["cmedl-bench", "run"]
        for key in ("translator", "segmenter", "fusion", "dataset", "data", "preset", "seed", "results", "device"):
            value = self.run.get(key)
            if value is not None:
                args += [f"--{key}", str(value)]
        overrides = self.run.get("overrides") or {}
        for field_name, option in (("max_epochs", "--epochs"), ("patience", "--patience")):
            if overrides.get(field_name) is not None:
                args += [option, str(overrides[field_name])]
        if overrides.get("compile"):
            args.append("--compile")
        if overrides.get("foreground_fraction") is not None:
            args += ["--foreground", str(overrides["foreground_fraction"])]
        for key, value in (self.run.get("options") or {}).items():
            if key == "hint_teacher" and isinstance(value, bool):
                args.append(f"--{'' if value else 'no-'}hint-teacher")
            elif value is not None and key in ("vgg19", "gan_mode", "lambda_hint", "segmenter_seg_weight"):
                args += [f"--{key.replace('_', '-')}", str(value)]
        if self.run.get("metrics"):
            args += ["--metrics", ",".join(self.run["metrics"])]
        for key, text in (self.run.get("component_options") or {}).items():
            args += ["--option", f"{key}={text}"]
        return shlex.join(args)


@dataclass
class JobOutcome:
    job: Job
    status: str  # "finished" or "failed"
    record: dict[str, Any] | None = None
    error: str | None = None
    log: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def execute(job: Job) -> dict[str, Any]:
    """Run one job in a worker process (Slurm, Ray), its output going to ``job.log``; returns the run record."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "w") as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        if job.threads:
            import torch

            torch.set_num_threads(job.threads)
        try:
            return job.runner(**{**job.run, "quiet": True})
        except BaseException:
            traceback.print_exc(file=handle)
            raise


def failure_text(exc: BaseException) -> str:
    """The error line of an exception: remote errors (submitit, Ray) embed the job's whole traceback, whose last
    ``SomeError: message`` line is the one that matters."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Interrupt)\b.*:", line)]
    chosen = errors[-1] if errors else (lines[-1] if lines else type(exc).__name__)
    return chosen[:300]


class Launcher:
    """Base class: ``launch`` runs every job and returns one outcome per job, in order."""

    def __init__(self, options: dict[str, str]):
        self.options = dict(options)

    def launch(self, jobs: list[Job]) -> list[JobOutcome]:
        raise NotImplementedError
