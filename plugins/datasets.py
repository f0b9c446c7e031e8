"""Registration of the built-in datasets (no torch import here)."""

from cmedl_bench import hookimpl, lazy


@hookimpl
def register_datasets(register):
    register("phantom", lazy("cmedl_bench_plugins.phantom:generate"),
             description="synthetic thorax phantom: unpaired CBCT (weekly scans) and T2w MRI cohorts",
             capabilities={"version": 1, "sizes": ("full", "small")})
