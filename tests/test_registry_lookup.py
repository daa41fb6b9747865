"""Lookup errors that say what is wrong, and the name-first ``register_provider`` shape."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from jackfield.errors import ProviderNotFoundError, RegistryError
from jackfield.plugins.mock import MockProvider
from jackfield.provider import Provider
from jackfield.registry import Registry, hookimpl
from jackfield.types import Request, Response


class Tiny(Provider):
    name = "tiny"
    requires_api_key = False

    async def _generate(self, request: Request) -> Response:
        return Response("ok", request.model or "m", self.name)


class Unnamed(Tiny):
    name = ""


class Inherits(Tiny):
    """Inherits ``name`` from Tiny."""


class OpenAI(Tiny):
    name = "openai"


# -- register_provider(name, cls) ---------------------------------------------------------------


async def test_register_provider_accepts_the_name_first() -> None:
    reg = Registry(entry_points=False)
    reg.register_provider("custom", Tiny)  # type: ignore[arg-type]  # the xencode shape
    assert reg.get_provider_class("custom") is Tiny
    assert not reg.is_registered("tiny")  # the name given is the registered name
    reg.register_provider(OpenAI, "other")
    assert reg.get_provider_class("other") is OpenAI


async def test_a_class_without_its_own_name_takes_the_registered_name() -> None:
    reg = Registry(entry_points=False)
    reg.register_provider("nameless", Unnamed)  # type: ignore[arg-type]
    reg.register_provider("heir", Inherits)  # type: ignore[arg-type]
    assert (Unnamed.name, Inherits.name, Tiny.name) == ("nameless", "heir", "tiny")
    response = await reg.create_provider("heir", model="m").generate("hi")
    assert response.provider == "heir"


def test_register_provider_refuses_two_names_or_two_classes() -> None:
    reg = Registry(entry_points=False)
    with pytest.raises(RegistryError, match="one provider class and one name"):
        reg.register_provider("a", "b")  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="one provider class and one name"):
        reg.register_provider(Tiny, OpenAI)  # type: ignore[arg-type]


def test_unregister_closes_instances_of_a_class_registered_under_another_name() -> None:
    reg = Registry(entry_points=False)
    reg.register_provider(OpenAI, "other")
    reg.create_provider("other")
    assert reg.cache_keys()
    reg.unregister_provider("other")
    assert reg.cache_keys() == []


# -- did you mean --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "suggested"),
    [("nope", ()), ("opnai", ("openai",)), ("mokc", ("mock",)), ("tinyy", ("tiny",))],
)
def test_suggestions_are_close_names_only(asked: str, suggested: tuple[str, ...]) -> None:
    reg = Registry(entry_points=False)
    for cls in (MockProvider, Tiny, OpenAI):
        reg.register_provider(cls)
    with pytest.raises(ProviderNotFoundError) as caught:
        reg.get_provider_class(asked)
    assert caught.value.suggestions == suggested


# -- a profile naming an unknown provider --------------------------------------------------------


def test_a_profile_naming_an_unknown_provider_names_both(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.bad]\nprovider = "opnai"\n')
    reg = Registry(entry_points=False, config_path=path)
    reg.register_provider(OpenAI)
    with pytest.raises(ProviderNotFoundError) as caught:
        reg.create_provider("bad")
    assert str(caught.value) == (
        "profile 'bad' names provider 'opnai', which is not registered; did you mean 'openai'?"
    )
    assert caught.value.suggestions == ("openai",)
    assert caught.value.profile == "bad"
    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == str(caught.value)


def test_a_profile_naming_itself_suggests_no_profile(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.bad]\nprovider = "bad"\n')
    reg = Registry(entry_points=False, config_path=path)
    reg.register_provider(MockProvider)
    with pytest.raises(ProviderNotFoundError) as caught:
        reg.create_provider("bad")
    assert "did you mean" not in str(caught.value)
    assert "profile 'bad' names provider 'bad'" in str(caught.value)


# -- a broken plugin -----------------------------------------------------------------------------


class MisspelledFoo:
    @hookimpl
    def jackfield_register_provider(self, register: object) -> None:  # the 's' is missing
        raise AssertionError("never called")


@pytest.fixture
def broken_foo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An entry-point group whose plugin ``foo`` fails to import."""
    group = "jackfield_lookup_test_group"
    dist = tmp_path / "pb_foo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pb-foo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(f"""
        [{group}]
        foo = pb_foo_missing_module_xyz
        mock = jackfield.plugins.mock
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return group


def test_a_plugin_that_failed_to_import_is_named_in_the_lookup_error(broken_foo: str) -> None:
    reg = Registry(group=broken_foo, strict=False)
    with pytest.raises(ProviderNotFoundError) as caught:
        reg.create_provider("foo")
    message = str(caught.value)
    assert message.startswith("no provider named 'foo'; ")
    assert "plugin 'foo' failed to load (import): ModuleNotFoundError" in message
    assert "pb_foo_missing_module_xyz" in message
    assert "\n" not in message


def test_a_plugin_with_a_misspelled_hook_is_named_in_the_lookup_error() -> None:
    reg = Registry(entry_points=False, strict=False)
    reg.register_plugin(MisspelledFoo(), name="foo")
    with pytest.raises(ProviderNotFoundError) as caught:
        reg.get_provider_class("FOO")
    message = str(caught.value)
    assert "plugin 'foo' failed to load (validate)" in message
    assert "jackfield_register_provider" in message
