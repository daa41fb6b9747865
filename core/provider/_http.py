"""``HTTPProvider``: the base for providers that speak HTTP themselves, over aiohttp.

It owns an an ``HTTPClient`` (one aiohttp session per event loop,
auth headers, bounded bodies, error mapping, raw logging), created on first use so that
discovering the plugin never imports aiohttp. A subclass writes ``_generate`` (and
optionally ``_stream``) with ``self.http.post_json`` / ``self.http.stream_sse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from ._base import Provider

if TYPE_CHECKING:
    from ..transport._http_client import HTTPClient, RawLog

__all__ = ["HTTPProvider", "request_id_from_headers"]

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "apim-request-id")


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
                f"{self.name}: base_url is required",
                field="base_url",
                provider=self.name,
            )

    def default_headers(self) -> dict[str, str]:
        """Headers sent with every request: the key, as :attr:`auth_method` says."""
        from ..transport._http_client import auth_headers

        return auth_headers(self.auth_method, self.api_key)

    @property
    def http(self) -> HTTPClient:
        """The HTTP client (created on first use; imports aiohttp then)."""
        client = self._http_client
        if client is None:
            from ..transport._http_client import HTTPClient

            client = HTTPClient(
                self.name,
                self.config,
                headers=self.default_headers(),
                raw_log=self.raw_log,
                secrets=self._secrets(),
            )
            self._http_client = client
        return client

    async def aclose(self) -> None:
        """Close this event loop's HTTP session."""
        if self._http_client is not None:
            await self._http_client.aclose()

    def close_nowait(self) -> None:
        """Close HTTP sessions without awaiting."""
        if self._http_client is not None:
            self._http_client.close_nowait()


def request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    """The request id a server sent in one of the usual headers, if any."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None
