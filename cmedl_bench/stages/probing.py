"""Checking a segmenter plugin before anything is trained: its factory is called as the fusions call it and one tiny
forward pass is run on the CPU (evaluation mode, no gradient), so a broken contract is one line naming the plugin
and the rule, not a traceback from deep inside training (or, for a wrong number of output channels, a run that
finishes with DSC 0).

The rules (docs/reference.md, the segmenter contract):

1. ``factory(in_channels=1, out_channels=1, width=w)`` builds a ``torch.nn.Module``;
2. ``module(x)`` returns one tensor of tumour logits with the input's batch size and spatial size and one channel:
   (B, 1, H, W) for 2D crops, (B, 1, D, H, W) for 3D patches;
3. with ``SegmenterInfo.hint_features``, ``module(x, return_features=True)`` returns ``(logits, features)`` with
   ``features`` a non-empty list of tensors (the hint layers of CMEDL, eq. 6).
"""

from __future__ import annotations

from cmedl_bench.config import Preset
from cmedl_bench.errors import PluginError
from cmedl_bench.registry import Component


def _fail(component: Component, rule: str) -> PluginError:
    return PluginError(f"segmenter {component.name!r} ({component.distribution} {component.version}, plugin "
                       f"{component.plugin}): {rule}")


def probe_segmenter(component: Component, preset: Preset) -> None:
    """Apply the rules above at the preset's width and crop size (batch 2; 3D: one patch of ``patch_depth``)."""
    import torch

    try:
        network = component.factory(in_channels=1, out_channels=1, width=preset.width)
    except TypeError as exc:
        raise _fail(component, f"the factory must take in_channels, out_channels and width keywords ({exc})") from None
    if not isinstance(network, torch.nn.Module):
        raise _fail(component, f"the factory returned {type(network).__name__}, not a torch.nn.Module")
    dims = component.info.dims
    size = (2, 1, preset.crop_size, preset.crop_size) if dims == 2 else (
        1, 1, preset.patch_depth, preset.crop_size, preset.crop_size)
    network.eval()
    with torch.no_grad():
        logits = _forward(component, network, torch.zeros(size))
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (size[0], 1, *size[2:]):
            shown = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise _fail(component, f"forward(x) must return one tensor of logits shaped {(size[0], 1, *size[2:])} "
                                   f"for x shaped {size}; it returned {shown}")
        if component.info.hint_features:
            _check_features(component, _forward(component, network, torch.zeros(size), return_features=True))


def _forward(component: Component, network, x, **kwargs):
    try:
        return network(x, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of the plugin's forward is reported as its own
        raise _fail(component, f"forward({'x, return_features=True' if kwargs else 'x'}) failed on a "
                               f"{tuple(x.shape)} input: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
                    ) from None


def _check_features(component: Component, output) -> None:
    import torch

    ok = (isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], (list, tuple)) and output[1]
          and all(isinstance(f, torch.Tensor) for f in output[1]))
    if not ok:
        raise _fail(component, "it declares hint_features, so forward(x, return_features=True) must return "
                               "(logits, [feature tensors]) with at least one feature map")
