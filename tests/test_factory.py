"""The caching factory: one instance per key, under threads and tasks, secrets kept out."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar

import pytest

from jackfield.config import ProviderConfig, Secret
from jackfield.errors import ConfigurationError
from jackfield.plugins.mock import MockProvider
from jackfield.provider import Provider
from jackfield.registry import Registry
from jackfield.types import ModelTier, Request, Response

KEY_A = "sk-factory-key-aaaaaaaaaaaa"
KEY_B = "sk-factory-key-bbbbbbbbbbbb"


class Counted(MockProvider):
    """A mock that counts constructions and closes."""

    name = "counted"
    created: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).created += 1
        super().__init__(*args, **kwargs)
        self.closed_nowait = 0
        self.closed = 0

    def close_nowait(self) -> None:
        self.closed_nowait += 1

    async def aclose(self) -> None:
        self.closed += 1


class Keyed(Provider):
    name = "keyed"
    requires_api_key = True
    api_key_env = "JACKFIELD_TEST_FACTORY_KEY"
    tier_models: ClassVar = {ModelTier.HOSTED_SMALL: "keyed-1"}

    async def _generate(self, request: Request) -> Response:
        return Response("ok", request.model, self.name)


@pytest.fixture
def reg(registry: Registry) -> Registry:
    Counted.created = 0
    registry.register_provider(Counted)
    registry.register_provider(Keyed)
    return registry


def test_same_name_and_config_give_the_same_instance(reg: Registry) -> None:
    a = reg.create_provider("mock")
    assert reg.create_provider("mock") is a
    assert reg.create_provider("MOCK") is a  # the same provider under another spelling
    b = reg.create_provider("mock", {"model": "mock-large", "temperature": 0.5})
    assert b is not a
    assert reg.create_provider("mock", ProviderConfig(model="mock-large", temperature=0.5)) is b
    assert reg.create_provider("mock", model="mock-large", temperature=0.5) is b
    assert reg.create_provider("mock:mock-large", temperature=0.5) is b
    assert len(reg.cache_keys()) == 2


def test_different_config_gives_a_different_instance(reg: Registry) -> None:
    a = reg.create_provider("counted", {"model": "a"})
    b = reg.create_provider("counted", {"model": "b"})
    c = reg.create_provider("counted", {"model": "a", "extra": {"latency": 0}})
    assert len({id(a), id(b), id(c)}) == 3
    assert (a.config.model, b.config.model) == ("a", "b")
    assert Counted.created == 3


def test_explicit_cache_key(reg: Registry) -> None:
    a = reg.create_provider("counted", cache_key="tenant-1")
    assert reg.create_provider("counted", cache_key="tenant-1") is a
    assert reg.create_provider("COUNTED", {}, cache_key="tenant-1") is a  # the same request
    b = reg.create_provider("counted", cache_key="tenant-2")
    assert b is not a
    assert reg.create_provider("counted") not in (a, b)  # the default key is another key
    assert {"tenant-1", "tenant-2"} <= set(reg.cache_keys())
    assert Counted.created == 3


@pytest.mark.parametrize(
    ("name", "config", "fields", "asked"),
    [
        ("keyed", None, {"api_key": KEY_A}, "'keyed'"),
        ("no-such-provider", None, {"temperature": 99}, "'no-such-provider'"),
        ("counted", {"model": "other"}, {}, "another config"),
        ("counted", None, {"temperature": 0.5}, "another config"),
        ("counted", None, {"api_key": KEY_B}, "another config"),
    ],
)
def test_a_cache_key_asked_for_with_another_provider_or_config_is_refused(
    reg: Registry, name: str, config: dict[str, Any] | None, fields: dict[str, Any], asked: str
) -> None:
    held = reg.create_provider("counted", cache_key="db", model="m1")
    with pytest.raises(ConfigurationError) as caught:
        reg.create_provider(name, config, cache_key="db", **fields)
    message = str(caught.value)
    assert caught.value.field == "cache_key"
    assert "cache_key 'db' holds provider 'counted'" in message
    assert asked in message
    assert KEY_A not in message and KEY_B not in message
    assert KEY_A not in repr(caught.value) and KEY_B not in repr(caught.value)
    assert reg.create_provider("counted", cache_key="db", model="m1") is held  # slot unchanged
    assert reg.create_provider("counted:m1", cache_key="db") is held  # the same config


def test_a_cache_key_holding_a_keyed_provider_checks_the_key(reg: Registry) -> None:
    held = reg.create_provider("keyed", cache_key="k", api_key=KEY_A)
    assert reg.create_provider("keyed", cache_key="k", api_key=KEY_A) is held
    assert reg.create_provider("keyed", {"api_key": KEY_A}, cache_key="k") is held
    with pytest.raises(ConfigurationError, match="cache_key 'k' holds provider 'keyed'") as caught:
        reg.create_provider("keyed", cache_key="k", api_key=KEY_B)
    assert KEY_A not in str(caught.value) and KEY_B not in str(caught.value)


def test_cache_false_always_builds_a_new_instance(reg: Registry) -> None:
    cached = reg.create_provider("counted")
    fresh1 = reg.create_provider("counted", fresh=True)
    fresh2 = reg.create_provider("counted", fresh=True)
    assert len({id(cached), id(fresh1), id(fresh2)}) == 3
    assert reg.create_provider("counted") is cached
    assert len(reg.cache_keys()) == 1
    assert fresh1.hooks is reg.hooks  # still wired to the registry's hooks


def test_clear_cache_evicts_and_closes(reg: Registry) -> None:
    a = reg.create_provider("counted", cache_key="a")
    b = reg.create_provider("counted", cache_key="b")
    assert isinstance(a, Counted) and isinstance(b, Counted)
    reg.clear_cache("a")
    assert reg.cache_keys() == ["b"]
    assert (a.closed_nowait, b.closed_nowait) == (1, 0)
    assert reg.create_provider("counted", cache_key="a") is not a
    reg.clear_cache("no-such-key")  # evicting an absent key is a no-op
    reg.clear_cache()
    assert reg.cache_keys() == []
    assert b.closed_nowait == 1
    assert reg.create_provider("counted", cache_key="b") is not b


async def test_aclear_cache_awaits_aclose(reg: Registry) -> None:
    a = reg.create_provider("counted", cache_key="a")
    b = reg.create_provider("counted", cache_key="b")
    assert isinstance(a, Counted) and isinstance(b, Counted)
    await reg.aclear_cache("a")
    assert (a.closed, b.closed) == (1, 0)
    await reg.aclear_cache()
    assert b.closed == 1
    assert reg.cache_keys() == []


def test_api_keys_make_separate_instances_and_never_enter_cache_keys(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JACKFIELD_TEST_FACTORY_KEY", raising=False)
    a = reg.create_provider("keyed", api_key=KEY_A)
    b = reg.create_provider("keyed", {"api_key": KEY_B})
    assert a is not b
    assert reg.create_provider("keyed", ProviderConfig(api_key=KEY_A)) is a
    assert a.api_key is not None and a.api_key.get_secret_value() == KEY_A
    assert b.api_key is not None and b.api_key.get_secret_value() == KEY_B
    # keys from the environment: a rotated key gets its own instance
    monkeypatch.setenv("JACKFIELD_TEST_FACTORY_KEY", "env-key-one-123456")
    c = reg.create_provider("keyed")
    assert reg.create_provider("keyed") is c
    monkeypatch.setenv("JACKFIELD_TEST_FACTORY_KEY", "env-key-two-123456")
    d = reg.create_provider("keyed")
    assert d is not c
    keys = reg.cache_keys()
    assert len(keys) == 4
    for key in keys:
        for secret in (KEY_A, KEY_B, "env-key-one-123456", "env-key-two-123456"):
            assert secret not in key
        assert "sk-" not in key
        assert "factory-key" not in key


def _hammer(fn: Any, n: int) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.parametrize("cache_key", ["shared", None])
def test_64_threads_get_exactly_one_instance(reg: Registry, cache_key: str | None) -> None:
    results = _hammer(lambda: reg.create_provider("counted", cache_key=cache_key), 64)
    assert len({id(r) for r in results}) == 1
    assert Counted.created == 1
    assert len(reg.cache_keys()) == 1


def test_64_threads_on_a_fresh_registry_with_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JACKFIELD_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("JACKFIELD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent-jackfield-test")
    fresh = Registry(plugins=["mock"])
    results = _hammer(lambda: fresh.create_provider("mock"), 64)
    assert len({id(r) for r in results}) == 1
    assert isinstance(results[0], MockProvider)
    assert fresh.failures == []


async def test_1000_concurrent_tasks_get_one_instance(reg: Registry) -> None:
    async def make() -> Provider:
        await asyncio.sleep(0)
        return reg.create_provider("counted", {"model": "task"})

    results = await asyncio.gather(*(make() for _ in range(1000)))
    assert len({id(r) for r in results}) == 1
    assert Counted.created == 1


def test_a_cached_provider_works_across_event_loops(reg: Registry) -> None:
    provider = reg.create_provider("mock")

    async def call(text: str) -> str:
        first = await provider.generate(text)
        streamed = await reg.create_provider("mock").stream(text).collect()
        assert streamed.content == first.content
        return first.content

    assert asyncio.run(call("one")) == "echo: one"
    assert asyncio.run(call("two")) == "echo: two"
    assert reg.create_provider("mock") is provider


def test_the_factory_memo_never_holds_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(entry_points=False)

    class Keyed(MockProvider):
        name = "keyed"
        requires_api_key = True
        api_key_env = "KEYED_TEST_KEY"

    reg.register_provider(Keyed)
    monkeypatch.setenv("KEYED_TEST_KEY", "sk-env-secret-0123456789")
    via_env = reg.create_provider("keyed")
    assert reg.create_provider("keyed") is via_env
    explicit = reg.create_provider("keyed", api_key="sk-arg-secret-0123456789")
    assert reg.create_provider("keyed", api_key="sk-arg-secret-0123456789") is explicit
    assert reg.create_provider("keyed", {"api_key": "sk-arg-secret-0123456789"}) is explicit
    assert reg.create_provider("keyed", api_key=Secret("sk-arg-secret-0123456789")) is explicit
    other = reg.create_provider("keyed", api_key="sk-arg-secret-9876543210")
    assert other is not explicit
    assert other.api_key is not None
    assert other.api_key.get_secret_value() == "sk-arg-secret-9876543210"
    resolved: list[str] = []
    real_resolve = reg._resolve  # type: ignore[attr-defined]
    monkeypatch.setattr(reg, "_resolve", lambda *a: resolved.append(a[0]) or real_resolve(*a))
    assert reg.create_provider("keyed", api_key="sk-arg-secret-0123456789") is explicit
    assert reg.create_provider("keyed", {"api_key": "sk-arg-secret-0123456789"}) is explicit
    assert resolved == []  # both answered by the memo: explicit keys are memoised too
    internals = repr(reg._memo) + repr(reg.cache_keys())  # type: ignore[attr-defined]
    assert "sk-env-secret" not in internals and "sk-arg-secret" not in internals
    assert "0123456789" not in internals and "9876543210" not in internals
    monkeypatch.setenv("KEYED_TEST_KEY", "sk-env-other-0123456789")
    assert reg.create_provider("keyed") is not via_env  # a changed key is a new instance
