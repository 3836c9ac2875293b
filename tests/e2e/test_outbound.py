"""Outbound: a call placed with ``switchboard call`` (and through the REST client) runs the
server's ``/voice`` flow at the emulator's far end, and its status callbacks (initiated,
ringing, in-progress, completed: SequenceNumber 0 to 3) land in the store once each; messages
sent through the client report sent and delivered (or the failure) to the store."""

from __future__ import annotations

import json

from switchboard.emulator.script import CallScript
from tests.e2e.checks import assert_callbacks_stored_once, statuses
from tests.e2e.conftest import Pair

FAR_END = "+15556667777"
PROGRESS = [("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3)]


def test_switchboard_call_runs_the_ivr(loop: Pair) -> None:
    loop.emulator.phone.outbound_scripts[FAR_END] = CallScript("1,0")
    result = loop.cli("call", "--to", FAR_END, "--from", loop.number, "--allow-insecure")
    assert result.exit_code == 0, result.output
    call = json.loads(result.output)
    assert (call["status"], call["direction"]) == ("queued", "outbound-api")
    assert loop.stack.wait_idle(20)

    transcript = loop.emulator.phone.transcript(call["sid"])
    assert transcript.status == "completed", transcript.render()
    assert transcript.said[0] == "Thank you for calling Acme Plumbing."
    assert "Acme Plumbing is open weekdays 9 to 5." in transcript.said[2]
    [voice] = transcript.requests_for("voice")
    assert voice.url == loop.url + "/voice"
    assert voice.params["Direction"] == "outbound-api"

    rows = assert_callbacks_stored_once(loop.store, transcript)
    assert statuses(rows) == PROGRESS
    stored = loop.store.get_call(call["sid"])
    assert (stored["status"], stored["direction"]) == ("completed", "outbound-api")
    assert loop.client.calls.get(call["sid"])["status"] == "completed"
    [completed] = [row for row in rows if row["status"] == "completed"]
    assert int(completed["params"]["CallDuration"]) == stored["duration"] > 0


def test_a_busy_far_end_through_the_client(loop: Pair) -> None:
    loop.emulator.phone.call_outcomes[FAR_END] = "busy"
    call = loop.client.calls.create(
        FAR_END, loop.number, url=loop.url + "/voice", status_callback=loop.url + "/voice/status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    loop.store.record_outbound_call(call)
    assert loop.stack.wait_idle(20)
    transcript = loop.emulator.phone.transcript(call["sid"])
    assert transcript.requests_for("voice") == []  # never answered: /voice is not requested
    rows = assert_callbacks_stored_once(loop.store, transcript)
    assert statuses(rows) == [("initiated", 0), ("ringing", 1), ("busy", 2)]
    assert loop.store.get_call(call["sid"])["status"] == "busy"
    assert loop.client.calls.get(call["sid"])["status"] == "busy"


def test_messages_through_the_client(loop: Pair) -> None:
    callback = loop.url + "/sms/status"
    good = loop.client.messages.create(FAR_END, from_=loop.number, body="Table ready",
                                       status_callback=callback)
    bad = loop.client.messages.create("+15005550010", from_=loop.number, body="Table ready",
                                      status_callback=callback)
    assert loop.stack.wait_idle(20)
    phone = loop.emulator.phone
    good_rows = assert_callbacks_stored_once(loop.store, phone.transcript(good["sid"]))
    assert [row["status"] for row in good_rows] == ["sent", "delivered"]
    bad_rows = assert_callbacks_stored_once(loop.store, phone.transcript(bad["sid"]))
    assert [row["status"] for row in bad_rows] == ["sent", "undelivered"]
    assert bad_rows[-1]["params"]["ErrorCode"] == "30003"
    assert loop.store.get_message(good["sid"])["status"] == "delivered"
    stored_bad = loop.store.get_message(bad["sid"])
    assert (stored_bad["status"], stored_bad["error_code"]) == ("undelivered", "30003")
