"""``HTTPProvider``: the base for providers that speak HTTP themselves, over aiohttp.

It owns an ``HTTPClient`` (one aiohttp session per event loop, auth headers, bounded
bodies, error mapping, raw logging), created on first use so that discovering the plugin
never imports aiohttp. A subclass writes ``_generate`` (and optionally ``_stream``) with
``self.http.post_json`` / ``self.http.stream_sse``, and may override :meth:`error_for`
when its server answers failures with error bodies of its own. Request ids come from
:func:`~jackfield.wire._errors.request_id_from`, the one table of request-id headers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, ProviderError
from ..wire._errors import error_from_response
from ._base import Provider

if TYPE_CHECKING:
    from ..transport._http_client import HTTPClient, RawLog

__all__ = ["HTTPProvider"]


class HTTPProvider(Provider):
    """A provider that talks to ``base_url`` over aiohttp; requires a base URL."""

    raw_log: RawLog | None = None
    """Receives redacted requests, responses and chunks; set it on the instance."""

    _http_client: HTTPClient | None = None

    def validate_config(self) -> None:
        """A base URL is required (subclasses may supply ``default_base_url``)."""
        super().validate_config()
        if not self.base_url:
            raise ConfigurationError(
                "base_url is required",
                field="base_url",
                provider=self.name,
            )

    def default_headers(self) -> dict[str, str]:
        """Headers sent with every request: the key, as :attr:`auth_method` says."""
        from ..transport._http_client import auth_headers

        return auth_headers(self.auth_method, self.api_key)

    def error_for(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """The error for a non-2xx answer (``body`` is the bounded raw body).

        The default is the shared mapper, :func:`error_from_response`; override it for a
        protocol whose error bodies name their exact error class.
        """
        return error_from_response(
            status, headers, body, provider=self.name, secrets=self._secrets()
        )

    @property
    def http(self) -> HTTPClient:
        """The HTTP client (created on first use; imports aiohttp then)."""
        client = self._http_client
        if client is None:
            from ..transport._http_client import HTTPClient

            # Only an override is handed over: the default mapping is the client's own,
            # and a bound method would tie the client to this provider in a cycle.
            overridden = type(self).error_for is not HTTPProvider.error_for
            client = HTTPClient(
                self.name,
                self.config,
                headers=self.default_headers(),
                raw_log=self.raw_log,
                secrets=self._secrets(),
                error_for=self.error_for if overridden else None,
            )
            self._http_client = client
        return client

    def observe_headers(self, callback: Callable[[Mapping[str, str]], None]) -> bool:
        """See :meth:`Provider.observe_headers`: the HTTP client calls it."""
        self.http.on_headers = callback
        return True

    async def aclose(self) -> None:
        """Close this event loop's HTTP session."""
        if self._http_client is not None:
            await self._http_client.aclose()

    def close_nowait(self) -> None:
        """Close HTTP sessions without awaiting."""
        if self._http_client is not None:
            self._http_client.close_nowait()
