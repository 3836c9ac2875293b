"""The console's settings: where they are read from, what is refused, and the session key."""

from __future__ import annotations

import hashlib
import hmac
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.security import generate_password_hash

from switchboard.callbacks.console.options import read_options
from switchboard.config import ConfigError, Secret

TOKEN = "an-auth-token-of-32-characters-00"


def settings(**values: Any) -> SimpleNamespace:
    fields = {"auth_token": Secret(TOKEN), "api_key_secret": None}
    fields.update(values)
    return SimpleNamespace(**fields)


def options(config: dict[str, Any] | None = None, **values: Any) -> Any:
    return read_options(config or {}, settings(**values))


def test_no_password_no_console() -> None:
    assert options() is None
    assert options({"SWITCHBOARD_CONSOLE_PASSWORD": "  "}) is None


def test_app_config_then_the_settings_which_read_the_environment() -> None:
    from switchboard.config import load_settings

    read = load_settings(environ={"SWITCHBOARD_CONSOLE_PASSWORD": "from the environment"})
    assert read_options({}, read).password == "from the environment"
    assert options(console_password=Secret("from the settings")).password == "from the settings"
    assert options({"SWITCHBOARD_CONSOLE_PASSWORD": "from app.config"},
                   console_password=Secret("from the settings")).password == "from app.config"


def test_the_defaults() -> None:
    found = options({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough"})
    assert found.hashed is False
    assert str(found.timezone) == "UTC"
    assert found.session_hours == 12
    assert found.refresh == 5
    assert "long enough" not in repr(found)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "short"}, "5 characters is too short"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough",
          "SWITCHBOARD_CONSOLE_PASSWORD_HASH": generate_password_hash("x")}, "not both"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD_HASH": "md5$abc"}, "not a werkzeug password hash"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD_HASH": "long enough plain text"},
         "not a werkzeug password hash"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough", "SWITCHBOARD_SECRET_KEY": "short"},
         "SWITCHBOARD_SECRET_KEY: too short"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough",
          "SWITCHBOARD_CONSOLE_TIMEZONE": "Mars/Olympus"}, "not a time zone name"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough",
          "SWITCHBOARD_CONSOLE_SESSION_HOURS": "forever"}, "is not a number"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough",
          "SWITCHBOARD_CONSOLE_SESSION_HOURS": "1000"}, "out of range"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough",
          "SWITCHBOARD_CONSOLE_REFRESH": "0"}, "out of range"),
        ({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough",
          "SWITCHBOARD_CONSOLE_REFRESH": "nan"}, "out of range"),
    ],
)
def test_a_bad_setting_is_refused_in_one_line(config: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        options(config)
    text = str(raised.value)
    assert "\n" not in text
    for value in config.values():
        if "long enough" in value:
            assert value not in text


def test_a_werkzeug_hash_is_taken_as_the_password() -> None:
    found = options({"SWITCHBOARD_CONSOLE_PASSWORD_HASH": generate_password_hash("s3cret pass")})
    assert found.hashed is True
    assert found.password.startswith(("scrypt:", "pbkdf2:"))


def test_the_secret_key_is_the_setting_when_set() -> None:
    found = options({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough",
                     "SWITCHBOARD_SECRET_KEY": "a-key-long-enough-for-sessions"})
    assert found.secret_key == b"a-key-long-enough-for-sessions"
    assert found.key_source == "setting"


def test_without_a_setting_the_key_is_derived_from_the_token_never_the_token_itself() -> None:
    config = {"SWITCHBOARD_CONSOLE_PASSWORD": "long enough"}
    first, second = options(config), options(config)
    assert first.key_source == "derived"
    assert first.secret_key == second.secret_key  # every process and host agrees
    expected = hmac.new(TOKEN.encode(), b"switchboard console session key v1", hashlib.sha256)
    assert first.secret_key == expected.digest()
    assert TOKEN.encode() not in first.secret_key
    other = options(config, auth_token=Secret("another-token-000000000000000000"))
    assert other.secret_key != first.secret_key
    by_key = options(config, auth_token=None, api_key_secret=Secret("an-api-key-secret-0000"))
    assert by_key.key_source == "derived"
    assert by_key.secret_key not in (first.secret_key, b"an-api-key-secret-0000")


def test_with_nothing_to_derive_from_the_key_is_random_per_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = {"SWITCHBOARD_CONSOLE_PASSWORD": "long enough"}
    with caplog.at_level(logging.WARNING):
        first = options(config, auth_token=None)
    second = options(config, auth_token=None)
    assert first.key_source == "random"
    assert first.secret_key != second.secret_key
    assert "SWITCHBOARD_SECRET_KEY" in caplog.text


def test_a_new_password_makes_a_new_fingerprint() -> None:
    first = options({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough"})
    second = options({"SWITCHBOARD_CONSOLE_PASSWORD": "long enough 2"})
    assert first.password_fingerprint != second.password_fingerprint
    assert "long enough" not in first.password_fingerprint
