"""The registry: registration, lookup, plugin isolation, discovery and profiles."""

from __future__ import annotations

import io
import json
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import jackfield
from jackfield import hookimpl
from jackfield.errors import (
    ConfigurationError,
    PluginLoadError,
    ProviderNotFoundError,
    RegistryError,
)
from jackfield.plugins.mock import MockProvider
from jackfield.provider import Provider
from jackfield.registry import PluginFailure, ProviderInfo, Registry, normalize_name
from jackfield.types import ModelTier, Request, Response


class Tiny(Provider):
    """A tiny provider for registry tests."""

    name = "tiny"
    requires_api_key = False
    tier_models: ClassVar = {ModelTier.HOSTED_SMALL: "tiny-1"}

    async def _generate(self, request: Request) -> Response:
        return Response(f"tiny:{request.model}", request.model, self.name)


class Ollama(Tiny):
    name = "ollama"


class OpenRouter(Tiny):
    name = "openrouter"


class Other(Tiny):
    name = "other"
    description = "Another one"


def _fresh(*classes: type[Provider], **kwargs: Any) -> Registry:
    reg = Registry(entry_points=False, **kwargs)
    for cls in classes:
        reg.register_provider(cls)
    return reg


# -- register, unregister, aliases -----------------------------------------------------------


def test_register_and_lookup() -> None:
    reg = _fresh()
    assert not reg.is_registered("tiny")
    reg.register_provider(Tiny, aliases=["little", "Small_One"])
    assert reg.is_registered("tiny")
    assert reg.get_provider_class("tiny") is Tiny
    assert reg.get_provider_class("little") is Tiny
    assert reg.get_provider_class("small-one") is Tiny
    assert [p.name for p in reg.list_providers()] == ["tiny"]
    assert reg.list_providers()[0].aliases == ("little", "small-one")


def test_register_under_another_name() -> None:
    reg = _fresh()
    reg.register_provider(Tiny, "Custom_Name")
    assert reg.get_provider_class("custom-name") is Tiny
    assert not reg.is_registered("tiny")


@pytest.mark.parametrize("spelling", ["mock", "MOCK", "Mock", " mock "])
def test_lookup_is_case_insensitive(spelling: str) -> None:
    assert _fresh(MockProvider).get_provider_class(spelling) is MockProvider


def test_dash_and_underscore_are_alike() -> None:
    reg = _fresh()
    reg.register_provider(Tiny, "open_ai-compat")
    for spelling in ("open_ai-compat", "open-ai-compat", "OPEN_AI_COMPAT", "open-ai_compat"):
        assert reg.get_provider_class(spelling) is Tiny
    assert normalize_name(" A_b-C ") == "a-b-c"


def test_unregister_removes_name_aliases_and_cached_instances() -> None:
    reg = _fresh()
    reg.register_provider(Tiny, aliases=["little"])
    instance = reg.create_provider("tiny")
    assert reg.cache_keys()
    reg.unregister_provider("LITTLE")  # by alias
    assert not reg.is_registered("tiny")
    assert not reg.is_registered("little")
    assert reg.cache_keys() == []
    with pytest.raises(ProviderNotFoundError):
        reg.unregister_provider("tiny")
    reg.register_provider(Tiny)  # the name and alias are free again
    assert reg.create_provider("tiny") is not instance


def test_duplicate_name_is_refused_unless_replace() -> None:
    reg = _fresh(Tiny)
    with pytest.raises(RegistryError, match="'tiny' is taken by Tiny"):
        reg.register_provider(Other, "tiny")
    assert reg.get_provider_class("tiny") is Tiny
    reg.register_provider(Other, "tiny", replace=True)
    assert reg.get_provider_class("tiny") is Other
    reg.register_provider(Other, "tiny")  # the same class again is fine


def test_alias_conflicts_are_refused() -> None:
    reg = _fresh(Tiny, Other)
    with pytest.raises(RegistryError, match="alias 'tiny'"):
        reg.register_provider(Ollama, aliases=["tiny"])
    reg.register_provider(OpenRouter, aliases=["or"])
    with pytest.raises(RegistryError, match="alias 'or'"):
        reg.register_provider(Ollama, aliases=["or"])
    with pytest.raises(RegistryError, match="taken"):
        reg.register_provider(Ollama, "or")  # a name that is someone's alias


