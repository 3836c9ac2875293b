"""Status callbacks: stored once, never moved backwards, 204 only when stored."""

from __future__ import annotations

import random
from typing import Any

from tests.server.conftest import ACCOUNT_SID, Twilio, call_params, sid

CALL_EVENTS = ["initiated", "ringing", "in-progress", "completed"]
MESSAGE_EVENTS = ["sending", "sent", "delivered", "read"]


def call_event(call_sid: str, status: str, sequence: int) -> dict[str, str]:
    params = call_params(call_sid, CallStatus=status, SequenceNumber=str(sequence),
                         CallbackSource="call-progress-events",
                         Timestamp="Fri, 27 Nov 2026 12:00:00 +0000")
    if status == "completed":
        params.update(CallDuration="42", Duration="1")
    return params


def message_event(message_sid: str, status: str) -> dict[str, str]:
    return {"MessageSid": message_sid, "SmsSid": message_sid, "MessageStatus": status,
            "SmsStatus": status, "AccountSid": ACCOUNT_SID, "From": "+15559870002",
            "To": "+15551230001", "ApiVersion": "2010-04-01"}


def test_call_callbacks_in_order(twilio: Twilio, store: Any) -> None:
    call_sid = sid("CA")
    for sequence, status in enumerate(CALL_EVENTS):
        response = twilio.post("/voice/status", call_event(call_sid, status, sequence))
        assert response.status_code == 204
    assert store.get_call(call_sid)["status"] == "completed"
    assert [c["status"] for c in store.status_callbacks(call_sid)] == CALL_EVENTS


def test_duplicated_and_shuffled_call_callbacks(twilio: Twilio, store: Any) -> None:
    call_sid = sid("CA")
    events = [call_event(call_sid, s, n) for n, s in enumerate(CALL_EVENTS)]
    sends = events * 3
    random.Random(7).shuffle(sends)
    sends.insert(0, events[-1])  # completed first, the rest late
    for params in sends:
        assert twilio.post("/voice/status", params).status_code == 204
    assert store.get_call(call_sid)["status"] == "completed"
    assert sorted(c["status"] for c in store.status_callbacks(call_sid)) == sorted(CALL_EVENTS)


def test_a_retry_with_the_same_idempotency_token_is_stored_once(
    twilio: Twilio, store: Any
) -> None:
    call_sid = sid("CA")
    params = call_event(call_sid, "completed", 3)
    del params["SequenceNumber"]
    headers = {"I-Twilio-Idempotency-Token": "token-1"}
    for _ in range(3):
        assert twilio.post("/voice/status", params, headers=headers).status_code == 204
    assert len(store.status_callbacks(call_sid)) == 1


def test_late_ringing_does_not_undo_completed(twilio: Twilio, store: Any) -> None:
    call_sid = sid("CA")
    twilio.post("/voice/status", call_event(call_sid, "completed", 3))
    twilio.get("/voice/status", call_event(call_sid, "ringing", 1))
    assert store.get_call(call_sid)["status"] == "completed"


def test_message_callbacks_duplicated_and_out_of_order(twilio: Twilio, store: Any) -> None:
    message_sid = sid("SM")
    sends = ["sent", "delivered", "sent", "sending", "delivered", "sent"]
    for status in sends:
        assert twilio.post("/sms/status", message_event(message_sid, status)).status_code == 204
    assert store.get_message(message_sid)["status"] == "delivered"
    assert sorted(c["status"] for c in store.status_callbacks(message_sid)) == [
        "delivered", "sending", "sent"
    ]


def test_failed_message_keeps_its_error_code(twilio: Twilio, store: Any) -> None:
    message_sid = sid("SM")
    params = dict(message_event(message_sid, "undelivered"), ErrorCode="30003")
    assert twilio.post("/sms/status", params).status_code == 204
    assert store.get_message(message_sid)["error_code"] == "30003"


def test_a_callback_without_sid_or_status_is_a_bad_request(twilio: Twilio) -> None:
    assert twilio.post("/voice/status", {"CallStatus": "completed"}).status_code == 400
    assert twilio.post("/voice/status", {"CallSid": sid("CA")}).status_code == 400
    assert twilio.post("/sms/status", {"MessageStatus": "sent"}).status_code == 400
    assert twilio.post("/voice/recording-status", {"CallSid": sid("CA")}).status_code == 400


def test_recording_callbacks_are_stored_once(twilio: Twilio, store: Any) -> None:
    recording_sid = sid("RE")
    params = {"CallSid": sid("CA"), "RecordingSid": recording_sid, "RecordingStatus": "completed",
              "RecordingUrl": "https://api.twilio.com/r", "RecordingDuration": "5"}
    for _ in range(2):
        assert twilio.post("/voice/recording-status", params).status_code == 204
    assert [c["status"] for c in store.status_callbacks(recording_sid)] == ["completed"]
    assert store.get_recording(recording_sid)["duration"] == 5
