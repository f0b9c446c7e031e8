"""Registration of the built-in fusion strategies (no torch import here)."""

from cmedl_bench import hookimpl


def _cbct_only(spec):
    from cmedl_bench_plugins.cbct_only import build

    return build(spec)


def _cmedl(spec):
    from cmedl_bench_plugins.cmedl_hint import build

    return build(spec)


def _pmri(spec):
    from cmedl_bench_plugins.two_stage import build_pmri

    return build_pmri(spec)


def _two_channel(spec):
    from cmedl_bench_plugins.two_stage import build_two_channel

    return build_two_channel(spec)


@hookimpl
def register_fusions(register):
    register("none", _cbct_only, description="CBCT only: one segmenter trained on CBCT (no translator)",
             capabilities={"needs_translator": False, "dims": (2, 3), "heads": ("student",)})
    with_translator = {"needs_translator": True, "dims": (2,), "cohorts": ("cbct", "mri")}
    register("hint", _cmedl, description="CMEDL: MRI teacher distils decoder features into the CBCT student (eq. 5-7)",
             capabilities=with_translator | {"heads": ("student", "teacher"), "needs_hint_features": True})
    register("pmri", _pmri, description="translator first, then a segmenter on MRI + pseudo-MRI; tests on pseudo-MRI",
             capabilities=with_translator | {"heads": ("pmri",)})
    register("two-channel", _two_channel, description="translator first, then a segmenter on [CBCT, pseudo-MRI]",
             capabilities=with_translator | {"heads": ("student",)})
