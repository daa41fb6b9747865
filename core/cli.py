"""The ``jackfield`` command line.

``jackfield prompt TEXT`` streams an answer to stdout; ``providers``, ``plugins``,
``tiers``, ``capabilities`` and ``tokens`` inspect the registry; ``cache stats`` and
``cache clear`` operate the response cache; ``router status`` shows router profiles'
targets and their state; ``serve`` runs the gateway and ``gateway token
create|list|revoke`` manages its client tokens. Bad input prints one line to stderr
and exits non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from .errors import ConfigurationError, JackfieldError, ProviderError

if TYPE_CHECKING:
    from .provider import Provider
    from .types import Capabilities, Response

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Out(Protocol):
    """Where the commands write: a text stream, or :class:`_Replacing` around one."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _config_options() -> _Parser:
    """The options that configure a provider, shared by prompt, tiers and tokens."""
    parent = _Parser(add_help=False)
    parent.add_argument("--base-url", metavar="URL", help="the provider's base URL")
    parent.add_argument(
        "--api-key-env", metavar="NAME", help="read the API key from this environment variable"
    )
    parent.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a config field, e.g. -o max_retries=0 (VALUE is JSON if it parses, else text)",
    )
    return parent


def _cache_options(suppress: bool) -> _Parser:
    """``--cache`` and ``--json`` of ``cache``, accepted before or after the action."""
    parent = _Parser(add_help=False)
    default = argparse.SUPPRESS if suppress else None
    spec_help = "backend spec (default: $JACKFIELD_CACHE, else 'sqlite:' in the user cache dir)"
    parent.add_argument("--cache", metavar="SPEC", help=spec_help, default=default)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if suppress else False
    )
    return parent


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jackfield", description="One registry for every LLM provider.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    config = _config_options()

    p = sub.add_parser("prompt", help="send a prompt and stream the answer", parents=[config])
    p.add_argument("text", nargs="?", help="the prompt (read from stdin if omitted)")
    p.add_argument("-p", "--provider", help="provider, profile or provider:model")
    p.add_argument("-m", "--model", help="model id")
    p.add_argument("-t", "--tier", help="local_small, hosted_small or hosted_large")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    p.add_argument("--json", action="store_true", help="print the final response as JSON")
    p.add_argument(
        "--cache", metavar="SPEC", help="response cache spec (default: $JACKFIELD_CACHE, else none)"
    )

    p = sub.add_parser("providers", help="list registered providers")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("plugins", help="list loaded plugins and load failures")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tiers", help="show a provider's tier-to-model table", parents=[config])
    p.add_argument("provider")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "capabilities",
        help="show what a provider (and model) can be asked for (offline)",
        parents=[config],
    )
    p.add_argument("provider")
    p.add_argument("-m", "--model", help="model id (default: the provider's default model)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tokens", help="estimate the tokens of a prompt (offline)", parents=[config])
    p.add_argument("text", nargs="?", help="the text (read from stdin if omitted)")
    p.add_argument("-p", "--provider")
    p.add_argument("-m", "--model")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("router", help="router profiles: their targets and each target's state")
    actions = p.add_subparsers(dest="router_action", metavar="ACTION", parser_class=_Parser)
    p = actions.add_parser(
        "status", help="each target's breaker, take-out, budget, calls in flight and latency"
    )
    p.add_argument("profile", nargs="?", help="a router profile (default: all of them)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "cache",
        help="show the response cache's counters (the default action), or clear it",
        parents=[_cache_options(suppress=False)],
    )
    actions = p.add_subparsers(dest="cache_action", metavar="ACTION", parser_class=_Parser)
    cache_options = _cache_options(suppress=True)
    actions.add_parser(
        "stats", help="counters (hits, misses, stores, errors) and size", parents=[cache_options]
    )
    actions.add_parser(
        "clear", help="delete every entry and reset the counters", parents=[cache_options]
    )

    gateway_config = _Parser(add_help=False)
    gateway_config.add_argument(
        "-c", "--config", metavar="FILE",
        help="the gateway config (default: $JACKFIELD_GATEWAY_CONFIG, else ./gateway.toml)",
    )  # fmt: skip
    p = sub.add_parser("serve", help="run the gateway (docs/gateway.md)", parents=[gateway_config])
    p.add_argument("--host", help="listen address (default: the config's)")
    p.add_argument("--port", type=int, help="listen port (default: the config's)")
    p = sub.add_parser("gateway", help="manage the gateway's client tokens")
    actions = p.add_subparsers(dest="gateway_action", metavar="ACTION", parser_class=_Parser)
    token = actions.add_parser("token", help="create, list or revoke client tokens")
    verbs = token.add_subparsers(dest="token_action", metavar="ACTION", parser_class=_Parser)
    p = verbs.add_parser("create", help="issue a token (printed once)", parents=[gateway_config])
    p.add_argument("name")
    p.add_argument(
        "--allow", action="append", default=[], metavar="NAME",
        help="a model, tier, provider or profile the token may use (repeat; default: all)",
    )  # fmt: skip
    p.add_argument("--rpm", type=int, help="requests per minute")
    p.add_argument("--tpm", type=int, help="tokens per minute")
    p.add_argument("--daily-tokens", type=int, help="tokens per UTC day")
    p = verbs.add_parser(
        "list", help="the tokens' names, allow-lists and limits", parents=[gateway_config]
    )
    p.add_argument("--json", action="store_true")
    p = verbs.add_parser(
        "revoke", help="revoke a token (effective at once)", parents=[gateway_config]
    )
    p.add_argument("name")
    return parser


