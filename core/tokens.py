"""Offline prompt-token estimation.

Two counters share one entry point, :func:`estimate_tokens`:

* **tiktoken** (OpenAI-family models): the OpenAI cookbook's chat accounting with the
  model's real encoding (``o200k_base`` or ``cl100k_base``): per-message and per-name
  overheads, reply priming, tool schemas with the cookbook's per-function and
  per-property overheads, assistant tool calls, and a flat estimate per image.
* **heuristic** (everything else, and the fallback): ``ceil(utf8_bytes / 4)`` per piece
  of text with the same structure of overheads. It is monotonic: more input never gives
  fewer tokens.

tiktoken is imported lazily, and each encoding is loaded once per process. tiktoken
downloads its vocabulary files on first use; the load runs in a daemon thread bounded by
``JACKFIELD_TIKTOKEN_TIMEOUT`` seconds (default 3), and ``JACKFIELD_TOKENS_OFFLINE=1``
skips it. A load that fails or times out warns once (:class:`RuntimeWarning`, one short
line pointing at the caller's line), is remembered (never retried), and counting falls
back to the heuristic.
``TIKTOKEN_CACHE_DIR`` is the user's: this module never reads or writes it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from .types import AudioPart, CachePoint, DocumentPart, Message, TextPart, ToolCall, ToolSpec

if TYPE_CHECKING:
    from tiktoken import Encoding

__all__ = [
    "IMAGE_TOKENS",
    "encoding_for_model",
    "estimate_tokens",
    "get_encoding",
    "register_encoding",
]

# -- constants (see docs/tokens.md) -------------------------------------------------------

TOKENS_PER_MESSAGE: Final = 3
"""Cookbook overhead of one chat message (``<|start|>role ... <|end|>``), role excluded."""
TOKENS_PER_NAME: Final = 1
"""Cookbook overhead of a message's ``name`` (its text is counted too)."""
REPLY_PRIMING: Final = 3
"""Every reply is primed with ``<|start|>assistant<|message|>``."""
IMAGE_TOKENS: Final = 765
"""Flat estimate per image: OpenAI's high-detail cost of a 1024x1024 image (85 + 4 x 170)."""
PDF_PAGE_TOKENS: Final = 2000
"""Per PDF page: Anthropic documents 1,500 to 3,000 tokens a page (its text and image)."""
PDF_BYTES_PER_PAGE: Final = 50_000
"""A PDF's pages are guessed from its size; a document by URL counts as one page."""
AUDIO_TOKENS_PER_SECOND: Final = 32
"""Gemini's documented rate; OpenAI's audio models use fewer, so this errs high."""
AUDIO_BYTES_PER_SECOND: Final = 32_000
"""Seconds are guessed from the size as 16 kHz 16-bit mono WAV (a URL: ten seconds)."""
TOOL_CALL_TOKENS: Final = 3
"""Overhead of one assistant tool call, on top of its name and JSON arguments."""

FUNC_INIT_NEW: Final = 7
"""Cookbook per-function overhead for gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and o-series."""
FUNC_INIT_OLD: Final = 10
"""Cookbook per-function overhead for gpt-4 and gpt-3.5-turbo."""
PROP_INIT: Final = 3
PROP_KEY: Final = 3
ENUM_INIT: Final = -3
ENUM_ITEM: Final = 3
FUNC_END: Final = 12

HEURISTIC_BYTES_PER_TOKEN: Final = 4
HEURISTIC_TOKENS_PER_MESSAGE: Final = TOKENS_PER_MESSAGE + 1
"""Heuristic per-message overhead: the cookbook's 3 plus 1 for the role."""

DEFAULT_LOAD_TIMEOUT: Final = 3.0
TIMEOUT_ENV: Final = "JACKFIELD_TIKTOKEN_TIMEOUT"
OFFLINE_ENV: Final = "JACKFIELD_TOKENS_OFFLINE"

_FALLBACK_ENCODING: Final = "o200k_base"
_TOKENIZERS: Final = frozenset({"auto", "tiktoken", "heuristic"})

# -- model -> encoding ---------------------------------------------------------------------

_O200K = re.compile(r"(?:gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d+(?:-|$))")
_CL100K = re.compile(
    r"(?:gpt-4(?:-|$)|gpt-3\.5-turbo|gpt-35-turbo|text-embedding-3|text-embedding-ada-002)"
)
_OPENAI_LIKE = re.compile(r"(?:gpt-|chatgpt-|text-embedding-|o\d+(?:-|$))")
_LEGACY_0301 = re.compile(r"gpt-3\.5-turbo-0301|gpt-35-turbo-0301")


