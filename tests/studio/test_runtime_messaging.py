"""The message widgets and the widgets that work in any channel, run by the runtime through
``/flows/NAME`` on SQLite and PostgreSQL: replies, messages through the REST API, waiting for
a reply and its timeout, HTTP requests and functions, variables, subflows, and the timer that
takes due timeouts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
from flask import Flask

from switchboard.callbacks.security import verify_flask_request
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.runtime import fire_due_timeouts
from tests.conftest import serving
from tests.server.conftest import (
    NUMBER,
    TOKEN,
    Twilio,
    call_params,
    clean_app,
    message_params,
    twiml,
)
from tests.studio import widget

# -- a web service for the HTTP widgets ---------------------------------------------------------

SERVICE = flask.Flask("service")
SEEN: list[dict[str, Any]] = []


@SERVICE.route("/echo", methods=["GET", "POST", "PUT", "DELETE"])
def echo() -> Any:
    SEEN.append({"method": flask.request.method, "args": dict(flask.request.args),
                 "form": dict(flask.request.form), "data": flask.request.get_data(as_text=True),
                 "type": flask.request.content_type,
                 "auth": flask.request.authorization.username
                 if flask.request.authorization else None})
    return {"ok": True, "name": "Ada", "items": [1, 2], "method": flask.request.method}


@SERVICE.route("/text")
def plain() -> Any:
    return "just text", 200, {"Content-Type": "text/plain"}


@SERVICE.route("/cafe")
def cafe() -> Any:
    """UTF-8 text of a type whose charset is not named, or the charset ``charset`` names."""
    charset = flask.request.args.get("charset")
    response = flask.Response("Café «Ada»".encode(charset or "utf-8"))
    response.headers["Content-Type"] = "text/plain" + (f"; charset={charset}" if charset else "")
    return response


@SERVICE.route("/broken", methods=["GET", "POST"])
def broken() -> Any:
    return {"error": "down"}, 503


@SERVICE.route("/slow")
def slow() -> Any:
    time.sleep(float(flask.request.args.get("for", "2")))
    return {"late": True}


@SERVICE.route("/protected", methods=["POST"])
def protected() -> Any:
    """A protected Function: a request without Twilio's valid signature is refused."""
    if not verify_flask_request(flask.request, TOKEN):
        return {"error": "invalid signature"}, 403
    SEEN.append({"form": flask.request.form.to_dict(flat=False),
                 "signature": flask.request.headers.get("X-Twilio-Signature")})
    return {"who": flask.request.form["who"], "tenant": flask.request.args["tenant"]}


@SERVICE.route("/array", methods=["GET", "POST"])
def array() -> Any:
    return flask.jsonify([{"name": "Ada"}])


@SERVICE.route("/json_as_text", methods=["GET", "POST"])
def json_as_text() -> Any:
    return '{"name": "Ada"}', 200, {"Content-Type": "text/plain"}


@SERVICE.route("/big")
def big() -> Any:
    """A JSON object of ``size`` bytes."""
    size = int(flask.request.args["size"])
    return '{"x": "' + "a" * (size - 9) + '"}', 200, {"Content-Type": "application/json"}


# -- a REST client standing in for Twilio's -------------------------------------------------------


class FakeMessages:
    def __init__(self, client: FakeClient) -> None:
        self.client = client

    def create(self, to: str, **fields: Any) -> dict[str, Any]:
        if self.client.fail:
            raise RuntimeError("Twilio said no (21211)")
        self.client.sent.append({"to": to, **fields})
        return {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}


