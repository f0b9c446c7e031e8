"""Plugin discovery and the component registry (pluggy; modelled on simonw/llm's ``plugins.py``).

Every plugin, the built-ins included, is found through the ``cmedl_bench`` entry-point group. Discovery never
imports torch: factories do that when a component is built.

Controls (environment variables, comma-separated entry-point names):
- ``CMEDL_BENCH_PLUGINS``: allow-list; when set, only these entry points are loaded.
- ``CMEDL_BENCH_DISABLE``: block-list; these entry points are skipped.

Names are owned, never taken by discovery order: every component is reachable as ``DIST:name`` (its distribution
and name); the plain ``name`` belongs to the one distribution that offers it, or to the built-ins
(:data:`BUILTIN_DISTRIBUTION`) when they offer it too, and to nobody when two other distributions do (the plain name
is then an error naming the qualified ones). Component names are identifiers (letters, digits, ``_ - .``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from cmedl_bench.errors import PluginError

ENTRY_POINT_GROUP = "cmedl_bench"
#: the distribution of the built-in components, which keep their plain names whoever else offers them
BUILTIN_DISTRIBUTION = "cmedl-bench"
KINDS = ("translator", "segmenter", "fusion", "dataset", "metric", "translation-metric", "launcher", "logger")
HOOK_FOR_KIND = {
    "translator": "register_translators",
    "segmenter": "register_segmenters",
    "fusion": "register_fusions",
    "dataset": "register_datasets",
    "metric": "register_metrics",
    "translation-metric": "register_translation_metrics",
    "launcher": "register_launchers",
    "logger": "register_loggers",
}


@dataclass(frozen=True)
class Component:
    """One registered translator, segmenter, fusion, dataset, metric, translation metric, launcher or logger, with
    its info record (:mod:`cmedl_bench.info`)."""

    kind: str
    name: str
    description: str
    factory: Callable[..., Any]
    info: Any
    distribution: str
    version: str
    plugin: str

    def provenance(self) -> dict[str, str]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version, "plugin": self.plugin}


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point that failed to import or to register."""

    plugin: str
    distribution: str
    version: str
    error: str


@dataclass
class Registry:
    components: dict[str, dict[str, Component]] = field(default_factory=lambda: {k: {} for k in KINDS})
    broken: list[BrokenPlugin] = field(default_factory=list)
    #: kind -> plain name offered by several distributions, none of them the built-ins -> their qualified names
    ambiguous: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {k: {} for k in KINDS})
    #: one line per notable fact of discovery (a name offered twice, a deprecated form): ``plugins`` prints them
    notes: list[str] = field(default_factory=list)

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def get(self, kind: str, name: str) -> Component:
        if name in self.components[kind]:
            return self.components[kind][name]
        owner = next((c for c in self.components[kind].values() if f"{c.distribution}:{c.name}" == name), None)
        if owner is not None:  # the owner of a plain name, asked for by its qualified one
            return owner
        if name in self.ambiguous[kind]:
            raise PluginError(f"{kind} {name!r} is offered by {len(self.ambiguous[kind][name])} distributions; "
                              f"choose one: {', '.join(self.ambiguous[kind][name])}")
        known = ", ".join(self.names(kind)) or "none installed"
        broken = ", ".join(f"{b.plugin} ({b.distribution})" for b in self.broken)
        hint = f"; broken plugins, which may have held it: {broken} (see cmedl-bench plugins)" if broken else ""
        raise PluginError(f"unknown {kind} {name!r}; known {kind}s: {known}{hint}")

    def metric_functions(self, kind: str = "metric") -> dict[str, Callable[..., Any]]:
        """Built metric functions of one kind: ``metric`` (per-case masks) or ``translation-metric`` (pseudo-MRI
        intensities against real MRI's, e.g. KL)."""
        return {c.name: c.factory() for c in self.components[kind].values()}

    def with_metrics(self, names: tuple[str, ...]) -> "Registry":
        """This registry with only the named metrics (``run --metrics``), plus ``dsc``, which validation selects on
        and reports rank by; no names keeps every installed metric. An unknown name is an error listing them."""
        if not names:
            return self
        metrics = {**self.components["metric"], **self.components["translation-metric"]}
        for name in names:
            if name not in metrics:
                self.get("metric", name)
        return Registry({**self.components, "metric": {n: c for n, c in self.components["metric"].items()
                                                       if n in names or n == "dsc"},
                         "translation-metric": {n: c for n, c in self.components["translation-metric"].items()
                                                if n in names}}, self.broken, self.ambiguous, self.notes)

    def all(self) -> list[Component]:
        return [c for kind in KINDS for c in sorted(self.components[kind].values(), key=lambda c: c.name)]


_extra_plugins: list[tuple[object, str, str, str]] = []
_cached: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The registry of all installed components (cached; ``refresh=True`` rediscovers)."""
    global _cached
    if _cached is None or refresh:
        from cmedl_bench.discovery import Loader

        loader = Loader()
        loader.load_entry_points()
        for plugin, name, dist, version in _extra_plugins:
            loader.add(plugin, name, dist, version)
        _cached = loader.collect()
    return _cached


def register_plugin(plugin: object, name: str, distribution: str = "local", version: str = "0") -> None:
    """Register an in-process plugin object (notebooks and tests); undo with :func:`unregister_plugin`. A plugin
    that comes out broken (see :class:`cmedl_bench.discovery.Loader`) is not kept, and its reason is raised as a
    :class:`PluginError`."""
    _extra_plugins.append((plugin, name, distribution, version))
    try:
        broken = [b for b in get_registry(refresh=True).broken if b.plugin == name]
    except BaseException:  # never leave a half-registered plugin behind for the next caller (or test)
        unregister_plugin(name)
        raise
    if broken:
        unregister_plugin(name)
        raise PluginError(f"plugin {name!r} ({distribution} {version}) is broken: {broken[0].error}")


def unregister_plugin(name: str) -> None:
    _extra_plugins[:] = [entry for entry in _extra_plugins if entry[1] != name]
    get_registry(refresh=True)
