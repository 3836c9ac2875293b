"""Executions started through the API (Studio's ``incomingRequest`` trigger): ``Parameters``
as ``flow.data`` and in the execution's context, the ``Parameters`` refused (with Twilio's
error body) and why, a request over the size limit, a call Make Outgoing Call cannot place, a
call that ends unanswered, a status callback that comes again after the execution moved on,
and a call answered or ended after the execution was ended through the API."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import requests

from switchboard.callbacks.studio import executions as store
from switchboard.callbacks.studio.api.executions import PARAMETERS_DEPTH
from tests.studio_api.conftest import (
    CONTACT,
    FLOW_NUMBER,
    REMINDER,
    House,
    definition,
    flow_body,
    make_house,
    trigger,
    widget,
)
from tests.twilio_signature import signature

ECHO = definition(
    trigger(request_to="say"),
    widget("say", "send-message", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
        "body": "{{flow.data.customer.name}} has {{flow.data.items | size}} items, the "
                "second {{flow.data.items[1].sku}}; vip {{flow.data.vip}}, "
                "{{flow.data.total}} due ({{trigger.request.parameters.customer.name}})."},
        sent=None, failed=None),
    description="Echo",
)

#: Calls the contact; unanswered, texts and waits for a reply.
CALL_THEN_TEXT = definition(
    trigger(request_to="call"),
    widget("call", "make-outgoing-call-v2", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
        "timeout": 30,
    }, answered="hello", busy="ask", noAnswer="ask", failed="ask"),
    widget("hello", "say-play", {"say": "Hello {{flow.data.name}}."}, audioComplete=None),
    widget("ask", "send-and-wait-for-reply", {
        "from": "{{flow.channel.address}}", "timeout": "3600",
        "body": "We could not call you ({{widgets.call.CallStatus}}). Reply CALL."},
        incomingMessage="thanks", timeout=None, deliveryFailure=None),
    widget("thanks", "send-message", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
        "body": "Thanks, {{widgets.ask.inbound.Body}} it is."}, sent=None, failed=None),
    description="Call, then text",
)


def published(house: House, flow: dict[str, Any], name: str) -> str:
    sid = house.studio.studio.v2.flows.create(friendly_name=name, status="published",
                                              definition=flow).sid
    house.number(f"{house.url}/flows/{sid}")
    return sid


def steps(house: House, flow: str, execution: str) -> list[tuple[str, str]]:
    found = house.studio.studio.v2.flows(flow).executions(execution).steps.list()
    return [(step.transitioned_from, step.name) for step in reversed(found)]


def nested(depth: int) -> str:
    """A JSON object ``depth`` levels deep: ``{"a": {"a": ... 1}}``."""
    return '{"a":' * depth + "1" + "}" * depth


# -- Parameters ----------------------------------------------------------------------------------


def test_parameters_are_flow_data_in_liquid_and_in_the_context(house: House) -> None:
    flow = published(house, ECHO, "Echo")
    parameters = {"customer": {"name": "Ada", "phones": ["+15555550100"]},
                  "items": [{"sku": "A-1"}, {"sku": "B-2"}], "vip": True, "total": 12.5}
    execution = house.studio.studio.v2.flows(flow).executions.create(
        to=CONTACT, from_=FLOW_NUMBER, parameters=parameters)

    assert house.sent_to(CONTACT) == [
        "Ada has 2 items, the second B-2; vip true, 12.5 due (Ada)."]
    assert execution.status == "ended"
    assert execution.contact_channel_address == CONTACT
    assert execution.initiated_by.startswith("RQ")
    context = house.studio.studio.v2.flows(flow).executions(
        execution.sid).execution_context().fetch().context
    assert context == execution.context
    assert context["flow"]["data"] == parameters
    assert context["flow"]["channel"] == {"address": FLOW_NUMBER}
    assert context["flow"]["sid"] == execution.sid
    assert context["trigger"] == {"request": {"parameters": parameters,
                                              "RequestSid": execution.initiated_by}}
    assert context["contact"] == {"channel": {"address": CONTACT}}
    assert steps(house, flow, execution.sid) == [("Trigger", "incomingRequest"),
                                                 ("say", "sent")]


@pytest.mark.parametrize(("text", "kind"), [
    ("null", "null"), ("true", "a boolean"), ("7", "a number"), ('"Zeke"', "a string"),
    ('["Zeke"]', "an array"),
])
def test_parameters_that_are_not_a_json_object_are_refused(house: House, text: str,
                                                           kind: str) -> None:
    flow = published(house, REMINDER, "Reminder")
    answer = house.raw("POST", f"/v2/Flows/{flow}/Executions",
                       data={"To": CONTACT, "From": FLOW_NUMBER, "Parameters": text})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": 20001, "status": 400,
        "message": f'Parameters must be a JSON object, as {{"name": "Zeke"}}, not {kind}',
        "more_info": "https://www.twilio.com/docs/errors/20001"}
    assert store.list_executions(house.stack.store) == []


def test_empty_parameters_are_none(house: House) -> None:
    flow = published(house, REMINDER, "Reminder")
    answer = house.raw("POST", f"/v2/Flows/{flow}/Executions",
                       data={"To": CONTACT, "From": FLOW_NUMBER, "Parameters": ""})
    assert answer.status_code == 201
    assert answer.json()["context"]["flow"]["data"] == {}


@pytest.mark.parametrize(("text", "message"), [
    (nested(PARAMETERS_DEPTH + 1),
     f"Parameters nests more than {PARAMETERS_DEPTH} levels deep (at a.a.a.a"),
    (nested(960),  # the decoder reads it, but a client could not read the execution back
     f"Parameters nests more than {PARAMETERS_DEPTH} levels deep"),
    ('{"customer": {"phones": [[[' + "[" * PARAMETERS_DEPTH + "]" * PARAMETERS_DEPTH + "]]]}}",
     f"Parameters nests more than {PARAMETERS_DEPTH} levels deep (at "
     "customer.phones[0][0][0][0]"),
    ('{"order": {"lines": [1, 2, 1e400]}}',
     "Parameters holds a number too large for JSON at order.lines[2]; send a finite number, "
     "or its digits as a string"),
    ('{"names": ["Ada", "\\ud800"]}',
     "Parameters holds a lone UTF-16 surrogate at names[1]; send text as UTF-8, or escape "
     "it as a surrogate pair"),
    ('{"who": {"\\udc00": 1}}',
     "Parameters holds a name with a lone UTF-16 surrogate (in who)"),
    ('{"a\\nb": [0.5, -1e999]}',
     "Parameters holds a number too large for JSON at a?b[1];"),
])
def test_parameters_json_cannot_carry_on_are_refused(house: House, text: str,
                                                     message: str) -> None:
    flow = published(house, REMINDER, "Reminder")
    answer = house.raw("POST", f"/v2/Flows/{flow}/Executions",
                       data={"To": CONTACT, "From": FLOW_NUMBER, "Parameters": text})
    body = answer.json()
    assert (answer.status_code, body["code"], body["status"]) == (400, 20001, 400)
    assert body["message"].startswith(message)
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20001"
    assert store.list_executions(house.stack.store) == []


def test_parameters_as_deep_as_allowed_and_a_surrogate_pair_are_taken(house: House) -> None:
    flow = published(house, REMINDER, "Reminder")
    path = f"/v2/Flows/{flow}/Executions"
    deep = house.raw("POST", path, data={"To": CONTACT, "From": FLOW_NUMBER,
                                         "Parameters": nested(PARAMETERS_DEPTH)})
    assert deep.status_code == 201
    pair = house.raw("POST", path, data={"To": "+15555550199", "From": FLOW_NUMBER,
                                         "Parameters": '{"name": "\\ud83d\\ude00"}'})
    assert pair.status_code == 201
    assert pair.json()["context"]["flow"]["data"] == {"name": "\U0001f600"}


def test_a_request_over_the_size_limit_is_413_in_twilios_shape(house: House) -> None:
    flow = published(house, REMINDER, "Reminder")
    limit = house.stack.app.config["MAX_CONTENT_LENGTH"]  # type: ignore[union-attr]
    answer = house.raw("POST", f"/v2/Flows/{flow}/Executions", data={
        "To": CONTACT, "From": FLOW_NUMBER, "Parameters": json.dumps({"notes": "x" * limit})})
    assert answer.status_code == 413
    assert answer.json() == {
        "code": 20001, "status": 413,
        "message": f"Request Entity Too Large: this server takes request bodies of up to "
                   f"{limit} bytes; send less (a smaller Parameters or Definition)",
        "more_info": "https://www.twilio.com/docs/errors/20001"}
    assert store.list_executions(house.stack.store) == []


# -- the call Make Outgoing Call places ----------------------------------------------------------


def test_a_from_that_is_not_the_accounts_takes_failed(house: House) -> None:
    house.emulator.state.strict_senders = True  # refused as Twilio does: 21210, then 21606
    flow = published(house, CALL_THEN_TEXT, "Call, then text")
    execution = house.studio.studio.v2.flows(flow).executions.create(
        to=CONTACT, from_="+15550009999")
    assert execution.status == "ended"
    assert steps(house, flow, execution.sid) == [
        ("Trigger", "incomingRequest"), ("call", "failed"), ("ask", "deliveryFailure")]
    assert "(Twilio error 21210," in execution.context["widgets"]["call"]["error"]
    assert house.emulator.state.list("calls") == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_rest_api_that_cannot_be_reached_takes_failed(database_url: str,
                                                        tmp_path: Path) -> None:
    stack = make_house(database_url, tmp_path,
                       TWILIO_API_BASE_URL=f"http://127.0.0.1:{_free_port()}")
    auth = (stack.emulator.account_sid, stack.emulator.auth_token)
    try:
        created = requests.post(f"{stack.url}/v2/Flows", auth=auth, timeout=20,
                                data=flow_body("Call", CALL_THEN_TEXT))
        flow = created.json()["sid"]
        answer = requests.post(f"{stack.url}/v2/Flows/{flow}/Executions", auth=auth,
                               timeout=20, data={"To": CONTACT, "From": FLOW_NUMBER})
        assert answer.status_code == 201
        execution = answer.json()
        assert execution["status"] == "ended"
        assert execution["context"]["widgets"]["call"]["error"].startswith("TwilioConnectionError")
        assert stack.emulator.auth_token not in json.dumps(execution)
    finally:
        stack.stop()


@pytest.mark.parametrize("status", ["failed", "canceled"])
def test_a_failed_or_canceled_call_takes_failed(house: House, status: str) -> None:
    number = "+15555550123"
    house.emulator.phone.call_outcomes[number] = status
    flow = published(house, CALL_THEN_TEXT, "Call, then text")
    execution = house.studio.studio.v2.flows(flow).executions.create(to=number,
                                                                     from_=FLOW_NUMBER)
    assert house.stack.wait_idle(20)
    assert steps(house, flow, execution.sid) == [
        ("Trigger", "incomingRequest"), ("call", "failed")]
    assert house.sent_to(number) == [f"We could not call you ({status}). Reply CALL."]


def test_a_status_callback_that_comes_again_leaves_the_execution_going_on(
        house: House) -> None:
    busy = "+15005550020"
    flow = published(house, CALL_THEN_TEXT, "Call, then text")
    executions = house.studio.studio.v2.flows(flow).executions
    execution = executions.create(to=busy, from_=FLOW_NUMBER)
    assert house.stack.wait_idle(20)
    call = executions(execution.sid).fetch().context["widgets"]["call"]
    assert call["CallStatus"] == "busy"

    url = f"{house.url}/flows/{flow}/outgoing-call/{execution.sid}/call/status"
    form = {"AccountSid": house.emulator.account_sid, "CallSid": call["CallSid"],
            "CallStatus": "busy", "To": busy, "From": FLOW_NUMBER,
            "Direction": "outbound-api"}
    again = requests.post(url, data=form, timeout=20, headers={
        "X-Twilio-Signature": signature(house.emulator.auth_token, url, form)})
    assert again.status_code < 300

    assert executions(execution.sid).fetch().status == "active"
    house.reply("CALL", from_=busy)
    assert house.sent_to(busy) == ["We could not call you (busy). Reply CALL.",
                                   "Thanks, CALL it is."]
    assert steps(house, flow, execution.sid)[1:] == [
        ("call", "busy"), ("ask", "incomingMessage"), ("thanks", "sent")]


def _held_calls(house: House) -> list[dict[str, Any]]:
    """The calls the account places from now on, held (ringing) until the test places them
    with ``phone.run_outbound_call``."""
    held: list[dict[str, Any]] = []
    house.emulator.phone.place_outbound_call = held.append  # type: ignore[method-assign]
    return held


def test_a_call_answered_after_the_execution_ended_hangs_up(house: House) -> None:
    held = _held_calls(house)
    flow = published(house, CALL_THEN_TEXT, "Call, then text")
    executions = house.studio.studio.v2.flows(flow).executions
    execution = executions.create(to=CONTACT, from_=FLOW_NUMBER, parameters={"name": "Ada"})
    assert execution.status == "active"
    assert executions(execution.sid).update(status="ended").status == "ended"

    [call] = held
    transcript = house.emulator.phone.run_outbound_call(call)
    assert [event.kind for event in transcript.events if event.kind in ("say", "hangup")] == [
        "hangup"]
    assert transcript.error_codes == []
    assert executions(execution.sid).fetch().status == "ended"
    assert steps(house, flow, execution.sid) == [("Trigger", "incomingRequest")]


def test_a_call_unanswered_after_the_execution_ended_changes_nothing(house: House) -> None:
    held = _held_calls(house)
    house.emulator.phone.call_outcomes[CONTACT] = "no-answer"
    flow = published(house, CALL_THEN_TEXT, "Call, then text")
    executions = house.studio.studio.v2.flows(flow).executions
    execution = executions.create(to=CONTACT, from_=FLOW_NUMBER)
    executions(execution.sid).update(status="ended")

    [call] = held
    house.emulator.phone.run_outbound_call(call)
    assert house.emulator.state.get("calls", call["sid"])["status"] == "no-answer"
    assert executions(execution.sid).fetch().status == "ended"
    assert steps(house, flow, execution.sid) == [("Trigger", "incomingRequest")]
    assert house.sent_to(CONTACT) == []
