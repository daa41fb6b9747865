"""The argument of the ``jackfield_register_providers`` hook, typed for plugin authors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._base import Provider

__all__ = ["RegisterProvider"]


class RegisterProvider(Protocol):
    """``register(cls, name=None, aliases=())``: what a plugin's registration hook gets.

    ``name`` defaults to the class's ``name`` attribute; ``aliases`` are other names it
    answers to. A bad class or a taken name is recorded as the plugin's failure, never
    raised into the plugin.
    """

    def __call__(
        self, cls: type[Provider], name: str | None = None, aliases: Iterable[str] = ()
    ) -> None:
        """Register ``cls`` as ``name`` (and ``aliases``)."""
