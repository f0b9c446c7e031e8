"""Resolve a translator + segmenter + fusion combination and reject incompatible ones before any training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    info = fus.info
    seg_dims = seg.info.dims
    if trans is not None and trans.info.dims != seg_dims:
        raise PluginError(f"translator {translator!r} is {trans.info.dims}D and cannot feed "
                          f"the {seg_dims}D segmenter {segmenter!r}; use --translator none with it")
    if seg_dims not in info.dims:
        raise PluginError(f"segmenter {segmenter!r} is {seg_dims}D but fusion {fusion!r} supports only "
                          f"{'/'.join(f'{d}D' for d in info.dims)} segmenters")
    if info.needs_translator and trans is None:
        raise PluginError(f"fusion {fusion!r} needs a translator; pass --translator (one of: "
                          f"{', '.join(registry.names('translator')) or 'none installed'})")
    if not info.needs_translator and trans is not None:
        raise PluginError(f"fusion {fusion!r} trains on CBCT alone and takes no translator; "
                          f"use --translator none or a fusion that uses one")
    if info.needs_hint_features and not seg.info.hint_features:
        raise PluginError(f"fusion {fusion!r} distils decoder features, which segmenter {segmenter!r} "
                          f"does not expose")
    if trans is not None and trans.info.needs_aligned_mri and info.aligned_mri == "unused":
        raise PluginError(f"translator {translator!r} returns the aligned true MRI, which fusion {fusion!r} does not "
                          f"pass on; use it with a fusion that takes aligned MRI (hint)")
    return Selection(fus, seg, trans, data)


def reads_aligned_mri(selection: Selection) -> bool:
    """Whether the run reads the dataset's aligned MRI: a fusion that declares it, or a translator that needs it."""
    return (selection.fusion is not None and selection.fusion.info.aligned_mri != "unused") or (
        selection.translator is not None and selection.translator.info.needs_aligned_mri)


def requires_aligned_mri(selection: Selection) -> str | None:
    """Which component cannot run without aligned MRI (its description for the error), or None."""
    if selection.fusion is not None and selection.fusion.info.aligned_mri == "required":
        return f"fusion {selection.fusion.name!r}"
    if selection.translator is not None and selection.translator.info.needs_aligned_mri:
        return f"translator {selection.translator.name!r}"
    return None


def declared_options(selection: Selection) -> dict[str, tuple[Component, Any]]:
    """Option name -> (the component declaring it, its default), from the info ``options`` of the selected
    translator and fusion (which receive options in ``spec.options``) and dataset (keyword arguments of its
    factory, :func:`dataset_options`)."""
    declared: dict[str, tuple[Component, Any]] = {}
    for component in (selection.translator, selection.fusion, selection.dataset):
        if component is not None:
            for key, default in component.info.options.items():
                declared.setdefault(key, (component, default))
    return declared


def _convert(key: str, text: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError
            return lowered in ("true", "yes", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise PluginError(f"--option {key}={text!r}: expected a {type(default).__name__} like the default "
                          f"{default!r}") from None
    return text


def component_options(selection: Selection, given: dict[str, str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs checked against the options the selected components declare and converted to
    their defaults' types; an undeclared key is an error naming the options there are."""
    return _typed(declared_options(selection), given)


def options_of(component: Component, given: dict[str, str]) -> dict[str, Any]:
    """:func:`component_options` for one component (``data synth``, ``plugins check``)."""
    return _typed({key: (component, default) for key, default in
                   component.info.options.items()}, given)


def _typed(declared: dict[str, tuple[Component, Any]], given: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(f"{key} ({component.name}, default {default!r})"
                          for key, (component, default) in sorted(declared.items())) or "none"
        raise PluginError(f"--option {unknown[0]}: no selected component declares it; options: {known}")
    return {key: _convert(key, text, declared[key][1]) for key, text in given.items()}


def dataset_options(dataset: Component, options: dict[str, Any]) -> dict[str, Any]:
    """The options a dataset plugin declares, each set value or its default: its factory's keyword arguments and
    part of the cache key of the data it writes."""
    declared = dataset.info.options
    return {key: options.get(key, default) for key, default in declared.items()}
