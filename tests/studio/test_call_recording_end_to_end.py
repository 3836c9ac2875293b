"""Call Recording switched on, then off, by two widgets of one flow, end to end: the emulator
calls ``/flows/NAME`` of the real app, runs ``<Start><Recording name>`` and ``<Stop><Recording
name>``, and the recording lasts from one to the other (on SQLite, then PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.emulator.script import CallScript
from switchboard.emulator.stack import SwitchboardStack
from tests.studio import widget

CALLER = "+15555550100"


RECORDED = {
    "description": "A recorded call",
    "states": [
        widget("Trigger", "trigger", {}, incomingMessage=None, incomingCall="notice",
               incomingRequest=None),
        widget("notice", "say-play", {"say": "This call is recorded.", "loop": 1},
               audioComplete="record_on"),
        widget("record_on", "record-call", {"record_call": True, "recording_channels": "mono"},
               success="talk", failed=None),
        widget("talk", "say-play", {
            "say": 'Your <say-as interpret-as="ordinal">1</say-as> question, please.'
                   '<break time="2s"/>', "loop": 1,
        }, audioComplete="record_off"),
        widget("record_off", "record-call", {"record_call": "false"}, success="bye",
               failed=None),
        widget("bye", "say-play", {"say": "Recording stopped. Goodbye.", "loop": 1},
               audioComplete=None),
    ],
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
}


@pytest.fixture
def stack(database_url: str) -> Iterator[tuple[SwitchboardStack, str]]:
    stack = SwitchboardStack(database_url=database_url, config={"BUNDLED_FLOWS": False,
                                                                 "STUDIO_FLOWS": False}).start()
    stack.app.register_blueprint(studio_blueprint({"recorded": Flow("recorded", RECORDED,
                                                                    "recorded.json")}))
    client = stack.client()
    try:
        bought = client.incoming_phone_numbers.create(
            area_code="415", voice_url=f"{stack.url}/flows/recorded")
        yield stack, bought["phone_number"]
    finally:
        client.close()
        stack.stop()


def test_a_recording_switched_on_and_off_lasts_from_one_widget_to_the_other(stack) -> None:
    house, number = stack
    transcript = house.emulator.phone.inbound_call(number, CALLER, script=CallScript())
    assert house.wait_idle(20)
    assert transcript.error_codes == []
    assert [event.text for event in transcript.events if event.kind == "say"] == [
        "This call is recorded.", "Your 1 question, please.", "Recording stopped. Goodbye."]
    (execution,) = executions.list_executions(house.store)
    (recording,) = house.emulator.state.list("recordings")
    assert [event.text for event in transcript.events_of("record")] == [
        f"call recording studio-{execution.sid} started ({recording['sid']})",
        f"call recording studio-{execution.sid} stopped: 2 s recorded ({recording['sid']})",
    ]
    assert (recording["status"], recording["channels"]) == ("completed", 1)
    assert [s["transitioned_to"] for s in executions.list_steps(house.store, execution.sid)] \
        == ["notice", "record_on", "talk", "record_off", "bye", "Ended"]
