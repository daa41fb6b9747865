"""Named provider profiles from a TOML file.

```toml
[profiles.work]
provider = "openai"
model = "gpt-4o-mini"
api_key_env = "WORK_OPENAI_KEY"
```

A profile is looked up by name like a provider: ``create_provider("work")``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ["default_config_path", "load_profiles", "read_config_file"]


def default_config_path() -> Path | None:
    """``$JACKFIELD_CONFIG``, else ``~/.config/jackfield/config.toml`` if it exists."""
    env = os.environ.get("JACKFIELD_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    path = Path(base) / "jackfield" / "config.toml"
    return path if path.is_file() else None


def read_config_file(file: Path) -> dict[str, Any]:
    """A TOML config file's tables; a :class:`ConfigurationError` (``field="config"``)
    naming the file when it is missing or not valid TOML (the gateway's config too)."""
    try:
        with open(file, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigurationError(f"config file {file} does not exist", field="config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"config file {file} is not valid TOML: {exc}", field="config"
        ) from None


def load_profiles(path: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """Read ``[profiles.NAME]`` tables; names are case-insensitive, ``-`` and ``_`` alike."""
    file = Path(path) if path is not None else default_config_path()
    if file is None:
        return {}
    data = read_config_file(file)
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"{file}: [profiles] must be a table", field="profiles")
    out: dict[str, dict[str, Any]] = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("provider"), str):
            raise ConfigurationError(
                f'{file}: profile {name!r} needs provider = "<provider name>"',
                field=f"profiles.{name}.provider",
            )
        out[name.strip().lower().replace("_", "-")] = dict(table)
    return out
