"""The provider registry: plugin discovery, lookup by name, and the caching factory.

A :class:`Registry` owns a pluggy ``PluginManager`` named ``jackfield``. The first
lookup loads the ``jackfield`` entry-point group one entry at a time, isolating a
plugin that fails, then runs each plugin's ``jackfield_register_providers`` hook once.
The module-level functions act on one process-wide registry (:func:`get_registry`).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import attrs
import pluggy

from ..cache import BackendFactory, CacheOpener, default_opener
from ..config import ProviderConfig
from ..errors import (
    ConfigurationError,
    JackfieldError,
    PluginLoadError,
    ProviderNotFoundError,
    RegistryError,
)
from ..provider import Provider
from ..types import Capabilities, ModelTier
from . import _hookspecs as hookspecs
from ._cache_backends import CacheBackendTable
from ._entry_points import entry_points
from ._hookcall import HookRelay, call_each
from ._memo import MEMO_MAX, env_unchanged, holds_given_key, key_env, memo_key

__all__ = [
    "PluginFailure",
    "ProviderInfo",
    "Registry",
    "clear_cache",
    "create_provider",
    "get_provider_class",
    "get_registry",
    "is_registered",
    "list_providers",
    "register_provider",
    "unregister_provider",
]

ENTRY_POINT_GROUP = "jackfield"

SUGGESTION_CUTOFF = 0.7
"""How alike (difflib's ratio) a name must be to be suggested: 'mokc' gives 'mock',
'nope' gives nothing (at 0.6 it gave 'openai')."""


def normalize_name(name: str) -> str:
    """Registry names are case-insensitive, and ``-`` and ``_`` are alike."""
    return name.strip().lower().replace("_", "-")


@attrs.frozen(slots=True)
class ProviderInfo:
    """What ``list_providers`` tells about one registered provider."""

    name: str
    aliases: tuple[str, ...]
    plugin: str
    plugin_version: str | None
    description: str
    auth_method: str
    extra: str | None
    extra_installed: bool
    provider_class: type[Provider] = attrs.field(repr=False, eq=False)
    plugin_name: str = ""
    """The plugin (entry-point) name that registered it, as ``jackfield plugins`` lists."""
    default_model: str | None = None
    """The model a call naming none uses (with no configuration), if the class knows it."""
    capabilities: Capabilities | None = attrs.field(default=None, eq=False)
    """What the provider declares for :attr:`default_model` (before configuration)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``jackfield providers --json``)."""
        data = attrs.asdict(self, recurse=False, filter=lambda a, _: a.name != "provider_class")
        data["aliases"] = list(self.aliases)
        data["capabilities"] = None if self.capabilities is None else self.capabilities.to_dict()
        return data


def declared_capabilities(cls: type[Provider]) -> tuple[str | None, Capabilities]:
    """The default model of ``cls`` (no configuration) and what it declares for it.

    ``model_capabilities`` is asked on an instance built without ``__init__`` (no key,
    no config check, no I/O) holding a default config; a plugin whose declaration needs
    more falls back to its ``default_capabilities``.
    """
    model = cls.default_model or cls.tier_models.get(ModelTier.HOSTED_SMALL) or None
    caps = cls.default_capabilities
    if model:
        try:
            probe = cls.__new__(cls)
            probe.config = ProviderConfig()
            caps = probe.model_capabilities(model)
        except Exception:  # a plugin's own logic: show its class-level declaration
            caps = cls.default_capabilities
    return model, caps


@attrs.frozen(slots=True)
class PluginFailure:
    """A plugin that failed to load or register, with the traceback to show."""

    plugin: str
    stage: str
    error: str
    traceback: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict (for ``jackfield plugins --json``)."""
        return attrs.asdict(self)


class _Entry:
    # A plain class: an attrs class costs about half a millisecond to define.
    __slots__ = ("aliases", "cls", "name", "plugin")

    def __init__(
        self, cls: type[Provider], name: str, aliases: tuple[str, ...], plugin: str
    ) -> None:
        self.cls = cls
        self.name = name
        self.aliases = aliases
        self.plugin = plugin