def test_only_provider_subclasses_with_a_name_register() -> None:
    reg = _fresh()
    with pytest.raises(RegistryError, match=r"not a jackfield\.Provider subclass"):
        reg.register_provider(object)  # type: ignore[arg-type]

    class Nameless(Tiny):
        name = ""

    with pytest.raises(RegistryError, match="has no name"):
        reg.register_provider(Nameless)


# -- not found, suggestions ------------------------------------------------------------------


def test_unknown_name_raises_with_suggestions() -> None:
    reg = _fresh(MockProvider, Tiny)
    with pytest.raises(ProviderNotFoundError) as info:
        reg.get_provider_class("mokc")
    assert info.value.name == "mokc"
    assert info.value.suggestions == ("mock",)
    assert "did you mean 'mock'?" in str(info.value)
    assert isinstance(info.value, LookupError)
    with pytest.raises(ProviderNotFoundError) as info:
        reg.create_provider("zzzzzz")
    assert info.value.suggestions == ()


def test_suggestions_include_aliases() -> None:
    reg = _fresh()
    reg.register_provider(Tiny, aliases=["anthropic-proxy"])
    with pytest.raises(ProviderNotFoundError) as info:
        reg.get_provider_class("anthropic-prxy")
    assert "anthropic-proxy" in info.value.suggestions


# -- provider:model --------------------------------------------------------------------------


def test_provider_model_specs_split_on_the_first_colon() -> None:
    reg = _fresh(Ollama, OpenRouter, MockProvider)
    assert reg.split_spec("ollama:llama3:8b") == ("ollama", "llama3:8b")
    assert reg.split_spec("openrouter:anthropic/claude-3.5-sonnet") == (
        "openrouter",
        "anthropic/claude-3.5-sonnet",
    )
    assert reg.split_spec("ollama") == ("ollama", None)
    assert reg.split_spec("ollama:") == ("ollama:", None)
    assert reg.get_provider_class("ollama:llama3:8b") is Ollama

    ollama = reg.create_provider("ollama:llama3:8b")
    assert isinstance(ollama, Ollama)
    assert ollama.config.model == "llama3:8b"
    router = reg.create_provider("OpenRouter:anthropic/claude-3.5-sonnet")
    assert router.config.model == "anthropic/claude-3.5-sonnet"
    # an explicit model override beats the spec's model
    assert reg.create_provider("ollama:llama3:8b", model="x").config.model == "x"


async def test_provider_model_spec_model_is_used_by_calls() -> None:
    reg = _fresh(Ollama)
    response = await reg.create_provider("ollama:llama3:8b").generate("hi")
    assert response.model == "llama3:8b"
    assert response.content == "tiny:llama3:8b"


def test_a_name_that_is_not_a_provider_prefix_is_not_split() -> None:
    reg = _fresh(Ollama)
    assert reg.split_spec("llama3:8b") == ("llama3:8b", None)
    with pytest.raises(ProviderNotFoundError) as info:
        reg.create_provider("llama3:8b")
    assert info.value.name == "llama3:8b"
    with pytest.raises(ProviderNotFoundError):
        reg.get_provider_class("nosuch:ollama")


def test_a_registered_name_containing_a_colon_is_not_split() -> None:
    reg = _fresh(Ollama)
    reg.register_provider(Tiny, "ollama:special")
    assert reg.split_spec("ollama:special") == ("ollama:special", None)
    assert reg.get_provider_class("ollama:special") is Tiny


# -- registration hooks ----------------------------------------------------------------------


class CountingPlugin:
    def __init__(self, *classes: type[Provider]) -> None:
        self.calls = 0
        self.classes = classes

    @hookimpl
    def jackfield_register_providers(self, register: Any) -> None:
        self.calls += 1
        for cls in self.classes:
            register(cls)


def test_registration_hooks_run_once_per_registry() -> None:
    reg = Registry(entry_points=False)
    plugin = CountingPlugin(Tiny, Ollama)
    reg.register_plugin(plugin, name="counting")
    assert plugin.calls == 1
    for _ in range(50):
        assert reg.is_registered("tiny")
        reg.get_provider_class("ollama:llama3")
        reg.list_providers()
        reg.create_provider("tiny")
        reg.split_spec("tiny:x")
        with pytest.raises(ProviderNotFoundError):
            reg.get_provider_class("nope")
    assert plugin.calls == 1
    # adding another plugin runs only the new plugin's hook
    later = CountingPlugin(Other)
    reg.register_plugin(later, name="later")
    assert (plugin.calls, later.calls) == (1, 1)
    assert reg.is_registered("other")
    assert plugin.calls == 1

    other_registry = Registry(entry_points=False)
    other_registry.register_plugin(plugin, name="counting")
    assert plugin.calls == 2  # once per registry


