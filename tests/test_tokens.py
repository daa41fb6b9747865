"""Tests for jackfield.tokens, with a tiny tiktoken encoding built offline."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import tiktoken
from hypothesis import HealthCheck, given, settings, strategies as st

from jackfield import tokens
from jackfield.provider import Provider
from jackfield.tokens import encoding_for_model, estimate_tokens, get_encoding, register_encoding
from jackfield.types import ImagePart, Message, Request, Response, TextPart, ToolCall, ToolSpec

PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Byte-level ranks plus a few merges. Each merge joins two existing tokens, so BPE can
# reach it; "hello" is built from "he" + "ll" -> "hell" -> "hello".
MERGES = [b"he", b"ll", b" w", b"or", b"us", b"er", b" t", b"hell", b"hello"]


def make_encoding(name: str = "test_bpe") -> tiktoken.Encoding:
    ranks = {bytes([i]): i for i in range(256)}
    for i, merge in enumerate(MERGES):
        ranks[merge] = 256 + i
    return tiktoken.Encoding(
        name=name,
        pat_str=PAT,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 256 + len(MERGES)},
    )


ENC = make_encoding()

# Hand counts with ENC (checked once against ENC in test_hand_counts_of_the_encoding):
#   "user" -> us|er = 2        "system" -> 6 bytes = 6      "assistant" -> 9
#   "tool" -> 4                "hello" -> 1                 " world" -> " w"|or|l|d = 4
#   "bob" -> 3                 "hi" -> 2


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Never let a test reach the real tiktoken download: offline unless a test says not.
    monkeypatch.setenv(tokens.OFFLINE_ENV, "1")
    monkeypatch.delenv(tokens.TIMEOUT_ENV, raising=False)
    with tokens._isolated_state():
        yield


@pytest.fixture
def enc() -> tiktoken.Encoding:
    register_encoding("o200k_base", ENC)
    register_encoding("cl100k_base", ENC)
    return ENC


def test_hand_counts_of_the_encoding() -> None:
    expected = {
        "user": 2,
        "system": 6,
        "assistant": 9,
        "tool": 4,
        "hello": 1,
        " world": 4,
        "hello world": 5,
        "bob": 3,
        "hi": 2,
    }
    assert {text: len(ENC.encode_ordinary(text)) for text in expected} == expected


# -- model -> encoding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-nano-2025-04-14", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini-2025-08-07", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o1-2024-12-17", "o200k_base"),
        ("o3", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("GPT-4o", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-3.5-turbo-0301", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-3-large", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        # unknown but OpenAI-looking
        ("gpt-6", "o200k_base"),
        ("gpt-4.7", "o200k_base"),
        ("o9-pro", "o200k_base"),
        # not OpenAI
        ("claude-sonnet-4-5", None),
        ("llama3.1:8b", None),
        ("mistral-large-latest", None),
        ("gemini-2.5-pro", None),
        ("omni", None),
        ("", None),
    ],
)
def test_encoding_for_model(model: str, encoding: str | None) -> None:
    assert encoding_for_model(model) == encoding


# -- tiktoken path: exact counts ----------------------------------------------------------


def test_single_message(enc: tiktoken.Encoding) -> None:
    # 3 per message + "user" 2 + "hello world" 5 + 3 priming
    assert estimate_tokens([Message.user("hello world")], model="gpt-4o") == 13


def test_empty_conversation_is_priming_only(enc: tiktoken.Encoding) -> None:
    assert estimate_tokens([], model="gpt-4o") == 3


def test_several_messages(enc: tiktoken.Encoding) -> None:
    messages = [Message.system("hi"), Message.user("hello"), Message.assistant("hello world")]
    # (3 + 6 + 2) + (3 + 2 + 1) + (3 + 9 + 5) + 3
    assert estimate_tokens(messages, model="gpt-4.1") == 37


def test_name_adds_one_plus_its_tokens(enc: tiktoken.Encoding) -> None:
    # 3 + "user" 2 + "hello" 1 + (1 + "bob" 3) + 3
    assert estimate_tokens([Message.user("hello", name="bob")], model="gpt-4o") == 13
    # an empty name counts nothing
    assert estimate_tokens([Message.user("hello", name="")], model="gpt-4o") == 9


def test_gpt_35_turbo_0301_overheads(enc: tiktoken.Encoding) -> None:
    # 4 per message + 2 + 1 + (-1 + 3) + 3
    assert estimate_tokens([Message.user("hello", name="bob")], model="gpt-3.5-turbo-0301") == 12
    # without a name: 4 + 2 + 1 + 3
    assert estimate_tokens([Message.user("hello")], model="gpt-3.5-turbo-0301") == 10
    # other 3.5 snapshots use the normal 3 and 1
    assert estimate_tokens([Message.user("hello", name="bob")], model="gpt-3.5-turbo") == 13


def test_content_parts_and_images(enc: tiktoken.Encoding) -> None:
    parts = [TextPart("hello"), ImagePart(url="https://example.com/a.png"), TextPart(" world")]
    # 3 + 2 + 1 + 765 + 4 + 3
    assert estimate_tokens([Message.user(parts)], model="gpt-4o") == 778
    assert tokens.IMAGE_TOKENS == 765


def test_assistant_tool_calls(enc: tiktoken.Encoding) -> None:
    call = ToolCall(id="call_1", name="hi", arguments={"a": 1})
    args = '{"a":1}'
    assert len(ENC.encode_ordinary(args)) == 7
    message = Message.assistant("", tool_calls=[call])
    # 3 + "assistant" 9 + (3 + "hi" 2 + args 7) + 3
    assert estimate_tokens([message], model="gpt-4o") == 27
    # raw (unparsed) arguments are counted as streamed
    raw = ToolCall(id="call_1", name="hi", raw_arguments="{oops")
    assert len(ENC.encode_ordinary("{oops")) == 5
    assert estimate_tokens([Message.assistant(tool_calls=[raw])], model="gpt-4o") == 25


def test_tool_result_message(enc: tiktoken.Encoding) -> None:
    # tool_call_id is not part of the rendered prompt: 3 + "tool" 4 + "hello" 1 + 3
    assert estimate_tokens([Message.tool("call_1", "hello")], model="gpt-4o") == 11


WEATHER = ToolSpec(
    name="hi",
    description="hello.",  # the final "." is dropped, as in the cookbook
    parameters={
        "type": "object",
        "properties": {
            "us": {"type": "er", "description": "hello."},
            "t": {"type": "er", "enum": ["hello", "user"]},
        },
        "required": ["us"],
    },
)


def test_tools_cookbook_overheads(enc: tiktoken.Encoding) -> None:
    assert len(ENC.encode_ordinary("hi:hello")) == 4  # h i : hello
    assert len(ENC.encode_ordinary("us:er:hello")) == 5  # us : er : hello
    assert len(ENC.encode_ordinary("t:er:")) == 4  # t : er :
    messages = [Message.user("hello")]
    base = 3 + 2 + 1 + 3
    tools_new = (
        7  # func_init (gpt-4o family)
        + 4  # "hi:hello"
        + 3  # prop_init
        + 3  # prop_key "us"
        + 5  # "us:er:hello"
        + 3  # prop_key "t"
        - 3  # enum_init
        + (3 + 1)  # enum_item + "hello"
        + (3 + 2)  # enum_item + "user"
        + 4  # "t:er:"
        + 12  # func_end
    )
    assert tools_new == 47
    assert estimate_tokens(messages, model="gpt-4o", tools=[WEATHER]) == base + 47
    assert estimate_tokens(messages, model="o3-mini", tools=[WEATHER]) == base + 47
    # older models: func_init 10
    assert estimate_tokens(messages, model="gpt-4", tools=[WEATHER]) == base + 50
    assert estimate_tokens(messages, model="gpt-3.5-turbo", tools=[WEATHER]) == base + 50


def test_tools_func_end_once_and_empty_properties(enc: tiktoken.Encoding) -> None:
    bare = ToolSpec(name="hi")  # "hi:" = 3 tokens, no properties
    assert len(ENC.encode_ordinary("hi:")) == 3
    one = estimate_tokens([], model="gpt-4o", tools=[bare])
    two = estimate_tokens([], model="gpt-4o", tools=[bare, bare])
    assert one == 3 + 7 + 3 + 12
    assert two == 3 + 2 * (7 + 3) + 12


def test_nested_schema_counted_as_json(enc: tiktoken.Encoding) -> None:
    nested = ToolSpec(
        name="hi",
        parameters={"type": "object", "properties": {"t": {"type": "er", "items": {}}}},
    )
    extra = '{"items":{}}'
    n_extra = len(ENC.encode_ordinary(extra))
    plain = ToolSpec(name="hi", parameters={"type": "object", "properties": {"t": {"type": "er"}}})
    with_extra = estimate_tokens([], model="gpt-4o", tools=[nested])
    assert with_extra == estimate_tokens([], model="gpt-4o", tools=[plain]) + n_extra


def test_special_token_text_does_not_raise(enc: tiktoken.Encoding) -> None:
    text = "hello <|endoftext|> world"
    with pytest.raises(ValueError, match="disallowed special token"):
        ENC.encode(text)  # what a naive encode would do
    n = len(ENC.encode_ordinary(text))
    assert n == len(ENC.encode(text, disallowed_special=()))
    assert estimate_tokens([Message.user(text)], model="gpt-4o") == 3 + 2 + n + 3
    call = ToolCall(id="c", name="<|endoftext|>", arguments={"x": "<|endoftext|>"})
    tool = ToolSpec(name="<|endoftext|>", description="<|endoftext|>")
    assert estimate_tokens([Message.assistant(tool_calls=[call])], model="gpt-4o", tools=[tool])


def test_lone_surrogates_do_not_raise(enc: tiktoken.Encoding) -> None:
    assert estimate_tokens([Message.user("a\ud800b")], model="gpt-4o") > 6
    assert estimate_tokens([Message.user("a\ud800b")], model="claude-3-5-haiku") > 7


def test_correct_encoding_is_used_per_model() -> None:
    other = tiktoken.Encoding(
        name="bytes_only",
        pat_str=PAT,
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    register_encoding("o200k_base", ENC)
    register_encoding("cl100k_base", other)
    # "hello" is 1 token in ENC, 5 bytes in `other`; "user" 2 vs 4
    assert estimate_tokens([Message.user("hello")], model="gpt-4o") == 3 + 2 + 1 + 3
    assert estimate_tokens([Message.user("hello")], model="gpt-4") == 3 + 4 + 5 + 3
    assert get_encoding("o200k_base") is ENC
    assert get_encoding("cl100k_base") is other


# -- tokenizer selection ------------------------------------------------------------------


def test_auto_uses_heuristic_for_non_openai_models(enc: tiktoken.Encoding) -> None:
    messages = [Message.user("hello world")]
    heuristic = estimate_tokens(messages, model="gpt-4o", tokenizer="heuristic")
    assert estimate_tokens(messages, model="claude-sonnet-4-5") == heuristic
    assert estimate_tokens(messages, model="gpt-4o") == 13 != heuristic


def test_forced_tiktoken_uses_o200k_for_unknown_models(enc: tiktoken.Encoding) -> None:
    messages = [Message.user("hello world")]
    assert estimate_tokens(messages, model="llama3.1:8b", tokenizer="tiktoken") == 13


def test_unknown_tokenizer_rejected() -> None:
    with pytest.raises(ValueError, match="tokenizer must be"):
        estimate_tokens([Message.user("x")], model="gpt-4o", tokenizer="sentencepiece")


# -- heuristic ----------------------------------------------------------------------------


def test_heuristic_exact_counts() -> None:
    h = tokens._heuristic_len
    assert [h(""), h("a"), h("abcd"), h("abcde"), h("é"), h("日本語")] == [0, 1, 1, 2, 1, 3]
    # per message 4, ceil(11 / 4) = 3, priming 3
    assert estimate_tokens([Message.user("hello world")], model="x", tokenizer="heuristic") == 10
    # name: 1 + ceil(3 / 4)
    named = [Message.user("hello world", name="bob")]
    assert estimate_tokens(named, model="x", tokenizer="heuristic") == 12
    # image parts: flat 765
    parts = [Message.user([TextPart("abcd"), ImagePart(data="AAAA")])]
    assert estimate_tokens(parts, model="x", tokenizer="heuristic") == 4 + 1 + 765 + 3
    # tool call: 3 + ceil(len("hi") / 4) + ceil(len('{"a":1}') / 4)
    call = Message.assistant(tool_calls=[ToolCall(id="c", name="hi", arguments={"a": 1})])
    assert estimate_tokens([call], model="x", tokenizer="heuristic") == 4 + (3 + 1 + 2) + 3
    # tools: 7 + ceil(len(compact JSON) / 4) each, 12 once
    spec = ToolSpec(name="hi")
    schema = '{"name":"hi","description":"","parameters":{"type":"object","properties":{}}}'
    assert tokens._json(spec.to_dict()) == schema
    assert len(schema) == 77  # ceil(77 / 4) = 20
    assert estimate_tokens([], model="x", tools=[spec], tokenizer="heuristic") == 3 + 7 + 20 + 12


def test_heuristic_positive_for_any_message() -> None:
    assert estimate_tokens([Message.user("")], model="x", tokenizer="heuristic") > 0


TEXT = st.text(max_size=60)


def _grow(msgs: list[Message], extra: str) -> list[Message]:
    last = msgs[-1]
    return [*msgs[:-1], Message(last.role, last.text + extra, name=last.name)]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(TEXT, min_size=1, max_size=4),
    extra=TEXT,
    name=st.none() | st.text(min_size=1, max_size=8),
    model=st.sampled_from(["gpt-4o", "gpt-4", "gpt-3.5-turbo-0301", "claude-3-5-haiku"]),
    tokenizer=st.sampled_from(["auto", "heuristic"]),
)
def test_heuristic_monotonic(
    texts: list[str], extra: str, name: str | None, model: str, tokenizer: str
) -> None:
    """Appending text, a message, a name or a tool never lowers the heuristic count."""
    msgs = [Message.user(t) for t in texts]
    base = estimate_tokens(msgs, model=model, tokenizer="heuristic")
    assert base > 0
    assert estimate_tokens(_grow(msgs, extra), model=model, tokenizer="heuristic") >= base
    more = [*msgs, Message.assistant(extra)]
    assert estimate_tokens(more, model=model, tokenizer="heuristic") > base
    named = [*msgs[:-1], Message.user(msgs[-1].text, name=name)]
    assert estimate_tokens(named, model=model, tokenizer="heuristic") >= base
    tool = ToolSpec(name=extra or "t", description=extra)
    assert estimate_tokens(msgs, model=model, tools=[tool], tokenizer="heuristic") > base


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(TEXT, min_size=1, max_size=4),
    extra=TEXT,
    model=st.sampled_from(["gpt-4o", "gpt-4", "gpt-3.5-turbo-0301"]),
)
def test_tiktoken_monotonic(texts: list[str], extra: str, model: str) -> None:
    """With the test encoding, appending text or messages never lowers the count."""
    register_encoding("o200k_base", ENC)
    register_encoding("cl100k_base", ENC)
    msgs = [Message.user(t) for t in texts]
    base = estimate_tokens(msgs, model=model)
    assert base > 0
    assert estimate_tokens(_grow(msgs, extra), model=model) >= base
    assert estimate_tokens([*msgs, Message.assistant(extra)], model=model) > base
    assert estimate_tokens([*msgs, Message.user(extra, name="bob")], model=model) > base


# -- loading, offline behaviour, timeouts ----------------------------------------------------


def _record(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    return result, list(caught)


def test_import_is_lazy() -> None:
    code = (
        "import sys, jackfield, jackfield.tokens; "
        "assert 'tiktoken' not in sys.modules, 'tiktoken imported at module level'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_offline_switch_falls_back_and_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: calls.append(name))
    messages = [Message.user("hello world")]
    heuristic = estimate_tokens(messages, model="gpt-4o", tokenizer="heuristic")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [estimate_tokens(messages, model="gpt-4o") for _ in range(5)]
        results.append(estimate_tokens(messages, model="gpt-4o-mini", tokenizer="tiktoken"))
    assert results == [heuristic] * 6
    assert calls == []  # the offline switch skips the attempt entirely
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    text = str(runtime[0].message)
    assert "o200k_base" in text
    assert tokens.OFFLINE_ENV in text  # the switch the user set: nothing to fix
    assert get_encoding("o200k_base") is None


def test_one_warning_per_encoding_name() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for model in ["gpt-4o", "gpt-4", "gpt-4o", "gpt-4", "o3"]:
            estimate_tokens([Message.user("hi")], model=model)
    names = sorted(str(w.message).split("'")[1] for w in caught)
    assert names == ["cl100k_base", "o200k_base"]


def test_pytest_warns_offline() -> None:
    with pytest.warns(RuntimeWarning, match="not loaded"):
        assert get_encoding("cl100k_base") is None


def test_cache_dir_env_is_untouched(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    with pytest.warns(RuntimeWarning):
        estimate_tokens([Message.user("hi")], model="gpt-4o")
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    with pytest.warns(RuntimeWarning):
        estimate_tokens([Message.user("hi")], model="gpt-4")
    assert "TIKTOKEN_CACHE_DIR" not in os.environ


@pytest.fixture
def hanging_loader(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """tiktoken.get_encoding that sleeps 30 s (released at teardown)."""
    release = threading.Event()
    calls: list[str] = []

    def hang(name: str) -> Any:
        calls.append(name)
        release.wait(30)
        return ENC

    monkeypatch.delenv(tokens.OFFLINE_ENV)
    monkeypatch.setenv(tokens.TIMEOUT_ENV, "0.2")
    monkeypatch.setattr(tiktoken, "get_encoding", hang)
    yield calls
    release.set()


def test_hanging_load_times_out_and_warns_once(hanging_loader: list[str]) -> None:
    messages = [Message.user("hello world")]
    heuristic = estimate_tokens(messages, model="gpt-4o", tokenizer="heuristic")
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = estimate_tokens(messages, model="gpt-4o")
        first_elapsed = time.monotonic() - start
        again = [estimate_tokens(messages, model="gpt-4o") for _ in range(3)]
    total_elapsed = time.monotonic() - start
    assert first == heuristic
    assert again == [heuristic] * 3
    assert 0.15 <= first_elapsed < 2.0
    assert total_elapsed < 2.0  # later calls do not wait again
    assert hanging_loader == ["o200k_base"]  # never retried
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert "did not finish within 0.2 s" in str(caught[0].message)


def test_hanging_load_in_many_threads_loads_once(hanging_loader: list[str]) -> None:
    results: list[int] = []

    def work() -> None:
        results.append(estimate_tokens([Message.user("hi")], model="gpt-4o"))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=work) for _ in range(8)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert time.monotonic() - start < 2.0
    assert len(results) == 8
    assert len(set(results)) == 1
    assert hanging_loader == ["o200k_base"]
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1


def test_failing_load_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fail(name: str) -> Any:
        calls.append(name)
        raise ConnectionError("no route to host")

    monkeypatch.delenv(tokens.OFFLINE_ENV)
    monkeypatch.setattr(tiktoken, "get_encoding", fail)
    with pytest.warns(RuntimeWarning, match="ConnectionError: no route to host"):
        assert get_encoding("o200k_base") is None
    _, caught = _record(estimate_tokens, [Message.user("hi")], model="gpt-4o")
    assert caught == []
    assert calls == ["o200k_base"]


def test_warnings_as_errors_still_remember_failure() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning):
            estimate_tokens([Message.user("hi")], model="gpt-4o")
        # the failure was recorded before warning: no second warning, heuristic count
        heuristic = estimate_tokens([Message.user("hi")], model="gpt-4o", tokenizer="heuristic")
        assert estimate_tokens([Message.user("hi")], model="gpt-4o") == heuristic


def test_successful_load_happens_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def load(name: str) -> tiktoken.Encoding:
        calls.append(name)
        time.sleep(0.05)
        return ENC

    monkeypatch.delenv(tokens.OFFLINE_ENV)
    monkeypatch.setattr(tiktoken, "get_encoding", load)
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(estimate_tokens([Message.user("hello")], model="o1"))
        )
        for _ in range(8)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results == [9] * 8
    assert calls == ["o200k_base"]
    assert get_encoding("o200k_base") is ENC


def test_register_after_failure_recovers() -> None:
    with pytest.warns(RuntimeWarning):
        assert get_encoding("o200k_base") is None
    register_encoding("o200k_base", ENC)
    assert get_encoding("o200k_base") is ENC
    assert estimate_tokens([Message.user("hello world")], model="gpt-4o") == 13


def test_register_rejects_non_encodings() -> None:
    not_an_encoding: Any = object()
    with pytest.raises(TypeError, match=r"tiktoken\.Encoding"):
        register_encoding("o200k_base", not_an_encoding)


def test_isolated_state_restores() -> None:
    register_encoding("o200k_base", ENC)
    with tokens._isolated_state():
        assert tokens._loaded == {}
    assert get_encoding("o200k_base") is ENC


@pytest.mark.parametrize(("raw", "value"), [("", 3.0), ("0.5", 0.5), ("x", 3.0), ("-1", 0.0)])
def test_timeout_env_parsing(monkeypatch: pytest.MonkeyPatch, raw: str, value: float) -> None:
    monkeypatch.setenv(tokens.TIMEOUT_ENV, raw)
    assert tokens._load_timeout() == value


# -- the fallback warning: one short line, at the caller's line ---------------------------------


class _TiktokenCounted(Provider):
    name = "tiktoken-counted"
    requires_api_key = False
    tokenizer = "tiktoken"
    default_model = "gpt-4o"

    async def _generate(self, request: Request) -> Response:
        return Response("", request.model, self.name)


def test_the_offline_warning_is_one_short_line_at_the_callers_line() -> None:
    _, caught = _record(estimate_tokens, [Message.user("hi")], model="gpt-4o")
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "\n" not in text and len(text) < 200, text
    assert "o200k_base" in text and tokens.OFFLINE_ENV in text
    assert caught[0].filename == __file__  # the line that asked, not one of jackfield's
    with tokens._isolated_state(), warnings.catch_warnings(record=True) as through:
        warnings.simplefilter("always")
        _TiktokenCounted().estimate_tokens("hi")  # through the provider
    assert [w.filename for w in through] == [__file__]


def test_a_failed_load_warns_one_short_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> Any:
        raise ConnectionError("HTTPSConnectionPool(host='x'): Max retries exceeded\n" * 20)

    monkeypatch.delenv(tokens.OFFLINE_ENV)
    monkeypatch.setattr(tiktoken, "get_encoding", fail)
    _, caught = _record(estimate_tokens, [Message.user("hi")], model="gpt-4o")
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "\n" not in text and len(text) < 300, text
    assert "ConnectionError" in text and "TIKTOKEN_CACHE_DIR" in text
    assert "docs/tokens.md" in text
    assert caught[0].filename == __file__
