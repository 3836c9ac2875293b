"""Parsers for setting values: each takes the setting's name (for the message) and a raw value
(a string from the environment, or a native value from TOML or ``overrides``) and returns the
typed value or raises :class:`~config.errors.ConfigError`.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit, urlunsplit

from config.errors import ConfigError
from config.secret import Secret

_SID_RE = re.compile(r"[0-9a-fA-F]{32}")
_E164_RE = re.compile(r"\+[1-9][0-9]{1,14}")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
DATABASE_BACKENDS = ("sqlite", "postgresql")


def show(value: object, limit: int = 40) -> str:
    """A short ``repr`` of a (non-secret) value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def redact_url(url: str) -> str:
    """``url`` with the password of any ``user:password@`` part replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def text(name: str, value: object) -> str:
    """A non-empty string, stripped."""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected text, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ConfigError(f"{name}: must not be empty")
    return value


def secret(name: str, value: object) -> Secret:
    """A secret (auth token, API key secret): any non-empty text. The value is never shown."""
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected text, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ConfigError(f"{name}: must not be empty")
    return Secret(value)


def _sid(name: str, value: object, prefix: str, what: str) -> str:
    value = text(name, value)
    if not (value[:2] == prefix and _SID_RE.fullmatch(value[2:])):
        raise ConfigError(
            f"{name}: {show(value)} is not {what} ({prefix} followed by 32 hexadecimal digits)"
        )
    return value


def account_sid(name: str, value: object) -> str:
    """An account SID: ``AC`` + 32 hex digits."""
    return _sid(name, value, "AC", "an account SID")


def api_key_sid(name: str, value: object) -> str:
    """An API key SID: ``SK`` + 32 hex digits."""
    return _sid(name, value, "SK", "an API key SID")


def http_url(name: str, value: object) -> str:
    """An ``http(s)://host...`` URL, returned without a trailing slash."""
    value = text(name, value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{name}: {show(redact_url(value))} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(
            f"{name}: {show(redact_url(value))} must start with http:// or https://"
        )
    if not parts.hostname:
        raise ConfigError(f"{name}: {show(redact_url(value))} has no host name")
    if parts.fragment:
        raise ConfigError(f"{name}: {show(redact_url(value))} must not have a #fragment")
    return value.rstrip("/")


def base_url(name: str, value: object) -> str:
    """A base URL other paths are appended to: :func:`http_url` with no query string."""
    value = http_url(name, value)
    if urlsplit(value).query:
        raise ConfigError(f"{name}: {show(redact_url(value))} must not have a ?query string")
    return value


def database_url(name: str, value: object) -> str:
    """An SQLAlchemy URL for SQLite or PostgreSQL.

    ``postgres://`` is read as ``postgresql://``, and a PostgreSQL URL without a driver gets
    ``+psycopg`` (psycopg 3, the driver Switchboard installs).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = text(name, value)
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        # The parser's own message repeats the URL, password included: do not chain it.
        raise ConfigError(
            f"{name}: not a database URL (expected sqlite:///path or "
            "postgresql://user:password@host/dbname)"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in DATABASE_BACKENDS:
        raise ConfigError(
            f"{name}: database {show(backend)} is not supported (use sqlite or postgresql)"
        )
    if backend == "postgresql":
        if not url.database:
            raise ConfigError(f"{name}: the PostgreSQL URL names no database")
        url = url.set(drivername=f"postgresql+{driver or 'psycopg'}")
        return url.render_as_string(hide_password=False)
    return value


def boolean(name: str, value: object) -> bool:
    """``true/false/1/0/yes/no`` (any case), or a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ConfigError(f"{name}: {show(value)} is not a boolean (use true/false, 1/0 or yes/no)")


def integer(name: str, value: object, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
    """A whole number, optionally within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{name}: {show(value)} is not a whole number")
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: {show(value)} is not a whole number") from None
    _check_range(name, number, minimum, maximum)
    return number


def number(name: str, value: object, *, minimum: float | None = None,
           below: float | None = None, reason: str = "") -> float:
    """A finite number, at least ``minimum`` and strictly below ``below``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{name}: {show(value)} is not a number")
    try:
        result = float(value)
    except ValueError:
        raise ConfigError(f"{name}: {show(value)} is not a number") from None
    if not math.isfinite(result):
        raise ConfigError(f"{name}: {show(value)} is not a finite number")
    if minimum is not None and result < minimum:
        raise ConfigError(f"{name}: {result:g} is below the minimum of {minimum:g}")
    if below is not None and result >= below:
        raise ConfigError(f"{name}: {result:g} must be below {below:g}{reason}")
    return result


def _check_range(name: str, value: int, minimum: int | None, maximum: int | None) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: {value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: {value} is above the maximum of {maximum}")


def e164(name: str, value: object) -> str:
    """A phone number in E.164 form: ``+`` then up to 15 digits."""
    value = text(name, value)
    if not _E164_RE.fullmatch(value):
        raise ConfigError(
            f"{name}: {show(value)} is not an E.164 phone number (like +14155550100)"
        )
    return value
