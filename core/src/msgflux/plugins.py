"""Plugin manager: entry-point discovery, the provider registry and scoped hook dispatch.

``import msgflux`` loads every plugin published in the entry point group ``msgflux``
(importing plugin modules, never vendor SDKs). Two environment variables control it, in the
manner of pytest's ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` / ``PYTEST_PLUGINS``:

- ``MSGFLUX_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry point, except those listed in
- ``MSGFLUX_PLUGINS=openai,groq``: load only these (entry point or distribution names).

A plugin that fails to load is recorded, not raised: msgflux and every other provider keep
working, and using the broken provider raises ``PluginLoadError`` naming the distribution
and the original exception. Two plugins declaring one provider name make that name unusable
(``PluginConflictError`` naming both) unless one of them sets ``override=True``.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pluggy

from msgflux import hookspecs
from msgflux._dispatch import HOOK_ARGUMENTS, HookImpl, ResolvedHooks, compose
from msgflux._entry_points import PluginEntryPoint, find_entry_points
from msgflux.errors import (
    PluginConflictError,
    PluginLoadError,
    PluginMissingError,
    ProviderNotFoundError,
)
from msgflux.providers import KNOWN_PROVIDER_EXTRAS, ProviderSpec, Quirks

__all__ = [
    "ALLOWED_PLUGINS_ENV",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "get_plugin_manager",
    "get_provider",
    "list_plugins",
    "list_providers",
    "load_plugins",
    "register_plugin",
    "registered_plugin",
    "resolve_hooks",
    "unregister_plugin",
]

logger = logging.getLogger("msgflux.plugins")

ENTRY_POINT_GROUP = "msgflux"
DISABLE_AUTOLOAD_ENV = "MSGFLUX_DISABLE_PLUGIN_AUTOLOAD"
ALLOWED_PLUGINS_ENV = "MSGFLUX_PLUGINS"


@dataclass
class PluginInfo:
    """One plugin as ``msgflux plugins`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    providers: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the CLI's ``--json``)."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "providers": list(self.providers),
            "hooks": list(self.hooks),
            "error": self.error,
            "builtin": self.builtin,
        }


@dataclass
class _Plugin:
    name: str
    obj: Any
    distribution: str | None
    version: str | None
    builtin: bool = False
    providers: list[ProviderSpec] = field(default_factory=list)


@dataclass
class _Failure:
    name: str
    distribution: str | None
    version: str | None
    error: BaseException
    traceback: str

    def describe(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else self.name
        return f"{dist}: {type(self.error).__name__}: {self.error}"


class _Registry:
    """All plugin state, behind one lock; the module functions below are its public face."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, _Plugin] = {}
        self.failures: list[_Failure] = []
        # provider name -> the plugins declaring it (more than one = conflict unless override)
        self.claims: dict[str, list[tuple[ProviderSpec, _Plugin]]] = {}
        self.loaded = False
        self.deferred: list[PluginEntryPoint] = []
        self.generation = 0  # bumped on every change; invalidates resolved hook chains

    # -- loading -----------------------------------------------------------------------------

    def load(self) -> None:
        with self.lock:
            if self.deferred:
                deferred, self.deferred = self.deferred, []
                for entry_point in deferred:
                    self._load_entry_point(entry_point)
            if self.loaded:
                return
            self.loaded = True
            from msgflux.testing import fake  # the built-in offline provider, a plugin like any

            self.add(fake, name="msgflux.testing.fake", builtin=True)
            for entry_point in _selected_entry_points():
                self._load_entry_point(entry_point)

    def _load_entry_point(self, entry_point: PluginEntryPoint) -> None:
        dist_name, version = entry_point.distribution, entry_point.version
        if entry_point.name in self.plugins:
            return  # the same distribution seen twice on sys.path
        try:
            plugin_obj = entry_point.load()
            if _still_importing(plugin_obj):
                # `import msgflux_groq` ran first and imported msgflux, which is discovering
                # plugins: the module is half-initialised, its hooks not defined yet. Register it
                # at the first lookup, once its import has finished.
                self.deferred.append(entry_point)
                return
            self.add(plugin_obj, name=entry_point.name, distribution=dist_name, version=version)
        except Exception as exc:  # a broken plugin never breaks msgflux
            logger.warning(
                "msgflux plugin %r (%s) failed to load: %s", entry_point.name, dist_name, exc
            )
            self.failures.append(
                _Failure(entry_point.name, dist_name, version, exc, traceback.format_exc())
            )

    def add(
        self,
        obj: Any,
        *,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
        builtin: bool = False,
    ) -> _Plugin:
        with self.lock:
            if name in self.plugins:
                raise ValueError(f"a msgflux plugin named {name!r} is already registered")
            _check_hook_names(obj)
            self.pm.register(obj, name=name)
            plugin = _Plugin(name, obj, distribution, version, builtin)
            try:
                plugin.providers = _declared_providers(self.pm, obj)
            except Exception:
                self.pm.unregister(obj)
                raise
            self.plugins[name] = plugin
            for spec in plugin.providers:
                self.claims.setdefault(spec.name, []).append((spec, plugin))
            self.generation += 1
            return plugin

    def remove(self, plugin_or_name: Any) -> None:
        with self.lock:
            plugin = self.plugins.get(plugin_or_name) if isinstance(plugin_or_name, str) else None
            if plugin is None:
                plugin = next((p for p in self.plugins.values() if p.obj is plugin_or_name), None)
            if plugin is None:
                raise ValueError(f"no msgflux plugin {plugin_or_name!r} is registered")
            self.pm.unregister(plugin.obj)
            del self.plugins[plugin.name]
            for spec in plugin.providers:
                remaining = [(s, p) for s, p in self.claims.get(spec.name, []) if p is not plugin]
                if remaining:
                    self.claims[spec.name] = remaining
                else:
                    self.claims.pop(spec.name, None)
            self.generation += 1

    # -- lookup ------------------------------------------------------------------------------

    def provider(self, name: str) -> tuple[ProviderSpec, _Plugin]:
        self.load()
        with self.lock:
            claims = self.claims.get(name)
            if not claims:
                raise self._not_found(name)
            if len(claims) == 1:
                return claims[0]
            overriding = [claim for claim in claims if claim[0].override]
            if len(overriding) == 1:
                return overriding[0]
            names = ", ".join(_plugin_label(plugin) for _, plugin in claims)
            raise PluginConflictError(
                f"provider {name!r} is declared by more than one plugin: {names}. Uninstall all "
                f"but one, or mark the one you want with ProviderSpec(override=True)."
            )

    def _not_found(self, name: str) -> Exception:
        for failure in self.failures:
            if name in (failure.name, failure.distribution, f"msgflux-{name}"):
                error = PluginLoadError(
                    f"provider {name!r} is unavailable: its plugin failed to load "
                    f"({failure.describe()}). Fix or reinstall it: pip install --force-reinstall "
                    f"{failure.distribution or failure.name}"
                )
                error.__cause__ = failure.error
                return error
        installed = ", ".join(sorted(self.claims)) or "none"
        broken = ""
        if self.failures:
            broken = (
                " Plugins that failed to load: "
                + "; ".join(f.describe() for f in self.failures)
                + "."
            )
        if name in KNOWN_PROVIDER_EXTRAS:
            return PluginMissingError(
                f"provider {name!r} needs its plugin, which is not installed. Install it with: "
                f"pip install 'msgflux[{KNOWN_PROVIDER_EXTRAS[name]}]'. "
                f"Installed providers: {installed}.{broken}"
            )
        close = difflib.get_close_matches(name, list(self.claims) + list(KNOWN_PROVIDER_EXTRAS), 1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return ProviderNotFoundError(
            f"unknown provider {name!r}.{hint} Installed providers: {installed}.{broken}"
        )

    def chain(self, name: str) -> list[tuple[ProviderSpec, _Plugin]]:
        """``name``'s provider and its bases, base first."""
        chain: list[tuple[ProviderSpec, _Plugin]] = []
        seen: set[str] = set()
        current: str | None = name
        while current is not None:
            if current in seen:
                raise PluginLoadError(f"provider {name!r} has a cycle in its 'extends' chain")
            seen.add(current)
            spec, plugin = self.provider(current)
            chain.append((spec, plugin))
            current = spec.extends
        chain.reverse()
        return chain


def _still_importing(obj: Any) -> bool:
    """Whether ``obj`` is a module whose import is still running (a circular import)."""
    spec = getattr(obj, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _plugin_label(plugin: _Plugin) -> str:
    if plugin.distribution:
        return f"{plugin.distribution} {plugin.version or ''}".strip()
    return f"plugin {plugin.name!r}"


def _check_hook_names(obj: Any) -> None:
    """Reject hook implementations whose name is not a msgflux hook (typos fail loudly)."""
    known = [name for name in dir(hookspecs) if _is_hookspec(getattr(hookspecs, name))]
    for attr in dir(obj):
        value = getattr(obj, attr, None)
        if (
            callable(value)
            and hasattr(value, f"{hookspecs.PROJECT_NAME}_impl")
            and attr not in known
        ):
            close = difflib.get_close_matches(attr, known, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"{attr!r} is marked @hookimpl but is not a msgflux hook{hint}")


def _is_hookspec(value: Any) -> bool:
    return callable(value) and hasattr(value, f"{hookspecs.PROJECT_NAME}_spec")


def _declared_providers(pm: pluggy.PluginManager, obj: Any) -> list[ProviderSpec]:
    providers: list[ProviderSpec] = []
    for impl in pm.hook.register_providers.get_hookimpls():
        if impl.plugin is not obj:
            continue
        declare: Callable[[], Any] = impl.function
        declared = declare() or []
        for spec in declared:
            if not isinstance(spec, ProviderSpec):
                raise TypeError(
                    "register_providers must return ProviderSpec objects, "
                    f"got {type(spec).__name__}"
                )
            providers.append(spec)
    return providers


def _selected_entry_points() -> list[PluginEntryPoint]:
    allowed_raw = os.environ.get(ALLOWED_PLUGINS_ENV, "").strip()
    allowed = {name.strip() for name in allowed_raw.split(",") if name.strip()}
    autoload_disabled = os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip() not in ("", "0", "false")
    if autoload_disabled and not allowed:
        return []
    selected = []
    for entry_point in find_entry_points(ENTRY_POINT_GROUP):
        names = {entry_point.name, entry_point.distribution}
        if allowed and not (names & allowed):
            continue
        selected.append(entry_point)
    return selected


_registry = _Registry()


# -- public functions --------------------------------------------------------------------------


def get_plugin_manager() -> pluggy.PluginManager:
    """The pluggy ``PluginManager`` (project name ``msgflux``), plugins loaded."""
    _registry.load()
    return _registry.pm


def load_plugins() -> None:
    """Discover entry-point plugins once (``import msgflux`` does this)."""
    _registry.load()


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object (module, class or instance with ``@hookimpl`` functions).

    For applications and tests that add a provider without publishing a distribution.
    Returns the name under which it was registered (pass it to ``unregister_plugin``).
    """
    _registry.load()
    name = name or getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{id(plugin)}"
    _registry.add(plugin, name=name)
    return name


def unregister_plugin(plugin_or_name: Any) -> None:
    """Remove a plugin registered with ``register_plugin`` (or by entry point)."""
    _registry.remove(plugin_or_name)


@contextmanager
def registered_plugin(plugin: Any, name: str | None = None) -> Iterator[str]:
    """``with registered_plugin(obj):`` registers ``obj`` for the block, then removes it."""
    registered_name = register_plugin(plugin, name)
    try:
        yield registered_name
    finally:
        unregister_plugin(registered_name)


def get_provider(name: str) -> ProviderSpec:
    """The ``ProviderSpec`` for ``name``, or the error that explains why it is unavailable."""
    return _registry.provider(name)[0]


def provider_chain(name: str) -> list[ProviderSpec]:
    """``name``'s spec and those of the providers it extends, base first."""
    return [spec for spec, _ in _registry.chain(name)]


def list_providers() -> list[str]:
    """Names of the providers that are usable right now."""
    _registry.load()
    with _registry.lock:
        return sorted(_registry.claims)


def list_plugins() -> list[PluginInfo]:
    """Every plugin: loaded ones (with providers and hooks) and the ones that failed."""
    _registry.load()
    with _registry.lock:
        infos = []
        for plugin in _registry.plugins.values():
            hooks = sorted(
                impl.function.__name__ if hasattr(impl, "function") else str(impl)
                for hook in _registry.pm.get_hookcallers(plugin.obj) or []
                for impl in hook.get_hookimpls()
                if impl.plugin is plugin.obj
            )
            infos.append(
                PluginInfo(
                    name=plugin.name,
                    distribution=plugin.distribution,
                    version=plugin.version,
                    providers=[spec.name for spec in plugin.providers],
                    hooks=[hook for hook in hooks if hook != "register_providers"],
                    builtin=plugin.builtin,
                )
            )
        for failure in _registry.failures:
            infos.append(
                PluginInfo(
                    name=failure.name,
                    distribution=failure.distribution,
                    version=failure.version,
                    error=f"{type(failure.error).__name__}: {failure.error}",
                )
            )
        return infos


# -- scoped dispatch ---------------------------------------------------------------------------

_resolved: dict[str, tuple[int, ResolvedHooks]] = {}


def resolve_hooks(provider: str) -> ResolvedHooks:
    """Resolve ``provider``'s hook chain (cached until a plugin is added or removed)."""
    cached = _resolved.get(provider)
    if cached is not None and cached[0] == _registry.generation:
        return cached[1]
    with _registry.lock:
        generation = _registry.generation
        chain = _registry.chain(provider)
        plugins: list[_Plugin] = []
        for _, plugin in chain:  # a plugin declaring several providers of the chain runs once
            if not any(known is plugin for known in plugins):
                plugins.append(plugin)
        composed = {hook: compose(hook, _impls_for(hook, plugins)) for hook in HOOK_ARGUMENTS}
        specs = tuple(spec for spec, _ in chain)
        resolved = ResolvedHooks(
            chain=specs, quirks=Quirks.merge(spec.quirks for spec in specs), **composed
        )
        _resolved[provider] = (generation, resolved)
        return resolved


def _impls_for(hook: str, plugins: list[_Plugin]) -> list[HookImpl]:
    """``plugins``' implementations of ``hook``, in chain order."""
    by_plugin = {id(impl.plugin): impl for impl in getattr(_registry.pm.hook, hook).get_hookimpls()}
    impls = []
    for plugin in plugins:
        impl = by_plugin.get(id(plugin.obj))
        if impl is not None:
            impls.append(HookImpl.bind(hook, plugin.name, impl.function, impl.argnames))
    return impls
