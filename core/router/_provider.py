"""The ``router`` provider: one :class:`~jackfield.Provider` over several targets.

It is a provider like any other (the response cache, hooks, sync calls and the CLI work
through it); what it adds is the routed call (:meth:`Router._route`):

1. the strategy orders the targets (:mod:`._strategies`); targets whose rate-limit
   budget is spent go last;
2. each target in turn is skipped while it is taken out or its breaker is open (an open
   breaker past its cooldown lets one probe through), and when the prompt's estimated
   tokens exceed its ``context_window``;
3. an attempt that fails is decided by its typed error (:mod:`._decisions`): retried on
   the same target as the target's own retry policy says, failed over, taken out, or
   raised;
4. all of it within one attempt budget (``max_attempts``) and one deadline
   (``retry_deadline``) for the whole call.

A target's own retry policy is taken off the target (it makes one attempt per call)
and run here instead, so retries and failovers share the budget and never multiply.
A stream fails over only until its first event reaches the caller.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from ..config import ProviderConfig, parse_tier
from ..errors import (
    ERROR_CLASSES_BY_TYPE,
    ConfigurationError,
    ContextWindowExceededError,
    ProviderError,
    ProviderNotFoundError,
    ProviderTimeoutError,
    ServerError,
    StreamError,
    UnsupportedFeatureError,
)
from ..events import StreamEvent
from ..provider import Provider
from ..provider._capabilities import check_request, union
from ..retry import RetryPolicy
from ..types import Capabilities, ModelTier, Request, Response
from ._breaker import (
    BreakerSettings,
    BreakerState,
    TargetState,
    availability,
    begin_probe,
    on_failure,
    on_success,
)
from ._budget import BUDGET_HEADERS, Budget, budget_from_headers
from ._decisions import Action, Decision, decide
from ._events import RouterEvent
from ._state import MemoryState, StateBackend, open_state
from ._strategies import order_for
from ._targets import TargetSpec, parse_targets

if TYPE_CHECKING:
    from ..cache import ResponseCache
    from ..registry import Registry

__all__ = ["ROUTER_FIELDS", "Router", "router_status"]

T = TypeVar("T")

ROUTER_FIELDS = frozenset(
    {
        "targets",
        "strategy",
        "state",
        "state_prefix",
        "max_attempts",
        "retry_after_cap",
        "quota_cooldown",
        "auth_cooldown",
        "failover_on",
        "breaker_failures",
        "breaker_window",
        "breaker_cooldown",
    }
)
"""The router's own options: profile keys (and keywords) kept in ``config.extra``."""

TIER_ROUTE = "@tier:"
DEFAULT_ROUTE = "@default"
LATENCY_WEIGHT = 0.3
"""The weight of the newest sample in a target's latency mean."""
_MAX_ROUTES = 64


@attrs.frozen(slots=True)
class _Settings:
    strategy: str
    targets: tuple[TargetSpec, ...]
    max_attempts: int
    retry_after_cap: float
    quota_cooldown: float
    auth_cooldown: float
    failover_on: frozenset[str]
    breaker: BreakerSettings


def _number(extra: Mapping[str, Any], name: str, default: float, *, low: float = 0.0) -> float:
    value = extra.get(name, default)
    if value is None and name == "auth_cooldown":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= low:
        raise ConfigurationError(
            f"{name} must be a number >= {low:g} (got {value!r})", field=name, provider="router"
        )
    return float(value)


def _count(extra: Mapping[str, Any], name: str, default: int) -> int:
    value = extra.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{name} must be an integer >= 1 (got {value!r})", field=name, provider="router"
        )
    return value


def parse_settings(config: ProviderConfig) -> _Settings:
    """The router's options from ``config.extra``, checked; each error names its field."""
    extra = config.extra
    unknown = sorted(set(extra) - ROUTER_FIELDS)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], ROUTER_FIELDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"unknown router option {unknown[0]!r}{hint}", field=unknown[0], provider="router"
        )
    strategy = extra.get("strategy", "fallback")
    order_for(strategy)  # an unknown strategy is an error naming the field
    strategy = str(strategy).strip().lower().replace("_", "-")
    targets = parse_targets(extra.get("targets"), weighted=strategy == "weighted")
    failover_on = extra.get("failover_on", ())
    if isinstance(failover_on, str) or not isinstance(failover_on, Sequence | frozenset | set):
        raise ConfigurationError(
            "failover_on must be a list of error types", field="failover_on", provider="router"
        )
    for name in failover_on:
        if name not in ERROR_CLASSES_BY_TYPE:
            raise ConfigurationError(
                f"failover_on: unknown error type {name!r}; known: "
                f"{', '.join(sorted(ERROR_CLASSES_BY_TYPE))}",
                field="failover_on",
                provider="router",
            )
    return _Settings(
        strategy=strategy,
        targets=targets,
        max_attempts=_count(extra, "max_attempts", len(targets) + config.max_retries),
        retry_after_cap=_number(extra, "retry_after_cap", 5.0),
        quota_cooldown=_number(extra, "quota_cooldown", 300.0),
        auth_cooldown=_number(extra, "auth_cooldown", math.inf),
        failover_on=frozenset(failover_on),
        breaker=BreakerSettings(
            failures=_count(extra, "breaker_failures", 5),
            window=_number(extra, "breaker_window", 60.0),
            cooldown=_number(extra, "breaker_cooldown", 30.0),
            probe_timeout=max(config.timeout, 1.0),
        ),
    )


