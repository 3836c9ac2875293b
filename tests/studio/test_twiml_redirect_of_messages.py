"""A TwiML Redirect widget reached by a conversation (messages), on SQLite and PostgreSQL:
Switchboard hands calls only to other TwiML, so the widget takes its ``fail`` transition, and
an execution whose widget has none ends there."""

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


def state(name: str, kind: str, properties: dict[str, Any],
          **transitions: str | None) -> dict[str, Any]:
    return {
        "name": name, "type": kind,
        "transitions": [{"next": to, "event": event} if to else {"event": event}
                        for event, to in transitions.items()],
        "properties": {**properties, "offset": {"x": 0, "y": 100}},
    }


def definition(*states: dict[str, Any]) -> dict[str, Any]:
    trigger = state("Trigger", "trigger", {}, incomingMessage=states[0]["name"],
                    incomingCall=None, incomingRequest=None)
    return {"description": "A New Flow", "states": [trigger, *states],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}


REDIRECT = {"url": "https://example.com/sms-twiml", "method": "POST", "timeout": "60"}
REPLY = {"from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
         "body": "Could not redirect: {{widgets.away.error}}"}

DEFINITIONS = {
    "with_fail": definition(
        state("away", "add-twiml-redirect", REDIRECT,
              **{"return": None, "timeout": None, "fail": "sorry"}),
        state("sorry", "send-message", REPLY, sent=None, failed=None),
    ),
    "without_fail": definition(
        state("away", "add-twiml-redirect", REDIRECT,
              **{"return": None, "timeout": None, "fail": None}),
    ),
}
FLOWS = {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    application.register_blueprint(studio_blueprint(FLOWS))
    yield application
    application.extensions["switchboard"].store.close()


def text(twilio: Twilio, flow: str) -> tuple[str, Any]:
    number = "+1555" + str(uuid.uuid4().int)[:7]
    return number, twiml(twilio.post(f"/flows/{flow}", message_params("hi", From=number)))


def steps(store: Any, number: str) -> list[tuple[str, str, str]]:
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == number]
    assert execution.status == "ended"
    return [(s["name"], s["transitioned_from"], s["transitioned_to"])
            for s in executions.list_steps(store, execution.sid)]


def test_a_twiml_redirect_in_a_conversation_takes_fail(twilio, store):
    number, root = text(twilio, "with_fail")
    assert ["".join(message.itertext()) for message in root] == [
        "Could not redirect: a TwiML Redirect of a message is not available in Switchboard"]
    assert steps(store, number) == [("incomingMessage", "Trigger", "away"),
                                    ("fail", "away", "sorry"), ("sent", "sorry", "Ended")]


def test_without_a_fail_transition_the_execution_ends_there(twilio, store):
    number, root = text(twilio, "without_fail")
    assert len(root) == 0
    assert steps(store, number) == [("incomingMessage", "Trigger", "away"),
                                    ("fail", "away", "Ended")]
