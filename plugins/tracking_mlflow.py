"""Logger ``mlflow``: one MLflow run per cmedl-bench run, in the experiment ``cmedl-bench``, through MLflow's client
(no global active run, so sweeps in one process do not interfere). The store is ``MLFLOW_TRACKING_URI`` when set
(a database or a tracking server), else a local file store in ``RESULTS/mlruns`` (``mlflow ui --backend-store-uri
RESULTS/mlruns``), which MLflow 3 keeps in maintenance mode and opens only with ``MLFLOW_ALLOW_FILE_STORE=true``:
the logger sets that for its own process when it falls back to the file store (the light ``mlflow-skinny`` has no
other local store). Params: the
resolved configuration, flattened (``preset.max_epochs``, ``options.lambda_hint``, ...) and cut to MLflow's 500
characters; metrics: every value of each epoch's ``history.json`` row (step = epoch) and, at the end, the test summary
(``test.<head>.<metric>``); artifacts: ``run.json``, ``history.json`` and the learning curves. The MLflow run is
named after the run folder and tagged with the configuration hash."""

from __future__ import annotations

import os
import time

from cmedl_bench.plugin import Logger

EXPERIMENT = "cmedl-bench"
MAX_PARAM = 500


def flatten(values: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out |= flatten(value, f"{name}.")
        else:
            out[name] = str(value)[:MAX_PARAM]
    return out


class MlflowLogger(Logger):
    def __init__(self, run_dir, record):
        super().__init__(run_dir, record)
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            uri = (self.run_dir.parent / "mlruns").resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(EXPERIMENT)
        run = self.client.create_run(experiment_id, run_name=record.get("run_id"),
                                     tags={"cmedl_bench.config_hash": str(record.get("config_hash"))})
        self.run_id = run.info.run_id
        params = flatten(record.get("config") or {})
        items = [Param(key, value) for key, value in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[start:start + 100])

    def epoch(self, epoch, values):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(key, float(value), now, epoch)
                                                    for key, value in values.items()])

    def finish(self, record):
        for head, metrics in ((record.get("summary") or {}).get("test") or {}).items():
            for metric, summary in metrics.items():
                if isinstance(summary, dict) and isinstance(summary.get("mean"), (int, float)):
                    self.client.log_metric(self.run_id, f"test.{head}.{metric}", float(summary["mean"]))
        for name in ("run.json", "history.json", "learning_curves.png"):
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        self.client.set_terminated(self.run_id, "FINISHED")
