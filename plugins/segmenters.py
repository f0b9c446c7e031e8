"""Registration of the built-in segmenters (no torch import here)."""

from cmedl_bench import hookimpl


def _unet(in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
    from cmedl_bench_plugins.unet import build

    return build(in_channels, out_channels, width)


def _densefcn57(in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
    from cmedl_bench_plugins.densefcn import build

    return build(in_channels, out_channels, width)


def _unet3d(in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
    from cmedl_bench_plugins.unet3d import build

    return build(in_channels, out_channels, width)


@hookimpl
def register_segmenters(register):
    register("unet", _unet, description="2D U-Net of the paper (13.39M parameters at full width)",
             capabilities={"dims": 2, "hint_features": True, "paper_parameters": 13_394_177})
    register("densefcn57", _densefcn57, description="FC-DenseNet57 of the paper (1.37M parameters at full width)",
             capabilities={"dims": 2, "hint_features": True, "paper_parameters": 1_374_001})
    register("unet3d", _unet3d, description="3D U-Net on 3D patches (CBCT only; the paper's 3DUnet row)",
             capabilities={"dims": 3, "hint_features": False, "patch_depth_divisor": 4, "patch_xy_divisor": 8})
