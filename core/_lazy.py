"""Lazy exports: a package names its public values in one table, imported on first use.

``import jackfield`` (and ``jackfield.cache``, ``jackfield.testing``) must stay cheap,
so a package's ``__init__`` lists each public name with the private module defining it
and hands the table to :func:`lazy_exports`; a ``TYPE_CHECKING`` block mirrors the table
for type checkers (a test keeps the two equal).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: MutableMapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    ``exports`` maps each public name to the submodule (relative to ``package``) that
    defines it; a value, once imported, is cached in the package's ``namespace``.
    """
    names = sorted({*exports, *(n for n in namespace.get("__all__", ()) if n in namespace)})

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