class _BudgetBox:
    __slots__ = ("budget",)

    def __init__(self) -> None:
        self.budget: Budget | None = None


class _Plan:
    """How one target takes one route, resolved once (see :meth:`_Target.plan`): its
    model, its capabilities for it, and the request changes its config's defaults make.

    Kept while the target's provider keeps the config it was resolved from: replacing
    the config (another ``tier_models``, ``capabilities``, ``temperature`` ...) resolves
    it again. The target's availability (breaker, take-out, budget) is no part of a plan:
    it is read from the state backend on every call."""

    __slots__ = ("caps", "config", "defaults", "model")

    def __init__(
        self, config: ProviderConfig, model: str, caps: Capabilities, defaults: bool
    ) -> None:
        self.config = config
        self.model = model
        self.caps = caps
        self.defaults = defaults
        """Whether the config has a ``temperature`` or ``max_tokens`` a request may lack."""

    def request(self, request: Request) -> Request:
        """``request`` for this target: its model, and its config's defaults."""
        if self.defaults:
            return _target_request(request, self.model, self.config)
        if request.model == self.model:
            return request
        r = request  # only the model changes: the common case, without evolve()'s cost
        return Request(
            r.messages, self.model, r.temperature, r.max_tokens, r.tools, r.tool_choice,
            r.json_mode, r.stop, r.reasoning, r.extra, r.output,
        )  # fmt: skip


class _Target:
    """A built target: its spec, its provider and the retry policy taken off it."""

    __slots__ = (
        "box",
        "key",
        "one_attempt",
        "plans",
        "policy",
        "provider",
        "spec",
        "weight",
        "window",
    )

    def __init__(self, spec: TargetSpec, provider: Provider) -> None:
        self.spec = spec
        self.key = spec.key
        self.provider = provider
        self.policy: RetryPolicy = provider.retry_policy
        provider.retry_policy = RetryPolicy(max_retries=0)  # the router retries it
        self.one_attempt = type(provider)._call_upstream is Provider._call_upstream
        """Whether a call may go to :meth:`Provider._upstream_once`: the one attempt of
        the target's own ``_call_upstream``, without the retry layer the router has
        emptied (not for a target that routes, such as a router of its own)."""
        self.weight = spec.weight if spec.weight is not None else 1.0
        window = spec.context_window or provider.config.context_window
        self.window: int | None = window
        self.plans: dict[str, _Plan] = {}
        self.box = _BudgetBox()

    def observe(self, clock: Callable[[], float]) -> bool:
        """Ask the target's transport for its response headers (rate-limit budget)."""
        box = self.box  # not self: the transport holding the callback must not hold it

        def on_headers(headers: Mapping[str, str]) -> None:
            get = headers.get  # every response: the common case (no budget stated) inline
            for name in BUDGET_HEADERS:
                if get(name) is not None:
                    break
            else:
                return
            budget = budget_from_headers(headers, clock())
            if budget is not None:
                box.budget = budget

        return self.provider.observe_headers(on_headers)

    def take_budget(self) -> Budget | None:
        """The budget the last response's headers stated, once."""
        box = self.box
        budget, box.budget = box.budget, None
        return budget

    def plan(self, route: str) -> _Plan:
        """How this target takes ``route`` (a tier, the default, or a model); a
        :class:`ConfigurationError` if it has no model for it."""
        provider = self.provider
        plan = self.plans.get(route)
        if plan is not None and plan.config is provider.config:
            return plan
        config = provider.config
        if route == DEFAULT_ROUTE:
            model = provider.resolve_model()
        elif route.startswith(TIER_ROUTE):
            model = provider.model_for_tier(route[len(TIER_ROUTE) :])
        else:
            model = route
        defaults = config.temperature is not None or config.max_tokens is not None
        plan = _Plan(config, model, provider.capabilities(model), defaults)
        if len(self.plans) >= _MAX_ROUTES:
            self.plans.clear()
        self.plans[route] = plan
        return plan

    def model(self, route: str) -> str:
        """The model this target uses for ``route`` (a tier, the default, or a model)."""
        return self.plan(route).model

    def maps(self, route: str) -> bool:
        """Whether this target has a model for ``route``."""
        try:
            self.plan(route)
        except ConfigurationError:
            return False
        return True