class Registry:
    """Providers by name, the plugins that supply them, and cached instances.

    :param entry_points: load the ``jackfield`` entry-point group on first lookup.
    :param plugins: entry-point names to load (default: ``$JACKFIELD_PLUGINS`` if set,
        a comma list where empty means none; else all).
    :param strict: raise :class:`PluginLoadError` on a broken plugin (default:
        ``$JACKFIELD_STRICT_PLUGINS``).
    :param config_path: TOML file of named profiles (default ``$JACKFIELD_CONFIG``, else
        ``~/.config/jackfield/config.toml`` if it exists).
    :param cache_opener: where this registry's providers open their response caches
        (default: an opener of its own, which knows this registry's plugin backends).
    """

    def __init__(
        self,
        *,
        entry_points: bool = True,
        plugins: Iterable[str] | None = None,
        strict: bool | None = None,
        config_path: str | os.PathLike[str] | None = None,
        group: str = ENTRY_POINT_GROUP,
        cache_opener: CacheOpener | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.hooks = HookRelay(self.pm)
        self.failures: list[PluginFailure] = []
        self._cache_backends = CacheBackendTable()
        if cache_opener is None:
            cache_opener = CacheOpener(self.cache_backend_factories)
        self.cache_opener = cache_opener
        """Opens the response caches of this registry's providers."""
        self._group = group
        self._load_entry_points = entry_points
        env_plugins = os.environ.get("JACKFIELD_PLUGINS")
        if plugins is not None:
            self._allowed: frozenset[str] | None = frozenset(plugins)
        elif env_plugins is not None:
            self._allowed = frozenset(p.strip() for p in env_plugins.split(",") if p.strip())
        else:
            self._allowed = None
        if strict is None:
            strict = os.environ.get("JACKFIELD_STRICT_PLUGINS", "") not in ("", "0", "false")
        self.strict = strict
        self._config_path = config_path
        self._lock = threading.RLock()
        self._loaded = False
        self._registered_plugins: set[str] = set()
        self._plugin_versions: dict[str, tuple[str, str | None]] = {}
        self._providers: dict[str, _Entry] = {}
        self._aliases: dict[str, str] = {}
        self._instances: dict[str, Provider] = {}
        # an explicit cache_key -> the call that filled its slot (as the memo keys calls)
        self._slots: dict[str, _SlotCall | None] = {}
        self._profiles: dict[str, dict[str, Any]] | None = None
        # create_provider's memo: call arguments -> (instance key, the environment the
        # key depended on, the ProviderConfig passed, if one was). Valid while no provider
        # is (un)registered; a hit still needs the instance to be in _instances.
        self._memo: dict[Hashable, tuple[str, tuple[tuple[str, int], ...], object]] = {}

    # -- discovery ---------------------------------------------------------------------

    def load(self) -> None:
        """Load entry points and run registration hooks (once; later calls are free)."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:  # double-checked under the lock
                return  # type: ignore[unreachable]
            if self._load_entry_points:
                self._load_group()
            self._run_registrations()
            self._loaded = True

    def _record(self, plugin: str, stage: str, exc: BaseException) -> None:
        import traceback

        failure = PluginFailure(
            plugin=plugin,
            stage=stage,
            error=f"{type(exc).__name__}: {exc}",
            traceback="".join(traceback.format_exception(exc)),
        )
        self.failures.append(failure)
        if self.strict:
            raise PluginLoadError(plugin, f"{stage}: {failure.error}") from exc

    def _load_group(self) -> None:
        for ep in entry_points(self._group):
            if self._allowed is not None and ep.name not in self._allowed:
                continue
            if self.pm.has_plugin(ep.name) or self.pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._record(ep.name, "import", exc)
                continue
            self._plugin_versions[ep.name] = (ep.dist_name or ep.name, ep.dist_version)
            self._add_plugin(plugin, ep.name)

    def _add_plugin(self, plugin: object, name: str) -> bool:
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            # pluggy keeps a plugin whose hook failed validation half-registered (its
            # name and the hooks it added before the bad one); take it out entirely.
            if self.pm.get_plugin(name) is plugin:
                self.pm.unregister(plugin, name=name)
            self._record(name, "register", exc)
            return False
        # check_pending(), one plugin at a time, so a misspelled hook isolates its plugin.
        for caller in self.pm.get_hookcallers(plugin) or ():
            if caller.spec is None:
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin and not impl.optionalhook:
                        self.pm.unregister(plugin)
                        self._record(
                            name,
                            "validate",
                            pluggy.PluginValidationError(
                                plugin, f"unknown hook {caller.name!r} (misspelled?)"
                            ),
                        )
                        return False
        self.hooks.invalidate()
        return True

    def _run_registrations(self) -> None:
        impls = [
            impl
            for impl in self.pm.hook.jackfield_register_providers.get_hookimpls()
            if impl.plugin_name not in self._registered_plugins
        ]
        for impl in impls:
            self._registered_plugins.add(impl.plugin_name)
            call_each([impl], {"register": self._registrar(impl.plugin_name)}, self._isolate)

    def _isolate(self, impl: Any, exc: Exception) -> None:
        """Take out a plugin whose registration hook raised, entirely: nothing it
        registered before raising, and none of its other hooks, stays behind."""
        if isinstance(exc, PluginLoadError):
            raise exc
        name = impl.plugin_name
        with self._lock:
            for key in [k for k, e in self._providers.items() if e.plugin == name]:
                self._drop(key)
        self.pm.unregister(impl.plugin, name=name)
        self.hooks.invalidate()
        self._record(name, "register_providers", exc)

    def cache_backend_factories(self) -> Mapping[str, BackendFactory]:
        """The cache backends this registry's plugins registered, by name.

        Each plugin's ``jackfield_register_cache_backends`` runs once per registry (a
        plugin added later is asked on the next lookup). A hook that raises, or
        registers a bad or taken name, is recorded in :attr:`failures`.
        """
        self.load()
        return self._cache_backends.collect(self.pm, self._record)

    def _registrar(self, plugin_name: str) -> Callable[..., None]:
        def register(
            cls: type[Provider] | str,
            name: str | type[Provider] | None = None,
            aliases: Iterable[str] = (),
        ) -> None:
            try:
                self._register(cls, name, aliases, plugin_name, replace=False)
            except RegistryError as exc:
                self._record(plugin_name, "register_providers", exc)

        return register

    def register_plugin(self, plugin: object, name: str | None = None) -> str:
        """Add a pluggy plugin object or module (hook implementations) by hand."""
        self.load()
        with self._lock:
            plugin_name = name or getattr(plugin, "__name__", None) or repr(plugin)
            if self._add_plugin(plugin, plugin_name):
                self._run_registrations()
            return plugin_name

    # -- registration ------------------------------------------------------------------

    def _register(
        self,
        cls: Any,
        name: Any,
        aliases: Iterable[str],
        plugin: str,
        *,
        replace: bool,
    ) -> None:
        cls, name = _class_and_name(cls, name)
        raw = name or cls.name
        if not raw or not isinstance(raw, str):
            raise RegistryError(f"{cls.__name__} has no name; set its `name` attribute")
        key = normalize_name(raw)
        if not cls.__dict__.get("name"):
            # A class with no name of its own (none, or its base's) answers to the name it
            # is registered under, in responses and errors too.
            cls.name = key
        with self._lock:
            existing = self._providers.get(key) or self._providers.get(self._aliases.get(key, ""))
            if existing is not None and not replace and existing.cls is not cls:
                raise RegistryError(
                    f"provider name {key!r} is taken by {existing.cls.__name__} "
                    f"from plugin {existing.plugin!r}"
                )
            if existing is not None and key in self._providers:
                self._drop(key)
            alias_keys = tuple(normalize_name(a) for a in aliases if normalize_name(a) != key)
            for alias in alias_keys:
                owner = self._aliases.get(alias)
                if alias in self._providers or (owner is not None and owner != key and not replace):
                    raise RegistryError(f"alias {alias!r} of {key!r} is already taken")
            self._providers[key] = _Entry(cls, key, alias_keys, plugin)
            self._memo.clear()
            for alias in alias_keys:
                self._aliases[alias] = key

    def _drop(self, key: str) -> None:
        entry = self._providers.pop(key)
        self._memo.clear()
        for alias in entry.aliases:
            if self._aliases.get(alias) == key:
                del self._aliases[alias]

    def register_provider(
        self,
        cls: type[Provider] | str,
        name: str | type[Provider] | None = None,
        *,
        aliases: Iterable[str] = (),
        replace: bool = False,
    ) -> None:
        """Register a provider class by hand (plugins use their hook instead).

        ``register_provider(cls)``, ``register_provider(cls, "name")`` and
        ``register_provider("name", cls)`` all work; a name given is the registered
        name. A class with no ``name`` of its own takes it; one with its own keeps it
        (its responses say that one) and is found under the name given.
        """
        self.load()
        self._register(cls, name, aliases, "<register_provider>", replace=replace)

    def unregister_provider(self, name: str) -> None:
        """Remove a provider and close its cached instances."""
        self.load()
        with self._lock:
            key = self._canonical(name)
            if key is None:
                raise self._not_found(name)
            cls = self._providers[key].cls
            self._drop(key)
            # its instances: of its class, and by name if that class is registered twice
            twice = any(e.cls is cls for e in self._providers.values())
            for cache_key in [
                k
                for k, p in self._instances.items()
                if type(p) is cls and (p.name == key or not twice)
            ]:
                self._slots.pop(cache_key, None)
                self._instances.pop(cache_key).close_nowait()

    # -- lookup ------------------------------------------------------------------------

    def _canonical(self, name: str) -> str | None:
        key = normalize_name(name)
        if key in self._providers:
            return key
        return self._aliases.get(key)

    def _not_found(self, name: str, profile: str | None = None) -> ProviderNotFoundError:
        """The error for an unknown ``name`` (that ``profile`` names, if given): close
        names, and any plugin named like it that failed to load, with why."""
        import difflib

        with self._lock:  # a snapshot: another thread may be (un)registering
            known = [*self._providers, *self._aliases]
            failures = list(self.failures)
        if profile is None:
            known += self.profiles()
        wanted = normalize_name(name)
        close = difflib.get_close_matches(wanted, known, n=3, cutoff=SUGGESTION_CUTOFF)
        failed = {normalize_name(f.plugin): f for f in failures}
        matches = difflib.get_close_matches(wanted, failed, n=1, cutoff=SUGGESTION_CUTOFF)
        note = None
        if matches:
            f = failed[matches[0]]
            reason = (f.error.splitlines() or [""])[0]
            note = f"plugin {f.plugin!r} failed to load ({f.stage}): {reason}"
        return ProviderNotFoundError(name, close, profile, note)

    def is_registered(self, name: str) -> bool:
        """Whether ``name`` (or its alias) is a registered provider."""
        self.load()
        return self._canonical(name) is not None

    def split_spec(self, spec: str) -> tuple[str, str | None]:
        """Split ``"provider:model"`` on the first ``:`` when the prefix is a provider.

        ``"ollama:llama3:8b"`` gives ``("ollama", "llama3:8b")``; a name that is a
        provider or profile as a whole is returned unsplit.
        """
        self.load()
        profiles = self.profiles()
        if self._canonical(spec) is not None or normalize_name(spec) in profiles:
            return spec, None
        prefix, sep, rest = spec.partition(":")
        if (
            sep
            and rest
            and (self._canonical(prefix) is not None or normalize_name(prefix) in profiles)
        ):
            return prefix, rest
        return spec, None

    def get_provider_class(self, name: str) -> type[Provider]:
        """The class registered as ``name``; raises :class:`ProviderNotFoundError`."""
        self.load()
        key = self._canonical(name)
        if key is None:
            key = self._canonical(self.split_spec(name)[0])
        entry = self._providers.get(key) if key is not None else None
        if entry is None:  # unknown, or unregistered by another thread meanwhile
            raise self._not_found(name)
        return entry.cls

    def list_providers(self) -> list[ProviderInfo]:
        """Every registered provider, sorted by name."""
        self.load()
        with self._lock:  # a snapshot: another thread may be (un)registering
            entries = [self._providers[key] for key in sorted(self._providers)]
        out = []
        for entry in entries:
            key = entry.name
            cls = entry.cls
            dist, version = self._plugin_versions.get(entry.plugin, (entry.plugin, None))
            installed = all(importlib.util.find_spec(m) is not None for m in cls.requires)
            model, caps = declared_capabilities(cls)
            out.append(
                ProviderInfo(
                    name=key,
                    aliases=entry.aliases,
                    plugin=dist,
                    plugin_version=version,
                    description=cls.description or (cls.__doc__ or "").strip().split("\n")[0],
                    auth_method=cls.default_auth_method,
                    extra=cls.extra,
                    extra_installed=installed,
                    provider_class=cls,
                    plugin_name=entry.plugin,
                    default_model=model,
                    capabilities=caps,
                )
            )
        return out

    # -- profiles ----------------------------------------------------------------------

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Named profiles from the TOML config file (``[profiles.NAME]`` tables)."""
        if self._profiles is None:
            from ._profiles import load_profiles

            self._profiles = load_profiles(self._config_path)
        return self._profiles

    # -- the caching factory -----------------------------------------------------------

    def create_provider(
        self,
        name: str,
        config: ProviderConfig | Mapping[str, Any] | None = None,
        *,
        cache_key: str | None = None,
        fresh: bool = False,
        **overrides: Any,
    ) -> Provider:
        """A ready provider instance, cached.

        ``name`` is a provider name or alias, a profile name, or ``"provider:model"``.
        The same ``cache_key`` (by default: same provider and config) gives the same
        instance, under threads and concurrent tasks alike; ``fresh=True`` always
        builds a new one (and caches nothing). ``overrides`` are :class:`ProviderConfig` fields.
        """
        return self._create(name, config, cache_key, fresh, overrides)

    def _create(
        self,
        name: str,
        config: ProviderConfig | Mapping[str, Any] | None,
        cache_key: str | None,
        fresh: bool,
        overrides: dict[str, Any],
    ) -> Provider:
        # create_provider's body, taking the overrides as a dict: the module-level
        # function passes its own on, which saves repacking them on the hot path.
        if not fresh and cache_key is not None:
            found = self._instances.get(cache_key)
            if found is not None:
                call = self._slots.get(cache_key)
                if call is not None and call[0] == name and call[1] is config:
                    # inline: the repeated call's fast path (see _same_call)
                    if "api_key" not in overrides:
                        if call[2] == overrides:
                            return found
                    elif {**overrides, "api_key": _KEY} == call[2] and holds_given_key(
                        found, config, overrides
                    ):
                        return found
                return self._check_slot(cache_key, found, name, config, overrides)
        memo = memo_key(name, config, overrides) if not fresh and cache_key is None else None
        if memo is not None:  # the same arguments as an earlier call: skip resolving
            try:
                hit = self._memo.get(memo)
            except TypeError:  # an unhashable argument: resolve every time
                memo = hit = None
            if hit is not None:
                hit_key, env, anchor = hit
                if (anchor is None or anchor is config) and (not env or env_unchanged(env)):
                    found = self._instances.get(hit_key)
                    if found is not None and holds_given_key(found, config, overrides):
                        return found
        self.load()
        cls, cfg = self._resolve(name, config, overrides)
        if fresh:
            return self._instantiate(cls, cfg)
        key = cache_key
        if key is None:
            key = self._default_key(cls, cfg)
            if memo is not None:
                if len(self._memo) >= MEMO_MAX:
                    self._memo.clear()
                anchor = config if isinstance(config, ProviderConfig) else None
                self._memo[memo] = (key, key_env(cls, cfg), anchor)
            found = self._instances.get(key)
            if found is not None:
                return found
        with self._lock:
            found = self._instances.get(key)
            if found is None:
                found = self._instantiate(cls, cfg)
                self._instances[key] = found
                if cache_key is not None:
                    self._slots[key] = _slot_call(name, config, overrides)
        if cache_key is not None and found.config is not cfg:  # another thread filled it
            return self._check_slot(key, found, name, config, overrides)
        return found

    def _instantiate(self, cls: type[Provider], cfg: ProviderConfig) -> Provider:
        """A new instance with this registry's hooks and cache opener (and the registry
        itself, for a provider that builds others: ``uses_registry``)."""
        if cls.uses_registry:
            return cls(cfg, hooks=self.hooks, cache_opener=self.cache_opener, registry=self)
        return cls(cfg, hooks=self.hooks, cache_opener=self.cache_opener)

    def _check_slot(
        self,
        cache_key: str,
        found: Provider,
        name: str,
        config: ProviderConfig | Mapping[str, Any] | None,
        overrides: dict[str, Any],
    ) -> Provider:
        """``found``, the instance in slot ``cache_key``, if this call asks for the same
        provider and config as the call that filled it; else a ``ConfigurationError``."""
        if _same_call(self._slots.get(cache_key), name, config, overrides) and holds_given_key(
            found, config, overrides
        ):
            return found
        held = f"cache_key {cache_key!r} holds provider {found.name!r}"
        if found.config.model:
            held += f" (model {found.config.model!r})"
        try:
            cls, cfg = self._resolve(name, config, overrides)
        except JackfieldError as exc:
            raise ConfigurationError(
                f"{held}; this call asks for {name!r}, which fails: {exc}", field="cache_key"
            ) from exc
        if cls is not type(found):
            raise ConfigurationError(
                f"{held}; this call asks for {name!r} ({cls.name!r}); "
                "use another cache_key, or clear_cache() it first",
                field="cache_key",
            )
        if cfg.fingerprint() != found.config.fingerprint():
            raise ConfigurationError(
                f"{held}; this call asks for it with another config "
                "(fields or API key differ); use another cache_key, or clear_cache() it first",
                field="cache_key",
            )
        return found

    def _default_key(self, cls: type[Provider], cfg: ProviderConfig) -> str:
        key = f"{cls.name}|{cls.__module__}.{cls.__qualname__}|{cfg.fingerprint()}"
        if cfg.api_key is None:
            secret = cfg.resolve_api_key(cls.api_key_env)
            if secret is not None:
                key += f"|env:{secret.fingerprint()}"
        return key

    def cache_keys(self) -> list[str]:
        """The keys of the cached instances (they never contain an API key)."""
        return list(self._instances)

    def _resolve(
        self,
        name: str,
        config: ProviderConfig | Mapping[str, Any] | None,
        overrides: Mapping[str, Any],
    ) -> tuple[type[Provider], ProviderConfig]:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("provider name must be a non-empty string", field="name")
        base, model = self.split_spec(name)
        fields: dict[str, Any] = {}
        profile = self.profiles().get(normalize_name(base))
        profile_name = None
        if profile is not None:
            fields.update(profile)
            profile_name, base = base, str(fields.pop("provider"))
        key = self._canonical(base)
        entry = self._providers.get(key) if key is not None else None
        if entry is None:  # unknown, or unregistered by another thread meanwhile
            raise self._not_found(base if profile_name else name, profile_name)
        cls = entry.cls
        moved: dict[str, Any] = {}
        if cls.extra_fields:  # its own options, given as top-level keys: into extra
            fields, moved = _take(fields, cls.extra_fields, moved)
            if config is not None and not isinstance(config, ProviderConfig):
                config, moved = _take(dict(config), cls.extra_fields, moved)
            overrides, moved = _take(dict(overrides), cls.extra_fields, moved)
        if isinstance(config, ProviderConfig):
            # Fields the caller set explicitly win over the profile's, as with a dict.
            explicit = _explicit_fields(config)
            cfg = ProviderConfig.from_mapping({**fields, **explicit}) if fields else config
        else:
            cfg = ProviderConfig.from_mapping({**fields, **dict(config or {})})
        changes = dict(overrides)
        if model is not None and "model" not in changes:
            changes["model"] = model
        if moved:
            changes["extra"] = {**(changes.get("extra") or cfg.extra), **moved}
        if changes:
            cfg = cfg.evolve(**changes)
        return cls, cfg

    def _evict(self, key: str | None) -> list[Provider]:
        """Take one cached instance (or all) out of the cache and return them."""
        with self._lock:
            if key is None:
                evicted = list(self._instances.values())
                self._instances.clear()
                self._slots.clear()
                return evicted
            self._slots.pop(key, None)
            found = self._instances.pop(key, None)
            return [found] if found is not None else []

    def clear_cache(self, key: str | None = None) -> None:
        """Evict one cached instance (or all) and close what it holds."""
        for provider in self._evict(key):
            provider.close_nowait()

    async def aclear_cache(self, key: str | None = None) -> None:
        """Evict one cached instance (or all) and await closing their connections."""
        for provider in self._evict(key):
            await provider.aclose()