class FakeClient:
    """Records what would go through the REST API."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = False
        self.available = True
        self.messages = FakeMessages(self)
        self.timeout: Any = None

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def factory(self, settings: Any) -> FakeClient | None:
        return self if self.available else None


class Clock:
    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


REST = FakeClient()
CLOCK = Clock()

# -- flows ----------------------------------------------------------------------------------------


def trigger(first: str | None, event: str = "incomingMessage") -> dict[str, Any]:
    transitions = [{"event": "incomingMessage"}, {"event": "incomingCall"},
                   {"event": "incomingRequest"}, {"event": "incomingParent"}]
    for item in transitions:
        if item["event"] == event and first:
            item["next"] = first
    return {"name": "Trigger", "type": "trigger", "transitions": transitions,
            "properties": {"offset": {"x": 0, "y": 0}}}


def definition(*states: dict[str, Any], event: str = "incomingMessage") -> dict[str, Any]:
    return {"description": "A New Flow", "states": [trigger(states[0]["name"], event), *states],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}


def send(name: str, body: str, after: str | None = None, **properties: Any) -> dict[str, Any]:
    return send_or(name, body, sent=after, failed=None, **properties)


def send_or(name: str, body: str, sent: str | None, failed: str | None,
            **properties: Any) -> dict[str, Any]:
    return widget(name, "send-message", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}", "body": body,
        **properties,
    }, sent=sent, failed=failed)


def ask(name: str, body: str, reply: str | None, timeout: str | None = None,
        failure: str | None = None, seconds: str = "3600") -> dict[str, Any]:
    return widget(name, "send-and-wait-for-reply", {
        "from": "{{flow.channel.address}}", "body": body, "timeout": seconds,
    }, incomingMessage=reply, timeout=timeout, deliveryFailure=failure)


def http(name: str, success: str | None, failed: str | None, **properties: Any
         ) -> dict[str, Any]:
    return widget(name, "make-http-request", properties, success=success, failed=failed)


DEFINITIONS: dict[str, dict[str, Any]] = {
    "reply": definition(
        send("hello", "Hello {{contact.channel.address}}, you said "
                      "{{trigger.message.Body}} to {{flow.channel.address}}.", after="media"),
        send("media", "A picture", media_url="https://example.com/{{trigger.message.Body}}.png"),
    ),
    "elsewhere": definition(
        send_or("notify", "{{contact.channel.address}} wrote: {{trigger.message.Body}}",
                sent="ok", failed="ko", to="+15550009999"),
        send("ok", "We told the team."),
        send("ko", "We could not tell the team: {{widgets.notify.error}}"),
    ),
    "service": definition(
        send_or("by_service", "Via a service", sent=None, failed=None,
                **{"from": "MG" + "2" * 32}),
    ),
    "survey": definition(
        ask("name", "What is your name?", reply="color", timeout="gone", failure="undelivered"),
        ask("color", "Hi {{widgets.name.inbound.Body}}, favourite color?", reply="thanks",
            timeout="gone"),
        send("thanks", "{{widgets.name.inbound.Body}} likes {{widgets.color.incoming.Body}}."),
        send("gone", "You did not answer in time."),
        widget("undelivered", "set-variables", {"variables": [
            {"key": "failed", "value": "{{widgets.name.outbound.ErrorCode}}"}]}, next="note"),
        send_or("note", "Delivery failed.", sent=None, failed=None, to="+15550008888"),
    ),
    "quick": definition(
        ask("question", "Reply within a minute.", reply="answered", timeout="late",
            seconds="60"),
        send("answered", "Got {{widgets.question.inbound.Body}}."),
        send("late", "Too late."),
    ),
    "during_call": definition(
        ask("question", "Text me.", reply=None, failure="spoken"),
        widget("spoken", "say-play", {"say": "Texting only works in a conversation."},
               audioComplete=None),
        event="incomingCall",
    ),
    "sms_to_caller": definition(
        send_or("text", "Here is our address.", sent="said", failed="said"),
        widget("said", "say-play", {"say": "Sent: {{widgets.text.error | default: 'ok'}}."},
               audioComplete=None),
        event="incomingCall",
    ),
    "variables": definition(
        widget("set", "set-variables", {"variables": [
            {"key": "first", "value": "{{trigger.message.Body | upcase}}"},
            {"key": "both", "value": "{{flow.variables.first}}-{{flow.variables.first}}"},
            {"key": "data", "value": '{"n": 2}', "type": "json"},
        ]}, next="out"),
        send("out", "{{flow.variables.both}} {{flow.variables.data.n}} "
                    "{{flow.variables | to_json}}"),
    ),
    "json_variables": definition(
        http("fetch", "keep", "keep", method="GET", url="http://SERVICE/echo"),
        widget("keep", "set-variables", {"variables": [
            {"key": "order", "value": "{{widgets.fetch.parsed}}", "type": "json"},
            {"key": "items", "value": " {{ widgets.fetch.parsed.items }} ", "type": "json"},
        ]}, next="pass"),
        widget("pass", "run-subflow", {"flow_sid": "json_child", "parameters": [
            {"key": "order", "value": "{{flow.variables.order}}", "type": "json"},
        ]}, completed="out", failed="out"),
        send("out", "{{flow.variables.order.name}} {{flow.variables.items[1]}} "
                    "{{widgets.pass.method}}"),
    ),
    "json_child": {
        "description": "A subflow given an object",
        "states": [
            trigger("tell", "incomingParent"),
            widget("tell", "set-variables", {"variables": [
                {"key": "method", "value": "{{trigger.parent.parameters.order.method}}"}]},
                next=None),
        ],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    },
    "http_get": definition(
        http("fetch", "ok", "ko", method="GET", url="http://SERVICE/echo",
             content_type="application/x-www-form-urlencoded;charset=utf-8",
             parameters=[{"key": "from", "value": "{{contact.channel.address}}"},
                         {"key": "body", "value": "{{trigger.message.Body}}"}]),
        send("ok", "{{widgets.fetch.status_code}} {{widgets.fetch.parsed.name}} "
                   "{{widgets.fetch.parsed.items[1]}} {{widgets.fetch.parsed.method}}"),
        send("ko", "failed {{widgets.fetch.status_code}} {{widgets.fetch.error}}"),
    ),
    "http_form": definition(
        http("post", "ok", "ko", method="POST", url="http://SERVICE/echo",
             content_type="application/x-www-form-urlencoded;charset=utf-8",
             add_twilio_auth=True,
             parameters=[{"key": "Body", "value": "{{trigger.message.Body}}"}]),
        send("ok", "posted {{widgets.post.parsed.ok}}"),
        send("ko", "failed"),
    ),
    "http_form_body": definition(
        http("post", "ok", "ko", method="POST", url="http://SERVICE/echo",
             content_type="application/x-www-form-urlencoded",
             body="Body={{trigger.message.Body | url_encode}}&x=1"),
        send("ok", "posted {{widgets.post.parsed.ok}}"),
        send("ko", "failed"),
    ),
    "http_json": definition(
        http("post", "ok", "ko", method="POST", url="http://SERVICE/echo",
             content_type="application/json;charset=utf-8",
             body='{"from": "{{contact.channel.address}}", "said": {{trigger.message.Body | '
                  'to_json}}}'),
        send("ok", "json {{widgets.post.parsed.ok}}"),
        send("ko", "failed"),
    ),
    "http_text": definition(
        http("fetch", "ok", "ko", method="GET", url="http://SERVICE/text"),
        send("ok", "[{{widgets.fetch.body}}] [{{widgets.fetch.parsed}}] "
                   "[{{widgets.fetch.content_type}}]"),
        send("ko", "failed"),
    ),
    "http_charset": definition(
        http("fetch", "ok", "ko", method="GET", url="http://SERVICE/cafe",
             parameters=[{"key": "charset", "value": "{{trigger.message.Body}}"}]),
        send("ok", "{{widgets.fetch.body}} [{{widgets.fetch.content_type}}]"),
        send("ko", "failed"),
    ),
    "http_broken": definition(
        http("fetch", "ok", "ko", method="POST", url="http://SERVICE/broken"),
        send("ok", "ok"),
        send("ko", "failed {{widgets.fetch.status_code}} {{widgets.fetch.parsed.error}}"),
    ),
    "http_bad_url": definition(
        http("fetch", "ok", "ko", method="GET", url="ftp://example.com/file"),
        send("ok", "ok"),
        send("ko", "failed: {{widgets.fetch.error}}"),
    ),
    "http_slow": definition(
        http("fetch", "ok", "ko", method="GET", url="http://SERVICE/slow?for=3"),
        send("ok", "ok"),
        send("ko", "failed: {{widgets.fetch.error}}"),
    ),
    "function": definition(
        widget("fn", "run-function", {
            "url": "http://SERVICE/echo", "service_sid": "ZS1", "environment_sid": "ZE1",
            "function_sid": "ZH1",
            "parameters": [{"key": "who", "value": "{{contact.channel.address}}"}],
        }, success="ok", fail="ko"),
        send("ok", "function said {{widgets.fn.parsed.name}}"),
        send("ko", "function failed"),
    ),
    "function_broken": definition(
        widget("fn", "run-function", {"url": "http://SERVICE/broken"},
               success="ok", fail="ko"),
        send("ok", "function said ok"),
        send("ko", "function failed {{widgets.fn.status_code}}"),
    ),
    "function_protected": definition(
        widget("fn", "run-function", {
            "url": "http://SERVICE/protected?tenant=acme",
            "parameters": [{"key": "who", "value": "{{contact.channel.address}}"},
                           {"key": "said", "value": "{{trigger.message.Body}}"},
                           {"key": "said", "value": "again"}],
        }, success="ok", fail="ko"),
        send("ok", "function said {{widgets.fn.parsed.who}} of {{widgets.fn.parsed.tenant}}"),
        send("ko", "function failed {{widgets.fn.status_code}}"),
    ),
    "http_parsed": definition(
        http("fetch", "ok", "ko", method="GET", url="http://SERVICE/{{trigger.message.Body}}"),
        send("ok", "[{{widgets.fetch.parsed | to_json}}] {{widgets.fetch.body | size}}"),
        send("ko", "failed: {{widgets.fetch.error}}"),
    ),
    "http_big": definition(
        http("fetch", "ok", "ko", method="GET", url="http://SERVICE/big",
             parameters=[{"key": "size", "value": "{{trigger.message.Body}}"}]),
        send("ok", "{{widgets.fetch.body | size}} {{widgets.fetch.parsed.x | size}}"),
        send("ko", "failed: {{widgets.fetch.error}}"),
    ),
    "function_parsed": definition(
        widget("fn", "run-function", {"url": "http://SERVICE/{{trigger.message.Body}}"},
               success="ok", fail="ko"),
        send("ok", "[{{widgets.fn.parsed | to_json}}] {{widgets.fn.body | size}}"),
        send("ko", "failed: {{widgets.fn.error}}"),
    ),
    "slow_survey": definition(
        http("fetch", "name", "name", method="GET", url="http://SERVICE/slow?for=0.5"),
        ask("name", "What is your name?", reply="color"),
        ask("color", "Favourite color?", reply=None),
    ),
    "parent": definition(
        widget("sub", "run-subflow", {
            "flow_sid": "child", "flow_revision": "LatestPublished",
            "parameters": [{"key": "name", "value": "{{trigger.message.Body}}"}],
        }, completed="after", failed="failed"),
        send("after", "Parent: {{widgets.sub.greeting}} / {{flow.variables.mine}}"),
        send("failed", "Subflow failed: {{widgets.sub.error}}"),
    ),
    "child": {
        "description": "A subflow",
        "states": [
            trigger("hello", "incomingParent"),
            send("hello", "Child greets {{trigger.parent.parameters.name}} "
                          "({{contact.channel.address}}, {{flow.data.name}})", after="set"),
            widget("set", "set-variables", {"variables": [
                {"key": "greeting", "value": "hello {{trigger.parent.parameters.name}}"}]},
                next=None),
        ],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    },
    "parent_of_broken": definition(
        widget("sub", "run-subflow", {"flow_sid": "broken_child"},
               completed="after", failed="failed"),
        send("after", "completed"),
        send("failed", "Subflow failed."),
    ),
    "broken_child": {
        "description": "A subflow that fails",
        "states": [
            trigger("oops", "incomingParent"),
            widget("oops", "say-play", {"say": "A call only widget"}, audioComplete=None),
        ],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    },
    "parent_of_nothing": definition(
        widget("sub", "run-subflow", {"flow_sid": "FW" + "9" * 32},
               completed="after", failed="failed"),
        send("after", "completed"),
        send("failed", "No such subflow: {{widgets.sub.error}}"),
    ),
    "autopilot": definition(
        widget("bot", "send-to-auto-pilot", {"autopilot_assistant_sid": "UA1"},
               sessionEnded=None, failure="fallback", timeout=None),
        send("fallback", "No bot here."),
    ),
    "virtual": definition(
        widget("agent", "connect-virtual-agent", {"connector": "x"}, hangup=None),
    ),
}


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    with serving(SERVICE) as url:
        yield url


@pytest.fixture(scope="module")
def flows(service: str) -> dict[str, Flow]:
    """The flows, their ``http://SERVICE`` the test service's address."""
    text = json.dumps(DEFINITIONS).replace("http://SERVICE", service)
    return {name: Flow(name, body, f"{name}.json") for name, body in json.loads(text).items()}