def _gateway_config(args: argparse.Namespace) -> Any:
    from .gateway import load_config

    path = args.config or os.environ.get("JACKFIELD_GATEWAY_CONFIG") or "gateway.toml"
    return load_config(path)


def _serve(args: argparse.Namespace, err: _Out) -> int:
    from .gateway import serve

    config = _gateway_config(args)
    asyncio.run(serve(config, host=args.host, port=args.port))
    return 0


def _gateway(args: argparse.Namespace, out: _Out) -> int:
    from .gateway import TokenStore

    action = getattr(args, "token_action", None)
    if getattr(args, "gateway_action", None) != "token" or action is None:
        raise _UsageError("usage: jackfield gateway token create|list|revoke [NAME]")
    config = _gateway_config(args)
    if config.tokens is None:
        raise ConfigurationError("the gateway config names no token file", field="gateway.tokens")
    store = TokenStore(config.tokens)
    if action == "create":
        value = store.create(
            args.name,
            allow=args.allow or ("*",),
            rpm=args.rpm,
            tpm=args.tpm,
            daily_tokens=args.daily_tokens,
        )
        out.write(f"{value}\n")
        return 0
    if action == "revoke":
        if not store.revoke(args.name):
            raise ConfigurationError(f"no token named {args.name!r}", field="name")
        out.write(f"revoked {args.name}\n")
        return 0
    rows = [r.public() for r in store.records()]
    if args.json:
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for row in rows:
        limits = ", ".join(f"{k}={row[k]}" for k in ("rpm", "tpm", "daily_tokens") if row[k])
        allow = ",".join(row["allow"])
        out.write(
            f"{row['name']}  allow={allow}  {limits or 'no limits'}  created {row['created']}\n"
        )
    return 0


def _provider_name(args: argparse.Namespace, err: _Out) -> str:
    name = args.provider or os.environ.get("JACKFIELD_PROVIDER")
    if not name:
        err.write("jackfield: no provider given (-p or $JACKFIELD_PROVIDER); using the mock\n")
        return "mock"
    return str(name)


