"""Registration of the built-in fusion strategies (no torch import here)."""

from cmedl_bench.plugin import FusionInfo, hookimpl, lazy


@hookimpl
def register_fusions(register):
    register("none", lazy("cmedl_bench_plugins.cbct_only:build"),
             description="CBCT only: one segmenter trained on CBCT (no translator)",
             info=FusionInfo(needs_translator=False, dims=(2, 3), heads=("student",)))
    with_translator = {"needs_translator": True, "dims": (2,), "cohorts": ("cbct", "mri")}  # FusionInfo fields
    register("hint", lazy("cmedl_bench_plugins.cmedl_hint:build"),
             description="CMEDL: MRI teacher distils decoder features into the CBCT student (eq. 5-7)",
             info=FusionInfo(**with_translator, heads=("student", "teacher"), needs_hint_features=True,
                             aligned_mri="diagnostic",
                             options={"lambda_hint": 1.0, "lambda_seg": 5.0, "segmenter_seg_weight": 1.0,
                                      "hint_teacher": False}))
    register("pmri", lazy("cmedl_bench_plugins.two_stage:build_pmri"),
             description="translator first, then a segmenter on MRI + pseudo-MRI; tests on pseudo-MRI",
             info=FusionInfo(**with_translator, heads=("pmri",)))
    register("two-channel", lazy("cmedl_bench_plugins.two_stage:build_two_channel"),
             description="translator first, then a segmenter on [CBCT, pseudo-MRI]",
             info=FusionInfo(**with_translator, heads=("student",)))
    register("mri-oracle", lazy("cmedl_bench_plugins.mri_oracle:build"),
             description="reference: a segmenter trained and tested on the MRI aligned to each CBCT scan (the most "
                         "MRI can give; needs aligned MRI)",
             info=FusionInfo(needs_translator=False, dims=(2, 3), heads=("mri",), aligned_mri="required"))
