"""Registration of the built-in segmenters (no torch import here)."""

from cmedl_bench.plugin import SegmenterInfo, hookimpl, lazy


@hookimpl
def register_segmenters(register):
    register("unet", lazy("cmedl_bench_plugins.unet:build"),
             description="2D U-Net of the paper (13.39M parameters at full width)",
             info=SegmenterInfo(dims=2, hint_features=True, paper_parameters=13_394_177,
                                input_multiple=16))
    register("densefcn57", lazy("cmedl_bench_plugins.densefcn:build"),
             description="FC-DenseNet57 of the paper (1.37M parameters at full width)",
             info=SegmenterInfo(dims=2, hint_features=True, paper_parameters=1_374_001,
                                input_multiple=32))
    register("unet3d", lazy("cmedl_bench_plugins.unet3d:build"),
             description="3D U-Net on 3D patches (CBCT only; the paper's 3DUnet row)",
             info=SegmenterInfo(dims=3, hint_features=False))
