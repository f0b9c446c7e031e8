"""Example plugin: registers the segmenter ``dilated-fcn``."""

from cmedl_bench.plugin import hookimpl


def _build(in_channels: int = 1, out_channels: int = 1, width: float = 1.0):
    from cmedl_bench_example.model import DilatedFCN

    return DilatedFCN(in_channels, out_channels, width)


@hookimpl
def register_segmenters(register):
    register("dilated-fcn", _build, description="small dilated fully convolutional network (example plugin)",
             capabilities={"dims": 2, "hint_features": True})
