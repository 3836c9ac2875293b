"""One text per voicemail, whatever Twilio retries and whichever app instance gets each retry,
sent after the answer; through the emulated Twilio (its REST side keeps the messages sent)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.notices import VoicemailNotices, voicemail_notices
from switchboard.emulator import Emulator
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack

from .conftest import (
    CALLER,
    NUMBER,
    OPERATOR,
    PUBLIC_URL,
    call_params,
    make_app,
    notices_of,
    post,
    recording_params,
    sid,
    texts_about,
)


def test_a_voicemail_left_through_the_ivr_is_texted_to_the_forward_number(
    tmp_path: Path,
) -> None:
    config = {"SWITCHBOARD_FORWARD_NUMBER": OPERATOR}
    with SwitchboardStack(instance_path=tmp_path, config=config) as stack:
        state = stack.emulator.state
        state.buy_number(state.main_account_sid, NUMBER, voice_url=stack.url + "/voice")
        assert stack.app is not None
        notices = notices_of(stack.app)
        script = CallScript("2", recording=RecordingTake(duration=14, digits="#"))
        transcript = stack.emulator.phone.inbound_call(NUMBER, CALLER, script=script)
        assert stack.wait_idle(10)
        assert notices.wait_idle(10)
        [record] = transcript.events_of("record")
        recording_sid = record.detail["recording"]["sid"]
        [text] = texts_about(stack.emulator, recording_sid)
        base = stack.url
    assert text["to"] == OPERATOR
    assert text["from"] == NUMBER  # the number called
    assert CALLER in text["body"]
    assert "14 s" in text["body"]
    assert text["body"].endswith(f"{base}/console/voicemails/{recording_sid}")
    assert notices.counts == {("text", "sent"): 1}


def test_twilio_retrying_to_two_app_instances_on_one_database_sends_one_text(
    emulator: Emulator, database_url: str,
) -> None:
    first, second = make_app(emulator, database_url), make_app(emulator, database_url)
    notices = [notices_of(first), notices_of(second)]
    clients = [first.test_client(), second.test_client()]
    token = emulator.auth_token
    call_sid, recording_sid = sid("CA"), sid("RE")
    assert post(clients[0], token, "/voice", call_params(call_sid)).status_code == 200
    callback = recording_params(call_sid, recording_sid, duration=31)
    answers = []
    for attempt in range(3):  # Twilio's first try and two retries, to each instance
        for client in clients:
            answers.append(post(client, token, "/voice/recording-status", callback).status_code)
        if attempt == 0:
            time.sleep(0.05)
    assert answers == [204] * 6
    for each in notices:
        assert each.wait_idle(10)
    [text] = texts_about(emulator, recording_sid)
    assert text["to"] == OPERATOR
    assert text["from"] == NUMBER
    assert f"New voicemail from {CALLER} (31 s): {PUBLIC_URL}/console/voicemails/" in text["body"]
    duplicates = sum(each.counts["recording", "duplicate"] for each in notices)
    assert duplicates == 5
    store = first.extensions["switchboard"].store
    with store.engine.connect() as conn:
        [row] = conn.execute(sa.select(voicemail_notices)).mappings().all()
    assert row["recording_sid"] == recording_sid
    assert row["texts_sent"] == 1
    assert row["emails_sent"] == 0
    assert row["failure"] is None
    assert row["finished_at"] is not None
    for app in (first, second):
        app.extensions["switchboard"].store.close()


def test_every_number_of_the_list_gets_one_text(emulator: Emulator, sqlite_url: str) -> None:
    app = make_app(emulator, sqlite_url)
    from switchboard.callbacks.notices import NoticeConfig

    numbers = ("+15550001111", "+15550002222")
    notices = notices_of(app, config=NoticeConfig(numbers=numbers))
    client = app.test_client()
    call_sid, recording_sid = sid("CA"), sid("RE")
    post(client, emulator.auth_token, "/voice", call_params(call_sid))
    post(client, emulator.auth_token, "/voice/recording-status",
         recording_params(call_sid, recording_sid))
    assert notices.wait_idle(10)
    assert sorted(t["to"] for t in texts_about(emulator, recording_sid)) == list(numbers)


def test_the_answer_does_not_wait_for_the_text(emulator: Emulator, sqlite_url: str) -> None:
    """Twilio gets its 204 while the text is still on its way (here: held up for good)."""
    release = threading.Event()
    sending = threading.Event()

    class SlowClient:
        class messages:
            @staticmethod
            def create(*args: Any, **kwargs: Any) -> None:
                sending.set()
                release.wait(10)

    app = make_app(emulator, sqlite_url)
    notices = notices_of(app, client_factory=SlowClient)
    client = app.test_client()
    call_sid, recording_sid = sid("CA"), sid("RE")
    post(client, emulator.auth_token, "/voice", call_params(call_sid))
    started = time.perf_counter()
    answer = post(client, emulator.auth_token, "/voice/recording-status",
                  recording_params(call_sid, recording_sid))
    elapsed = time.perf_counter() - started
    assert answer.status_code == 204
    assert sending.wait(5)
    assert elapsed < 0.5
    release.set()
    assert notices.wait_idle(10)


@pytest.mark.parametrize("status", ["in-progress", "absent", "failed"])
def test_only_a_completed_recording_is_announced(
    emulator: Emulator, sqlite_url: str, status: str
) -> None:
    app = make_app(emulator, sqlite_url)
    notices = notices_of(app)
    client = app.test_client()
    call_sid, recording_sid = sid("CA"), sid("RE")
    callback = {**recording_params(call_sid, recording_sid), "RecordingStatus": status}
    assert post(client, emulator.auth_token, "/voice/recording-status", callback).status_code == 204
    assert notices.wait_idle(5)
    assert texts_about(emulator, recording_sid) == []
    assert not notices.counts


def test_a_call_not_in_the_store_is_asked_of_twilio(emulator: Emulator, sqlite_url: str) -> None:
    """The voice webhooks' row is missing (written by nobody here): Twilio's Call says who."""
    call = emulator.state.create_call(emulator.account_sid, to=NUMBER, **{"from": CALLER})
    app = make_app(emulator, sqlite_url)
    notices = notices_of(app)
    recording_sid = sid("RE")
    post(app.test_client(), emulator.auth_token, "/voice/recording-status",
         recording_params(call["sid"], recording_sid))
    assert notices.wait_idle(10)
    [text] = texts_about(emulator, recording_sid)
    assert text["from"] == NUMBER
    assert CALLER in text["body"]


def test_a_failed_send_is_tried_again(emulator: Emulator, sqlite_url: str) -> None:
    """Twilio answers 503 twice (the message not created): the third try sends it, once."""
    app = make_app(emulator, sqlite_url)
    notices = notices_of(app)
    client = app.test_client()
    call_sid, recording_sid = sid("CA"), sid("RE")
    post(client, emulator.auth_token, "/voice", call_params(call_sid))
    emulator.faults.add("503", count=2, methods=["POST"], retry_after=None)
    post(client, emulator.auth_token, "/voice/recording-status",
         recording_params(call_sid, recording_sid))
    assert notices.wait_idle(10)
    assert len(texts_about(emulator, recording_sid)) == 1
    assert notices.counts["text", "sent"] == 1


def test_a_send_refused_for_good_is_not_tried_again(
    emulator: Emulator, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from switchboard.api import TwilioHTTPError

    tries = []

    class RefusingClient:
        class messages:
            @staticmethod
            def create(*args: Any, **kwargs: Any) -> None:
                tries.append(args)
                raise TwilioHTTPError(400, 21211, "Invalid 'To' Phone Number", None, "POST",
                                      "https://api.twilio.com/2010-04-01/Messages.json")

    app = make_app(emulator, sqlite_url)
    notices = notices_of(app, client_factory=RefusingClient)
    client = app.test_client()
    call_sid, recording_sid = sid("CA"), sid("RE")
    post(client, emulator.auth_token, "/voice", call_params(call_sid))
    post(client, emulator.auth_token, "/voice/recording-status",
         recording_params(call_sid, recording_sid))
    assert notices.wait_idle(10)
    assert len(tries) == 1
    assert notices.counts["text", "failed"] == 1
    assert f"the text of recording {recording_sid} to {OPERATOR} was not sent" in caplog.text
    assert "TwilioHTTPError 400 (Twilio error 21211)" in caplog.text
    with app.extensions["switchboard"].store.engine.connect() as conn:
        failure = conn.execute(sa.select(voicemail_notices.c.failure)).scalar_one()
    assert failure == f"text to {OPERATOR}: TwilioHTTPError 400 (Twilio error 21211)"


def test_the_database_down_at_the_claim_is_waited_for(
    emulator: Emulator, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The claim's insert fails twice (the database unavailable), then goes in: one text."""
    app = make_app(emulator, sqlite_url)
    notices: VoicemailNotices = notices_of(app)
    real = notices._transaction
    failures = iter(range(2))

    def flaky() -> Any:
        if next(failures, None) is not None:
            raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))
        return real()

    client = app.test_client()
    call_sid, recording_sid = sid("CA"), sid("RE")
    post(client, emulator.auth_token, "/voice", call_params(call_sid))
    notices._transaction = flaky  # type: ignore[method-assign]
    post(client, emulator.auth_token, "/voice/recording-status",
         recording_params(call_sid, recording_sid))
    assert notices.wait_idle(10)
    assert len(texts_about(emulator, recording_sid)) == 1
    assert f"the notice of recording {recording_sid} waits for the database" in caplog.text
    app.extensions["switchboard"].store.close()