class Router(Provider):
    """Routes each call over several providers: failover, load balancing and circuit
    breaking, decided by the typed error of each failed attempt (see docs/router.md).

    Options (profile keys, or keywords): ``targets`` (required), ``strategy``
    (``fallback``, ``weighted``, ``least-busy``, ``latency``), ``state`` (``"memory"``
    or a ``redis://`` URL), ``state_prefix``, ``max_attempts``, ``retry_after_cap``,
    ``quota_cooldown``, ``auth_cooldown``, ``failover_on``, ``breaker_failures``,
    ``breaker_window``, ``breaker_cooldown``. ``retry_deadline`` bounds the whole call.
    """

    name = "router"
    description = "Routes over several providers: failover, load balancing, circuit breaking"
    default_auth_method = "none"
    extra_fields: ClassVar[frozenset[str]] = ROUTER_FIELDS
    uses_registry: ClassVar[bool] = True
    defers_output_mode: ClassVar[bool] = True  # each target gives the strongest it has

    _settings: _Settings | None
    _clock: Callable[[], float]
    _rng: random.Random
    _order: Callable[[Sequence[float], Sequence[TargetState], random.Random], list[int]]
    _targets: list[_Target]
    _keys: list[str]
    _weights: list[float]
    _windows: bool
    _decide_options: dict[str, Any]

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        registry: Registry | None = None,
        state: StateBackend | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
        **kwargs: Any,
    ) -> None:
        own = {k: kwargs.pop(k) for k in list(kwargs) if k in ROUTER_FIELDS}
        if own:
            config = config if config is not None else ProviderConfig()
            config = config.evolve(extra={**config.extra, **own})
        self._settings = None
        super().__init__(config, **kwargs)  # validate_config() parses the settings
        settings = self.settings
        if registry is None:
            from ..registry import get_registry

            registry = get_registry()
        self._clock = clock or time.time
        self._rng = rng or random.Random()
        self._order = order_for(settings.strategy)
        self._targets = _build_targets(registry, settings.targets, self._clock)
        self._keys = [t.key for t in self._targets]
        self._weights = [t.weight for t in self._targets]
        self._windows = any(t.window is not None for t in self._targets)
        # the order of a strategy that needs no state (and of a single target): fixed
        fixed = settings.strategy == "fallback" or len(self._targets) == 1
        self._fixed_order: tuple[int, ...] | None = (
            tuple(range(len(self._targets))) if fixed else None
        )
        self._decide_options = {
            "retry_after_cap": settings.retry_after_cap,
            "quota_cooldown": settings.quota_cooldown,
            "auth_cooldown": settings.auth_cooldown,
            "failover_on": settings.failover_on,
        }
        self.state: StateBackend = (
            state
            if state is not None
            else open_state(self.config.extra.get("state"), prefix=_prefix(self.config))
        )
        """Where the targets' breakers, take-outs, budgets and latencies are kept."""
        self.call_options = frozenset.intersection(  # type: ignore[misc]  # per instance
            *(t.provider.call_options for t in self._targets)
        )

    @property
    def settings(self) -> _Settings:
        """The checked options."""
        assert self._settings is not None
        return self._settings

    @property
    def targets(self) -> tuple[Provider, ...]:
        """The targets' providers, in configured order."""
        return tuple(t.provider for t in self._targets)

    @property
    def target_keys(self) -> tuple[str, ...]:
        """The targets' names in the state (and in events and errors)."""
        return tuple(self._keys)

    def validate_config(self) -> None:
        """Parse and check the router's options (no key, no base URL: it has none)."""
        try:
            self._settings = parse_settings(self.config)
        except ConfigurationError as exc:
            exc.provider = exc.provider or self.name
            raise

    @property
    def base_url(self) -> str | None:
        """A name for this set of targets (it keeps two routers' cached answers apart)."""
        keys = ",".join(t.key for t in self.settings.targets)
        return f"router:{self.settings.strategy}:{keys}"

    def __repr__(self) -> str:
        keys = ", ".join(t.key for t in self.settings.targets)
        return f"<Router strategy={self.settings.strategy!r} targets=[{keys}]>"

    # -- models: a call's model or tier is mapped through each target ---------------------

    def resolve_model(self, model: str | None = None, tier: ModelTier | str | None = None) -> str:
        """The call's route: an explicit model (sent to every target as is), a tier
        (``@tier:hosted_large``, mapped through each target's own table) or
        ``@default`` (each target's own default model)."""
        if model:
            return model
        if tier is not None:
            return TIER_ROUTE + parse_tier(tier).value
        if self.config.model:
            return self.config.model
        return DEFAULT_ROUTE

    def model_for_tier(self, tier: ModelTier | str) -> str:
        """The route of ``tier``: each target maps it through its own tier table."""
        return TIER_ROUTE + parse_tier(tier).value

    def model_capabilities(self, model: str) -> Capabilities:
        """What any target can express for the route ``model``: a call is refused here
        only when no target could take it; each target then checks its own."""
        caps = [
            target.provider.capabilities(target.model(model))
            for target in self._targets
            if target.maps(model)
        ]
        return union(caps) if caps else Capabilities()

    def models_for(self, route: str) -> dict[str, str]:
        """Each target's model for ``route`` (a target with none is left out)."""
        out = {}
        for target in self._targets:
            try:
                out[target.key] = target.model(route)
            except ConfigurationError:
                continue
        return out

    # -- the routed call ----------------------------------------------------------------

    async def _call_upstream(self, request: Request) -> Response:
        hooks = self.hooks  # _notify_started(), inline: the common path
        if hooks is not None and hooks.has("jackfield_request_started"):
            hooks.call("jackfield_request_started", provider=self, request=request, attempt=1)
        _, response = await self._route(request, _generate, hold=False)
        return response

    def _upstream_stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        return self._routed_stream(request, _open_stream)

    async def _generate_structured(
        self, request: Request, response_cache: ResponseCache | None
    ) -> Response:
        """A structured call routed whole: each target gives the output in its own mode
        (tool, prompt, native) and validates it; a reply that does not fit fails over."""

        from ..provider._output import rebuild_parsed  # on first use: discovery stays light

        async def routed() -> Response:
            self._notify_started(request)
            _, response = await self._route(request, _generate_structured_on, hold=False)
            return response

        if response_cache is None:
            return await routed()
        response = await response_cache.generate(self, request, routed)
        if response.cached:
            assert request.output is not None
            try:
                return rebuild_parsed(response, request.output, self._secrets())
            except ProviderError as exc:
                raise self._finish_error(exc, request) from None
        return response

    def _stream_structured(
        self, request: Request, response_cache: ResponseCache | None
    ) -> AsyncIterator[StreamEvent]:
        """A structured stream routed whole, each target in its own mode."""
        from ..provider._output import rebuild_stream

        if response_cache is None:
            return self._routed_stream(request, _open_structured_stream)
        assert request.output is not None
        return rebuild_stream(
            response_cache.stream(
                self, request, lambda: self._routed_stream(request, _open_structured_stream)
            ),
            request.output,
        )

    async def _routed_stream(
        self,
        request: Request,
        opener: Callable[
            [_Target, Request], Awaitable[tuple[AsyncGenerator[StreamEvent, None], StreamEvent]]
        ],
    ) -> AsyncGenerator[StreamEvent, None]:
        self._notify_started(request)
        target, (stream, first) = await self._route(request, opener, hold=True)
        try:
            yield first
            async for event in stream:
                yield event
        except ProviderError as err:
            # Text has reached the caller: no failover, never a second answer appended.
            decision = decide(err, **self._decide_options)
            await self._record_failure(target, err, decision)
            raise
        finally:
            try:
                await stream.aclose()
            finally:
                await self.state.add_in_flight(target.key, -1)

    def _notify_started(self, request: Request) -> None:
        hooks = self.hooks
        if hooks is not None and hooks.has("jackfield_request_started"):
            hooks.call("jackfield_request_started", provider=self, request=request, attempt=1)

    async def _route(
        self,
        request: Request,
        attempt: Callable[[_Target, Request], Awaitable[T]],
        *,
        hold: bool,
    ) -> tuple[_Target, T]:
        """Try the targets in the strategy's order until one answers; see the module
        docstring. With ``hold`` the winning target's in-flight count stays raised (the
        caller lowers it when its stream ends).

        The common case (the first target is available and answers) costs one state
        read, the target's cached plan, one copy of the request for its model, one
        attempt and one state update; the rest is reached only by what it is for."""
        settings = self._settings
        assert settings is not None
        clock = self._clock
        state_backend = self.state
        deadline = self.config.retry_deadline
        began = time.monotonic() if deadline is not None else 0.0
        targets = self._targets
        # The memory state (the default) is read and changed here, in place, without a
        # coroutine or a call each: this path is most of the router's cost per call.
        memory = state_backend if type(state_backend) is MemoryState else None
        states: list[TargetState]
        if memory is not None:
            live = memory.states
            found: list[Any] = list(map(live.get, self._keys))  # None: a key not seen yet
            states = found if all(found) else await memory.load(self._keys)
        else:
            states = await state_backend.load(self._keys)
        order: Sequence[int] | None = self._fixed_order
        if order is None:
            order = self._order(self._weights, states, self._rng)
        if len(order) > 1:
            now = clock()
            low = [i for i in order if states[i].budget_low(now)]
            if low:
                order = [i for i in order if i not in low] + low
        route = request.model
        attempts = 0
        last: ProviderError | None = None
        failed: _Target | None = None
        skipped: list[str] = []
        config_error: ConfigurationError | None = None
        unsupported: UnsupportedFeatureError | None = None
        min_window: int | None = None
        estimates: dict[str, int] = {}
        for index in order:
            target = targets[index]
            state = states[index]
            now = clock()
            if state.blocked_until <= now and state.breaker == "closed":
                available = "yes"  # availability()'s common case, inline
            else:
                available = availability(state, now)
                if available != "probe":
                    skipped.append(_why_out(target, state, available, now))
                    continue
            plan = target.plans.get(route)
            if plan is None or plan.config is not target.provider.config:
                try:
                    plan = target.plan(route)
                except ConfigurationError as exc:
                    config_error = config_error or exc
                    skipped.append(f"{target.key}: {exc.message}")
                    continue
            if self._windows or min_window is not None:
                why = self._window_skip(target, request, plan.model, min_window, estimates)
                if why is not None:
                    skipped.append(why)
                    continue
            if available == "probe":
                taken, previous = await state_backend.update(
                    target.key, lambda s: begin_probe(s, clock(), settings.breaker)
                )
                if previous is not None:
                    self._emit(
                        RouterEvent(
                            kind="breaker", target=target.key, state="half_open", previous=previous
                        )
                    )
                if not taken:
                    skipped.append(f"{target.key}: a probe is in flight")
                    continue
            try:  # what this target cannot express skips it, before any I/O
                treq = check_request(plan.request(request), plan.caps, target.key)
            except UnsupportedFeatureError as exc:
                unsupported = unsupported or exc
                skipped.append(f"{target.key}: {exc.message}")
                continue
            tries = 0
            while True:
                if attempts >= settings.max_attempts:
                    raise _spent(last, attempts, f"its attempt budget ({attempts})", skipped)
                if deadline is not None:
                    elapsed = time.monotonic() - began
                    if elapsed >= deadline:
                        raise _spent(last, attempts, f"its deadline ({deadline:g} s)", skipped)
                if failed is not None and failed is not target:
                    self._emit(
                        RouterEvent(
                            kind="failover", target=failed.key, next_target=target.key, error=last
                        )
                    )
                    failed = None
                attempts += 1
                tries += 1
                started = time.perf_counter()
                if memory is not None:
                    lock = memory.lock  # acquire/release: cheaper than a with block
                    lock.acquire()
                    try:
                        (live.get(target.key) or memory.state(target.key)).in_flight += 1
                    finally:
                        lock.release()
                else:
                    await state_backend.add_in_flight(target.key, 1)
                try:
                    if deadline is None:
                        result = await attempt(target, treq)
                    else:
                        result = await _within(attempt(target, treq), deadline - elapsed, deadline)
                except ProviderError as err:
                    if err.attempts is None:  # an attempt of its own: one
                        err.attempts = 1
                    await state_backend.add_in_flight(target.key, -1)
                    decision = decide(err, **self._decide_options)
                    await self._record_failure(target, err, decision)
                    last = err
                    if decision.action is Action.RAISE:
                        err.attempts = attempts
                        raise
                    policy = target.policy
                    if decision.retry and tries <= policy.max_retries:
                        wait = policy.wait_for(err, tries)
                        fits = deadline is None or time.monotonic() - began + wait < deadline
                        if fits and attempts < settings.max_attempts:
                            notify = target.provider._on_retry(treq)
                            if notify is not None:
                                notify(err, tries, wait)
                            await _sleep(policy, wait)
                            continue
                    if decision.action is Action.LARGER_WINDOW:
                        seen = target.window or estimates.get(target.provider.tokenizer) or 0
                        min_window = max(min_window or 0, seen)
                    failed = target
                    break
                except BaseException:
                    await state_backend.add_in_flight(target.key, -1)
                    raise
                seconds = time.perf_counter() - started
                if memory is None:
                    await self._record_success(target, seconds, hold)
                    return target, result
                box = target.box  # take_budget(), inline
                budget = box.budget
                if budget is not None:
                    box.budget = None
                lock.acquire()
                try:
                    state = live.get(target.key) or memory.state(target.key)
                    previous = _succeeded(state, seconds, budget, not hold)
                finally:
                    lock.release()
                if previous is not None:
                    self._closed(target, previous)
                return target, result
        raise _nothing_left(last, attempts, skipped, config_error or unsupported)

    def _window_skip(
        self,
        target: _Target,
        request: Request,
        model: str,
        min_window: int | None,
        estimates: dict[str, int],
    ) -> str | None:
        """Why ``target``'s context window rules it out for this call, or ``None``."""
        window = target.window
        if min_window is not None and (window is None or window <= min_window):
            shown = "unknown" if window is None else str(window)
            return (
                f"{target.key}: context window {shown} is not larger than {min_window}, "
                "which the prompt exceeded"
            )
        if window is None:
            return None
        tokenizer = target.provider.tokenizer
        count = estimates.get(tokenizer)
        if count is None:
            count = target.provider.estimate_tokens(
                request.messages, model=model, tools=request.tools
            )
            estimates[tokenizer] = count
        if count > window:
            return (
                f"{target.key}: the prompt (~{count} tokens) exceeds its context window ({window})"
            )
        return None

    async def _record_success(self, target: _Target, seconds: float, hold: bool) -> None:
        """Record the latency, the budget the headers stated and the breaker's success;
        unless ``hold``, the call is no longer in flight."""
        budget = target.take_budget()
        done = not hold
        previous = await self.state.update(
            target.key, lambda state: _succeeded(state, seconds, budget, done)
        )
        if previous is not None:
            self._closed(target, previous)

    def _closed(self, target: _Target, previous: str) -> None:
        """Tell the observers ``target``'s breaker closed."""
        event = RouterEvent(kind="breaker", target=target.key, state="closed", previous=previous)
        self._emit(event)

    async def _record_failure(
        self, target: _Target, error: ProviderError, decision: Decision
    ) -> None:
        budget = target.take_budget()
        now = self._clock()
        settings = self.settings
        take_out = decision.take_out_for
        until = None if take_out is None else now + take_out

        def change(state: TargetState) -> str | None:
            if budget is not None:
                state.remaining_requests = budget.remaining_requests
                state.remaining_tokens = budget.remaining_tokens
                state.budget_reset = budget.reset
            if until is not None and until > state.blocked_until:
                state.blocked_until = until
                state.blocked_reason = error.error_type
            if decision.breaker:
                return on_failure(state, now, settings.breaker)
            if state.breaker == "half_open":  # the probe told nothing of its health
                state.probe_until = 0.0
            return None

        previous = await self.state.update(target.key, change)
        if until is not None:
            self._emit(RouterEvent(kind="take_out", target=target.key, error=error, until=until))
        if previous is not None:
            self._emit(
                RouterEvent(
                    kind="breaker", target=target.key, state="open", previous=previous, error=error
                )
            )

    def _emit(self, event: RouterEvent) -> None:
        hooks = self.hooks
        if hooks is not None and hooks.has("jackfield_router_event"):
            hooks.call("jackfield_router_event", provider=self, event=event)

    # -- state -------------------------------------------------------------------------

    async def status(self) -> list[dict[str, Any]]:
        """Each target with its state (breaker, take-out, budget, in flight, latency)."""
        return await router_status(self.settings.targets, self.state, self._clock())

    async def reset_state(self) -> None:
        """Forget every target's breaker, take-out, budget and latency (in the backend:
        with Redis, for every process)."""
        await self.state.reset(self._keys)

    # -- lifecycle ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every target's connections and the state backend's."""
        for target in self._targets:
            await target.provider.aclose()
        await self.state.aclose()

    def close_nowait(self) -> None:
        """Close the targets' connections without awaiting."""
        for target in self._targets:
            target.provider.close_nowait()

    async def _generate(self, request: Request) -> Response:  # pragma: no cover - unused
        raise AssertionError("the router's calls go through _route")


