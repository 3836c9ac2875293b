"""A conversation handed to other TwiML and back, on real sockets: the emulator texts a number
whose Messaging URL is ``/flows/NAME`` of the real app (on SQLite, then PostgreSQL); the flow
replies and redirects to a small TwiML server of its own on 127.0.0.1, which sends a message
and redirects back to the flow with ``FlowEvent=return``; the flow goes on and sends its last
message. The emulator requests each ``<Redirect>`` as Twilio does: signed, with the message's
fields, by the method given."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import flask
import pytest

from switchboard.callbacks.security import verify_flask_request
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.emulator.stack import SwitchboardStack
from tests.conftest import serving
from tests.studio import widget

TEXTER = "+15555550142"


@dataclass
class OtherTwiML:
    """A TwiML server that is not the flow: it answers, then hands the conversation back to
    ``flow_url``; every request is kept with whether its signature was valid."""

    auth_token: str = ""
    flow_url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> flask.Flask:
        app = flask.Flask("other_twiml")

        @app.route("/survey", methods=["GET", "POST"])
        def survey() -> Any:
            request = flask.request
            with self.lock:
                self.seen.append({
                    "method": request.method, "args": request.args.to_dict(),
                    "form": request.form.to_dict(),
                    "signed": verify_flask_request(request, self.auth_token),
                })
            back = escape(f"{self.flow_url}?FlowEvent=return&choice=blue")
            body = escape(f"The survey got '{request.values['Body']}' from "
                          f"{request.values['From']}.")
            document = (f'<?xml version="1.0" encoding="UTF-8"?><Response>'
                        f"<Message>{body}</Message>"
                        f'<Redirect method="POST">{back}</Redirect></Response>')
            return document, 200, {"Content-Type": "text/xml"}

        return app


def flow(survey_url: str) -> dict[str, Any]:
    def send(name: str, body: str, after: str | None = None) -> dict[str, Any]:
        return widget(name, "send-message", {"from": "{{flow.channel.address}}",
                                             "to": "{{contact.channel.address}}", "body": body},
                      sent=after, failed=None)

    return {
        "description": "Hands the conversation to a survey, which hands it back",
        "states": [
            widget("Trigger", "trigger", {}, incomingMessage="hello", incomingCall=None,
                   incomingRequest=None),
            send("hello", "Hello from the flow.", after="away"),
            widget("away", "add-twiml-redirect",
                   {"url": survey_url, "method": "GET", "timeout": "600"},
                   **{"return": "bye", "timeout": None, "fail": "sorry"}),
            send("bye", "Back in the flow with {{widgets.away.choice}}."),
            send("sorry", "No survey: {{widgets.away.error}}"),
        ],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    }


@dataclass
class House:
    stack: SwitchboardStack
    other: OtherTwiML
    number: str


@pytest.fixture
def house(database_url: str) -> Iterator[House]:
    stack = SwitchboardStack(database_url=database_url, config={"BUNDLED_FLOWS": False,
                                                                 "STUDIO_FLOWS": False}).start()
    other = OtherTwiML(auth_token=stack.emulator.auth_token,
                       flow_url=f"{stack.url}/flows/redirecting")
    client = stack.client()
    try:
        with serving(other.app()) as other_url:
            tag = "{{contact.channel.address | url_encode}}"
            definition = flow(f"{other_url}/survey?tag={tag}")
            stack.app.register_blueprint(studio_blueprint(
                {"redirecting": Flow("redirecting", definition, "redirecting.json")}))
            bought = client.incoming_phone_numbers.create(
                area_code="415", sms_url=f"{stack.url}/flows/redirecting")
            yield House(stack, other, bought["phone_number"])
    finally:
        client.close()
        stack.stop()


def test_a_conversation_goes_to_other_twiml_and_comes_back(house: House) -> None:
    phone = house.stack.emulator.phone
    transcript = phone.inbound_sms(house.number, TEXTER, "hi")
    assert house.stack.wait_idle(20)
    assert transcript.error_codes == []
    assert [m["body"] for m in transcript.messages] == [
        "Hello from the flow.",
        f"The survey got 'hi' from {TEXTER}.",
        "Back in the flow with blue.",
    ]
    assert [(r.purpose, r.method) for r in transcript.requests] == [
        ("sms", "POST"), ("sms-redirect", "GET"), ("sms-redirect", "POST")]

    (seen,) = house.other.seen
    assert seen["method"] == "GET"
    assert seen["signed"]
    assert seen["args"]["tag"] == TEXTER
    assert (seen["args"]["Body"], seen["args"]["From"], seen["args"]["To"]) == (
        "hi", TEXTER, house.number)
    assert seen["args"]["MessageSid"] == transcript.sid

    (execution,) = executions.list_executions(house.stack.store)
    assert execution.status == "ended"
    assert execution.context["widgets"]["away"] == {"choice": "blue"}
    assert [(s["name"], s["transitioned_from"], s["transitioned_to"])
            for s in executions.list_steps(house.stack.store, execution.sid)] == [
        ("incomingMessage", "Trigger", "hello"), ("sent", "hello", "away"),
        ("return", "away", "bye"), ("sent", "bye", "Ended")]