@pytest.fixture(scope="module")
def app(module_database_url: str, flows: dict[str, Flow]) -> Iterator[Flask]:
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                            TWILIO_ACCOUNT_SID="AC" + "a" * 32,
                            SWITCHBOARD_HANDLER_TIMEOUT="3")
    application.register_blueprint(
        studio_blueprint(flows, client_factory=REST.factory, clock=CLOCK))
    yield application
    application.extensions["switchboard"].store.close()




@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    REST.sent.clear()
    REST.fail, REST.available = False, True
    CLOCK.at = None
    SEEN.clear()
    yield
    CLOCK.at = None


class Texter:
    """One contact texting a flow."""

    def __init__(self, twilio: Twilio, flow: str) -> None:
        self.twilio = twilio
        self.flow = flow
        self.number = "+1555" + str(uuid.uuid4().int)[:7]

    def text(self, body: str, **extra: str) -> Any:
        return twiml(self.twilio.post(f"/flows/{self.flow}",
                                      message_params(body, From=self.number, **extra)))

    def replies(self, body: str, **extra: str) -> list[str]:
        return ["".join(message.itertext()) for message in self.text(body, **extra)]


def executions_of(store: Any, texter: Texter) -> list[executions.Execution]:
    return [e for e in executions.list_executions(store)
            if e.contact_channel_address == texter.number]