def _prefix(config: ProviderConfig) -> str:
    prefix = config.extra.get("state_prefix", "")
    if not isinstance(prefix, str):
        raise ConfigurationError("state_prefix must be a string", field="state_prefix")
    return prefix


def _build_targets(
    registry: Registry, specs: Sequence[TargetSpec], clock: Callable[[], float]
) -> list[_Target]:
    """Check every target names something (and no router profile leads back to itself)
    before creating any; then create each, fresh (the router owns them)."""
    for spec in specs:
        _check_target(registry, spec, ())
    out = []
    for spec in specs:
        try:
            provider = registry.create_provider(spec.spec, fresh=True, **spec.overrides)
        except ProviderNotFoundError as exc:  # a profile naming an unknown provider
            raise ConfigurationError(
                f"{spec.field} ({spec.spec!r}): {exc}", field=spec.field, provider="router"
            ) from None
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"{spec.field} ({spec.spec!r}): {exc.message}",
                field=f"{spec.field}.{exc.field}" if exc.field else spec.field,
                provider="router",
            ) from None
        target = _Target(spec, provider)
        target.observe(clock)
        out.append(target)
    return out


def _check_target(registry: Registry, spec: TargetSpec, path: tuple[str, ...]) -> None:
    from ..registry import normalize_name

    base, _ = registry.split_spec(spec.spec)
    key = normalize_name(base)
    profile = registry.profiles().get(key)
    if profile is None:
        missing = _not_registered(registry, base)
        if missing is not None:
            raise ConfigurationError(
                f"{spec.field}: unknown target {spec.spec!r}: {missing}",
                field=spec.field,
                provider="router",
            )
        return
    if normalize_name(str(profile.get("provider", ""))) != "router":
        return
    if key in path:
        chain = " -> ".join((*path, key))
        raise ConfigurationError(
            f"{spec.field}: a cycle of routers: {chain}", field=spec.field, provider="router"
        )
    strategy = str(profile.get("strategy", "fallback")).strip().lower().replace("_", "-")
    try:
        inner = parse_targets(profile.get("targets"), weighted=strategy == "weighted")
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{spec.field}: router profile {base!r}: {exc.message}",
            field=spec.field,
            provider="router",
        ) from None
    for child in inner:
        _check_target(registry, attrs.evolve(child, field=spec.field), (*path, key))


