"""Executions through the API: the checks of their parameters, the date and status filters,
ending and deleting, a flow of the folder started the same way, a trigger without
``incomingRequest``, and a reply's timeout taken by the timer for a flow of the API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.base.exceptions import TwilioRestException

from switchboard.callbacks.studio import executions as store
from switchboard.callbacks.studio.runtime import fire_due_timeouts
from tests.studio_api.conftest import (
    CONTACT,
    FLOW_NUMBER,
    REMINDER,
    House,
    definition,
    trigger,
    widget,
)
from tests.studio_api.test_flows import HELLO_SID


def reminder(house: House) -> str:
    flow = house.studio.studio.v2.flows.create(friendly_name="Reminder", status="published",
                                               definition=REMINDER)
    house.number(flow.webhook_url)
    return flow.sid


def test_the_parameters_are_checked(house: House) -> None:
    sid = reminder(house)
    path = f"/v2/Flows/{sid}/Executions"
    answer = house.raw("POST", path, data={"From": FLOW_NUMBER})
    assert answer.json()["message"] == "Missing required parameter To in the post body"
    answer = house.raw("POST", path, data={"To": CONTACT, "From": FLOW_NUMBER,
                                           "Parameters": "[1, 2]"})
    assert (answer.status_code, answer.json()["code"]) == (400, 20001)
    assert "JSON object" in answer.json()["message"]
    answer = house.raw("POST", path, data={"To": CONTACT, "From": FLOW_NUMBER,
                                           "Parameters": "{name"})
    assert "Parameters is not JSON" in answer.json()["message"]
    answer = house.raw("POST", path, data={"To": "x" * 300, "From": FLOW_NUMBER})
    assert (answer.status_code, answer.json()["code"]) == (400, 81023)
    answer = house.raw("POST", "/v2/Flows/FW" + "0" * 32 + "/Executions",
                       data={"To": CONTACT, "From": FLOW_NUMBER})
    assert (answer.status_code, answer.json()["code"]) == (404, 20404)
    assert store.list_executions(house.stack.store) == []


def test_parameters_with_nan_and_a_blank_to_are_refused(house: House) -> None:
    path = f"/v2/Flows/{reminder(house)}/Executions"
    answer = house.raw("POST", path, data={"To": CONTACT, "From": FLOW_NUMBER,
                                           "Parameters": '{"name": NaN}'})
    assert (answer.status_code, answer.json()["code"]) == (400, 20001)
    assert "NaN is not a JSON value" in answer.json()["message"]
    answer = house.raw("POST", path, data={"To": " ", "From": FLOW_NUMBER})
    assert answer.json()["message"] == "Missing required parameter To in the post body"
    assert store.list_executions(house.stack.store) == []


def test_to_and_from_are_kept_without_surrounding_whitespace(house: House) -> None:
    sid = reminder(house)
    answer = house.raw("POST", f"/v2/Flows/{sid}/Executions",
                       data={"To": f"  {CONTACT}\n", "From": f"\t{FLOW_NUMBER} ",
                             "Parameters": '{"name": "Ada", "day": "Monday"}'})
    assert answer.status_code == 201, answer.text
    started = answer.json()
    assert started["contact_channel_address"] == CONTACT
    assert started["context"]["flow"]["channel"]["address"] == FLOW_NUMBER
    assert house.sent_to(CONTACT) == ["Hi Ada, see you on Monday? Reply YES or NO."]
    house.reply("YES")  # the contact's reply finds its execution
    assert house.sent_to(CONTACT)[-1] == "Confirmed for Monday."
    [execution] = house.studio.studio.v2.flows(sid).executions.list()
    assert (execution.sid, execution.status) == (started["sid"], "ended")


@pytest.mark.parametrize(("body", "name"), [
    ("To=+15555550100&From=%2B15551230000", "To"),
    ("To=%2B15555550100&From=+15551230000", "From"),
    ("To=+15555550100+&From=%2B15551230000", "To"),
    ("To=whatsapp:+15555550100&From=whatsapp:%2B15551230000", "To"),
])
def test_a_plus_sent_unencoded_is_refused_naming_the_parameter(house: House, body: str,
                                                               name: str) -> None:
    answer = house.raw("POST", f"/v2/Flows/{reminder(house)}/Executions", data=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (answer.status_code, answer.json()["code"]) == (400, 81023)
    message = answer.json()["message"]
    assert message.startswith(f"{name} '")
    assert "has a space where its '+' belongs" in message
    assert "%2B" in message
    assert "\n" not in message
    assert store.list_executions(house.stack.store) == []
    assert house.sent_to(CONTACT) == []


def test_the_next_page_keeps_the_status_filter_by_its_described_name(house: House) -> None:
    sid = reminder(house)
    executions = house.studio.studio.v2.flows(sid).executions
    for number in range(3):
        executions.create(to=f"+1555555011{number}", from_=FLOW_NUMBER)
    page = house.raw("GET", f"/v2/Flows/{sid}/Executions?status=active&PageSize=2").json()
    following = urlsplit(page["meta"]["next_page_url"])
    assert parse_qs(following.query)["status"] == ["active"]
    assert [e.status for e in executions.list(status="active", page_size=2)] == ["active"] * 3


def test_the_list_filters_by_date_and_status(house: House) -> None:
    sid = reminder(house)
    executions = house.studio.studio.v2.flows(sid).executions
    first = executions.create(to=CONTACT, from_=FLOW_NUMBER)
    executions(first.sid).update(status="ended")
    second = executions.create(to="+15555550199", from_=FLOW_NUMBER)
    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    assert [e.sid for e in executions.list()] == [second.sid, first.sid]
    assert {e.sid for e in executions.list(date_created_from=now - hour,
                                           date_created_to=now + hour)} == {first.sid,
                                                                            second.sid}
    assert executions.list(date_created_from=now + hour) == []
    assert executions.list(date_created_to=now - hour) == []
    assert [e.sid for e in executions.list(status="ended")] == [first.sid]
    answer = house.raw("GET", f"/v2/Flows/{sid}/Executions?DateCreatedFrom=yesterday")
    assert (answer.status_code, answer.json()["code"]) == (400, 20001)


def test_an_execution_is_ended_or_deleted_never_made_active_again(house: House) -> None:
    sid = reminder(house)
    executions = house.studio.studio.v2.flows(sid).executions
    execution = executions.create(to=CONTACT, from_=FLOW_NUMBER)
    answer = house.raw("POST", f"/v2/Flows/{sid}/Executions/{execution.sid}",
                       data={"Status": "active"})
    assert (answer.status_code, answer.json()["code"]) == (400, 20001)
    assert executions(execution.sid).update(status="ended").status == "ended"
    assert executions(execution.sid).update(status="ended").status == "ended"
    house.reply("YES")  # the contact's reply starts a new execution: the first one is over
    assert len(executions.list()) == 2

    assert executions(execution.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        executions(execution.sid).fetch()
    assert gone.value.status == 404
    assert store.list_steps(house.stack.store, execution.sid) == []
    with pytest.raises(TwilioRestException):
        house.studio.studio.v2.flows(HELLO_SID).executions(execution.sid).fetch()


def test_a_flow_of_the_folder_is_started_the_same_way(house: House) -> None:
    house.number(f"{house.url}/flows/hello")
    execution = house.studio.studio.v2.flows(HELLO_SID).executions.create(
        to=CONTACT, from_=FLOW_NUMBER, parameters={"name": "Ada"})
    assert execution.status == "ended"
    assert execution.flow_version == 1
    assert house.sent_to(CONTACT) == ["Hello from the folder, Ada."]
    assert execution.context["trigger"] == {"request": {
        "parameters": {"name": "Ada"}, "RequestSid": execution.initiated_by}}


def test_a_trigger_without_incoming_request_ends_at_once(house: House) -> None:
    flow = house.studio.studio.v2.flows.create(
        friendly_name="Calls only", status="published", definition=definition(
            trigger(), widget("x", "say-play", {"say": "hi"}, audioComplete=None)))
    execution = house.studio.studio.v2.flows(flow.sid).executions.create(
        to=CONTACT, from_=FLOW_NUMBER)
    assert execution.status == "ended"
    [step] = house.studio.studio.v2.flows(flow.sid).executions(execution.sid).steps.list()
    assert (step.transitioned_from, step.name, step.transitioned_to) == (
        "Trigger", "incomingRequest", "Ended")


def test_a_reply_that_does_not_come_times_out_by_the_timer(house: House) -> None:
    quick = definition(
        trigger(request_to="ask"),
        widget("ask", "send-and-wait-for-reply", {"body": "Still there?", "timeout": "1",
                                                  "from": "{{flow.channel.address}}"},
               incomingMessage=None, timeout="bye", deliveryFailure=None),
        widget("bye", "send-message", {"from": "{{flow.channel.address}}",
                                       "to": "{{contact.channel.address}}",
                                       "body": "Bye then."}, sent=None, failed=None),
    )
    flow = house.studio.studio.v2.flows.create(friendly_name="Quick", status="published",
                                               definition=quick)
    house.number(flow.webhook_url)
    execution = house.studio.studio.v2.flows(flow.sid).executions.create(
        to=CONTACT, from_=FLOW_NUMBER)
    time.sleep(1.2)
    settings = house.stack.app.extensions["switchboard"].settings  # type: ignore[union-attr]
    assert fire_due_timeouts(house.stack.store, {}, settings=settings) == 1
    assert house.stack.wait_idle(20)
    assert house.sent_to(CONTACT) == ["Still there?", "Bye then."]
    assert house.studio.studio.v2.flows(flow.sid).executions(
        execution.sid).fetch().status == "ended"