def test_registration_hooks_run_once_under_concurrent_lookups() -> None:
    reg = Registry(entry_points=False)
    plugin = CountingPlugin(Tiny)
    # registering by hand before load: hooks run on the first lookup
    reg.pm.register(plugin, name="counting")
    barrier = threading.Barrier(16)
    found: list[type[Provider]] = []

    def lookup() -> None:
        barrier.wait()
        found.append(reg.get_provider_class("tiny"))

    threads = [threading.Thread(target=lookup) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == [Tiny] * 16
    assert plugin.calls == 1


def test_register_plugin_module_name_defaults() -> None:
    reg = Registry(entry_points=False)
    import jackfield.plugins.mock as mock_module

    assert reg.register_plugin(mock_module) == "jackfield.plugins.mock"
    assert reg.get_provider_class("mock") is MockProvider


# -- broken plugins --------------------------------------------------------------------------


class RaisingPlugin:
    @hookimpl
    def jackfield_register_providers(self, register: Any) -> None:
        raise RuntimeError("plugin exploded")


class NonProviderPlugin:
    @hookimpl
    def jackfield_register_providers(self, register: Any) -> None:
        register(dict)
        register(Other)  # its good registration still counts


class DuplicatePlugin:
    @hookimpl
    def jackfield_register_providers(self, register: Any) -> None:
        register(Tiny, name="mock")


class WrongArgumentsPlugin:
    @hookimpl
    def jackfield_register_providers(self, registrar: Any) -> None:  # not in the spec
        registrar(Ollama)


class HalfValidPlugin:
    """A good registration hook, and an observer with an argument not in the spec."""

    def __init__(self) -> None:
        self.started = 0

    @hookimpl
    def jackfield_register_providers(self, register: Any) -> None:
        register(OpenRouter)

    @hookimpl
    def jackfield_request_started(self, attempt: int, bogus: int) -> None:
        self.started += 1


class MisspelledPlugin:
    @hookimpl
    def jackfield_register_provider(self, register: Any) -> None:  # missing "s"
        register(Ollama)


def test_broken_plugins_are_isolated_and_recorded() -> None:
    reg = _fresh(MockProvider, strict=False)
    for name, plugin in [
        ("raising", RaisingPlugin()),
        ("non-provider", NonProviderPlugin()),
        ("duplicate", DuplicatePlugin()),
        ("misspelled", MisspelledPlugin()),
        ("wrong-arguments", WrongArgumentsPlugin()),
        ("half-valid", HalfValidPlugin()),
        ("good", CountingPlugin(Tiny)),
    ]:
        reg.register_plugin(plugin, name=name)
    failures = {f.plugin: f for f in reg.failures}
    assert set(failures) == {
        "raising",
        "non-provider",
        "duplicate",
        "misspelled",
        "wrong-arguments",
        "half-valid",
    }
    assert len(reg.failures) == len(failures)  # each recorded once
    for name in ("wrong-arguments", "half-valid"):
        assert failures[name].stage == "register"
        assert "PluginValidationError" in failures[name].error
        assert not reg.pm.has_plugin(name)  # not left half-registered
    assert not reg.is_registered("openrouter")
    assert not reg.hooks.has("jackfield_request_started")
    assert failures["raising"].stage == "register_providers"
    assert failures["raising"].error == "RuntimeError: plugin exploded"
    assert "Traceback" in failures["raising"].traceback
    assert "plugin exploded" in failures["raising"].traceback
    assert "not a jackfield.Provider subclass" in failures["non-provider"].error
    assert "'mock' is taken" in failures["duplicate"].error
    assert failures["misspelled"].stage == "validate"
    assert "jackfield_register_provider" in failures["misspelled"].error
    # the misspelled plugin is not left half-registered
    assert not reg.pm.has_plugin("misspelled")
    assert not reg.is_registered("ollama")
    # everything else works
    assert reg.get_provider_class("mock") is MockProvider  # not replaced by the duplicate
    assert reg.get_provider_class("tiny") is Tiny
    assert reg.get_provider_class("other") is Other
    assert isinstance(reg.failures[0], PluginFailure)
    assert set(reg.failures[0].to_dict()) == {"plugin", "stage", "error", "traceback"}


class HalfwayPlugin:
    """Registers a provider, then its hook raises; it also has an observer hook."""

    def __init__(self) -> None:
        self.started = 0

    @hookimpl
    def jackfield_register_providers(self, register: Any) -> None:
        register(Other)
        raise RuntimeError("failed halfway")

    @hookimpl
    def jackfield_request_started(self, provider: Any, request: Any, attempt: int) -> None:
        self.started += 1


async def test_a_plugin_whose_hook_raises_is_taken_out_entirely() -> None:
    reg = _fresh(MockProvider, strict=False)
    plugin = HalfwayPlugin()
    reg.register_plugin(plugin, name="halfway")
    assert [(f.plugin, f.stage) for f in reg.failures] == [("halfway", "register_providers")]
    assert not reg.is_registered("other")  # what it registered before raising is gone
    assert not reg.pm.has_plugin("halfway")
    assert not reg.hooks.has("jackfield_request_started")
    await reg.create_provider("mock").generate("hi")  # the rest works, unobserved by it
    assert plugin.started == 0


@pytest.mark.parametrize(
    "plugin",
    [
        RaisingPlugin(),
        NonProviderPlugin(),
        DuplicatePlugin(),
        MisspelledPlugin(),
        WrongArgumentsPlugin(),
        HalfValidPlugin(),
    ],
)
def test_strict_mode_raises_plugin_load_error(plugin: object) -> None:
    reg = _fresh(MockProvider, strict=True)
    with pytest.raises(PluginLoadError) as info:
        reg.register_plugin(plugin, name="bad")
    assert info.value.plugin == "bad"


@pytest.mark.parametrize(("value", "strict"), [("1", True), ("0", False), ("", False)])
def test_strict_mode_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, strict: bool
) -> None:
    monkeypatch.setenv("JACKFIELD_STRICT_PLUGINS", value)
    reg = Registry(entry_points=False)
    assert reg.strict is strict
    if strict:
        with pytest.raises(PluginLoadError, match="plugin exploded"):
            reg.register_plugin(RaisingPlugin(), name="raising")
    else:
        reg.register_plugin(RaisingPlugin(), name="raising")
        assert [f.plugin for f in reg.failures] == ["raising"]


