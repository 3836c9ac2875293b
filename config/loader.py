"""``load_settings``: environment, ``.env``, the profiles file and overrides, validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from switchboard.config.errors import ConfigError
from switchboard.config.fields import FIELDS
from switchboard.config.profiles import profiles_file, read_profiles
from switchboard.config.settings import Settings
from switchboard.config.validation import boolean, show

DEFAULT_PROFILE = "default"


def load_settings(
    profile: str | None = None,
    *,
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    profiles_path: str | Path | None = None,
) -> Settings:
    """Read and validate the settings of ``profile``.

    Layers, later ones winning: built-in defaults; ``.env`` (found from the working folder
    upwards, skipped when ``SWITCHBOARD_DOTENV=0``); the process environment (or ``environ``,
    which replaces both the environment and ``.env``); the profile's table in the profiles file;
    ``overrides`` (environment-variable names; ``None`` unsets). Keys of ``overrides`` that are
    not settings (a Flask ``config`` mapping's own keys) are ignored.

    ``profile`` defaults to ``SWITCHBOARD_PROFILE``, then ``"default"`` (the environment alone).
    The profiles file is ``profiles_path``, else ``SWITCHBOARD_PROFILES_FILE``, else
    ``./switchboard.toml`` when it exists.
    """
    env, dotenv_keys = _environment(environ)
    given = dict(overrides or {})

    def lookup(name: str) -> object:
        return given[name] if name in given else env.get(name)

    name = (profile or _str(lookup("SWITCHBOARD_PROFILE")) or DEFAULT_PROFILE).strip()
    path, required = profiles_file(profiles_path or _str(lookup("SWITCHBOARD_PROFILES_FILE")))
    profiles = read_profiles(path, required=required)
    if name != DEFAULT_PROFILE and name not in profiles:
        known = ", ".join([DEFAULT_PROFILE, *sorted(p for p in profiles if p != DEFAULT_PROFILE)])
        where = path.name if profiles or path.exists() else f"no {path.name} found"
        raise ConfigError(f"profile {show(name)} is not defined ({where}); known profiles: {known}")
    table = profiles.get(name, {})

    values: dict[str, object] = {}
    for field in FIELDS.values():
        if field.env in given:
            raw, label = given[field.env], field.env
        elif field.name in table:
            raw, label = table[field.name], f"{field.name} in profile {name!r} ({path.name})"
        elif field.env in env:
            raw = env[field.env]
            label = f"{field.env} (from .env)" if field.env in dotenv_keys else field.env
        else:
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if field.optional:
                values[field.name] = None
            continue
        values[field.name] = field.parse(label, raw)

    if bool(values.get("api_key_sid")) != bool(values.get("api_key_secret")):
        missing = "TWILIO_API_KEY_SECRET" if values.get("api_key_sid") else "TWILIO_API_KEY_SID"
        raise ConfigError(f"{missing}: required with an API key (set both or neither)")
    if values.get("voicemail_notify") and not values.get("account_sid"):
        raise ConfigError("SWITCHBOARD_VOICEMAIL_NOTIFY: texts need TWILIO_ACCOUNT_SID (and the "
                          "auth token) to send them")
    if values.get("console_password") and values.get("console_password_hash"):
        raise ConfigError("SWITCHBOARD_CONSOLE_PASSWORD and SWITCHBOARD_CONSOLE_PASSWORD_HASH: "
                          "set one of them, not both")
    if values.get("smtp_url") and not values.get("smtp_from"):
        raise ConfigError("SWITCHBOARD_SMTP_FROM: required with SWITCHBOARD_SMTP_URL (the "
                          "address the voicemail emails come from)")
    return Settings(profile=name, **values)


def _environment(environ: Mapping[str, str] | None) -> tuple[dict[str, str], set[str]]:
    """The variables to read, and which of them came from ``.env``."""
    if environ is not None:
        return dict(environ), set()
    env = dict(os.environ)
    if not _dotenv_enabled(env.get("SWITCHBOARD_DOTENV")):
        return env, set()
    from dotenv import dotenv_values, find_dotenv

    dotenv_path = find_dotenv(".env", usecwd=True)
    if not dotenv_path:
        return env, set()
    check_dotenv(dotenv_path)
    from_file = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    # An empty variable counts as unset: the value in .env applies.
    added = {k for k in from_file if not env.get(k, "").strip()}
    return {**env, **{k: from_file[k] for k in added}}, added


def check_dotenv(path: str | Path) -> None:
    """Raise :class:`ConfigError` naming ``path`` and the first line python-dotenv cannot
    parse (which it would otherwise skip with a warning). The line itself is not repeated: it
    may hold a secret."""
    from dotenv.parser import parse_stream

    try:
        with open(path, encoding="utf-8") as stream:
            bindings = list(parse_stream(stream))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    for binding in bindings:
        if binding.error:
            raise ConfigError(
                f"{path}, line {binding.original.line}: not a KEY=VALUE line (or a quote "
                "is left open); fix or remove it"
            )


def _dotenv_enabled(value: str | None) -> bool:
    if value is None or not value.strip():
        return True
    return boolean("SWITCHBOARD_DOTENV", value)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