class _ModelInfo:
    __slots__ = ("encoding", "func_init", "per_message", "per_name")

    def __init__(self, encoding: str | None, per_message: int, per_name: int, func_init: int):
        self.encoding = encoding
        self.per_message = per_message
        self.per_name = per_name
        self.func_init = func_init


def _base_model(model: str) -> str:
    """``"openai/gpt-4o"`` -> ``"gpt-4o"``; ``"ft:gpt-4o-mini:org::id"`` -> ``"gpt-4o-mini"``."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    name = name.removeprefix("ft:")
    return name.split(":", 1)[0]


@functools.lru_cache(maxsize=1024)
def _model_info(model: str) -> _ModelInfo:
    name = _base_model(model)
    if _LEGACY_0301.match(name):
        return _ModelInfo("cl100k_base", 4, -1, FUNC_INIT_OLD)
    if _O200K.match(name):
        return _ModelInfo("o200k_base", TOKENS_PER_MESSAGE, TOKENS_PER_NAME, FUNC_INIT_NEW)
    if _CL100K.match(name):
        return _ModelInfo("cl100k_base", TOKENS_PER_MESSAGE, TOKENS_PER_NAME, FUNC_INIT_OLD)
    encoding = _FALLBACK_ENCODING if _OPENAI_LIKE.match(name) else None
    return _ModelInfo(encoding, TOKENS_PER_MESSAGE, TOKENS_PER_NAME, FUNC_INIT_NEW)


def encoding_for_model(model: str) -> str | None:
    """The tiktoken encoding name for ``model``, or ``None`` if it is not OpenAI-family.

    Matches by prefix, so dated snapshots, ``provider/`` prefixes and ``ft:`` fine-tunes
    resolve like their base model. Unknown names that look OpenAI (``gpt-*``, ``o<N>``,
    ``chatgpt-*``, ``text-embedding-*``) get ``o200k_base``.
    """
    return _model_info(model).encoding


# -- loading encodings ------------------------------------------------------------------


class _Loaded:
    """A loaded encoding with its bound ``encode_ordinary`` and a memo of short strings."""

    __slots__ = ("_memo", "encode", "encoding")

    _MEMO_MAX_CHARS = 64
    _MEMO_MAX_ENTRIES = 4096

    def __init__(self, encoding: Encoding) -> None:
        self.encoding = encoding
        self.encode: Callable[[str], list[int]] = encoding.encode_ordinary
        self._memo: dict[str, int] = {}

    def short_len(self, text: str) -> int:
        """Token count of a short string (role, name), memoized."""
        n = self._memo.get(text)
        if n is None:
            n = len(self.encode(text))
            if len(text) <= self._MEMO_MAX_CHARS:
                if len(self._memo) >= self._MEMO_MAX_ENTRIES:
                    self._memo.clear()
                self._memo[text] = n
        return n


_lock = threading.Lock()
_loaded: dict[str, _Loaded] = {}
_failed: dict[str, str] = {}
_warned: set[str] = set()
_load_locks: dict[str, threading.Lock] = {}


def register_encoding(name: str, encoding: Encoding) -> None:
    """Use ``encoding`` (a ``tiktoken.Encoding``) for encoding ``name`` from now on.

    For encodings built offline or loaded from your own files; it replaces any loaded
    encoding and clears a remembered load failure for ``name``.
    """
    if not callable(getattr(encoding, "encode_ordinary", None)):
        raise TypeError(f"expected a tiktoken.Encoding, got {type(encoding).__name__}")
    with _lock:
        _loaded[name] = _Loaded(encoding)
        _failed.pop(name, None)


def get_encoding(name: str) -> Encoding | None:
    """The tiktoken encoding ``name``, loaded once per process; ``None`` if unavailable.

    The first call tries ``tiktoken.get_encoding(name)`` in a daemon thread for at most
    ``$JACKFIELD_TIKTOKEN_TIMEOUT`` seconds (default 3), unless
    ``$JACKFIELD_TOKENS_OFFLINE`` is set. A failure or timeout warns once and is
    remembered: later calls return ``None`` at once.
    """
    state = _get_loaded(name)
    return None if state is None else state.encoding


def _get_loaded(name: str) -> _Loaded | None:
    state = _loaded.get(name)
    if state is not None:
        return state
    if name in _failed:
        return None
    with _lock:
        load_lock = _load_locks.setdefault(name, threading.Lock())
    with load_lock:
        state = _loaded.get(name)
        if state is not None or name in _failed:
            return state
        encoding, reason = _attempt_load(name)
        with _lock:
            state = _loaded.get(name)  # registered while we were loading: it wins
            if state is not None:
                return state
            if encoding is not None:
                state = _loaded[name] = _Loaded(encoding)
                return state
            _failed[name] = reason
            first = name not in _warned
            _warned.add(name)
    if first:  # after recording, so a warnings-as-errors filter cannot cause a retry
        warnings.warn(_failure_message(name, reason), RuntimeWarning, stacklevel=_caller_level())
    return None


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside jackfield (the
    user's line that asked for a count), not at one of ours."""
    import sys

    level = 1
    frame = sys._getframe(1)  # the caller of _caller_level is what warns: level 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _env_flag(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


