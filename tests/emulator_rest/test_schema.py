"""Every JSON answer of a resource that today's API describes validates against the response
schema of Twilio's OpenAPI description (``../shared/twilio-openapi/twilio_api_v2010.json``),
as committed in ``tests/data/twilio_api_v2010_facts.json`` (see ``tests/openapi_facts.py``).

A walk through every operation the emulator serves records each answer; each is then checked
with a small validator for the subset of JSON Schema the description uses (type, nullable,
enum, properties, items, the RFC 2822 date format), and every property the schema lists must
be present, with no key it does not list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.emulator_rest.conftest import Api
from tests.openapi_facts import API_V2010_FACTS, load
from tests.openapi_schema import Described

Answer = tuple[str, str, int, Any]  # method, path, status, JSON body


API_V2010 = Described(API_V2010_FACTS)
operation_of = API_V2010.operation_of
validate = API_V2010.validate
response_schema = API_V2010.response_schema


def walk(api: Api) -> None:
    """Every operation the emulator serves, with resources for the lists to show."""
    state, account = api.emu.state, api.emu.account_sid
    sub = api.post("/2010-04-01/Accounts.json", {"FriendlyName": "sub"}).json()
    api.get("/2010-04-01/Accounts.json")
    api.get(f"/2010-04-01/Accounts/{sub['sid']}.json")
    api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"FriendlyName": "renamed"})

    api.get("/AvailablePhoneNumbers.json")
    api.get("/AvailablePhoneNumbers/US.json")
    api.get("/AvailablePhoneNumbers/US/Local.json", AreaCode="415", PageSize="3")
    api.get("/AvailablePhoneNumbers/US/TollFree.json", PageSize="3")
    app = api.post("/Applications.json", {"FriendlyName": "a", "VoiceUrl": "https://e.com/v"})
    app_sid = app.json()["sid"]
    api.get("/Applications.json")
    api.get(f"/Applications/{app_sid}.json")
    api.post(f"/Applications/{app_sid}.json", {"SmsUrl": "https://e.com/s"})
    number = api.buy(VoiceUrl="https://e.com/v", VoiceApplicationSid=app_sid)
    api.get("/IncomingPhoneNumbers.json")
    api.get(f"/IncomingPhoneNumbers/{number['sid']}.json")
    api.post(f"/IncomingPhoneNumbers/{number['sid']}.json", {"FriendlyName": "desk"})
    api.post("/OutgoingCallerIds.json", {"PhoneNumber": "+14155550142"})
    caller_id = api.get("/OutgoingCallerIds.json").json()["outgoing_caller_ids"][0]["sid"]
    api.get(f"/OutgoingCallerIds/{caller_id}.json")
    api.post(f"/OutgoingCallerIds/{caller_id}.json", {"FriendlyName": "home"})

    call = api.post("/Calls.json", {"To": "+14155550111", "From": number["phone_number"],
                                    "Url": "https://e.com/voice"}).json()
    state.update_call(call["sid"], status="in-progress")
    api.get("/Calls.json")
    api.get(f"/Calls/{call['sid']}.json")
    api.post(f"/Calls/{call['sid']}.json", {"Status": "completed"})
    message = api.post("/Messages.json", {"To": "+14155550111", "From": number["phone_number"],
                                          "Body": "hi", "MediaUrl": "https://e.com/a.png"}).json()
    media = api.get(f"/Messages/{message['sid']}/Media.json").json()["media_list"]
    api.get(f"/Messages/{message['sid']}/Media/{media[0]['sid']}.json")
    api.delete(f"/Messages/{message['sid']}/Media/{media[0]['sid']}.json")
    api.get("/Messages.json")
    api.get(f"/Messages/{message['sid']}.json")
    api.post(f"/Messages/{message['sid']}.json", {"Body": ""})

    conference = state.create_conference(account, "room")
    state.add_participant(conference["sid"], call["sid"])
    api.get("/Conferences.json")
    api.get(f"/Conferences/{conference['sid']}.json")
    api.get(f"/Conferences/{conference['sid']}/Participants.json")
    participant = f"/Conferences/{conference['sid']}/Participants/{call['sid']}.json"
    api.get(participant)
    api.post(participant, {"Muted": "true"})
    api.post(f"/Conferences/{conference['sid']}.json", {"Status": "completed"})

    recording = state.create_recording(account, call["sid"], duration=2)
    transcription = state.create_transcription(account, recording["sid"],
                                               transcription_text="hello")
    state.create_notification(account, call["sid"], request_url="https://e.com/voice")
    notification = state.create_notification(account, None, error_code="12100")
    api.get("/Recordings.json")
    api.get(f"/Recordings/{recording['sid']}.json")
    api.get(f"/Calls/{call['sid']}/Recordings.json")
    api.get(f"/Calls/{call['sid']}/Recordings/{recording['sid']}.json")
    conference_recording = state.create_recording(account, call["sid"], duration=1,
                                                  conference_sid=conference["sid"],
                                                  source="Conference")
    api.get(f"/Conferences/{conference['sid']}/Recordings.json")
    api.get(f"/Conferences/{conference['sid']}/Recordings/{conference_recording['sid']}.json")
    api.delete(f"/Conferences/{conference['sid']}/Recordings/{conference_recording['sid']}.json")
    call_recording = state.create_recording(account, call["sid"], duration=1)
    api.delete(f"/Calls/{call['sid']}/Recordings/{call_recording['sid']}.json")
    api.get("/Transcriptions.json")
    api.get(f"/Transcriptions/{transcription['sid']}.json")
    api.get(f"/Recordings/{recording['sid']}/Transcriptions.json")
    api.get(f"/Recordings/{recording['sid']}/Transcriptions/{transcription['sid']}.json")
    api.get("/Notifications.json")
    api.get(f"/Notifications/{notification['sid']}.json")
    call_notes = api.get(f"/Calls/{call['sid']}/Notifications.json").json()["notifications"]
    api.get(f"/Calls/{call['sid']}/Notifications/{call_notes[0]['sid']}.json")

    api.delete(f"/Recordings/{recording['sid']}/Transcriptions/{transcription['sid']}.json")
    other = state.create_transcription(account, recording["sid"])
    api.delete(f"/Transcriptions/{other['sid']}.json")
    api.delete(f"/Recordings/{recording['sid']}.json")
    second = state.create_call(account, to="+14155550112", from_="+14155550100")
    state.add_participant(conference["sid"], second["sid"])
    api.delete(f"/Conferences/{conference['sid']}/Participants/{second['sid']}.json")
    state.update_message(message["sid"], status="delivered")
    api.delete(f"/Messages/{message['sid']}.json")
    api.delete(f"/Calls/{call['sid']}.json")
    api.delete(f"/OutgoingCallerIds/{caller_id}.json")
    api.delete(f"/IncomingPhoneNumbers/{number['sid']}.json")
    api.delete(f"/Applications/{app_sid}.json")


EXPECTED = {
    ("GET", "/2010-04-01/Accounts.json"), ("POST", "/2010-04-01/Accounts.json"),
    ("GET", "/2010-04-01/Accounts/{Sid}.json"), ("POST", "/2010-04-01/Accounts/{Sid}.json"),
    *{(m, f"/2010-04-01/Accounts/{{AccountSid}}/{p}") for m, p in [
        ("GET", "AvailablePhoneNumbers.json"),
        ("GET", "AvailablePhoneNumbers/{CountryCode}.json"),
        ("GET", "AvailablePhoneNumbers/{CountryCode}/Local.json"),
        ("GET", "AvailablePhoneNumbers/{CountryCode}/TollFree.json"),
        ("GET", "IncomingPhoneNumbers.json"), ("POST", "IncomingPhoneNumbers.json"),
        ("GET", "IncomingPhoneNumbers/{Sid}.json"), ("POST", "IncomingPhoneNumbers/{Sid}.json"),
        ("DELETE", "IncomingPhoneNumbers/{Sid}.json"),
        ("GET", "OutgoingCallerIds.json"), ("POST", "OutgoingCallerIds.json"),
        ("GET", "OutgoingCallerIds/{Sid}.json"), ("POST", "OutgoingCallerIds/{Sid}.json"),
        ("DELETE", "OutgoingCallerIds/{Sid}.json"),
        ("GET", "Applications.json"), ("POST", "Applications.json"),
        ("GET", "Applications/{Sid}.json"), ("POST", "Applications/{Sid}.json"),
        ("DELETE", "Applications/{Sid}.json"),
        ("GET", "Calls.json"), ("POST", "Calls.json"), ("GET", "Calls/{Sid}.json"),
        ("POST", "Calls/{Sid}.json"), ("DELETE", "Calls/{Sid}.json"),
        ("GET", "Calls/{CallSid}/Recordings.json"),
        ("GET", "Calls/{CallSid}/Recordings/{Sid}.json"),
        ("DELETE", "Calls/{CallSid}/Recordings/{Sid}.json"),
        ("GET", "Conferences/{ConferenceSid}/Recordings.json"),
        ("GET", "Conferences/{ConferenceSid}/Recordings/{Sid}.json"),
        ("DELETE", "Conferences/{ConferenceSid}/Recordings/{Sid}.json"),
        ("GET", "Calls/{CallSid}/Notifications.json"),
        ("GET", "Calls/{CallSid}/Notifications/{Sid}.json"),
        ("GET", "Conferences.json"), ("GET", "Conferences/{Sid}.json"),
        ("POST", "Conferences/{Sid}.json"),
        ("GET", "Conferences/{ConferenceSid}/Participants.json"),
        ("GET", "Conferences/{ConferenceSid}/Participants/{CallSid}.json"),
        ("POST", "Conferences/{ConferenceSid}/Participants/{CallSid}.json"),
        ("DELETE", "Conferences/{ConferenceSid}/Participants/{CallSid}.json"),
        ("GET", "Messages.json"), ("POST", "Messages.json"), ("GET", "Messages/{Sid}.json"),
        ("POST", "Messages/{Sid}.json"), ("DELETE", "Messages/{Sid}.json"),
        ("GET", "Messages/{MessageSid}/Media.json"),
        ("GET", "Messages/{MessageSid}/Media/{Sid}.json"),
        ("DELETE", "Messages/{MessageSid}/Media/{Sid}.json"),
        ("GET", "Recordings.json"), ("GET", "Recordings/{Sid}.json"),
        ("DELETE", "Recordings/{Sid}.json"),
        ("GET", "Recordings/{RecordingSid}/Transcriptions.json"),
        ("GET", "Recordings/{RecordingSid}/Transcriptions/{Sid}.json"),
        ("DELETE", "Recordings/{RecordingSid}/Transcriptions/{Sid}.json"),
        ("GET", "Transcriptions.json"), ("GET", "Transcriptions/{Sid}.json"),
        ("DELETE", "Transcriptions/{Sid}.json"),
        ("GET", "Notifications.json"), ("GET", "Notifications/{Sid}.json"),
    ]},
}


@pytest.fixture
def answers(api: Api) -> list[Answer]:
    recorded: list[Answer] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.json() if response.content and response.headers.get(
            "Content-Type", "").startswith("application/json") else None
        recorded.append((response.request.method or "", urlsplit(response.url).path,
                         response.status_code, body))

    api.session.hooks["response"].append(record)
    walk(api)
    return recorded


def test_every_operation_is_covered_and_succeeds(answers: list[Answer]) -> None:
    failures = [(m, p, s) for m, p, s, _ in answers if s >= 400]
    assert failures == []
    covered = {(method, operation_of(path)) for method, path, _, _ in answers}
    assert EXPECTED - covered == set()


def test_every_answer_validates_against_the_openapi_schema(answers: list[Answer]) -> None:
    errors: list[str] = []
    checked = 0
    for method, path, status, body in answers:
        template = operation_of(path)
        assert template is not None, path
        described = load()["paths"][template].get(method.lower(), {}).get("responses", {})
        assert str(status) in described, f"{method} {path} answered {status}: not described"
        schema = response_schema(method, template, status)
        if schema is None:
            assert body is None, f"{method} {path}: a body where none is described"
            continue
        validate(body, schema, f"{method} {template}", errors)
        checked += 1
    assert "\n".join(errors) == ""
    assert checked == sum(1 for *_, body in answers if body is not None) > 40


def test_the_validator_catches_mistakes() -> None:
    schema = {"$ref": "#/components/schemas/api.v2010.account.call"}
    errors: list[str] = []
    validate({"sid": 1, "status": "exploded", "date_created": "yesterday", "extra": True},
             schema, "call", errors)
    text = "\n".join(errors)
    assert "call.sid: 1 is not string" in text
    assert "exploded" in text
    assert "RFC 2822" in text
    assert "call.extra: not in the schema" in text
    assert "call.to: missing" in text
