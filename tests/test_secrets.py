"""The API key appears nowhere: one canary key, run through every path jackfield has.

Two canaries: ``sk-canary-...`` has the shape of a real key (so the pattern-based
redaction would catch it even if jackfield forgot which key it holds), and a plain token
that no pattern recognises (only redacting the provider's own key catches it). Each is
given to every HTTP-speaking provider, and must never show in:

* the config's and the provider's ``repr``/``str``, the registry's ``cache_keys()``;
* any error: ``str``, ``repr``, ``args``, ``body``, ``to_dict()``, its pickle, and its
  formatted traceback with the whole ``__cause__`` chain -- including errors built from
  server bodies that echo the key (a 401 saying "Incorrect API key provided: <key>", an
  in-stream error, a text body);
* what observer hooks receive (``repr`` of every argument, on success, retries and
  failures), what a raw log receives (headers are redacted), the response cache's keys and
  entries (memory, and the SQLite file's bytes);
* the CLI's output for a profile holding the key whose calls fail auth;
* log records at DEBUG (jackfield, aiohttp, the SDKs, the root logger), warnings,
  stdout and stderr.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import pickle
import traceback
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_reliability_loops import ServerThread
from test_reliability_providers import AVAILABLE, KEY, Spec, provider_params

from jackfield import hookimpl
from jackfield.cli import main as cli_main
from jackfield.config import ProviderConfig
from jackfield.errors import ALL_PROVIDER_ERRORS, ProviderError
from jackfield.registry import Registry
from jackfield.retry import RetryPolicy
from jackfield.testing._fake_server import (
    ErrorReply,
    FakeLLMServer,
    InStreamError,
    RecordedRequest,
    Reply,
    ScriptItem,
)

PLAIN = "pbcanary7f3a9c2e1b4d8f6aZQ"
"""A key no redaction pattern recognises: only knowing the key can hide it."""
CANARIES = [pytest.param(KEY, id="sk-shaped"), pytest.param(PLAIN, id="plain")]


class Exposure:
    """Everything that could carry the key, gathered as text."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, value: Any) -> None:
        text = value if isinstance(value, str) else repr(value)
        self.texts.append((where, text))
        if isinstance(value, bytes):
            self.texts.append((where, value.decode("latin-1")))

    def error(self, where: str, err: BaseException) -> None:
        """Every view of an error, its pickle and its traceback with the cause chain."""
        self.add(f"{where}: str", str(err))
        self.add(f"{where}: repr", repr(err))
        self.add(f"{where}: args", err.args)
        self.add(f"{where}: traceback", "".join(traceback.format_exception(err)))
        if isinstance(err, ProviderError):
            self.add(f"{where}: body", err.body)
            self.add(f"{where}: message", err.message)
            self.add(f"{where}: to_dict", json.dumps(err.to_dict()))
            self.add(f"{where}: pickle", pickle.dumps(err))
            self.add(f"{where}: unpickled", vars(pickle.loads(pickle.dumps(err))))

    def leaks(self) -> list[str]:
        """Where the key showed, with the text around it."""
        out = []
        for where, text in self.texts:
            at = text.find(self.key)
            if at >= 0:
                out.append(f"{where}: ...{text[max(0, at - 150) : at + 60]!r}")
        return out


# -- observers and raw logs ----------------------------------------------------------------


class Observer:
    """Records ``repr`` (and ``str``) of every argument of every observer hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def _record(self, hook: str, **kwargs: Any) -> None:
        self.calls.append((hook, {k: f"{v!r} {v}" for k, v in kwargs.items()}))
        error = kwargs.get("error")
        if error is not None:
            self.calls.append((hook, {"error.vars": repr(vars(error))}))

    @hookimpl
    def jackfield_request_started(self, provider: Any, request: Any, attempt: int) -> None:
        self._record("request_started", provider=provider, request=request, attempt=attempt)

    @hookimpl
    def jackfield_response_received(
        self, provider: Any, request: Any, response: Any, duration: float
    ) -> None:
        self._record("response_received", provider=provider, request=request, response=response)

    @hookimpl
    def jackfield_request_failed(
        self, provider: Any, request: Any, error: Any, duration: float
    ) -> None:
        self._record("request_failed", provider=provider, request=request, error=error)

    @hookimpl
    def jackfield_retrying(
        self, provider: Any, request: Any, error: Any, attempt: int, wait: float
    ) -> None:
        self._record("retrying", provider=provider, request=request, error=error, wait=wait)


class RawRecorder:
    """A raw log: keeps ``repr`` of everything it is given."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def on_request(self, provider: str, method: str, url: str, headers: Any, body: Any) -> None:
        self.entries.append(repr((provider, method, url, dict(headers), body)))

    def on_response(self, provider: str, status: int, headers: Any, body: Any) -> None:
        self.entries.append(repr((provider, status, dict(headers), body)))

    def on_chunk(self, provider: str, data: str) -> None:
        self.entries.append(repr((provider, data)))


