"""Registration of the built-in datasets (no torch import here)."""

from cmedl_bench.plugin import DatasetInfo, hookimpl, lazy


@hookimpl
def register_datasets(register):
    control = lazy("cmedl_bench_plugins.phantom_v4:isodense_control")
    register("phantom", lazy("cmedl_bench_plugins.phantom_v4:generate"),
             description="synthetic thorax phantom v4: v3's patients and CBCT, plus MRI aligned to every CBCT scan "
                         "and tumour locations from the anatomy; train_patients sets the training cohort's size",
             info=DatasetInfo(version=4, sizes=("full", "small"), options={"train_patients": 0},
                              isodense_control=control))
    register("phantom-mri-null", lazy("cmedl_bench_plugins.phantom_v4:generate_mri_null"),
             description="control for phantom v4: the same anatomy and CBCT, but every MRI is rendered without its "
                         "tumour (its voxels show the tissue they displaced): MRI carries no tumour information",
             info=DatasetInfo(version=4, sizes=("full", "small"), options={"train_patients": 0},
                              isodense_control=control))
    control_v3 = lazy("cmedl_bench_plugins.phantom_v3:isodense_control")
    register("phantom-v3", lazy("cmedl_bench_plugins.phantom_v3:generate"),
             description="synthetic thorax phantom v3 (no aligned MRI, location by placement), kept for comparable "
                         "results", info=DatasetInfo(version=3, sizes=("full", "small"), isodense_control=control_v3))
    register("phantom-mri-null-v3", lazy("cmedl_bench_plugins.phantom_v3:generate_mri_null"),
             description="phantom v3's control (tumour at the mediastinum's T2w signal), kept for comparable results",
             info=DatasetInfo(version=3, sizes=("full", "small"), isodense_control=control_v3))
    register("phantom-v2", lazy("cmedl_bench_plugins.phantom:generate_v2"),
             description="synthetic thorax phantom v2 (physically simulated CBCT), kept for comparable results",
             info=DatasetInfo(version=2, sizes=("full", "small"),
                             isodense_control=lazy("cmedl_bench_plugins.phantom:isodense_control_v2")))
    register("phantom-v1", lazy("cmedl_bench_plugins.phantom:generate"),
             description="synthetic thorax phantom v1 (CBCT artefacts drawn on CT), kept for comparable results",
             info=DatasetInfo(version=1, sizes=("full", "small")))
