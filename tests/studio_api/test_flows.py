"""Flows: the flows folder's are listed and read like any other but cannot be changed; the
API's live in the database, each update a new revision; a draft may be broken, a published
flow may not; a flow of the API runs at its webhook_url, ``/flows/FW...``."""

from __future__ import annotations

import threading

import pytest
from twilio.base.exceptions import TwilioRestException

from switchboard.callbacks.studio import executions, flows_store
from switchboard.callbacks.studio.context import flow_sid
from switchboard.callbacks.studio.definition import Flow
from tests.studio_api.conftest import (
    CONTACT,
    FILE_FLOW,
    FLOW_NUMBER,
    REMINDER,
    House,
    definition,
    flow_body,
    trigger,
    widget,
)

HELLO_SID = flow_sid(Flow("hello", FILE_FLOW, "flows/hello.json"))


def refused(call: object) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as error:
        call()  # type: ignore[operator]
    return error.value


def test_a_flow_of_the_folder_is_listed_read_only_with_a_sid_from_its_name(
        house: House) -> None:
    flows = house.studio.studio.v2.flows
    [hello] = [flow for flow in flows.list() if flow.friendly_name == "hello"]
    assert hello.sid == HELLO_SID == "FW" + __import__("hashlib").md5(b"hello").hexdigest()
    assert (hello.status, hello.revision, hello.valid) == ("published", 1, True)
    assert flows(HELLO_SID).fetch().definition == FILE_FLOW
    assert hello.webhook_url == f"{house.url}/flows/hello"
    assert [r.revision for r in flows(HELLO_SID).revisions.list()] == [1]
    assert flows(HELLO_SID).test_users().fetch().test_users == []

    for attempt in (lambda: flows(HELLO_SID).update(status="draft"),
                    lambda: flows(HELLO_SID).delete(),
                    lambda: flows(HELLO_SID).test_users().update(test_users=[CONTACT])):
        error = refused(attempt)
        assert (error.status, error.code) == (403, 20403)
        assert "hello.json" in error.msg
        assert "read-only" in error.msg


def test_a_draft_may_be_broken_a_published_flow_may_not(house: House) -> None:
    flows = house.studio.studio.v2.flows
    broken = definition(trigger(request_to="gone"))
    draft = flows.create(friendly_name="Broken", status="draft", definition=broken)
    assert (draft.valid, draft.status) == (False, "draft")
    assert "no state named 'gone'" in draft.errors[0]["message"]

    error = refused(lambda: flows.create(friendly_name="Broken", status="published",
                                         definition=broken))
    assert (error.status, error.code) == (400, 81022)
    assert {f.friendly_name for f in flows.list()} == {"hello", "Broken"}
    error = refused(lambda: flows(draft.sid).update(status="published"))
    assert error.code == 81022
    assert flows(draft.sid).fetch().revision == 1


def test_a_flow_whose_liquid_includes_a_template_is_refused_not_failed(house: House) -> None:
    flows = house.studio.studio.v2.flows
    body = {"body": "Hi {% include 'signature' %}", "from": FLOW_NUMBER,
            "to": "{{contact.channel.address}}"}
    including = definition(trigger(request_to="hello"),
                           widget("hello", "send-message", body, sent=None, failed=None))
    error = refused(lambda: flows.create(friendly_name="Signed", status="published",
                                         definition=including))
    assert (error.status, error.code) == (400, 81022)
    assert "Liquid tag 'include' cannot be used in a flow" in error.msg


def test_a_list_of_flows_shows_no_definitions_a_fetch_does(house: House) -> None:
    flows = house.studio.studio.v2.flows
    flow = flows.create(friendly_name="Reminder", status="published", definition=REMINDER)
    assert {listed.sid: listed.definition for listed in flows.list()} == {
        HELLO_SID: None, flow.sid: None}
    assert flows(flow.sid).fetch().definition == REMINDER
    assert flows(HELLO_SID).fetch().definition == FILE_FLOW
    assert flows(flow.sid).revisions.list()[0].definition == REMINDER


def test_every_update_is_a_revision_and_a_draft_leaves_the_published_one(house: House) -> None:
    flows = house.studio.studio.v2.flows
    flow = flows.create(friendly_name="Reminder", status="published", definition=REMINDER)
    renamed = flows(flow.sid).update(status="published", friendly_name="Renamed")
    assert (renamed.revision, renamed.definition) == (2, REMINDER)
    draft = flows(flow.sid).update(status="draft", definition=dict(REMINDER, description="v3"))
    assert (draft.revision, draft.status, draft.friendly_name) == (3, "draft", "Renamed")
    revisions = flows(flow.sid).revisions
    assert revisions("LatestPublished").fetch().revision == 2
    assert revisions("LatestRevision").fetch().definition["description"] == "v3"
    assert [(r.revision, r.status) for r in revisions.list()] == [
        (3, "draft"), (2, "published"), (1, "published")]