# -- server answers that echo the key ------------------------------------------------------


def _echo_401(spec: Spec, key: str) -> ErrorReply:
    message = f"Incorrect API key provided: {key}. Authorization: Bearer {key}"
    if spec.wire == "anthropic":
        body: Any = {"type": "error", "error": {"type": "authentication_error", "message": message}}
    elif spec.wire == "proxy":
        body = {"error": {"error_type": "authentication", "message": message, "api_key": key}}
    elif spec.wire == "gemini":
        body = {"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED"}}
    else:
        body = {"error": {"message": message, "type": "invalid_request_error", "key": key}}
    # A header echo too where jackfield reads response headers itself (its raw log). The
    # SDKs' own DEBUG loggers print response headers as the server sent them; see
    # docs/reliability.md.
    return ErrorReply(401, body, {} if spec.sdk else {"x-echo": key})


def _echo_in_stream(spec: Spec, key: str) -> InStreamError:
    payload: dict[str, Any] = {"message": f"key {key} is over quota", "type": "server_error"}
    if spec.wire == "proxy":
        payload = {"error_type": "server", "message": f"key {key} failed", "retryable": False}
    elif spec.wire == "anthropic":
        payload = {"type": "api_error", "message": f"key {key} failed"}
    elif spec.wire == "gemini":
        payload = {"code": 500, "message": f"key {key} failed", "status": "INTERNAL"}
    after = 6 if spec.wire == "responses" else 4  # past the first text delta
    return InStreamError(payload, after_events=after, reply=Reply("some text that streams"))


def _script(spec: Spec, key: str) -> list[ScriptItem]:
    """One answer per call of :func:`_exercise`, in order."""
    return [
        Reply("fine"),  # generate
        Reply("fine, streamed"),  # stream
        spec.rate_limited("0"),  # generate: retried ...
        Reply("after a retry"),  # ... then fine
        _echo_401(spec, key),  # generate: auth fails, the body echoes the key
        _echo_401(spec, key),  # stream: the same before the first event
        _echo_in_stream(spec, key),  # stream: an in-stream error echoing the key
        ErrorReply(500, f"internal error for {key}"),  # generate: text body ...
        ErrorReply(500, f"internal error for {key}"),  # ... retried, fails again
        Reply("cached answer"),  # generate with the response cache (memory)
        Reply("cached stream"),  # stream with the response cache (sqlite)
    ]


async def _exercise(provider: Any, seen: Exposure, tmp_path: Path) -> None:
    """Calls that take every path: success, retry, failures, caches."""

    async def attempt(where: str, call: Any) -> None:
        try:
            result = await call()
            seen.add(f"{where}: result", result)
        except ProviderError as exc:
            seen.error(where, exc)

    await attempt("generate", lambda: provider.generate("hi"))
    await attempt("stream", lambda: provider.stream("hi").collect())
    await attempt("retry", lambda: provider.generate("hi"))
    await attempt("401 generate", lambda: provider.generate("hi"))
    await attempt("401 stream", lambda: provider.stream("hi").collect())

    async def partial_stream() -> list[Any]:
        events = []
        async for event in provider.stream("hi"):
            events.append(event)
        return events

    await attempt("in-stream error", partial_stream)
    await attempt("500 text", lambda: provider.generate("hi"))
    await attempt("memory cache", lambda: provider.generate("cache me", cache=True))
    # The SQLite cache: a provider configured with it, sharing the first one's key.
    db = tmp_path / "cache.db"
    cached = type(provider)(attrs.evolve(provider.config, cache=f"sqlite:{db}"))
    await attempt("sqlite cache", lambda: cached.stream("cache me too").collect())
    await attempt("sqlite cache hit", lambda: cached.stream("cache me too").collect())
    cache = cached.response_cache
    assert cache is not None
    backend = cache.backend
    seen.add("sqlite cache repr", repr(cache))
    seen.add("sqlite info", await cache.info())
    await cache.close()
    await cached.aclose()
    files = _files(tmp_path, "cache.db*")
    assert files and b"cached stream" in b"".join(data for _, data in files)
    for name, data in files:
        seen.add(f"sqlite file {name}", data)
    seen.add("sqlite backend", repr(backend))
    memory = provider._response_cache(True)
    entries = list(getattr(memory.backend, "_data", {}).items())
    assert entries, "the memory cache stored nothing"
    seen.add("memory cache entries", entries)
    seen.add("memory info", await memory.info())


