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
import traceback
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from cmedl_bench.errors import CmedlError
from cmedl_bench.request import RunRequest


@dataclass(frozen=True)
class Job:
    label: str  # translator+segmenter+fusion seed N
    request: RunRequest  # what the job runs (its ``threads``: torch threads for the job, None: torch's default)
    log: Path  # where a remote job writes its output
    runner: Callable[[RunRequest], dict[str, Any]] | None = None  # cmedl_bench.api.run; picklable

    def command(self) -> str:
        """The ``cmedl-bench run`` command line that runs this job alone."""
        return self.request.command("run")


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
        try:
            return job.runner(job.request.replace(quiet=True))
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


class RunBusy(CmedlError):
    """The job's run folder is held by another live process: another sweep, on this machine or one sharing the
    results folder, is training the same configuration."""


_BUSY_RAISES: ContextVar[bool] = ContextVar("busy_raises", default=False)


@contextlib.contextmanager
def unless_busy() -> Iterator[None]:
    """Inside it, a run in this process whose folder another process holds raises :class:`RunBusy` at once instead
    of waiting for the other one to finish: an in-process launcher runs the other jobs first and comes back (the
    configuration is then finished, and skipped, or still running, and waited for)."""
    token = _BUSY_RAISES.set(True)
    try:
        yield
    finally:
        _BUSY_RAISES.reset(token)


def busy_raises() -> bool:
    """Whether a held run folder raises :class:`RunBusy` here (:func:`unless_busy`) rather than being waited for."""
    return _BUSY_RAISES.get()
