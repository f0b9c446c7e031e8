"""The rich terminal reporter (stderr) behind the CLI and the notebook API: a progress bar with an ETA per task, and
one-line messages that are never read as markup (a path may contain ``[/]``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Column

stderr = Console(stderr=True)


class _RichTask:
    def __init__(self, progress: Progress, task: TaskID):
        self.progress, self.id = progress, task

    def advance(self, steps: int = 1) -> None:
        self.progress.advance(self.id, steps)

    def update(self, completed: int | None = None, total: int | None = None, info: str | None = None) -> None:
        fields = {"info": info} if info is not None else {}
        self.progress.update(self.id, completed=completed, total=total, **fields)

    def tick(self, total: int | None) -> None:
        self.progress.update(self.id, total=total, advance=1)


#: what a progress line needs besides its info text: a description of up to 26 characters, a 20-character bar, the
#: counts, elapsed time and ETA, and the spaces between them
_FIXED_WIDTH = 72


def progress_columns(width: int) -> tuple:
    """Description, bar, counts, elapsed and ETA keep their width in a terminal of ``width`` columns (80 included);
    the task's info (a training epoch's losses) comes last and is cut with an ellipsis where the line would end."""
    return (TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True, max_width=26,
                                                                      overflow="ellipsis")),
            BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True, overflow="ellipsis",
                                                                  max_width=max(8, width - _FIXED_WIDTH))))


class RichReporter:
    """Tasks opened inside another task's context share its display (one live display at a time)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._active: Progress | None = None

    @contextmanager
    def task(self, description: str, total: int | None = None, info: str = "") -> Iterator[_RichTask]:
        if self._active is not None:
            yield _RichTask(self._active, self._active.add_task(escape(description), total=total, info=info))
            return
        with Progress(*progress_columns(stderr.width), console=stderr, disable=self.quiet,
                      transient=False) as progress:
            self._active = progress
            try:
                yield _RichTask(progress, progress.add_task(escape(description), total=total, info=info))
            finally:
                self._active = None

    def message(self, text: str) -> None:
        stderr.print(escape(text), highlight=False, soft_wrap=True)

    def warning(self, text: str) -> None:
        stderr.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
