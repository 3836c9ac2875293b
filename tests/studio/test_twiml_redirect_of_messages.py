"""A TwiML Redirect widget reached by a conversation (messages), through ``/flows/NAME`` on
SQLite and PostgreSQL: the answer's Messaging TwiML ends with the ``<Redirect>`` (after the
replies already in it); the other TwiML hands the conversation back with the message's
fields at the flow's URL with ``FlowEvent=return`` or at ``/step/WIDGET/return``, and the
execution goes on along ``return`` (its variables what that TwiML sent), ``timeout`` when it
came back late or not at all (the timers take it), or ``fail`` when no incoming message is
being answered."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from lxml import etree

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.runtime import fire_due_timeouts
from tests.server.conftest import Twilio, clean_app, message_params, twiml, verbs
from tests.studio import widget


class Clock:
    """Now, or a time the test set."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


class FakeMessages:
    def __init__(self, sent: list[dict[str, Any]]) -> None:
        self.sent = sent

    def create(self, to: str, **fields: Any) -> dict[str, Any]:
        self.sent.append({"to": to, **fields})
        return {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}


class FakeClient:
    """Records the messages that would go through the REST API."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.messages = FakeMessages(self.sent)
        self.timeout: Any = None

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def factory(self, settings: Any) -> FakeClient:
        return self


CLOCK = Clock()
REST = FakeClient()


def trigger(first: str) -> dict[str, Any]:
    return {"name": "Trigger", "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": first},
                            {"event": "incomingCall"}, {"event": "incomingRequest"}],
            "properties": {"offset": {"x": 0, "y": 0}}}


def definition(*states: dict[str, Any]) -> dict[str, Any]:
    return {"description": "A New Flow", "states": [trigger(states[0]["name"]), *states],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}


def send(name: str, body: str, after: str | None = None) -> dict[str, Any]:
    return widget(name, "send-message", {"from": "{{flow.channel.address}}",
                                         "to": "{{contact.channel.address}}", "body": body},
                  sent=after, failed=None)


def redirect(url: str, *, method: str = "GET", timeout: str = "60", back: str | None = "back",
             fail: str | None = "sorry") -> dict[str, Any]:
    return widget("away", "add-twiml-redirect",
                  {"url": url, "method": method, "timeout": timeout},
                  **{"return": back, "timeout": "late", "fail": fail})


ENDINGS = (
    send("back", "Back with {{widgets.away.answer}}."),
    send("late", "You took too long."),
    send("sorry", "Could not redirect: {{widgets.away.error}}"),
)
DEFINITIONS = {
    "away": definition(
        send("hello", "Hello {{trigger.message.Body}}.", after="away"),
        redirect("https://example.com/sms-twiml?from={{contact.channel.address}}"),
        *ENDINGS,
    ),
    "away_for_good": definition(
        send("hello", "Handing you over.", after="away"),
        redirect("https://example.com/elsewhere", method="POST", timeout="0", back=None),
        *ENDINGS,
    ),
    "after_a_question": definition(
        widget("ask", "send-and-wait-for-reply",
               {"from": "{{flow.channel.address}}", "body": "Still there?", "timeout": "60"},
               incomingMessage=None, timeout="away", deliveryFailure=None),
        redirect("https://example.com/sms-twiml"),
        *ENDINGS,
    ),
    "after_a_question_without_fail": definition(
        widget("ask", "send-and-wait-for-reply",
               {"from": "{{flow.channel.address}}", "body": "Still there?", "timeout": "60"},
               incomingMessage=None, timeout="away", deliveryFailure=None),
        redirect("https://example.com/sms-twiml", fail=None),
        *ENDINGS,
    ),
}


@pytest.fixture(scope="module")
def flows() -> dict[str, Flow]:
    return {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}


@pytest.fixture(scope="module")
def app(module_database_url: str, flows: dict[str, Flow]) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                            TWILIO_ACCOUNT_SID="AC" + "a" * 32)
    application.register_blueprint(
        studio_blueprint(flows, client_factory=REST.factory, clock=CLOCK))
    yield application
    application.extensions["switchboard"].store.close()


def timeouts_fired_later(app: Any, flows: Any, store: Any, seconds: float = 61) -> int:
    """The timers' round ``seconds`` from now (every wait of the tests' flows over by then):
    how many executions moved."""
    settings = app.extensions["switchboard"].settings
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(executions, "utcnow", lambda: due)
        return fire_due_timeouts(store, flows, settings=settings, client_factory=REST.factory)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    REST.sent.clear()
    CLOCK.at = None
    yield
    CLOCK.at = None


class Texter:
    """One contact texting a flow; ``message`` is the last message they sent."""

    def __init__(self, twilio: Twilio, flow: str) -> None:
        self.twilio = twilio
        self.flow = flow
        self.number = "+1555" + str(uuid.uuid4().int)[:7]
        self.message: dict[str, str] = {}

    def text(self, body: str, **extra: str) -> etree._Element:
        self.message = message_params(body, From=self.number, FromCity="OAKLAND", **extra)
        return twiml(self.twilio.post(f"/flows/{self.flow}", self.message))

    def back(self, path: str) -> Any:
        """Twilio following the other TwiML's ``<Redirect>`` to ``path`` with the message."""
        return self.twilio.post(path, self.message)


