"""The checks of the settings that reach people: the numbers texted and the addresses emailed
about a voicemail, the SMTP server that sends the emails, the token that guards ``/metrics``,
and the console's password, session key and time zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from switchboard.config.errors import ConfigError
from switchboard.config.secret import Secret
from switchboard.config.validation import check_utf8, is_e164, show

_SMTP_PORTS = {"smtp": 587, "smtps": 465}
_OFF = frozenset({"off", "none", "no", "false", "0"})
#: The shortest ``SWITCHBOARD_METRICS_TOKEN`` taken.
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class SmtpServer:
    """Where emails go: ``tls`` is ``"ssl"`` (``smtps://``) or ``"starttls"`` (``smtp://``:
    STARTTLS when the server offers it; required to log in, except on the loopback)."""

    host: str
    port: int
    tls: Literal["ssl", "starttls"]
    username: str | None = None
    password: Secret | None = None

    @property
    def shown(self) -> str:
        """The server for a log line: scheme, user, host and port, no password."""
        scheme = "smtps" if self.tls == "ssl" else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def smtp_url(name: str, value: object) -> SmtpServer:
    """``SWITCHBOARD_SMTP_URL``'s check: ``smtp://[user[:password]@]host[:port]`` (port 587)
    or ``smtps://...`` (port 465); user and password percent-encoded. The password is never
    shown in the message."""
    text = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{name}: must be a URL like smtp://user:password@mail.example.com:587")
    check_utf8(name, text)
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in _SMTP_PORTS or not parts.hostname:
        raise ConfigError(
            f"{name}: not an smtp:// or smtps:// URL with a host (like "
            "smtp://user:password@mail.example.com:587); the value is not shown"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{name}: takes no path, query or fragment after the host and port")
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password else None
    return SmtpServer(
        host=parts.hostname,
        port=port or _SMTP_PORTS[parts.scheme],
        tls="ssl" if parts.scheme == "smtps" else "starttls",
        username=username,
        password=password,
    )


def notify_numbers(name: str, value: object) -> tuple[str, ...]:
    """``SWITCHBOARD_VOICEMAIL_NOTIFY``'s check: E.164 numbers, comma-separated; ``off``
    sends no text (an empty value means the default, the forward number)."""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: {show(value)} is not a comma-separated list of numbers")
    if value.strip().lower() in _OFF:
        return ()
    numbers = [part.strip() for part in value.split(",") if part.strip()]
    wrong = [n for n in numbers if not is_e164(n)]
    if wrong:
        raise ConfigError(
            f"{name}: {show(wrong[0])} is not a phone number in E.164 form (+ then the country "
            "code and number, digits only, like +14155550100)"
        )
    return tuple(dict.fromkeys(numbers))


def email_address(name: str, value: object) -> str:
    """One email address, ``someone@example.com`` (``SWITCHBOARD_SMTP_FROM``)."""
    from email.utils import parseaddr

    if isinstance(value, str):
        text = value.strip()
        _, address = parseaddr(text)
        if (address and address == text and address.count("@") == 1
                and all(address.partition("@")) and address.isprintable()
                and not any(ch.isspace() for ch in address)):
            return address
    raise ConfigError(f"{name}: {show(value)} is not an email address like someone@example.com")


def email_addresses(name: str, value: object) -> tuple[str, ...]:
    """Email addresses, comma-separated (``SWITCHBOARD_VOICEMAIL_EMAIL``)."""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: {show(value)} is not a comma-separated list of addresses")
    return tuple(dict.fromkeys(
        email_address(name, part) for part in value.split(",") if part.strip()
    ))


def metrics_token(name: str, value: object) -> Secret:
    """``SWITCHBOARD_METRICS_TOKEN``'s check: at least :data:`MIN_TOKEN_LENGTH` printable ASCII
    characters without spaces (it travels in an HTTP header)."""
    text = value.reveal() if isinstance(value, Secret) else value
    if (
        not isinstance(text, str)
        or len(text) < MIN_TOKEN_LENGTH
        or not text.isascii()
        or not all(ch.isprintable() and not ch.isspace() for ch in text)
    ):
        raise ConfigError(
            f"{name}: must be at least {MIN_TOKEN_LENGTH} printable characters without spaces "
            "(make one with: openssl rand -hex 32); the value is not shown"
        )
    return Secret(text)


#: The shortest console password and secret key taken.
MIN_PASSWORD = 8
MIN_SECRET_KEY = 16


def console_password(name: str, value: object) -> Secret:
    """``SWITCHBOARD_CONSOLE_PASSWORD``: at least :data:`MIN_PASSWORD` characters; never shown."""
    text = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(text, str) or len(text) < MIN_PASSWORD:
        size = len(text) if isinstance(text, str) else 0
        raise ConfigError(f"{name}: {size} characters is too short; use at least {MIN_PASSWORD}")
    check_utf8(name, text)
    return Secret(text)


def password_hash(name: str, value: object) -> Secret:
    """``SWITCHBOARD_CONSOLE_PASSWORD_HASH``: a werkzeug hash (``scrypt:...$salt$hash`` or
    ``pbkdf2:...``)."""
    text = value.reveal() if isinstance(value, Secret) else value
    method, _, rest = str(text).partition("$")
    salt, _, digest = rest.partition("$")
    if not method.startswith(("scrypt", "pbkdf2")) or not salt or not digest:
        raise ConfigError(
            f"{name}: not a werkzeug password hash (scrypt:... or pbkdf2:...); make one with: "
            "python -c \"import getpass; from werkzeug.security import generate_password_hash "
            "as h; print(h(getpass.getpass()))\""
        )
    check_utf8(name, str(text))
    return Secret(str(text))


def secret_key(name: str, value: object) -> Secret:
    """``SWITCHBOARD_SECRET_KEY``: at least :data:`MIN_SECRET_KEY` characters; never shown."""
    text = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(text, str) or len(text) < MIN_SECRET_KEY:
        raise ConfigError(
            f"{name}: too short; use at least 32 random characters (python -c \"import "
            "secrets; print(secrets.token_urlsafe(32))\")"
        )
    check_utf8(name, text)
    return Secret(text)


def time_zone(name: str, value: object) -> str:
    """A time zone name the system knows (``Europe/Paris``, ``UTC``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str):
        raise ConfigError(f"{name}: {show(value)} is not a time zone name (like Europe/Paris or "
                          "UTC)")
    text = value.strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: {show(text)} is not a time zone name (like Europe/Paris or "
                          "UTC)") from None
    return text