def _load_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOAD_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_LOAD_TIMEOUT
    if value != value or value == float("inf"):  # NaN / inf
        return DEFAULT_LOAD_TIMEOUT
    return max(value, 0.0)


def _attempt_load(name: str) -> tuple[Encoding | None, str]:
    if _env_flag(OFFLINE_ENV):
        return None, f"{OFFLINE_ENV} is set, so the load was skipped"
    try:
        import tiktoken
    except ImportError as exc:  # pragma: no cover - tiktoken is a dependency
        return None, f"tiktoken is not importable ({exc})"
    timeout = _load_timeout()
    box: dict[str, Any] = {}
    done = threading.Event()

    def load() -> None:
        try:
            box["encoding"] = tiktoken.get_encoding(name)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=load, name=f"jackfield-tiktoken-{name}", daemon=True)
    thread.start()
    if not done.wait(timeout):
        return None, f"loading it did not finish within {timeout:g} s"
    error = box.get("error")
    if error is not None:
        return None, f"{type(error).__name__}: {error}"
    encoding: Encoding = box["encoding"]
    return encoding, ""


def _failure_message(name: str, reason: str) -> str:
    """One short line: what happened, and where the fix is told (docs/tokens.md)."""
    if reason.startswith(OFFLINE_ENV):
        return (
            f"tiktoken encoding {name!r} not loaded ({OFFLINE_ENV} is set): "
            "token counts are heuristic estimates"
        )
    reason = " ".join(reason.split())  # one line, however long the exception's text
    if len(reason) > 80:
        reason = reason[:77] + "..."
    return (
        f"tiktoken encoding {name!r} unavailable ({reason}): token counts are heuristic; "
        f"fill TIKTOKEN_CACHE_DIR or set {OFFLINE_ENV}=1 (see docs/tokens.md)"
    )


# -- counting ------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _call_arguments(call: ToolCall) -> str:
    if call.raw_arguments is not None:
        return call.raw_arguments
    return _json(call.arguments)


def _type_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return " | ".join(str(v) for v in value)
    return str(value)


_PROPERTY_KEYS: Final = frozenset({"type", "description", "enum"})


def _count_tiktoken(
    state: _Loaded, info: _ModelInfo, messages: Sequence[Message], tools: Sequence[ToolSpec]
) -> int:
    encode = state.encode
    short_len = state.short_len
    per_message = info.per_message
    per_name = info.per_name
    total = REPLY_PRIMING
    for message in messages:
        total += per_message + short_len(message.role)
        content = message.content
        if isinstance(content, str):
            if content:
                total += len(encode(content))
        else:
            for part in content:
                if isinstance(part, TextPart):
                    if part.text:
                        total += len(encode(part.text))
                else:
                    total += _part_tokens(part, lambda text: len(encode(text)))
        if message.name:
            total += per_name + short_len(message.name)
        for call in message.tool_calls:
            total += TOOL_CALL_TOKENS + short_len(call.name) + len(encode(_call_arguments(call)))
    if tools:
        total += _count_tools_tiktoken(encode, info.func_init, tools)
    return total


def _count_tools_tiktoken(
    encode: Callable[[str], list[int]], func_init: int, tools: Sequence[ToolSpec]
) -> int:
    total = 0
    for tool in tools:
        total += func_init
        description = tool.description or ""
        if description.endswith("."):
            description = description[:-1]
        total += len(encode(f"{tool.name}:{description}"))
        properties = tool.parameters.get("properties")
        if not isinstance(properties, Mapping) or not properties:
            continue
        total += PROP_INIT
        for key, raw_schema in properties.items():
            total += PROP_KEY
            schema: Mapping[str, Any] = raw_schema if isinstance(raw_schema, Mapping) else {}
            enum = schema.get("enum")
            if isinstance(enum, list | tuple) and enum:
                total += ENUM_INIT
                for item in enum:
                    text = item if isinstance(item, str) else _json(item)
                    total += ENUM_ITEM + len(encode(text))
            p_description = str(schema.get("description") or "")
            if p_description.endswith("."):
                p_description = p_description[:-1]
            total += len(encode(f"{key}:{_type_text(schema.get('type'))}:{p_description}"))
            extra = {k: v for k, v in schema.items() if k not in _PROPERTY_KEYS}
            if extra:  # nested schemas, defaults, bounds: beyond the cookbook, as JSON
                total += len(encode(_json(extra)))
    return total + FUNC_END