def bodies(root: etree._Element) -> list[str]:
    return ["".join(message.itertext()) for message in root.iter("Message")]


def executions_of(store: Any, texter: Texter) -> list[executions.Execution]:
    return sorted((e for e in executions.list_executions(store)
                   if e.contact_channel_address == texter.number),
                  key=lambda e: e.date_created)


def steps(store: Any, execution: executions.Execution) -> list[tuple[str, str, str]]:
    return [(s["name"], s["transitioned_from"], s["transitioned_to"])
            for s in executions.list_steps(store, execution.sid)]


def test_the_answer_redirects_after_the_replies_and_the_execution_waits(twilio, store):
    texter = Texter(twilio, "away")
    root = texter.text("there")
    assert verbs(root) == ["Message", "Redirect"]
    assert bodies(root) == ["Hello there."]
    assert root.find("Redirect").text == f"https://example.com/sms-twiml?from={texter.number}"
    assert root.find("Redirect").get("method") == "GET"
    (execution,) = executions_of(store, texter)
    assert (execution.status, execution.widget, execution.waiting_for) == (
        "active", "away", "return")
    assert execution.wait_until is not None
    assert REST.sent == []


def test_the_return_at_the_flow_url_takes_return_with_what_the_twiml_sent(twilio, store):
    texter = Texter(twilio, "away")
    texter.text("there", NumMedia="1", MediaUrl0="https://example.com/cat.png",
                MediaContentType0="image/png")
    root = twiml(texter.back("/flows/away?FlowEvent=return&answer=yes&ToCity=OAKLAND"))
    assert bodies(root) == ["Back with yes."]
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert execution.context["widgets"]["away"] == {"answer": "yes"}
    assert steps(store, execution) == [
        ("incomingMessage", "Trigger", "hello"), ("sent", "hello", "away"),
        ("return", "away", "back"), ("sent", "back", "Ended")]


def test_the_return_at_the_widget_step_url_by_get(twilio, store):
    texter = Texter(twilio, "away")
    texter.text("there")
    root = twiml(twilio.get("/flows/away/step/away/return", {**texter.message,
                                                             "answer": "maybe"}))
    assert bodies(root) == ["Back with maybe."]
    assert executions_of(store, texter)[0].status == "ended"


def test_a_return_after_the_timeout_takes_timeout(twilio, store):
    texter = Texter(twilio, "away")
    texter.text("there")
    CLOCK.at = datetime.now(UTC) + timedelta(seconds=61)
    assert bodies(twiml(texter.back("/flows/away?FlowEvent=return"))) == ["You took too long."]
    (execution,) = executions_of(store, texter)
    assert steps(store, execution)[-2:] == [("timeout", "away", "late"),
                                            ("sent", "late", "Ended")]


def test_the_timers_take_timeout_when_the_conversation_never_comes_back(app, flows, twilio,
                                                                       store):
    texter = Texter(twilio, "away")
    texter.text("there")
    assert timeouts_fired_later(app, flows, store) >= 1
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert steps(store, execution)[-2:] == [("timeout", "away", "late"),
                                            ("sent", "late", "Ended")]
    assert {"to": texter.number, "body": "You took too long."}.items() <= next(
        sent for sent in REST.sent if sent["to"] == texter.number).items()
    assert len(twiml(texter.back("/flows/away?FlowEvent=return"))) == 0


