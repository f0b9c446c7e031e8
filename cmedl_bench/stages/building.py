"""Building a fusion from its configuration: the one place a :class:`cmedl_bench.fusion.FusionSpec` is assembled
(``run``, ``sensitivity``, tests and benchmarks all come here)."""

from __future__ import annotations

from typing import Any

from cmedl_bench.config import Preset
from cmedl_bench.fusion import Fusion, FusionSpec
from cmedl_bench.errors import PluginError
from cmedl_bench.registry import Registry, get_registry


def build_fusion(fusion: str, segmenter: str, translator: str, preset: Preset, device,
                 options: dict[str, Any] | None = None, registry: Registry | None = None,
                 training: bool = True) -> Fusion:
    """The named fusion with its segmenter and translator (``"none"`` for no translator), untrained. The fusion's
    ``heads`` and ``cohorts`` must be the ones its registration declared (the run reads the declared ones before the
    fusion exists: which splits to read, which heads to score); a difference is one line naming the plugin.
    ``training`` False builds it for inference only (:attr:`cmedl_bench.fusion.FusionSpec.training`)."""
    registry = registry or get_registry()
    spec = FusionSpec(registry.get("segmenter", segmenter),
                      None if translator == "none" else registry.get("translator", translator), preset, device,
                      dict(options or {}), training)
    component = registry.get("fusion", fusion)
    built = component.factory(spec)
    if not isinstance(built, Fusion):
        raise PluginError(f"fusion {fusion!r} ({component.distribution} {component.version}): its factory returned "
                          f"{type(built).__name__}, not a cmedl_bench.plugin.Fusion")
    for key in ("heads", "cohorts"):
        declared = tuple(getattr(component.info, key))
        if tuple(getattr(built, key)) != declared:
            raise PluginError(f"fusion {fusion!r} ({component.distribution} {component.version}): its {key} "
                              f"{tuple(getattr(built, key))} differ from its registered FusionInfo {declared}")
    return built
