"""Building a fusion from its configuration: the one place a :class:`cmedl_bench.fusion.FusionSpec` is assembled
(``run``, ``sensitivity``, tests and benchmarks all come here)."""

from __future__ import annotations

from typing import Any

from cmedl_bench.config import Preset
from cmedl_bench.fusion import Fusion, FusionSpec
from cmedl_bench.registry import Registry, get_registry


def build_fusion(fusion: str, segmenter: str, translator: str, preset: Preset, device,
                 options: dict[str, Any] | None = None, registry: Registry | None = None) -> Fusion:
    """The named fusion with its segmenter and translator (``"none"`` for no translator), untrained."""
    registry = registry or get_registry()
    spec = FusionSpec(registry.get("segmenter", segmenter),
                      None if translator == "none" else registry.get("translator", translator), preset, device,
                      dict(options or {}))
    return registry.get("fusion", fusion).factory(spec)