def test_concurrent_updates_each_get_their_own_revision(house: House) -> None:
    flow = house.studio.studio.v2.flows.create(friendly_name="Busy", status="published",
                                               definition=REMINDER)
    answers: list[int] = []

    def update(number: int) -> None:
        response = house.raw("POST", f"/v2/Flows/{flow.sid}", data={
            "Status": "published", "CommitMessage": f"update {number}"})
        answers.append(response.json()["revision"])

    threads = [threading.Thread(target=update, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [2, 3, 4, 5, 6, 7]
    listed = house.studio.studio.v2.flows(flow.sid).revisions.list()
    assert sorted(r.revision for r in listed) == list(range(1, 8))


def test_a_deleted_flow_takes_its_executions_with_it(house: House) -> None:
    flows = house.studio.studio.v2.flows
    flow = flows.create(friendly_name="Reminder", status="published", definition=REMINDER)
    house.number(flow.webhook_url)
    execution = flows(flow.sid).executions.create(to=CONTACT, from_=FLOW_NUMBER)
    assert flows(flow.sid).delete() is True
    assert refused(lambda: flows(flow.sid).fetch()).status == 404
    assert executions.get(executions.Database(house.stack.store), execution.sid) is None
    assert executions.list_steps(house.stack.store, execution.sid) == []
    assert refused(lambda: flows(flow.sid).delete()).code == 20404


def test_unknown_flows_and_revisions(house: House) -> None:
    flows = house.studio.studio.v2.flows
    error = refused(lambda: flows("FW" + "0" * 32).fetch())
    assert (error.status, error.code) == (404, 20404)
    flow = flows.create(friendly_name="Reminder", status="published", definition=REMINDER)
    error = refused(lambda: flows(flow.sid).revisions("first").fetch())
    assert (error.status, error.code) == (400, 81021)
    assert refused(lambda: flows(flow.sid).revisions("9").fetch()).status == 404
    assert house.raw("GET", "/v2/Flows/Validate").json()["code"] == 20004
    assert house.raw("GET", "/v2/Elsewhere").json()["code"] == 20404
    answer = house.raw("PUT", f"/v2/Flows/{flow.sid}")
    assert (answer.status_code, answer.json()["code"]) == (405, 20004)


def test_required_parameters_are_named(house: House) -> None:
    answer = house.raw("POST", "/v2/Flows", data={"FriendlyName": "x", "Status": "draft"})
    assert answer.json()["message"] == "Missing required parameter Definition in the post body"
    answer = house.raw("POST", "/v2/Flows", data=flow_body("x", REMINDER, status="live"))
    assert (answer.status_code, answer.json()["code"]) == (400, 20001)
    assert "draft or published" in answer.json()["message"]
    answer = house.raw("POST", "/v2/Flows", data={**flow_body("x", REMINDER),
                                                  "Definition": "{not json"})
    assert "Definition is not JSON" in answer.json()["message"]


def test_a_definition_must_be_json_as_json_has_it(house: House) -> None:
    for text, said in (("NaN", "NaN is not a JSON value"),
                       ('{"x": -Infinity}', "-Infinity is not a JSON value"),
                       ("[" * 100_000, "nested too deeply")):
        for path in ("/v2/Flows", "/v2/Flows/Validate"):
            answer = house.raw("POST", path, data={**flow_body("x", REMINDER, status="draft"),
                                                   "Definition": text})
            assert (answer.status_code, answer.json()["code"]) == (400, 20001), (path, text)
            assert said in answer.json()["message"]
    assert {f.friendly_name for f in house.studio.studio.v2.flows.list()} == {"hello"}


def test_a_blank_required_parameter_is_missing(house: House) -> None:
    answer = house.raw("POST", "/v2/Flows", data={**flow_body("x", REMINDER),
                                                  "FriendlyName": "  "})
    assert answer.json()["message"] == (
        "Missing required parameter FriendlyName in the post body")


def test_a_flow_of_the_api_answers_messages_at_its_webhook_url(house: House) -> None:
    flow = house.studio.studio.v2.flows.create(friendly_name="Reminder", status="published",
                                               definition=REMINDER)
    house.number(flow.webhook_url)
    transcript = house.reply("Hi")
    assert house.sent_to(CONTACT) == ["Hi , see you on ? Reply YES or NO."]
    [execution] = house.studio.studio.v2.flows(flow.sid).executions.list()
    assert execution.initiated_by == transcript.sid
    assert execution.status == "active"
    stored = flows_store.get_flow(house.stack.store, flow.sid)
    assert stored is not None
    assert stored.published_revision == 1
