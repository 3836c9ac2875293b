"""The voicemail email, through a local SMTP server on 127.0.0.1: sent once with the same facts
as the text, tried again after a passing refusal, and its password never in the log."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import quote

import pytest

from switchboard.callbacks.notices import NoticeConfig, SmtpRefused, send_email
from switchboard.config import Secret
from switchboard.config.notify import SmtpServer, smtp_url
from switchboard.emulator import Emulator

from .conftest import (
    CALLER,
    NUMBER,
    PUBLIC_URL,
    call_params,
    make_app,
    notices_of,
    post,
    recording_params,
    sid,
    texts_about,
)
from .smtp_server import Behaviour
from .smtp_server import SmtpServer as LocalSmtp

PASSWORD = "s3cret:p@ss/word"
USER = "voicemail@example.com"


def server_url(port: int) -> SmtpServer:
    return smtp_url("SWITCHBOARD_SMTP_URL",
                    f"smtp://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}")


def config(port: int, numbers: tuple[str, ...] = ()) -> NoticeConfig:
    return NoticeConfig(numbers=numbers, smtp=server_url(port),
                        email_from="switchboard@example.com",
                        email_to=("owner@example.com", "second@example.com"))


def leave_voicemail(emulator: Emulator, app: object, duration: int = 22) -> str:
    client = app.test_client()  # type: ignore[attr-defined]
    call_sid, recording_sid = sid("CA"), sid("RE")
    post(client, emulator.auth_token, "/voice", call_params(call_sid))
    answer = post(client, emulator.auth_token, "/voice/recording-status",
                  recording_params(call_sid, recording_sid, duration))
    assert answer.status_code == 204
    return recording_sid


def test_one_email_with_the_caller_the_length_and_the_link(
    emulator: Emulator, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalSmtp() as smtp, caplog.at_level(logging.DEBUG):
        app = make_app(emulator, sqlite_url)
        notices = notices_of(app, config=config(smtp.port, numbers=("+15550001111",)))
        recording_sid = leave_voicemail(emulator, app)
        for _ in range(2):  # Twilio retrying: still one email
            post(app.test_client(), emulator.auth_token, "/voice/recording-status",
                 recording_params("CA" + "1" * 32, recording_sid))
        assert notices.wait_idle(10)
        [received] = smtp.received
    assert received.login == (USER, PASSWORD)
    assert received.sender == "switchboard@example.com"
    assert received.recipients == ["owner@example.com", "second@example.com"]
    message = received.message
    assert message["Subject"] == f"Voicemail from {CALLER} (22 s)"
    assert message["To"] == "owner@example.com, second@example.com"
    body = message.get_content()
    assert f"{CALLER} left a voicemail of 22 seconds for {NUMBER}." in body
    assert f"{PUBLIC_URL}/console/voicemails/{recording_sid}" in body
    assert len(texts_about(emulator, recording_sid)) == 1
    assert notices.counts["email", "sent"] == 1
    assert PASSWORD not in caplog.text
    assert quote(PASSWORD, safe="") not in caplog.text


def test_a_passing_refusal_is_tried_again_and_logged_without_the_password(
    emulator: Emulator, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalSmtp(Behaviour(data_failures=2)) as smtp, caplog.at_level(logging.DEBUG):
        app = make_app(emulator, sqlite_url, SWITCHBOARD_FORWARD_NUMBER=None)
        notices = notices_of(app, config=config(smtp.port))
        recording_sid = leave_voicemail(emulator, app)
        assert notices.wait_idle(10)
        assert len(smtp.received) == 1
    assert smtp.behaviour.sessions == 3
    warnings = [r for r in caplog.records if "trying again" in r.getMessage()]
    assert len(warnings) == 2
    assert "SMTPDataError 451" in warnings[0].getMessage()
    assert f"smtp://{USER}@127.0.0.1:{smtp.port}" in warnings[0].getMessage()
    assert recording_sid in warnings[0].getMessage()
    assert PASSWORD not in caplog.text
    assert quote(PASSWORD, safe="") not in caplog.text


def test_a_refused_login_is_not_tried_again_and_the_password_not_logged(
    emulator: Emulator, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalSmtp(Behaviour(auth_code=535)) as smtp, caplog.at_level(logging.DEBUG):
        app = make_app(emulator, sqlite_url)
        notices = notices_of(app, config=config(smtp.port))
        leave_voicemail(emulator, app)
        assert notices.wait_idle(10)
    assert smtp.received == []
    assert smtp.behaviour.sessions == 1
    assert set(smtp.behaviour.logins) == {(USER, PASSWORD)}
    assert notices.counts["email", "failed"] == 1
    assert "SMTPAuthenticationError 535" in caplog.text
    assert PASSWORD not in caplog.text
    assert quote(PASSWORD, safe="") not in caplog.text


def test_no_password_in_clear_to_a_server_beyond_the_loopback_without_starttls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``mail.example.com`` (reached here on 127.0.0.1) offers no STARTTLS: no login."""
    real_smtp = smtplib.SMTP
    monkeypatch.setattr(smtplib, "SMTP", lambda host, port, timeout: real_smtp(
        "127.0.0.1", port, timeout=timeout))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = USER, "a@example.com", "test"
    message.set_content("hello")
    with LocalSmtp() as smtp:
        server = SmtpServer(host="mail.example.com", port=smtp.port, tls="starttls",
                            username=USER, password=Secret(PASSWORD))
        with pytest.raises(SmtpRefused, match="offers no STARTTLS") as refused:
            send_email(server, message)
    assert smtp.behaviour.logins == []
    assert smtp.received == []
    assert PASSWORD not in str(refused.value)
