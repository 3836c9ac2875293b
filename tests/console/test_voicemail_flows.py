"""The Studio flow a voicemail's call ran, on the console: the voicemails page, the overview's
short list and the call's page name the flow (masked as every stored value is) and link the
execution's page, unless the console masks the name; a voicemail of the bundled IVR names
none. Read in the voicemails' own query (no query per row, whatever the page holds), paged,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks.console import queries
from switchboard.config.secret import MASK
from tests.console.conftest import ACCOUNT_SID, CALLER, NUMBER, TOKEN, logged_in, sid
from tests.server.conftest import Twilio
from tests.studio import widget

#: A flow whose name holds the auth token, which the console masks.
SECRET_FLOW = f"desk-{TOKEN}"


def _flow(first: dict[str, Any]) -> dict[str, Any]:
    """A call's flow: the trigger, then ``first``."""
    return {
        "description": "A console test flow",
        "states": [widget("Trigger", "trigger", {}, incomingMessage=None,
                          incomingCall=first["name"], incomingRequest=None), first],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    }


RECORD = widget("vm", "record-voicemail", {"finish_on_key": "#", "max_length": 120},
                recordingComplete=None, noAudio=None, hangup=None)
FLOWS = {
    "voicemail": _flow(RECORD),
    SECRET_FLOW: _flow(RECORD),
    "greeting": _flow(widget("hello", "say-play", {"say": "Hello.", "loop": 1},
                             audioComplete=None)),
}


@pytest.fixture
def console_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The app serves :data:`FLOWS` from a flows folder, beside the bundled IVR."""
    folder = tmp_path / "flows"
    folder.mkdir()
    for name, definition in FLOWS.items():
        (folder / f"{name}.json").write_text(json.dumps(definition))
    monkeypatch.setenv("SWITCHBOARD_FLOWS_DIR", str(folder))
    return {}


def _call(call_sid: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": CALLER, "To": NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}


def _recorded(call_sid: str) -> tuple[str, dict[str, str]]:
    """A recording's SID and its status callback, as Twilio sends it."""
    recording_sid = sid("RE")
    return recording_sid, {
        "AccountSid": ACCOUNT_SID, "CallSid": call_sid, "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/"
                        f"Recordings/{recording_sid}",
        "RecordingStatus": "completed", "RecordingDuration": "9", "RecordingChannels": "1",
        "RecordingSource": "RecordVerb", "ErrorCode": "0",
    }


def studio_voicemail(app: Flask, flow: str, *, before: str | None = None
                     ) -> tuple[str, str, str]:
    """A call to ``/flows/FLOW`` (after one to ``/flows/BEFORE`` when given, as a
    ``<Redirect>`` makes it) that leaves a voicemail in the flow's Record Voicemail, whose
    status callback comes to the flow's route; the call's, the recording's and the flow's
    execution's SIDs."""
    twilio = Twilio(app.test_client(), token=TOKEN)
    call_sid = sid("CA")
    if before is not None:
        assert twilio.post(f"/flows/{before}", _call(call_sid)).status_code == 200
    answer = twilio.post(f"/flows/{flow}", _call(call_sid))
    assert answer.status_code == 200
    assert b"<Record" in answer.data
    recording_sid, callback = _recorded(call_sid)
    assert twilio.post(f"/flows/{flow}/recording-status/vm", callback).status_code == 204
    [execution_sid] = [row["sid"] for row in _executions(app, call_sid)
                       if row["flow_name"] == flow]
    return call_sid, recording_sid, execution_sid


def ivr_voicemail(app: Flask) -> tuple[str, str]:
    """A call to the bundled IVR that leaves a voicemail: the call's and recording's SIDs."""
    twilio = Twilio(app.test_client(), token=TOKEN)
    call_sid = sid("CA")
    assert twilio.post("/voice", {**_call(call_sid), "CallStatus": "ringing"}).status_code \
        == 200
    recording_sid, callback = _recorded(call_sid)
    assert twilio.post("/voice/recording-status", callback).status_code == 204
    return call_sid, recording_sid


def _executions(app: Flask, call_sid: str) -> list[dict[str, Any]]:
    with app.extensions["switchboard"].store.engine.connect() as conn:
        return queries.call_executions(conn, call_sid)


def voicemail_card(page: str, recording_sid: str) -> str:
    """The part of the voicemails page about one voicemail."""
    found = re.search(rf'<li id="{recording_sid}" class="card">.*?</li>', page, re.S)
    assert found, f"no voicemail {recording_sid} on the page"
    return found.group(0)


