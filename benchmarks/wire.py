"""What the fake server answers: realistic OpenAI (Chat Completions and Responses),
Anthropic and Gemini bodies, rendered once.

Bodies follow what the real services send today (field for field, in their order), so
every client parses the same bytes it would parse in production. Stream chunks carry
one short word each, as model streams do.
"""

from __future__ import annotations

import json

MODEL_OPENAI = "bench-model"
MODEL_ANTHROPIC = "claude-bench"
MODEL_GEMINI = "gemini-2.5-flash"
PROMPT = "Say hello in a friendly way."
NON_STREAM_MAX_TOKENS = 64
"""``max_tokens`` of non-streamed calls; for a stream, ``max_tokens`` is the chunk count."""

TEXT = "Hello! How can I assist you today?"
WORDS = (" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def word(i: int) -> str:
    """The text of content chunk ``i`` of a stream."""
    return WORDS[i % len(WORDS)]


def stream_text(n: int) -> str:
    """The whole text a stream of ``n`` content chunks carries."""
    return "".join(word(i) for i in range(n))


# -- OpenAI Chat Completions ------------------------------------------------------------

_OPENAI_ID = "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
_FINGERPRINT = "fp_44709d6fcb"


def openai_body() -> bytes:
    """A non-streamed Chat Completions answer."""
    return _dumps(
        {
            "id": _OPENAI_ID,
            "object": "chat.completion",
            "created": 1741569952,
            "model": MODEL_OPENAI,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": TEXT,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 19,
                "completion_tokens": 10,
                "total_tokens": 29,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
        }
    ).encode()


def _openai_chunk(delta: dict[str, object], finish: str | None) -> str:
    return _dumps(
        {
            "id": _OPENAI_ID,
            "object": "chat.completion.chunk",
            "created": 1741569952,
            "model": MODEL_OPENAI,
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }
    )


def openai_stream(n: int) -> bytes:
    """An SSE stream of ``n`` content chunks, the finish chunk, usage and ``[DONE]``."""
    parts = [_openai_chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    parts += [_openai_chunk({"content": word(i)}, None) for i in range(n)]
    parts.append(_openai_chunk({}, "stop"))
    usage = _dumps(
        {
            "id": _OPENAI_ID,
            "object": "chat.completion.chunk",
            "created": 1741569952,
            "model": MODEL_OPENAI,
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
            "choices": [],
            "usage": {
                "prompt_tokens": 19,
                "completion_tokens": n,
                "total_tokens": 19 + n,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
        }
    )
    parts += [usage, "[DONE]"]
    return "".join(f"data: {p}\n\n" for p in parts).encode()


# -- Anthropic Messages -------------------------------------------------------------------

_ANTHROPIC_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"


def _anthropic_usage(output: int) -> dict[str, object]:
    return {
        "input_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
        "service_tier": "standard",
    }


def anthropic_body() -> bytes:
    """A non-streamed Messages answer."""
    return _dumps(
        {
            "id": _ANTHROPIC_ID,
            "type": "message",
            "role": "assistant",
            "model": MODEL_ANTHROPIC,
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": _anthropic_usage(10),
        }
    ).encode()


def anthropic_stream(n: int) -> bytes:
    """A Messages SSE stream with one text block of ``n`` deltas."""
    events: list[tuple[str, object]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": _ANTHROPIC_ID,
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL_ANTHROPIC,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _anthropic_usage(1),
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    events += [
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": word(i)},
            },
        )
        for i in range(n)
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": n},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {_dumps(data)}\n\n" for name, data in events).encode()


# -- OpenAI Responses ------------------------------------------------------------------------

_RESPONSE_ID = "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
_MESSAGE_ID = "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b"


def _responses_usage(output: int) -> dict[str, object]:
    return {
        "input_tokens": 19,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 19 + output,
    }


def _response(status: str, text: str | None, output: int) -> dict[str, object]:
    items: list[object] = []
    if text is not None:
        items.append(_responses_message(text, "completed"))
    return {
        "id": _RESPONSE_ID,
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL_OPENAI,
        "output": items,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": _responses_usage(output) if status != "in_progress" else None,
        "user": None,
        "metadata": {},
    }


def _responses_message(text: str, status: str) -> dict[str, object]:
    content = [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}]
    return {
        "id": _MESSAGE_ID,
        "type": "message",
        "status": status,
        "content": content if text else [],
        "role": "assistant",
    }


def responses_body() -> bytes:
    """A non-streamed Responses answer."""
    return _dumps(_response("completed", TEXT, 10)).encode()


def responses_stream(n: int) -> bytes:
    """A Responses SSE stream (``event:`` lines, no ``[DONE]``) of one message whose text
    comes in ``n`` ``response.output_text.delta`` events."""
    where = {"item_id": _MESSAGE_ID, "output_index": 0, "content_index": 0}
    empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    text = stream_text(n)
    events: list[dict[str, object]] = [
        {"type": "response.created", "response": _response("in_progress", None, 0)},
        {"type": "response.in_progress", "response": _response("in_progress", None, 0)},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _responses_message("", "in_progress"),
        },
        {"type": "response.content_part.added", **where, "part": empty},
    ]
    events += [
        {
            "type": "response.output_text.delta",
            **where,
            "delta": word(i),
            "logprobs": [],
            "obfuscation": "ReLAoBL6oNRsX"[: 16 - len(word(i)) % 16],
        }
        for i in range(n)
    ]
    done_part = {**empty, "text": text}
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": done_part},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": _responses_message(text, "completed"),
        },
        {"type": "response.completed", "response": _response("completed", text, n)},
    ]
    out = []
    for seq, event in enumerate(events):
        event["sequence_number"] = seq
        out.append(f"event: {event['type']}\ndata: {_dumps(event)}\n\n")
    return "".join(out).encode()


