"""Registration of the built-in fusion strategies (no torch import here)."""

from cmedl_bench import hookimpl


def _cbct_only(spec):
    from cmedl_bench_plugins.cbct_only import build

    return build(spec)


@hookimpl
def register_fusions(register):
    register("none", _cbct_only, description="CBCT only: one segmenter trained on CBCT (no translator)",
             capabilities={"needs_translator": False, "dims": (2,), "heads": ("student",)})