def _not_registered(registry: Registry, base: str) -> ProviderNotFoundError | None:
    """The lookup error for ``base`` (of its provider part, ``mokc`` of ``mokc:model``,
    which is what its suggestions are for), or ``None`` if it is registered."""
    for name in (base, base.partition(":")[0]):
        try:
            registry.get_provider_class(name)
        except ProviderNotFoundError as exc:
            error = exc
        else:
            return None if name == base else error
    return error


def _succeeded(
    state: TargetState, seconds: float, budget: Budget | None, done: bool
) -> BreakerState | None:
    """Record a success in ``state``: the latency, the budget the headers stated, the
    breaker's success and, if ``done``, the call no longer in flight (one update with
    the in-flight count: Redis state counts it apart). Returns the breaker's previous
    state if it closed."""
    if done:
        state.in_flight -= 1
    mean = state.latency
    state.latency = seconds if mean is None else mean + LATENCY_WEIGHT * (seconds - mean)
    if budget is not None:
        state.remaining_requests = budget.remaining_requests
        state.remaining_tokens = budget.remaining_tokens
        state.budget_reset = budget.reset
    return None if state.breaker == "closed" else on_success(state)


def _target_request(request: Request, model: str, config: ProviderConfig) -> Request:
    """``request`` for one target: its model, and its own config's defaults."""
    changes: dict[str, Any] = {}
    if request.model != model:
        changes["model"] = model
    if request.temperature is None and config.temperature is not None:
        changes["temperature"] = config.temperature
    if request.max_tokens is None and config.max_tokens is not None:
        changes["max_tokens"] = config.max_tokens
    if not changes:
        return request
    if len(changes) == 1 and "model" in changes:  # the common case, without evolve()'s cost
        r = request
        return Request(
            r.messages, model, r.temperature, r.max_tokens, r.tools, r.tool_choice,
            r.json_mode, r.stop, r.reasoning, r.extra, r.output,
        )  # fmt: skip
    return attrs.evolve(request, **changes)