# -- Gemini generateContent --------------------------------------------------------------------

_GEMINI_RESPONSE_ID = "VJfyaP7eE_6zmtkP4qLV6Ao"
_GEMINI_THOUGHTS = 75
"""``thoughtsTokenCount``: gemini-2.5-flash thinks by default and says so in every chunk."""


def _gemini_usage(output: int) -> dict[str, object]:
    return {
        "promptTokenCount": 8,
        "candidatesTokenCount": output,
        "totalTokenCount": 8 + output + _GEMINI_THOUGHTS,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
        "thoughtsTokenCount": _GEMINI_THOUGHTS,
    }


def _gemini_answer(text: str, output: int, finished: bool) -> dict[str, object]:
    candidate: dict[str, object] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finished:
        candidate["finishReason"] = "STOP"
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": _gemini_usage(output),
        "modelVersion": MODEL_GEMINI,
        "responseId": _GEMINI_RESPONSE_ID,
    }


def gemini_body() -> bytes:
    """A non-streamed ``generateContent`` answer, pretty-printed (2-space indent, a
    trailing newline) as the Gemini API sends its JSON bodies."""
    return (json.dumps(_gemini_answer(TEXT, 10, True), indent=2) + "\n").encode()


def gemini_stream(n: int) -> bytes:
    """A ``streamGenerateContent?alt=sse`` stream of ``n`` chunks, one text part each.

    As the service sends it: ``data:`` lines framed by CRLF, no ``event:`` lines and no
    ``[DONE]``; every chunk repeats the (cumulative) ``usageMetadata``, ``modelVersion``
    and ``responseId``, and only the last, which carries the last word, has
    ``finishReason``. JSON as Google writes it in streams: ``": "`` after a key, no space
    after a comma.
    """
    out = []
    for i in range(n):
        chunk = _gemini_answer(word(i), i + 1, i == n - 1)
        out.append(f"data: {json.dumps(chunk, separators=(',', ': '))}\r\n\r\n")
    return "".join(out).encode()