# -- entry-point discovery -------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("JACKFIELD_PLUGINS", "JACKFIELD_STRICT_PLUGINS", "JACKFIELD_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))


@pytest.mark.usefixtures("clean_env")
def test_entry_points_find_the_installed_mock() -> None:
    reg = Registry()
    assert reg.get_provider_class("mock") is MockProvider
    assert reg.pm.has_plugin("mock")
    info = next(p for p in reg.list_providers() if p.name == "mock")
    assert info.plugin == "jackfield"
    assert info.plugin_version == jackfield.__version__
    assert info.auth_method == "none"
    assert info.extra is None
    assert info.extra_installed is True
    assert info.provider_class is MockProvider


@pytest.mark.usefixtures("clean_env")
def test_jackfield_plugins_env_limits_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACKFIELD_PLUGINS", "")
    none = Registry()
    assert none.list_providers() == []
    assert none.pm.list_name_plugin() == []
    with pytest.raises(ProviderNotFoundError):
        none.create_provider("mock")

    monkeypatch.setenv("JACKFIELD_PLUGINS", " mock ")
    only_mock = Registry()
    assert [p.name for p in only_mock.list_providers()] == ["mock"]
    assert [name for name, _ in only_mock.pm.list_name_plugin()] == ["mock"]

    # the constructor argument beats the environment
    assert Registry(plugins=[]).list_providers() == []