# A target is called below its response cache and its call-level hooks (the router has
# its own of both): its upstream call, one attempt (its retry policy is the router's to
# run), with its request_started hook, deadline and error mapping.


def _generate(target: _Target, request: Request) -> Awaitable[Response]:
    # not a coroutine of its own: the target's, returned to be awaited
    if target.one_attempt:  # the target's retry layer is empty: its one attempt, direct
        return target.provider._upstream_once(request)
    return target.provider._call_upstream(request)


async def _generate_structured_on(target: _Target, request: Request) -> Response:
    from ..provider._output import generate_structured

    return await generate_structured(target.provider, request)


async def _open_stream(
    target: _Target, request: Request
) -> tuple[AsyncGenerator[StreamEvent, None], StreamEvent]:
    """Open a stream and read its first event (the target has read to the first content
    event by then): until this returns, a failure may fail over."""
    return await _first_event(target, target.provider._upstream_stream(request))


async def _open_structured_stream(
    target: _Target, request: Request
) -> tuple[AsyncGenerator[StreamEvent, None], StreamEvent]:
    """:func:`_open_stream` for a structured call, in the target's own mode."""
    from ..provider._output import stream_structured

    return await _first_event(target, stream_structured(target.provider, request))


async def _first_event(
    target: _Target, stream: AsyncGenerator[StreamEvent, None]
) -> tuple[AsyncGenerator[StreamEvent, None], StreamEvent]:
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        await stream.aclose()
        raise StreamError(
            "the stream ended before its first event", provider=target.provider.name
        ) from None
    except BaseException:
        await stream.aclose()
        raise
    return stream, first


