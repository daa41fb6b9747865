"""Tests for jackfield.wire._errors: recorded wire errors, documented error bodies,
header hints, redaction, pickling and a never-raises property test."""

from __future__ import annotations

import email.utils
import json
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings, strategies as st
from recorded import WIRE

from jackfield.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextWindowExceededError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamError,
)
from jackfield.wire._errors import (
    error_from_payload,
    error_from_response,
    parse_retry_after,
    request_id_from,
)


def _wire_dir() -> Path:
    if not WIRE.is_dir():
        pytest.skip(f"recorded wire fixtures not found at {WIRE} (the shared/wire checkout)")
    return WIRE


# -- recorded error bodies ------------------------------------------------------------------------

# file name -> (class, retryable, status_code, message fragments, request_id, retry_after)
Expected = tuple[type[ProviderError], bool, int | None, tuple[str, ...], str | None, float | None]
WIRE_EXPECTED: dict[str, Expected] = {
    "anthropic-error-400-credit-balance-too-low.json": (
        QuotaExceededError,
        False,
        400,
        ("credit balance is too low", "Plans & Billing"),
        "req_011CbrFTcXhtiMzr3s6EocF7",
        None,
    ),
    "anthropic-error-400-prompt-too-long.json": (
        ContextWindowExceededError,
        False,
        400,
        ("prompt is too long: 200251 tokens > 200000 maximum",),
        "req_011CWdepJvA2D819tdYYq4h7",
        None,
    ),
    "anthropic-error-401-invalid-x-api-key.json": (
        AuthenticationError,
        False,
        401,
        ("[authentication_error]", "invalid x-api-key"),
        None,
        None,
    ),
    "anthropic-error-404-not-found-model.json": (
        NotFoundError,
        False,
        404,
        ("[not_found_error]", "model: claude-sonet-4-5"),
        "req_011CdufXo8Y2LVfY2veyuQWG",
        None,
    ),
    "anthropic-error-429-rate-limit.json": (
        RateLimitError,
        True,
        429,
        ("[rate_limit_error]", "40,000 input tokens per minute"),
        None,
        None,
    ),
    "anthropic-error-529-overloaded-request-id-in-body.json": (
        OverloadedError,
        True,
        529,
        ("[overloaded_error] Overloaded",),
        "req_011CZAau32QzxDkriovTaFCB",
        None,
    ),
    "anthropic-error-529-overloaded.json": (
        OverloadedError,
        True,
        529,
        ("[overloaded_error] Overloaded",),
        "req_01RCc7MbLyQNtGKzBTv8VCep",
        None,
    ),
    "anthropic-stream-error-event-overloaded-payload.json": (
        OverloadedError,
        True,
        None,  # an in-stream error has no status of its own (the stream's 200 is not it)
        ("[overloaded_error] Overloaded",),
        None,
        None,
    ),
    "azure-openai-error-400-content-filter.json": (
        ContentFilterError,
        False,
        400,
        ("[content_filter]", "content management policy", "(filtered: sexual)"),
        None,
        None,
    ),
    "gemini-error-400-api-key-invalid.json": (
        # Gemini answers a bad key with 400 INVALID_ARGUMENT; the google.rpc.ErrorInfo
        # reason API_KEY_INVALID says what it is: re-sending it will not help.
        AuthenticationError,
        False,
        400,
        ("[API_KEY_INVALID]", "API key not valid"),
        None,
        None,
    ),
    "gemini-error-429-resource-exhausted.json": (
        # A per-minute QuotaFailure: a rate limit, despite the "exceeded your current
        # quota" wording (the same words OpenAI uses for insufficient_quota). The wait
        # comes from google.rpc.RetryInfo's retryDelay "26s".
        RateLimitError,
        True,
        429,
        ("[RESOURCE_EXHAUSTED]", "exceeded your current quota"),
        None,
        26.0,
    ),
    "gemini-error-503-unavailable-high-demand.json": (
        # The newer wording of Gemini's "The model is overloaded": overloaded, like
        # Anthropic's 529 and the older wording on a 5xx.
        OverloadedError,
        True,
        503,
        ("[UNAVAILABLE]", "experiencing high demand"),
        None,
        None,
    ),
    "openai-error-400-context-length-exceeded.json": (
        ContextWindowExceededError,
        False,
        400,
        ("[context_length_exceeded]", "maximum context length is 4097 tokens"),
        None,
        None,
    ),
    "openai-error-401-invalid-api-key.json": (
        AuthenticationError,
        False,
        401,
        ("[invalid_api_key]", "Incorrect API key provided"),
        None,
        None,
    ),
    "openai-error-404-model-not-found.json": (
        NotFoundError,
        False,
        404,
        ("[model_not_found]", "`gpt-5.2-proo` does not exist"),
        None,
        None,
    ),
    "openai-error-429-insufficient-quota.json": (
        QuotaExceededError,
        False,
        429,
        ("[insufficient_quota]", "exceeded your current quota"),
        None,
        None,
    ),
    "openai-error-429-rate-limit-exceeded.json": (
        RateLimitError,
        True,
        429,
        ("[rate_limit_exceeded]", "tokens per min (TPM)"),
        None,
        26.604,  # no header was recorded: taken from "Please try again in 26.604s"
    ),
    "openai-responses-error-400-model-not-found.json": (
        # /v1/responses answers an unknown model with 400, chat.completions with 404:
        # the code decides, so both are NotFoundError.
        NotFoundError,
        False,
        400,
        ("[model_not_found]", "'this-model-does-not-exist-12345' does not exist"),
        "req_4034503e497442ed887b172915a0b39a",
        None,
    ),
    "openrouter-error-402-insufficient-credits.json": (
        QuotaExceededError,
        False,
        402,
        ("Insufficient credits",),
        None,
        None,
    ),
    "openrouter-error-429-upstream-rate-limited.json": (
        RateLimitError,
        True,
        429,
        ("Provider returned error (Google)", "temporarily rate-limited upstream"),
        None,
        None,
    ),
}


