"""All 50 of the connector's operations, run by the project's client against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.api import TwilioClient, TwilioError
from switchboard.api.operations import OPERATIONS
from switchboard.emulator import Emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[TwilioClient]:
    with TwilioClient(emu.account_sid, emu.auth_token, base_url=emu.url, retries=0) as twilio:
        yield twilio


def items(result: Any, key: str) -> list[dict[str, Any]]:
    """A list result, whether the operation gives the page or the items."""
    if isinstance(result, dict):
        return result[key]
    return list(result)


def test_every_connector_operation(emu: Emulator, client: TwilioClient) -> None:
    ran: set[str] = set()

    def run(name: str, **values: Any) -> Any:
        ran.add(name)
        return OPERATIONS[name](client, **values)

    state, main = emu.state, emu.account_sid
    assert run("get-account-details")["sid"] == main
    sub = run("create-sub-account", friendly_name="Support")
    assert run("get-sub-account-by-account-sid", account_sid=sub["sid"])["sid"] == sub["sid"]
    assert run("get-sub-account-by-friendly-name", friendly_name="Support")["sid"] == sub["sid"]
    assert len(items(run("get-all-accounts-details"), "accounts")) == 2
    assert run("update-account", account_sid=sub["sid"],
               friendly_name="Help desk")["friendly_name"] == "Help desk"

    assert items(run("get-available-phone-numbers", iso_country_code="US", area_code="415"),
                 "available_phone_numbers")
    assert items(run("get-available-phone-numbers-advanced-seach", iso_country_code="US",
                     near_phone_number="+14155550100", distance="30"), "available_phone_numbers")
    assert items(run("get-available-phone-numbers-advanced-search", iso_country_code="US",
                     in_region="TX"), "available_phone_numbers")
    assert items(run("get-available-toll-free-numbers", iso_country_code="US", contains="866"),
                 "available_phone_numbers")

    caller_id = run("add-new-caller-id", phone_number="+14155550142", friendly_name="Home")
    assert caller_id["validation_code"]
    caller_sid = items(run("get-all-outgoing-caller-ids"), "outgoing_caller_ids")[0]["sid"]
    assert run("get-outgoing-caller-id-by-outgoing-caller-id-sid",
               outgoing_caller_id_sid=caller_sid)["friendly_name"] == "Home"
    run("update-outgoing-caller-id-by-outgoing-caller-id-sid", outgoing_caller_id_sid=caller_sid,
        friendly_name="Cell")
    run("delete-outgoing-caller-id", outgoing_caller_id_sid=caller_sid)

    app = run("create-application", friendly_name="Switchboard",
              voice_url="https://e.com/voice")
    assert run("get-application", application_sid=app["sid"])["voice_url"] == "https://e.com/voice"
    run("update-application", application_sid=app["sid"], sms_url="https://e.com/sms")
    assert len(items(run("get-all-applications"), "applications")) == 1

    by_area = run("add-incoming-phone-number-by-area-code", area_code="512")
    by_number = run("add-incoming-phone-number-by-phone-number", phone_number="+14155550123",
                    voice_url="https://e.com/voice")
    assert len(items(run("get-incoming-phone-numbers"), "incoming_phone_numbers")) == 2
    run("update-incoming-phone-numbers", incoming_phone_number_sid=by_number["sid"],
        voice_url="https://e.com/v2", sms_url="https://e.com/sms")
    assert state.find_number("+14155550123")["voice_url"] == "https://e.com/v2"
    assert run("get-incoming-phone-numbers-by-incoming-phone-number-sid",
               incoming_phone_number_sid=by_number["sid"])["sms_url"] == "https://e.com/sms"
    moved = run("exchange-phone-numbers-between-subaccounts",
                incoming_phone_number_sid=by_area["sid"], account_sid_to=sub["sid"])
    assert moved["account_sid"] == sub["sid"]
    run("delete-incoming-phone-number", incoming_phone_number_sid=by_number["sid"])

    call = run("make-call", to="+14155550111", from_="+14155550100",
               url="https://e.com/voice", if_machine="Continue")
    assert emu.phone.calls[-1]["machine_detection"] == "Enable"
    state.update_call(call["sid"], status="in-progress")
    assert run("get-call", call_sid=call["sid"])["status"] == "in-progress"
    assert len(items(run("get-calls", to="+14155550111"), "calls")) == 1
    assert run("change-call-state", call_sid=call["sid"], status="completed")["status"] == (
        "completed")

    conference = state.create_conference(main, "room")
    state.add_participant(conference["sid"], call["sid"])
    assert run("get-conference", conference_sid=conference["sid"])["friendly_name"] == "room"
    assert len(items(run("get-conferences", status="in-progress"), "conferences")) == 1
    assert len(items(run("get-participants", conference_sid=conference["sid"]),
                     "participants")) == 1
    assert run("get-participant", conference_sid=conference["sid"],
               call_sid=call["sid"])["muted"] is False
    assert run("update-participant-status", conference_sid=conference["sid"],
               call_sid=call["sid"], muted=True)["muted"] is True
    run("delete-participant", conference_sid=conference["sid"], call_sid=call["sid"])

    message = run("send-sms-message", to="+14155550111", from_="+14155550100", body="Hello")
    assert run("get-sms-message", sms_message_sid=message["sid"])["body"] == "Hello"
    assert len(items(run("get-all-sms-messages", to="+14155550111"), "messages")) == 1

    recording = state.create_recording(main, call["sid"], duration=2)
    transcription = state.create_transcription(main, recording["sid"],
                                               transcription_text="Call me back")
    assert run("get-recording", recording_sid=recording["sid"])["duration"] == "2"
    assert len(items(run("get-recordings", call_sid=call["sid"]), "recordings")) == 1
    assert run("get-transcription-by-transcription-sid",
               transcription_sid=transcription["sid"])["transcription_text"] == "Call me back"
    assert len(items(run("get-transcriptions", recording_sid=recording["sid"]),
                     "transcriptions")) == 1
    run("delete-recording", recording_sid=recording["sid"])

    notification = state.create_notification(main, call["sid"], error_code="11200")
    assert run("get-notification", notification_sid=notification["sid"])["error_code"] == "11200"
    assert len(items(run("get-all-notifications"), "notifications")) == 1
    assert len(items(run("get-notifications-by-call-sid", call_sid=call["sid"]),
                     "notifications")) == 1
    with pytest.raises(TwilioError):
        run("delete-notification", notification_sid=notification["sid"])

    assert run("update-sandbox", voice_url="https://e.com/sandbox")["voice_url"] == (
        "https://e.com/sandbox")
    assert run("get-sandbox")["voice_url"] == "https://e.com/sandbox"

    assert run("delete-application", application_sid=app["sid"]) is None
    assert ran == set(OPERATIONS)
