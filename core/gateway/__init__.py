"""``jackfield.gateway``: the server half of the proxy (``jackfield serve``).

An aiohttp server that holds the provider keys and serves three protocols on one port:
the jackfield proxy protocol and the tinyagent protocol on ``POST /api/stream`` (told
apart by the body), and OpenAI Chat Completions (``/v1/chat/completions``,
``/v1/models``); with client tokens (hashes only), per-token limits (memory or Redis),
metrics, an audit log and a graceful drain. See ``docs/gateway.md``.

Importing this package loads no aiohttp: :func:`create_app`, :func:`serve` and
:class:`Gateway` import it when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._audit import current_token_name
from ._config import GatewayConfig, LimitsConfig, config_from_mapping, load_config
from ._tokens import TokenRecord, TokenStore

if TYPE_CHECKING:
    from ._app import Gateway, create_app, gateway_of
    from ._serve import serve

__all__ = [
    "Gateway",
    "GatewayConfig",
    "LimitsConfig",
    "TokenRecord",
    "TokenStore",
    "config_from_mapping",
    "create_app",
    "current_token_name",
    "gateway_of",
    "load_config",
    "serve",
]

_LAZY = {"Gateway": "_app", "create_app": "_app", "gateway_of": "_app", "serve": "_serve"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jackfield.gateway' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