def _wire_files() -> list[str]:
    if not WIRE.is_dir():
        return ["<wire fixtures missing>"]
    return sorted(p.name for p in WIRE.glob("*error*.json"))


def _replay(record: dict[str, Any], body: Any) -> ProviderError:
    if record["status"] == 200:  # an error event received inside a 200 stream
        payload = json.loads(body) if isinstance(body, str) else body
        return error_from_payload(payload, provider="wire", model="m")
    raw = body.encode() if isinstance(body, str) else body
    return error_from_response(record["status"], record["headers"], raw, provider="wire", model="m")


@pytest.mark.parametrize("name", _wire_files())
def test_recorded_error_bodies(name: str) -> None:
    path = _wire_dir() / name
    assert name in WIRE_EXPECTED, f"no expectation written for the new fixture {name}"
    cls, retryable, status, fragments, request_id, retry_after = WIRE_EXPECTED[name]
    record = json.loads(path.read_text(encoding="utf-8"))

    match = re.search(r"-error-(\d{3})-", name)
    if match:  # the status in the file name is the one recorded in the file
        assert record["status"] == int(match.group(1))

    bodies = [record["body"]]
    for raw_key in ("body_raw", "data_raw"):
        if raw_key in record:
            bodies.append(record[raw_key])
    for body in bodies:
        err = _replay(record, body)
        assert type(err) is cls, (name, err)
        assert err.error_type == cls.error_type
        assert err.retryable is retryable
        assert err.status_code == status
        assert err.request_id == request_id
        assert err.retry_after == retry_after
        assert err.provider == "wire"
        assert err.model == "m"
        for fragment in fragments:
            assert fragment in err.message, (fragment, err.message)
        assert err.body
        assert "<html" not in err.message


def _sse_events(text: str) -> list[tuple[str, str]]:
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            events.append((name, "\n".join(data)))
    return events


def test_groq_error_event_in_stream() -> None:
    text = (_wire_dir() / "groq-stream-error-event-tool-use-failed.sse").read_text(encoding="utf-8")
    errors = [json.loads(data) for name, data in _sse_events(text) if name == "error"]
    assert len(errors) == 1
    err = error_from_payload(errors[0], provider="groq", model="openai/gpt-oss-120b")
    assert type(err) is BadRequestError
    assert err.error_type == "invalid_request"
    assert err.status_code == 400  # from the payload's status_code
    assert err.retryable is False
    assert err.message.startswith("[tool_use_failed] Tool call validation failed")
    assert "failed_generation" in (err.body or "")


def test_openrouter_error_chunk_in_stream() -> None:
    text = (_wire_dir() / "openrouter-stream-error-midstream.sse").read_text(encoding="utf-8")
    chunks = [json.loads(d) for _, d in _sse_events(text) if d != "[DONE]"]
    with_error = [c for c in chunks if "error" in c]
    assert len(with_error) == 1
    err = error_from_payload(with_error[0], provider="openrouter", model="minimax/minimax-m2:free")
    # code 400, "Token limit reached" (after finish_reason "length"): a bad request, not
    # the context window and not a rate limit.
    assert type(err) is BadRequestError
    assert err.status_code == 400
    assert err.message == "Token limit reached"
    assert err.retryable is False


# -- documented error bodies ----------------------------------------------------------------------

OPENAI_CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your "
        "messages resulted in 130412 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