def _files(directory: Path, pattern: str) -> list[tuple[str, bytes]]:
    """The bytes of the files matching ``pattern`` (the SQLite file, its WAL, ...)."""
    return [(file.name, file.read_bytes()) for file in sorted(directory.glob(pattern))]


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at DEBUG: jackfield, aiohttp, asyncio, the SDKs, the root logger."""
    caplog.set_level(logging.DEBUG)
    for name in (
        *("jackfield", "aiohttp", "asyncio", "openai", "anthropic", "google_genai"),
        *("httpx", "httpcore", "httpx2", "httpcore2"),
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _logs(seen: Exposure, caplog: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        seen.add(f"log {record.name}", formatter.format(record))
        seen.add(f"log {record.name} args", record.args)
    seen.add("log text", caplog.text)


@pytest.mark.parametrize("key", CANARIES)
@pytest.mark.parametrize("spec", provider_params())
async def test_the_key_appears_nowhere(
    spec: Spec,
    key: str,
    tmp_path: Path,
    all_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen = Exposure(key)
    observer = Observer()
    registry = Registry(entry_points=False, plugins=(), strict=False)
    registry.register_provider(spec.provider_class())
    registry.register_plugin(observer, name="observer")

    async def no_wait(seconds: float) -> None:
        pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with FakeLLMServer() as server:
            for item in _script(spec, key):
                server.enqueue(item)
            options = {**spec.options(server), "api_key": key}
            provider = registry.create_provider(spec.provider_name, options)
            provider.retry_policy = RetryPolicy(max_retries=1, sleep=no_wait)
            raw = RawRecorder()
            if hasattr(provider, "raw_log"):
                provider.raw_log = raw
            try:
                await _exercise(provider, seen, tmp_path)
            finally:
                await provider.aclose()
            assert server.pending == 0, "the script was not played to its end"
            # The key did go on the wire (where it belongs) for keyed providers.
            if provider.auth_method != "none":
                assert any(key in json.dumps(r.headers) for r in server.requests)

        seen.add("config repr", repr(provider.config))
        seen.add("config str", str(provider.config))
        seen.add("config asdict", attrs.asdict(provider.config))
        seen.add("config fingerprint", provider.config.fingerprint())
        seen.add("provider repr", repr(provider))
        seen.add("provider str", str(provider))
        seen.add("registry cache keys", registry.cache_keys())
        for i, call in enumerate(observer.calls):
            seen.add(f"hook call #{i}", call)
        for i, entry in enumerate(raw.entries):
            seen.add(f"raw log #{i}", entry)
        seen.add("warnings", [str(w.message) for w in caught])
        _logs(seen, all_logs)
        captured = capsys.readouterr()
        seen.add("stdout", captured.out)
        seen.add("stderr", captured.err)

    hooks = {name for name, _ in observer.calls}
    assert hooks == {"request_started", "response_received", "request_failed", "retrying"}
    if hasattr(provider, "raw_log"):
        assert raw.entries, "the raw log saw nothing"
    assert not (leaks := seen.leaks()), "the key leaked:\n" + "\n".join(leaks)


# -- error classes directly ----------------------------------------------------------------


@pytest.mark.parametrize("key", CANARIES)
@pytest.mark.parametrize("cls", ALL_PROVIDER_ERRORS, ids=lambda c: c.__name__)
def test_every_error_class_hides_the_key_it_is_given(cls: type[ProviderError], key: str) -> None:
    seen = Exposure(key)
    bodies: list[Any] = [
        {"error": {"message": f"bad key {key}", "api_key": key}},
        f"bad key {key} (Authorization: Bearer {key})",
        f'{{"api_key": "{key}"}}'.encode(),
        [key, {"nested": {"deeper": key}}],
        "x" * 1990 + key,  # where truncation would cut through the key
    ]
    for i, body in enumerate(bodies):
        err = cls(f"failed with {key}", provider="p", body=body, secrets=[key])
        seen.error(f"{cls.__name__} #{i}", err)
        try:
            raise cls("wrapper", secrets=[key]) from err
        except ProviderError as wrapped:
            seen.error(f"{cls.__name__} #{i} wrapped", wrapped)
    assert not (leaks := seen.leaks()), "the key leaked:\n" + "\n".join(leaks)


@pytest.mark.parametrize("key", CANARIES)
def test_config_and_registry_keys_hide_the_key(
    key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("JACKFIELD_CONFIG", raising=False)
    monkeypatch.setenv("CANARY_KEY_ENV", key)
    seen = Exposure(key)
    cfg = ProviderConfig(api_key=key, base_url="http://127.0.0.1:1/v1")
    seen.add("repr", cfg)
    seen.add("str", str(cfg))
    seen.add("format", f"{cfg} {cfg.api_key} {cfg.api_key!s} {cfg.api_key:>40}")
    seen.add("evolve", cfg.evolve(model="m"))
    with pytest.raises(TypeError):
        pickle.dumps(cfg)  # a Secret refuses to be pickled
    registry = Registry(entry_points=False, plugins=(), strict=False)
    for spec in AVAILABLE:
        registry.register_provider(spec.provider_class())
    where = {"base_url": "http://127.0.0.1:1/v1", "model": "m"}
    for spec in AVAILABLE:
        registry.create_provider(spec.provider_name, where, api_key=key)
        registry.create_provider(spec.provider_name, where, api_key_env="CANARY_KEY_ENV")
        registry.create_provider(spec.provider_name, where, api_key=key, temperature=0.5)
    assert len(registry.cache_keys()) == 3 * len({s.provider_name for s in AVAILABLE})
    seen.add("cache keys", registry.cache_keys())
    assert not (leaks := seen.leaks()), "the key leaked:\n" + "\n".join(leaks)


# -- the CLI -------------------------------------------------------------------------------


def _toml(value: Any) -> str:
    return json.dumps(value)  # a JSON string or number is a TOML one


def _canary_profiles(
    server: Any, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config file (in $JACKFIELD_CONFIG) with a profile ``canary-NAME`` per provider,
    pointed at ``server`` with the canary ``key``."""
    lines = []
    for spec in AVAILABLE:
        options = {**spec.options(server), "api_key": key, "max_retries": 0}
        lines.append(f"[profiles.canary-{spec.name}]")
        lines.append(f"provider = {_toml(spec.provider_name)}")
        lines += [f"{k} = {_toml(v)}" for k, v in options.items()]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("JACKFIELD_CONFIG", str(config))


