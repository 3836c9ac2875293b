"""Twilio's official Python SDK drives the Studio API of the real app, on SQLite and then
PostgreSQL: a flow is created from a definition, fetched, updated (revision 2), its revisions
listed, a broken definition validated; an execution texts the contact through the emulator,
the contact's reply (an SMS to the flow's number, whose SMS URL is the flow's webhook_url)
resumes it, its steps and context are read, and another one is ended."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, REMINDER, House, definition, trigger


def test_a_flow_is_created_fetched_updated_and_its_revisions_listed(house: House) -> None:
    flows = house.studio.studio.v2.flows
    flow = flows.create(friendly_name="Reminder", status="published", definition=REMINDER,
                        commit_message="first")
    assert flow.sid.startswith("FW")
    assert len(flow.sid) == 34
    assert (flow.status, flow.revision, flow.valid, flow.errors) == ("published", 1, True, [])
    assert flow.definition == REMINDER
    assert flow.webhook_url == f"{house.url}/flows/{flow.sid}"
    assert flow.account_sid == house.emulator.account_sid

    fetched = flows(flow.sid).fetch()
    assert (fetched.friendly_name, fetched.commit_message) == ("Reminder", "first")

    changed = dict(REMINDER, description="Appointment reminder, v2")
    updated = flows(flow.sid).update(status="published", definition=changed,
                                     commit_message="second", friendly_name="Reminder 2")
    assert (updated.revision, updated.friendly_name, updated.commit_message) == (
        2, "Reminder 2", "second")
    assert updated.definition["description"] == "Appointment reminder, v2"

    revisions = flows(flow.sid).revisions.list()
    assert [(r.revision, r.commit_message) for r in revisions] == [(2, "second"), (1, "first")]
    assert flows(flow.sid).revisions("1").fetch().definition == REMINDER
    assert flows(flow.sid).revisions("LatestPublished").fetch().revision == 2

    listed = {f.sid: f for f in flows.list()}
    assert listed[flow.sid].friendly_name == "Reminder 2"


def test_a_broken_definition_is_refused_by_validate(house: House) -> None:
    broken = definition(trigger(request_to="nowhere"))
    with pytest.raises(TwilioRestException) as refused:
        house.studio.studio.v2.flow_validate.update(friendly_name="Broken", status="published",
                                                   definition=broken)
    assert (refused.value.status, refused.value.code) == (400, 81022)
    assert "no state named 'nowhere'" in refused.value.msg
    [error] = refused.value.details["errors"]
    assert error["property_path"] == "#/states/0/transitions"

    fine = house.studio.studio.v2.flow_validate.update(friendly_name="Fine", status="draft",
                                                      definition=REMINDER)
    assert fine.valid is True


def test_an_execution_texts_the_contact_and_the_reply_resumes_it(house: House) -> None:
    flow = house.studio.studio.v2.flows.create(friendly_name="Reminder", status="published",
                                               definition=REMINDER)
    house.number(flow.webhook_url)
    executions = house.studio.studio.v2.flows(flow.sid).executions

    execution = executions.create(to=CONTACT, from_=FLOW_NUMBER,
                                  parameters={"name": "Ada", "day": "Monday"})
    assert (execution.status, execution.contact_channel_address) == ("active", CONTACT)
    assert execution.flow_version == 1
    assert house.stack.wait_idle(20)
    assert house.sent_to(CONTACT) == ["Hi Ada, see you on Monday? Reply YES or NO."]

    house.reply("YES")
    assert house.sent_to(CONTACT)[-1] == "Confirmed for Monday."
    done = executions(execution.sid).fetch()
    assert done.status == "ended"

    steps = executions(execution.sid).steps.list()
    assert [(s.transitioned_from, s.name, s.transitioned_to) for s in reversed(steps)] == [
        ("Trigger", "incomingRequest", "ask"), ("ask", "incomingMessage", "route"),
        ("route", "match", "confirmed"), ("confirmed", "sent", "Ended")]
    ask = next(s for s in steps if s.transitioned_from == "ask")
    step_context = executions(execution.sid).steps(ask.sid).step_context().fetch()
    assert step_context.context["inbound"]["Body"] == "YES"

    context = executions(execution.sid).execution_context().fetch()
    assert context.context["flow"]["data"] == {"name": "Ada", "day": "Monday"}
    assert context.context["widgets"]["ask"]["inbound"]["Body"] == "YES"
    assert context.context["contact"]["channel"]["address"] == CONTACT


def test_an_execution_is_ended_and_a_second_one_for_the_contact_refused_until_then(
        house: House) -> None:
    flow = house.studio.studio.v2.flows.create(friendly_name="Reminder", status="published",
                                               definition=REMINDER)
    house.number(flow.webhook_url)
    executions = house.studio.studio.v2.flows(flow.sid).executions
    first = executions.create(to=CONTACT, from_=FLOW_NUMBER, parameters={"name": "Ada"})

    with pytest.raises(TwilioRestException) as refused:
        executions.create(to=CONTACT, from_=FLOW_NUMBER)
    assert (refused.value.status, refused.value.code) == (409, 20409)
    assert first.sid in refused.value.msg

    ended = executions(first.sid).update(status="ended")
    assert ended.status == "ended"
    second = executions.create(to=CONTACT, from_=FLOW_NUMBER, parameters={"name": "Bob"})
    assert second.status == "active"
    assert [e.sid for e in executions.list(status="active")] == [second.sid]
    assert {e.sid for e in executions.list()} == {first.sid, second.sid}