ANTHROPIC_CONTEXT = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "input length and `max_tokens` exceed context limit: 197626 + 8192 > 200000, "
        "decrease input length or `max_tokens` and try again",
    },
}
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _anthropic(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _openai(message: str, kind: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


DOCUMENTED: list[tuple[str, int | None, dict[str, str], Any, type[ProviderError], bool, str]] = [
    (
        "openai-400-context",
        400,
        {},
        OPENAI_CONTEXT,
        ContextWindowExceededError,
        False,
        "maximum context length is 128000",
    ),
    (
        "anthropic-400-context",
        400,
        {},
        ANTHROPIC_CONTEXT,
        ContextWindowExceededError,
        False,
        "exceed context limit",
    ),
    (
        "vllm-400-context",
        400,
        {},
        {
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens. However, you "
            "requested 5000 tokens (4000 in the messages, 1000 in the completion).",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        },
        ContextWindowExceededError,
        False,
        "[BadRequestError]",
    ),
    (
        "too-many-tokens-400",
        400,
        {},
        {"message": "too many tokens: size limit exceeded"},
        ContextWindowExceededError,
        False,
        "too many tokens",
    ),
    (
        "tokens-per-min-429",
        429,
        {},
        {"error": {"message": "Too many tokens per min, slow down"}},
        RateLimitError,
        True,
        "Too many tokens per min",
    ),
    (
        "anthropic-400-invalid",
        400,
        {},
        _anthropic("invalid_request_error", "messages: empty"),
        BadRequestError,
        False,
        "[invalid_request_error] messages: empty",
    ),
    (
        "openai-401",
        401,
        {},
        _openai(
            "Incorrect API key provided: sk-abc***xyz.", "invalid_request_error", "invalid_api_key"
        ),
        AuthenticationError,
        False,
        "Incorrect API key provided",
    ),
    (
        "anthropic-403",
        403,
        {},
        _anthropic(
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        PermissionDeniedError,
        False,
        "[permission_error]",
    ),
    (
        "openai-403-country",
        403,
        {},
        _openai(
            "Country, region, or territory not supported",
            "request_forbidden",
            "unsupported_country_region_territory",
        ),
        PermissionDeniedError,
        False,
        "Country, region, or territory not supported",
    ),
    (
        "openai-404-model",
        404,
        {},
        _openai("The model `gpt-9` does not exist", "invalid_request_error", "model_not_found"),
        NotFoundError,
        False,
        "`gpt-9` does not exist",
    ),
    (
        "ollama-404-model",
        404,
        {},
        b'{"error":"model \\"llama9\\" not found, try pulling it first"}',
        NotFoundError,
        False,
        'model "llama9" not found',
    ),
    ("fastapi-404", 404, {}, b'{"detail":"Not Found"}', NotFoundError, False, "Not Found"),
    ("408-text", 408, {}, b"Request Timeout", ProviderTimeoutError, True, "Request Timeout"),
    (
        "409-lock",
        409,
        {},
        _openai("The request conflicted with another request.", "invalid_request_error", None),
        APIError,
        True,
        "conflicted",
    ),
    (
        "anthropic-413",
        413,
        {},
        _anthropic("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        BadRequestError,
        False,
        "[request_too_large]",
    ),
    (
        "fastapi-422",
        422,
        {},
        {
            "detail": [
                {
                    "type": "missing",
                    "loc": ["body", "messages"],
                    "msg": "Field required",
                    "input": {},
                }
            ]
        },
        BadRequestError,
        False,
        "body.messages: Field required",
    ),
    (
        "openai-429-rate",
        429,
        {"retry-after": "7"},
        _openai("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
        RateLimitError,
        True,
        "[rate_limit_exceeded]",
    ),
    (
        "openai-429-quota",
        429,
        {"retry-after": "7"},
        _openai(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        ),
        QuotaExceededError,
        False,
        "exceeded your current quota",
    ),
    (
        "openai-500",
        500,
        {},
        _openai(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        ServerError,
        True,
        "[server_error] The server had an error",
    ),
    (
        "anthropic-500",
        500,
        {},
        _anthropic("api_error", "Internal server error"),
        ServerError,
        True,
        "[api_error] Internal server error",
    ),
    (
        "nginx-502",
        502,
        {"Content-Type": "text/html"},
        NGINX_502,
        ServerError,
        True,
        "502 Bad Gateway (HTML error page)",
    ),
    (
        "openai-503-overloaded",
        503,
        {"Retry-After": "3"},
        _openai("The engine is currently overloaded, please try again later", "server_error", None),
        OverloadedError,
        True,
        "overloaded",
    ),
    ("503-text", 503, {}, b"Service Unavailable", ServerError, True, "Service Unavailable"),
    ("504-empty", 504, {}, b"", ServerError, True, "HTTP 504 Gateway Timeout"),
    (
        "anthropic-504-timeout",
        504,
        {},
        _anthropic("timeout_error", "Request timed out"),
        ServerError,
        True,
        "[timeout_error]",
    ),
    (
        "anthropic-529",
        529,
        {"retry-after": "11"},
        _anthropic("overloaded_error", "Overloaded"),
        OverloadedError,
        True,
        "[overloaded_error] Overloaded",
    ),
    ("529-no-body", 529, {}, None, OverloadedError, True, "HTTP 529"),
    (
        "anthropic-billing",
        400,
        {},
        _anthropic("billing_error", "Your account has a billing issue."),
        QuotaExceededError,
        False,
        "[billing_error]",
    ),
    (
        "anthropic-402-billing",
        402,
        {},
        _anthropic("billing_error", "Payment required."),
        QuotaExceededError,
        False,
        "Payment required.",
    ),
    (
        "openrouter-402",
        402,
        {},
        {
            "error": {
                "code": 402,
                "message": "Insufficient credits. Add more using https://openrouter.ai/credits",
            }
        },
        QuotaExceededError,
        False,
        "Insufficient credits",
    ),
    (
        "openrouter-429-credits",
        429,
        {},
        {"error": {"code": 429, "message": "Insufficient credits for this request"}},
        QuotaExceededError,
        False,
        "Insufficient credits",
    ),
    (
        "openrouter-400-upstream-context",
        400,
        {},
        {
            "error": {
                "code": 400,
                "message": "Provider returned error",
                "metadata": {
                    "provider_name": "Anthropic",
                    "raw": json.dumps(
                        _anthropic(
                            "invalid_request_error",
                            "prompt is too long: 210000 tokens > 200000 maximum",
                        )
                    ),
                },
            }
        },
        ContextWindowExceededError,
        False,
        "(Anthropic): prompt is too long",
    ),
    (
        "azure-400-content-filter",
        400,
        {},
        {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
                "content management policy.",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                        "hate": {"filtered": False, "severity": "safe"},
                        "violence": {"filtered": True, "severity": "medium"},
                    },
                },
            }
        },
        ContentFilterError,
        False,
        "(filtered: violence)",
    ),
    (
        "openai-400-content-policy",
        400,
        {},
        _openai(
            "Your request was rejected as a result of our safety system.",
            "invalid_request_error",
            "content_policy_violation",
        ),
        ContentFilterError,
        False,
        "safety system",
    ),
    (
        "azure-429-string-code",
        429,
        {"retry-after": "6"},
        {
            "error": {
                "code": "429",
                "message": "Requests to the ChatCompletions_Create Operation have exceeded "
                "token rate limit of your current OpenAI S0 pricing tier. "
                "Please retry after 6 seconds.",
            }
        },
        RateLimitError,
        True,
        "exceeded token rate limit",
    ),
    (
        "google-429",
        429,
        {},
        {
            "error": {
                "code": 429,
                "message": "Resource has been exhausted.",
                "status": "RESOURCE_EXHAUSTED",
            }
        },
        RateLimitError,
        True,
        "[RESOURCE_EXHAUSTED]",
    ),
    ("teapot-418", 418, {}, b"I'm a teapot", APIError, False, "I'm a teapot"),
    ("unknown-status", None, {}, b"boom", APIError, False, "boom"),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "cls", "retryable", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in DOCUMENTED],
)
def test_documented_error_bodies(
    status: int | None,
    headers: dict[str, str],
    body: Any,
    cls: type[ProviderError],
    retryable: bool,
    fragment: str,
) -> None:
    err = error_from_response(status, headers, body, provider="p", model="m")
    assert type(err) is cls, err
    assert err.error_type == cls.error_type
    assert err.retryable is retryable
    assert err.status_code == status
    assert fragment in err.message
    assert err.message.strip()
    if "retry-after" in {k.lower() for k in headers}:
        assert err.retry_after == float(
            next(v for k, v in headers.items() if k.lower() == "retry-after")
        )


def test_html_page_message_is_short() -> None:
    page = b"<!DOCTYPE html><html><head><title>example.com | 524: A timeout occurred</title>"
    page += b"<style>" + b"x" * 200_000 + b"</style></head><body>...</body></html>"
    err = error_from_response(524, {}, page)
    assert isinstance(err, ServerError)
    assert err.message == "example.com | 524: A timeout occurred (HTML error page)"
    html_without_title = b"<html><body>" + b"<p>oops</p>" * 1000 + b"</body></html>"
    assert error_from_response(502, {}, html_without_title).message == "HTML error page"


def test_ok_status_with_error_body_uses_the_body_code() -> None:
    err = error_from_response(200, {}, b'{"error":{"code":502,"message":"upstream failed"}}')
    assert isinstance(err, ServerError)
    assert err.status_code == 502


def test_sdk_inner_error_object() -> None:
    # openai's APIStatusError.body is the inner "error" object.
    inner = OPENAI_CONTEXT["error"]
    err = error_from_response(400, None, inner)
    assert isinstance(err, ContextWindowExceededError)


# -- in-stream payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "cls", "status", "fragment"),
    [
        (_anthropic("overloaded_error", "Overloaded"), OverloadedError, None, "Overloaded"),
        (_anthropic("rate_limit_error", "Slow down"), RateLimitError, None, "Slow down"),
        (_anthropic("api_error", "Internal server error"), ServerError, None, "Internal"),
        (_anthropic("invalid_request_error", "bad"), BadRequestError, None, "bad"),
        (_anthropic("billing_error", "no money"), QuotaExceededError, None, "no money"),
        # OpenRouter's documented mid-stream error chunk
        (
            {
                "id": "cmpl-abc123",
                "object": "chat.completion.chunk",
                "created": 1234567890,
                "model": "gpt-3.5-turbo",
                "provider": "openai",
                "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
            },
            ServerError,
            None,
            "Provider disconnected unexpectedly",
        ),
        ({"error": {"code": 502, "message": "Upstream error"}}, ServerError, 502, "Upstream"),
        ({"error": {"code": 429, "message": "Rate limited"}}, RateLimitError, 429, "Rate limited"),
        ({"error": {"code": 402, "message": "Out of credits"}}, QuotaExceededError, 402, "credits"),
        ({"error": {"message": "Rate limit reached, try again in 2s"}}, RateLimitError, None, "2s"),
        ({"error": {"message": "something odd happened"}}, StreamError, None, "something odd"),
        ({"error": {"message": "weird", "code": 499}}, StreamError, 499, "weird"),
        ({"error": "plain text error"}, StreamError, None, "plain text error"),
        ({"type": "error", "error": {}}, StreamError, None, "error event in stream"),
        ({}, StreamError, None, "error event in stream"),
    ],
)
def test_error_from_payload(
    payload: dict[str, Any], cls: type[ProviderError], status: int | None, fragment: str
) -> None:
    err = error_from_payload(payload, provider="p", model="m")
    assert type(err) is cls, err
    assert err.status_code == status
    assert fragment in err.message
    assert err.provider == "p"
    assert err.model == "m"


def test_error_from_payload_retry_hint() -> None:
    err = error_from_payload({"error": {"message": "Rate limit reached, try again in 2s"}})
    assert err.retry_after == 2.0


@pytest.mark.parametrize("payload", [None, [], 42, "text", b"\xff", [{"error": "x"}]])
def test_error_from_payload_never_raises(payload: Any) -> None:
    assert isinstance(error_from_payload(cast(Any, payload)), ProviderError)


# -- x-should-retry -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (500, "false", False),
        (529, "False", False),
        (400, "true", True),
        (429, "TRUE", True),
        (429, "maybe", True),
        (400, "maybe", False),
    ],
)
def test_x_should_retry_overrides(status: int, header: str, expected: bool) -> None:
    err = error_from_response(status, {"X-Should-Retry": header}, b"{}")
    assert err.retryable is expected


