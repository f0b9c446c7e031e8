"""Resolve a translator + segmenter + fusion combination and reject incompatible ones before any training."""

from __future__ import annotations

from dataclasses import dataclass

from cmedl_bench.errors import PluginError
from cmedl_bench.registry import Component, Registry


@dataclass(frozen=True)
class Selection:
    fusion: Component | None  # None when a translator is trained on its own
    segmenter: Component | None
    translator: Component | None
    dataset: Component

    def provenance(self) -> dict[str, dict[str, str] | None]:
        return {role: component.provenance() if component else None for role, component in
                (("fusion", self.fusion), ("segmenter", self.segmenter), ("translator", self.translator),
                 ("dataset", self.dataset))}


def select(registry: Registry, translator: str, segmenter: str, fusion: str, dataset: str) -> Selection:
    fus = registry.get("fusion", fusion)
    seg = registry.get("segmenter", segmenter)
    trans = None if translator == "none" else registry.get("translator", translator)
    data = registry.get("dataset", dataset)
    caps = fus.capabilities
    seg_dims = seg.capabilities.get("dims", 2)
    if trans is not None and trans.capabilities.get("dims", 2) != seg_dims:
        raise PluginError(f"translator {translator!r} is {trans.capabilities.get('dims', 2)}D and cannot feed "
                          f"the {seg_dims}D segmenter {segmenter!r}; use --translator none with it")
    if seg_dims not in caps.get("dims", (2,)):
        raise PluginError(f"segmenter {segmenter!r} is {seg_dims}D but fusion {fusion!r} supports only "
                          f"{'/'.join(f'{d}D' for d in caps.get('dims', (2,)))} segmenters")
    if caps.get("needs_translator") and trans is None:
        raise PluginError(f"fusion {fusion!r} needs a translator; pass --translator (one of: "
                          f"{', '.join(registry.names('translator')) or 'none installed'})")
    if not caps.get("needs_translator") and trans is not None:
        raise PluginError(f"fusion {fusion!r} trains on CBCT alone and takes no translator; "
                          f"use --translator none or a fusion that uses one")
    if caps.get("needs_hint_features") and not seg.capabilities.get("hint_features"):
        raise PluginError(f"fusion {fusion!r} distils decoder features, which segmenter {segmenter!r} "
                          f"does not expose")
    return Selection(fus, seg, trans, data)
