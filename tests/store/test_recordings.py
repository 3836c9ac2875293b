"""Recordings: the Record action and recording status callbacks."""

from __future__ import annotations

from switchboard.callbacks.store import Store

SID = "RE" + "3" * 32
CALL = "CA" + "3" * 32


def test_record_recording(store: Store) -> None:
    store.record_recording(
        {
            "RecordingSid": SID,
            "RecordingUrl": "https://api.twilio.com/rec/RE3",
            "RecordingDuration": "12",
            "CallSid": CALL,
            "Digits": "#",
        }
    )
    recording = store.get_recording(SID)
    assert recording is not None
    assert (recording["call_sid"], recording["url"], recording["duration"]) == (
        CALL,
        "https://api.twilio.com/rec/RE3",
        12,
    )
    assert recording["status"] is None
    assert recording["extra"] == {"Digits": "#"}


def test_get_recording_unknown_is_none(store: Store) -> None:
    assert store.get_recording("RE" + "f" * 32) is None


def test_recording_status_callbacks(store: Store) -> None:
    params = {
        "RecordingSid": SID,
        "CallSid": CALL,
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/rec/RE3",
        "RecordingDuration": "9",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
    }
    assert store.record_recording_status(params, "tok-r")
    assert store.record_recording_status(params, "tok-r2") is False
    assert store.record_recording_status({**params, "RecordingStatus": "in-progress"})
    recording = store.get_recording(SID)
    assert (recording["status"], recording["duration"], recording["channels"]) == (
        "completed",
        9,
        1,
    )
    assert [c["status"] for c in store.status_callbacks(SID)] == ["completed", "in-progress"]
    store.record_recording({"RecordingSid": SID, "RecordingDuration": "9", "CallSid": CALL})
    assert store.get_recording(SID)["status"] == "completed"