def test_should_retry_keeps_class() -> None:
    body = _openai("You exceeded your current quota", "insufficient_quota", "insufficient_quota")
    err = error_from_response(429, {"x-should-retry": "true"}, body)
    assert isinstance(err, QuotaExceededError)
    assert err.retryable is True


# -- retry-after ----------------------------------------------------------------------------------


def test_retry_after_seconds_and_float() -> None:
    assert parse_retry_after({"Retry-After": "20"}) == 20.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"RETRY-AFTER": " 0 "}) == 0.0


def test_retry_after_ms_comes_first() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"Retry-After-Ms": "junk", "retry-after": "9"}) == 9.0


def test_retry_after_http_date() -> None:
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    waited = parse_retry_after({"Retry-After": future})
    assert waited is not None
    assert 25 <= waited <= 31
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert parse_retry_after({"Retry-After": past}) == 0.0


@pytest.mark.parametrize(
    "value", ["", "soon", "-5", "nan", "inf", "1e999", "Fri, 99 Foo 2024", "\x00"]
)
def test_retry_after_garbage(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None


def test_retry_after_absent() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after({}) is None


def test_429_retry_after_forms_reach_the_error() -> None:
    body = _anthropic("rate_limit_error", "Number of request tokens has exceeded your rate limit")
    assert error_from_response(429, {"retry-after": "12"}, body).retry_after == 12.0
    assert error_from_response(429, {"retry-after-ms": "1500"}, body).retry_after == 1.5
    date = email.utils.formatdate(time.time() + 60, usegmt=True)
    waited = error_from_response(429, {"Retry-After": date}, body).retry_after
    assert waited is not None
    assert 55 <= waited <= 61


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("Please try again in 20s.", 20.0),
        ("Please try again in 1.338s.", 1.338),
        ("Please try again in 6ms.", 0.006),
        ("Please try again in 1m12.5s.", 72.5),
        ("Please retry after 6 seconds.", 6.0),
        ("Please try again later.", None),
    ],
)
def test_rate_limit_retry_hint_in_message(message: str, seconds: float | None) -> None:
    err = error_from_response(429, {}, _openai(message, "requests", "rate_limit_exceeded"))
    assert (
        err.retry_after == pytest.approx(seconds)
        if seconds is not None
        else err.retry_after is None
    )


