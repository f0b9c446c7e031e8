"""The ``ray`` launcher: one Ray task per job, on a local Ray instance or an existing cluster.

Options: ``address`` (an existing cluster, e.g. ``ray://head:10001``; default: start a local instance), ``cpus``
and ``gpus`` per job (default 1 and, when CUDA is present, 1), ``num_cpus`` of a local instance. Workers must have
cmedl-bench installed and see the results folder (shared file system). Each job's output goes to
``RESULTS/_logs/``; a failed job's outcome points there.
"""

from __future__ import annotations

import os

from cmedl_bench.plugin import CmedlError, Job, JobOutcome, Launcher, execute, failure_text


class RayLauncher(Launcher):
    def launch(self, jobs: list[Job]) -> list[JobOutcome]:
        try:
            import ray
        except ImportError:
            raise CmedlError("the ray launcher needs ray: pip install 'cmedl-bench[ray]'") from None
        if not jobs:
            return []
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        started = not ray.is_initialized()
        if started:
            address = self.options.get("address")
            kwargs = {"include_dashboard": False, "log_to_driver": False}
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=int(self.options.get("num_cpus", os.cpu_count() or 1)), **kwargs)
        try:
            import torch

            gpus = float(self.options.get("gpus", 1 if torch.cuda.is_available() else 0))
            task = ray.remote(num_cpus=float(self.options.get("cpus", 1)), num_gpus=gpus, max_retries=0)(execute)
            refs = [task.remote(job) for job in jobs]
            outcomes = []
            for job, ref in zip(jobs, refs):
                try:
                    outcomes.append(JobOutcome(job, "finished", record=ray.get(ref)))
                except Exception as exc:  # noqa: BLE001 - ray.exceptions.RayTaskError and friends, per job
                    outcomes.append(JobOutcome(job, "failed", error=failure_text(exc), log=job.log))
            return outcomes
        finally:
            if started:
                ray.shutdown()
