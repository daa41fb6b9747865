"""The error hierarchy: types, retryability, pickling, redaction and the documented tree."""

from __future__ import annotations

import pickle
import re

import pytest

from jackfield import errors
from jackfield.errors import (
    ALL_PROVIDER_ERRORS,
    ERROR_CLASSES_BY_TYPE,
    MAX_BODY_CHARS,
    REDACTED,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    ContextWindowExceededError,
    JackfieldError,
    MissingDependencyError,
    NetworkError,
    NotFoundError,
    OutputValidationError,
    OverloadedError,
    PermissionDeniedError,
    PluginLoadError,
    ProviderError,
    ProviderNotFoundError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    RegistryError,
    ServerError,
    StreamError,
    UnknownError,
    UnsupportedFeatureError,
    redact,
)

EXPECTED = {
    ConfigurationError: ("configuration", False),
    AuthenticationError: ("authentication", False),
    PermissionDeniedError: ("permission", False),
    NotFoundError: ("not_found", False),
    BadRequestError: ("invalid_request", False),
    ContextWindowExceededError: ("context_window", False),
    ContentFilterError: ("content_filter", False),
    UnsupportedFeatureError: ("unsupported_feature", False),
    OutputValidationError: ("output_validation", False),
    RateLimitError: ("rate_limit", True),
    QuotaExceededError: ("quota", False),
    ProviderTimeoutError: ("timeout", True),
    NetworkError: ("network", True),
    ServerError: ("server", True),
    OverloadedError: ("overloaded", True),
    StreamError: ("stream", False),
    APIError: ("api_error", False),
    UnknownError: ("unknown", False),
}