def test_header_beats_message_hint_and_hint_only_for_rate_limits() -> None:
    body = _openai("Please try again in 20s.", "requests", "rate_limit_exceeded")
    assert error_from_response(429, {"retry-after": "3"}, body).retry_after == 3.0
    quota = _openai(
        "Quota gone. Please try again in 20s.", "insufficient_quota", "insufficient_quota"
    )
    assert error_from_response(429, {}, quota).retry_after is None


def test_retry_after_kept_on_server_errors() -> None:
    assert error_from_response(503, {"Retry-After": "4"}, b"").retry_after == 4.0
    assert error_from_response(529, {"retry-after": "5"}, b"").retry_after == 5.0


# -- Google: google.rpc details (ErrorInfo, RetryInfo, QuotaFailure) ------------------------------


def _gemini_429(
    *violations: dict[str, Any], retry_delay: Any = "26s", message: str | None = None
) -> dict[str, Any]:
    """A Gemini 429 body shaped like gemini-error-429-resource-exhausted.json."""
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": list(violations)},
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Learn more", "url": "https://ai.google.dev/"}],
        },
    ]
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        )
    return {
        "error": {
            "code": 429,
            "message": message
            or "You exceeded your current quota, please check your plan and billing details.",
            "status": "RESOURCE_EXHAUSTED",
            "details": details,
        }
    }


PER_MINUTE = {
    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
    "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
    "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
    "quotaValue": "250000",
}
PER_DAY = {
    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
    "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
    "quotaValue": "250",
}


