"""``router``: one provider over several, with failover, load balancing and circuit
breaking (the machinery is ``jackfield.router``; see docs/router.md)."""

from __future__ import annotations

from jackfield import Router, hookimpl
from jackfield.provider import RegisterProvider

__all__ = ["Router"]


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the router."""
    register(Router)
