"""The notices' settings: who gets texts and emails, the SMTP URL, and what is refused."""

from __future__ import annotations

import logging

import pytest

from switchboard.callbacks import create_app
from switchboard.callbacks.notices import NOTICES_EXTENSION, NoticeConfig, register_notices
from switchboard.config import ConfigError, load_settings
from switchboard.config.notify import email_addresses, notify_numbers, smtp_url

PASSWORD = "pa ss%word"


def config_from(**environ: str) -> NoticeConfig:
    account = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}
    return NoticeConfig.from_settings(load_settings(environ={**account, **environ}))


def test_texts_go_to_the_forward_number_by_default() -> None:
    assert config_from(SWITCHBOARD_FORWARD_NUMBER="+15557770000").numbers == ("+15557770000",)
    assert config_from().numbers == ()
    assert not config_from().enabled


def test_the_notify_list_wins_and_off_turns_texts_off() -> None:
    config = config_from(SWITCHBOARD_FORWARD_NUMBER="+15557770000",
                         SWITCHBOARD_VOICEMAIL_NOTIFY=" +15550001111, +15550002222 ,+15550001111")
    assert config.numbers == ("+15550001111", "+15550002222")
    assert config_from(SWITCHBOARD_FORWARD_NUMBER="+15557770000",
                       SWITCHBOARD_VOICEMAIL_NOTIFY="off").numbers == ()


@pytest.mark.parametrize("value", ["5551234", "+1 555 123 4567", "+15550001111,someone@x.org"])
def test_a_number_not_in_e164_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"SWITCHBOARD_VOICEMAIL_NOTIFY: .* E\.164"):
        notify_numbers("SWITCHBOARD_VOICEMAIL_NOTIFY", value)


def test_smtp_urls() -> None:
    server = smtp_url("SWITCHBOARD_SMTP_URL", "smtp://me%40example.com:pa%20ss%25word@mail.example.com")
    assert (server.host, server.port, server.tls) == ("mail.example.com", 587, "starttls")
    assert server.username == "me@example.com"
    assert server.password is not None
    assert server.password.reveal() == PASSWORD
    assert PASSWORD not in repr(server)
    assert "pa%20ss" not in repr(server)
    assert server.shown == "smtp://me@example.com@mail.example.com:587"
    secure = smtp_url("SWITCHBOARD_SMTP_URL", "smtps://mail.example.com:2465")
    assert (secure.port, secure.tls, secure.username, secure.password) == (2465, "ssl", None, None)


@pytest.mark.parametrize("value", [
    "http://user:pa%20ss%25word@mail.example.com",
    "smtp://user:pa%20ss%25word@",
    "smtp://user:pa%20ss%25word@mail.example.com:99999",
    "smtp://user:pa%20ss%25word@mail.example.com/path",
    "mail.example.com",
])
def test_a_bad_smtp_url_is_refused_without_showing_it(value: str) -> None:
    with pytest.raises(ConfigError, match="SWITCHBOARD_SMTP_URL") as refused:
        smtp_url("SWITCHBOARD_SMTP_URL", value)
    assert "pa%20ss" not in str(refused.value)


def test_email_needs_a_from_address_and_goes_to_it_by_default() -> None:
    with pytest.raises(ConfigError, match="SWITCHBOARD_SMTP_FROM: required"):
        config_from(SWITCHBOARD_SMTP_URL="smtp://mail.example.com")
    config = config_from(SWITCHBOARD_SMTP_URL="smtp://mail.example.com",
                         SWITCHBOARD_SMTP_FROM="switchboard@example.com")
    assert config.email_to == ("switchboard@example.com",)
    assert config.emails
    assert config.enabled
    config = config_from(SWITCHBOARD_SMTP_URL="smtp://mail.example.com",
                         SWITCHBOARD_SMTP_FROM="switchboard@example.com",
                         SWITCHBOARD_VOICEMAIL_EMAIL="a@example.com, b@example.com")
    assert config.email_to == ("a@example.com", "b@example.com")


@pytest.mark.parametrize("value", ["nobody", "a@b@c", "Someone <a@example.com>",
                                   "a@example.com\nBcc: x@example.org"])
def test_a_bad_address_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="SWITCHBOARD_VOICEMAIL_EMAIL"):
        email_addresses("SWITCHBOARD_VOICEMAIL_EMAIL", value)


def test_without_an_account_sid_default_texts_are_off_with_a_warning(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        app = create_app({"TESTING": True, "SWITCHBOARD_DATABASE_URL": sqlite_url,
                          "TWILIO_AUTH_TOKEN": "x" * 32,
                          "SWITCHBOARD_FORWARD_NUMBER": "+15557770000"})
    assert "voicemail notices by text are off: they need TWILIO_ACCOUNT_SID" in caplog.text
    assert NOTICES_EXTENSION not in app.extensions
    assert register_notices(app) is None
    app.extensions["switchboard"].store.close()
    monkeypatch.setenv("SWITCHBOARD_VOICEMAIL_NOTIFY", "+15550001111")
    with pytest.raises(ConfigError, match="SWITCHBOARD_VOICEMAIL_NOTIFY: texts need "
                                          "TWILIO_ACCOUNT_SID"):
        load_settings()


def test_nothing_to_send_registers_nothing(sqlite_url: str) -> None:
    app = create_app({"TESTING": True, "SWITCHBOARD_DATABASE_URL": sqlite_url})
    assert register_notices(app) is None
    assert register_notices(app, NoticeConfig()) is None
    app.extensions["switchboard"].store.close()