@pytest.mark.parametrize(
    ("delay", "seconds"),
    [
        ("26s", 26.0),
        ("1.5s", 1.5),
        ("0.000000001s", 1e-9),
        ("0s", 0.0),
        (" 7s ", 7.0),
        ("315576000000s", 315576000000.0),  # the largest Duration: kept, the policy caps it
        ("-1s", None),  # negative
        ("-0.5s", None),
        ("26", None),  # no unit: not a Duration
        ("26ms", None),  # not the Duration format (and not 26 s)
        ("1m", None),
        ("1e3s", None),
        ("infs", None),
        ("nans", None),
        ("9" * 13 + "s", None),  # beyond any Duration
        ("9" * 400 + "s", None),  # would be inf as a float
        ("1.1234567891s", None),  # more than nanosecond precision
        ("soon", None),
        ("", None),
        (26, None),  # the JSON mapping is always a string
        (None, None),
        ({"seconds": 26}, None),
    ],
)
def test_google_retry_delay(delay: Any, seconds: float | None) -> None:
    err = error_from_response(429, {}, _gemini_429(PER_MINUTE, retry_delay=delay))
    assert type(err) is RateLimitError
    assert err.retryable is True
    if seconds is None:
        assert err.retry_after is None
    else:
        assert err.retry_after == pytest.approx(seconds)


def test_google_huge_retry_delay_is_capped_by_the_policy_like_a_header() -> None:
    from jackfield.retry import RetryPolicy

    policy = RetryPolicy()
    body = _gemini_429(PER_MINUTE, retry_delay="86400s")
    from_body = error_from_response(429, {}, body)
    from_header = error_from_response(429, {"retry-after": "86400"}, _gemini_429(PER_MINUTE))
    assert from_body.retry_after == from_header.retry_after == 86400.0
    assert policy.wait_for(from_body, 1) == policy.wait_for(from_header, 1) == 60.0


def test_google_retry_delay_order() -> None:
    # The headers first, then RetryInfo, then a hint in the message.
    body = _gemini_429(PER_MINUTE, retry_delay="7s", message="Quota exceeded. Please retry in 5s.")
    assert error_from_response(429, {"retry-after": "3"}, body).retry_after == 3.0
    assert error_from_response(429, {}, body).retry_after == 7.0
    garbage = _gemini_429(PER_MINUTE, retry_delay="soon", message="Please retry in 5.5s.")
    assert error_from_response(429, {}, garbage).retry_after == 5.5


def test_google_per_day_quota_is_quota_exceeded() -> None:
    # Same status, status text and message as the per-minute fixture: only the
    # QuotaFailure tells a spent daily quota (waiting a minute will not help) from a rate.
    err = error_from_response(429, {}, _gemini_429(PER_DAY, retry_delay="40s"))
    assert type(err) is QuotaExceededError
    assert err.retryable is False
    assert err.status_code == 429
    assert err.message.startswith("[RESOURCE_EXHAUSTED] You exceeded your current quota")
    assert err.retry_after == 40.0  # the server's structured hint is kept, like a header
    # A per-day violation beside a per-minute one: still spent until tomorrow.
    both = error_from_response(429, {}, _gemini_429(PER_MINUTE, PER_DAY))
    assert type(both) is QuotaExceededError
    # The standard QuotaFailure fields (subject, description) are read too.
    daily = {"subject": "project:123", "description": "Daily Limit Exceeded"}
    assert type(error_from_response(429, {}, _gemini_429(daily))) is QuotaExceededError
    # Google Cloud's form: ErrorInfo RATE_LIMIT_EXCEEDED whose metadata names the limit.
    cloud = _google(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded.",
        dict(
            _error_info("RATE_LIMIT_EXCEEDED"),
            metadata={"quota_limit": "GenerateRequestsPerDayPerProject", "quota_limit_value": "9"},
        ),
    )
    assert type(error_from_response(429, {}, cloud)) is QuotaExceededError
    cloud["error"]["details"][0]["metadata"]["quota_limit"] = "RequestsPerMinutePerProject"
    assert type(error_from_response(429, {}, cloud)) is RateLimitError
    # As bytes, and inside a stream, the same.
    raw = json.dumps(_gemini_429(PER_DAY)).encode()
    assert type(error_from_response(429, {}, raw)) is QuotaExceededError
    in_stream = error_from_payload(_gemini_429(PER_DAY, retry_delay="40s"))
    assert type(in_stream) is QuotaExceededError
    assert in_stream.retry_after == 40.0


def test_google_zero_limit_is_quota_exceeded() -> None:
    # "limit: 0": the model has no quota on this tier, whatever the window.
    no_tier = dict(PER_MINUTE, quotaValue="0")
    assert type(error_from_response(429, {}, _gemini_429(no_tier))) is QuotaExceededError


def test_google_per_minute_quota_is_a_rate_limit() -> None:
    err = error_from_response(429, {}, _gemini_429(PER_MINUTE))
    assert type(err) is RateLimitError
    assert err.retry_after == 26.0
    in_stream = error_from_payload(_gemini_429(PER_MINUTE, retry_delay="2.5s"))
    assert type(in_stream) is RateLimitError
    assert in_stream.status_code == 429
    assert in_stream.retry_after == 2.5
    # Without a QuotaFailure, RESOURCE_EXHAUSTED is a rate limit as before.
    bare = {
        "error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}
    }
    assert type(error_from_response(429, {}, bare)) is RateLimitError


