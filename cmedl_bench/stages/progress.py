"""The reporter interface through which stages show progress and messages: the CLI and the notebook API pass a rich
one (:mod:`cmedl_bench.console`), tests and remote workers a :class:`SilentReporter`."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol


class Task(Protocol):
    def advance(self, steps: int = 1) -> None: ...

    def update(self, completed: int | None = None, total: int | None = None, info: str | None = None) -> None: ...

    def tick(self, total: int | None) -> None:
        """One item done out of ``total`` (the callback shape the data layer uses)."""


class Reporter(Protocol):
    def task(self, description: str, total: int | None = None, info: str = "") -> "contextmanager[Task]":
        """A context in which one piece of work progresses (a bar on a terminal)."""

    def message(self, text: str) -> None:
        """A line for the user (plain text: never read as markup)."""

    def warning(self, text: str) -> None: ...


class _SilentTask:
    def advance(self, steps: int = 1) -> None:
        pass

    def update(self, completed: int | None = None, total: int | None = None, info: str | None = None) -> None:
        pass

    def tick(self, total: int | None) -> None:
        pass


class SilentReporter:
    """Shows nothing (remote workers, data-parallel ranks other than 0, tests)."""

    @contextmanager
    def task(self, description: str, total: int | None = None, info: str = "") -> Iterator[_SilentTask]:
        yield _SilentTask()

    def message(self, text: str) -> None:
        pass

    def warning(self, text: str) -> None:
        pass