@pytest.fixture
def fake_distribution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A distribution on sys.path with entry points in a private group."""
    group = "jackfield_test_group"
    suffix = f"{id(tmp_path):x}"
    good_mod, raising_mod = f"pb_good_{suffix}", f"pb_raising_{suffix}"
    (tmp_path / f"{good_mod}.py").write_text(
        textwrap.dedent(
            """
            from jackfield import hookimpl
            from jackfield.plugins.mock import MockProvider

            class ThirdParty(MockProvider):
                name = "third-party"

            @hookimpl
            def jackfield_register_providers(register):
                register(ThirdParty, aliases=["tp"])
            """
        )
    )
    (tmp_path / f"{raising_mod}.py").write_text(
        textwrap.dedent(
            """
            from jackfield import hookimpl

            @hookimpl
            def jackfield_register_providers(register):
                raise RuntimeError("third-party hook failed")
            """
        )
    )
    dist = tmp_path / "pb_fake_plugins-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pb-fake-plugins\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        f"[{group}]\n"
        "broken_import = pb_no_such_module_xyz\n"
        f"raising = {raising_mod}\n"
        "mock = jackfield.plugins.mock\n"
        f"good = {good_mod}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield group
    for mod in (good_mod, raising_mod):
        sys.modules.pop(mod, None)


@pytest.mark.usefixtures("clean_env")
def test_broken_entry_points_are_isolated(fake_distribution: str) -> None:
    reg = Registry(group=fake_distribution, strict=False)
    assert reg.get_provider_class("mock") is MockProvider
    assert reg.get_provider_class("tp").name == "third-party"
    failures = {f.plugin: f for f in reg.failures}
    assert set(failures) == {"broken_import", "raising"}
    assert failures["broken_import"].stage == "import"
    assert "ModuleNotFoundError" in failures["broken_import"].error
    assert failures["raising"].stage == "register_providers"
    assert "third-party hook failed" in failures["raising"].error
    info = next(p for p in reg.list_providers() if p.name == "third-party")
    assert (info.plugin, info.plugin_version) == ("pb-fake-plugins", "1.2.3")


@pytest.mark.usefixtures("clean_env")
def test_broken_entry_points_raise_in_strict_mode(fake_distribution: str) -> None:
    with pytest.raises(PluginLoadError) as info:
        Registry(group=fake_distribution, strict=True).get_provider_class("mock")
    assert info.value.plugin == "broken_import"


@pytest.mark.usefixtures("clean_env")
def test_plugin_filter_applies_to_entry_points(fake_distribution: str) -> None:
    reg = Registry(group=fake_distribution, plugins=["good"])
    assert [p.name for p in reg.list_providers()] == ["third-party"]
    assert reg.failures == []


@pytest.mark.usefixtures("clean_env", "global_registry")
def test_jackfield_plugins_reports_broken_entry_points(
    fake_distribution: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jackfield.registry._registry as registry_module
    from jackfield.cli import main

    monkeypatch.setattr(registry_module, "_global", Registry(group=fake_distribution))
    out, err = io.StringIO(), io.StringIO()
    assert main(["plugins"], out=out, err=err) == 0
    text = out.getvalue()
    assert "FAILED broken_import (import): ModuleNotFoundError" in text
    assert "FAILED raising (register_providers): RuntimeError: third-party hook failed" in text
    assert text.count("Traceback") == 2
    assert "good: third-party\n" in text and "mock: mock\n" in text  # the working ones

    out = io.StringIO()
    assert main(["plugins", "--json"], out=out, err=io.StringIO()) == 0
    data = json.loads(out.getvalue())
    assert {"good", "mock"} <= set(data["plugins"])
    assert [(f["plugin"], f["stage"]) for f in data["failures"]] == [
        ("broken_import", "import"),
        ("raising", "register_providers"),
    ]


# -- list_providers --------------------------------------------------------------------------


class NeedsSDK(Tiny):
    """Needs an SDK.

    More words that are not shown.
    """

    name = "needs-sdk"
    requires_api_key = True
    default_auth_method = "x-api-key"
    requires = ("no_such_module_xyz",)
    extra = "xyz"


def test_list_providers_fields() -> None:
    reg = _fresh(Other, MockProvider, Tiny)
    reg.register_provider(NeedsSDK, aliases=["sdk"])
    infos = reg.list_providers()
    assert [i.name for i in infos] == ["mock", "needs-sdk", "other", "tiny"]
    by_name = {i.name: i for i in infos}
    sdk = by_name["needs-sdk"]
    assert isinstance(sdk, ProviderInfo)
    assert sdk.aliases == ("sdk",)
    assert sdk.plugin == "<register_provider>"
    assert sdk.plugin_version is None
    assert sdk.description == "Needs an SDK."  # the docstring's first line
    assert sdk.auth_method == "x-api-key"
    assert (sdk.extra, sdk.extra_installed) == ("xyz", False)
    assert by_name["other"].description == "Another one"
    assert by_name["mock"].auth_method == "none"
    data = sdk.to_dict()
    assert "provider_class" not in data
    assert data["aliases"] == ["sdk"]
    assert data["name"] == "needs-sdk"


# -- profiles --------------------------------------------------------------------------------


def _profiles(tmp_path: Path, text: str) -> Registry:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text))
    reg = Registry(entry_points=False, config_path=path)
    reg.register_provider(MockProvider)
    return reg


PROFILES = """
    [profiles.fast]
    provider = "mock"
    model = "mock-large"
    temperature = 0.2

    [profiles.Work_Mock]
    provider = "mock"
    extra = { replies = ["from the profile"] }
