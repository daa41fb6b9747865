"""Entry points of one group, read straight from the distributions on ``sys.path``.

A small stand-in for ``importlib.metadata.entry_points(group=...)``, whose import alone
(``email``, ``zipfile``, ``csv``, ...) costs more than the rest of plugin discovery. It
finds the same entry points: each ``*.dist-info`` or ``*.egg-info`` directory of each
``sys.path`` directory, in ``sys.path`` order, where the first distribution of a
(normalized) name wins, and reads the group's section of its ``entry_points.txt``.

What it does not read itself -- a zip file or an unzipped egg on ``sys.path``, an import
hook that supplies distributions, an unusual directory name -- makes it hand the whole
lookup to ``importlib.metadata``, so the answer is always the same.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from importlib import import_module
from importlib.machinery import PathFinder
from typing import Any

__all__ = ["EntryPoint", "entry_points"]

_SUFFIXES = (".dist-info", ".egg-info")


class EntryPoint:
    """One entry point: ``name = value`` in ``group``, from distribution ``dist_name``."""

    __slots__ = ("dist_name", "dist_version", "group", "name", "value")

    def __init__(
        self,
        name: str,
        value: str,
        group: str,
        dist_name: str | None = None,
        dist_version: str | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist_name = dist_name
        self.dist_version = dist_version

    def load(self) -> Any:
        """Import the module and return it, or the attribute ``value`` names."""
        module, attr = _parse_value(self.value)
        if module is None:
            raise ValueError(f"invalid entry point {self.name!r}: {self.value!r}")
        names = filter(None, (attr or "").split("."))  # as importlib.metadata skips empty ones
        return functools.reduce(getattr, names, import_module(module))

    def __repr__(self) -> str:
        return (
            f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r}, "
            f"dist={self.dist_name!r} {self.dist_version!r})"
        )


def _parse_value(value: str) -> tuple[str | None, str | None]:
    """``module[:attr] [extras]`` as ``(module, attr)``; module ``None`` if malformed.

    The syntax ``importlib.metadata`` accepts (``[\\w.]+`` names, spaces around ``:``),
    without compiling its regular expression at every discovery.
    """
    head, bracket, extras = value.partition("[")
    if bracket and not extras.rstrip().endswith("]"):
        return None, None
    module, colon, attr = head.partition(":")
    module = module.rstrip()
    attr = attr.strip()
    if not _dotted(module) or (colon and not _dotted(attr)):
        return None, None
    return module, attr or None


def _dotted(name: str) -> bool:
    """Whether ``name`` is one or more word characters and dots, as regex ``[\\w.]+``."""
    return bool(name) and all(c.isalnum() or c in "._" for c in name)


class _Unsupported(Exception):
    """Something only ``importlib.metadata`` reads correctly."""


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group``, as ``importlib.metadata.entry_points`` finds them."""
    try:
        return _scan(group)
    except _Unsupported:
        return _from_importlib_metadata(group)


def _normalize(name: str) -> str:
    """A distribution name as ``importlib.metadata`` compares them (PEP 503, with ``_``)."""
    key = name.lower().replace("-", "_").replace(".", "_")
    return re.sub("_+", "_", key) if "__" in key else key


def _scan(group: str) -> list[EntryPoint]:
    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            raise _Unsupported
    header = f"[{group}]"  # in any line that opens the section
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in list(sys.path):
        if not isinstance(entry, str):
            raise _Unsupported
        root = entry or "."
        try:
            children = os.listdir(root)
        except (FileNotFoundError, PermissionError):
            continue  # importlib.metadata skips it too
        except OSError:  # a file: a zip or an egg
            raise _Unsupported from None
        if os.path.basename(root).lower().endswith(".egg"):
            raise _Unsupported  # an unzipped egg, metadata in EGG-INFO
        for child in children:
            if not child.lower().endswith(_SUFFIXES):
                continue
            if not child.endswith(_SUFFIXES):  # FOO.DIST-INFO: named by its METADATA there
                raise _Unsupported
            stem = child.rpartition(".")[0]
            key = _normalize(stem.partition("-")[0])
            if not key:
                raise _Unsupported
            if key in seen:
                continue  # an earlier distribution of that name shadows this one
            seen.add(key)
            path = f"{root}{os.sep}{child}"
            text = _read(f"{path}{os.sep}entry_points.txt")
            if text is None or header not in text:
                continue
            pairs = _section(text, group)
            if pairs:
                name, version = _name_and_version(path, stem)
                found += (EntryPoint(n, v, group, name, version) for n, v in pairs)
    return found


def _read(path: str) -> str | None:
    """A metadata file's text; ``None`` if it is missing or unreadable."""
    # os.access and os.read: a third of the cost of open() on the usual misses and hits
    if not os.access(path, os.F_OK):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` lines of section ``[group]`` (lines without ``=`` skipped)."""
    pairs: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, sep, value = line.partition("=")
            if sep:
                pairs.append((name.strip(), value.strip()))
    return pairs


def _name_and_version(path: str, stem: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the metadata headers, else from the directory name."""
    text = _read(f"{path}{os.sep}METADATA") or _read(f"{path}{os.sep}PKG-INFO") or ""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break  # the end of the headers
        key, sep, value = line.partition(":")
        key = key.lower()
        if sep and key in ("name", "version") and key not in headers:
            headers[key] = value.strip()
    name, _, version = stem.partition("-")
    return headers.get("name", name), headers.get("version", version.partition("-")[0] or None)


def _from_importlib_metadata(group: str) -> list[EntryPoint]:
    from importlib.metadata import entry_points as metadata_entry_points

    return [
        EntryPoint(
            ep.name,
            ep.value,
            group,
            ep.dist.name if ep.dist else None,
            ep.dist.version if ep.dist else None,
        )
        for ep in metadata_entry_points(group=group)
    ]
