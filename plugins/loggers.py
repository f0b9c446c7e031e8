"""Registration of the built-in experiment trackers (nothing heavy imported here): ``tensorboard`` and ``mlflow``,
both in the optional extra ``tracking``."""

from cmedl_bench.plugin import LoggerInfo, hookimpl, lazy


@hookimpl
def register_loggers(register):
    register("tensorboard", lazy("cmedl_bench_plugins.tracking_tensorboard:TensorBoardLogger"),
             description="TensorBoard event files in RUN/tensorboard: scalars per epoch, the learning curves and the "
                         "chain as images (tensorboard --logdir RESULTS)",
             info=LoggerInfo(requires=("tensorboard",), extra="tracking"))
    register("mlflow", lazy("cmedl_bench_plugins.tracking_mlflow:MlflowLogger"),
             description="an MLflow run per run (local file store RESULTS/mlruns unless MLFLOW_TRACKING_URI is set): "
                         "resolved config as params, metrics per epoch, run.json and the learning curves as artifacts",
             info=LoggerInfo(requires=("mlflow",), extra="tracking"))
