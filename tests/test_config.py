"""ProviderConfig: validation naming the field, key resolution, secrets, fingerprints."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import pytest

from jackfield.config import ProviderConfig, Secret, parse_tier
from jackfield.errors import ConfigurationError
from jackfield.types import ModelTier

KEY = "sk-test-very-secret-0123456789"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -1),
        ("temperature", 3),
        ("temperature", 2.0001),
        ("temperature", math.nan),
        ("temperature", "x"),
        ("temperature", True),
        ("max_tokens", 0),
        ("max_tokens", -5),
        ("max_tokens", 1.5),
        ("max_tokens", True),
        ("max_tokens", "100"),
        ("timeout", 0),
        ("timeout", -1.0),
        ("timeout", "60"),
        ("timeout", math.nan),
        ("connect_timeout", 0),
        ("max_retries", -1),
        ("max_retries", 1.0),
        ("max_retries", None),
        ("max_retries", False),
        ("retry_deadline", 0),
        ("base_url", "ftp://example.invalid"),
        ("base_url", "127.0.0.1:8080"),
        ("base_url", 5),
        ("auth_method", "magic"),
        ("auth_method", "Bearer"),
        ("extra_headers", {"X-Evil": "a\nb"}),
        ("extra_headers", {"X-Evil\r\nHost": "x"}),
        ("extra_headers", {"X-Num": 5}),
        ("extra_headers", "X-Key: value"),
        ("tier_models", {"huge": "some-model"}),
        ("tier_models", {"hosted_large": ""}),
        ("tier_models", {"hosted_large": 5}),
        ("tier_models", [("hosted_large", "m")]),
        ("context_window", 0),
        ("context_window", 1.5),
        ("reasoning", 5),
        ("model", ""),
        ("model", "   "),
        ("api_key_env", ""),
        ("api_version", 3),
        ("deployment", ""),
        ("organization", ""),
        ("project", ""),
        ("max_connections", 0),
        ("max_response_bytes", 0),
        ("extra", 5),
        ("extra", "replies"),
        ("api_key", 12345),
    ],
)
def test_invalid_field_raises_configuration_error_naming_it(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        ProviderConfig(**{field: value})
    assert info.value.field == field
    assert field in str(info.value)
    assert info.value.error_type == "configuration"


def test_field_errors_never_show_the_key() -> None:
    with pytest.raises(ConfigurationError) as info:
        ProviderConfig(api_key=KEY, temperature=9)
    assert info.value.field == "temperature"
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"temperature": 0},
        {"temperature": 2},
        {"temperature": 0.7},
        {"max_tokens": 1},
        {"timeout": 0.001},
        {"max_retries": 0},
        {"base_url": "http://127.0.0.1:8080/v1"},
        {"base_url": "https://api.example.invalid"},
        {"auth_method": "bearer"},
        {"auth_method": "api-key"},
        {"auth_method": "x-api-key"},
        {"auth_method": "none"},
        {"extra_headers": {"X-Title": "jackfield"}},
        {"tier_models": {"hosted-large": "big", ModelTier.LOCAL_SMALL: "small"}},
        {"context_window": 128_000},
        {"reasoning": True},
        {"reasoning": "high"},
        {"api_key": KEY, "api_key_env": "MY_KEY"},
        {"extra": {"replies": ["x"]}},
    ],
)
def test_valid_configs_pass(kwargs: dict[str, Any]) -> None:
    cfg = ProviderConfig(**kwargs)
    for name, value in kwargs.items():
        if name not in ("tier_models", "api_key"):
            assert getattr(cfg, name) == value


def test_defaults() -> None:
    cfg = ProviderConfig()
    assert cfg.api_key is None
    assert cfg.timeout == 60.0
    assert cfg.max_retries == 2
    assert cfg.extra_headers == {}
    assert cfg.tier_models == {}
    assert cfg.extra == {}


def test_tier_models_keys_are_parsed() -> None:
    cfg = ProviderConfig(tier_models={"Hosted-Large": "big", "local_small": "tiny"})
    assert cfg.tier_models == {ModelTier.HOSTED_LARGE: "big", ModelTier.LOCAL_SMALL: "tiny"}


def test_parse_tier() -> None:
    assert parse_tier("hosted_small") is ModelTier.HOSTED_SMALL
    assert parse_tier(" HOSTED-LARGE ") is ModelTier.HOSTED_LARGE
    assert parse_tier(ModelTier.LOCAL_SMALL) is ModelTier.LOCAL_SMALL
    with pytest.raises(ConfigurationError, match="'huge'") as info:
        parse_tier("huge")
    assert info.value.field == "tier"
    assert "local_small" in str(info.value)


def test_from_mapping() -> None:
    cfg = ProviderConfig.from_mapping({"model": "m", "temperature": 0.5, "api_key": KEY})
    assert cfg.model == "m"
    assert cfg.temperature == 0.5
    assert isinstance(cfg.api_key, Secret)
    assert cfg.api_key.get_secret_value() == KEY


def test_from_mapping_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigurationError, match="unknown config field") as info:
        ProviderConfig.from_mapping({"model": "m", "temprature": 0.5})
    assert info.value.field == "temprature"
    assert "temprature" in str(info.value)
    with pytest.raises(ConfigurationError):
        ProviderConfig.from_mapping({"_fingerprint": "x"})  # not an init field


def test_from_mapping_still_validates() -> None:
    with pytest.raises(ConfigurationError) as info:
        ProviderConfig.from_mapping({"max_tokens": 0})
    assert info.value.field == "max_tokens"


def test_evolve() -> None:
    cfg = ProviderConfig(model="a", temperature=0.1, api_key=KEY)
    new = cfg.evolve(model="b")
    assert (new.model, new.temperature) == ("b", 0.1)
    assert new.api_key == cfg.api_key
    assert cfg.model == "a"  # the original is untouched
    assert new.fingerprint() != cfg.fingerprint()
    with pytest.raises(ConfigurationError) as info:
        cfg.evolve(temperature=7)
    assert info.value.field == "temperature"
    with pytest.raises(ConfigurationError, match="nosuch") as info:
        cfg.evolve(nosuch=1)
    assert info.value.field == "nosuch"


def test_config_is_frozen() -> None:
    cfg = ProviderConfig()
    with pytest.raises(AttributeError):
        cfg.model = "x"  # type: ignore[misc]


# -- API key resolution -----------------------------------------------------------------------


def test_api_key_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PB_TEST_CUSTOM_KEY", "from-custom-env")
    monkeypatch.setenv("PB_TEST_DEFAULT_KEY", "from-default-env")

    explicit = ProviderConfig(api_key="explicit-key", api_key_env="PB_TEST_CUSTOM_KEY")
    key = explicit.resolve_api_key("PB_TEST_DEFAULT_KEY")
    assert key is not None and key.get_secret_value() == "explicit-key"

    by_env = ProviderConfig(api_key_env="PB_TEST_CUSTOM_KEY")
    key = by_env.resolve_api_key("PB_TEST_DEFAULT_KEY")
    assert key is not None and key.get_secret_value() == "from-custom-env"

    default = ProviderConfig()
    key = default.resolve_api_key("PB_TEST_DEFAULT_KEY")
    assert key is not None and key.get_secret_value() == "from-default-env"

    # an api_key_env that is unset falls through to the default variable
    monkeypatch.delenv("PB_TEST_CUSTOM_KEY")
    key = by_env.resolve_api_key("PB_TEST_DEFAULT_KEY")
    assert key is not None and key.get_secret_value() == "from-default-env"

    monkeypatch.delenv("PB_TEST_DEFAULT_KEY")
    assert by_env.resolve_api_key("PB_TEST_DEFAULT_KEY") is None
    assert default.resolve_api_key(None) is None


def test_empty_env_value_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PB_TEST_DEFAULT_KEY", "")
    assert ProviderConfig().resolve_api_key("PB_TEST_DEFAULT_KEY") is None


# -- secrets ----------------------------------------------------------------------------------


def test_secret_never_shows_itself() -> None:
    secret = Secret(KEY)
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s}",
        f"{secret:>80}",
        "%s" % secret,  # noqa: UP031
        "%r" % secret,  # noqa: UP031
        "{}".format(secret),  # noqa: UP032
        str([secret]),
        str({"k": secret}),
    ):
        assert KEY not in text
        assert "sk-test" not in text
    assert secret.get_secret_value() == KEY


def test_config_never_shows_the_key() -> None:
    cfg = ProviderConfig(api_key=KEY, model="m")
    for text in (repr(cfg), str(cfg), f"{cfg}", f"{cfg!r}", "%s" % (cfg,), str([cfg])):  # noqa: UP031
        assert KEY not in text
        assert "model='m'" in text


def test_secret_cannot_be_pickled_or_copied() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(KEY))
    with pytest.raises(TypeError):
        pickle.dumps(ProviderConfig(api_key=KEY))
    with pytest.raises(TypeError):
        copy.copy(Secret(KEY))


def test_secret_equality_hash_and_truthiness() -> None:
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY  # never equal to the plain string
    assert hash(Secret(KEY)) == hash(Secret(KEY))
    assert not Secret("")
    assert Secret("x")


def test_api_key_is_kept_as_a_secret() -> None:
    cfg = ProviderConfig(api_key=KEY)
    assert isinstance(cfg.api_key, Secret)
    assert ProviderConfig(api_key=Secret(KEY)).api_key == cfg.api_key


# -- fingerprints -----------------------------------------------------------------------------


def test_fingerprint_tells_keys_apart_without_containing_them() -> None:
    a = ProviderConfig(api_key=KEY)
    b = ProviderConfig(api_key=KEY + "-other")
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() != ProviderConfig().fingerprint()
    for cfg in (a, b):
        fp = cfg.fingerprint()
        assert KEY not in fp
        assert "sk-" not in fp
        assert cfg.api_key is not None
        assert cfg.api_key.get_secret_value() not in fp
        assert cfg.api_key.fingerprint() not in fp  # only a hash of it
    assert Secret(KEY).fingerprint() != Secret(KEY + "-other").fingerprint()
    assert KEY not in Secret(KEY).fingerprint()


def test_fingerprint_is_stable_across_equal_configs_and_dict_order() -> None:
    a = ProviderConfig(
        api_key=KEY, model="m", extra={"a": 1, "b": 2}, extra_headers={"X-A": "1", "X-B": "2"}
    )
    b = ProviderConfig(
        api_key=KEY, model="m", extra={"b": 2, "a": 1}, extra_headers={"X-B": "2", "X-A": "1"}
    )
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() == a.fingerprint()
    assert ProviderConfig(model="m").fingerprint() != ProviderConfig(model="n").fingerprint()
    assert (
        ProviderConfig(extra={"a": 1}).fingerprint() != ProviderConfig(extra={"a": 2}).fingerprint()
    )


def test_fingerprint_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    cfg = ProviderConfig(model="m")
    first = cfg.fingerprint()
    calls = 0
    real = hashlib.sha256

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(hashlib, "sha256", counting)  # config imports hashlib when it hashes
    assert cfg.fingerprint() == first
    assert cfg.fingerprint() == first
    assert calls == 0
    assert ProviderConfig(model="m").fingerprint() == first  # a new config computes it again
    assert calls >= 1


def test_fingerprint_cache_is_not_part_of_equality() -> None:
    a = ProviderConfig(model="m")
    b = ProviderConfig(model="m")
    a.fingerprint()
    assert a == b
    assert hash(a) == hash(b)


def test_extra_header_values_never_show_in_repr() -> None:
    config = ProviderConfig(extra_headers={"X-Custom-Auth": "secret-header-value-123"})
    assert "secret-header-value-123" not in repr(config)
    assert "X-Custom-Auth" in repr(config)
    assert config.extra_headers["X-Custom-Auth"] == "secret-header-value-123"


# -- base URLs that cannot work are refused at creation -------------------------------------

UNUSABLE_URLS = [
    "http://",
    "https://",
    "http:///v1",
    "http://:8080/v1",
    "http://127.0.0.1:99999/v1",
    "http://127.0.0.1:65536",
    "http://127.0.0.1:0/v1",
    "http://127.0.0.1:notaport/v1",
    "http://127.0.0.1:-1",
    "http://[::1",
    "http://[::1]x:80",
    "http://exa mple.com/v1",
    "http://example.com/v1\n",
    "http://example.com\t/v1",
]


@pytest.mark.parametrize("url", UNUSABLE_URLS)
def test_unusable_base_url_is_refused_naming_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ProviderConfig(base_url=url)
    assert info.value.field == "base_url"
    assert "base_url" in info.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://user:sk-canary-in-url@127.0.0.1:99999/v1",
        "http://sk-canary-in-url@[::1",
        "http://127.0.0.1:notaport/v1?key=sk-canary-in-url",
        "http://[::1/v1?api_key=sk-canary-in-url#sk-canary-in-url",
    ],
)
def test_unusable_base_url_error_never_shows_userinfo_or_query(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ProviderConfig(base_url=url)
    err = info.value
    assert info.value.field == "base_url"
    for text in (str(err), repr(err), err.message, str(err.to_dict())):
        assert "sk-canary-in-url" not in text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://localhost",
        "https://[::1]:443/v1",
        "http://[::1]",
        "https://user:pw@api.example.invalid:65535/v1?x=1",
        "http://127.0.0.1:1",
    ],
)
def test_usable_base_urls_pass(url: str) -> None:
    assert ProviderConfig(base_url=url).base_url == url


@pytest.mark.parametrize("name", ["openai-compat", "openai", "anthropic", "proxy", "azure"])
def test_every_provider_refuses_an_unusable_base_url_at_creation(name: str) -> None:
    import jackfield

    for url in ("http://", "http://127.0.0.1:99999", "http://h:notaport", "http://[::1"):
        with pytest.raises(ConfigurationError) as info:
            jackfield.create_provider(name, base_url=url, api_key="k", fresh=True)
        assert info.value.field == "base_url", (name, url)


def test_a_base_url_from_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from jackfield.plugins.proxy import ProxyProvider

    monkeypatch.setenv("JACKFIELD_PROXY_URL", "http://[::1")
    with pytest.raises(ConfigurationError) as info:
        ProxyProvider(api_key="k")
    assert info.value.field == "base_url"