# -- Send Message -------------------------------------------------------------------------------


def test_send_message_replies_in_the_twiml_with_liquid_and_media(twilio, store):
    texter = Texter(twilio, "reply")
    root = texter.text("cats")
    first, second = root.findall("Message")
    assert "".join(first.itertext()) == f"Hello {texter.number}, you said cats to {NUMBER}."
    assert (first.get("to"), first.get("from")) == (None, None)
    assert second.find("Body").text == "A picture"
    assert second.find("Media").text == "https://example.com/cats.png"
    assert REST.sent == []
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert [s["name"] for s in executions.list_steps(store, execution.sid)] == [
        "incomingMessage", "sent", "sent"]


def test_send_message_to_someone_else_goes_through_the_rest_api(twilio):
    texter = Texter(twilio, "elsewhere")
    assert texter.replies("help!") == ["We told the team."]
    assert REST.sent == [{"to": "+15550009999", "body": f"{texter.number} wrote: help!",
                          "media_url": None, "status_callback": None, "from_": NUMBER}]


def test_send_message_fails_without_a_rest_client_or_when_twilio_refuses(twilio, caplog):
    REST.available = False
    (reply,) = Texter(twilio, "elsewhere").replies("help!")
    assert reply.startswith("We could not tell the team: no Twilio account is configured")
    assert "TWILIO_ACCOUNT_SID" in caplog.text
    REST.available, REST.fail = True, True
    (reply,) = Texter(twilio, "elsewhere").replies("help!")
    assert reply == "We could not tell the team: RuntimeError: Twilio said no (21211)"