"""


async def test_profiles_are_looked_up_by_name(tmp_path: Path) -> None:
    reg = _profiles(tmp_path, PROFILES)
    fast = reg.create_provider("fast")
    assert isinstance(fast, MockProvider)
    assert (fast.config.model, fast.config.temperature) == ("mock-large", 0.2)
    assert reg.create_provider("FAST") is fast
    assert (await fast.generate("x")).model == "mock-large"

    other = reg.create_provider("fast:other-model")
    assert other.config.model == "other-model"
    assert other.config.temperature == 0.2

    work = reg.create_provider("work-mock")
    assert (await work.generate("x")).content == "from the profile"
    assert set(reg.profiles()) == {"fast", "work-mock"}


def test_explicit_arguments_beat_the_profile(tmp_path: Path) -> None:
    reg = _profiles(tmp_path, PROFILES)
    assert reg.create_provider("fast", model="chosen").config.model == "chosen"
    assert reg.create_provider("fast", {"temperature": 1.0}).config.temperature == 1.0
    explicit = reg.create_provider("fast", jackfield.ProviderConfig(model="from-config"))
    assert explicit.config.model == "from-config"  # a config object wins, as a dict does
    assert explicit.config.temperature == 0.2  # fields it leaves at default come from the profile


def test_profile_names_are_suggested(tmp_path: Path) -> None:
    reg = _profiles(tmp_path, PROFILES)
    with pytest.raises(ProviderNotFoundError) as info:
        reg.create_provider("fsat")
    assert "fast" in info.value.suggestions


def test_profile_config_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env.toml"
    path.write_text('[profiles.envy]\nprovider = "mock"\nmodel = "from-env"\n')
    monkeypatch.setenv("JACKFIELD_CONFIG", str(path))
    reg = _fresh(MockProvider)
    assert reg.create_provider("envy").config.model == "from-env"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[profiles.fast\nprovider = 'mock'", "not valid TOML"),
        ("[profiles.fast]\nmodel = 'm'\n", "needs provider"),
        ("[profiles.fast]\nprovider = 3\n", "needs provider"),
        ("profiles = 3\n", "must be a table"),
    ],
)
def test_bad_profile_files_raise_configuration_error(tmp_path: Path, text: str, match: str) -> None:
    reg = _profiles(tmp_path, text)
    with pytest.raises(ConfigurationError, match=match):
        reg.create_provider("fast")


def test_profile_with_unknown_field_raises_configuration_error(tmp_path: Path) -> None:
    reg = _profiles(tmp_path, '[profiles.fast]\nprovider = "mock"\ntemprature = 1\n')
    with pytest.raises(ConfigurationError, match="temprature") as info:
        reg.create_provider("fast")
    assert info.value.field == "temprature"


def test_profile_of_an_unknown_provider(tmp_path: Path) -> None:
    reg = _profiles(tmp_path, '[profiles.fast]\nprovider = "nosuch"\n')
    with pytest.raises(ProviderNotFoundError):
        reg.create_provider("fast")


def test_missing_config_file_raises(tmp_path: Path) -> None:
    reg = Registry(entry_points=False, config_path=tmp_path / "absent.toml")
    reg.register_provider(MockProvider)
    with pytest.raises(ConfigurationError, match="does not exist"):
        reg.create_provider("mock")


# -- the global registry ---------------------------------------------------------------------


@pytest.mark.usefixtures("global_registry")
def test_module_level_functions_use_one_global_registry() -> None:
    reg = jackfield.get_registry()
    assert jackfield.get_registry() is reg
    assert jackfield.is_registered("mock")
    assert jackfield.get_provider_class("mock") is MockProvider
    assert "mock" in [p.name for p in jackfield.list_providers()]
    jackfield.register_provider(Tiny)
    assert reg.get_provider_class("tiny") is Tiny
    provider = jackfield.create_provider("tiny")
    assert jackfield.create_provider("tiny") is provider
    jackfield.clear_cache()
    assert jackfield.create_provider("tiny") is not provider
    jackfield.unregister_provider("tiny")
    assert not jackfield.is_registered("tiny")