async def _within(awaitable: Awaitable[T], seconds: float, deadline: float) -> T:
    import asyncio

    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            return await awaitable
    except TimeoutError:
        raise ProviderTimeoutError(
            f"the routed call's deadline ({deadline:g} s, retry_deadline) ran out",
            provider="router",
        ) from None


async def _sleep(policy: RetryPolicy, seconds: float) -> None:
    if policy.sleep is not None:
        await policy.sleep(seconds)
        return
    import asyncio

    await asyncio.sleep(seconds)


def _why_out(target: _Target, state: TargetState, available: str, now: float) -> str:
    if available == "blocked":
        if math.isinf(state.blocked_until):
            return f"{target.key}: out after {state.blocked_reason} (until its config changes)"
        left = state.blocked_until - now
        return f"{target.key}: out after {state.blocked_reason} ({left:.0f} s left)"
    if available == "open":
        return f"{target.key}: breaker open ({state.open_until - now:.0f} s left)"
    return f"{target.key}: breaker half-open, its probe in flight"


def _note(error: ProviderError, attempts: int, skipped: Sequence[str], why: str = "") -> None:
    error.attempts = attempts
    parts = [why] if why else []
    if skipped:
        parts.append("skipped: " + "; ".join(skipped))
    if parts:
        error.add_note("router: " + "; ".join(parts))