def _decoded_size(data: str | None) -> int:
    return len(data) * 3 // 4 if data else 0


def _part_tokens(part: object, count: Callable[[str], int]) -> int:
    """The estimate for a content part other than text: a document's own text, a PDF by
    pages, audio by seconds, an image at the flat rate, a cache point nothing."""
    if isinstance(part, CachePoint):
        return 0
    if isinstance(part, DocumentPart):
        if part.text is not None:
            return count(part.text) + (count(part.title) if part.title else 0)
        pages = max(1, -(-_decoded_size(part.data) // PDF_BYTES_PER_PAGE))
        return pages * PDF_PAGE_TOKENS
    if isinstance(part, AudioPart):
        seconds = -(-_decoded_size(part.data) // AUDIO_BYTES_PER_SECOND) if part.data else 10
        return max(1, seconds) * AUDIO_TOKENS_PER_SECOND
    return IMAGE_TOKENS


def _heuristic_len(text: str) -> int:
    n = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return -(-n // HEURISTIC_BYTES_PER_TOKEN)


def _count_heuristic(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
    hlen = _heuristic_len
    total = REPLY_PRIMING
    for message in messages:
        total += HEURISTIC_TOKENS_PER_MESSAGE
        content = message.content
        if isinstance(content, str):
            total += hlen(content)
        else:
            for part in content:
                total += hlen(part.text) if isinstance(part, TextPart) else _part_tokens(part, hlen)
        if message.name:
            total += TOKENS_PER_NAME + hlen(message.name)
        for call in message.tool_calls:
            total += TOOL_CALL_TOKENS + hlen(call.name) + hlen(_call_arguments(call))
    if tools:
        for tool in tools:
            total += FUNC_INIT_NEW + hlen(_json(tool.to_dict()))
        total += FUNC_END
    return total


def estimate_tokens(
    messages: Sequence[Message],
    *,
    model: str,
    tools: Sequence[ToolSpec] = (),
    tokenizer: str = "auto",
) -> int:
    """Estimate the prompt tokens of ``messages`` plus ``tools`` for ``model``, offline.

    :param tokenizer: ``"tiktoken"`` (OpenAI-family counting; a model with no known
        encoding uses ``o200k_base``), ``"heuristic"``, or ``"auto"`` (tiktoken when
        :func:`encoding_for_model` knows the model, else the heuristic).

    If the encoding cannot be loaded the heuristic is used (see :func:`get_encoding`).
    Never does network I/O beyond tiktoken's bounded first load of an encoding.
    """
    if tokenizer == "heuristic":
        return _count_heuristic(messages, tools)
    if tokenizer not in _TOKENIZERS:
        raise ValueError(f"tokenizer must be 'auto', 'tiktoken' or 'heuristic', not {tokenizer!r}")
    info = _model_info(model)
    name = info.encoding
    if name is None:
        if tokenizer == "auto":
            return _count_heuristic(messages, tools)
        name = _FALLBACK_ENCODING
    state = _loaded.get(name) or _get_loaded(name)
    if state is None:
        return _count_heuristic(messages, tools)
    return _count_tiktoken(state, info, messages, tools)


# -- test support ------------------------------------------------------------------------


def _reset_for_tests() -> None:
    """Forget loaded and registered encodings, remembered failures and warnings."""
    with _lock:
        _loaded.clear()
        _failed.clear()
        _warned.clear()
        _load_locks.clear()
    _model_info.cache_clear()


@contextmanager
def _isolated_state() -> Iterator[None]:
    """Start from a clean state and restore the previous one on exit (for tests)."""
    with _lock:
        saved = (dict(_loaded), dict(_failed), set(_warned))
    _reset_for_tests()
    try:
        yield
    finally:
        with _lock:
            _loaded.clear()
            _loaded.update(saved[0])
            _failed.clear()
            _failed.update(saved[1])
            _warned.clear()
            _warned.update(saved[2])
