"""Registration of the built-in datasets (no torch import here)."""

from cmedl_bench import hookimpl


def _phantom(root, seed=0, size="full", progress=None):
    from cmedl_bench_plugins.phantom import generate

    return generate(root, seed=seed, size=size, progress=progress)


@hookimpl
def register_datasets(register):
    register("phantom", _phantom,
             description="synthetic thorax phantom: unpaired CBCT (weekly scans) and T2w MRI cohorts",
             capabilities={"version": 1, "sizes": ("full", "small")})