def _spent(
    last: ProviderError | None, attempts: int, what: str, skipped: Sequence[str]
) -> ProviderError:
    """The error once the routed call has spent its budget or deadline."""
    if last is None:
        last = ProviderTimeoutError(f"the routed call spent {what}", provider="router")
    _note(last, attempts, skipped, f"the call spent {what}")
    return last


def _nothing_left(
    last: ProviderError | None,
    attempts: int,
    skipped: Sequence[str],
    config_error: ConfigurationError | UnsupportedFeatureError | None,
) -> ProviderError:
    """The error when no target is left to try."""
    if last is not None:
        _note(last, attempts, skipped)
        return last
    if config_error is not None and all("context window" not in s for s in skipped):
        if isinstance(config_error, UnsupportedFeatureError):
            config_error.provider = "router"
            config_error.message = "no target can take this call: " + "; ".join(skipped)
            config_error.args = (config_error.message,)
        return config_error
    if skipped and all("context window" in s for s in skipped):
        err: ProviderError = ContextWindowExceededError(
            "the prompt fits no target's context window: " + "; ".join(skipped),
            provider="router",
        )
    else:
        err = ServerError(
            "no target is available: " + "; ".join(skipped), provider="router", retryable=True
        )
    err.attempts = attempts
    return err


async def router_status(
    specs: Sequence[TargetSpec], state: StateBackend, now: float | None = None
) -> list[dict[str, Any]]:
    """Each target of ``specs`` with its state in ``state`` (for ``jackfield router
    status``): no provider is created, so no key is needed."""
    now = time.time() if now is None else now
    states = await state.load([s.key for s in specs])
    rows = []
    for spec, st in zip(specs, states, strict=True):
        row: dict[str, Any] = {
            "target": spec.key,
            "weight": spec.weight,
            "context_window": spec.context_window,
            "available": availability(st, now),
        }
        row.update(st.to_dict())
        rows.append(row)
    return rows
