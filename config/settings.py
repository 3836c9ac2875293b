"""The settings object every part of Switchboard reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from switchboard.config.errors import ConfigError
from switchboard.config.fields import FIELDS
from switchboard.config.secret import Secret
from switchboard.config.validation import redact_database_url, redact_url

if TYPE_CHECKING:
    from switchboard.config.notify import SmtpServer


@dataclass(frozen=True)
class Settings:
    """Validated settings for one profile. Build it with :func:`switchboard.config.load_settings`.

    Secrets are :class:`~config.Secret` objects: ``repr(settings)`` never shows them, nor the
    password of a database or basic-auth URL.
    """

    profile: str = "default"
    account_sid: str | None = None
    auth_token: Secret | None = None
    api_key_sid: str | None = None
    api_key_secret: Secret | None = None
    api_base_url: str = "https://api.twilio.com"
    public_url: str | None = None
    database_url: str | None = None
    trusted_proxies: int = 0
    validate_signatures: bool = True
    handler_timeout: float = 10.0
    record_delay: float = 0.02
    business_name: str = "Switchboard"
    business_hours: str = "Monday to Friday, 9 AM to 5 PM"
    business_address: str = "1 Main Street, Springfield"
    forward_number: str | None = None
    dial_timeout: int = 20
    voice: str = "Polly.Joanna"
    language: str = "en-US"
    max_attempts: int = 3
    voicemail_max_length: int = 120
    voice_session_idle: float = 24.0
    database_retry_after: float = 5.0
    database_pool_size: int = 5
    database_max_overflow: int = 10
    hosts: int = 1
    flows_dir: str | None = None
    studio_retention_days: float = 30.0
    exchanges_retention_days: float = 30.0
    voicemail_notify: tuple[str, ...] | None = None
    smtp_url: SmtpServer | None = None
    smtp_from: str | None = None
    voicemail_email: tuple[str, ...] | None = None
    metrics_token: Secret | None = None
    console_password: Secret | None = None
    console_password_hash: Secret | None = None
    secret_key: Secret | None = None
    console_timezone: str = "UTC"
    console_session_hours: float = 12.0
    console_refresh: float = 5.0

    def __post_init__(self) -> None:
        # Settings built by hand: a secret given as text is checked and wrapped like one read
        # by load_settings, so that repr() still hides it.
        for field in FIELDS.values():
            value = getattr(self, field.name)
            if field.secret and isinstance(value, str):
                parsed = field.parse(field.env, value) if value.strip() else None
                object.__setattr__(self, field.name, parsed)

    def basic_auth(self) -> tuple[str, str]:
        """The REST API credentials: the API key when one is set, else the account SID and
        auth token. :class:`ConfigError` when neither pair is complete."""
        if self.api_key_sid and self.api_key_secret:
            return self.api_key_sid, self.api_key_secret.reveal()
        if self.account_sid and self.auth_token:
            return self.account_sid, self.auth_token.reveal()
        raise ConfigError(
            f"profile {self.profile!r} has no REST API credentials: set TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET)"
        )

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` (field names) applied, each validated like its environment
        variable. ``None`` unsets an optional field."""
        parsed: dict[str, object] = {}
        for name, value in changes.items():
            if name == "profile":
                parsed[name] = str(value)
                continue
            field = FIELDS.get(name)
            if field is None:
                raise ConfigError(f"{name}: not a setting (known: {', '.join(FIELDS)})")
            if value is None or (isinstance(value, str) and not value.strip()):
                if not field.optional:
                    raise ConfigError(f"{field.env}: must not be empty")
                parsed[name] = None
            else:
                parsed[name] = field.parse(field.env, value)
        return dataclasses.replace(self, **parsed)

    def __repr__(self) -> str:
        shown = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "database_url" and value:
                value = redact_database_url(value)
            elif field.name in ("public_url", "api_base_url") and value:
                value = redact_url(value)
            shown.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