def _read_text(args: argparse.Namespace) -> str:
    if args.text is not None:
        return str(args.text)
    if sys.stdin is None or sys.stdin.isatty():
        raise _UsageError("no text given")
    text = sys.stdin.read()
    # `echo hi | jackfield prompt` sends "hi", not "hi\n": drop the one newline echo adds
    return text[:-1] if text.endswith("\n") else text


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the command line sets: --base-url, --api-key-env and each -o."""
    fields: dict[str, Any] = {}
    for item in args.option:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if name == "api_key":  # never echo the value: it is a key
            raise _UsageError(
                "-o api_key is refused (a key on the command line shows in the process list "
                "and the shell history): export it, or name its variable with --api-key-env"
            )
        if not sep or not name:
            raise _UsageError(f"-o takes NAME=VALUE (a config field), not {item!r}")
        try:
            fields[name] = json.loads(raw)
        except ValueError:
            fields[name] = raw  # not JSON: the text itself
    if args.base_url is not None:
        fields["base_url"] = args.base_url
    if args.api_key_env is not None:
        fields["api_key_env"] = args.api_key_env
    return fields


def _write_tool_calls(response: Response, out: _Out) -> None:
    for call in response.tool_calls:
        arguments = call.raw_arguments
        if arguments is None:
            arguments = json.dumps(call.arguments, ensure_ascii=False)
        out.write(f"tool call: {call.name} {arguments}\n")


async def _prompt(args: argparse.Namespace, out: _Out, err: _Out) -> int:
    from .registry._registry import create_provider
    from .types import Message

    text = _read_text(args)
    if not text.strip():  # refused here, before a provider is created or called
        raise _UsageError("empty prompt: give some text")
    fields = _overrides(args)
    cache = args.cache or os.environ.get("JACKFIELD_CACHE")
    if cache and "cache" not in fields:
        fields["cache"] = cache
    provider = create_provider(_provider_name(args, err), **fields)
    messages = [Message.system(args.system)] if args.system else []
    messages.append(Message.user(text))
    options: dict[str, Any] = {
        "model": args.model,
        "tier": args.tier,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
    }
    try:
        if args.no_stream or args.json:
            response = await provider.generate(messages, **options)
            if args.json:
                data = response.to_dict()
                data["cached"] = response.cached
                out.write(json.dumps(data, indent=2) + "\n")
                return 0
            if response.content or not response.tool_calls:
                out.write(response.content + "\n")
            _write_tool_calls(response, out)
            return 0
        stream = provider.stream(messages, **options)
        wrote = False
        async with stream:
            async for piece in stream.text():
                wrote = wrote or bool(piece)
                out.write(piece)
                out.flush()
        final = stream.response
        if wrote or final is None or not final.tool_calls:
            out.write("\n")
        if final is not None:
            _write_tool_calls(final, out)
        return 0
    finally:
        await provider.aclose()


def _offline_provider(args: argparse.Namespace, name: str) -> Provider:
    """A provider for what needs no server (tiers, token counts): the key and base URL
    it would need for a call are filled with placeholders, as nothing is sent."""
    from .registry._registry import create_provider

    fields = _overrides(args)
    placeholders = {
        "api_key": "unused-placeholder",
        "base_url": "http://placeholder.invalid",
        "deployment": "unused-placeholder",
    }
    while True:
        try:
            return create_provider(name, fresh=True, **fields)
        except ConfigurationError as exc:
            if exc.field not in placeholders or exc.field in fields:
                raise
            fields[exc.field] = placeholders[exc.field]


def _providers(args: argparse.Namespace, out: _Out, err: _Out) -> int:
    from .registry._registry import list_providers

    infos = list_providers()
    _warn_failures(err)
    if args.json:
        out.write(json.dumps([i.to_dict() for i in infos], indent=2) + "\n")
        return 0
    for i in infos:
        extra = ""
        if i.extra and not i.extra_installed:
            extra = f"  [not installed: pip install 'jackfield[{i.extra}]']"
        aliases = f" (aliases: {', '.join(i.aliases)})" if i.aliases else ""
        out.write(f"{i.name}{aliases}: {i.description}{extra}\n")
        if i.capabilities is not None:
            model = f" ({i.default_model})" if i.default_model else ""
            out.write(f"    can{model}: {_capability_summary(i.capabilities)}\n")
    routers = _router_profiles()
    if routers:
        out.write("\nrouter profiles:\n")
    for name, profile in routers.items():
        targets = profile.get("targets")
        shown = ", ".join(_target_text(t) for t in targets) if isinstance(targets, list) else "-"
        strategy = profile.get("strategy", "fallback")
        out.write(f"{name} (router, {strategy}): {shown}\n")
    return 0


_FEATURES = (
    "tools",
    "parallel_tool_calls",
    "images",
    "documents",
    "document_urls",
    "audio",
    "json_mode",
    "thinking",
)


def _capability_summary(caps: Capabilities) -> str:
    """One line naming what ``caps`` declares: ``tools, images, ..., structured output
    native``; a feature not named is refused."""
    names = [name.replace("_", " ") for name in _FEATURES if getattr(caps, name)]
    names.append(f"structured output {caps.structured_output}")
    if caps.cache_points != "none":
        limit = f" (at most {caps.max_cache_points})" if caps.max_cache_points else ""
        names.append(f"cache points {caps.cache_points}{limit}")
    if caps.context_window:
        names.append(f"context {caps.context_window:,} tokens")
    return ", ".join(names)


def _capabilities(args: argparse.Namespace, out: _Out) -> int:
    provider = _offline_provider(args, args.provider)
    model = args.model or provider.resolve_model()
    caps = provider.capabilities(model)
    if args.json:
        out.write(json.dumps({"model": model, **caps.to_dict()}, indent=2) + "\n")
        return 0
    out.write(f"model: {model}\n")
    for name, value in caps.to_dict().items():
        out.write(f"{name}: {'-' if value is None else json.dumps(value)}\n")
    return 0


def _target_text(target: Any) -> str:
    if isinstance(target, dict):
        text = str(target.get("target"))
        if "weight" in target:
            text += f" (weight {target['weight']})"
        return text
    return str(target)


def _router_profiles() -> dict[str, dict[str, Any]]:
    """The profiles whose provider is the router, by name."""
    from .registry import get_registry, normalize_name

    return {
        name: profile
        for name, profile in get_registry().profiles().items()
        if normalize_name(str(profile.get("provider", ""))) == "router"
    }


def _router(args: argparse.Namespace, out: _Out) -> int:
    from .registry import normalize_name
    from .router import open_state, parse_targets, router_status

    if args.router_action != "status":
        raise _UsageError("router takes an action: status")
    profiles = _router_profiles()
    if args.profile is not None:
        key = normalize_name(args.profile)
        if key not in profiles:
            known = ", ".join(profiles) or "none"
            raise JackfieldError(
                f"no router profile named {args.profile!r} (router profiles: {known})"
            )
        profiles = {key: profiles[key]}

    async def read(profile: dict[str, Any]) -> list[dict[str, Any]]:
        strategy = str(profile.get("strategy", "fallback")).lower().replace("_", "-")
        specs = parse_targets(profile.get("targets"), weighted=strategy == "weighted")
        state = open_state(profile.get("state"), prefix=str(profile.get("state_prefix", "")))
        try:
            return await router_status(specs, state)
        finally:
            await state.aclose()

    table = {name: asyncio.run(read(profile)) for name, profile in profiles.items()}
    if args.json:
        out.write(json.dumps(table, indent=2, default=str) + "\n")
        return 0
    for name, rows in table.items():
        state = profiles[name].get("state") or "memory"
        note = " (this process's view only)" if state == "memory" else ""
        out.write(f"{name}: state {_shown_state(state)}{note}\n")
        for row in rows:
            out.write(f"  {_row_text(row)}\n")
    return 0


def _shown_state(state: Any) -> str:
    from .cache._redis import redact_url

    return redact_url(state) if isinstance(state, str) else repr(state)


def _row_text(row: dict[str, Any]) -> str:
    parts = [row["target"], f"breaker {row['breaker']}", row["available"]]
    if row.get("blocked_reason") and row["available"] == "blocked":
        until = "until its config changes" if row.get("blocked_forever") else "for now"
        parts.append(f"out after {row['blocked_reason']} {until}")
    parts.append(f"in flight {row['in_flight']}")
    if row.get("latency") is not None:
        parts.append(f"latency {row['latency'] * 1000:.0f} ms")
    if row.get("remaining_requests") is not None:
        parts.append(f"{row['remaining_requests']} requests left")
    return "  ".join(parts)


def _warn_failures(err: _Out) -> None:
    """One line on stderr per plugin that failed to load (so none is left out silently)."""
    from .registry import get_registry

    for f in get_registry().failures:
        reason = (f.error.splitlines() or [""])[0]
        err.write(
            f"jackfield: plugin {f.plugin!r} failed to load ({f.stage}): {reason} "
            "(`jackfield plugins` shows the traceback)\n"
        )


def _plugins(args: argparse.Namespace, out: _Out) -> int:
    from .registry import get_registry

    registry = get_registry()
    registry.load()
    plugins = sorted(name for name, _ in registry.pm.list_name_plugin())
    provided: dict[str, list[str]] = {name: [] for name in plugins}
    for info in registry.list_providers():
        provided.setdefault(info.plugin_name, []).append(info.name)
    failures = registry.failures
    if args.json:
        data = {
            "plugins": plugins,
            "providers": provided,
            "failures": [f.to_dict() for f in failures],
        }
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    for name in plugins:  # the plugin (entry-point) name, then the provider names it gives
        out.write(f"{name}: {', '.join(provided[name]) or '(no providers)'}\n")
    for f in failures:
        out.write(f"FAILED {f.plugin} ({f.stage}): {f.error}\n{f.traceback}\n")
    return 0


def _tiers(args: argparse.Namespace, out: _Out) -> int:
    from .types import ModelTier

    provider = _offline_provider(args, args.provider)
    table: dict[str, str | None] = {}
    for tier in ModelTier:
        try:
            table[tier.value] = provider.model_for_tier(tier)
        except ProviderError:
            table[tier.value] = None
    if args.json:
        out.write(json.dumps(table, indent=2) + "\n")
    else:
        for tier_name, model in table.items():
            out.write(f"{tier_name}: {model or '-'}\n")
    return 0


def _tokens(args: argparse.Namespace, out: _Out, err: _Out) -> int:
    import warnings

    text = _read_text(args)
    provider = _offline_provider(args, _provider_name(args, err))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        count = provider.estimate_tokens(text, model=args.model)
    for warning in caught:  # one line each (the tokenizer's fallback), not a source line
        err.write(f"jackfield: note: {warning.message}\n")
    if args.json:
        out.write(json.dumps({"tokens": count}) + "\n")
    else:
        out.write(f"{count}\n")
    return 0


def _cache(args: argparse.Namespace, out: _Out) -> int:
    from .cache._redis import redact_url
    from .registry import get_registry

    action = args.cache_action or "stats"
    spec = args.cache or os.environ.get("JACKFIELD_CACHE") or "sqlite:"
    # The global registry's opener knows the plugins' backends too. A bad spec raises
    # ConfigurationError: one line, exit 1.
    backend = get_registry().cache_opener.open_backend(spec)
    path = getattr(backend, "path", None)
    shown = redact_url(spec) if path is None else f"sqlite:{path}"
    if isinstance(path, Path) and not path.exists():  # opening creates it only on use
        asyncio.run(backend.close())
        if action == "clear":
            out.write(f"nothing to clear: {shown} does not exist\n")
            return 0
        raise JackfieldError(f"cache {shown} does not exist")

    async def run() -> dict[str, Any] | None:
        try:
            if action == "clear":
                await backend.clear()
                return None
            return await backend.info()
        finally:
            await backend.close()

    try:
        info = asyncio.run(run())
    except Exception as exc:  # the backend's own errors: sqlite3, redis, OSError
        reason = (str(exc).splitlines() or [""])[0]
        raise JackfieldError(
            f"cache {shown}: {action} failed: {type(exc).__name__}: {reason}"
        ) from exc
    if info is None:
        out.write(f"cleared {shown}\n")
    elif args.json:
        out.write(json.dumps(info, indent=2) + "\n")
    else:
        for name, value in info.items():
            out.write(f"{name}: {'-' if value is None else value}\n")
    return 0


def _for_the_cli(exc: JackfieldError) -> str:
    """The error's message, its hints in the command line's terms (flags, profiles), on
    one line."""
    text = " ".join(str(exc).split("\n"))
    if not isinstance(exc, ConfigurationError):
        return text
    if exc.field == "api_key":
        text = text.replace(
            "pass api_key=...",
            "pass --api-key-env NAME (a variable holding the key), or use a profile",
        )
    elif exc.field == "base_url" and text.endswith("is required"):
        text += "; pass --base-url URL, or use a profile"
    elif exc.field == "tier_models" and "no model for tier" in text:
        head = text.partition("; set tier_models=")[0]
        text = (
            f"{head}; pass -m MODEL, or set model (or tier_models) in a profile "
            "or with -o model=MODEL"
        )
    return text


class _Replacing:
    """A text stream that prints what its encoding can and replaces the rest (a lone
    surrogate in an answer, any non-ASCII text under PYTHONIOENCODING=ascii)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self._stream, "encoding", None) or "utf-8"
            return self._stream.write(text.encode(encoding, "replace").decode(encoding))

    def flush(self) -> None:
        self._stream.flush()


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code (0 success, 1 failure, 2 bad usage)."""
    return _run(argv, _Replacing(out or sys.stdout), _Replacing(err or sys.stderr))


def _run(argv: Sequence[str] | None, out: _Out, err: _Out) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            from . import __version__

            out.write(f"jackfield {__version__}\n")
            return 0
        if args.command is None:
            out.write(parser.format_help())
            return EXIT_USAGE
        if args.command == "prompt":
            return asyncio.run(_prompt(args, out, err))
        if args.command == "providers":
            return _providers(args, out, err)
        if args.command == "plugins":
            return _plugins(args, out)
        if args.command == "tiers":
            return _tiers(args, out)
        if args.command == "capabilities":
            return _capabilities(args, out)
        if args.command == "cache":
            return _cache(args, out)
        if args.command == "router":
            return _router(args, out)
        if args.command == "serve":
            return _serve(args, err)
        if args.command == "gateway":
            return _gateway(args, out)
        return _tokens(args, out, err)
    except _UsageError as exc:
        err.write(f"jackfield: {exc}\n")
        return EXIT_USAGE
    except JackfieldError as exc:
        err.write(f"jackfield: {type(exc).__name__}: {_for_the_cli(exc)}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("jackfield: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
