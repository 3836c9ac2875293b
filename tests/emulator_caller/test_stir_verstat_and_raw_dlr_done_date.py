"""Fields Twilio adds when it has them: ``StirVerstat`` on an incoming call that came with a
SHAKEN/STIR verification, ``RawDlrDoneDate`` on the delivered and undelivered status callbacks
of a message (its carrier's delivery receipt). Each request is signed over them, and the
Switchboard server takes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from switchboard.emulator.caller import STIR_VERSTATS
from switchboard.emulator.script import CallScript
from switchboard.emulator.stack import SwitchboardStack
from tests.emulator_caller.conftest import CALLER, NUMBER, twiml

#: What Twilio posts to a number's voice URL for an incoming call (the emulator knows only the
#: country of a number: the city, state and zip fields are empty).
VOICE_FIELDS = [
    "AccountSid", "ApiVersion", "CallSid", "CallStatus", "Called", "CalledCity", "CalledCountry",
    "CalledState", "CalledZip", "Caller", "CallerCity", "CallerCountry", "CallerState",
    "CallerZip", "Direction", "From", "FromCity", "FromCountry", "FromState", "FromZip", "To",
    "ToCity", "ToCountry", "ToState", "ToZip",
]
#: What a message status callback carries, whatever the status.
MESSAGE_STATUS_FIELDS = [
    "AccountSid", "ApiVersion", "From", "MessageSid", "MessageStatus", "SmsSid", "SmsStatus",
    "To",
]


def _names(received) -> list[str]:
    return sorted(name for name, _value in received.form)


# -- StirVerstat -------------------------------------------------------------------------------


def test_a_verified_incoming_call_carries_stir_verstat(hooks, phone, number) -> None:
    hooks.on("/voice", twiml("<Say>Hello</Say>"))
    phone.inbound_call(NUMBER, CALLER, stir_verstat="TN-Validation-Passed-A")
    [voice] = hooks.requests_to("/voice")
    assert voice.signature_valid
    assert _names(voice) == sorted([*VOICE_FIELDS, "StirVerstat"])
    assert voice.params["StirVerstat"] == "TN-Validation-Passed-A"


def test_an_incoming_call_without_a_verification_has_no_stir_verstat(hooks, phone,
                                                                     number) -> None:
    hooks.on("/voice", twiml("<Say>Hello</Say>"))
    phone.inbound_call(NUMBER, CALLER)
    [voice] = hooks.requests_to("/voice")
    assert voice.signature_valid
    assert _names(voice) == VOICE_FIELDS


@pytest.mark.parametrize("verstat", ["No-TN-Validation", "TN-Validation-Failed-C",
                                     "TN-Validation-Passed-B-Diverted"])
def test_every_verification_twilio_reports_is_sent_as_given(hooks, phone, number,
                                                             verstat) -> None:
    hooks.on("/voice", twiml("<Hangup/>"))
    phone.inbound_call(NUMBER, CALLER, stir_verstat=verstat)
    [voice] = hooks.requests_to("/voice")
    assert voice.params["StirVerstat"] == verstat
    assert voice.signature_valid


def test_only_the_incoming_call_request_carries_stir_verstat(hooks, phone, state) -> None:
    """Twilio gives the verification in the incoming call's request to the number's voice URL
    (and so its fallback, which repeats that request): a Gather's action, a Redirect and the
    status callback do not carry it."""
    state.buy_number(state.main_account_sid, NUMBER, voice_url=hooks.url("/voice"),
                     voice_fallback_url=hooks.url("/fallback"),
                     status_callback=hooks.url("/status"))
    hooks.on("/voice", ("oops", 500))
    hooks.on("/fallback", twiml(f'<Gather numDigits="1" action="{hooks.url("/menu")}"/>'))
    hooks.on("/menu", twiml(f'<Redirect>{hooks.url("/next")}</Redirect>'))
    hooks.on("/next", twiml("<Say>Bye</Say>"))
    phone.inbound_call(NUMBER, CALLER, script=CallScript("1"),
                       stir_verstat="TN-Validation-Passed-A")
    [voice] = hooks.requests_to("/voice")
    [fallback] = hooks.requests_to("/fallback")
    assert voice.params["StirVerstat"] == "TN-Validation-Passed-A"
    assert (fallback.params["StirVerstat"], fallback.params["ErrorCode"]) == (
        "TN-Validation-Passed-A", "11217")
    [menu] = hooks.requests_to("/menu")
    [after] = hooks.requests_to("/next")
    [status] = hooks.requests_to("/status")
    assert menu.params["Digits"] == "1"
    assert status.params["CallStatus"] == "completed"
    for later in (menu, after, status):
        assert "StirVerstat" not in later.params, later.path
    assert all(r.signature_valid for r in (voice, fallback, menu, after, status))


def test_a_verification_twilio_does_not_report_is_refused(phone, number, state) -> None:
    with pytest.raises(ValueError, match="'TN-Validation-Passed' is not one of "
                                         "TN-Validation-Passed-A, "):
        phone.inbound_call(NUMBER, CALLER, stir_verstat="TN-Validation-Passed")
    assert state.list("calls") == []
    assert "TN-Validation-Passed-A" in STIR_VERSTATS


# -- RawDlrDoneDate ----------------------------------------------------------------------------


def _send(phone, state, hooks, to: str) -> dict:
    message = state.create_message(state.main_account_sid, to=to, from_=NUMBER, body="Hi",
                                   status="queued", status_callback=hooks.url("/ms"))
    phone.deliver_outbound_message(message)
    assert phone.wait_idle(5)
    return message


def _minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


def test_a_delivered_callback_carries_the_receipts_done_date(hooks, phone, state) -> None:
    before = _minute(datetime.now(UTC))
    message = _send(phone, state, hooks, "+15557654321")
    after = datetime.now(UTC)
    sent, delivered = hooks.requests_to("/ms")
    assert sent.signature_valid
    assert delivered.signature_valid
    assert _names(sent) == MESSAGE_STATUS_FIELDS
    assert _names(delivered) == sorted([*MESSAGE_STATUS_FIELDS, "RawDlrDoneDate"])
    assert delivered.params["MessageStatus"] == "delivered"
    assert delivered.params["MessageSid"] == message["sid"]
    done = delivered.params["RawDlrDoneDate"]
    assert len(done) == 10  # YYMMDDhhmm
    assert done.isdigit()
    assert before <= datetime.strptime(done, "%y%m%d%H%M").replace(tzinfo=UTC) <= after


def test_an_undelivered_callback_carries_it_and_a_failed_one_does_not(hooks, phone,
                                                                      state) -> None:
    _send(phone, state, hooks, "+15005550010")  # undelivered, 30003
    _sent, undelivered = hooks.requests_to("/ms")
    assert undelivered.signature_valid
    assert _names(undelivered) == sorted([*MESSAGE_STATUS_FIELDS, "ErrorCode", "RawDlrDoneDate"])
    assert undelivered.params["MessageStatus"] == "undelivered"
    _send(phone, state, hooks, "+15005550012")  # failed, 30008: never reached a carrier
    failed = hooks.requests_to("/ms")[-1]
    assert failed.params["MessageStatus"] == "failed"
    assert _names(failed) == sorted([*MESSAGE_STATUS_FIELDS, "ErrorCode"])


# -- the Switchboard server takes them ---------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SwitchboardStack]:
    with SwitchboardStack(instance_path=tmp_path) as running:
        yield running


def test_the_server_takes_stir_verstat_and_raw_dlr_done_date(stack: SwitchboardStack) -> None:
    state, phone = stack.emulator.state, stack.emulator.phone
    state.buy_number(state.main_account_sid, NUMBER, voice_url=stack.url + "/voice",
                     status_callback=stack.url + "/voice/status")
    transcript = phone.inbound_call(NUMBER, CALLER, script=CallScript("1"),
                                    stir_verstat="TN-Validation-Passed-A")
    [voice] = transcript.requests_for("voice")
    assert voice.params["StirVerstat"] == "TN-Validation-Passed-A"
    assert voice.response.status_code == 200, voice.response.error_message
    assert transcript.said[0].startswith("Thank you for calling")
    assert transcript.error_codes == []

    message = state.create_message(state.main_account_sid, to=CALLER, from_=NUMBER, body="Hi",
                                   status="queued", status_callback=stack.url + "/sms/status")
    phone.deliver_outbound_message(message)
    assert stack.wait_idle(10)
    delivery = phone.transcript(message["sid"])
    assert [r.response.status_code for r in delivery.requests] == [204, 204]
    stored = stack.store.status_callbacks(message["sid"])
    assert [c["status"] for c in stored] == ["sent", "delivered"]
    assert "RawDlrDoneDate" in stored[-1]["params"]
    assert datetime.now(UTC) - timedelta(minutes=2) < datetime.strptime(
        stored[-1]["params"]["RawDlrDoneDate"], "%y%m%d%H%M").replace(tzinfo=UTC)