def _provider_error_subclasses() -> set[type[ProviderError]]:
    found: set[type[ProviderError]] = set()
    todo = [ProviderError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__ == errors.__name__ and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_expected_table_covers_every_subclass() -> None:
    assert set(EXPECTED) == _provider_error_subclasses()
    assert set(ALL_PROVIDER_ERRORS) == {ProviderError, *EXPECTED}


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_error_type_and_retryable_defaults(cls: type[ProviderError]) -> None:
    error_type, retryable = EXPECTED[cls]
    assert cls.error_type == error_type
    err = cls("boom")
    assert err.error_type == error_type
    assert err.retryable is retryable
    assert err.attempts is None
    assert isinstance(err, ProviderError)
    assert isinstance(err, JackfieldError)
    assert ERROR_CLASSES_BY_TYPE[error_type] is cls


def test_seed_error_types_exist() -> None:
    for name in ("configuration", "authentication", "rate_limit", "timeout", "network"):
        assert name in ERROR_CLASSES_BY_TYPE
    assert ERROR_CLASSES_BY_TYPE["api_error"] is APIError
    assert ERROR_CLASSES_BY_TYPE["unknown"] is UnknownError
    assert len(ERROR_CLASSES_BY_TYPE) == len(EXPECTED)  # error types are unique


def test_retryable_can_be_overridden_per_instance() -> None:
    assert RateLimitError("x", retryable=False).retryable is False
    assert APIError("x", retryable=True).retryable is True


def test_hierarchy() -> None:
    assert issubclass(ContextWindowExceededError, BadRequestError)
    assert issubclass(ContentFilterError, BadRequestError)
    assert issubclass(OverloadedError, ServerError)
    assert not issubclass(QuotaExceededError, RateLimitError)
    assert not issubclass(RateLimitError, QuotaExceededError)
    assert issubclass(ProviderNotFoundError, RegistryError)
    assert issubclass(ProviderNotFoundError, LookupError)
    assert issubclass(MissingDependencyError, ImportError)
    assert issubclass(PluginLoadError, RegistryError)
    assert not issubclass(RegistryError, ProviderError)
    assert issubclass(RegistryError, JackfieldError)


def test_str_and_attributes() -> None:
    err = RateLimitError(
        "slow down",
        provider="acme",
        model="m1",
        status_code=429,
        retry_after=2.5,
        request_id="req_1",
        body={"error": {"message": "slow down"}},
    )
    assert str(err) == "[acme 429] slow down (request id req_1)"
    assert err.message == "slow down"
    assert err.args == ("slow down",)
    assert err.body == '{"error": {"message": "slow down"}}'
    assert str(ServerError("plain")) == "plain"
    assert "RateLimitError('slow down'" in repr(err)
    assert err.to_dict() == {
        "error_type": "rate_limit",
        "message": "slow down",
        "provider": "acme",
        "model": "m1",
        "status_code": 429,
        "retry_after": 2.5,
        "request_id": "req_1",
        "retryable": True,
    }


def test_body_bytes_are_decoded() -> None:
    assert ServerError("x", body=b"bad \xff gateway").body == "bad \ufffd gateway"


# -- pickling ---------------------------------------------------------------------------------

ATTRS = (
    "provider",
    "model",
    "status_code",
    "retry_after",
    "request_id",
    "body",
    "retryable",
    "attempts",
    "message",
    "args",
)


@pytest.mark.parametrize("cls", ALL_PROVIDER_ERRORS, ids=lambda c: c.__name__)
def test_every_provider_error_pickles_with_every_attribute(cls: type[ProviderError]) -> None:
    err = cls(
        "it failed",
        provider="acme",
        model="acme-1",
        status_code=503,
        retry_after=1.5,
        request_id="req_42",
        body={"detail": "busy"},
        retryable=not cls.default_retryable,
    )
    err.attempts = 3
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    for name in ATTRS:
        assert getattr(back, name) == getattr(err, name), name
    assert back.retryable is (not cls.default_retryable)
    assert back.attempts == 3
    assert str(back) == str(err) == "[acme 503] it failed (request id req_42)"
    assert repr(back) == repr(err)


def test_configuration_error_pickles_its_field() -> None:
    err = ConfigurationError("bad temperature", field="temperature", provider="acme")
    back = pickle.loads(pickle.dumps(err))
    assert back.field == "temperature"
    assert back.provider == "acme"
    assert str(back) == "[acme] bad temperature"


def test_registry_errors_pickle() -> None:
    nf = pickle.loads(pickle.dumps(ProviderNotFoundError("mokc", ["mock"])))
    assert isinstance(nf, ProviderNotFoundError)
    assert (nf.name, nf.suggestions) == ("mokc", ("mock",))
    assert str(nf) == "no provider named 'mokc'; did you mean 'mock'?"

    pl = pickle.loads(pickle.dumps(PluginLoadError("acme", "import: ImportError: x")))
    assert (pl.plugin, pl.reason) == ("acme", "import: ImportError: x")
    assert str(pl) == "plugin 'acme' failed to load: import: ImportError: x"

    md = pickle.loads(pickle.dumps(MissingDependencyError("openai", "openai", "openai")))
    assert (md.provider, md.package, md.extra) == ("openai", "openai", "openai")
    assert md.install_command == "pip install 'jackfield[openai]'"
    assert str(md) == (
        "provider 'openai' needs the 'openai' package: pip install 'jackfield[openai]'"
    )


def test_missing_dependency_without_extra_names_the_package() -> None:
    err = MissingDependencyError("acme", "acme_sdk", None)
    assert err.install_command == "pip install acme_sdk"
    assert "pip install acme_sdk" in str(err)


def test_provider_not_found_without_suggestions() -> None:
    assert str(ProviderNotFoundError("zzz")) == "no provider named 'zzz'"


# -- redaction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("invalid key sk-abcdefghijklmnop1234", "sk-abcdefghijklmnop1234"),
        ("key sk-ant-api03-AbC_dEf-123456789 rejected", "sk-ant-api03-AbC_dEf-123456789"),
        ("key sk-or-v1-0123456789abcdef!", "sk-or-v1-0123456789abcdef"),
        ("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.abc", "eyJhbGciOi.JIUzI1NiJ9.abc"),
        ("authorization: bearer tok_0123456789", "tok_0123456789"),
        ("AUTHORIZATION: BEARER TOKEN0123456789", "TOKEN0123456789"),
        ('{"api_key": "abcd1234efgh5678"}', "abcd1234efgh5678"),
        ('{"x-api-key": "abcd1234efgh5678", "n": 1}', "abcd1234efgh5678"),
        ('{"API_KEY": "abcd1234efgh5678"}', "abcd1234efgh5678"),
        ("OPENAI_API_KEY=abcd1234efgh5678 was set", "abcd1234efgh5678"),
        ("api-key: abcd1234efgh5678", "abcd1234efgh5678"),
    ],
)
def test_redact_scrubs_key_shaped_text(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


def test_redact_scrubs_explicit_secrets_and_keeps_other_text() -> None:
    out = redact("the key hunter2-plain-secret is wrong", ["hunter2-plain-secret"])
    assert out == f"the key {REDACTED} is wrong"
    assert redact("nothing secret here: model gpt-4o") == "nothing secret here: model gpt-4o"
    # very short "secrets" would wreck the text; they are ignored
    assert redact("a b c", ["a"]) == "a b c"


def test_errors_redact_message_and_body() -> None:
    err = AuthenticationError(
        "bad key sk-live-1234567890abcdef and plainsecret42",
        body={"error": "Bearer abcdefghijklmnop", "echo": "plainsecret42"},
        secrets=["plainsecret42"],
    )
    for text in (err.message, str(err), repr(err), err.body, *err.args):
        assert "sk-live-1234567890abcdef" not in text
        assert "plainsecret42" not in text
        assert "abcdefghijklmnop" not in text


def test_body_is_truncated() -> None:
    err = ServerError("x", body="a" * (MAX_BODY_CHARS * 3))
    assert err.body is not None
    assert err.body == "a" * MAX_BODY_CHARS + "...[truncated]"
    small = ServerError("x", body="short")
    assert small.body == "short"


def test_truncation_never_leaves_part_of_a_secret() -> None:
    secret = "abcdefghij0123456789"
    body = "x" * (MAX_BODY_CHARS - 5) + secret
    err = ServerError("x", body=body, secrets=[secret])
    assert err.body is not None
    assert len(err.body) <= MAX_BODY_CHARS + len("...[truncated]")
    assert "abcde" not in err.body


# -- the documented tree ----------------------------------------------------------------------


def _tree() -> dict[str, tuple[int, str | None, str]]:
    """Parse the module docstring's tree: name -> (column, parent name, rest of line)."""
    doc = errors.__doc__ or ""
    lines = [line for line in doc.splitlines() if re.search(r"(├──|└──|^\s+JackfieldError)", line)]
    out: dict[str, tuple[int, str | None, str]] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        m = re.search(r"([A-Z][A-Za-z]+)(.*)$", line)
        assert m, line
        name, rest, col = m.group(1), m.group(2).strip(), m.start(1)
        while stack and stack[-1][0] >= col:
            stack.pop()
        out[name] = (col, stack[-1][1] if stack else None, rest)
        stack.append((col, name))
    return out


def test_docstring_tree_names_every_provider_error_with_its_error_type() -> None:
    tree = _tree()
    for cls in _provider_error_subclasses():
        assert cls.__name__ in tree, f"{cls.__name__} missing from the errors.py tree"
        _, parent, rest = tree[cls.__name__]
        words = rest.split()
        assert words and words[0] == cls.error_type, (cls.__name__, rest)
        assert ("(retryable)" in rest) is cls.default_retryable, (cls.__name__, rest)
        assert parent in {b.__name__ for b in cls.__bases__}, (cls.__name__, parent)


def test_docstring_tree_has_the_registry_family() -> None:
    tree = _tree()
    assert tree["ProviderError"][1] == "JackfieldError"
    assert tree["RegistryError"][1] == "JackfieldError"
    for name in ("ProviderNotFoundError", "PluginLoadError", "MissingDependencyError"):
        assert tree[name][1] == "RegistryError"
        assert issubclass(getattr(errors, name), RegistryError)
    exported = {n for n in errors.__all__ if n[0].isupper()}
    assert set(tree) == exported


def test_redact_scrubs_basic_credentials() -> None:
    text = redact("Authorization: Basic dXNlcjpwYXNzd29yZA== and basic QWxhZGRpbjpvcGVu")
    assert "dXNlcjpwYXNzd29yZA" not in text and "QWxhZGRpbjpvcGVu" not in text
