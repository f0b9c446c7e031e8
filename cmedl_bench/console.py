"""The rich terminal reporter (stderr) behind the CLI and the notebook API: a progress bar with an ETA per task, and
one-line messages that are never read as markup (a path may contain ``[/]``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

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
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                      console=stderr, disable=self.quiet, transient=False) as progress:
            self._active = progress
            try:
                yield _RichTask(progress, progress.add_task(escape(description), total=total, info=info))
            finally:
                self._active = None

    def message(self, text: str) -> None:
        stderr.print(escape(text), highlight=False, soft_wrap=True)

    def warning(self, text: str) -> None:
        stderr.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
