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

import importlib.metadata
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy

from cmedl_bench import hookspecs, settings
from cmedl_bench.errors import PluginError
from cmedl_bench.info import make_info

ENTRY_POINT_GROUP = "cmedl_bench"
#: the distribution of the built-in components, which keep their plain names whoever else offers them
BUILTIN_DISTRIBUTION = "cmedl-bench"
KINDS = ("translator", "segmenter", "fusion", "dataset", "metric", "translation-metric", "launcher")
_HOOK_FOR_KIND = {
    "translator": "register_translators",
    "segmenter": "register_segmenters",
    "fusion": "register_fusions",
    "dataset": "register_datasets",
    "metric": "register_metrics",
    "translation-metric": "register_translation_metrics",
    "launcher": "register_launchers",
}


@dataclass(frozen=True)
class Component:
    """One registered translator, segmenter, fusion, dataset, metric, translation metric or launcher, with its info
    record (:mod:`cmedl_bench.info`)."""

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


def _dist_of(entry_point: importlib.metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"], dist.version


class _Loader:
    """Builds a :class:`Registry` from a plugin manager plus the distribution of each plugin.

    Every failure is confined to the plugin that caused it, which is then listed as broken and contributes nothing:
    an import error, a hook implementation that pluggy refuses (a misnamed hook argument), a hook name that is not a
    cmedl-bench hook (``check_pending``: a misspelled hook would otherwise be ignored silently), an exception while
    registering, and a component name that an earlier plugin already registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.origin: dict[int, tuple[str, str, str]] = {}  # id(plugin object) -> (plugin name, dist, version)
        self.order: list[object] = []  # plugins in registration order (pluggy's own set has none)
        self.registry = Registry()

    def add(self, plugin: object, name: str, distribution: str, version: str) -> None:
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:  # ValueError: a plugin name taken already
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            text = _validation_text(exc) if isinstance(exc, pluggy.PluginValidationError) else str(exc)
            self._broken(name, distribution, version, text)
            return
        self.origin[id(plugin)] = (name, distribution, version)
        self.order.append(plugin)

    def _broken(self, plugin: str, distribution: str, version: str, error: str) -> None:
        self.registry.broken.append(BrokenPlugin(plugin, distribution, version, error))

    def load_entry_points(self) -> None:
        allow, block = settings.plugin_allow_list(), settings.plugin_block_list()
        seen: set[tuple[str, str]] = set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if (allow is not None and ep.name not in allow) or ep.name in block:
                continue
            dist, version = _dist_of(ep)
            if (ep.name, ep.value) in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            try:
                plugin = ep.load()
            except (Exception, SystemExit) as exc:  # a broken plugin must not take the CLI down, nor exit it
                self._broken(ep.name, dist, version, f"{type(exc).__name__}: {exc}")
                continue
            if self.pm.is_registered(plugin):
                continue
            self.add(plugin, ep.name, dist, version)

    def collect(self) -> Registry:
        """Each plugin's components, all or nothing; then who owns each plain name (module docstring), whatever
        the order the plugins were discovered in."""
        offered: dict[tuple[str, str], list[Component]] = {}
        for plugin in self.order:
            name, dist, version = self.origin[id(plugin)]
            found = self._components_of(plugin, name, dist, version, offered)
            for component in found or []:
                offered.setdefault((component.kind, component.name), []).append(component)
        for (kind, name), components in offered.items():
            self._own(kind, name, components)
        return self.registry

    def _own(self, kind: str, name: str, components: list[Component]) -> None:
        from dataclasses import replace

        builtin = [c for c in components if c.distribution == BUILTIN_DISTRIBUTION]
        owner = components[0] if len(components) == 1 else (builtin[0] if builtin else None)
        if owner is not None:
            self.registry.components[kind][name] = owner
        others = sorted((c for c in components if c is not owner), key=lambda c: c.distribution)
        for other in others:
            qualified = f"{other.distribution}:{name}"
            self.registry.components[kind][qualified] = replace(other, name=qualified)
        if others:
            names = [f"{c.distribution}:{name}" for c in others]
            if owner is None:
                self.registry.ambiguous[kind][name] = names
                self.registry.notes.append(f"{kind} {name!r} is offered by {', '.join(c.distribution for c in others)}"
                                           f": no plain name; use {' or '.join(names)}")
            else:
                self.registry.notes.append(f"{kind} {name!r} is {owner.distribution}'s; also offered as "
                                           f"{', '.join(names)}")

    def _components_of(self, plugin: object, name: str, dist: str, version: str,
                       offered: dict[tuple[str, str], list[Component]]) -> list[Component] | None:
        import warnings

        found: list[Component] = []
        for kind, hook_name in _HOOK_FOR_KIND.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        impl.function(register=_register_callback(kind, name, dist, version, found))
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever a plugin raises breaks it alone
                    self._broken(name, dist, version, f"{hook_name}: {type(exc).__name__}: {exc}")
                    return None
                self.registry.notes += [f"{dist} {version} ({name}): {w.message}" for w in caught
                                        if issubclass(w.category, DeprecationWarning)]
        for component in found:
            same = [c for c in offered.get((component.kind, component.name), []) if c.distribution == dist]
            if same:  # one distribution offering one name twice cannot be told apart even by a qualified name
                self._broken(name, dist, version,
                             f"{component.kind} {component.name!r} is already registered by plugin {same[0].plugin} "
                             f"of the same distribution {dist}; disable one with CMEDL_BENCH_DISABLE={name}")
                return None
        return found


def _register_callback(kind: str, plugin: str, dist: str, version: str, found: list[Component]):
    def register(name: str, factory: Callable[..., Any], *, description: str, info=None, capabilities=None) -> None:
        from cmedl_bench.data.identifiers import id_problem

        problem = id_problem(name)
        if problem:
            raise PluginError(f"{kind} name {problem}")
        if any(c.kind == kind and c.name == name for c in found):
            raise PluginError(f"{kind} {name!r} is registered twice by the same plugin")
        if not callable(factory):
            raise PluginError(f"{kind} {name!r}: the factory must be callable, not {type(factory).__name__}")
        record = make_info(kind, name, info, capabilities)
        found.append(Component(kind, name, description, factory, record, dist, version, plugin))

    return register


def _validation_text(exc: pluggy.PluginValidationError) -> str:
    """pluggy's message in one line, with the hooks this project knows when the name was not one of them."""
    text = " ".join(str(exc).split())
    if "unknown hook" in text:
        text += f" (cmedl-bench hooks: {', '.join(sorted(_HOOK_FOR_KIND.values()))})"
    return text


_extra_plugins: list[tuple[object, str, str, str]] = []
_cached: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The registry of all installed components (cached; ``refresh=True`` rediscovers)."""
    global _cached
    if _cached is None or refresh:
        loader = _Loader()
        loader.load_entry_points()
        for plugin, name, dist, version in _extra_plugins:
            loader.add(plugin, name, dist, version)
        _cached = loader.collect()
    return _cached


def register_plugin(plugin: object, name: str, distribution: str = "local", version: str = "0") -> None:
    """Register an in-process plugin object (notebooks and tests); undo with :func:`unregister_plugin`. A plugin
    that comes out broken (see :class:`_Loader`) is not kept, and its reason is raised as a :class:`PluginError`."""
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
