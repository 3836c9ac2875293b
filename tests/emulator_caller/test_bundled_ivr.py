"""Walk the bundled IVR through the emulator, on real sockets (the server from create_app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack

NUMBER = "+15551230000"
CALLER = "+15555550100"
OPERATOR = "+15557770000"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SwitchboardStack]:
    config = {
        "SWITCHBOARD_BUSINESS_NAME": "Acme Plumbing",
        "SWITCHBOARD_BUSINESS_HOURS": "weekdays 9 to 5",
        "SWITCHBOARD_BUSINESS_ADDRESS": "1 Main Street",
        "SWITCHBOARD_FORWARD_NUMBER": OPERATOR,
    }
    with SwitchboardStack(instance_path=tmp_path, config=config) as running:
        state = running.emulator.state
        state.buy_number(
            state.main_account_sid,
            NUMBER,
            voice_url=running.url + "/voice",
            voice_fallback_url=running.url + "/voice/fallback",
            status_callback=running.url + "/voice/status",
            sms_url=running.url + "/sms",
            sms_fallback_url=running.url + "/sms/fallback",
        )
        yield running


def call(stack: SwitchboardStack, script: CallScript) -> Any:
    transcript = stack.emulator.phone.inbound_call(NUMBER, CALLER, script=script)
    assert stack.wait_idle(10)
    return transcript


def test_every_request_is_accepted(stack: SwitchboardStack) -> None:
    transcript = call(stack, CallScript("1"))
    assert transcript.requests
    for request in transcript.requests:
        assert request.response.ok, request.response.error_message
        assert request.response.status_code in (200, 204)


def test_hours_and_address(stack: SwitchboardStack) -> None:
    transcript = call(stack, CallScript("1"))
    assert transcript.said[0] == "Thank you for calling Acme Plumbing."
    assert any("weekdays 9 to 5" in s and "1 Main Street" in s for s in transcript.said)
    assert transcript.status == "completed"
    assert stack.store.get_call(transcript.sid)["status"] == "completed"


def test_voicemail_with_a_recording(stack: SwitchboardStack) -> None:
    script = CallScript("2", recording=RecordingTake(duration=14, digits="#"))
    transcript = call(stack, script)
    assert "Please leave a message after the tone" in transcript.text
    assert "your message has been recorded" in transcript.text
    [record] = transcript.events_of("record")
    recording_sid = record.detail["recording"]["sid"]
    assert transcript.requests_for("recording-status")[0].response.status_code in (200, 204)
    stored = stack.store.get_recording(recording_sid)
    assert stored["duration"] == 14
    assert stored["call_sid"] == transcript.sid


def test_operator_busy_then_voicemail(stack: SwitchboardStack) -> None:
    script = CallScript(
        "3", dial={OPERATOR: "busy"}, recording=RecordingTake(duration=5, digits="#")
    )
    transcript = call(stack, script)
    [dial] = transcript.events_of("dial")
    assert dial.detail["number"] == OPERATOR
    assert dial.detail["status"] == "busy"
    assert "nobody could take your call" in transcript.text
    assert transcript.events_of("record")


def test_operator_answers(stack: SwitchboardStack) -> None:
    transcript = call(stack, CallScript("3", dial_outcome="answered:120"))
    assert transcript.said[-1] == "Thank you for calling Acme Plumbing. Goodbye."
    call_resource = stack.emulator.state.get("calls", transcript.sid)
    assert int(call_resource["duration"]) >= 120


def test_invalid_input_three_times(stack: SwitchboardStack) -> None:
    transcript = call(stack, CallScript("9,,7"))
    text = transcript.text
    assert "not one of the options" in text
    assert "I did not get that" in text
    assert "Sorry we could not help you" in transcript.said[-1]
    assert transcript.events_of("hangup")
    assert transcript.status == "completed"


def test_status_callback_stored_exactly_once(stack: SwitchboardStack) -> None:
    transcript = call(stack, CallScript("1"))
    [stored] = stack.store.status_callbacks(transcript.sid)
    assert stored["status"] == "completed"
    assert stored["sequence_number"] == 0
    sent = transcript.requests_for("status")[0].exchanges[0]
    assert stored["idempotency_token"] == sent.request_headers["I-Twilio-Idempotency-Token"]
