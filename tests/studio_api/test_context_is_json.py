"""The Studio API's answers are JSON that JavaScript's ``JSON.parse`` reads (SQLite, then
PostgreSQL): ``Parameters`` holding ``NaN``, ``Infinity``, ``-Infinity`` or a number past a
double's range is refused with 20001, and an execution whose web service answered with one
has an Execution Context and Step Contexts with no such value in them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import flask
import pytest

from switchboard.callbacks.studio import executions as store
from tests.conftest import serving
from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, House, definition, trigger, widget

SERVICE = flask.Flask("constants_service")


@SERVICE.route("/answer")
def answer() -> Any:
    return '{"total": NaN, "items": [Infinity, -Infinity], "big": 1e308}', 200, {
        "Content-Type": "application/json"}


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def parse(text: str) -> Any:
    """``text`` read as ``JSON.parse`` reads it."""
    return json.loads(text, parse_constant=_refuse)


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    with serving(SERVICE) as url:
        yield url


@pytest.mark.parametrize("parameters", [
    '{"total": NaN}', '{"total": Infinity}', '{"items": [1, {"x": -Infinity}]}',
    '{"total": 1e400}', '{"total": -1E+400}',
])
def test_parameters_holding_a_number_json_has_not_are_refused(house: House,
                                                              parameters: str) -> None:
    flow = house.studio.studio.v2.flows.create(
        friendly_name="Constants", status="published",
        definition=definition(trigger(request_to=None)))
    answer = house.raw("POST", f"/v2/Flows/{flow.sid}/Executions",
                       data={"To": CONTACT, "From": FLOW_NUMBER, "Parameters": parameters})
    assert (answer.status_code, answer.json()["code"]) == (400, 20001)
    assert answer.json()["message"].startswith("Parameters ")
    assert store.list_executions(house.stack.store) == []


def test_an_answer_holding_nan_leaves_the_contexts_valid_json(house: House,
                                                             service: str) -> None:
    flow = house.studio.studio.v2.flows.create(
        friendly_name="Fetch", status="published", definition=definition(
            trigger(request_to="fetch"),
            widget("fetch", "make-http-request", {"method": "GET", "url": service + "/answer",
                                                   "content_type": "application/json"},
                   success="count", failed="count"),
            widget("count", "set-variables", {"variables": [
                {"key": "body", "value": "{{widgets.fetch.body}}"},
                {"key": "times", "value": "{{ '1e308' | times: 10 }}"},
                {"key": "json", "value": "{{ 'inf' | plus: 0 | to_json }}", "type": "json"},
            ]}, next=None)))
    started = house.raw("POST", f"/v2/Flows/{flow.sid}/Executions",
                        data={"To": CONTACT, "From": FLOW_NUMBER})
    assert started.status_code == 201, started.text
    runs = f"/v2/Flows/{flow.sid}/Executions"
    execution = parse(started.text)["sid"]
    assert parse(house.raw("GET", f"{runs}/{execution}").text)["status"] == "ended"

    context = parse(house.raw("GET", f"{runs}/{execution}/Context").text)["context"]
    fetched = context["widgets"]["fetch"]
    assert "parsed" not in fetched
    assert fetched["body"].startswith('{"total": NaN')
    assert context["flow"]["variables"]["times"] == "inf"
    assert context["flow"]["variables"]["json"] is None
    steps = parse(house.raw("GET", f"{runs}/{execution}/Steps").text)["steps"]
    assert [step["transitioned_from"] for step in reversed(steps)] == [
        "Trigger", "fetch", "count"]
    for step in steps:
        parse(house.raw("GET", f"{runs}/{execution}/Steps/{step['sid']}/Context").text)
