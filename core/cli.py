"""The ``jackfield`` command line.

``jackfield prompt TEXT`` streams an answer to stdout; ``providers``, ``plugins``,
``tiers`` and ``tokens`` inspect the registry; ``cache stats`` and ``cache clear`` operate
the response cache. Bad input prints one line to stderr and exits non-zero, never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .errors import ConfigurationError, JackfieldError, ProviderError

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jackfield", description="One registry for every LLM provider.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("prompt", help="send a prompt and stream the answer")
    p.add_argument("text", nargs="?", help="the prompt (read from stdin if omitted)")
    p.add_argument("-p", "--provider", help="provider, profile or provider:model")
    p.add_argument("-m", "--model", help="model id")
    p.add_argument("-t", "--tier", help="local_small, hosted_small or hosted_large")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    p.add_argument("--json", action="store_true", help="print the final response as JSON")

    p = sub.add_parser("providers", help="list registered providers")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("plugins", help="list loaded plugins and load failures")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tiers", help="show a provider's tier-to-model table")
    p.add_argument("provider")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tokens", help="estimate the tokens of a prompt (offline)")
    p.add_argument("text", nargs="?", help="the text (read from stdin if omitted)")
    p.add_argument("-p", "--provider")
    p.add_argument("-m", "--model")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("cache", help="show the response cache's counters, or clear it")
    actions = p.add_subparsers(dest="cache_action", metavar="ACTION", parser_class=_Parser)
    spec_help = "backend spec (default: $JACKFIELD_CACHE, else 'sqlite:' in the user cache dir)"
    c = actions.add_parser("stats", help="counters (hits, misses, stores, errors) and size")
    c.add_argument("--cache", metavar="SPEC", help=spec_help)
    c.add_argument("--json", action="store_true")
    c = actions.add_parser("clear", help="delete every entry and reset the counters")
    c.add_argument("--cache", metavar="SPEC", help=spec_help)
    return parser


def _provider_name(args: argparse.Namespace, err: TextIO) -> str:
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
    return sys.stdin.read()


async def _prompt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .registry._registry import create_provider
    from .types import Message

    provider = create_provider(_provider_name(args, err))
    messages = [Message.system(args.system)] if args.system else []
    messages.append(Message.user(_read_text(args)))
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
                out.write(json.dumps(response.to_dict(), indent=2) + "\n")
            else:
                out.write(response.content + "\n")
            return 0
        stream = provider.stream(messages, **options)
        async with stream:
            async for text in stream.text():
                out.write(text)
                out.flush()
        out.write("\n")
        return 0
    finally:
        await provider.aclose()


def _providers(args: argparse.Namespace, out: TextIO) -> int:
    from .registry._registry import list_providers

    infos = list_providers()
    if args.json:
        out.write(json.dumps([i.to_dict() for i in infos], indent=2) + "\n")
        return 0
    for i in infos:
        extra = ""
        if i.extra:
            extra = (
                f"  [needs jackfield[{i.extra}]{'' if i.extra_installed else ', not installed'}]"
            )
        aliases = f" (aliases: {', '.join(i.aliases)})" if i.aliases else ""
        out.write(f"{i.name}{aliases}: {i.description}{extra}\n")
    return 0


def _plugins(args: argparse.Namespace, out: TextIO) -> int:
    from .registry import get_registry

    registry = get_registry()
    registry.load()
    plugins = sorted(name for name, _ in registry.pm.list_name_plugin())
    failures = registry.failures
    if args.json:
        data = {"plugins": plugins, "failures": [f.to_dict() for f in failures]}
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    for name in plugins:
        out.write(f"{name}\n")
    for f in failures:
        out.write(f"FAILED {f.plugin} ({f.stage}): {f.error}\n{f.traceback}\n")
    return 0


def _tiers(args: argparse.Namespace, out: TextIO) -> int:
    from .registry._registry import create_provider
    from .types import ModelTier

    try:
        provider = create_provider(args.provider)
    except ConfigurationError as exc:
        if exc.field != "api_key":
            raise
        # Listing tiers sends nothing: a placeholder key lets a keyless user read them.
        provider = create_provider(args.provider, fresh=True, api_key="unused-placeholder")
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


def _tokens(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .registry._registry import create_provider

    provider = create_provider(_provider_name(args, err))
    count = provider.estimate_tokens(_read_text(args), model=args.model)
    if args.json:
        out.write(json.dumps({"tokens": count}) + "\n")
    else:
        out.write(f"{count}\n")
    return 0


def _cache(args: argparse.Namespace, out: TextIO) -> int:
    from .cache._redis import redact_url
    from .registry import get_registry

    if args.cache_action is None:
        raise _UsageError("cache: choose an action: stats or clear")
    spec = args.cache or os.environ.get("JACKFIELD_CACHE") or "sqlite:"
    # The global registry's opener knows the plugins' backends too. A bad spec raises
    # ConfigurationError: one line, exit 1.
    backend = get_registry().cache_opener.open_backend(spec)

    async def run() -> dict[str, Any] | None:
        try:
            if args.cache_action == "clear":
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
            f"cache {redact_url(spec)}: {args.cache_action} failed: {type(exc).__name__}: {reason}"
        ) from exc
    if info is None:
        out.write(f"cleared {redact_url(spec)}\n")
    elif args.json:
        out.write(json.dumps(info, indent=2) + "\n")
    else:
        for name, value in info.items():
            out.write(f"{name}: {'-' if value is None else value}\n")
    return 0


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code (0 success, 1 failure, 2 bad usage)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(out)
            return EXIT_USAGE
        if args.command == "prompt":
            return asyncio.run(_prompt(args, out, err))
        if args.command == "providers":
            return _providers(args, out)
        if args.command == "plugins":
            return _plugins(args, out)
        if args.command == "tiers":
            return _tiers(args, out)
        if args.command == "cache":
            return _cache(args, out)
        return _tokens(args, out, err)
    except _UsageError as exc:
        err.write(f"jackfield: {exc}\n")
        return EXIT_USAGE
    except JackfieldError as exc:
        err.write(f"jackfield: {type(exc).__name__}: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("jackfield: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
