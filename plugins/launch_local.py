"""The ``local`` launcher: every job in this process, one after the other, with live progress on the terminal.

Ctrl-C or SIGTERM stops the sweep (the current run is marked interrupted and resumes next time); a job that fails is
recorded with its traceback in ``_logs/`` and the sweep goes on with the next one.
"""

from __future__ import annotations

import traceback

from cmedl_bench.plugin import Job, JobOutcome, Launcher, failure_text


class LocalLauncher(Launcher):
    def launch(self, jobs: list[Job]) -> list[JobOutcome]:
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=True)
        outcomes = []
        for k, job in enumerate(jobs, start=1):
            console.rule(f"[bold]{k}/{len(jobs)} {escape(job.label)}")
            try:
                record = job.runner(job.request)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of one job is reported, the sweep goes on
                job.log.parent.mkdir(parents=True, exist_ok=True)
                job.log.write_text(traceback.format_exc())
                outcomes.append(JobOutcome(job, "failed", error=failure_text(exc), log=job.log))
                continue
            outcomes.append(JobOutcome(job, "finished", record=record))
        return outcomes
