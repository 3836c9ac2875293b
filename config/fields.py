"""The table of settings: field name, environment variable, parser, whether it may be unset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from switchboard.config import notify
from switchboard.config import validation as v

# Twilio gives a webhook 15 seconds in all; a handler must answer well inside that.
TWILIO_WEBHOOK_DEADLINE = 15.0


@dataclass(frozen=True)
class Field:
    """One setting: ``name`` on :class:`~config.Settings`, ``env`` its variable, ``parse``
    its parser; ``optional`` fields may be ``None``; ``secret`` fields are never shown."""

    name: str
    env: str
    parse: Callable[[str, object], object]
    optional: bool = False
    secret: bool = False


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("account_sid", "TWILIO_ACCOUNT_SID", v.account_sid, optional=True),
        Field("auth_token", "TWILIO_AUTH_TOKEN", v.secret, optional=True, secret=True),
        Field("api_key_sid", "TWILIO_API_KEY_SID", v.api_key_sid, optional=True),
        Field("api_key_secret", "TWILIO_API_KEY_SECRET", v.secret, optional=True, secret=True),
        Field("api_base_url", "TWILIO_API_BASE_URL", v.api_base_url),
        Field("public_url", "SWITCHBOARD_PUBLIC_URL", v.base_url, optional=True),
        Field("database_url", "SWITCHBOARD_DATABASE_URL", v.database_url, optional=True),
        Field("trusted_proxies", "SWITCHBOARD_TRUSTED_PROXIES",
              partial(v.integer, minimum=0, maximum=10)),
        Field("validate_signatures", "SWITCHBOARD_VALIDATE_SIGNATURES", v.boolean),
        Field("handler_timeout", "SWITCHBOARD_HANDLER_TIMEOUT",
              partial(v.number, minimum=0.1, below=TWILIO_WEBHOOK_DEADLINE,
                      reason=" (Twilio waits at most 15 seconds for an answer)")),
        Field("record_delay", "SWITCHBOARD_RECORD_DELAY",
              partial(v.number, minimum=0, below=10,
                      reason=" (seconds a call or message row may wait to be written)")),
        Field("business_name", "SWITCHBOARD_BUSINESS_NAME", v.twiml_text),
        Field("business_hours", "SWITCHBOARD_BUSINESS_HOURS", v.twiml_text),
        Field("business_address", "SWITCHBOARD_BUSINESS_ADDRESS", v.twiml_text),
        Field("forward_number", "SWITCHBOARD_FORWARD_NUMBER", v.e164, optional=True),
        Field("dial_timeout", "SWITCHBOARD_DIAL_TIMEOUT",
              partial(v.integer, minimum=5, maximum=600)),
        Field("voice", "SWITCHBOARD_VOICE", v.say_voice),
        Field("language", "SWITCHBOARD_LANGUAGE", v.say_language),
        Field("max_attempts", "SWITCHBOARD_MAX_ATTEMPTS",
              partial(v.integer, minimum=1, maximum=10)),
        Field("voicemail_max_length", "SWITCHBOARD_VOICEMAIL_MAX_LENGTH",
              partial(v.integer, minimum=1, maximum=14400)),
        Field("voice_session_idle", "SWITCHBOARD_VOICE_SESSION_IDLE",
              partial(v.number, minimum=4, below=24 * 366,
                      reason=" (hours a voice session is kept after its last change)")),
        Field("database_retry_after", "SWITCHBOARD_DATABASE_RETRY_AFTER",
              partial(v.number, minimum=0, below=60,
                      reason=" (seconds the store stops trying a database that failed a "
                             "webhook; 0: never)")),
        Field("database_pool_size", "SWITCHBOARD_DATABASE_POOL_SIZE",
              partial(v.integer, minimum=1, maximum=100)),
        Field("database_max_overflow", "SWITCHBOARD_DATABASE_MAX_OVERFLOW",
              partial(v.integer, minimum=0, maximum=100)),
        Field("hosts", "SWITCHBOARD_HOSTS", partial(v.integer, minimum=1, maximum=1000)),
        Field("flows_dir", "SWITCHBOARD_FLOWS_DIR", v.folder, optional=True),
        Field("studio_retention_days", "SWITCHBOARD_STUDIO_RETENTION_DAYS",
              partial(v.number, minimum=1, below=3651,
                      reason=" (days a Studio flow execution is kept after its last step)")),
        Field("exchanges_retention_days", "SWITCHBOARD_EXCHANGES_RETENTION_DAYS",
              partial(v.number, minimum=0, below=3651,
                      reason=" (days what each webhook was answered is kept; 0: not kept)")),
        Field("voicemail_notify", "SWITCHBOARD_VOICEMAIL_NOTIFY", notify.notify_numbers,
              optional=True),
        Field("smtp_url", "SWITCHBOARD_SMTP_URL", notify.smtp_url, optional=True, secret=True),
        Field("smtp_from", "SWITCHBOARD_SMTP_FROM", notify.email_address, optional=True),
        Field("voicemail_email", "SWITCHBOARD_VOICEMAIL_EMAIL", notify.email_addresses,
              optional=True),
        Field("metrics_token", "SWITCHBOARD_METRICS_TOKEN", notify.metrics_token,
              optional=True, secret=True),
        Field("console_password", "SWITCHBOARD_CONSOLE_PASSWORD", notify.console_password,
              optional=True, secret=True),
        Field("console_password_hash", "SWITCHBOARD_CONSOLE_PASSWORD_HASH",
              notify.password_hash, optional=True, secret=True),
        Field("secret_key", "SWITCHBOARD_SECRET_KEY", notify.secret_key, optional=True,
              secret=True),
        Field("console_timezone", "SWITCHBOARD_CONSOLE_TIMEZONE", notify.time_zone),
        Field("console_session_hours", "SWITCHBOARD_CONSOLE_SESSION_HOURS",
              partial(v.number, minimum=0.25, below=720,
                      reason=" (hours a console login lasts)")),
        Field("console_refresh", "SWITCHBOARD_CONSOLE_REFRESH",
              partial(v.number, minimum=1, below=300,
                      reason=" (seconds between two refreshes of the console's overview)")),
    )
}

BY_ENV: dict[str, Field] = {f.env: f for f in FIELDS.values()}
