"""The whole loop: a number bought through the REST client, pointed at the server with
``switchboard provision``, and called through the bundled IVR by the emulator; every status
callback lands in the server's store exactly once."""

from __future__ import annotations

from typing import Any

import requests

from switchboard.callbacks.security import signed_headers
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.transcript import Transcript
from tests.e2e.checks import assert_callbacks_stored_once
from tests.e2e.conftest import AREA_CODE, CALLER, OPERATOR, Pair

GREETING = "Thank you for calling Acme Plumbing."
HOURS = "Acme Plumbing is open weekdays 9 to 5. Our address is 1 Main Street."


def assert_completed(pair: Pair, transcript: Transcript) -> list[dict[str, Any]]:
    """The call ended ``completed`` for the caller, the emulator and the server's store, and
    its callbacks were stored once each; returns the stored callbacks."""
    assert transcript.status == "completed", transcript.render()
    assert pair.client.calls.get(transcript.sid)["status"] == "completed"
    stored_call = pair.store.get_call(transcript.sid)
    assert stored_call["status"] == "completed"
    assert stored_call["from"] == CALLER
    assert stored_call["to"] == pair.number
    assert stored_call["direction"] == "inbound"
    for request in transcript.requests:  # every webhook was signed right and answered
        assert request.response.ok, (request.purpose, request.response.error_message)
    rows = assert_callbacks_stored_once(pair.store, transcript)
    call_rows = [row for row in rows if row["resource_sid"] == transcript.sid]
    assert [(r["status"], r["sequence_number"]) for r in call_rows] == [("completed", 0)]
    return rows


def test_buy_and_provision(pair: Pair) -> None:
    bought = pair.client.incoming_phone_numbers.create(area_code=AREA_CODE)
    assert bought["phone_number"].startswith("+1" + AREA_CODE)
    result = pair.cli("provision", "--allow-insecure", "--number", bought["phone_number"])
    assert result.exit_code == 0, result.output
    assert f"Verified: number {bought['phone_number']}" in result.output
    [listed] = pair.client.incoming_phone_numbers.list(phone_number=bought["phone_number"])
    assert listed["sid"] == bought["sid"]
    assert {key: listed[key] for key in (
        "voice_url", "voice_method", "voice_fallback_url", "sms_url", "sms_fallback_url",
        "status_callback",
    )} == {
        "voice_url": pair.url + "/voice", "voice_method": "POST",
        "voice_fallback_url": pair.url + "/voice/fallback", "sms_url": pair.url + "/sms",
        "sms_fallback_url": pair.url + "/sms/fallback",
        "status_callback": pair.url + "/voice/status",
    }
    again = pair.cli("provision", "--allow-insecure", "--number", bought["phone_number"],
                     "--dry-run")
    assert again.exit_code == 0, again.output
    assert "->" not in again.output  # nothing left to change


def test_hours(loop: Pair) -> None:
    transcript = loop.call(CallScript("1,0"))
    said = transcript.said
    assert said[0] == GREETING
    assert said[2] == HOURS
    assert "not one of the options" in said[4]
    assert_completed(loop, transcript)


def test_voicemail_with_a_recording(loop: Pair) -> None:
    transcript = loop.call(CallScript("2", recording=RecordingTake(duration=14, digits="#")))
    assert "Please leave a message after the tone" in transcript.text
    assert transcript.said[-1] == "Thank you, your message has been recorded. Goodbye."
    [record] = transcript.events_of("record")
    recording_sid = record.detail["recording"]["sid"]
    stored = loop.store.get_recording(recording_sid)
    assert stored["call_sid"] == transcript.sid
    assert stored["duration"] == 14
    assert stored["status"] == "completed"
    remote = loop.client.recordings.get(recording_sid)  # the emulator holds the same recording
    assert remote["call_sid"] == transcript.sid
    assert remote["duration"] == "14"
    assert stored["url"] == f"{loop.emulator.url}{remote['uri'].removesuffix('.json')}"
    rows = assert_completed(loop, transcript)
    [recording_row] = [row for row in rows if row["kind"] == "recording"]
    assert (recording_row["resource_sid"], recording_row["status"]) == (recording_sid,
                                                                         "completed")


def test_a_repeated_callback_is_stored_once(loop: Pair) -> None:
    """Each status callback of a voicemail call sent again, as a Twilio retry would (the same
    I-Twilio-Idempotency-Token) and as a plain duplicate (no token): still stored once."""
    transcript = loop.call(CallScript("2", recording=RecordingTake(duration=3)))
    before = assert_callbacks_stored_once(loop.store, transcript)
    assert sorted(row["kind"] for row in before) == ["call", "recording"]
    token = loop.emulator.auth_token
    for request in transcript.requests_for("status") + transcript.requests_for("recording-status"):
        [sent] = request.exchanges
        retry = {"I-Twilio-Idempotency-Token": sent.request_headers["I-Twilio-Idempotency-Token"]}
        for extra in (retry, {}):
            answer = requests.post(request.url, data=request.params, timeout=10,
                                   headers={**signed_headers(token, request.url, request.params),
                                            **extra})
            assert answer.status_code == 204
    assert assert_callbacks_stored_once(loop.store, transcript) == before


def test_operator_busy_then_voicemail(loop: Pair) -> None:
    script = CallScript("3", dial={OPERATOR: "busy"}, recording=RecordingTake(duration=6))
    transcript = loop.call(script)
    assert "Please hold while we connect you." in transcript.said
    [dial] = transcript.events_of("dial")
    assert (dial.detail["number"], dial.detail["status"]) == (OPERATOR, "busy")
    [dial_action] = transcript.requests_for("dial")
    assert dial_action.url == loop.url + "/voice/dial-result"
    assert dial_action.params["DialCallStatus"] == "busy"
    assert "nobody could take your call" in transcript.text
    [record] = transcript.events_of("record")
    recording_sid = record.detail["recording"]["sid"]
    assert loop.store.get_recording(recording_sid)["duration"] == 6
    assert_completed(loop, transcript)


def test_invalid_input_three_times_then_goodbye(loop: Pair) -> None:
    transcript = loop.call(CallScript("9,,7"))
    said = transcript.said
    assert said.count("Sorry, that is not one of the options.") == 1
    assert said.count("Sorry, I did not get that.") == 1
    assert said[-1] == ("Sorry we could not help you. Thank you for calling Acme Plumbing. "
                        "Goodbye.")
    assert [e.kind for e in transcript.events][-2:] == ["hangup", "status"]
    assert_completed(loop, transcript)
    assert loop.store.load_voice_session(transcript.sid)["attempts"] == 3
