"""Malformed settings: values that would break the server at run time or show a secret, files
that cannot be read (a one-line ConfigError, never a traceback), and an empty variable, which
leaves ``.env`` in force."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
from click.testing import CliRunner

from switchboard.cli import cli
from switchboard.config import ConfigError, Settings, load_settings

from .conftest import AUTH_TOKEN

PASSWORD = "hunter2-not-for-logs"


def _dotenv_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_DOTENV", raising=False)


# --- secrets in messages and reprs ---------------------------------------------------------


@pytest.mark.parametrize("separator", ["/", "#", "?"])
def test_a_public_url_password_cut_short_by_urlsplit_is_hidden_in_the_error(
    workdir: Path, separator: str
) -> None:
    """``https://user:pa/ss@host`` is not a URL urlsplit reads as user:password@host: the error
    must not repeat it whole, password included."""
    secret = f"hunter2{separator}{PASSWORD}"
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"SWITCHBOARD_PUBLIC_URL": f"https://sb:{secret}@example.com"})
    message = str(caught.value)
    assert message.startswith("SWITCHBOARD_PUBLIC_URL: ")
    assert "hunter2" not in message
    assert PASSWORD not in message
    assert "***" in message


def test_the_cli_error_for_such_a_public_url_hides_the_password(
    monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", f"https://sb:pa/{PASSWORD}@example.com")
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 2
    assert "Error: routes: SWITCHBOARD_PUBLIC_URL:" in result.output
    assert PASSWORD not in result.output


def test_a_database_password_given_as_a_query_parameter_is_never_shown(workdir: Path) -> None:
    """libpq takes ``?password=``; it must reach neither repr(settings) nor the store's log
    lines (``health check failed: database ...?password=... is unavailable``)."""
    url = f"postgresql://switchboard@db.example.com/sb?password={PASSWORD}&sslmode=require"
    settings = load_settings(environ={"SWITCHBOARD_DATABASE_URL": url})
    assert "password=" not in settings.database_url
    assert PASSWORD not in repr(settings)
    from sqlalchemy import make_url

    parsed = make_url(settings.database_url)
    assert parsed.password == PASSWORD
    assert dict(parsed.query) == {"sslmode": "require"}
    assert PASSWORD not in parsed.render_as_string(hide_password=True)


def test_a_database_password_given_twice_is_refused_without_showing_it(workdir: Path) -> None:
    url = f"postgresql://sb:{PASSWORD}@db.example.com/sb?password={PASSWORD}"
    with pytest.raises(ConfigError, match="password twice") as caught:
        load_settings(environ={"SWITCHBOARD_DATABASE_URL": url})
    assert PASSWORD not in str(caught.value)


def test_repr_hides_a_query_password_of_settings_built_directly() -> None:
    settings = Settings(database_url=f"postgresql+psycopg://sb@h/db?password={PASSWORD}")
    assert PASSWORD not in repr(settings)
    assert "password=***" in repr(settings)


def test_an_unescaped_at_in_a_database_password_is_refused_without_showing_it(
    workdir: Path,
) -> None:
    """``postgresql://u:p@ss@host/db``: SQLAlchemy reads the password as ``p`` and the host as
    ``ss@host``, so repr would show part of the password and the server could never connect."""
    url = "postgresql://sb:hunter2@topsecret@db.example.com/sb"
    with pytest.raises(ConfigError, match="%40") as caught:
        load_settings(environ={"SWITCHBOARD_DATABASE_URL": url})
    assert "topsecret" not in str(caught.value)
    assert "topsecret" not in repr(Settings(database_url=url))


# --- values that would break the server at run time ----------------------------------------


@pytest.mark.parametrize(
    "value",
    ["https://example.com/?", "https://example.com/#", "https://example.com?",
     "https://exa mple.com", "https://example.com/a\nb", "https://example.com:0",
     "https://example.com\\@evil.example"],
)
def test_public_urls_that_would_break_every_signature_are_refused(
    workdir: Path, value: str
) -> None:
    """``https://host/?`` looks harmless (an empty query is no query), but the signed URL would
    become ``https://host/?/voice``: every webhook refused with 403."""
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_PUBLIC_URL: "):
        load_settings(environ={"SWITCHBOARD_PUBLIC_URL": value})


@pytest.mark.parametrize(
    "name",
    ["SWITCHBOARD_BUSINESS_NAME", "SWITCHBOARD_BUSINESS_HOURS", "SWITCHBOARD_BUSINESS_ADDRESS",
     "SWITCHBOARD_VOICE", "SWITCHBOARD_LANGUAGE"],
)
def test_texts_with_characters_twiml_cannot_carry_are_refused(workdir: Path, name: str) -> None:
    """A BEL in the business name (``"Acme\\a"`` in a .env) would give every call the apology:
    the TwiML builder refuses control characters."""
    with pytest.raises(ConfigError, match=rf"^{name}: holds the control character U\+0007"):
        load_settings(environ={name: "Acme\x07"})


def test_texts_may_hold_tabs_and_newlines(workdir: Path) -> None:
    settings = load_settings(environ={"SWITCHBOARD_BUSINESS_ADDRESS": "1 Main St\n\tSpringfield"})
    assert settings.business_address == "1 Main St\n\tSpringfield"


