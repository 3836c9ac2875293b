"""A voicemail left in a Studio flow's Record Voicemail reaches the operator as the bundled
IVR's does: the ``<Record>`` gets this server's recording status callback
(``/flows/NAME/recording-status/WIDGET``) unless the flow gives its own, and that route stores
the recording and queues its notice, once, before the answer; on SQLite, then PostgreSQL, with
the emulated Twilio's REST side keeping the texts sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from lxml import etree

from switchboard.callbacks.console import register_console
from switchboard.callbacks.notices import NOTICES_EXTENSION, VoicemailNotices, voicemail_notices
from switchboard.callbacks.store.schema import recordings
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.runtime import PathLinks
from switchboard.emulator import Emulator
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack
from tests.console.conftest import PASSWORD, logged_in
from tests.notices import notices_refused
from tests.notices.conftest import (
    CALLER,
    NUMBER,
    OPERATOR,
    PUBLIC_URL,
    call_params,
    emulator,
    make_app,
    notices_of,
    post,
    recording_params,
    sid,
    texts_about,
)
from tests.studio import widget

__all__ = ["emulator"]


def voicemail_flow(**record: Any) -> dict[str, Any]:
    """Trigger, a prompt, Record Voicemail ``vm`` (with ``record`` as its properties), thanks."""
    return {
        "description": "Voicemail",
        "states": [
            widget("Trigger", "trigger", {}, incomingMessage=None, incomingCall="prompt",
                   incomingRequest=None),
            widget("prompt", "say-play", {"say": "Leave a message after the tone.", "loop": 1},
                   audioComplete="vm"),
            widget("vm", "record-voicemail", {"finish_on_key": "#", **record},
                   recordingComplete="thanks", noAudio="nothing", hangup=None),
            widget("thanks", "say-play", {"say": "Thank you. Goodbye.", "loop": 1},
                   audioComplete=None),
            widget("nothing", "say-play", {"say": "We heard nothing.", "loop": 1},
                   audioComplete=None),
        ],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    }


OWN_CALLBACK = "https://example.com/recorded"
FLOWS = {
    "voicemail": Flow("voicemail", voicemail_flow(), "voicemail.json"),
    "own_callback": Flow("own_callback",
                         voicemail_flow(recording_status_callback_url=OWN_CALLBACK),
                         "own_callback.json"),
}
CALLBACK_PATH = "/flows/voicemail/recording-status/vm"


@pytest.fixture
def app(emulator: Emulator, database_url: str) -> Iterator[Flask]:
    """The flows on an app of the emulator's account, notices to :data:`OPERATOR`."""
    application = make_app(emulator, database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint(FLOWS))
    yield application
    application.extensions["switchboard"].store.close()


@pytest.fixture
def notices(app: Flask) -> VoicemailNotices:
    return notices_of(app)


def record_of(app: Flask, token: str, flow: str) -> dict[str, str]:
    """The attributes of the ``<Record>`` a call to ``/flows/FLOW`` is answered with."""
    answer = post(app.test_client(), token, f"/flows/{flow}", call_params(sid("CA")))
    assert answer.status_code == 200, answer.data
    record = etree.fromstring(answer.data).find("Record")
    assert record is not None
    return dict(record.attrib)


def recording_rows(app: Flask, recording_sid: str) -> list[dict[str, Any]]:
    store = app.extensions["switchboard"].store
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(
            sa.select(recordings).where(recordings.c.sid == recording_sid)).mappings()]


def notice_rows(app: Flask) -> list[dict[str, Any]]:
    store = app.extensions["switchboard"].store
    store.ensure_schema()
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(voicemail_notices)).mappings()]


def test_the_record_of_a_flow_without_its_own_callback_reports_to_this_server(
    app: Flask, emulator: Emulator,
) -> None:
    record = record_of(app, emulator.auth_token, "voicemail")
    assert record["recordingStatusCallback"] == PUBLIC_URL + CALLBACK_PATH
    assert record["recordingStatusCallbackMethod"] == "POST"
    assert record["action"] == PUBLIC_URL + "/flows/voicemail/step/vm/record"


def test_the_record_of_a_flow_with_its_own_callback_keeps_it(
    app: Flask, emulator: Emulator,
) -> None:
    record = record_of(app, emulator.auth_token, "own_callback")
    assert record["recordingStatusCallback"] == OWN_CALLBACK
    assert "recordingStatusCallbackMethod" not in record


