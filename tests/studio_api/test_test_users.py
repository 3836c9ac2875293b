"""A draft runs only for the flow's test users (the API's executions and the flow's webhooks
alike); once published it runs for everyone, and a newer draft still runs for its test users
only while everyone else keeps the published revision."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, House, definition, trigger, widget

TESTER = "+15555550111"


def greeting(text: str) -> dict[str, object]:
    return definition(
        trigger(request_to="hello", message_to="hello"),
        widget("hello", "send-message", {"from": "{{flow.channel.address}}",
                                         "to": "{{contact.channel.address}}", "body": text},
               sent=None, failed=None),
    )


def test_a_draft_runs_only_for_its_test_users(house: House) -> None:
    flows = house.studio.studio.v2.flows
    flow = flows.create(friendly_name="Draft", status="draft", definition=greeting("draft"))
    house.number(flow.webhook_url)
    executions = flows(flow.sid).executions

    with pytest.raises(TwilioRestException) as refused:
        executions.create(to=TESTER, from_=FLOW_NUMBER)
    assert (refused.value.status, refused.value.code) == (409, 20409)
    assert "TestUsers" in refused.value.msg

    users = flows(flow.sid).test_users().update(test_users=[TESTER, TESTER, "+15555550112"])
    assert users.test_users == [TESTER, "+15555550112"]
    assert flows(flow.sid).test_users().fetch().test_users == [TESTER, "+15555550112"]
    assert executions.create(to=TESTER, from_=FLOW_NUMBER).status == "ended"
    assert house.sent_to(TESTER) == ["draft"]

    house.reply("hi", from_=CONTACT)
    assert house.sent_to(CONTACT) == []
    house.reply("hi", from_=TESTER)
    assert house.sent_to(TESTER) == ["draft", "draft"]


def test_after_publishing_everyone_runs_it_and_a_new_draft_only_its_test_users(
        house: House) -> None:
    flows = house.studio.studio.v2.flows
    flow = flows.create(friendly_name="Greeting", status="published",
                        definition=greeting("published"))
    house.number(flow.webhook_url)
    flows(flow.sid).test_users().update(test_users=[TESTER])
    flows(flow.sid).update(status="draft", definition=greeting("the new draft"))

    house.reply("hi", from_=CONTACT)
    house.reply("hi", from_=TESTER)
    assert house.sent_to(CONTACT) == ["published"]
    assert house.sent_to(TESTER) == ["the new draft"]

    executions = flows(flow.sid).executions
    executions.create(to=CONTACT, from_=FLOW_NUMBER)
    executions.create(to=TESTER, from_=FLOW_NUMBER)
    assert house.sent_to(CONTACT)[-1] == "published"
    assert house.sent_to(TESTER)[-1] == "the new draft"
    versions = {e.contact_channel_address: e.flow_version for e in executions.list()}
    assert versions == {CONTACT: 1, TESTER: 2}
