"""Registration of the built-in segmenters (no torch import here)."""

from cmedl_bench import hookimpl


def _unet(in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
    from cmedl_bench_plugins.unet import build

    return build(in_channels, out_channels, width)


@hookimpl
def register_segmenters(register):
    register("unet", _unet, description="2D U-Net of the paper (13.39M parameters at full width)",
             capabilities={"dims": 2, "hint_features": True, "paper_parameters": 13_394_177})
