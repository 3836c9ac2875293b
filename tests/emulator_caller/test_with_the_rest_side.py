"""The caller side behind the emulator's REST API: created calls and messages are placed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from switchboard.emulator import Emulator
from switchboard.emulator.script import CallScript
from tests.emulator_caller.conftest import CALLER, NUMBER, HookServer, twiml


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def server(emu: Emulator) -> Iterator[HookServer]:
    hooks = HookServer(emu.auth_token)
    hooks.thread.start()
    try:
        yield hooks
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()


def post(emu: Emulator, resource: str, data: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{emu.url}/2010-04-01/Accounts/{emu.account_sid}/{resource}.json",
        data=data, auth=(emu.account_sid, emu.auth_token), timeout=10,
    )


def test_a_call_created_through_rest_is_placed(emu: Emulator, server: HookServer) -> None:
    emu.state.buy_number(emu.account_sid, NUMBER)
    server.on("/outbound", twiml("<Gather numDigits='1' action='/pressed'><Say>Press 1 to "
                                 "confirm</Say></Gather>"))
    server.on("/pressed", twiml("<Say>Confirmed</Say>"))
    emu.phone.outbound_scripts["+15557654321"] = CallScript("1")
    answer = post(emu, "Calls", [
        ("To", "+15557654321"), ("From", NUMBER), ("Url", server.url("/outbound")),
        ("StatusCallback", server.url("/cs")), ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"), ("MachineDetection", "Enable"),
    ])
    assert answer.status_code == 201, answer.text
    sid = answer.json()["sid"]
    assert emu.phone.wait_idle(10)
    assert server.requests_to("/pressed")[0].params["Digits"] == "1"
    statuses = [r.params["CallStatus"] for r in server.requests_to("/cs")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert all(r.signature_valid for r in server.received)
    [voice] = server.requests_to("/outbound")
    assert voice.params["AnsweredBy"] == "human"
    call = requests.get(f"{emu.url}/2010-04-01/Accounts/{emu.account_sid}/Calls/{sid}.json",
                        auth=(emu.account_sid, emu.auth_token), timeout=10).json()
    assert call["status"] == "completed"
    assert call["direction"] == "outbound-api"


def get_call(emu: Emulator, sid: str) -> dict[str, Any]:
    answer = requests.get(f"{emu.url}/2010-04-01/Accounts/{emu.account_sid}/Calls/{sid}.json",
                          auth=(emu.account_sid, emu.auth_token), timeout=10)
    return dict(answer.json())


@pytest.mark.parametrize("status", ["canceled", "completed"])
def test_a_call_canceled_while_queued_gets_its_final_status_callback(
        emu: Emulator, server: HookServer, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    emu.state.buy_number(emu.account_sid, NUMBER)
    held: list[dict[str, Any]] = []
    monkeypatch.setattr(emu.phone, "place_outbound_call", held.append)
    created = post(emu, "Calls", [
        ("To", "+15557654321"), ("From", NUMBER), ("Url", server.url("/outbound")),
        ("StatusCallback", server.url("/cs")), ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "completed"),
    ]).json()
    canceled = post(emu, f"Calls/{created['sid']}", {"Status": status})
    assert canceled.json()["status"] == "canceled"

    [call] = held
    emu.phone.run_outbound_call(call)
    [callback] = server.received
    assert (callback.path, callback.params["CallStatus"]) == ("/cs", "canceled")
    assert callback.params["CallSid"] == created["sid"]
    assert callback.signature_valid
    ended = get_call(emu, created["sid"])
    assert (ended["status"], ended["duration"]) == ("canceled", "0")
    assert ended["end_time"] == canceled.json()["end_time"]


def cancel_when_ringing(emu: Emulator, server: HookServer) -> list[requests.Response]:
    """Have the status callback route ``/cs`` cancel the call through REST when it hears it
    ringing; the REST answers, in a list."""
    answers: list[requests.Response] = []

    def cancel(request: Any) -> tuple[str, int]:
        if request.form["CallStatus"] == "ringing":
            answers.append(post(emu, f"Calls/{request.form['CallSid']}",
                                {"Status": "canceled"}))
        return "", 204

    server.on("/cs", cancel)
    return answers


def test_a_call_canceled_while_ringing_is_not_answered(emu: Emulator,
                                                       server: HookServer) -> None:
    emu.state.buy_number(emu.account_sid, NUMBER)
    answers = cancel_when_ringing(emu, server)
    created = post(emu, "Calls", [
        ("To", "+15557654321"), ("From", NUMBER), ("Url", server.url("/outbound")),
        ("StatusCallback", server.url("/cs")), ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"),
    ]).json()
    assert emu.phone.wait_idle(10)
    assert [answer.json()["status"] for answer in answers] == ["canceled"]
    statuses = [r.params["CallStatus"] for r in server.requests_to("/cs")]
    assert statuses == ["initiated", "ringing", "canceled"]
    assert server.requests_to("/outbound") == []
    assert get_call(emu, created["sid"])["status"] == "canceled"


@pytest.mark.parametrize("outcome", ["busy", "no-answer"])
def test_a_cancel_while_ringing_wins_over_the_far_ends_outcome(
        emu: Emulator, server: HookServer, outcome: str) -> None:
    emu.state.buy_number(emu.account_sid, NUMBER)
    emu.phone.call_outcomes["+15557654321"] = outcome
    answers = cancel_when_ringing(emu, server)
    created = post(emu, "Calls", [
        ("To", "+15557654321"), ("From", NUMBER), ("Url", server.url("/outbound")),
        ("StatusCallback", server.url("/cs")), ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "completed"),
    ]).json()
    assert emu.phone.wait_idle(10)
    assert [answer.json()["status"] for answer in answers] == ["canceled"]
    statuses = [r.params["CallStatus"] for r in server.requests_to("/cs")]
    assert statuses == ["ringing", "canceled"]
    final = server.requests_to("/cs")[-1]
    assert (final.params["CallDuration"], final.params["SipResponseCode"]) == ("0", "487")
    ended = get_call(emu, created["sid"])
    assert (ended["status"], ended["duration"]) == ("canceled", "0")
    assert ended["end_time"] == answers[0].json()["end_time"]
    assert emu.phone.transcript(created["sid"]).status == "canceled"


@pytest.mark.parametrize("outcome", ["busy", "no-answer"])
def test_a_cancel_after_the_far_ends_outcome_changes_nothing(
        emu: Emulator, server: HookServer, outcome: str) -> None:
    emu.state.buy_number(emu.account_sid, NUMBER)
    emu.phone.call_outcomes["+15557654321"] = outcome
    created = post(emu, "Calls", [
        ("To", "+15557654321"), ("From", NUMBER), ("Url", server.url("/outbound")),
        ("StatusCallback", server.url("/cs")),
    ]).json()
    assert emu.phone.wait_idle(10)
    late = post(emu, f"Calls/{created['sid']}", {"Status": "canceled"})
    assert late.json()["status"] == outcome
    assert emu.phone.wait_idle(10)
    assert [r.params["CallStatus"] for r in server.requests_to("/cs")] == [outcome]
    assert get_call(emu, created["sid"])["status"] == outcome


def test_a_message_sent_through_rest_gets_its_callbacks(emu: Emulator,
                                                         server: HookServer) -> None:
    emu.state.buy_number(emu.account_sid, NUMBER)
    answer = post(emu, "Messages", {"To": CALLER, "From": NUMBER, "Body": "Your code is 1234",
                                    "StatusCallback": server.url("/ms")})
    assert answer.status_code == 201, answer.text
    assert emu.phone.wait_idle(10)
    callbacks = server.requests_to("/ms")
    assert [c.params["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    assert all(c.signature_valid for c in callbacks)


@pytest.mark.parametrize("word", ["stop", "revoke", "OptOut"])
def test_stop_opts_out_and_the_rest_side_refuses(emu: Emulator, server: HookServer,
                                                 word: str) -> None:
    emu.state.buy_number(emu.account_sid, NUMBER, sms_url=server.url("/sms"))
    server.on("/sms", twiml("<Message>Sorry to see you go</Message>"))
    transcript = emu.phone.inbound_sms(NUMBER, CALLER, word)
    assert len(server.requests_to("/sms")) == 1  # the application still hears the STOP
    assert transcript.messages == []
    [blocked] = transcript.events_of("blocked")
    assert "21610" in blocked.text
    refused = post(emu, "Messages", {"To": CALLER, "From": NUMBER, "Body": "hello?"})
    assert refused.status_code == 400
    assert refused.json()["code"] == 21610
    emu.phone.inbound_sms(NUMBER, CALLER, "START")
    assert post(emu, "Messages", {"To": CALLER, "From": NUMBER, "Body": "hi"}).status_code == 201