def _google(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def _error_info(reason: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }


def test_google_error_info_reason() -> None:
    key = _google(400, "INVALID_ARGUMENT", "API key not valid.", _error_info("API_KEY_INVALID"))
    err = error_from_response(400, {}, key)
    assert type(err) is AuthenticationError
    assert err.retryable is False
    assert err.message == "[API_KEY_INVALID] API key not valid."
    assert type(error_from_payload(key)) is AuthenticationError
    billing = _google(
        403, "PERMISSION_DENIED", "Billing is disabled.", _error_info("BILLING_DISABLED")
    )
    assert type(error_from_response(403, {}, billing)) is QuotaExceededError
    # An INVALID_ARGUMENT without a known reason stays a bad request.
    other = _google(400, "INVALID_ARGUMENT", "Bad field.", _error_info("SOMETHING_ELSE"))
    assert type(error_from_response(400, {}, other)) is BadRequestError
    # Malformed details are ignored, never fatal.
    odd = {"error": {"code": 400, "message": "x", "details": [1, None, {"@type": 5}, {}]}}
    assert type(error_from_response(400, {}, odd)) is BadRequestError


def test_google_unavailable() -> None:
    high = _google(503, "UNAVAILABLE", "This model is currently experiencing high demand.")
    old = _google(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    plain = _google(503, "UNAVAILABLE", "The service is currently unavailable.")
    assert type(error_from_response(503, {}, high)) is OverloadedError
    assert type(error_from_response(503, {}, old)) is OverloadedError
    assert type(error_from_response(503, {}, plain)) is ServerError
    assert all(error_from_response(503, {}, b).retryable for b in (high, old, plain))
    # "high demand" is not an outage on a 4xx.
    assert type(error_from_response(400, {}, _google(400, "X", "high demand"))) is BadRequestError
    with_delay = _google(
        503,
        "UNAVAILABLE",
        "The service is currently unavailable.",
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "4s"},
    )
    assert error_from_response(503, {}, with_delay).retry_after == 4.0


# -- headers: case-insensitive, any mapping -------------------------------------------------------


def test_headers_any_case() -> None:
    headers = {"X-Request-ID": "req-1", "RETRY-AFTER": "2", "X-Should-Retry": "false"}
    err = error_from_response(500, headers, b"")
    assert err.request_id == "req-1"
    assert err.retry_after == 2.0
    assert err.retryable is False


def test_headers_cimultidict() -> None:
    multidict = pytest.importorskip("multidict")
    raw = multidict.CIMultiDict([("Request-Id", "req_x"), ("Retry-After", "3")])
    headers = multidict.CIMultiDictProxy(raw)
    err = error_from_response(529, headers, b"")
    assert err.request_id == "req_x"
    assert err.retry_after == 3.0


def test_headers_httpx() -> None:
    httpx = pytest.importorskip("httpx")
    headers = httpx.Headers({"apim-request-id": "azure-1", "retry-after-ms": "10"})
    err = error_from_response(429, headers, b"")
    assert err.request_id == "azure-1"
    assert err.retry_after == 0.01


def test_headers_list_of_pairs_and_bytes() -> None:
    pairs = [(b"x-request-id", b"bytes-id"), ("Retry-After", "1")]
    err = error_from_response(500, cast(Any, pairs), b"")
    assert err.request_id == "bytes-id"
    assert err.retry_after == 1.0


# -- request id -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["x-request-id", "request-id", "apim-request-id", "x-amzn-requestid", "X-Amzn-RequestId"],
)
def test_request_id_from_each_header(header: str) -> None:
    assert request_id_from({header: "rid-123"}, None) == "rid-123"
    assert error_from_response(500, {header: "rid-123"}, b"").request_id == "rid-123"


def test_request_id_header_order() -> None:
    headers = {"request-id": "second", "x-request-id": "first", "apim-request-id": "third"}
    assert request_id_from(headers, None) == "first"


def test_request_id_from_body() -> None:
    body = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": "req_body",
    }
    assert request_id_from({}, body) == "req_body"
    assert request_id_from(None, json.dumps(body)) == "req_body"
    assert request_id_from(None, json.dumps(body).encode()) == "req_body"
    assert request_id_from({"request-id": "req_header"}, body) == "req_header"
    assert request_id_from(None, b"not json") is None
    assert request_id_from(None, None) is None


def test_request_id_in_body_fixture() -> None:
    record = json.loads(
        (_wire_dir() / "anthropic-error-529-overloaded-request-id-in-body.json").read_text()
    )
    assert request_id_from(record["headers"], record["body_raw"]) == "req_011CZAau32QzxDkriovTaFCB"


# -- secrets, pickling ----------------------------------------------------------------------------

KEY = "sk-test-1234567890abcdef"


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": f"Incorrect API key provided: {KEY}.", "code": "invalid_api_key"}},
        json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}."}}),
        f"bad key {KEY}".encode(),
        # the key straddles the point where the error truncates its body
        ("x" * 1990 + KEY + "y" * 100).encode(),
    ],
)
def test_secret_never_leaks(body: Any) -> None:
    err = error_from_response(401, {"x-request-id": "r"}, body, provider="openai", secrets=[KEY])
    for text in (str(err), repr(err), err.message, err.body or "", json.dumps(err.to_dict())):
        assert KEY not in text
        assert KEY[:12] not in text
    restored = pickle.loads(pickle.dumps(err))
    assert KEY not in str(restored)


def test_custom_secret_is_redacted() -> None:
    secret = "custom-secret-value-42"
    body = {"error": {"message": f"token {secret} rejected"}}
    err = error_from_response(403, {}, body, secrets=[secret])
    assert secret not in err.message
    assert secret not in (err.body or "")
    payload_err = error_from_payload(body, secrets=[secret])
    assert secret not in payload_err.message
    assert secret not in (payload_err.body or "")


