"""Make Outgoing Call (``make-outgoing-call-v2``) in an execution the API started: the call is
placed through the emulator with its URL back at the flow, the widgets after ``answered`` run
in the call (a Gather's keys continue the same execution), and a call nobody answers takes
``busy``/``noAnswer`` (``failed`` when it is canceled through the REST API before it is
answered), the execution going on outside the call."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from switchboard.emulator.script import CallScript
from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, House, definition, trigger, widget

BUSY = "+15005550020"
NO_ANSWER = "+15005550021"

CALLBACK = definition(
    trigger(request_to="call"),
    widget("call", "make-outgoing-call-v2", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
        "timeout": 30,
    }, answered="menu", busy="missed", noAnswer="missed", failed="missed"),
    widget("menu", "gather-input-on-call", {
        "say": "Hello {{flow.data.name}}. Press 1 to confirm your appointment.",
        "number_of_digits": 1, "timeout": 5,
    }, keypress="thanks", timeout=None, speech=None),
    widget("thanks", "say-play", {"say": "You pressed {{widgets.menu.Digits}}. Goodbye."},
           audioComplete=None),
    widget("missed", "send-message", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
        "body": "We tried to call you ({{widgets.call.CallStatus}})."}, sent=None, failed=None),
    description="Call back",
)


def start(house: House, to: str) -> Any:
    flow = house.studio.studio.v2.flows.create(friendly_name="Call back", status="published",
                                               definition=CALLBACK)
    house.number(flow.webhook_url)
    execution = house.studio.studio.v2.flows(flow.sid).executions.create(
        to=to, from_=FLOW_NUMBER, parameters={"name": "Ada"})
    assert house.stack.wait_idle(20)
    return house.studio.studio.v2.flows(flow.sid).executions(execution.sid)


def test_the_answered_call_runs_the_flow_and_its_keys_continue_the_execution(
        house: House) -> None:
    house.emulator.phone.outbound_scripts[CONTACT] = CallScript(digits=["1"])
    execution = start(house, CONTACT)

    context = execution.execution_context().fetch().context
    call_sid = context["widgets"]["call"]["CallSid"]
    transcript = house.emulator.phone.transcript(call_sid)
    assert transcript is not None
    assert transcript.error_codes == []
    assert [event.text for event in transcript.events if event.kind == "say"] == [
        "Hello Ada. Press 1 to confirm your appointment.", "You pressed 1. Goodbye."]
    call = house.emulator.state.get("calls", call_sid)
    assert (call["from"], call["to"], call["direction"]) == (FLOW_NUMBER, CONTACT,
                                                            "outbound-api")
    assert call["url"].endswith(f"/outgoing-call/{execution.fetch().sid}/call")

    assert execution.fetch().status == "ended"
    assert context["widgets"]["menu"]["Digits"] == "1"
    assert [(s.transitioned_from, s.name) for s in reversed(execution.steps.list())] == [
        ("Trigger", "incomingRequest"), ("call", "answered"), ("menu", "keypress"),
        ("thanks", "audioComplete")]


def test_a_busy_line_takes_busy_and_the_flow_texts_instead(house: House) -> None:
    execution = start(house, BUSY)
    assert house.sent_to(BUSY) == ["We tried to call you (busy)."]
    assert execution.fetch().status == "ended"
    assert [(s.transitioned_from, s.name) for s in reversed(execution.steps.list())][:2] == [
        ("Trigger", "incomingRequest"), ("call", "busy")]


def test_nobody_answering_takes_no_answer(house: House) -> None:
    execution = start(house, NO_ANSWER)
    assert house.sent_to(NO_ANSWER) == ["We tried to call you (no-answer)."]
    steps = [(s.transitioned_from, s.name) for s in reversed(execution.steps.list())]
    assert steps[1] == ("call", "noAnswer")


@pytest.mark.parametrize("status", ["canceled", "completed"])
def test_a_call_canceled_before_it_is_answered_takes_failed(
        house: House, monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    held: list[dict[str, Any]] = []
    monkeypatch.setattr(house.emulator.phone, "place_outbound_call", held.append)
    execution = start(house, CONTACT)
    assert execution.fetch().status == "active"

    [call] = held
    emulator = house.emulator
    canceled = requests.post(
        f"{emulator.url}/2010-04-01/Accounts/{emulator.account_sid}/Calls/{call['sid']}.json",
        data={"Status": status}, auth=house.auth, timeout=20)
    assert canceled.json()["status"] == "canceled"
    emulator.phone.run_outbound_call(call)
    assert house.stack.wait_idle(20)

    assert house.sent_to(CONTACT) == ["We tried to call you (canceled)."]
    assert execution.fetch().status == "ended"
    assert [(s.transitioned_from, s.name) for s in reversed(execution.steps.list())] == [
        ("Trigger", "incomingRequest"), ("call", "failed"), ("missed", "sent")]
