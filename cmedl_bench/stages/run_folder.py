"""The life cycle of a run folder, shared by ``run`` and ``translate``: claim it (an exclusive lock; the previous
record, a corrupt one being an error unless ``--force``), skip it when finished, start it (the record with status
``running``; stale checkpoints removed on ``--force``), guard the work (``run.json`` always says how it ended), and
finish it (per-case rows, history, learning curves, record). In data-parallel training only rank 0 writes."""

from __future__ import annotations

import traceback
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

from cmedl_bench.engine.distributed import barrier, is_main
from cmedl_bench.io.atomic import atomic_write_json
from cmedl_bench.io.checkpoints import CorruptFileError
from cmedl_bench.io.locks import exclusive
from cmedl_bench.launch import RunBusy, busy_raises
from cmedl_bench.results.records import now, read_record, summarise, write_record, write_rows
from cmedl_bench.stages.progress import Reporter


#: the lock file inside every run folder
LOCK_NAME = ".lock"


def run_folder_lock(run_dir: Path) -> Path:
    """The lock of a run folder, inside it: every process that could write the folder sees the same lock, whatever
    cache it uses (node-local caches on a cluster)."""
    return run_dir / LOCK_NAME


class RunFolder:
    def __init__(self, path: Path, reporter: Reporter):
        self.path = Path(path)
        self.reporter = reporter
        self.record: dict[str, Any] = {}
        self.timings: dict[str, float] = {}

    @contextmanager
    def claim(self, force: bool) -> Iterator[dict[str, Any] | None]:
        """Hold the folder's lock (rank 0; a second identical run waits, then finds the first one's result, or,
        under :func:`cmedl_bench.launch.unless_busy`, raises :class:`cmedl_bench.launch.RunBusy`) and yield the
        previous record."""
        def waiting(holder: str) -> None:
            if busy_raises():
                raise RunBusy(f"process {holder} is running this configuration in {self.path}")
            self.reporter.message(f"waiting: process {holder} is running this configuration in {self.path}")

        with exclusive(run_folder_lock(self.path), waiting) if is_main() else nullcontext():
            try:
                previous = read_record(self.path)
            except CorruptFileError:
                if not force:
                    raise
                previous = None
            yield previous

    def already_finished(self, previous: dict[str, Any] | None, force: bool) -> bool:
        if previous and previous.get("status") == "finished" and not force:
            self.reporter.message(f"already finished: {self.path} (use --force to retrain)")
            return True
        return False

    def start(self, record: dict[str, Any], previous: dict[str, Any] | None, force: bool,
              stale: tuple[str, ...]) -> None:
        self.record = record
        if not is_main():
            barrier()
            return
        if force:
            for name in stale:
                (self.path / name).unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        if previous:
            self.record["resumed_from_status"] = previous.get("status")
        write_record(self.path, self.record)
        barrier()

    def guarded(self, body: Callable[[], None]) -> dict[str, Any]:
        """Run ``body``; whatever happens, run.json says how the run ended."""
        try:
            body()
        except KeyboardInterrupt:
            self._end(status="interrupted")
            raise
        except BaseException as exc:
            self._end(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=20))
            raise
        return self.record

    def _end(self, **fields: Any) -> None:
        self.record.update(ended=now(), **fields)
        if is_main():
            try:
                write_record(self.path, self.record)
            except OSError:  # the disk that stopped the run may refuse the record too; the first error is reported
                if fields.get("status") == "finished":
                    raise

    def finish(self, rows: list[dict[str, Any]], history: list[dict[str, float]], files: dict[str, str]) -> None:
        from cmedl_bench.results.figures import plot_learning_curves

        write_rows(self.path, rows)
        atomic_write_json(self.path / "history.json", history)
        if history:
            plot_learning_curves(history, self.path / "learning_curves.png")
        self.timings["total_s"] = sum(self.timings.values())
        self._end(status="finished", timings=self.timings, summary=summarise(rows),
                  files={"per_case": "per_case.parquet", "history": "history.json",
                         "learning_curves": "learning_curves.png", **files})
