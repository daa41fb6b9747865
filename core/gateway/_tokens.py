"""Client tokens: issued per application, stored only as salted hashes.

A token is ``jfk_<id>_<secret>``: the id finds its record, the secret is checked by
comparing SHA-256(salt + secret) with the stored digest in constant time. (A token is
32 random bytes, so a fast hash is enough: there is nothing to guess a dictionary of.)
The store is a JSON file the gateway re-reads when it changes (its size, time or inode),
so a token created or revoked with ``jackfield gateway token ...`` takes effect on the
next request, without a restart. The file is written whole and replaced atomically.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigurationError

__all__ = ["TokenRecord", "TokenStore"]

log = logging.getLogger("jackfield.gateway")

PREFIX = "jfk_"
_DUMMY_SALT = b"\0" * 16


def _digest(salt: bytes, secret: str) -> str:
    return hashlib.sha256(salt + secret.encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen(slots=True)
class TokenRecord:
    """One issued token, as stored: its name, allow-list and limits; never its value."""

    name: str
    key_id: str
    salt: str = attrs.field(repr=False)
    digest: str = attrs.field(repr=False)
    allow: tuple[str, ...] = ("*",)
    """Public model names, tier names or targets (provider or profile names) this token
    may use; ``*`` allows every model."""
    rpm: int | None = None
    tpm: int | None = None
    daily_tokens: int | None = None
    created: float = 0.0

    def allows(self, names: Iterable[str]) -> bool:
        """Whether any of ``names`` (the model, the tier, the target) is allowed."""
        allowed = self.allow
        return "*" in allowed or any(name in allowed for name in names)

    def to_dict(self) -> dict[str, Any]:
        """The record as stored in the file."""
        return attrs.asdict(self)

    def public(self) -> dict[str, Any]:
        """What ``token list`` shows: no salt, no digest."""
        return {
            "name": self.name,
            "allow": list(self.allow),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "daily_tokens": self.daily_tokens,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
        }


def _record(data: Any, where: str) -> TokenRecord:
    if not isinstance(data, dict):
        raise ConfigurationError(f"{where} must be an object", field="tokens")
    try:
        allow = data.get("allow", ["*"])
        return TokenRecord(
            name=str(data["name"]),
            key_id=str(data["key_id"]),
            salt=str(data["salt"]),
            digest=str(data["digest"]),
            allow=tuple(str(a) for a in allow),
            rpm=data.get("rpm"),
            tpm=data.get("tpm"),
            daily_tokens=data.get("daily_tokens"),
            created=float(data.get("created", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where} is missing or has a bad {exc}", field="tokens") from None


class TokenStore:
    """The token file: look-ups re-read it when it changed; writes replace it whole."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._by_id: dict[str, TokenRecord] = {}
        self._stamp: tuple[int, int, int] | None = None
        self.reload(strict=True)

    # -- reading -------------------------------------------------------------------------

    def _read(self) -> dict[str, TokenRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text) if text.strip() else {"tokens": []}
        except ValueError:
            raise ConfigurationError(
                f"token file {self.path} is not valid JSON", field="tokens"
            ) from None
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ConfigurationError(f"token file {self.path} has no tokens list", field="tokens")
        records = [_record(e, f"token file {self.path}: entry {i}") for i, e in enumerate(entries)]
        return {r.key_id: r for r in records}

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload(self, *, strict: bool = False) -> None:
        """Re-read the file if it changed. A broken file keeps the last good tokens (and
        logs an error), except with ``strict`` (at startup), where it raises."""
        stamp = self._current_stamp()
        if stamp == self._stamp and self._stamp is not None:
            return
        try:
            self._by_id = self._read()
        except ConfigurationError as exc:
            if strict:
                raise
            log.error("jackfield gateway: %s; keeping the tokens read before", exc)
        self._stamp = stamp

    def records(self) -> list[TokenRecord]:
        """Every token's record (as of the file now)."""
        self.reload()
        return sorted(self._by_id.values(), key=lambda r: r.name)

    def authenticate(self, value: str) -> TokenRecord | None:
        """The record of the token ``value``, or ``None``; constant time in the secret."""
        self.reload()
        key_id, secret = _split(value)
        record = self._by_id.get(key_id) if key_id else None
        salt = bytes.fromhex(record.salt) if record is not None else _DUMMY_SALT
        expected = record.digest if record is not None else _digest(_DUMMY_SALT, "x" * 43)
        ok = hmac.compare_digest(_digest(salt, secret), expected)
        return record if ok and record is not None else None

    # -- writing (the CLI) ---------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        allow: Iterable[str] = ("*",),
        rpm: int | None = None,
        tpm: int | None = None,
        daily_tokens: int | None = None,
    ) -> str:
        """Issue a token named ``name`` and return its value (shown once, never stored)."""
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigurationError(
                "a token name is letters, digits, '-', '_' and '.'", field="name"
            )
        for field, value in (("rpm", rpm), ("tpm", tpm), ("daily_tokens", daily_tokens)):
            if value is not None and value <= 0:
                raise ConfigurationError(f"{field} must be > 0", field=field)
        records = self._read()
        if any(r.name == name for r in records.values()):
            raise ConfigurationError(
                f"a token named {name!r} exists; revoke it first", field="name"
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        allowed = tuple(allow) or ("*",)
        records[key_id] = TokenRecord(
            name=name,
            key_id=key_id,
            salt=salt.hex(),
            digest=_digest(salt, secret),
            allow=allowed,
            rpm=rpm,
            tpm=tpm,
            daily_tokens=daily_tokens,
            created=time.time(),
        )
        self._write(records)
        return f"{PREFIX}{key_id}_{secret}"

    def revoke(self, name: str) -> bool:
        """Remove the token named ``name``; ``False`` if there was none."""
        records = self._read()
        kept = {k: r for k, r in records.items() if r.name != name}
        if len(kept) == len(records):
            return False
        self._write(kept)
        return True

    def _write(self, records: dict[str, TokenRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "tokens": [r.to_dict() for r in records.values()]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.reload()


def _split(value: str) -> tuple[str, str]:
    if not value.startswith(PREFIX):
        return "", ""
    key_id, sep, secret = value[len(PREFIX) :].partition("_")
    return (key_id, secret) if sep else ("", "")
