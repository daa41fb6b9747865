"""``max_response_bytes``: the one bounded reader of bodies and streams.

:func:`read_limited` joins any async byte iterator into one body and raises
:class:`APIError` once it exceeds the limit (or at once, when a declared
``content_length`` does). :class:`~jackfield.transport._http_client.HTTPClient` reads
aiohttp bodies through it (short-cutting only a body of known length within the limit);
a provider that reads bytes through an SDK's HTTP client wraps that client's byte
iterator with it, or a stream's with :func:`limit_stream` (:class:`StreamError`), so a
body over the configured maximum raises the same clear error whatever the transport.
:func:`json_body` decodes a whole body for all of them alike. No I/O library is imported
here.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from ..errors import APIError, StreamError
from ..wire._json import loads

__all__ = ["json_body", "limit_stream", "read_decoded_limited", "read_limited"]


async def read_limited(
    chunks: AsyncIterable[bytes],
    limit: int,
    *,
    content_length: int | str | None = None,
    provider: str | None = None,
    status_code: int | None = None,
) -> bytes:
    """Join ``chunks`` into one body; raise :class:`APIError` once it exceeds ``limit``.

    A ``content_length`` (a header value) above ``limit`` raises before anything is read.
    """
    _check_declared(content_length, limit, provider, status_code)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise APIError(
                f"response body exceeds max_response_bytes={limit}",
                provider=provider,
                status_code=status_code,
            )
        parts.append(chunk)
    return b"".join(parts)


def _check_declared(
    content_length: int | str | None, limit: int, provider: str | None, status_code: int | None
) -> None:
    """:class:`APIError` if a declared ``content_length`` exceeds ``limit``."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except (TypeError, ValueError):
        return
    if declared > limit:
        raise APIError(
            f"response body of {declared} bytes exceeds max_response_bytes={limit}",
            provider=provider,
            status_code=status_code,
        )


async def limit_stream(
    chunks: AsyncIterable[bytes], limit: int, *, provider: str | None = None
) -> AsyncIterator[bytes]:
    """Pass ``chunks`` through; raise :class:`StreamError` once their total exceeds ``limit``."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise StreamError(f"stream exceeds max_response_bytes={limit}", provider=provider)
        yield chunk


def json_body(
    body: bytes,
    *,
    provider: str | None = None,
    status_code: int | None = None,
    secrets: tuple[str, ...] = (),
) -> Any:
    """Decode a whole response body; :class:`APIError` (with the redacted body) if it is
    not JSON."""
    try:
        return loads(body)
    except ValueError:
        raise APIError(
            "the response body is not valid JSON",
            provider=provider,
            status_code=status_code,
            body=body,
            secrets=secrets,
        ) from None


async def read_decoded_limited(
    chunks: AsyncIterable[bytes],
    encoding: str | None,
    limit: int,
    *,
    content_length: int | str | None = None,
    provider: str | None = None,
    status_code: int | None = None,
) -> bytes:
    """Join and decode the raw ``chunks`` of a body sent with ``Content-Encoding:
    encoding``; :class:`APIError` once the *decoded* body exceeds ``limit``.

    gzip and deflate are inflated at most ``limit + 1`` bytes at a time, so a small
    compressed body that expands to gigabytes costs no more than the limit. A body of
    another encoding is returned as read (bounded, still encoded); a corrupt one is cut
    where it broke.
    """
    name = (encoding or "identity").strip().lower()
    if name not in ("gzip", "x-gzip", "deflate"):
        return await read_limited(
            chunks,
            limit,
            content_length=content_length,
            provider=provider,
            status_code=status_code,
        )
    import zlib

    too_big = APIError(
        f"response body exceeds max_response_bytes={limit} (decompressed)",
        provider=provider,
        status_code=status_code,
    )
    _check_declared(content_length, limit, provider, status_code)
    # gzip: its own header; deflate: zlib-wrapped (32 also accepts a gzip header).
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in name else 32 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            data = chunk
            while data and not inflate.eof:
                piece = inflate.decompress(data, limit - size + 1)
                size += len(piece)
                if size > limit:
                    raise too_big
                parts.append(piece)
                data = inflate.unconsumed_tail
    except zlib.error:
        pass  # a corrupt body: what decoded so far
    return b"".join(parts)
