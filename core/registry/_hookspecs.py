"""Hook specifications: the points where a plugin extends jackfield.

Plugins implement hooks with :data:`jackfield.hookimpl`. Implementations may accept
fewer arguments than the specification names. Hooks are called with keyword arguments
only; a hook marked *firstresult* stops at the first implementation that returns
something other than ``None``. Observer hooks see no secrets: requests never carry the
API key, and providers and errors redact it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .._markers import PROJECT_NAME, hookimpl, hookspec

if TYPE_CHECKING:
    from typing import Any

    from ..errors import ProviderError
    from ..provider import Provider, RegisterProvider
    from ..types import Message, ModelTier, Request, Response, ToolSpec

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]


# --------------------------------------------------------------------------------------
# Registration hooks
# Called once per registry per plugin; a hook that raises isolates its plugin.
# --------------------------------------------------------------------------------------


@hookspec
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register provider classes.

    :param register: call ``register(ProviderClass, name=None, aliases=())``; the name
        defaults to the class's ``name`` attribute.

    Called once per registry, the first time a provider is looked up. An implementation
    that raises is isolated: its plugin is reported by ``jackfield plugins`` and the
    others still load.
    """


@hookspec
def jackfield_register_cache_backends(register: Callable[..., None]) -> None:
    """Register response-cache backends.

    :param register: call ``register(name, factory)``, where ``factory(**options)``
        returns an object implementing :class:`jackfield.cache.CacheBackend`.

    Called once per registry, when a cache backend is first looked up by name.
    """


# --------------------------------------------------------------------------------------
# First-result hooks
# Policy plugins decide; the first implementation returning non-None wins.
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def jackfield_model_for_tier(provider: Provider, tier: ModelTier) -> str | None:
    """Choose the model for ``tier`` on ``provider``.

    :param provider: the :class:`~jackfield.Provider` instance asking.
    :param tier: the requested :class:`~jackfield.ModelTier`.
    :return: a model id, or ``None`` to leave the choice to the provider's table.

    Called by :meth:`Provider.model_for_tier` after ``config.tier_models`` (which wins)
    and before the provider's own ``tier_models``. Stops at the first non-``None``.
    """


@hookspec(firstresult=True)
def jackfield_estimate_tokens(
    provider: Provider, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
) -> int | None:
    """Estimate the prompt tokens of ``messages`` (and ``tools``) for ``model``.

    :param provider: the :class:`~jackfield.Provider` instance making the call.
    :param model: the resolved model id.
    :param messages: the validated messages.
    :param tools: the validated tool specs (may be empty).
    :return: a token count, or ``None`` to fall back to jackfield's estimator.

    Called by :meth:`Provider.estimate_tokens`; must not do network I/O. Stops at the
    first non-``None``.
    """


# --------------------------------------------------------------------------------------
# Observer hooks
# Watch every call; return values are ignored, and one that raises is logged.
# --------------------------------------------------------------------------------------


@hookspec
def jackfield_request_started(provider: Provider, request: Request, attempt: int) -> None:
    """Observe a request about to be sent.

    :param provider: the :class:`~jackfield.Provider` instance making the call.
    :param request: the validated :class:`~jackfield.Request` (it carries no secrets).
    :param attempt: 1 for the first attempt, 2 for the first retry, and so on.

    Called once per attempt, before any I/O. Return values are ignored.
    """


@hookspec
def jackfield_response_received(
    provider: Provider, request: Request, response: Response, duration: float
) -> None:
    """Observe a successful answer.

    :param provider: the :class:`~jackfield.Provider` instance making the call.
    :param request: the validated :class:`~jackfield.Request` (it carries no secrets).
    :param response: the final response (for a stream, the one ``StreamEnd`` carries).
    :param duration: seconds from the call to its completion, retries included.

    Called once per successful call, cache hits included (``response.cached``).
    """


@hookspec
def jackfield_request_failed(
    provider: Provider, request: Request, error: ProviderError, duration: float
) -> None:
    """Observe a call that failed for good (after any retries).

    :param provider: the :class:`~jackfield.Provider` instance making the call.
    :param request: the validated :class:`~jackfield.Request` (it carries no secrets).
    :param error: the :class:`ProviderError` about to be raised; ``error.attempts`` is set.
    :param duration: seconds from the call to the failure, retries included.

    Called once per failed call. Return values are ignored.
    """


@hookspec
def jackfield_retrying(
    provider: Provider, request: Request, error: ProviderError, attempt: int, wait: float
) -> None:
    """Observe a retry about to happen.

    :param provider: the :class:`~jackfield.Provider` instance making the call.
    :param request: the validated :class:`~jackfield.Request` (it carries no secrets).
    :param error: the retryable error of attempt ``attempt``.
    :param attempt: the number of the attempt that failed (1 for the first).
    :param wait: the seconds the policy will sleep before the next attempt.

    Called before each retry's sleep. Return values are ignored.
    """


@hookspec
def jackfield_router_event(provider: Provider, event: Any) -> None:
    """Observe a router's failover, circuit-breaker change or take-out of a target.

    :param provider: the router (``jackfield.router.Router``) routing the call.
    :param event: a ``jackfield.router.RouterEvent``: ``kind`` is ``"failover"`` (the
        call moves from ``target`` to ``next_target`` after ``error``), ``"breaker"``
        (``target``'s breaker went from ``previous`` to ``state``) or ``"take_out"``
        (``target`` is out until ``until`` after ``error``).

    Called as each happens, within the routed call (the breaker's probe too). Return
    values are ignored.
    """


HOOK_NAMES: tuple[str, ...] = tuple(
    name for name in list(globals()) if name.startswith("jackfield_")
)