def test_timeout_0_ends_the_execution_at_the_redirect(twilio, store):
    texter = Texter(twilio, "away_for_good")
    root = texter.text("hi")
    assert verbs(root) == ["Message", "Redirect"]
    assert (root.find("Redirect").text, root.find("Redirect").get("method")) == (
        "https://example.com/elsewhere", "POST")
    (execution,) = executions_of(store, texter)
    assert (execution.status, execution.wait_until) == ("ended", None)
    assert steps(store, execution)[-1] == ("redirected", "away", "Ended")


def test_a_return_that_finds_no_waiting_execution_is_answered_with_nothing(twilio, store,
                                                                          caplog):
    texter = Texter(twilio, "away")
    texter.message = message_params("stray", From=texter.number)
    with caplog.at_level(logging.WARNING, "switchboard.callbacks.studio"):
        root = twiml(texter.back("/flows/away?FlowEvent=return&answer=yes"))
        assert len(root) == 0
        assert len(twiml(texter.back("/flows/away/step/away/return"))) == 0
    assert executions_of(store, texter) == []
    assert "no execution of its sender waits for it" in caplog.text


def test_a_return_to_another_widget_or_event_is_not_taken(twilio, store):
    texter = Texter(twilio, "away")
    texter.text("there")
    assert len(twiml(texter.back("/flows/away/step/hello/return"))) == 0
    assert len(twiml(texter.back("/flows/away/step/away/timeout"))) == 0
    (execution,) = executions_of(store, texter)
    assert (execution.status, execution.waiting_for) == ("active", "return")


def test_a_new_message_while_the_redirect_waits_starts_a_new_execution(twilio, store):
    texter = Texter(twilio, "away")
    texter.text("there")
    root = texter.text("again")
    assert bodies(root) == ["Hello again."]
    first, second = executions_of(store, texter)
    assert first.status == "ended"
    assert (second.status, second.waiting_for) == ("active", "return")


def test_a_new_message_after_the_timeout_takes_timeout_first(twilio, store):
    texter = Texter(twilio, "away")
    texter.text("there")
    CLOCK.at = datetime.now(UTC) + timedelta(seconds=61)
    root = texter.text("again")
    assert verbs(root) == ["Message", "Message", "Redirect"]
    assert bodies(root) == ["You took too long.", "Hello again."]
    first, second = executions_of(store, texter)
    assert steps(store, first)[-2:] == [("timeout", "away", "late"), ("sent", "late", "Ended")]
    assert (second.status, second.waiting_for) == ("active", "return")


def test_a_late_reply_whose_timeout_leads_to_the_redirect_is_handed_over(twilio, store):
    texter = Texter(twilio, "after_a_question")
    assert bodies(texter.text("hi")) == ["Still there?"]
    CLOCK.at = datetime.now(UTC) + timedelta(seconds=61)
    root = texter.text("sorry, I was away")
    assert verbs(root) == ["Redirect"]
    (execution,) = executions_of(store, texter)
    assert (execution.status, execution.widget, execution.waiting_for) == (
        "active", "away", "return")
    CLOCK.at = None
    assert bodies(twiml(texter.back("/flows/after_a_question?FlowEvent=return&answer=ok"))) == [
        "Back with ok."]


def test_the_return_is_signed_like_any_webhook(twilio, store):
    texter = Texter(twilio, "away")
    texter.text("there")
    refused = texter.twilio.request("/flows/away?FlowEvent=return", texter.message,
                                    signed=False)
    assert refused.status_code == 403
    assert executions_of(store, texter)[0].waiting_for == "return"


def test_with_no_message_to_answer_it_takes_fail(app, flows, twilio, store):
    """A Send & Wait For Reply's timeout taken by the timers leads to the TwiML Redirect: no
    webhook is being answered, so nothing can redirect the conversation."""
    texter = Texter(twilio, "after_a_question")
    texter.text("hi")
    timeouts_fired_later(app, flows, store)
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert steps(store, execution)[-3:] == [("timeout", "ask", "away"),
                                            ("fail", "away", "sorry"),
                                            ("sent", "sorry", "Ended")]
    error = execution.context["widgets"]["away"]["error"]
    assert error.startswith("no incoming message to answer")
    assert [sent["body"] for sent in REST.sent if sent["to"] == texter.number] == [
        f"Could not redirect: {error}"]


def test_without_a_fail_transition_the_execution_ends_there(app, flows, twilio, store):
    texter = Texter(twilio, "after_a_question_without_fail")
    texter.text("hi")
    timeouts_fired_later(app, flows, store)
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert steps(store, execution)[-1] == ("fail", "away", "Ended")
    assert [sent for sent in REST.sent if sent["to"] == texter.number] == []

