"""JSON from outside a flow read as Studio's JavaScript reads it, through ``/flows/NAME`` on
SQLite and PostgreSQL: an HTTP answer or a Run Function answer holding ``NaN``, ``Infinity``,
``-Infinity`` or a number past a double's range has no ``parsed`` (its body is kept as text),
Set Variables and Run Subflow refuse to parse one as JSON, and ``to_json`` writes a number
Liquid arithmetic made infinite as ``null``: the execution's context, as stored, is always
JSON that ``JSON.parse`` reads."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from flask import Flask

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from tests.conftest import serving
from tests.server.conftest import Twilio, clean_app, message_params, twiml
from tests.studio import widget

SERVICE = flask.Flask("json_service")

#: Bodies that Python's decoder reads and JavaScript's ``JSON.parse`` does not (or reads as
#: ``Infinity``, which no JSON can write back).
NOT_JSON = {
    "nan": '{"a": NaN, "b": 1}',
    "infinity": '{"a": Infinity}',
    "minus_infinity": '{"a": [1, {"b": -Infinity}]}',
    "too_large": '{"a": 1e400}',
    "too_small": '{"a": -1E+400}',
}
BODIES = {**NOT_JSON, "finite": '{"a": 1.5e300, "b": -0.0, "big": 1e308}'}


@SERVICE.route("/answer/<name>", methods=["GET", "POST"])
def answer(name: str) -> Any:
    return BODIES[name], 200, {"Content-Type": flask.request.args.get("type",
                                                                       "application/json")}


def trigger(first: str) -> dict[str, Any]:
    return {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
            "transitions": [{"event": "incomingMessage", "next": first},
                            {"event": "incomingCall"}, {"event": "incomingRequest"},
                            {"event": "incomingParent"}]}


def definition(*states: dict[str, Any]) -> dict[str, Any]:
    return {"description": "JSON from outside", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [trigger(states[0]["name"]), *states]}


def reply(name: str, body: str) -> dict[str, Any]:
    return widget(name, "send-message", {"from": "{{flow.channel.address}}",
                                         "to": "{{contact.channel.address}}", "body": body},
                  sent=None, failed=None)


FETCH = "http://SERVICE/answer/{{trigger.message.Body}}"
SHOWN = "[{{widgets.fetch.parsed | to_json}}] {{widgets.fetch.body}}"

DEFINITIONS: dict[str, dict[str, Any]] = {
    "http": definition(
        widget("fetch", "make-http-request", {"method": "GET", "url": FETCH},
               success="out", failed="out"),
        reply("out", SHOWN),
    ),
    "function": definition(
        widget("fetch", "run-function", {"url": FETCH + "?type=text/plain"},
               success="out", fail="out"),
        reply("out", SHOWN),
    ),
    "set_json": definition(
        widget("fetch", "make-http-request", {"method": "GET", "url": FETCH},
               success="keep", failed="keep"),
        widget("keep", "set-variables", {"variables": [
            {"key": "answer", "value": "{{widgets.fetch.body}}", "type": "json"}]},
            next="out"),
        reply("out", "kept {{flow.variables.answer | to_json}}"),
    ),
    "subflow_json": definition(
        widget("fetch", "make-http-request", {"method": "GET", "url": FETCH},
               success="pass", failed="pass"),
        widget("pass", "run-subflow", {"flow_sid": "child", "parameters": [
            {"key": "answer", "value": "{{widgets.fetch.body}}", "type": "json"}]},
            completed="out", failed="out"),
        reply("out", "passed {{widgets.pass.seen}}"),
    ),
    "child": {
        "description": "A subflow", "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
        "states": [
            {**trigger("tell"), "transitions": [
                {"event": "incomingMessage"}, {"event": "incomingCall"},
                {"event": "incomingRequest"}, {"event": "incomingParent", "next": "tell"}]},
            widget("tell", "set-variables", {"variables": [
                {"key": "seen", "value": "{{trigger.parent.parameters.answer | to_json}}"}]},
                next=None),
        ],
    },
    "arithmetic": definition(
        widget("fetch", "make-http-request", {"method": "GET", "url": FETCH},
               success="count", failed="count"),
        widget("count", "set-variables", {"variables": [
            {"key": "times", "value": "{{widgets.fetch.parsed.big | times: 10}}"},
            {"key": "as_json", "value": "{{widgets.fetch.parsed.big | times: 10 | to_json}}",
             "type": "json"},
            {"key": "list", "value": "[{{widgets.fetch.parsed.big | times: -10 | to_json}}, "
                                     "{{'nan' | plus: 0 | to_json}}]", "type": "json"},
        ]}, next="out"),
        reply("out", "{{flow.variables | to_json}}"),
    ),
}


@pytest.fixture(scope="module")
def flows() -> Iterator[dict[str, Flow]]:
    with serving(SERVICE) as url:
        text = json.dumps(DEFINITIONS).replace("http://SERVICE", url)
        yield {name: Flow(name, body, f"{name}.json") for name, body in json.loads(text).items()}


@pytest.fixture(scope="module")
def app(module_database_url: str, flows: dict[str, Flow]) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                            SWITCHBOARD_HANDLER_TIMEOUT="5")
    application.register_blueprint(studio_blueprint(flows))
    yield application
    application.extensions["switchboard"].store.close()


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def strict(value: Any) -> Any:
    """``value`` written as JSON and read back as ``JSON.parse`` reads it: ValueError for
    anything it would not take."""
    return json.loads(json.dumps(value, allow_nan=False), parse_constant=_refuse)


def text(twilio: Twilio, flow: str, body: str) -> tuple[list[str], executions.Execution,
                                                          list[dict[str, Any]]]:
    """What ``flow`` replies to a new contact texting ``body``, its execution and steps, each
    as stored, checked to be JSON ``JSON.parse`` reads."""
    contact = "+1555" + str(uuid.uuid4().int)[:7]
    root = twiml(twilio.post(f"/flows/{flow}", message_params(body, From=contact)))
    store = twilio.client.application.extensions["switchboard"].store
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == contact]
    steps = executions.list_steps(store, execution.sid)
    strict(execution.context)
    strict(execution.frames)
    for step in steps:
        strict(step["context"])
    return ["".join(message.itertext()) for message in root], execution, steps


@pytest.mark.parametrize("name", sorted(NOT_JSON))
@pytest.mark.parametrize("flow", ["http", "function"])
def test_an_answer_holding_what_json_has_not_has_no_parsed_and_keeps_its_body(
        twilio: Twilio, flow: str, name: str) -> None:
    replies, execution, _ = text(twilio, flow, name)
    assert replies == [f"[null] {BODIES[name]}"]
    fetched = execution.context["widgets"]["fetch"]
    assert "parsed" not in fetched
    assert fetched["body"] == BODIES[name]
    assert fetched["status_code"] == 200


@pytest.mark.parametrize("flow", ["http", "function"])
def test_an_answer_of_finite_numbers_is_parsed(twilio: Twilio, flow: str) -> None:
    replies, execution, _ = text(twilio, flow, "finite")
    assert replies == [f'[{{"a": 1.5e+300, "b": -0.0, "big": 1e+308}}] {BODIES["finite"]}']
    assert execution.context["widgets"]["fetch"]["parsed"]["a"] == 1.5e300


@pytest.mark.parametrize("name", sorted(NOT_JSON))
@pytest.mark.parametrize("flow", ["set_json", "subflow_json"])
def test_parse_as_json_refuses_what_json_has_not(twilio: Twilio, caplog: pytest.LogCaptureFixture,
                                                 flow: str, name: str) -> None:
    with caplog.at_level(logging.ERROR):
        replies, execution, _ = text(twilio, flow, name)
    assert replies == []
    assert execution.status == "ended"
    assert "answer" not in execution.context["flow"]["variables"]
    widget_name = "keep (set-variables)" if flow == "set_json" else "pass (run-subflow)"
    (line,) = [record.getMessage() for record in caplog.records
               if f"widget {widget_name}: variable 'answer' is not JSON" in record.getMessage()]
    assert "\n" not in line


def test_parse_as_json_keeps_finite_numbers(twilio: Twilio) -> None:
    replies, execution, _ = text(twilio, "set_json", "finite")
    assert replies == ['kept {"a": 1.5e+300, "b": -0.0, "big": 1e+308}']
    assert execution.context["flow"]["variables"]["answer"]["big"] == 1e308
    replies, _, _ = text(twilio, "subflow_json", "finite")
    assert replies == ['passed {"a": 1.5e+300, "b": -0.0, "big": 1e+308}']


def test_arithmetic_past_a_doubles_range_never_puts_infinity_in_the_context(
        twilio: Twilio) -> None:
    """``times`` past a double's range gives ``inf``: Set Variables keeps it as the text it
    renders, and ``to_json`` writes it (and NaN) as ``null``, as ``JSON.stringify`` does."""
    replies, execution, _ = text(twilio, "arithmetic", "finite")
    assert execution.context["flow"]["variables"] == {
        "times": "inf", "as_json": None, "list": [None, None]}
    assert replies == ['{"times": "inf", "as_json": null, "list": [null, null]}']
