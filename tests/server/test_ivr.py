"""The bundled phone tree, walked digit by digit."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.server.conftest import Twilio, call_params, make_app, sid, spoken, twiml, verbs


class Call:
    """One call walking the IVR: follows the actions the TwiML names."""

    def __init__(self, twilio: Twilio) -> None:
        self.twilio = twilio
        self.params = call_params(CallStatus="ringing")

    def post(self, path: str, **extra: str) -> Any:
        return twiml(self.twilio.post(path, dict(self.params, **extra)))


def test_welcome_reads_the_menu_inside_a_gather(twilio: Twilio) -> None:
    root = Call(twilio).post("/voice")
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert "Thank you for calling Switchboard" in spoken(root)
    gather = root.find("Gather")
    assert gather.get("action") == "http://localhost/voice/menu"
    assert gather.get("numDigits") == "1"
    assert "press 1" in spoken(gather)
    assert "press 3" in spoken(gather)
    assert root.find("Redirect").text == "http://localhost/voice/menu"


def test_the_call_is_recorded(twilio: Twilio, store: Any) -> None:
    call = Call(twilio)
    call.post("/voice")
    row = store.get_call(call.params["CallSid"])
    assert row is not None
    assert (row["from"], row["to"], row["status"]) == (
        call.params["From"],
        call.params["To"],
        "ringing",
    )


def test_1_gives_hours_and_address_then_the_menu_again(twilio: Twilio) -> None:
    root = Call(twilio).post("/voice/menu", Digits="1")
    assert "open Monday to Friday, 9 AM to 5 PM" in spoken(root)
    assert "1 Main Street, Springfield" in spoken(root)
    assert root.find("Gather").get("action") == "http://localhost/voice/menu"


def test_invalid_and_missing_input_repeat_then_goodbye(twilio: Twilio, store: Any) -> None:
    call = Call(twilio)
    call.post("/voice")
    first = call.post("/voice/menu", Digits="9")
    assert "not one of the options" in spoken(first)
    assert first.find("Gather") is not None
    second = call.post("/voice/menu")  # the Gather timed out: the Redirect, no Digits
    assert "did not get that" in spoken(second)
    assert second.find("Gather") is not None
    third = call.post("/voice/menu", Digits="*")
    assert verbs(third) == ["Say", "Hangup"]
    assert "Goodbye" in spoken(third)
    assert store.load_voice_session(call.params["CallSid"]) == {"attempts": 3}


def test_a_valid_choice_resets_nothing_it_does_not_need(twilio: Twilio) -> None:
    call = Call(twilio)
    call.post("/voice/menu", Digits="0")
    call.post("/voice/menu", Digits="1")  # hours: the count starts again
    assert call.post("/voice/menu", Digits="0").find("Gather") is not None
    assert call.post("/voice/menu", Digits="0").find("Gather") is not None
    assert verbs(call.post("/voice/menu", Digits="0"))[-1] == "Hangup"


def test_each_call_has_its_own_attempts(twilio: Twilio) -> None:
    first, second = Call(twilio), Call(twilio)
    first.post("/voice/menu", Digits="9")
    first.post("/voice/menu", Digits="9")
    assert second.post("/voice/menu", Digits="9").find("Gather") is not None


def test_2_records_a_voicemail_with_a_status_callback(twilio: Twilio, store: Any) -> None:
    call = Call(twilio)
    root = call.post("/voice/menu", Digits="2")
    record = root.find("Record")
    assert "leave a message" in spoken(root)
    assert record.get("action") == "http://localhost/voice/voicemail/saved"
    assert record.get("maxLength") == "120"
    assert record.get("recordingStatusCallback") == "http://localhost/voice/recording-status"
    assert verbs(root)[-1] == "Hangup"

    recording_sid = sid("RE")
    saved = call.post(
        "/voice/voicemail/saved",
        RecordingSid=recording_sid,
        RecordingUrl=f"https://api.twilio.com/Recordings/{recording_sid}",
        RecordingDuration="9",
        Digits="#",
    )
    assert verbs(saved) == ["Say", "Hangup"]
    assert "message has been recorded" in spoken(saved)

    callback = {
        "AccountSid": call.params["AccountSid"],
        "CallSid": call.params["CallSid"],
        "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/Recordings/{recording_sid}",
        "RecordingStatus": "completed",
        "RecordingDuration": "9",
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
    }
    assert twilio.post("/voice/recording-status", callback).status_code == 204
    stored = store.get_recording(recording_sid)
    assert stored is not None
    assert stored["call_sid"] == call.params["CallSid"]
    assert stored["url"] == callback["RecordingUrl"]
    assert stored["duration"] == 9
    assert stored["status"] == "completed"


def test_3_without_a_forward_number_offers_voicemail(twilio: Twilio) -> None:
    root = Call(twilio).post("/voice/menu", Digits="3")
    assert "nobody is available" in spoken(root)
    assert root.find("Record") is not None


def _forwarding_app(database_url: str) -> Flask:
    return make_app(
        database_url,
        SWITCHBOARD_FORWARD_NUMBER="+15550001111",
        SWITCHBOARD_DIAL_TIMEOUT="15",
        SWITCHBOARD_BUSINESS_NAME="Acme & Sons <Ltd>",
        SWITCHBOARD_VOICE="man",
        SWITCHBOARD_MAX_ATTEMPTS="1",
    )


def test_3_dials_the_forward_number_and_voicemail_when_nobody_answers(database_url: str) -> None:
    app = _forwarding_app(database_url)
    try:
        call = Call(Twilio(app.test_client()))
        welcome = call.post("/voice")
        assert "Acme & Sons <Ltd>" in spoken(welcome)  # escaped by the builder, read back intact
        assert welcome.find("Say").get("voice") == "man"
        root = call.post("/voice/menu", Digits="3")
        dial = root.find("Dial")
        assert dial.get("timeout") == "15"
        assert dial.get("action") == "http://localhost/voice/dial-result"
        assert "".join(dial.itertext()).strip() == "+15550001111"
        for outcome in ("busy", "no-answer", "failed"):
            after = call.post("/voice/dial-result", DialCallStatus=outcome)
            assert after.find("Record") is not None, outcome
        done = call.post("/voice/dial-result", DialCallStatus="completed", DialCallDuration="30")
        assert verbs(done) == ["Say", "Hangup"]
        # max_attempts=1: the first wrong key ends the call
        assert verbs(call.post("/voice/menu", Digits="8")) == ["Say", "Hangup"]
    finally:
        app.extensions["switchboard"].store.close()


def test_voicemail_route_can_be_reached_directly(twilio: Twilio) -> None:
    assert Call(twilio).post("/voice/voicemail").find("Record") is not None
