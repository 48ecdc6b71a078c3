"""Find and load plugins: every module of the `gitobs` entry-point group, built-in or third-party alike.

A plugin that fails to import, or whose hook raises, is reported by name and left out; the rest load. So is
one that takes a name already taken (a plugin's, an analyzer's or enricher's, a renderer's format): gitobs's
own plugins come first, so another package can neither replace nor hide a built-in section.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import pluggy

from gitobs.replay import hookspecs
from gitobs.replay.analysis import Analyzer, Enricher, Renderer
from gitobs.replay.engine import describe_failure
from gitobs.replay.entry_points import EntryPoint, entry_points

ENTRY_POINT_GROUP = "gitobs"
BUILT_IN = "gitobs"  # the distribution of the built-in plugins (entry_points.py: the first of a name wins)


@dataclass
class PluginInfo:
    name: str  # the entry point's name
    module: str
    distribution: str  # the installed package that declared it
    version: str
    location: str  # the module's file
    error: str | None = None  # why it did not load
    analyzers: list[str] = field(default_factory=list)
    enrichers: list[str] = field(default_factory=list)
    renderers: list[str] = field(default_factory=list)


@dataclass
class Provided:
    """What the loaded plugins provide, each item with the plugin that provided it."""

    plugins: list[PluginInfo]
    analyzers: list[tuple[type[Analyzer], PluginInfo]]
    enrichers: list[tuple[type[Enricher], PluginInfo]]
    renderers: dict[str, tuple[Renderer, PluginInfo]]

    def failures(self) -> list[str]:
        return [f"plugin {info.name!r} ({info.module}): {info.error}" for info in self.plugins if info.error]


def _built_in_first(entry_point: EntryPoint) -> tuple:
    return entry_point.distribution != BUILT_IN, entry_point.name, entry_point.value


def _whose(info: PluginInfo) -> str:
    return f"plugin {info.name!r} of {info.distribution} {info.version}".rstrip()


def _info(entry_point: EntryPoint) -> PluginInfo:
    return PluginInfo(name=entry_point.name, module=entry_point.value, distribution=entry_point.distribution,
                      version=entry_point.version, location="")


def load(extra: list[tuple[str, object]] | None = None) -> Provided:
    """Load every entry point of the group (and `extra` (name, plugin) pairs, for tests and embedding)."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    loaded: list[tuple[object, PluginInfo]] = []
    infos: list[PluginInfo] = []
    taken: dict[str, PluginInfo] = {}
    for entry_point in sorted(entry_points(ENTRY_POINT_GROUP), key=_built_in_first):
        info = _info(entry_point)
        infos.append(info)
        if entry_point.name in taken:  # not even imported
            info.error = f"the name is taken by {_whose(taken[entry_point.name])}"
            continue
        taken[entry_point.name] = info
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, the others still load
            info.error = f"failed to load: {describe_failure(exc)}"
            continue
        info.location = (inspect.getsourcefile(plugin) or "") if inspect.ismodule(plugin) else ""
        loaded.append((plugin, info))
    for name, plugin in extra or []:
        info = PluginInfo(name=name, module=getattr(plugin, "__name__", name), distribution="(registered)",
                          version="", location="")
        infos.append(info)
        manager.register(plugin, name=name)
        loaded.append((plugin, info))
    return _collect(manager, loaded, infos)


def _collect(manager: pluggy.PluginManager, loaded: list[tuple[object, PluginInfo]],
             infos: list[PluginInfo]) -> Provided:
    by_name = {manager.get_name(plugin): info for plugin, info in loaded}
    provided = Provided(plugins=sorted(infos, key=lambda i: i.name), analyzers=[], enrichers=[], renderers={})
    for hook_name, kind in (("gitobs_analyzers", Analyzer), ("gitobs_enrichers", Enricher),
                            ("gitobs_renderers", Renderer)):
        # One call per implementation, not the hook's merged list: each item stays tied to its plugin.
        implementations = sorted(getattr(manager.hook, hook_name).get_hookimpls(),
                                 key=lambda i: (by_name[i.plugin_name].distribution != BUILT_IN, i.plugin_name))
        names: dict[str, PluginInfo] = {}  # analyzer or enricher name, or renderer format -> whose it is
        for implementation in implementations:
            info = by_name[implementation.plugin_name]
            try:
                items = list(implementation.function() or [])
                _check(items, kind)
            except Exception as exc:  # noqa: BLE001
                info.error = f"{hook_name} failed: {describe_failure(exc)}"
                continue
            clash = next((name for name in map(_name_of, items) if names.get(name, info) is not info), None)
            if clash is not None:
                info.error = f"{_KINDS[kind]} {clash!r} is taken by {_whose(names[clash])}"
                continue
            names.update((name, info) for name in map(_name_of, items))
            _record(provided, items, kind, info)
    return provided


_KINDS = {Analyzer: "analyzer", Enricher: "enricher", Renderer: "the format"}


def _name_of(item: object) -> str:
    return item.format if isinstance(item, Renderer) else item.name  # type: ignore[attr-defined]


def _check(items: list, kind: type) -> None:
    for item in items:
        ok = isinstance(item, kind) if kind is Renderer else inspect.isclass(item) and issubclass(item, kind)
        if not ok:
            raise TypeError(f"{item!r} is not a {kind.__name__}{'' if kind is Renderer else ' subclass'}")


def _record(provided: Provided, items: list, kind: type, info: PluginInfo) -> None:
    for item in items:
        if kind is Analyzer:
            provided.analyzers.append((item, info))
            info.analyzers.append(item.name)
        elif kind is Enricher:
            provided.enrichers.append((item, info))
            info.enrichers.append(item.name)
        else:
            provided.renderers[item.format] = (item, info)
            info.renderers.append(item.format)
