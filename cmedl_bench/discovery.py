"""Discovery: the entry points of the ``cmedl_bench`` group loaded into a :class:`cmedl_bench.registry.Registry`,
every failure confined to the plugin that caused it, and who owns each name (:mod:`cmedl_bench.registry`)."""

from __future__ import annotations

import importlib.metadata
from typing import Any, Callable

import pluggy

from cmedl_bench import hookspecs, settings
from cmedl_bench.errors import PluginError
from cmedl_bench.info import make_info
from cmedl_bench.registry import (HOOK_FOR_KIND, BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP, BrokenPlugin, Component,
                                  Registry)


def _dist_of(entry_point: importlib.metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"], dist.version


class Loader:
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
        outside = _api_outside(plugin)
        if outside:
            self._broken(name, distribution, version, outside)
            return
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
        for kind, hook_name in HOOK_FOR_KIND.items():
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


#: a plugin's registration module (or object) may declare the plugin-API versions it supports, e.g. ">=1,<2"
API_ATTRIBUTE = "CMEDL_BENCH_API"


def _api_outside(plugin: object) -> str | None:
    """Why a plugin's declared plugin-API range excludes this cmedl-bench's, or None (no range, or inside it)."""
    declared = getattr(plugin, API_ATTRIBUTE, None)
    if declared is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        inside = hookspecs.PLUGIN_API_VERSION in SpecifierSet(str(declared))
    except InvalidSpecifier:
        return f"{API_ATTRIBUTE} = {declared!r} is not a version range (e.g. '>=1,<2')"
    return None if inside else (f"supports plugin API {declared}, and this cmedl-bench has plugin API "
                                f"{hookspecs.PLUGIN_API_VERSION}")


def _validation_text(exc: pluggy.PluginValidationError) -> str:
    """pluggy's message in one line, with the hooks this project knows when the name was not one of them."""
    text = " ".join(str(exc).split())
    if "unknown hook" in text:
        text += f" (cmedl-bench hooks: {', '.join(sorted(HOOK_FOR_KIND.values()))})"
    return text