@pytest.mark.usefixtures("global_registry")
@pytest.mark.filterwarnings("ignore:jackfield.tokens:RuntimeWarning")  # offline tiktoken
@pytest.mark.parametrize("key", CANARIES)
def test_cli_output_never_shows_the_key(
    key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    seen = Exposure(key)
    monkeypatch.setenv("JACKFIELD_TOKENS_OFFLINE", "1")  # `tokens`: no vocabulary download
    with ServerThread() as server:
        _canary_profiles(server, key, tmp_path, monkeypatch)

        echoes: dict[str, Spec] = {}

        def answer(rec: RecordedRequest) -> ScriptItem:
            spec = echoes.get(rec.endpoint) or AVAILABLE[0]
            return _echo_401(spec, key)

        server.handler = answer
        for spec in AVAILABLE:
            name = f"canary-{spec.name}"
            endpoint = "azure" if spec.name == "azure" else spec.wire
            echoes[endpoint] = spec
            for argv in (
                ["prompt", "hi", "-p", name],
                ["prompt", "hi", "-p", name, "--no-stream"],
                ["prompt", "hi", "-p", name, "--json"],
                ["tiers", name],
                ["tokens", "hello", "-p", name],
            ):
                out, err = io.StringIO(), io.StringIO()
                code = cli_main(argv, out=out, err=err)
                seen.add(f"{argv}: stdout", out.getvalue())
                seen.add(f"{argv}: stderr", err.getvalue())
                if argv[0] == "prompt":  # every prompt failed auth, and said so
                    assert code == 1, (argv, out.getvalue(), err.getvalue())
                    assert "AuthenticationError" in err.getvalue(), err.getvalue()
        # and a wrong-key 401 that does not echo it, the way real services answer
        server.handler = None
        server.api_key = server.proxy_token = "the-right-key-is-another-one"
        for spec in AVAILABLE:
            out, err = io.StringIO(), io.StringIO()
            code = cli_main(["prompt", "hi", "-p", f"canary-{spec.name}"], out=out, err=err)
            seen.add(f"{spec.name} wrong key: stderr", err.getvalue())
            assert code == 1 and "AuthenticationError" in err.getvalue(), err.getvalue()
    for argv in (["providers", "--json"], ["plugins", "--json"], ["providers"], ["plugins"]):
        out, err = io.StringIO(), io.StringIO()
        cli_main(argv, out=out, err=err)
        seen.add(f"{argv}", out.getvalue() + err.getvalue())
    _logs(seen, all_logs)
    assert not (leaks := seen.leaks()), "the key leaked:\n" + "\n".join(leaks)


# -- the key echoed back as a request id --------------------------------------------------


def _echo_as_request_id(spec: Spec, key: str) -> ErrorReply:
    """A 400 whose request-id headers, body ``request_id`` and nested
    ``error.request_id`` (the proxy's) are all the key."""
    if spec.wire == "anthropic":
        body: Any = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "bad request"},
            "request_id": key,
        }
    elif spec.wire == "proxy":
        body = {"error": {"error_type": "invalid_request", "message": "bad", "request_id": key}}
    else:
        body = {"error": {"message": "bad request", "type": "invalid_request_error"}}
        body["request_id"] = body["error"]["request_id"] = key
    return ErrorReply(400, body, {"x-request-id": key, "request-id": key})


