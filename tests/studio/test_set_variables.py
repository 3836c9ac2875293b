"""Set Variables in a flow, on SQLite and PostgreSQL: a number stays a number (one written as
such, or one a template only outputs), anything else stays text, through a wait in the
database; Liquid and Split Based On compare such a number with text that reads as one, and
text that does not leaves the condition unmet instead of ending the execution. Run Subflow's
parameters stay text."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from tests.server.conftest import Twilio, clean_app, message_params, twiml
from tests.studio import widget


def variables(name: str, after: str | None, **values: str) -> dict[str, Any]:
    return widget(name, "set-variables", {
        "variables": [{"key": key, "value": value} for key, value in values.items()]},
        next=after)


def send(name: str, body: str) -> dict[str, Any]:
    return widget(name, "send-message", {"from": "{{flow.channel.address}}",
                                         "to": "{{contact.channel.address}}", "body": body},
                  sent=None, failed=None)


def definition(*states: dict[str, Any], event: str = "incomingMessage") -> dict[str, Any]:
    trigger = widget("Trigger", "trigger", {}, incomingMessage=None, incomingCall=None,
                     incomingRequest=None, incomingParent=None)
    for item in trigger["transitions"]:
        if item["event"] == event:
            item["next"] = states[0]["name"]
    return {"description": "Set Variables", "states": [trigger, *states],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}


FLOWS = {
    "count": definition(
        variables("setup", "ask", count="0", start="{{trigger.message.Body}}", quoted='"1"',
                  code="007", price="1.50", below=" -2 ", plus="+1"),
        widget("ask", "send-and-wait-for-reply", {
            "from": "{{flow.channel.address}}", "body": "How many more?", "timeout": "3600",
        }, incomingMessage="add", timeout=None, deliveryFailure=None),
        variables("add", "split",
                  count="{{ flow.variables.count | plus: widgets.ask.inbound.Body }}"),
        {"name": "split", "type": "split-based-on",
         "transitions": [{"next": "few", "event": "noMatch"},
                         {"next": "many", "event": "match", "conditions": [
                             {"friendly_name": "more than 2", "arguments": [
                                 "{{flow.variables.count}}"],
                              "type": "greater_than", "value": "2"}]}],
         "properties": {"input": "{{flow.variables.count}}", "offset": {"x": 0, "y": 100}}},
        send("many", "many: {{flow.variables.count}} {{flow.variables | to_json}}"),
        send("few", "{% if flow.variables.start > 2 %}a big start{% else %}not a big start"
                    "{% endif %}, {% if flow.variables.count >= 1 %}at least one"
                    "{% endif %}"),
    ),
    "parent": definition(
        variables("setup", "sub", count="3"),
        widget("sub", "run-subflow", {"flow_sid": "child", "parameters": [
            {"key": "n", "value": "{{flow.variables.count}}"}]},
            completed="tell", failed="tell"),
        send("tell", "{{widgets.sub.given}} {{flow.variables.count | to_json}}"),
    ),
    "child": definition(
        variables("look", None, given="{{trigger.parent.parameters.n | to_json}}"),
        event="incomingParent",
    ),
    "edges": definition(
        widget("setup", "set-variables", {"variables": [
            {"key": "said", "value": "{{trigger.message.Body | plus: 0}}"},
            {"key": "long", "value": "9" * 5000},
            {"key": "one", "value": "1.0"},
            {"key": "zero", "value": "-0"},
            {"key": "written", "value": 3},
            {"key": "matched", "value": "{% if trigger.message.Body == 'nan' %}true{% endif %}"},
        ]}, next="tell"),
        send("tell", "{{flow.variables.said | to_json}} {{flow.variables.one}} "
                     "{{flow.variables.zero | to_json}} {{flow.variables.written | plus: 1}} "
                     "{{flow.variables.long | size}} {{flow.variables.matched | to_json}}"),
    ),
}


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint(
        {name: Flow(name, body, f"{name}.json") for name, body in FLOWS.items()}))
    yield application
    application.extensions["switchboard"].store.close()


class Texter:
    def __init__(self, twilio: Twilio, flow: str) -> None:
        self.twilio = twilio
        self.flow = flow
        self.number = "+1555" + str(uuid.uuid4().int)[:7]

    def replies(self, body: str) -> list[str]:
        root = twiml(self.twilio.post(f"/flows/{self.flow}",
                                      message_params(body, From=self.number)))
        return ["".join(message.itertext()) for message in root]

    def execution(self, store: Any) -> executions.Execution:
        (execution,) = [e for e in executions.list_executions(store)
                        if e.contact_channel_address == self.number]
        return execution


def test_numbers_stay_numbers_through_a_wait_and_compare_with_numbers(twilio, store):
    texter = Texter(twilio, "count")
    assert texter.replies("5") == ["How many more?"]
    assert texter.replies("3") == [
        'many: 3 {"count": 3, "start": "5", "quoted": "\\"1\\"", "code": "007", '
        '"price": "1.50", "below": -2, "plus": "+1"}']
    execution = texter.execution(store)
    assert execution.status == "ended"
    assert execution.context["flow"]["variables"] == {
        "count": 3, "start": "5", "quoted": '"1"', "code": "007", "price": "1.50",
        "below": -2, "plus": "+1"}


def test_text_that_is_a_number_compares_as_one_and_other_text_does_not(twilio, store):
    big = Texter(twilio, "count")
    assert big.replies("7") == ["How many more?"]
    assert big.replies("1") == ["a big start, at least one"]
    word = Texter(twilio, "count")
    word.replies("seven")
    assert word.replies("1") == ["not a big start, at least one"]
    assert word.execution(store).status == "ended"


def test_run_subflows_parameters_stay_text(twilio):
    assert Texter(twilio, "parent").replies("hi") == ['"3" 3']


def test_a_number_that_cannot_be_kept_as_one_stays_the_text_liquid_writes(twilio, store):
    texter = Texter(twilio, "edges")
    assert texter.replies("nan") == ['"nan" 1.0 "-0" 4 5000 "true"']
    execution = texter.execution(store)
    assert execution.status == "ended"
    assert execution.context["flow"]["variables"] == {
        "said": "nan", "long": "9" * 5000, "one": 1.0, "zero": "-0", "written": 3,
        "matched": "true"}
    assert Texter(twilio, "edges").replies("1e400") == ['"inf" 1.0 "-0" 4 5000 ""']
