"""Registration of the built-in datasets (no torch import here)."""

from cmedl_bench import hookimpl, lazy


@hookimpl
def register_datasets(register):
    register("phantom", lazy("cmedl_bench_plugins.phantom:generate_v2"),
             description="synthetic thorax phantom v2: physically simulated CBCT (weekly scans), T2w MRI on its own "
                         "grid",
             capabilities={"version": 2, "sizes": ("full", "small")})
    register("phantom-v1", lazy("cmedl_bench_plugins.phantom:generate"),
             description="synthetic thorax phantom v1 (CBCT artefacts drawn on CT), kept for comparable results",
             capabilities={"version": 1, "sizes": ("full", "small")})