def _response_views(seen: Exposure, where: str, result: Any) -> None:
    """A response's repr, ``to_dict``, pickle; for a list of events, each event's."""
    items = result if isinstance(result, list) else [result]
    for i, item in enumerate(items):
        response = getattr(item, "response", item)  # a StreamEnd carries one
        seen.add(f"{where} #{i}", item)
        if hasattr(response, "to_dict"):
            seen.add(f"{where} #{i}: to_dict", json.dumps(response.to_dict()))
            seen.add(f"{where} #{i}: pickle", pickle.dumps(response))
        if getattr(item, "request_id", None) is not None:
            seen.add(f"{where} #{i}: request_id", item.request_id)


@pytest.mark.parametrize("key", CANARIES)
@pytest.mark.parametrize("spec", provider_params())
async def test_a_key_echoed_as_request_id_appears_nowhere(
    spec: Spec, key: str, tmp_path: Path
) -> None:
    """Request-id headers, a body's ``request_id`` and the proxy's ``error.request_id``
    holding the key, on success and on error: redacted in responses, stream events,
    errors, hook payloads and cache entries. (Logs are checked by
    ``test_the_key_appears_nowhere``; the SDKs' own DEBUG loggers print response headers
    as sent, see docs/reliability.md.)"""
    seen = Exposure(key)
    observer = Observer()
    registry = Registry(entry_points=False, plugins=(), strict=False)
    registry.register_provider(spec.provider_class())
    registry.register_plugin(observer, name="observer")
    script: list[ScriptItem] = [
        Reply("echoed id", request_id=key),  # generate
        Reply("echoed id, streamed", request_id=key),  # stream
        _echo_as_request_id(spec, key),  # generate fails
        _echo_as_request_id(spec, key),  # stream fails before its first event
        Reply("to the memory cache", request_id=key),
        Reply("to the sqlite cache", request_id=key),
    ]
    async with FakeLLMServer() as server:
        for item in script:
            server.enqueue(item)
        provider = registry.create_provider(
            spec.provider_name, {**spec.options(server), "api_key": key}
        )
        provider.retry_policy = RetryPolicy(max_retries=0)

        async def attempt(where: str, call: Any) -> None:
            try:
                _response_views(seen, where, await asyncio.wait_for(call(), 10))
            except ProviderError as exc:
                seen.error(where, exc)
                seen.add(f"{where}: request_id", exc.request_id)

        async def events(**kwargs: Any) -> list[Any]:
            return [event async for event in provider.stream("hi", **kwargs)]

        db = tmp_path / "cache.db"
        cached = type(provider)(attrs.evolve(provider.config, cache=f"sqlite:{db}"))
        try:
            await attempt("generate", lambda: provider.generate("hi"))
            await attempt("stream", events)
            await attempt("error generate", lambda: provider.generate("hi"))
            await attempt("error stream", events)
            await attempt("memory cache", lambda: provider.generate("cache me", cache=True))
            await attempt("memory cache hit", lambda: provider.generate("cache me", cache=True))
            await attempt("sqlite cache", lambda: cached.generate("cache me too"))
            await attempt("sqlite cache hit", lambda: cached.generate("cache me too"))
            memory = provider._response_cache(True)
            assert memory is not None
            seen.add("memory entries", list(getattr(memory.backend, "_data", {}).items()))
            assert cached.response_cache is not None
            await cached.response_cache.close()
        finally:
            await cached.aclose()
            await provider.aclose()
        assert server.pending == 0, "the script was not played to its end"
    files = _files(tmp_path, "cache.db*")
    assert files and b"to the sqlite cache" in b"".join(data for _, data in files)
    for name, data in files:
        seen.add(f"sqlite file {name}", data)
    for i, call in enumerate(observer.calls):
        seen.add(f"hook call #{i}", call)
    hooks = {name for name, _ in observer.calls}
    assert {"response_received", "request_failed"} <= hooks
    assert not (leaks := seen.leaks()), "the key leaked:\n" + "\n".join(leaks)


