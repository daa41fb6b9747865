"""Behaviour of the fast paths added for performance (see docs/benchmarks.md).

Each fast path must give exactly what the slow path gives; these tests pin the cases
where a shortcut could go stale or differ.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from jackfield.config import ProviderConfig
from jackfield.provider import Provider
from jackfield.registry import Registry
from jackfield.types import ModelTier, Request, Response


class Keyed(Provider):
    """Reads its key from $FAST_PATH_TEST_KEY."""

    name = "keyed"
    api_key_env = "FAST_PATH_TEST_KEY"
    tier_models: ClassVar = {ModelTier.HOSTED_SMALL: "keyed-1"}

    async def _generate(self, request: Request) -> Response:
        return Response("ok", request.model, self.name)


class Keyless(Keyed):
    name = "keyless"
    requires_api_key = False
    api_key_env = None


@pytest.fixture
def reg() -> Registry:
    registry = Registry(entry_points=False, plugins=(), strict=False)
    registry.register_provider(Keyed)
    registry.register_provider(Keyless)
    return registry


# -- create_provider's memo ------------------------------------------------------------------


def test_memo_returns_the_cached_instance(reg: Registry) -> None:
    first = reg.create_provider("keyless", model="m")
    assert reg.create_provider("keyless", model="m") is first
    assert reg.create_provider("keyless", {"model": "m"}) is first
    assert reg.create_provider("keyless", {"model": "m"}) is first
    config = ProviderConfig(model="m")
    assert reg.create_provider("keyless", config) is first
    assert reg.create_provider("keyless", config) is first
    assert reg.create_provider("keyless", model="n") is not first
    assert reg.create_provider("keyless:m") is first


def test_memo_follows_the_environment_key(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAST_PATH_TEST_KEY", "k1")
    one = reg.create_provider("keyed", model="m")
    assert reg.create_provider("keyed", model="m") is one
    monkeypatch.setenv("FAST_PATH_TEST_KEY", "k2")
    two = reg.create_provider("keyed", model="m")
    assert two is not one
    assert two.api_key is not None and two.api_key.get_secret_value() == "k2"
    monkeypatch.setenv("FAST_PATH_TEST_KEY", "k1")
    assert reg.create_provider("keyed", model="m") is one
    monkeypatch.delenv("FAST_PATH_TEST_KEY")
    with pytest.raises(Exception, match="no API key"):
        reg.create_provider("keyed", model="m")


def test_memo_follows_a_custom_key_variable(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAST_PATH_OTHER_KEY", "a")
    one = reg.create_provider("keyed", api_key_env="FAST_PATH_OTHER_KEY")
    assert reg.create_provider("keyed", api_key_env="FAST_PATH_OTHER_KEY") is one
    monkeypatch.setenv("FAST_PATH_OTHER_KEY", "b")
    assert reg.create_provider("keyed", api_key_env="FAST_PATH_OTHER_KEY") is not one


def test_memo_after_eviction_and_reregistration(reg: Registry) -> None:
    first = reg.create_provider("keyless", model="m")
    reg.clear_cache()
    second = reg.create_provider("keyless", model="m")
    assert second is not first
    assert reg.create_provider("keyless", model="m") is second

    class Replacement(Keyless):
        pass

    reg.register_provider(Replacement, "keyless", replace=True)
    third = reg.create_provider("keyless", model="m")
    assert type(third) is Replacement
    reg.unregister_provider("keyless")
    with pytest.raises(Exception, match="keyless"):
        reg.create_provider("keyless", model="m")


def test_memo_skips_unhashable_and_uncached_calls(reg: Registry) -> None:
    headers = {"x-a": "1"}
    one = reg.create_provider("keyless", extra_headers=headers)
    assert reg.create_provider("keyless", extra_headers=dict(headers)) is one
    assert reg.create_provider("keyless", extra_headers={"x-a": "2"}) is not one
    assert reg.create_provider("keyless", model="m", fresh=True) is not reg.create_provider(
        "keyless", model="m", fresh=True
    )


def test_memo_is_bounded(reg: Registry) -> None:
    for i in range(1500):
        reg.create_provider("keyless", model=f"m{i}")
    assert len(reg._memo) <= 1024
    assert reg.create_provider("keyless", model="m1499") is reg.create_provider(
        "keyless", model="m1499"
    )


def test_invalid_config_still_raises_every_time(reg: Registry) -> None:
    for _ in range(3):
        with pytest.raises(Exception, match="temperature"):
            reg.create_provider("keyless", temperature=5)
