"""The ``local`` launcher: every job in this process, one after the other, with live progress on the terminal.

Ctrl-C or SIGTERM stops the sweep (the current run is marked interrupted and resumes next time); a job that fails is
recorded with its traceback in ``_logs/`` and the sweep goes on with the next one. A job whose configuration another
process is training (a second sweep over the same results folder) is put off until the other jobs have run, then
taken up again: by then it is usually finished and skipped, else it is waited for. So two sweeps of one suite started
side by side share its rows instead of waiting on each other.
"""

from __future__ import annotations

import traceback

from cmedl_bench.plugin import Job, JobOutcome, Launcher, RunBusy, failure_text, unless_busy


class LocalLauncher(Launcher):
    def launch(self, jobs: list[Job]) -> list[JobOutcome]:
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=True)
        outcomes: dict[int, JobOutcome] = {}
        put_off = []
        for k, job in enumerate(jobs, start=1):
            console.rule(f"[bold]{k}/{len(jobs)} {escape(job.label)}")
            try:
                with unless_busy():
                    outcomes[k] = self._run(job)
            except RunBusy as exc:
                console.print(f"{escape(str(exc))}: put off until the other jobs have run")
                put_off.append(k)
        for k in put_off:
            console.rule(f"[bold]{k}/{len(jobs)} {escape(jobs[k - 1].label)} (put off)")
            outcomes[k] = self._run(jobs[k - 1])
        return [outcomes[k] for k in sorted(outcomes)]

    @staticmethod
    def _run(job: Job) -> JobOutcome:
        try:
            record = job.runner(job.request)
        except (KeyboardInterrupt, RunBusy):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of one job is reported, the sweep goes on
            job.log.parent.mkdir(parents=True, exist_ok=True)
            job.log.write_text(traceback.format_exc())
            return JobOutcome(job, "failed", error=failure_text(exc), log=job.log)
        return JobOutcome(job, "finished", record=record)
