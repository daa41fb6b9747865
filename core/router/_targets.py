"""Router targets: what a target is (a spec, a weight, per-target config) and its checks.

A target is given as a string (a provider name, ``provider:model`` or a profile) or as
a table::

    {"target": "openai:gpt-5.4", "weight": 3, "context_window": 400000,
     "api_key_env": "WORK_OPENAI_KEY"}

Every other key of a table is a :class:`~jackfield.ProviderConfig` field for that
target. The checks here run at construction, before any I/O, and name the field
(``targets[2].weight``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..config import ProviderConfig
from ..errors import ConfigurationError

__all__ = ["TargetSpec", "parse_targets"]

_IDENTITY = frozenset(
    {
        "api_key",
        "api_key_env",
        "api_version",
        "auth_method",
        "base_url",
        "deployment",
        "extra_headers",
        "organization",
        "project",
    }
)
"""The config fields that make a target another endpoint or account."""


@attrs.frozen(slots=True)
class TargetSpec:
    """One target as configured: ``spec`` (name, ``provider:model`` or profile), its
    ``weight``, its ``context_window`` (``None``: unknown) and config overrides."""

    spec: str
    weight: float | None = None
    context_window: int | None = None
    overrides: dict[str, Any] = attrs.field(factory=dict, hash=False)
    field: str = ""
    """Where it was configured (``targets[1]``), for error messages."""

    @property
    def key(self) -> str:
        """The target's name in the router's state: its spec, with a short hash of the
        overrides that make it another endpoint or account (base URL, key variable,
        deployment ...), so two tables naming one provider with other keys are two
        targets. Never holds a key."""
        shown = {k: v for k, v in self.overrides.items() if k in _IDENTITY and k != "api_key"}
        if not shown and "api_key" not in self.overrides:
            return self.spec
        import hashlib

        text = json.dumps(shown, sort_keys=True, default=str)
        if "api_key" in self.overrides:
            text += "|explicit-key"
        return f"{self.spec}#{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def parse_targets(raw: Any, *, weighted: bool) -> tuple[TargetSpec, ...]:
    """The router's ``targets`` option as :class:`TargetSpec` values.

    Raises :class:`ConfigurationError` naming the field for an empty or malformed list,
    a bad weight, and (``weighted``) a target without a weight.
    """
    if raw is None or (isinstance(raw, Sequence) and not isinstance(raw, str) and not raw):
        raise ConfigurationError(
            "a router needs at least one target: targets = ['provider', ...]", field="targets"
        )
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise ConfigurationError(
            f"targets must be a list of provider names, provider:model or profiles "
            f"(got {type(raw).__name__})",
            field="targets",
        )
    out: list[TargetSpec] = []
    for i, item in enumerate(raw):
        out.append(_one(item, f"targets[{i}]", weighted=weighted))
    keys = [t.key for t in out]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise ConfigurationError(
                f"targets[{i}] repeats target {key!r}; give it a weight instead of listing "
                "it twice, or give the copies different config",
                field=f"targets[{i}]",
            )
    return tuple(out)


def _one(item: Any, field: str, *, weighted: bool) -> TargetSpec:
    if isinstance(item, str):
        table: dict[str, Any] = {"target": item}
    elif isinstance(item, Mapping):
        table = dict(item)
    else:
        raise ConfigurationError(
            f"{field} must be a target name or a table with 'target' (got {type(item).__name__})",
            field=field,
        )
    spec = table.pop("target", None)
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigurationError(
            f"{field}.target must be a provider name, provider:model or profile",
            field=f"{field}.target",
        )
    weight = table.pop("weight", None)
    if weight is not None and (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or weight <= 0
    ):
        raise ConfigurationError(
            f"{field}.weight must be a number > 0 (got {weight!r})", field=f"{field}.weight"
        )
    if weighted and weight is None:
        raise ConfigurationError(
            f"strategy 'weighted' needs a weight on every target; {field} ({spec!r}) has none",
            field=f"{field}.weight",
        )
    window = table.pop("context_window", None)
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window < 1
    ):
        raise ConfigurationError(
            f"{field}.context_window must be an integer >= 1 (got {window!r})",
            field=f"{field}.context_window",
        )
    if table:  # the rest are ProviderConfig fields: checked now, with the field named
        try:
            ProviderConfig.from_mapping(table)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"{field}: {exc.message}", field=f"{field}.{exc.field}"
            ) from None
    return TargetSpec(
        spec=spec.strip(),
        weight=None if weight is None else float(weight),
        context_window=window,
        overrides=table,
        field=field,
    )
