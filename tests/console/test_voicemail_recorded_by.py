"""A voicemail names the Studio flow that recorded it, not the call's newest: a call whose
flow records a voicemail and then redirects it to another flow (a second execution, started
before the recording's status callback comes) names the first on the voicemails page, the
overview's short list and the call's page; a recording stored without coming through a flow's
route names the call's newest execution, as before. The emulator plays the caller, on real
sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from switchboard.callbacks.console import queries, register_console
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack
from tests.console.conftest import CALLER, NUMBER, PASSWORD, add_voicemail, logged_in_session
from tests.console.test_voicemail_flows import recording_item, voicemail_card
from tests.studio import widget

RECORDER = "front desk"
"""The flow that records the voicemail (a name with a space: its URL is quoted)."""
AFTER = "goodbye"
"""The flow it hands the call to afterwards."""


def _flow(*states: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "A console test flow",
        "states": [widget("Trigger", "trigger", {}, incomingMessage=None,
                          incomingCall=states[0]["name"], incomingRequest=None), *states],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    }


FLOWS = {
    RECORDER: Flow(RECORDER, _flow(
        widget("vm", "record-voicemail", {"finish_on_key": "#", "max_length": 120},
               recordingComplete="onwards", noAudio=None, hangup=None),
        widget("onwards", "add-twiml-redirect",
               {"url": f"/flows/{AFTER}", "method": "POST", "timeout": "0"},
               **{"return": None, "timeout": None, "fail": None}),
    ), f"{RECORDER}.json"),
    AFTER: Flow(AFTER, _flow(
        widget("bye", "say-play", {"say": "Thank you. Goodbye.", "loop": 1},
               audioComplete=None),
    ), f"{AFTER}.json"),
}


@pytest.fixture
def stack(database_url: str) -> Iterator[SwitchboardStack]:
    """The emulator and the server with :data:`FLOWS` and the console, a number pointed at
    :data:`RECORDER`."""
    with SwitchboardStack(database_url=database_url,
                          config={"BUNDLED_FLOWS": False, "STUDIO_FLOWS": False}) as stack:
        assert stack.app is not None
        stack.app.register_blueprint(studio_blueprint(FLOWS))
        stack.app.config["SWITCHBOARD_CONSOLE_PASSWORD"] = PASSWORD
        assert register_console(stack.app) is not None
        state = stack.emulator.state
        state.buy_number(state.main_account_sid, NUMBER,
                         voice_url=f"{stack.url}/flows/{RECORDER.replace(' ', '%20')}")
        yield stack


def _executions(stack: SwitchboardStack, call_sid: str) -> dict[str, str]:
    """The call's executions by flow name, oldest first."""
    with stack.store.engine.connect() as conn:
        return {row["flow_name"]: row["sid"] for row in queries.call_executions(conn, call_sid)}


def _short_list(session: requests.Session, stack: SwitchboardStack) -> list[str]:
    """The overview's unheard voicemails, as the page and its live refresh give them."""
    page = session.get(stack.url + "/console/", timeout=10).text
    found = re.search(r'<div data-section="voicemails">.*?</ul>', page, re.S)
    assert found, "no voicemails on the overview"
    live = session.get(stack.url + "/console/overview.json", timeout=10).json()
    return [found.group(0), live["sections"]["voicemails"]]


def test_a_voicemail_names_the_flow_that_recorded_it_not_the_calls_newest(
    stack: SwitchboardStack,
) -> None:
    transcript = stack.emulator.phone.inbound_call(
        NUMBER, CALLER, script=CallScript(recording=RecordingTake(duration=9, digits="#")))
    assert stack.wait_idle(20)
    assert transcript.error_codes == []
    [record] = transcript.events_of("record")
    recording_sid = record.detail["recording"]["sid"]
    call_sid = record.detail["recording"]["call_sid"]
    assert stack.store.get_recording(recording_sid) is not None
    session = logged_in_session(stack)
    executions = _executions(stack, call_sid)
    assert list(executions) == [RECORDER, AFTER]  # AFTER's is the call's newest

    link = f'<a href="/console/executions/{executions[RECORDER]}">'
    card = voicemail_card(session.get(stack.url + "/console/voicemails", timeout=10).text,
                          recording_sid)
    assert f"flow {link}{RECORDER}</a>" in card
    assert AFTER not in card
    item = recording_item(
        session.get(f"{stack.url}/console/calls/{call_sid}", timeout=10).text, recording_sid)
    assert f"Flow {link}{RECORDER}</a>" in item
    assert executions[AFTER] not in item
    for short in _short_list(session, stack):
        assert f"flow {RECORDER}" in short
        assert f"flow {AFTER}" not in short

    # A recording stored without coming through a flow's route: the call's newest execution.
    stored = add_voicemail(stack.store, call_sid)
    card = voicemail_card(session.get(stack.url + "/console/voicemails", timeout=10).text,
                          stored)
    assert f'flow <a href="/console/executions/{executions[AFTER]}">{AFTER}</a>' in card