def test_send_message_from_a_messaging_service(twilio):
    assert Texter(twilio, "service").replies("x") == []
    assert REST.sent[0]["messaging_service_sid"] == "MG" + "2" * 32


def test_send_message_during_a_call_texts_the_caller(twilio):
    params = call_params(From="+15551112222")
    root = twiml(twilio.post("/flows/sms_to_caller", params))
    assert "".join(root.find("Say").itertext()) == "Sent: ok."
    assert REST.sent[0]["to"] == "+15551112222"
    assert REST.sent[0]["from_"] == params["To"]


# -- Send & Wait For Reply ----------------------------------------------------------------------


def test_send_and_wait_for_reply_asks_then_the_reply_resumes_it(twilio, store):
    texter = Texter(twilio, "survey")
    root = texter.text("hi")
    (question,) = root.findall("Message")
    assert question.text == "What is your name?"
    (execution,) = executions_of(store, texter)
    assert question.get("statusCallback") == (
        f"http://localhost/flows/survey/message-status/{execution.sid}/name")
    assert (execution.status, execution.widget, execution.waiting_for) == (
        "active", "name", "reply")
    assert texter.replies("Ada") == ["Hi Ada, favourite color?"]
    assert texter.replies("green") == ["Ada likes green."]
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    inbound = execution.context["widgets"]["name"]["inbound"]
    assert (inbound["Body"], inbound["From"], inbound["To"]) == ("Ada", texter.number, NUMBER)
    assert [(s["name"], s["transitioned_from"], s["transitioned_to"])
            for s in executions.list_steps(store, execution.sid)] == [
        ("incomingMessage", "Trigger", "name"), ("incomingMessage", "name", "color"),
        ("incomingMessage", "color", "thanks"), ("sent", "thanks", "Ended")]