def test_a_business_name_with_a_control_character_never_reaches_a_call(
    tmp_path: Path,
) -> None:
    from switchboard.callbacks import create_app

    with pytest.raises(ConfigError, match="SWITCHBOARD_BUSINESS_NAME"):
        create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                    "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.sqlite3'}",
                    "SWITCHBOARD_BUSINESS_NAME": "Acme\x07"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("SWITCHBOARD_DIAL_TIMEOUT", "\u0663\u0660"), ("SWITCHBOARD_DIAL_TIMEOUT", "3_0"),
     ("SWITCHBOARD_HANDLER_TIMEOUT", "1_0"), ("SWITCHBOARD_HANDLER_TIMEOUT", "\u0663"),
     ("SWITCHBOARD_MAX_ATTEMPTS", "\uff13")],
)
def test_numbers_are_written_with_ascii_digits(workdir: Path, name: str, value: str) -> None:
    """int() and float() read Arabic-Indic and full-width digits and ``_`` separators."""
    with pytest.raises(ConfigError, match=rf"^{name}: .* is not a (whole )?number"):
        load_settings(environ={name: value})


@pytest.mark.parametrize("value", ["inf", "-Infinity", "nan"])
def test_infinite_numbers_are_named_as_such(workdir: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="is not a finite number"):
        load_settings(environ={"SWITCHBOARD_HANDLER_TIMEOUT": value})


def test_plain_numbers_are_read(workdir: Path) -> None:
    settings = load_settings(environ={"SWITCHBOARD_DIAL_TIMEOUT": " +30 ",
                                      "SWITCHBOARD_HANDLER_TIMEOUT": "2.5",
                                      "SWITCHBOARD_RECORD_DELAY": ".5e-1"})
    assert (settings.dial_timeout, settings.handler_timeout) == (30, 2.5)
    assert settings.record_delay == 0.05


# --- files: one line, never a traceback ----------------------------------------------------


def test_a_binary_profiles_file_is_a_config_error(workdir: Path) -> None:
    path = workdir / "profiles.toml"
    path.write_bytes(b"\xff\xfe\x00[profiles.acme]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings("acme", environ={}, profiles_path=path)


def test_a_profiles_file_name_with_a_nul_is_a_config_error(workdir: Path) -> None:
    with pytest.raises(ConfigError, match="not a usable file name"):
        load_settings(environ={}, profiles_path="profiles\x00.toml")


def test_a_profiles_file_in_an_unknown_users_home_is_a_config_error(workdir: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"SWITCHBOARD_PROFILES_FILE": "~no-such-user-sb/sb.toml"})


def test_a_binary_dotenv_is_a_config_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_bytes(b"\xff\xfeTWILIO_AUTH_TOKEN=x\n")
    with pytest.raises(ConfigError, match=r"\.env: not UTF-8 text"):
        load_settings()


def test_an_unreadable_dotenv_is_a_config_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_text("TWILIO_AUTH_TOKEN=x\n")

    def refuse(file: object, *args: object, **kwargs: object) -> object:
        if str(file).endswith(".env"):
            raise PermissionError(13, "Permission denied")
        return builtins.open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("switchboard.config.loader.open", refuse, raising=False)
    with pytest.raises(ConfigError, match=r"\.env: cannot read the file \(Permission denied\)"):
        load_settings()


def test_the_cli_says_a_binary_env_file_is_not_utf8_in_one_line(workdir: Path) -> None:
    (workdir / "bin.env").write_bytes(b"\xff\xfeTWILIO_AUTH_TOKEN=x\n")
    result = CliRunner().invoke(cli, ["-e", "bin.env", "routes"])
    assert result.exit_code == 2
    assert "not UTF-8 text" in result.output
    assert "Traceback" not in result.output


# --- precedence ----------------------------------------------------------------------------


def test_an_empty_variable_counts_as_unset_so_dotenv_applies(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: "An empty variable counts as unset". An empty TWILIO_AUTH_TOKEN in the
    environment must not hide the token in .env, or every webhook is refused with 403."""
    _dotenv_on(monkeypatch)
    (workdir / ".env").write_text(f"TWILIO_AUTH_TOKEN={AUTH_TOKEN}\nSWITCHBOARD_DIAL_TIMEOUT=x\n")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
    monkeypatch.setenv("SWITCHBOARD_DIAL_TIMEOUT", "  ")
    with pytest.raises(ConfigError, match=r"^SWITCHBOARD_DIAL_TIMEOUT \(from \.env\): 'x'"):
        load_settings()
    monkeypatch.setenv("SWITCHBOARD_DIAL_TIMEOUT", "30")
    settings = load_settings()
    assert settings.auth_token == AUTH_TOKEN
    assert settings.dial_timeout == 30


@pytest.mark.parametrize(
    "name", ["TWILIO_AUTH_TOKEN", "TWILIO_API_KEY_SECRET", "SWITCHBOARD_PUBLIC_URL",
             "SWITCHBOARD_BUSINESS_NAME"],
)
def test_a_byte_the_environment_could_not_decode_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, workdir: Path, name: str
) -> None:
    """``TWILIO_AUTH_TOKEN=$'tok\\xff'``: os.environ keeps the byte as a lone surrogate, which
    would end create_app with a UnicodeEncodeError traceback when it keys the HMAC."""
    monkeypatch.setenv("TWILIO_API_KEY_SID", "SK" + "0" * 32)
    monkeypatch.setenv("TWILIO_API_KEY_SECRET", "secret")
    monkeypatch.setenv(name, "https://tok\udcffen.example.com")
    with pytest.raises(ConfigError, match=rf"^{name}: is not UTF-8 text") as caught:
        load_settings()
    assert "tok" not in str(caught.value)
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 2
    assert f"Error: routes: {name}: is not UTF-8 text" in result.output
    assert "Traceback" not in result.output
