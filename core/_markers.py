"""The pluggy markers of the ``jackfield`` project.

They sit at the bottom of the package so that the plugin-author API
(:mod:`jackfield.provider`) can hand out :data:`hookimpl` without importing the registry.
"""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "jackfield"
"""The pluggy project name: hook names start with ``jackfield_``."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marker for hook specifications (used by jackfield itself)."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for hook implementations: decorate your plugin's ``jackfield_*`` functions."""