def test_pickle_round_trip_keeps_every_attribute() -> None:
    err = error_from_response(
        429,
        {"retry-after": "7", "x-request-id": "req-9", "x-should-retry": "false"},
        _anthropic("rate_limit_error", "slow down"),
        provider="anthropic",
        model="claude-x",
    )
    err.attempts = 3
    restored = pickle.loads(pickle.dumps(err))
    assert type(restored) is RateLimitError
    assert restored.__dict__ == err.__dict__
    assert str(restored) == str(err)
    assert restored.args == err.args
    for attr in (
        "message",
        "provider",
        "model",
        "status_code",
        "retry_after",
        "request_id",
        "body",
        "retryable",
        "attempts",
        "error_type",
    ):
        assert getattr(restored, attr) == getattr(err, attr), attr
    assert restored.retryable is False
    assert restored.retry_after == 7.0


# -- robustness -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\xff\xfe\xfd" * 100,
        b"",
        "",
        "   ",
        "[1, 2, 3]",
        "42",
        "null",
        '"just a string"',
        "{not json",
        '{"error": {"message": 5, "type": ["x"], "code": {"a": 1}}}',
        '{"error": null}',
        '{"detail": {"message": "nested"}}',
        "[" * 100_000 + "]" * 100_000,
        {"error": {"innererror": "x", "metadata": "y"}},
        {1: 2},
        'data: {"error": {"message": "sse body"}}\n\n',
    ],
)
def test_never_raises_on_odd_bodies(body: Any) -> None:
    err = error_from_response(500, {}, body)
    assert isinstance(err, ServerError)
    assert err.message.strip()
    assert len(err.message) <= 1010


def test_binary_body_falls_back_to_status_text() -> None:
    err = error_from_response(502, {}, b"\x00\xff\xfe\xfd" * 100)
    assert err.message == "HTTP 502 Bad Gateway"


def test_huge_bodies_are_cheap() -> None:
    # only the first 64 KiB is read: the type (first) is found, the message is cut
    huge_json = b'{"error": {"type": "overloaded_error", "message": "' + b"a" * 10_000_000 + b'"}}'
    huge_text = b"word " * 2_000_000
    started = time.perf_counter()
    err = error_from_response(503, {}, huge_json)
    err2 = error_from_response(500, {}, huge_text)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert isinstance(err, OverloadedError)  # type picked out of the cut JSON
    assert len(err.message) <= 1010
    assert err.body is not None
    assert len(err.body) < 2100
    assert len(err2.message) <= 1010


def test_message_never_empty() -> None:
    assert error_from_response(502, {}, None).message == "HTTP 502 Bad Gateway"
    assert error_from_response(None, None, None).message == "provider returned an error"
    assert error_from_response(418, {}, b"   ").message.startswith("HTTP 418")


def test_module_imports_no_http_client_or_sdk() -> None:
    code = (
        "import sys, jackfield.wire._errors\n"
        "bad = [m for m in ('aiohttp', 'openai', 'anthropic', 'httpx') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=25,
)
_error_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["error", "overloaded_error", "rate_limit_error"])
        | st.text(max_size=10),
        "request_id": st.text(max_size=10) | st.integers(),
        "error": st.fixed_dictionaries(
            {},
            optional={
                "message": st.text(max_size=50) | _json,
                "type": st.text(max_size=20) | _json,
                "code": st.integers() | st.text(max_size=20) | _json,
                "status_code": st.integers() | st.text(max_size=4),
                "innererror": _json,
                "metadata": _json,
            },
        )
        | _json,
        "detail": _json,
        "message": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.none() | st.integers(min_value=100, max_value=599),
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=6)
    | st.dictionaries(
        st.sampled_from(["Retry-After", "retry-after-ms", "X-Should-Retry", "x-request-id"]),
        st.text(max_size=40),
    ),
    body=st.none()
    | st.binary(max_size=300)
    | st.text(max_size=300)
    | _json
    | _error_like
    | _error_like.map(json.dumps)
    | _error_like.map(lambda d: json.dumps(d).encode()),
)
def test_property_always_a_provider_error(
    status: int | None, headers: dict[str, str], body: Any
) -> None:
    err = error_from_response(status, headers, body, provider="p", model="m", secrets=["secret-1"])
    assert isinstance(err, ProviderError)
    assert err.message
    assert err.status_code is None or isinstance(err.status_code, int)
    assert err.retry_after is None or err.retry_after >= 0
    str(err)
    repr(err)
    pickle.loads(pickle.dumps(err))
    if isinstance(body, dict):
        assert isinstance(error_from_payload(body), ProviderError)


def test_request_id_from_case_insensitive_and_plain_headers() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    from jackfield.wire._errors import request_id_from

    assert request_id_from(CIMultiDictProxy(CIMultiDict({"X-Amzn-RequestId": "a1"}))) == "a1"
    assert request_id_from({"X-Request-ID": "r1"}) == "r1"  # a dict: any spelling
    assert request_id_from([("Request-Id", "r2")]) == "r2"  # pairs too
    assert request_id_from(CIMultiDictProxy(CIMultiDict({"Date": "x"}))) is None
    assert request_id_from({}, {"request_id": "req_9"}) == "req_9"