def recording_item(page: str, recording_sid: str) -> str:
    """The part of a call's page about one of its recordings."""
    found = re.search(rf'<li id="{recording_sid}">.*?</li>', page, re.S)
    assert found, f"no recording {recording_sid} on the page"
    return found.group(0)


def short_list(client: FlaskClient) -> list[str]:
    """The overview's unheard voicemails, as the page and its live refresh give them."""
    found = re.search(r'<div data-section="voicemails">.*?</ul>', client.get("/console/").text,
                      re.S)
    assert found, "no voicemails on the overview"
    return [found.group(0), client.get("/console/overview.json").json["sections"]["voicemails"]]


def test_a_studio_voicemail_names_its_flow_and_links_its_execution(
    db_app: Flask, db_client: FlaskClient,
) -> None:
    call_sid, recording_sid, execution_sid = studio_voicemail(db_app, "voicemail",
                                                              before="greeting")
    link = f'<a href="/console/executions/{execution_sid}">'
    card = voicemail_card(db_client.get("/console/voicemails").text, recording_sid)
    assert f"flow {link}voicemail</a>" in card
    assert "greeting" not in card  # the flow that recorded it, not the call's first
    unheard = db_client.get("/console/voicemails?show=unheard").text
    assert link in voicemail_card(unheard, recording_sid)
    item = recording_item(db_client.get(f"/console/calls/{call_sid}").text, recording_sid)
    assert f"Flow {link}voicemail</a>" in item
    for short in short_list(db_client):
        assert "flow voicemail" in short


def test_an_ivr_voicemail_names_no_flow(db_app: Flask, db_client: FlaskClient) -> None:
    call_sid, recording_sid = ivr_voicemail(db_app)
    studio_voicemail(db_app, "voicemail")  # another call's flow is not this one's
    card = voicemail_card(db_client.get("/console/voicemails").text, recording_sid)
    assert "/console/executions/" not in card
    assert 'class="flow' not in card
    item = recording_item(db_client.get(f"/console/calls/{call_sid}").text, recording_sid)
    assert "/console/executions/" not in item
    assert 'class="flow' not in item
    [short, live] = short_list(db_client)
    assert short.count("flow voicemail") == live.count("flow voicemail") == 1


def test_a_flow_name_the_console_masks_is_masked_and_not_linked(
    db_app: Flask, db_client: FlaskClient,
) -> None:
    call_sid, recording_sid, _ = studio_voicemail(db_app, SECRET_FLOW)
    masked = f"desk-{MASK}"
    card = voicemail_card(db_client.get("/console/voicemails").text, recording_sid)
    assert f"flow {masked}</span>" in card
    assert "/console/executions/" not in card
    item = recording_item(db_client.get(f"/console/calls/{call_sid}").text, recording_sid)
    assert f"Flow {masked}</div>" in item
    assert "/console/executions/" not in item
    for short in short_list(db_client):
        assert f"flow {masked}</span>" in short
    for page in ("/console/", "/console/overview.json", "/console/voicemails",
                 f"/console/calls/{call_sid}"):
        assert TOKEN not in db_client.get(page).text, page


def test_every_page_of_voicemails_names_its_flows_in_one_query(db_app: Flask) -> None:
    """Paged by key forwards and back, each voicemail keeps its flow (or none); the page's
    statements are as many with flows as without."""
    store = db_app.extensions["switchboard"].store
    made = []
    for n in range(5):
        if n % 2:
            made.append((ivr_voicemail(db_app)[1], None, None))
        else:
            _, recording_sid, execution_sid = studio_voicemail(db_app, "voicemail")
            made.append((recording_sid, "voicemail", execution_sid))
    expected = made[::-1]
    with store.engine.connect() as conn:
        pages = [queries.voicemails(conn, size=2)]
        while pages[-1].older is not None:
            pages.append(queries.voicemails(conn, before=pages[-1].older, size=2))
        back = queries.voicemails(conn, after=pages[-1].newer, size=2)
    seen = [(row["sid"], row["flow_name"], row["execution_sid"])
            for page in pages for row in page.rows]
    assert seen == expected
    assert [(row["sid"], row["flow_name"]) for row in back.rows] == [
        (sid_, flow) for sid_, flow, _ in expected[2:4]]

    client = logged_in(db_app)
    nothing_older = queries.Cursor(datetime(2000, 1, 1, tzinfo=UTC), "RE").encode()
    for query in ("", "show=unheard&"):
        assert statements_of(client, f"/console/voicemails?{query}") == statements_of(
            client, f"/console/voicemails?{query}before={nothing_older}")


def statements_of(client: FlaskClient, path: str) -> int:
    """How many SQL statements the page at ``path`` runs."""
    engine = client.application.extensions["switchboard"].store.engine
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)
