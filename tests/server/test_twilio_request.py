"""The typed request views."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from switchboard.callbacks.handlers import parse_form
from switchboard.callbacks.twilio_request import CallRequest, Media, MessageRequest, StatusCallback


def test_call_request_fields() -> None:
    call = CallRequest({
        "CallSid": "CA1", "AccountSid": "AC1", "From": "+1", "To": "+2", "CallStatus": "ringing",
        "Direction": "inbound", "ForwardedFrom": "+3", "CallerName": "ADA", "ParentCallSid": "CA0",
        "Digits": "5", "SpeechResult": "sales", "Confidence": "0.91", "RecordingDuration": "12",
        "DialCallStatus": "busy", "FromCity": "SPRINGFIELD", "NewThing": "kept",
    })
    assert (call.call_sid, call.account_sid, call.from_, call.to) == ("CA1", "AC1", "+1", "+2")
    assert (call.call_status, call.direction, call.forwarded_from) == ("ringing", "inbound", "+3")
    assert (call.caller_name, call.parent_call_sid, call.digits) == ("ADA", "CA0", "5")
    assert (call.speech_result, call.confidence) == ("sales", 0.91)
    assert (call.recording_duration, call.dial_call_status) == (12, "busy")
    assert call.from_city == "SPRINGFIELD"
    assert call.params["NewThing"] == "kept"
    assert call.get("NewThing") == "kept"
    assert call.sid == "CA1"


def test_missing_and_malformed_fields_read_as_none() -> None:
    call = CallRequest({"Confidence": "high", "RecordingDuration": "", "DialCallDuration": "nan"})
    assert call.call_sid is None
    assert call.confidence is None
    assert call.recording_duration is None
    assert call.dial_call_duration is None
    assert CallRequest({"Confidence": "nan"}).confidence is None


def test_message_media_in_order() -> None:
    message = MessageRequest(MultiDict({
        "SmsSid": "SM1", "Body": "pic", "NumMedia": "3",
        "MediaUrl2": "https://m/2", "MediaContentType2": "image/png",
        "MediaUrl0": "https://m/0", "MediaContentType0": "image/jpeg",
        "MediaUrl1": "https://m/1", "MediaUrlX": "ignored",
    }))
    assert message.message_sid == "SM1"
    assert message.num_media == 3
    assert message.media == [
        Media("https://m/0", "image/jpeg"), Media("https://m/1", None),
        Media("https://m/2", "image/png"),
    ]
    assert MessageRequest({"NumMedia": "lots"}).num_media == 0
    assert MessageRequest({}).media == []


def test_status_callback_kinds() -> None:
    call = StatusCallback({"CallSid": "CA1", "CallStatus": "completed", "SequenceNumber": "3"},
                          headers={"I-Twilio-Idempotency-Token": "t1"})
    assert (call.sid, call.status, call.sequence_number) == ("CA1", "completed", 3)
    assert call.idempotency_token == "t1"
    message = StatusCallback({"MessageSid": "SM1", "SmsStatus": "sent"}, kind="message_status")
    assert (message.sid, message.status) == ("SM1", "sent")
    recording = StatusCallback({"CallSid": "CA1", "RecordingSid": "RE1",
                                "RecordingStatus": "completed"}, kind="recording_status")
    assert (recording.sid, recording.status) == ("RE1", "completed")


def test_session_is_loaded_lazily_and_changes_are_noticed() -> None:
    loads = []

    def loader() -> dict[str, object]:
        loads.append(1)
        return {"step": 1}

    call = CallRequest({"CallSid": "CA1"}, session_loader=loader)
    assert not call.session_changed
    assert loads == []
    assert call.session["step"] == 1
    assert not call.session_changed
    call.session["step"] = 2
    assert call.session_changed
    assert loads == [1]
    replaced = CallRequest({}, session_loader=loader)
    replaced.session = {"step": 1}
    assert not replaced.session_changed
    replaced.session = {}
    assert replaced.session_changed


TEXT = st.characters(exclude_categories=["Cs"])  # what a form can carry in UTF-8


@given(st.lists(st.tuples(st.text(TEXT), st.text(TEXT)), max_size=8))
def test_parse_form_agrees_with_parse_qsl(fields: list[tuple[str, str]]) -> None:
    text = urlencode(fields)
    assert parse_form(text) == parse_qsl(text, keep_blank_values=True)


def test_parse_form_on_odd_input() -> None:
    for text in ["a=1&&b", "=v&k=", "x=%ZZ&y=%E2%82%AC+z", "a=b=c", "%FF=%C3"]:
        assert parse_form(text) == parse_qsl(text, keep_blank_values=True, errors="replace")


ESCAPES = st.text(st.sampled_from("%+=&aZ09CcEeFf\u00e9\u20ac\U0001f600"), max_size=24)


@given(ESCAPES)
def test_parse_form_agrees_with_parse_qsl_on_any_escapes(text: str) -> None:
    """Broken escapes, lone bytes of UTF-8 sequences, non-ASCII beside escapes."""
    assert parse_form(text) == parse_qsl(text, keep_blank_values=True, errors="replace")