def test_a_reply_after_the_timeout_takes_timeout_first(twilio, store):
    texter = Texter(twilio, "quick")
    texter.text("start")
    CLOCK.at = datetime.now(UTC) + timedelta(seconds=61)
    assert texter.replies("late answer") == ["Too late.", "Reply within a minute."]
    first, second = sorted(executions_of(store, texter), key=lambda e: e.date_created)
    assert first.status == "ended"
    assert [s["name"] for s in executions.list_steps(store, first.sid)][-2:] == [
        "timeout", "sent"]
    assert (second.status, second.waiting_for) == ("active", "reply")
    assert second.context["trigger"]["message"]["Body"] == "late answer"


def test_a_reply_in_time_is_taken(twilio):
    texter = Texter(twilio, "quick")
    texter.text("start")
    CLOCK.at = datetime.now(UTC) + timedelta(seconds=59)
    assert texter.replies("yes") == ["Got yes."]


def test_a_failed_question_takes_delivery_failure(twilio, store):
    texter = Texter(twilio, "survey")
    texter.text("hi")
    (execution,) = executions_of(store, texter)
    path = f"/flows/survey/message-status/{execution.sid}/name"
    status = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "sent", "AccountSid": "AC1",
              "From": NUMBER, "To": texter.number}
    assert twilio.post(path, status).status_code == 204
    assert executions_of(store, texter)[0].waiting_for == "reply"
    failed = {**status, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert twilio.post(path, failed).status_code == 204
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert execution.context["flow"]["variables"] == {"failed": "30003"}
    assert REST.sent[-1]["to"] == "+15550008888"


def test_send_and_wait_for_reply_during_a_call_takes_delivery_failure(twilio):
    root = twiml(twilio.post("/flows/during_call", call_params()))
    assert "".join(root.find("Say").itertext()) == "Texting only works in a conversation."


def test_fire_due_timeouts_moves_the_waiting_executions_as_a_timer_would(app, flows, twilio,
                                                                        store):
    texters = [Texter(twilio, "quick") for _ in range(3)]
    for texter in texters:
        texter.text("start")
    settings = app.extensions["switchboard"].settings
    due = datetime.now(UTC) + timedelta(seconds=61)

    def moved() -> int:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(executions, "utcnow", lambda: due)
            return fire_due_timeouts(store, flows, settings=settings,
                                     client_factory=REST.factory)

    assert fire_due_timeouts(store, flows, settings=settings, client_factory=REST.factory) == 0
    assert moved() >= 3
    assert moved() == 0
    for texter in texters:
        (execution,) = executions_of(store, texter)
        assert execution.status == "ended"
        assert any(sent["to"] == texter.number and sent["body"] == "Too late."
                   for sent in REST.sent)


# -- Set Variables and Liquid --------------------------------------------------------------------


def test_set_variables_renders_each_value_in_order(twilio, store):
    texter = Texter(twilio, "variables")
    (reply,) = texter.replies("hey")
    assert reply == 'HEY-HEY 2 {"first": "HEY", "both": "HEY-HEY", "data": {"n": 2}}'
    (execution,) = executions_of(store, texter)
    assert execution.context["flow"]["variables"]["both"] == "HEY-HEY"


def test_parse_as_json_keeps_the_object_a_template_names(twilio, store):
    """Studio's "Parse as JSON object" passes on an existing object, in Set Variables and in
    Run Subflow's parameters."""
    texter = Texter(twilio, "json_variables")
    assert texter.replies("x") == ["Ada 2 GET"]
    (execution,) = executions_of(store, texter)
    variables = execution.context["flow"]["variables"]
    assert variables["order"]["items"] == [1, 2]
    assert variables["items"] == [1, 2]


# -- Make HTTP Request, Run Function --------------------------------------------------------------


def test_http_get_sends_the_parameters_as_the_query_and_parses_json(twilio, store):
    texter = Texter(twilio, "http_get")
    assert texter.replies("hi there") == ["200 Ada 2 GET"]
    assert SEEN[-1]["args"] == {"from": texter.number, "body": "hi there"}
    (execution,) = executions_of(store, texter)
    fetched = execution.context["widgets"]["fetch"]
    assert fetched["status_code"] == 200
    assert fetched["content_type"] == "application/json"
    assert json.loads(fetched["body"])["name"] == "Ada"
    assert fetched["parsed"]["items"] == [1, 2]


def test_http_post_of_a_form_with_twilio_auth(twilio):
    assert Texter(twilio, "http_form").replies("hello") == ["posted true"]
    assert SEEN[-1]["form"] == {"Body": "hello"}
    assert SEEN[-1]["auth"] == "AC" + "a" * 32


def test_http_post_of_a_form_written_as_its_request_body(twilio):
    assert Texter(twilio, "http_form_body").replies("hi & bye") == ["posted true"]
    assert SEEN[-1]["form"] == {"Body": "hi & bye", "x": "1"}
    assert SEEN[-1]["type"] == "application/x-www-form-urlencoded"


def test_http_post_of_a_json_body(twilio):
    texter = Texter(twilio, "http_json")
    assert texter.replies('say "hi"') == ["json true"]
    assert json.loads(SEEN[-1]["data"]) == {"from": texter.number, "said": 'say "hi"'}
    assert SEEN[-1]["type"].startswith("application/json")


def test_http_answers_that_are_not_json_have_no_parsed(twilio):
    assert Texter(twilio, "http_text").replies("x") == [
        "[just text] [] [text/plain]"]


@pytest.mark.parametrize(("charset", "content_type"), [
    ("", "text/plain"), ("latin-1", "text/plain; charset=latin-1"),
    ("utf-8", "text/plain; charset=utf-8"),
])
def test_http_answers_are_read_in_their_charset_else_utf_8(twilio, charset, content_type):
    assert Texter(twilio, "http_charset").replies(charset) == [
        f"Café «Ada» [{content_type}]"]


def test_http_failures_take_failed(twilio):
    assert Texter(twilio, "http_broken").replies("x") == ["failed 503 down"]
    (reply,) = Texter(twilio, "http_bad_url").replies("x")
    assert reply == "failed: 'ftp://example.com/file' is not an http or https URL"


def test_http_request_never_outlasts_the_webhooks_deadline(twilio):
    started = time.monotonic()
    (reply,) = Texter(twilio, "http_slow").replies("x")
    took = time.monotonic() - started
    assert reply.startswith("failed: no answer from http://127.0.0.1:")
    assert took < 3, took  # SWITCHBOARD_HANDLER_TIMEOUT=3; the service would take 3 s


def test_run_function_posts_its_parameters(twilio):
    texter = Texter(twilio, "function")
    assert texter.replies("x") == ["function said Ada"]
    assert SEEN[-1]["method"] == "POST"
    assert SEEN[-1]["form"] == {"who": texter.number}
    assert Texter(twilio, "function_broken").replies("x") == ["function failed 503"]


def test_run_function_signs_its_post_as_twilio_does_for_a_protected_function(twilio, store,
                                                                            caplog):
    texter = Texter(twilio, "function_protected")
    assert texter.replies("hi & bye") == [f"function said {texter.number} of acme"]
    assert SEEN[-1]["form"] == {"who": [texter.number], "said": ["hi & bye", "again"]}
    (execution,) = executions_of(store, texter)
    recorded = json.dumps([execution.context, executions.list_steps(store, execution.sid)],
                          default=str)
    for secret in (TOKEN, SEEN[-1]["signature"]):
        assert secret not in recorded
        assert secret not in caplog.text


def test_make_http_request_parses_only_an_application_json_object(twilio):
    def reply(path: str) -> str:
        (text,) = Texter(twilio, "http_parsed").replies(path)
        return text

    assert reply("echo") == (
        '[{"items": [1, 2], "method": "GET", "name": "Ada", "ok": true}] 54')
    assert reply("array") == "[null] 17"
    assert reply("json_as_text") == "[null] 15"


def test_run_function_parses_a_json_object_of_any_type_but_no_array(twilio):
    def reply(path: str) -> str:
        (text,) = Texter(twilio, "function_parsed").replies(path)
        return text

    assert reply("json_as_text") == '[{"name": "Ada"}] 15'
    assert reply("array") == "[null] 17"


def test_an_answer_over_studios_64_kb_takes_failed(twilio):
    def reply(size: int) -> str:
        (text,) = Texter(twilio, "http_big").replies(str(size))
        return text

    assert reply(64 * 1024) == f"{64 * 1024} {64 * 1024 - 9}"
    assert reply(64 * 1024 + 1) == (
        "failed: the answer's body is larger than 64 kB, Studio's limit")


# -- Run Subflow --------------------------------------------------------------------------------


def test_run_subflow_passes_parameters_and_gets_its_variables_back(twilio, store):
    texter = Texter(twilio, "parent")
    assert texter.replies("Ada") == [f"Child greets Ada ({texter.number}, Ada)",
                                     "Parent: hello Ada /"]
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert execution.frames == []
    steps = [(s["name"], s["transitioned_from"], s["transitioned_to"])
             for s in executions.list_steps(store, execution.sid)]
    assert steps == [
        ("incomingMessage", "Trigger", "sub"), ("incomingParent", "Trigger", "hello"),
        ("sent", "hello", "set"), ("next", "set", "Ended"), ("completed", "sub", "after"),
        ("sent", "after", "Ended"),
    ]


def test_a_subflow_that_fails_or_does_not_exist_takes_failed(twilio, caplog):
    assert Texter(twilio, "parent_of_broken").replies("x") == ["Subflow failed."]
    assert "subflow broken_child" in caplog.text
    (reply,) = Texter(twilio, "parent_of_nothing").replies("x")
    assert reply == f"No such subflow: no flow 'FW{'9' * 32}'"


# -- widgets Switchboard cannot run -------------------------------------------------------------


def test_unsupported_widgets_in_a_conversation(twilio, store, caplog):
    assert Texter(twilio, "autopilot").replies("x") == ["No bot here."]
    texter = Texter(twilio, "virtual")
    assert texter.replies("x") == []
    (execution,) = executions_of(store, texter)
    assert execution.status == "ended"
    assert "cannot run connect-virtual-agent widgets" in caplog.text


def test_two_messages_of_one_contact_at_once_make_one_execution(app, store):
    """The first holds the execution for half a second (an HTTP request); the second waits
    for it, then answers the question the first asked."""
    number = "+1555" + str(uuid.uuid4().int)[:7]
    results: list[Any] = []

    def text(body: str) -> None:
        client = Twilio(app.test_client())
        results.append(client.post("/flows/slow_survey", message_params(body, From=number)))

    threads = [threading.Thread(target=text, args=(body,)) for body in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in results] == [200, 200]
    found = [e for e in executions.list_executions(store) if e.contact_channel_address == number]
    assert len(found) == 1
    steps = [(s["name"], s["transitioned_from"], s["transitioned_to"])
             for s in executions.list_steps(store, found[0].sid)]
    assert steps == [("incomingMessage", "Trigger", "fetch"), ("success", "fetch", "name"),
                     ("incomingMessage", "name", "color")]
    assert (found[0].waiting_for, found[0].widget) == ("reply", "color")
    replies = sorted(r.data.decode() for r in results)
    assert "Favourite color?" in replies[0] + replies[1]


def test_the_app_token_signs_the_status_callback(twilio):
    assert twilio.post("/flows/survey/message-status/FN1/name", {"MessageStatus": "failed"},
                       signed=False).status_code == 403
    assert TOKEN
