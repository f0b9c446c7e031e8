"""The ``cmedl-bench`` command line: a thin Typer shell over :mod:`cmedl_bench.api`, one module per group of verbs.

Data goes to stdout (``--json`` for machines); progress and messages to stderr. Known errors print one line and
exit with code 2, and so does an error of the operating system (a full disk, a read-only or missing folder): the
line names the path and what the system said; ``CMEDL_BENCH_DEBUG=1`` shows the traceback. Importing this package
does not import torch.
"""

from __future__ import annotations

import signal
import sys
import warnings

from rich.markup import escape

from cmedl_bench import settings
from cmedl_bench.cli import training, deployment, scores, data  # noqa: F401, I001  (each registers its commands, in this order)
from cmedl_bench.cli.app import app, stderr
from cmedl_bench.errors import CmedlError

__all__ = ["app", "main"]


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
    if not settings.debug():
        warnings.showwarning = _one_line_warning
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except (CmedlError, OSError) as exc:
        if settings.debug():
            raise
        stderr.print(f"[red]error:[/] {escape(_one_line(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


def _one_line(exc: BaseException) -> str:
    """The error as one line; an operating-system error names its path and what the system said."""
    if isinstance(exc, OSError) and not isinstance(exc, CmedlError) and exc.strerror:
        where = exc.filename or ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    return str(exc)
