"""What the wires share when they turn documents and audio into their own parts.

Documents: a PDF goes by base64 ``data`` (``application/pdf`` unless the part says
otherwise) or by ``url``; plain text by ``text``. Another media type is refused here,
before any I/O, naming it: the wires this package speaks take PDFs and text only.
"""

from __future__ import annotations

import re

from ..errors import UnsupportedFeatureError
from ..types import DocumentPart

__all__ = ["PDF", "audio_format", "document_media_type", "split_data_url", "titled"]

PDF = "application/pdf"

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)

_AUDIO_FORMATS = {"wav": "wav", "x-wav": "wav", "wave": "wav", "mpeg": "mp3", "mp3": "mp3"}


def split_data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64 data)`` of a ``data:...;base64,`` URL, else ``None``."""
    match = _DATA_URL.match(url)
    return (match.group(1), match.group(2)) if match else None


def document_media_type(part: DocumentPart, wire: str) -> str:
    """The media type of a document sent by data or URL: PDF unless given, and PDF only."""
    media = part.media_type or PDF
    if media != PDF:
        raise UnsupportedFeatureError(
            f"{wire} takes PDF documents (and plain text as DocumentPart(text=...)), not {media}",
            feature="documents",
        )
    return media


def titled(title: str | None, text: str) -> str:
    """A plain-text document as one text: its title, a blank line, then the text."""
    return f"{title}\n\n{text}" if title else text


def audio_format(media_type: str) -> str | None:
    """The short audio format (``wav``, ``mp3``) of an ``audio/*`` media type."""
    kind, _, sub = media_type.partition("/")
    return _AUDIO_FORMATS.get(sub.lower()) if kind.lower() == "audio" else None
