"""The provider contract: the abstract base class every provider plugin subclasses.

The public methods (:meth:`Provider.generate`, :meth:`Provider.stream`,
:meth:`Provider.estimate_tokens`, :meth:`Provider.model_for_tier`) are template methods:
they validate input, resolve tiers, run hooks, consult the response cache, retry and map
every exception to a :class:`ProviderError`, once for all providers. A plugin writes
``name``, ``tier_models``, ``_generate`` and, optionally, ``_stream`` and
``map_exception``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import attrs

from ..config import AuthMethod, ProviderConfig, Secret, check_base_url, parse_tier
from ..errors import (
    BadRequestError,
    ConfigurationError,
    MissingDependencyError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
    UnknownError,
    redact,
)
from ..events import StreamEnd, StreamEvent, StreamStart, TextDelta, TextStart
from ..types import Capabilities, ModelTier, Request, Response, ToolSpec
from ..wire._assembler import events_for_response
from ..wire._partial_json import parse_streaming_json
from ._capabilities import check_request
from ._deadline import Deadline, idle_bounded, per_event
from ._validation import build_request, call_extra, normalize_messages, normalize_tools

if TYPE_CHECKING:
    from ..cache import CacheOpener, ResponseCache
    from ..retry import RetryPolicy
    from ._sync import SyncStream

__all__ = ["Hooks", "Provider", "ProviderStream", "StructuredStream"]


class Hooks(Protocol):
    """The registry's hooks, as a provider sees them (the registry's ``HookRelay``)."""

    def has(self, name: str) -> bool:
        """Whether any plugin implements hook ``name`` (cheap: asked on hot paths)."""

    def call(self, name: str, **kwargs: Any) -> Any:
        """Call hook ``name``; observers that raise are logged, never propagated."""


class Provider(ABC):
    """Base class of every provider.

    Subclasses set the class attributes below and implement :meth:`_generate`
    (and optionally :meth:`_stream` and :meth:`map_exception`).
    """

    name: ClassVar[str] = ""
    """The registry name, lower case (``"openai"``)."""
    description: ClassVar[str] = ""
    """One line shown by ``jackfield providers``."""
    tier_models: ClassVar[Mapping[ModelTier, str]] = {}
    """The provider's own tier table: :class:`ModelTier` -> model id."""
    default_model: ClassVar[str | None] = None
    """The model used when a call names neither model nor tier (else ``hosted_small``)."""
    default_base_url: ClassVar[str | None] = None
    api_key_env: ClassVar[str | None] = None
    """The environment variable read for the key when the config gives none."""
    default_auth_method: ClassVar[AuthMethod] = "bearer"
    """How the key is sent; ``"none"`` is the one switch for a provider that takes no key
    (none is read, required or sent). A config's ``auth_method`` overrides it."""
    requires_api_key: ClassVar[bool] = True
    """Whether creation fails without a key; ``False`` makes the key optional (sent when
    given), as for a self-hosted server started with or without one."""
    requires: ClassVar[tuple[str, ...]] = ()
    """Importable modules the provider needs (checked at creation, never at discovery)."""
    extra: ClassVar[str | None] = None
    """The ``jackfield[extra]`` that installs :attr:`requires`."""
    tokenizer: ClassVar[str] = "heuristic"
    """``"tiktoken"`` for OpenAI-family token counting, else ``"heuristic"``."""
    extra_fields: ClassVar[frozenset[str]] = frozenset()
    """Option names the provider reads from ``config.extra``: a profile (or
    ``create_provider``) may give them as top-level keys, which the registry moves into
    ``extra`` (the router's ``targets`` and ``strategy``)."""
    uses_registry: ClassVar[bool] = False
    """Whether the registry passes itself as ``registry=`` when creating the provider
    (the router builds its targets through it)."""
    defers_output_mode: ClassVar[bool] = False
    """Whether :meth:`build_request` leaves a structured call's output mode as the caller
    chose it (or unset) once the call is checked, for the providers behind it to settle
    (the router: each target gives the strongest mode it has)."""
    call_options: ClassVar[frozenset[str]] = frozenset()
    """Keyword arguments a call may pass besides the contract's own (``top_p``, ``seed``
    ...): each goes into ``Request.extra``, so into the body. Any other keyword is a
    :class:`BadRequestError`; a body field nobody declared goes in ``extra={...}``."""

    default_capabilities: ClassVar[Capabilities] = Capabilities()
    """What the provider can express (tools, images, documents, structured-output mode
    ...); :meth:`model_capabilities` refines it per model family, config overrides it.
    A call asking for more is refused before any I/O."""

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        hooks: Hooks | None = None,
        retry_policy: RetryPolicy | None = None,
        cache_opener: CacheOpener | None = None,
        **overrides: Any,
    ) -> None:
        """Create the provider; ``overrides`` are :class:`ProviderConfig` fields.

        A registry passes its ``hooks`` and its ``cache_opener``; a provider built
        directly uses the process-wide opener (and so the global registry's backends).

        Raises :class:`ConfigurationError` for a bad config and
        :class:`MissingDependencyError` for a missing SDK, before any I/O.
        """
        config = config if config is not None else ProviderConfig()
        if overrides:
            config = config.evolve(**overrides)
        self.config = config
        self._capabilities_by_model: dict[str, Capabilities] = {}
        self.hooks = hooks
        self.cache_opener = cache_opener
        if retry_policy is None:
            from ..retry import RetryPolicy  # here: discovery need not define it

            retry_policy = RetryPolicy(
                max_retries=config.max_retries, deadline=config.retry_deadline
            )
        self.retry_policy = retry_policy
        self._api_key: Secret | None = config.resolve_api_key(self.api_key_env)
        self._check_dependencies()
        self.validate_config()

    # -- configuration -----------------------------------------------------------------

    @property
    def auth_method(self) -> AuthMethod:
        """How the key is sent: the config's choice, else the provider's default."""
        return self.config.auth_method or self.default_auth_method

    @property
    def base_url(self) -> str | None:
        """The endpoint: the config's ``base_url``, else the provider's default."""
        return (self.config.base_url or self.default_base_url or "").rstrip("/") or None

    @property
    def api_key(self) -> Secret | None:
        """The resolved key as a :class:`Secret` (explicit, ``api_key_env``, default env)."""
        return self._api_key

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key.get_secret_value(),) if self._api_key else ()

    def _check_dependencies(self) -> None:
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                raise MissingDependencyError(self.name, module, self.extra)

    def validate_config(self) -> None:
        """Check the config; a subclass extends this. Runs at creation, before any I/O."""
        url = self.base_url  # the config's, else a default or environment variable's
        if url is not None and url != self.config.base_url:
            check_base_url(url, self.name)
        if self.requires_api_key and self.auth_method != "none" and not self._api_key:
            env = self.config.api_key_env or self.api_key_env
            where = f"set ${env} or " if env else ""
            raise ConfigurationError(
                f"no API key; {where}pass api_key=...",
                field="api_key",
                provider=self.name,
            )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} base_url={self.base_url!r} "
            f"model={self.config.model!r}>"
        )

    def observe_headers(self, callback: Callable[[Mapping[str, str]], None]) -> bool:
        """Have ``callback`` called with the headers of every HTTP response this provider
        receives (the router reads rate-limit budgets from them); returns whether the
        provider can (the base has no HTTP of its own: ``False``)."""
        return False

    # -- tiers and models ----------------------------------------------------------------

    def model_for_tier(self, tier: ModelTier | str) -> str:
        """The model for ``tier``: config override, then hook, then the provider's table."""
        parsed = parse_tier(tier)
        model = self._tier_model(parsed)
        if model is None:
            raise ConfigurationError(
                f"no model for tier {parsed.value!r}; "
                f"set tier_models={{'{parsed.value}': '...'}} in its config",
                field="tier_models",
                provider=self.name,
            )
        return model

    def _tier_model(self, tier: ModelTier) -> str | None:
        """The model a table or hook gives ``tier``, else ``None``."""
        model = self.config.tier_models.get(tier)
        if model:
            return model
        hooks = self.hooks
        if hooks is not None and hooks.has("jackfield_model_for_tier"):
            chosen = hooks.call("jackfield_model_for_tier", provider=self, tier=tier)
            if chosen:
                return str(chosen)
        return self.tier_models.get(tier) or None

    def resolve_model(self, model: str | None = None, tier: ModelTier | str | None = None) -> str:
        """The model a call uses: explicit, tier, config, provider default, ``hosted_small``."""
        if model:
            return model
        if tier is not None:
            return self.model_for_tier(tier)
        if self.config.model:
            return self.config.model
        if self.default_model:
            return self.default_model
        return self.model_for_tier(ModelTier.HOSTED_SMALL)

    # -- capabilities ----------------------------------------------------------------------

    def model_capabilities(self, model: str) -> Capabilities:
        """The capabilities of ``model`` before configuration: a plugin overrides this for
        model families that differ from :attr:`default_capabilities`."""
        return self.default_capabilities

    def capabilities(self, model: str | None = None) -> Capabilities:
        """What a call to ``model`` (default: the provider's default model) can ask for:
        the model's declaration with the config's ``capabilities`` overrides applied."""
        resolved = model or self.resolve_model()
        cache = self._capabilities_by_model
        caps = cache.get(resolved)
        if caps is None:
            caps = self.model_capabilities(resolved)
            overrides = dict(self.config.capabilities)
            if self.config.context_window is not None:
                overrides.setdefault("context_window", self.config.context_window)
            if overrides:
                caps = attrs.evolve(caps, **overrides)
            if len(cache) < 256:  # bounded: a model name may come from the caller
                cache[resolved] = caps
        return caps

    # -- requests ------------------------------------------------------------------------

    def build_request(
        self,
        messages: Any,
        *,
        model: str | None = None,
        tier: ModelTier | str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: Iterable[ToolSpec | Mapping[str, Any] | Callable[..., Any]] | None = None,
        tool_choice: str | None = None,
        json_mode: bool = False,
        stop: str | Sequence[str] | None = None,
        reasoning: bool | str | None = None,
        response_format: Any = None,
        output_retries: int = 0,
        extra: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Request:
        """Validate a call's arguments and apply config defaults; no I/O.

        ``options`` are keywords named in :attr:`call_options`; ``extra`` holds any other
        body fields. Both end in ``Request.extra``, merged into the body last.
        """
        cfg = self.config
        fields = (
            call_extra(options, extra, allowed=self.call_options, provider=self.name)
            if options or extra is not None
            else None
        )
        if model is not None and not isinstance(model, str):  # "" falls back, as None does
            raise BadRequestError(
                f"model must be a non-empty string (got {model!r})", provider=self.name
            )
        request = build_request(
            messages,
            model=self.resolve_model(model, tier),
            provider=self.name,
            temperature=cfg.temperature if temperature is None else temperature,
            max_tokens=cfg.max_tokens if max_tokens is None else max_tokens,
            tools=tools,
            tool_choice=tool_choice,
            json_mode=json_mode,
            stop=stop,
            reasoning=cfg.reasoning if reasoning is None else reasoning,
            response_format=response_format,
            output_retries=output_retries,
            extra=fields,
        )
        checked = check_request(request, self.capabilities(request.model), self.name)
        return request if self.defers_output_mode else checked

    async def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        tier: ModelTier | str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: Iterable[ToolSpec | Mapping[str, Any] | Callable[..., Any]] | None = None,
        tool_choice: str | None = None,
        json_mode: bool = False,
        stop: str | Sequence[str] | None = None,
        reasoning: bool | str | None = None,
        response_format: Any = None,
        output_retries: int = 0,
        cache: bool | None = None,
        extra: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Response:
        """Send ``messages`` and return the complete :class:`Response`.

        ``messages`` is a string (one user turn), a :class:`Message`, a dict, or a list
        of them. ``cache`` overrides the provider's response-cache setting for this call.
        ``extra`` is a dict of body fields merged into the request last; other keywords
        must be the provider's :attr:`call_options` (an unknown one, a misspelling say,
        raises :class:`BadRequestError` with a suggestion). Every failure raises a
        :class:`ProviderError` subclass.
        """
        request = self.build_request(
            messages,
            model=model,
            tier=tier,
            temperature=temperature,
            max_tokens=max_tokens,
            tools=tools,
            tool_choice=tool_choice,
            json_mode=json_mode,
            stop=stop,
            reasoning=reasoning,
            response_format=response_format,
            output_retries=output_retries,
            extra=extra,
            **options,
        )
        return await self.generate_request(request, cache=cache)

    async def generate_request(self, request: Request, *, cache: bool | None = None) -> Response:
        """Run an already-built :class:`Request` (cache, hooks, retries, error mapping)."""
        started = time.perf_counter() if self.hooks is not None else 0.0
        response_cache = self._response_cache(cache)
        try:
            if request.output is not None:
                response = await self._generate_structured(request, response_cache)
            elif response_cache is None:
                response = await self._call_upstream(request)
            else:
                response = await response_cache.generate(
                    self, request, lambda: self._call_upstream(request)
                )
        except ProviderError as exc:
            self._report_failure(request, exc, started)
            raise
        self._report_response(request, response, started)
        return response

    def _report_failure(self, request: Request, error: ProviderError, started: float) -> None:
        """Tell the ``jackfield_request_failed`` observers, if there are any."""
        hooks = self.hooks
        if hooks is not None and hooks.has("jackfield_request_failed"):
            hooks.call(
                "jackfield_request_failed",
                provider=self,
                request=request,
                error=error,
                duration=time.perf_counter() - started,
            )

    def _report_response(self, request: Request, response: Response, started: float) -> None:
        """Tell the ``jackfield_response_received`` observers, if there are any."""
        hooks = self.hooks
        if hooks is not None and hooks.has("jackfield_response_received"):
            hooks.call(
                "jackfield_response_received",
                provider=self,
                request=request,
                response=response,
                duration=time.perf_counter() - started,
            )

    async def _generate_structured(
        self, request: Request, response_cache: ResponseCache | None
    ) -> Response:
        """A call with ``response_format``: its mode, validation and re-asks (``_output``);
        a cache hit gets ``parsed`` built afresh."""
        from ._output import generate_structured, rebuild_parsed

        if response_cache is None:
            return await generate_structured(self, request)
        response = await response_cache.generate(
            self, request, lambda: generate_structured(self, request)
        )
        if response.cached:
            assert request.output is not None
            try:
                return rebuild_parsed(response, request.output, self._secrets())
            except ProviderError as exc:
                raise self._finish_error(exc, request) from None
        return response

    async def _call_upstream(self, request: Request) -> Response:
        """One call with retries and error mapping, no cache."""
        attempt = 0

        async def once() -> Response:
            nonlocal attempt
            attempt += 1
            return await self._upstream_once(request, attempt)

        return await self.retry_policy.call(once, on_retry=self._on_retry(request))

    async def _upstream_once(self, request: Request, attempt: int = 1) -> Response:
        """One attempt of :meth:`_call_upstream`, without its retry layer: the
        ``request_started`` hook, the deadline and the error mapping (a router, which
        runs a target's retries itself, calls this)."""
        hooks = self.hooks
        if hooks is not None and hooks.has("jackfield_request_started"):
            hooks.call("jackfield_request_started", provider=self, request=request, attempt=attempt)
        cfg = self.config
        try:
            self._prepare()
            async with Deadline(
                cfg.timeout, what="a complete answer", max_connections=cfg.max_connections
            ):
                return self._scrub_response(await self._generate(request))
        except ProviderError as exc:
            raise self._finish_error(exc, request) from exc.__cause__
        except Exception as exc:  # not cancellation, KeyboardInterrupt or SystemExit
            raise self._error_from(exc, request) from exc

    def stream(
        self,
        messages: Any,
        *,
        model: str | None = None,
        tier: ModelTier | str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: Iterable[ToolSpec | Mapping[str, Any] | Callable[..., Any]] | None = None,
        tool_choice: str | None = None,
        json_mode: bool = False,
        stop: str | Sequence[str] | None = None,
        reasoning: bool | str | None = None,
        response_format: Any = None,
        output_retries: int = 0,
        cache: bool | None = None,
        extra: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> ProviderStream:
        """Send ``messages`` and iterate typed :class:`StreamEvent` objects.

        The input is validated now, before any I/O. The request is retried only while
        nothing has been yielded; leaving the ``async for`` closes the connection.
        ``cache`` overrides the provider's response-cache setting for this call. With
        ``response_format`` the stream's ``partial`` and ``objects()`` give the object as
        it grows; ``output_retries`` is for :meth:`generate` (a stream cannot take back
        what it has yielded).
        """
        if output_retries:
            raise BadRequestError(
                "output_retries re-asks in generate(); a stream cannot take back what it "
                "has yielded",
                provider=self.name,
            )
        request = self.build_request(
            messages,
            model=model,
            tier=tier,
            temperature=temperature,
            max_tokens=max_tokens,
            tools=tools,
            tool_choice=tool_choice,
            json_mode=json_mode,
            stop=stop,
            reasoning=reasoning,
            response_format=response_format,
            output_retries=output_retries,
            extra=extra,
            **options,
        )
        return self.stream_request(request, cache=cache)

    def stream_request(self, request: Request, *, cache: bool | None = None) -> ProviderStream:
        """Stream an already-built :class:`Request`."""
        if request.output is None:
            return ProviderStream(self._run_stream(request, self._response_cache(cache)))
        return StructuredStream(self._run_stream(request, self._response_cache(cache)))

    async def _run_stream(
        self, request: Request, response_cache: ResponseCache | None
    ) -> AsyncGenerator[StreamEvent, None]:
        started = time.perf_counter()
        if request.output is not None:
            source = self._stream_structured(request, response_cache)
        elif response_cache is None:
            source = self._upstream_stream(request)
        else:
            source = response_cache.stream(self, request, lambda: self._upstream_stream(request))
        last: StreamEvent | None = None
        try:
            async for event in source:
                last = event
                yield event
        except ProviderError as exc:
            self._report_failure(request, exc, started)
            raise
        finally:
            await _aclose(source)
        assert isinstance(last, StreamEnd)  # the assembler ends every stream with one
        self._report_response(request, last.response, started)

    def _stream_structured(
        self, request: Request, response_cache: ResponseCache | None
    ) -> AsyncIterator[StreamEvent]:
        """A stream with ``response_format``: its mode and validation (``_output``); a
        cache hit's final response gets ``parsed`` built afresh."""
        from ._output import rebuild_stream, stream_structured

        if response_cache is None:
            return stream_structured(self, request)
        assert request.output is not None
        return rebuild_stream(
            response_cache.stream(self, request, lambda: stream_structured(self, request)),
            request.output,
        )

    async def _upstream_stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        """One stream with retries before the first content event, no cache."""
        hooks = self.hooks
        attempt = 0

        cfg = self.config

        async def open_stream() -> tuple[AsyncIterator[StreamEvent], Deadline, list[StreamEvent]]:
            # One attempt: read up to the first content event. Until then nothing has
            # reached the caller, so a failure here may be retried.
            nonlocal attempt
            attempt += 1
            if hooks is not None and hooks.has("jackfield_request_started"):
                hooks.call(
                    "jackfield_request_started", provider=self, request=request, attempt=attempt
                )
            head: list[StreamEvent] = []
            try:
                self._prepare()
            except Exception as exc:
                raise self._as_provider_error(exc, request) from exc
            # Each wait for an event is bounded by timeout (see _deadline): the waits
            # are inlined here, not a wrapping generator, which would cost every event.
            events = self._stream(request)
            deadline = Deadline(
                cfg.timeout, what="the next event", max_connections=cfg.max_connections
            )
            deadline.start()  # tracked: the first wait connects, and the transport marks it
            try:
                while True:
                    try:
                        event = await deadline.next_event(events.__anext__)
                    except StopAsyncIteration:
                        break
                    head.append(self._scrub_event(event))
                    if not isinstance(event, StreamStart):
                        break
                    deadline.restart()
            except BaseException as exc:
                deadline.close()
                await _aclose(events)
                raise self._as_provider_error(exc, request, streaming=True) from _cause(exc)
            return events, deadline, head

        events: AsyncIterator[StreamEvent] | None = None
        deadline: Deadline | None = None
        last: StreamEvent | None = None
        try:
            events, deadline, head = await self.retry_policy.call(
                open_stream, on_retry=self._on_retry(request)
            )
            for event in head:
                last = event
                yield event
            if not isinstance(last, StreamEnd):
                assert events is not None and deadline is not None
                next_event = events.__anext__
                try:
                    while True:
                        deadline.restart()
                        try:
                            event = await next_event()
                        except StopAsyncIteration:
                            deadline.stop(None)
                            break
                        except BaseException as exc:
                            deadline.stop(exc)  # a ProviderTimeoutError if time ran out
                            raise
                        if deadline.expired:
                            deadline.stop(None)
                        else:  # stop()'s common case, inline: the hot path
                            deadline.waiting = False
                        if type(event) is StreamEnd:
                            event = self._scrub_event(event)
                        last = event
                        yield event
                except GeneratorExit:
                    raise
                except BaseException as exc:
                    err = self._as_provider_error(exc, request, streaming=True)
                    err.attempts = attempt
                    raise err from _cause(exc)
            if not isinstance(last, StreamEnd):
                raise self._finish_error(
                    StreamError(
                        "the stream ended before its final event (truncated?)",
                        model=request.model,
                    ),
                    request,
                    attempts=attempt,
                )
        finally:
            if deadline is not None:
                deadline.close()
            if events is not None:
                await _aclose(events)

    # -- synchronous calls (see _sync) -------------------------------------------------

    def generate_sync(self, messages: Any, **kwargs: Any) -> Response:
        """:meth:`generate`, from synchronous code: a script, a thread, or inside a running
        event loop (a notebook), with the same arguments and errors."""
        from ._sync import run_sync

        return run_sync(self.generate(messages, **kwargs))

    def stream_sync(self, messages: Any, **kwargs: Any) -> SyncStream:
        """:meth:`stream`, from synchronous code: an ordinary iterator of the same typed
        events. The input is validated now, before any I/O; ``close()`` it (or use
        ``with``) to close the connection when stopping early."""
        from ._sync import SyncStream

        return SyncStream(self.stream(messages, **kwargs))

    def close_sync(self) -> None:
        """Release the connections of synchronous calls (``with provider:`` does too)."""
        from ._sync import run_sync

        run_sync(self.aclose())

    def __enter__(self) -> Provider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_sync()

    # -- response cache ---------------------------------------------------------------

    response_cache: ResponseCache | None = None
    """The response cache of this provider, from ``config.cache`` (or set it directly)."""

    def _response_cache(self, per_call: bool | None) -> ResponseCache | None:
        if per_call is False:
            return None
        cache = self.response_cache
        if cache is None and (per_call or self.config.cache):
            opener = self.cache_opener
            if opener is None:
                from ..cache import default_opener

                opener = default_opener()
            spec = self.config.cache if isinstance(self.config.cache, str) else "memory"
            cache = opener.open(spec, ttl=self.config.cache_ttl)
            if self.config.cache:
                self.response_cache = cache
        return cache

    # -- tokens --------------------------------------------------------------------------

    def estimate_tokens(
        self,
        messages: Any,
        *,
        model: str | None = None,
        tools: Iterable[ToolSpec | Mapping[str, Any] | Callable[..., Any]] | None = None,
    ) -> int:
        """Estimate the prompt's tokens offline (no network); a hook can override."""
        msgs = normalize_messages(messages, self.name)
        specs = normalize_tools(tools, self.name)
        resolved = self.resolve_model(model)
        hooks = self.hooks
        if hooks is not None and hooks.has("jackfield_estimate_tokens"):
            count = hooks.call(
                "jackfield_estimate_tokens",
                provider=self,
                model=resolved,
                messages=msgs,
                tools=specs,
            )
            if count is not None:
                return int(count)
        from ..tokens import estimate_tokens

        return estimate_tokens(msgs, model=resolved, tools=specs, tokenizer=self.tokenizer)

    # -- errors --------------------------------------------------------------------------

    def map_exception(self, exc: BaseException) -> ProviderError | None:
        """Turn an SDK's or HTTP client's exception into a :class:`ProviderError`.

        Plugins override this for their client; return ``None`` to fall back to the
        generic mapping (timeouts, connection errors, aiohttp errors).
        """
        return None

    def _as_provider_error(
        self, exc: BaseException, request: Request, *, streaming: bool = False
    ) -> ProviderError:
        if isinstance(exc, ProviderError):
            return self._finish_error(exc, request)
        import asyncio

        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            raise exc
        return self._error_from(exc, request, streaming=streaming)

    def _error_from(
        self, exc: BaseException, request: Request, *, streaming: bool = False
    ) -> ProviderError:
        _scrub_chain(exc, self._secrets())  # it becomes the new error's __cause__
        err = self.map_exception(exc)
        if err is None and streaming:
            err = _malformed_stream(exc)
        if err is None:
            err = _generic_error(exc)
        return self._finish_error(err, request)

    def _finish_error(
        self, err: ProviderError, request: Request, attempts: int | None = None
    ) -> ProviderError:
        """Fill in provider and model, and scrub the key from message and body."""
        if err.provider is None:
            err.provider = self.name
        if err.model is None:
            err.model = request.model
        if attempts is not None:
            err.attempts = attempts
        secrets = self._secrets()
        if err.request_id is not None:  # a server may echo the key as its request id
            err.request_id = redact(str(err.request_id), secrets)
        if secrets:
            err.message = redact(err.message, secrets)
            err.args = (err.message,)
            if err.body is not None:
                err.body = redact(err.body, secrets)
        _scrub_chain(err.__cause__, secrets)
        return err

    def _scrub_response(self, response: Response) -> Response:
        """The response with its ``request_id`` redacted: a server may echo the key as
        one, and it reaches callers, hooks and caches."""
        rid = response.request_id
        if rid is not None and (clean := redact(rid, self._secrets())) != rid:
            return attrs.evolve(response, request_id=clean)
        return response

    def _scrub_event(self, event: StreamEvent) -> StreamEvent:
        """A stream event with any request id redacted (the start and the end carry one)."""
        if isinstance(event, StreamEnd):
            response = self._scrub_response(event.response)
            return event if response is event.response else StreamEnd(response)
        if isinstance(event, StreamStart) and event.request_id is not None:
            clean = redact(event.request_id, self._secrets())
            if clean != event.request_id:
                return attrs.evolve(event, request_id=clean)
        return event

    def _on_retry(self, request: Request) -> Any:
        hooks = self.hooks
        if hooks is None or not hooks.has("jackfield_retrying"):
            return None

        def notify(error: ProviderError, attempt: int, wait: float) -> None:
            assert hooks is not None
            hooks.call(
                "jackfield_retrying",
                provider=self,
                request=request,
                error=error,
                attempt=attempt,
                wait=wait,
            )

        return notify

    # -- what a plugin writes --------------------------------------------------------------

    @abstractmethod
    async def _generate(self, request: Request) -> Response:
        """Send one request and return the response; raise on failure (no retries here)."""

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        """Stream one request. The default derives the events from :meth:`_generate`."""
        response = await self._generate(request)
        for event in events_for_response(response):
            yield event

    async def _generate_by_streaming(self, request: Request) -> Response:
        """The response :meth:`_stream` ends with: a ``_generate`` for an API that only
        streams, or for a call too long to wait for in one piece.

        ``timeout`` then bounds each wait for an event instead of the whole call."""
        per_event()
        events = self._idle_bounded(self._stream(request))
        try:
            async for event in events:
                if isinstance(event, StreamEnd):
                    return event.response
        except ValueError as exc:
            raise _malformed_stream(exc) or exc from exc
        finally:
            await _aclose(events)
        raise StreamError(
            "the stream ended before its final event (truncated?)", provider=self.name
        )

    def _prepare(self) -> None:
        """Build what a call needs before its deadline starts (an SDK client, a
        session); no I/O. The default does nothing."""

    def _idle_bounded(self, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """``events``, each awaited within ``timeout`` (see :mod:`._deadline`)."""
        cfg = self.config
        return idle_bounded(events, cfg.timeout, max_connections=cfg.max_connections)

    # -- lifecycle -------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release connections; the provider may still be used afterwards (it reconnects)."""

    def close_nowait(self) -> None:
        """Release what can be released without awaiting (used by ``clear_cache``)."""

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _scrub_chain(exc: BaseException | None, secrets: tuple[str, ...]) -> None:
    """Redact the key from ``exc`` and the exceptions it chains to, in place.

    They become the ``__cause__`` of the error jackfield raises, and a traceback prints
    their messages: an SDK's exception quotes the server's error body, which may echo
    the key. Only string ``args`` and a ``message`` attribute are touched.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(seen) < 16:
        seen.add(id(exc))
        if not isinstance(exc, ProviderError):  # ours are redacted when built
            args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in exc.args)
            if args != exc.args:
                exc.args = args
            message = getattr(exc, "message", None)
            if isinstance(message, str) and redact(message, secrets) != message:
                with contextlib.suppress(AttributeError, TypeError):
                    exc.message = redact(message, secrets)  # type: ignore[attr-defined]
        exc = exc.__cause__ or exc.__context__


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ if isinstance(exc, ProviderError) else exc


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):  # must not hide the original error
            await close()


def _malformed_stream(exc: BaseException) -> StreamError | None:
    """A :class:`StreamError` for data ``_stream`` failed to decode (``json.loads`` of an
    event, as the plugin guide writes it, or invalid UTF-8), else ``None``."""
    import json

    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return StreamError(f"malformed stream data ({type(exc).__name__}: {exc})")
    return None


def _generic_error(exc: BaseException) -> ProviderError:
    if isinstance(exc, TimeoutError):
        return ProviderTimeoutError(f"request timed out: {str(exc) or type(exc).__name__}")
    import sys

    if "aiohttp" in sys.modules:
        from ..transport._aiohttp_errors import error_from_aiohttp

        mapped = error_from_aiohttp(exc)
        if mapped is not None:
            return mapped
    if isinstance(exc, ConnectionError | OSError):
        return NetworkError(f"connection failed: {type(exc).__name__}: {exc}")
    return UnknownError(f"{type(exc).__name__}: {exc}")


class ProviderStream(AsyncIterator[StreamEvent]):
    """The iterator :meth:`Provider.stream` returns.

    Iterate it with ``async for``; use it as an async context manager (or call
    :meth:`aclose`) to close the connection deterministically when stopping early.
    After the stream ends, :attr:`response` holds the final :class:`Response`.
    """

    __slots__ = ("_events", "response")

    def __init__(self, events: AsyncGenerator[StreamEvent, None]) -> None:
        self._events = events
        self.response: Response | None = None

    def __aiter__(self) -> ProviderStream:
        return self

    async def __anext__(self) -> StreamEvent:
        event = await self._events.__anext__()
        if isinstance(event, StreamEnd):
            self.response = event.response
        return event

    async def aclose(self) -> None:
        """Stop the stream and close its connection."""
        await self._events.aclose()

    async def __aenter__(self) -> ProviderStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def collect(self) -> Response:
        """Consume the whole stream and return the final response."""
        async for _ in self:
            pass
        assert self.response is not None
        return self.response

    async def text(self) -> AsyncIterator[str]:
        """Iterate only the answer's text deltas."""
        async for event in self:
            if isinstance(event, TextDelta):
                yield event.text

    @property
    def partial(self) -> dict[str, Any] | None:
        """The structured answer parsed so far; ``None`` without ``response_format``."""
        return None

    def objects(self) -> AsyncIterator[dict[str, Any]]:
        """Iterate the structured answer as it grows (a call with ``response_format``)."""
        raise BadRequestError("objects() needs a stream with a response_format schema")


class StructuredStream(ProviderStream):
    """The stream of a call with ``response_format``: :attr:`partial` is the object
    parsed from the answer's JSON so far, and :meth:`objects` yields it as it grows."""

    __slots__ = ("_partial", "_stale", "_text")

    def __init__(self, events: AsyncGenerator[StreamEvent, None]) -> None:
        super().__init__(events)
        self._text: list[str] = []
        self._stale = False
        self._partial: dict[str, Any] | None = None

    async def __anext__(self) -> StreamEvent:
        event = await self._events.__anext__()
        kind = type(event)
        if kind is TextDelta:
            self._text.append(event.text)  # type: ignore[union-attr]
            self._stale = True
        elif kind is TextStart:  # the answer is the last text block (a preamble is not)
            self._text.clear()
            self._stale = True
        elif kind is StreamEnd:
            self.response = event.response  # type: ignore[union-attr]
        return event

    @property
    def partial(self) -> dict[str, Any] | None:
        """The answer's object parsed so far (best effort; ``None`` before its ``{``)."""
        if self._stale:
            self._stale = False
            self._partial = parse_streaming_json("".join(self._text))
        return self._partial

    async def objects(self) -> AsyncIterator[dict[str, Any]]:
        """Iterate the partial object each time it grows; the validated final object is
        ``response.parsed`` once the stream has ended."""
        last: dict[str, Any] | None = None
        async for event in self:
            if type(event) is TextDelta:
                current = self.partial
                if current is not None and current != last:
                    last = current
                    yield current