@pytest.mark.usefixtures("global_registry")
@pytest.mark.parametrize("key", CANARIES)
def test_cli_never_shows_a_key_echoed_as_request_id(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = Exposure(key)
    with ServerThread() as server:
        _canary_profiles(server, key, tmp_path, monkeypatch)
        for spec in AVAILABLE:
            name = f"canary-{spec.name}"
            for argv, item in (
                (["prompt", "hi", "-p", name, "--json"], Reply("fine", request_id=key)),
                (["prompt", "hi", "-p", name], _echo_as_request_id(spec, key)),
                (["prompt", "hi", "-p", name, "--no-stream"], _echo_as_request_id(spec, key)),
            ):
                server.enqueue(item)
                out, err = io.StringIO(), io.StringIO()
                code = cli_main(argv, out=out, err=err)
                seen.add(f"{argv}: stdout", out.getvalue())
                seen.add(f"{argv}: stderr", err.getvalue())
                if isinstance(item, ErrorReply):
                    assert code == 1 and "BadRequestError" in err.getvalue(), err.getvalue()
                else:
                    assert code == 0 and json.loads(out.getvalue())["content"] == "fine"
            assert server.pending == 0
    assert not (leaks := seen.leaks()), "the key leaked:\n" + "\n".join(leaks)


@pytest.mark.parametrize("key", CANARIES)
def test_wire_error_builders_redact_a_request_id(key: str) -> None:
    """The pure builders a plugin calls redact it too, before any provider sees it."""
    from jackfield.wire._errors import error_from_payload, error_from_response

    body = {"error": {"message": "bad", "request_id": key}, "request_id": key}
    errors = [
        error_from_response(400, {"x-request-id": key}, b"{}", secrets=[key]),
        error_from_response(400, {}, json.dumps(body).encode(), secrets=[key]),
        error_from_payload({"message": "bad", "request_id": key}, secrets=[key]),
    ]
    seen = Exposure(key)
    for i, err in enumerate(errors):
        assert err.request_id, i
        seen.error(f"error #{i}", err)
    assert not (leaks := seen.leaks()), "the key leaked:\n" + "\n".join(leaks)


def test_a_canary_that_leaks_is_caught() -> None:
    """The detector itself works: a leak in any view is reported."""
    seen = Exposure(PLAIN)
    seen.error("unredacted", ValueError(f"oops {PLAIN}"))
    seen.add("bytes", f"..{PLAIN}..".encode())
    assert len(seen.leaks()) >= 3


async def test_the_observer_sees_the_error_it_is_given() -> None:
    """A sanity check of the harness: hook arguments really are recorded."""
    observer = Observer()
    registry = Registry(entry_points=False, plugins=(), strict=False)
    registry.register_plugin(observer, name="observer")
    from jackfield.plugins.mock import MockProvider, MockReply

    provider = MockProvider(hooks=registry.hooks, replies=[MockReply(error="authentication")])
    with pytest.raises(ProviderError):
        await provider.generate("hi")
    assert [name for name, _ in observer.calls][-2:] == ["request_failed", "request_failed"]
    assert asyncio.iscoroutinefunction(provider.generate)