def test_the_callback_stores_the_recording_and_queues_one_notice(
    app: Flask, notices: VoicemailNotices, emulator: Emulator,
) -> None:
    client, token = app.test_client(), emulator.auth_token
    call_sid, recording_sid = sid("CA"), sid("RE")
    assert post(client, token, "/flows/voicemail", call_params(call_sid)).status_code == 200
    callback = recording_params(call_sid, recording_sid, duration=21)
    assert [post(client, token, CALLBACK_PATH, callback).status_code
            for _ in range(3)] == [204, 204, 204]  # Twilio's try, and two of its retries
    assert notices.wait_idle(10)
    [row] = recording_rows(app, recording_sid)
    assert (row["call_sid"], row["status"], row["duration"], row["source"]) == (
        call_sid, "completed", 21, "RecordVerb")
    [text] = texts_about(emulator, recording_sid)
    assert (text["to"], text["from"]) == (OPERATOR, NUMBER)
    assert text["body"] == (f"New voicemail from {CALLER} (21 s): "
                            f"{PUBLIC_URL}/console/voicemails/{recording_sid}")
    [notice] = notice_rows(app)
    assert (notice["recording_sid"], notice["texts_sent"]) == (recording_sid, 1)
    assert notices.counts["recording", "duplicate"] == 2


def test_a_recording_of_zero_seconds_is_stored_and_not_announced(
    app: Flask, notices: VoicemailNotices, emulator: Emulator,
) -> None:
    call_sid, recording_sid = sid("CA"), sid("RE")
    callback = recording_params(call_sid, recording_sid, duration=0)
    assert post(app.test_client(), emulator.auth_token, CALLBACK_PATH, callback).status_code \
        == 204
    assert notices.wait_idle(5)
    [row] = recording_rows(app, recording_sid)
    assert row["duration"] == 0
    assert notice_rows(app) == []
    assert texts_about(emulator, recording_sid) == []


def test_a_callback_not_signed_by_twilio_is_refused(
    app: Flask, notices: VoicemailNotices, emulator: Emulator,
) -> None:
    recording_sid = sid("RE")
    callback = recording_params(sid("CA"), recording_sid)
    answer = post(app.test_client(), "not-the-auth-token", CALLBACK_PATH, callback)
    assert answer.status_code == 403
    assert notices.wait_idle(5)
    assert recording_rows(app, recording_sid) == []
    assert notice_rows(app) == []
    assert texts_about(emulator, recording_sid) == []




def test_a_notice_the_database_does_not_take_gets_the_callback_a_503(
    app: Flask, emulator: Emulator,
) -> None:
    """As ``/voice/recording-status``: Twilio is answered 503 (so that it tries again), not
    204 with a notice no row keeps; its retry, once the row goes in, gets 204 and one text."""
    notices = notices_of(app, claim_backoff=(0.2, 0.5, 1.0, 2.0))
    store = app.extensions["switchboard"].store
    client, token = app.test_client(), emulator.auth_token
    call = emulator.state.create_call(emulator.account_sid, to=NUMBER, **{"from": CALLER})
    recording_sid = sid("RE")
    callback = recording_params(call["sid"], recording_sid)
    with notices_refused(store):
        answer = post(client, token, CALLBACK_PATH, callback)
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")
    assert post(client, token, CALLBACK_PATH, callback).status_code == 204
    assert notices.wait_idle(10)
    assert len(texts_about(emulator, recording_sid)) == 1


def test_a_voicemail_left_in_a_flow_through_the_emulator_is_texted_and_listed(
    database_url: str,
) -> None:
    """A call to the flow's number: the emulator runs the ``<Record>``, sends its recording
    status callback to the flow's route; the operator gets the text (through the emulator's
    Messages) and the console's voicemails page lists the recording."""
    config = {"BUNDLED_FLOWS": False, "STUDIO_FLOWS": False,
              "SWITCHBOARD_FORWARD_NUMBER": OPERATOR}
    with SwitchboardStack(database_url=database_url, config=config) as stack:
        assert stack.app is not None
        stack.app.register_blueprint(studio_blueprint(FLOWS))
        stack.app.config["SWITCHBOARD_CONSOLE_PASSWORD"] = PASSWORD
        assert register_console(stack.app) is not None
        notices: VoicemailNotices = stack.app.extensions[NOTICES_EXTENSION]
        state = stack.emulator.state
        state.buy_number(state.main_account_sid, NUMBER, voice_url=stack.url + "/flows/voicemail")
        script = CallScript(recording=RecordingTake(duration=14, digits="#"))
        transcript = stack.emulator.phone.inbound_call(NUMBER, CALLER, script=script)
        assert stack.wait_idle(20)
        assert notices.wait_idle(10)
        assert transcript.error_codes == []
        [record] = transcript.events_of("record")
        recording_sid = record.detail["recording"]["sid"]
        [text] = texts_about(stack.emulator, recording_sid)
        page = logged_in(stack.app).get("/console/voicemails")
        base = stack.url
    assert (text["to"], text["from"]) == (OPERATOR, NUMBER)
    assert text["body"] == (f"New voicemail from {CALLER} (14 s): "
                            f"{base}/console/voicemails/{recording_sid}")
    assert page.status_code == 200
    assert recording_sid in page.text
    assert CALLER in page.text


def test_links_made_without_a_request_give_the_callback_below_the_public_url() -> None:
    assert PathLinks("https://switchboard.example.com/", "front desk").recording_status("vm") \
        == "https://switchboard.example.com/flows/front%20desk/recording-status/vm"
    assert PathLinks(None, "voicemail").recording_status("vm") is None
