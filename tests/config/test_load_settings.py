"""load_settings: where values come from and which wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.config import ConfigError, Secret, Settings, load_settings

from .conftest import ACCOUNT_SID, API_KEY_SID, API_SECRET, AUTH_TOKEN


def test_defaults_with_an_empty_environment(workdir: Path) -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.profile == "default"
    assert settings.api_base_url == "https://api.twilio.com"
    assert settings.account_sid is None
    assert settings.auth_token is None
    assert settings.database_url is None
    assert settings.trusted_proxies == 0
    assert settings.validate_signatures is True
    assert settings.handler_timeout == 10.0
    assert settings.business_name == "Switchboard"
    assert settings.business_hours
    assert settings.business_address
    assert settings.forward_number is None
    assert settings.dial_timeout == 20
    assert (settings.voice, settings.language) == ("Polly.Joanna", "en-US")
    assert (settings.max_attempts, settings.voicemail_max_length) == (3, 120)


def test_every_setting_from_the_environment(workdir: Path) -> None:
    settings = load_settings(
        environ={
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_KEY_SID": API_KEY_SID,
            "TWILIO_API_KEY_SECRET": API_SECRET,
            "TWILIO_API_BASE_URL": "http://127.0.0.1:8999/",
            "SWITCHBOARD_PUBLIC_URL": "https://abc.ngrok.io/",
            "SWITCHBOARD_DATABASE_URL": "sqlite:////var/lib/switchboard.db",
            "SWITCHBOARD_TRUSTED_PROXIES": "1",
            "SWITCHBOARD_VALIDATE_SIGNATURES": "no",
            "SWITCHBOARD_HANDLER_TIMEOUT": "7.5",
            "SWITCHBOARD_BUSINESS_NAME": "Acme Plumbing",
            "SWITCHBOARD_BUSINESS_HOURS": "Always",
            "SWITCHBOARD_BUSINESS_ADDRESS": "2 High Street",
            "SWITCHBOARD_FORWARD_NUMBER": "+14155550100",
            "SWITCHBOARD_DIAL_TIMEOUT": "30",
            "SWITCHBOARD_VOICE": "alice",
            "SWITCHBOARD_LANGUAGE": "en-GB",
            "SWITCHBOARD_MAX_ATTEMPTS": "5",
            "SWITCHBOARD_VOICEMAIL_MAX_LENGTH": "60",
        }
    )
    assert settings.account_sid == ACCOUNT_SID
    assert isinstance(settings.auth_token, Secret)
    assert settings.auth_token.reveal() == AUTH_TOKEN
    assert settings.api_key_sid == API_KEY_SID
    assert settings.api_key_secret == API_SECRET
    assert settings.api_base_url == "http://127.0.0.1:8999"
    assert settings.public_url == "https://abc.ngrok.io"
    assert settings.database_url == "sqlite:////var/lib/switchboard.db"
    assert settings.trusted_proxies == 1
    assert settings.validate_signatures is False
    assert settings.handler_timeout == 7.5
    assert settings.business_name == "Acme Plumbing"
    assert settings.business_hours == "Always"
    assert settings.business_address == "2 High Street"
    assert settings.forward_number == "+14155550100"
    assert settings.dial_timeout == 30
    assert settings.voice == "alice"
    assert settings.language == "en-GB"
    assert settings.max_attempts == 5
    assert settings.voicemail_max_length == 60


def test_empty_variables_count_as_unset(workdir: Path) -> None:
    settings = load_settings(environ={"TWILIO_AUTH_TOKEN": "", "SWITCHBOARD_DIAL_TIMEOUT": " "})
    assert settings.auth_token is None
    assert settings.dial_timeout == 20


def test_reads_the_process_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    assert load_settings().account_sid == ACCOUNT_SID


# --- .env ---------------------------------------------------------------------------------


def _dotenv_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_DOTENV", raising=False)


def test_dotenv_is_read(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_text(
        f"TWILIO_ACCOUNT_SID={ACCOUNT_SID}\nTWILIO_AUTH_TOKEN='{AUTH_TOKEN}'\n"
        "# a comment\nSWITCHBOARD_DIAL_TIMEOUT=45\n"
    )
    settings = load_settings()
    assert settings.account_sid == ACCOUNT_SID
    assert settings.auth_token == AUTH_TOKEN
    assert settings.dial_timeout == 45


def test_dotenv_never_overrides_the_real_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_text("SWITCHBOARD_DIAL_TIMEOUT=45\nSWITCHBOARD_VOICE=alice\n")
    monkeypatch.setenv("SWITCHBOARD_DIAL_TIMEOUT", "30")
    settings = load_settings()
    assert settings.dial_timeout == 30
    assert settings.voice == "alice"
    import os

    assert "SWITCHBOARD_VOICE" not in os.environ  # read, not loaded into the process


def test_dotenv_found_in_a_parent_folder(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_text("SWITCHBOARD_VOICE=alice\n")
    sub = workdir / "sub" / "dir"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert load_settings().voice == "alice"


@pytest.mark.parametrize("off", ["0", "false", "no", "FALSE"])
def test_dotenv_skipped_when_switched_off(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, off: str
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DOTENV", off)
    (workdir / ".env").write_text("SWITCHBOARD_VOICE=alice\n")
    assert load_settings().voice == "Polly.Joanna"


def test_explicit_environ_replaces_environment_and_dotenv(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_text("SWITCHBOARD_VOICE=alice\n")
    monkeypatch.setenv("SWITCHBOARD_LANGUAGE", "fr-FR")
    settings = load_settings(environ={"SWITCHBOARD_DIAL_TIMEOUT": "9"})
    assert (settings.voice, settings.language, settings.dial_timeout) == (
        "Polly.Joanna",
        "en-US",
        9,
    )


def test_dotenv_errors_say_so(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_text("SWITCHBOARD_DIAL_TIMEOUT=soon\n")
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_DIAL_TIMEOUT \(from \.env\): 'soon'"):
        load_settings()


# --- overrides ----------------------------------------------------------------------------


def test_overrides_win_and_take_native_values(workdir: Path) -> None:
    settings = load_settings(
        environ={"SWITCHBOARD_DIAL_TIMEOUT": "9", "TWILIO_AUTH_TOKEN": "from-env"},
        overrides={
            "SWITCHBOARD_DIAL_TIMEOUT": 25,
            "SWITCHBOARD_VALIDATE_SIGNATURES": False,
            "SWITCHBOARD_HANDLER_TIMEOUT": 3,
            "TWILIO_AUTH_TOKEN": Secret("from-overrides"),
            "TESTING": True,  # a Flask config key: not a setting, ignored
            "SECRET_KEY": "flask",
        },
    )
    assert settings.dial_timeout == 25
    assert settings.validate_signatures is False
    assert settings.handler_timeout == 3.0
    assert settings.auth_token == "from-overrides"


def test_override_none_unsets(workdir: Path) -> None:
    settings = load_settings(
        environ={"SWITCHBOARD_PUBLIC_URL": "https://x.example"},
        overrides={"SWITCHBOARD_PUBLIC_URL": None, "SWITCHBOARD_DIAL_TIMEOUT": None},
    )
    assert settings.public_url is None
    assert settings.dial_timeout == 20


def test_override_errors_name_the_variable(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_MAX_ATTEMPTS: 0 is below the minimum"):
        load_settings(environ={}, overrides={"SWITCHBOARD_MAX_ATTEMPTS": 0})


# --- API keys and basic auth --------------------------------------------------------------


def test_basic_auth_prefers_the_api_key(workdir: Path) -> None:
    settings = load_settings(
        environ={
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_KEY_SID": API_KEY_SID,
            "TWILIO_API_KEY_SECRET": API_SECRET,
        }
    )
    assert settings.basic_auth() == (API_KEY_SID, API_SECRET)
    assert settings.replace(api_key_sid=None, api_key_secret=None).basic_auth() == (
        ACCOUNT_SID,
        AUTH_TOKEN,
    )


def test_basic_auth_without_credentials_says_what_to_set(workdir: Path) -> None:
    settings = load_settings(environ={"TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    with pytest.raises(ConfigError, match="set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN") as err:
        settings.basic_auth()
    assert AUTH_TOKEN not in str(err.value)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"TWILIO_API_KEY_SID": API_KEY_SID}, "TWILIO_API_KEY_SECRET"),
        ({"TWILIO_API_KEY_SECRET": API_SECRET}, "TWILIO_API_KEY_SID"),
    ],
)
def test_half_an_api_key_is_an_error(workdir: Path, env: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError, match=f"^{missing}: required") as err:
        load_settings(environ=env)
    assert API_SECRET not in str(err.value)


# --- replace ------------------------------------------------------------------------------


def test_replace_validates_like_the_environment() -> None:
    settings = Settings()
    assert settings.replace(dial_timeout="30").dial_timeout == 30
    assert settings.replace(auth_token="abc").auth_token == Secret("abc")
    assert settings.replace(public_url="https://x.example/").public_url == "https://x.example"
    with pytest.raises(ConfigError, match=r"^TWILIO_ACCOUNT_SID: the value is not an account"):
        settings.replace(account_sid="nope")
    with pytest.raises(ConfigError, match=r"^colour: not a setting"):
        settings.replace(colour="blue")
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_VOICE: must not be empty"):
        settings.replace(voice=None)


def test_settings_are_frozen_and_coerce_plain_secrets() -> None:
    settings = Settings(auth_token="abc")  # type: ignore[arg-type]
    assert isinstance(settings.auth_token, Secret)
    with pytest.raises(AttributeError):
        settings.voice = "alice"  # type: ignore[misc]
