"""Secrets never show: not in reprs, not in errors, not in tracebacks' messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.config import ConfigError, Settings, load_settings

from .conftest import ACCOUNT_SID, API_KEY_SID, API_SECRET, AUTH_TOKEN

DB_PASSWORD = "db-pass-5f4e3d2c"
URL_PASSWORD = "url-pass-a1b2c3"


def _everything() -> Settings:
    return load_settings(
        environ={
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_KEY_SID": API_KEY_SID,
            "TWILIO_API_KEY_SECRET": API_SECRET,
            "SWITCHBOARD_DATABASE_URL": f"postgresql://sb:{DB_PASSWORD}@db.internal/sb",
            "SWITCHBOARD_PUBLIC_URL": f"https://twilio:{URL_PASSWORD}@hooks.example.com",
        }
    )


def _assert_hidden(text: str) -> None:
    for secret in (AUTH_TOKEN, API_SECRET, DB_PASSWORD, URL_PASSWORD):
        assert secret not in text


def test_settings_repr_and_str_hide_every_secret() -> None:
    settings = _everything()
    for text in (repr(settings), str(settings), f"{settings}", repr([settings])):
        _assert_hidden(text)
        assert "********" in text
    assert "db.internal" in repr(settings)
    assert "hooks.example.com" in repr(settings)
    # ... while the values themselves are intact
    assert settings.basic_auth() == (API_KEY_SID, API_SECRET)
    assert DB_PASSWORD in settings.database_url
    assert URL_PASSWORD in settings.public_url


@pytest.mark.parametrize(
    "env",
    [
        {"TWILIO_ACCOUNT_SID": "bad"},
        {"TWILIO_API_KEY_SID": "bad"},
        {"TWILIO_API_KEY_SID": ""},
        {"SWITCHBOARD_DATABASE_URL": f"mysql://sb:{DB_PASSWORD}@db/sb"},
        {"SWITCHBOARD_DATABASE_URL": f"postgresql://sb:{DB_PASSWORD}@db"},
        {"SWITCHBOARD_DATABASE_URL": f"::sb:{DB_PASSWORD}@db/sb"},
        {"SWITCHBOARD_PUBLIC_URL": f"ftp://x:{URL_PASSWORD}@hooks.example.com"},
        {"SWITCHBOARD_PUBLIC_URL": f"https://x:{URL_PASSWORD}@hooks.example.com/#f"},
        {"SWITCHBOARD_PUBLIC_URL": f"https://x:{URL_PASSWORD}@hooks.example.com:99999"},
        {"TWILIO_API_BASE_URL": f"https://x:{URL_PASSWORD}@api.example.com/?q"},
    ],
)
def test_errors_never_carry_a_secret(env: dict[str, str]) -> None:
    full = {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_KEY_SECRET": API_SECRET, **env}
    with pytest.raises(ConfigError) as err:
        load_settings(environ=full)
    _assert_hidden(str(err.value))
    _assert_hidden(repr(err.value))
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__ or err.value.__context__ is None


@pytest.mark.parametrize("value", [123, ["a"], b"bytes"])
def test_secret_type_errors_do_not_echo(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^TWILIO_AUTH_TOKEN: expected text"):
        load_settings(environ={}, overrides={"TWILIO_AUTH_TOKEN": value})


def test_secrets_from_a_profile_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'[profiles.acme]\nauth_token = "{AUTH_TOKEN}"\naccount_sid = "bad"\n')
    with pytest.raises(ConfigError) as err:
        load_settings("acme", environ={}, profiles_path=path)
    _assert_hidden(str(err.value))
    path.write_text(f'[profiles.acme]\nauth_token = "{AUTH_TOKEN}"\n')
    _assert_hidden(repr(load_settings("acme", environ={}, profiles_path=path)))


def test_toml_syntax_errors_do_not_quote_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'[profiles.acme]\nauth_token = "{AUTH_TOKEN}" trailing\n')
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_settings("acme", environ={}, profiles_path=path)
    _assert_hidden(str(err.value))


def test_settings_built_by_hand_hide_every_secret() -> None:
    built = Settings(
        auth_token=AUTH_TOKEN,
        api_key_secret=API_SECRET,
        metrics_token="metrics-" + AUTH_TOKEN,
        console_password="console-" + AUTH_TOKEN,
        secret_key="key-" + AUTH_TOKEN,
        smtp_url=f"smtp://mail:{URL_PASSWORD}@mail.example.com",
    )
    _assert_hidden(repr(built))
    _assert_hidden(str(built))
    assert built.console_password == "console-" + AUTH_TOKEN
    assert built.smtp_url.password == URL_PASSWORD
