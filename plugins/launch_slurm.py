"""The ``slurm`` launcher: the sweep's jobs as one Slurm job array, through submitit (facebookincubator/submitit).

Options (``--launcher-option KEY=VALUE``): ``partition``, ``time`` (minutes, default 600), ``gpus`` (per job,
default 1), ``cpus`` (per job, default 8), ``mem_gb``, ``account``, ``parallel`` (array parallelism), and ``cluster``:
``slurm`` (default), ``local`` (submitit's local executor: the jobs run as processes on this machine, for testing a
configuration without a cluster) or ``debug`` (in this process). submitit keeps each job's stdout and stderr under
``RESULTS/_launcher/submitit/``; a failed job's outcome points there.
"""

from __future__ import annotations

import os
from dataclasses import replace

from cmedl_bench.plugin import CmedlError, Job, JobOutcome, Launcher, execute, failure_text


class SlurmLauncher(Launcher):
    def launch(self, jobs: list[Job]) -> list[JobOutcome]:
        try:
            import submitit
        except ImportError:
            raise CmedlError("the slurm launcher needs submitit: pip install 'cmedl-bench[slurm]'") from None
        if not jobs:
            return []
        cluster = self.options.get("cluster", "slurm")
        if cluster not in ("slurm", "local", "debug"):
            raise CmedlError(f"slurm launcher: cluster must be slurm, local or debug, not {cluster!r}")
        folder = jobs[0].log.parent.parent / "_launcher" / "submitit" / "%j"
        executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
        parameters = {"timeout_min": int(self.options.get("time", 600)), "name": "cmedl-bench"}
        if cluster == "slurm":
            parameters |= {"gpus_per_node": int(self.options.get("gpus", 1)),
                           "cpus_per_task": int(self.options.get("cpus", 8))}
            for option, key in (("partition", "slurm_partition"), ("account", "slurm_account"),
                                ("parallel", "slurm_array_parallelism")):
                if option in self.options:
                    parameters[key] = self.options[option]
            if "mem_gb" in self.options:
                parameters["mem_gb"] = int(self.options["mem_gb"])
        executor.update_parameters(**parameters)
        if cluster == "local":  # all jobs start at once on this machine: share its cores instead of oversubscribing
            share = max(1, (os.cpu_count() or 1) // len(jobs))
            jobs = [job if job.request.threads else replace(job, request=job.request.replace(threads=share))
                    for job in jobs]
        handles = executor.map_array(execute, jobs)
        outcomes = []
        for job, handle in zip(jobs, handles):
            try:
                outcomes.append(JobOutcome(job, "finished", record=handle.result(),
                                           extra={"job_id": handle.job_id}))
            except Exception as exc:  # noqa: BLE001 - reported per job
                outcomes.append(JobOutcome(job, "failed", error=failure_text(exc), log=handle.paths.stderr,
                                           extra={"job_id": handle.job_id, "job_log": str(job.log)}))
        return outcomes