_SlotCall = tuple[str, object, dict[str, Any]]
_KEY = "<api key given>"
"""What a slot's record holds in place of the API key a call gave."""


def _class_and_name(first: Any, second: Any) -> tuple[type[Provider], str | None]:
    """``(cls, name)`` from either order of ``register_provider``'s two arguments."""
    if isinstance(first, str) and second is not None:
        first, second = second, first
    if not (isinstance(first, type) and issubclass(first, Provider)):
        if isinstance(second, type) or isinstance(first, str):
            raise RegistryError(
                f"register_provider takes one provider class and one name, "
                f"not {first!r} and {second!r}"
            )
        raise RegistryError(f"{first!r} is not a jackfield.Provider subclass")
    if second is not None and not isinstance(second, str):
        raise RegistryError(
            f"register_provider takes one provider class and one name, not {first!r} and {second!r}"
        )
    return first, second


def _slot_call(
    name: str, config: ProviderConfig | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> _SlotCall | None:
    """The call that filled an explicit ``cache_key``'s slot, without its API key."""
    if not (config is None or isinstance(config, ProviderConfig)):
        return None  # a mapping may change after the call: compared by resolving
    fields = dict(overrides)
    if "api_key" in fields:
        fields["api_key"] = _KEY  # never the key itself: it is checked on the instance
    return (name, config, fields)


def _same_call(
    call: _SlotCall | None,
    name: str,
    config: ProviderConfig | Mapping[str, Any] | None,
    overrides: Mapping[str, Any],
) -> bool:
    """Whether a call repeats ``call`` (its API key is checked apart, on the instance)."""
    if call is None or call[0] != name or call[1] is not config:
        return False
    if "api_key" in overrides:
        return {**overrides, "api_key": _KEY} == call[2]
    return dict(overrides) == call[2]


def _take(
    data: dict[str, Any], names: frozenset[str], moved: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` without the keys in ``names``, and ``moved`` with them added."""
    taken = {k: v for k, v in data.items() if k in names}
    if not taken:
        return data, moved
    return {k: v for k, v in data.items() if k not in names}, {**moved, **taken}


def _explicit_fields(config: ProviderConfig) -> dict[str, Any]:
    """The fields of ``config`` that differ from their defaults."""
    defaults = ProviderConfig()
    return {
        field.name: getattr(config, field.name)
        for field in attrs.fields(ProviderConfig)
        if field.init and getattr(config, field.name) != getattr(defaults, field.name)
    }


_global: Registry | None = None
_global_lock = threading.Lock()


def _global_cache_backends() -> Mapping[str, BackendFactory]:
    """The global registry's plugin cache backends (the process-wide opener's)."""
    return get_registry().cache_backend_factories()


default_opener().plugin_backends = _global_cache_backends


def get_registry() -> Registry:
    """The process-wide registry (created on first use)."""
    global _global
    if _global is None:
        with _global_lock:
            if _global is None:
                _global = Registry(cache_opener=default_opener())
    return _global


def create_provider(
    name: str,
    config: ProviderConfig | Mapping[str, Any] | None = None,
    *,
    cache_key: str | None = None,
    fresh: bool = False,
    **overrides: Any,
) -> Provider:
    """A cached, ready provider from the global registry (see :meth:`Registry.create_provider`)."""
    registry = _global if _global is not None else get_registry()
    return registry._create(name, config, cache_key, fresh, overrides)


def get_provider_class(name: str) -> type[Provider]:
    """The provider class registered as ``name`` in the global registry."""
    return get_registry().get_provider_class(name)


def list_providers() -> list[ProviderInfo]:
    """Every provider in the global registry."""
    return get_registry().list_providers()


def is_registered(name: str) -> bool:
    """Whether the global registry knows ``name``."""
    return get_registry().is_registered(name)


def register_provider(
    cls: type[Provider] | str,
    name: str | type[Provider] | None = None,
    *,
    aliases: Iterable[str] = (),
    replace: bool = False,
) -> None:
    """Register a provider class in the global registry by hand (either argument order)."""
    get_registry().register_provider(cls, name, aliases=aliases, replace=replace)


def unregister_provider(name: str) -> None:
    """Remove a provider from the global registry."""
    get_registry().unregister_provider(name)


def clear_cache(key: str | None = None) -> None:
    """Evict cached instances from the global registry and close them."""
    get_registry().clear_cache(key)
