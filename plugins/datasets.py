"""Registration of the built-in datasets (no torch import here)."""

from cmedl_bench.plugin import DatasetInfo, hookimpl, lazy


@hookimpl
def register_datasets(register):
    control = lazy("cmedl_bench_plugins.phantom_v3:isodense_control")
    register("phantom", lazy("cmedl_bench_plugins.phantom_v3:generate"),
             description="synthetic thorax phantom v3: heterogeneous mediastinum, tumour contrast from tissue values "
                         "only, 65 % central tumours, 30 test patients",
             info=DatasetInfo(version=3, sizes=("full", "small"), isodense_control=control))
    register("phantom-mri-null", lazy("cmedl_bench_plugins.phantom_v3:generate_mri_null"),
             description="control for phantom v3: the same anatomy and CBCT, but on T2w MRI the tumour has the "
                         "mediastinum's signal (MRI carries no tumour information)",
             info=DatasetInfo(version=3, sizes=("full", "small"), isodense_control=control))
    register("phantom-v2", lazy("cmedl_bench_plugins.phantom:generate_v2"),
             description="synthetic thorax phantom v2 (physically simulated CBCT), kept for comparable results",
             info=DatasetInfo(version=2, sizes=("full", "small"),
                             isodense_control=lazy("cmedl_bench_plugins.phantom:isodense_control_v2")))
    register("phantom-v1", lazy("cmedl_bench_plugins.phantom:generate"),
             description="synthetic thorax phantom v1 (CBCT artefacts drawn on CT), kept for comparable results",
             info=DatasetInfo(version=1, sizes=("full", "small")))
