"""The console's settings, read once when it is registered.

They are settings of :mod:`switchboard.config` (checked there, by :mod:`switchboard.config.notify`'s
rules); an app made in code may also put them in ``app.config``, which wins. Each is looked up
in ``app.config``, then on the app's settings (the field name in lower case, without
``SWITCHBOARD_``). A bad value is a
:class:`~switchboard.config.ConfigError` naming the setting.

The session's secret key is ``SWITCHBOARD_SECRET_KEY`` when it is set. Otherwise it is derived
from the account's auth token (or API key secret) with HMAC-SHA256 over a fixed label: the key
never is the token, cannot be turned back into it, and is the same in every worker process and
host that shares the token. With no token either, a random key is made per process (and a
warning logged): sessions then last as long as the process, and only one process knows them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from switchboard.config import ConfigError, notify

log = logging.getLogger("switchboard.callbacks")

PASSWORD = "SWITCHBOARD_CONSOLE_PASSWORD"  # noqa: S105 - the names, not values
PASSWORD_HASH = "SWITCHBOARD_CONSOLE_PASSWORD_HASH"  # noqa: S105
SECRET_KEY = "SWITCHBOARD_SECRET_KEY"  # noqa: S105
TIMEZONE = "SWITCHBOARD_CONSOLE_TIMEZONE"
SESSION_HOURS = "SWITCHBOARD_CONSOLE_SESSION_HOURS"
REFRESH = "SWITCHBOARD_CONSOLE_REFRESH"

#: The settings with their defaults (``None``: unset).
DEFAULTS: dict[str, object] = {
    PASSWORD: None,
    PASSWORD_HASH: None,
    SECRET_KEY: None,
    TIMEZONE: "UTC",
    SESSION_HOURS: 12,
    REFRESH: 5,
}

_DERIVATION_LABEL = b"switchboard console session key v1"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleOptions:
    """What the console was configured with. ``password`` holds the plain password or the
    werkzeug hash, as ``hashed`` says; neither is ever shown."""

    password: str = field(repr=False)
    hashed: bool
    secret_key: bytes = field(repr=False)
    timezone: ZoneInfo
    session_hours: float
    refresh: float
    #: How the key was obtained: ``"setting"``, ``"derived"`` or ``"random"``.
    key_source: str = "setting"
    clock: Callable[[], datetime] = _utcnow

    @property
    def session_seconds(self) -> int:
        return int(self.session_hours * 3600)

    @property
    def password_fingerprint(self) -> str:
        """A short HMAC of the configured password: a session made under another password
        (the setting changed) no longer counts."""
        digest = hmac.new(self.secret_key, self.password.encode(), hashlib.sha256)
        return digest.hexdigest()[:16]


def lookup(config: Mapping[str, Any], settings: Any, name: str) -> object:
    """The value of setting ``name``: ``config``, then ``settings`` (which read the
    environment), then its default."""
    value = config.get(name)
    if _given(value):
        return value
    value = getattr(settings, name.removeprefix("SWITCHBOARD_").lower(), None)
    return value if _given(value) else DEFAULTS.get(name)


def read_options(config: Mapping[str, Any], settings: Any) -> ConsoleOptions | None:
    """The console's options, or None when neither password setting is set (console off)."""

    def get(name: str) -> object:
        return lookup(config, settings, name)

    password, password_hash = _text(get(PASSWORD)), _text(get(PASSWORD_HASH))
    if password is None and password_hash is None:
        return None
    if password is not None and password_hash is not None:
        raise ConfigError(f"{PASSWORD} and {PASSWORD_HASH}: set one of them, not both")
    if password is not None:
        notify.console_password(PASSWORD, password)
    if password_hash is not None:
        notify.password_hash(PASSWORD_HASH, password_hash)
    secret_key, key_source = _secret_key(_text(get(SECRET_KEY)), settings)
    return ConsoleOptions(
        password=password if password is not None else password_hash or "",
        hashed=password is None,
        secret_key=secret_key,
        timezone=_timezone(get(TIMEZONE)),
        session_hours=_number(SESSION_HOURS, get(SESSION_HOURS), 0.25, 24 * 30),
        refresh=_number(REFRESH, get(REFRESH), 1, 300),
        key_source=key_source,
    )


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _text(value: object) -> str | None:
    """A setting's text; a :class:`~switchboard.config.Secret` is revealed."""
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)
    text = reveal() if callable(reveal) else value
    if not isinstance(text, str):
        text = str(text)
    return text if text.strip() else None


def _secret_key(value: str | None, settings: Any) -> tuple[bytes, str]:
    if value is not None:
        notify.secret_key(SECRET_KEY, value)
        return value.encode(), "setting"
    token = _text(getattr(settings, "auth_token", None)) or _text(
        getattr(settings, "api_key_secret", None)
    )
    if token is not None:
        return hmac.new(token.encode(), _DERIVATION_LABEL, hashlib.sha256).digest(), "derived"
    log.warning(
        "console: neither %s nor TWILIO_AUTH_TOKEN is set; sessions use a random key of this "
        "process and end when it stops (set %s when several processes serve the app)",
        SECRET_KEY, SECRET_KEY,
    )
    return secrets.token_bytes(32), "random"


def _timezone(value: object) -> ZoneInfo:
    return ZoneInfo(notify.time_zone(TIMEZONE, _text(value) or "UTC"))


def _number(name: str, value: object, low: float, high: float) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else value
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a number") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}: {number:g} is out of range ({low:g} to {high:g})")
    return float(number)
