"""Twilio's retry of a flow's webhook (the same ``I-Twilio-Idempotency-Token`` as the first
attempt, sent after a timeout or a 5xx) gets the first attempt's answer, the same TwiML,
without the flow moving again: no second step, no second message through the REST API, no
new execution. The first attempt goes to one host and the retry to another (two apps on one
database, each on werkzeug's server on 127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from tests.conftest import serving
from tests.retries import PUBLIC_URL, Hosts, new_caller, new_token
from tests.server.conftest import call_params, clean_app, message_params
from tests.studio import widget

TEAM = "+15550007777"


def definition(first: str, *states: dict[str, Any], event: str) -> dict[str, Any]:
    trigger = {
        "name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
        "transitions": [{"event": name, **({"next": first} if name == event else {})}
                        for name in ("incomingMessage", "incomingCall", "incomingRequest")],
    }
    return {"description": "retries", "states": [trigger, *states],
            "initial_state": "Trigger", "flags": {"allow_concurrent_calls": True}}


def send(name: str, body: str, after: str | None = None, to: str = "{{contact.channel.address}}"
         ) -> dict[str, Any]:
    return widget(name, "send-message", {"from": "{{flow.channel.address}}", "to": to,
                                         "body": body}, sent=after, failed=None)


def ask(name: str, body: str, reply: str | None) -> dict[str, Any]:
    return widget(name, "send-and-wait-for-reply", {
        "from": "{{flow.channel.address}}", "body": body, "timeout": "3600",
    }, incomingMessage=reply, timeout=None, deliveryFailure=None)


DEFINITIONS = {
    # a menu that counts the keys pressed and comes back to itself
    "menu": definition(
        "menu",
        widget("menu", "gather-input-on-call", {
            "say": "Press a key.", "number_of_digits": 1, "timeout": 5, "stop_gather": True,
        }, keypress="count", speech="count", timeout=None),
        widget("count", "set-variables", {"variables": [
            {"key": "presses", "value": "{{flow.variables.presses | default: 0 | plus: 1}}"}]},
            next="said"),
        widget("said", "say-play", {"say": "Press number {{flow.variables.presses}}."},
               audioComplete="menu"),
        event="incomingCall",
    ),
    # a menu whose answer ends the call (the execution ends with the step)
    "last": definition(
        "ask",
        widget("ask", "gather-input-on-call", {
            "say": "Press a key.", "number_of_digits": 1, "timeout": 5, "stop_gather": True,
        }, keypress="bye", speech="bye", timeout=None),
        widget("bye", "say-play", {"say": "You pressed {{widgets.ask.Digits}}. Goodbye."},
               audioComplete=None),
        event="incomingCall",
    ),
    # a survey by text: the team is told of each answer through the REST API
    "survey": definition(
        "name",
        ask("name", "What is your name?", reply="tell"),
        send("tell", "{{contact.channel.address}}: {{widgets.name.inbound.Body}} answered",
             after="thanks", to=TEAM),
        send("thanks", "Thank you, {{widgets.name.inbound.Body}}."),
        event="incomingMessage",
    ),
    # a message that starts, tells the team and ends at once
    "notify": definition(
        "tell",
        send("tell", "{{contact.channel.address}} wrote {{trigger.message.Body}}", after="ok",
             to=TEAM),
        send("ok", "We told the team."),
        event="incomingMessage",
    ),
}


class Sent:
    """A REST client standing in for Twilio's: records the messages sent through it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def factory(self, settings: Any) -> Sent:
        return self

    def __enter__(self) -> Sent:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def create(self, to: str, **fields: Any) -> dict[str, Any]:
        self.messages.append({"to": to, **fields})
        return {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}


class Client:
    """What a flow's REST client needs: ``client.messages.create``."""

    def __init__(self) -> None:
        self.sent = Sent()
        self.messages = self.sent

    def factory(self, settings: Any) -> Client:
        return self

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *args: object) -> None:
        return None


REST = Client()


def _host(database_url: str) -> Flask:
    flows = {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}
    app = clean_app(database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                    TWILIO_ACCOUNT_SID="AC" + "a" * 32, SWITCHBOARD_HANDLER_TIMEOUT="5",
                    SWITCHBOARD_PUBLIC_URL=PUBLIC_URL)
    app.register_blueprint(studio_blueprint(flows, client_factory=REST.factory))
    return app


@pytest.fixture(scope="module")
def hosts(module_database_url: str) -> Iterator[Hosts]:
    first, second = _host(module_database_url), _host(module_database_url)
    try:
        with serving(first) as one, serving(second) as two:
            yield Hosts(one, two, first.extensions["switchboard"].store)
    finally:
        first.extensions["switchboard"].store.close()
        second.extensions["switchboard"].store.close()


@pytest.fixture
def caller() -> str:
    return new_caller()


def _execution(hosts: Hosts, flow: str, contact: str) -> executions.Execution:
    found = [e for e in executions.list_executions(hosts.store)
             if e.flow_name == flow and e.contact_channel_address == contact]
    assert len(found) == 1, found
    return found[0]


def _steps(hosts: Hosts, execution: executions.Execution) -> list[str]:
    return [f"{step['transitioned_from']}->{step['transitioned_to']}"
            for step in executions.list_steps(hosts.store, execution.sid)]


# -- calls -------------------------------------------------------------------------------------


def test_a_retried_gather_step_gets_the_first_answer_and_takes_no_second_step(
    hosts: Hosts, caller: str
) -> None:
    call = call_params(From=caller)
    hosts.post(0, "/flows/menu", call, new_token())
    step = {**call, "Digits": "5"}
    retried = new_token()
    first = hosts.post(0, "/flows/menu/step/menu/gather", step, retried)
    again = hosts.post(1, "/flows/menu/step/menu/gather", step, retried)
    assert first.status_code == again.status_code == 200
    assert b"Press number 1." in first.content
    assert again.content == first.content
    execution = _execution(hosts, "menu", caller)
    assert execution.context["flow"]["variables"]["presses"] == 1
    assert _steps(hosts, execution).count("menu->count") == 1
    # a new press (a new token) moves it on as before
    after = hosts.post(1, "/flows/menu/step/menu/gather", step, new_token())
    assert b"Press number 2." in after.content


def test_a_retried_step_that_ended_the_execution_gets_the_same_goodbye(
    hosts: Hosts, caller: str
) -> None:
    call = call_params(From=caller)
    hosts.post(0, "/flows/last", call, new_token())
    step = {**call, "Digits": "7"}
    retried = new_token()
    first = hosts.post(0, "/flows/last/step/ask/gather", step, retried)
    again = hosts.post(1, "/flows/last/step/ask/gather", step, retried)
    assert b"You pressed 7. Goodbye." in first.content
    assert again.content == first.content
    execution = _execution(hosts, "last", caller)
    assert execution.status == executions.ENDED
    assert _steps(hosts, execution).count("ask->bye") == 1


def test_a_retried_first_request_of_a_call_keeps_its_execution(
    hosts: Hosts, caller: str
) -> None:
    call = call_params(From=caller)
    retried = new_token()
    first = hosts.post(0, "/flows/menu", call, retried)
    again = hosts.post(1, "/flows/menu", call, retried)
    assert b"Press a key." in first.content
    assert again.content == first.content
    execution = _execution(hosts, "menu", caller)  # one execution, still the first
    assert execution.active


def test_a_step_without_a_token_runs_as_before(hosts: Hosts, caller: str) -> None:
    call = call_params(From=caller)
    hosts.post(0, "/flows/menu", call, None)
    step = {**call, "Digits": "1"}
    hosts.post(0, "/flows/menu/step/menu/gather", step, None)
    again = hosts.post(1, "/flows/menu/step/menu/gather", step, None)
    assert b"Press number 2." in again.content


# -- messages ----------------------------------------------------------------------------------


def test_a_retried_reply_to_send_and_wait_resumes_it_once(hosts: Hosts, caller: str) -> None:
    hosts.post(0, "/flows/survey", message_params("hi", From=caller), new_token())
    reply = message_params("Ada", From=caller)
    retried = new_token()
    first = hosts.post(0, "/flows/survey", reply, retried)
    again = hosts.post(1, "/flows/survey", reply, retried)
    assert b"Thank you, Ada." in first.content
    assert again.content == first.content
    execution = _execution(hosts, "survey", caller)  # no new execution asking the name again
    assert execution.status == executions.ENDED
    assert _steps(hosts, execution).count("name->tell") == 1
    assert len(_sent_to_team(f"{caller}: Ada answered")) == 1


def test_a_retried_first_message_that_ended_its_execution_sends_nothing_twice(
    hosts: Hosts, caller: str
) -> None:
    message = message_params("hello", From=caller)
    retried = new_token()
    first = hosts.post(0, "/flows/notify", message, retried)
    again = hosts.post(1, "/flows/notify", message, retried)
    assert b"We told the team." in first.content
    assert again.content == first.content
    assert len(_sent_to_team(f"{caller} wrote hello")) == 1
    _execution(hosts, "notify", caller)  # one execution


def test_a_retried_question_is_asked_once(hosts: Hosts, caller: str) -> None:
    message = message_params("hi", From=caller)
    retried = new_token()
    first = hosts.post(0, "/flows/survey", message, retried)
    again = hosts.post(1, "/flows/survey", message, retried)
    assert b"What is your name?" in first.content
    assert again.content == first.content
    execution = _execution(hosts, "survey", caller)
    assert execution.waiting_for == "reply"
    assert execution.widget == "name"


def _sent_to_team(body: str) -> list[dict[str, Any]]:
    return [m for m in REST.sent.messages if m["to"] == TEAM and m["body"] == body]


# -- a database made by an older version -------------------------------------------------------


def test_an_executions_table_without_the_answer_columns_gains_them(database_url: str) -> None:
    """The table as an older version made it, holding an execution: the store adds the
    columns (NULL for the rows there) and the index, and the execution reads and moves."""
    import sqlalchemy as sa

    from switchboard.callbacks.store import Store

    old = sa.MetaData()
    sa.Table("studio_executions", old, *(
        sa.Column(column.name, column.type, primary_key=column.primary_key,
                  nullable=column.nullable)
        for column in executions.executions.columns
        if column.name not in ("answer_token", "answer")))
    engine = sa.create_engine(database_url)
    old.create_all(engine)
    now = executions.utcnow()
    row = {"sid": "FN" + "1" * 32, "flow_sid": "FW" + "2" * 32, "flow_name": "menu",
           "contact_channel_address": "+15550001111", "channel": "voice", "status": "active",
           "active_key": "call:CA1", "context": "{}", "frames": "[]", "step_count": 0,
           "repeats": 0, "date_created": now, "date_updated": now}
    with engine.begin() as conn:
        conn.execute(sa.insert(old.tables["studio_executions"]), row)
    engine.dispose()

    store = Store(database_url)
    try:
        store.create_all()
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("studio_executions")}
        assert {"answer_token", "answer"} <= columns
        indexes = {i["name"] for i in sa.inspect(store.engine).get_indexes("studio_executions")}
        assert "ix_studio_executions_answer_token" in indexes
        found = executions.get(executions.Database(store), row["sid"])
        assert found is not None
        assert found.answer_token is None
        assert found.answer is None
    finally:
        store.close()


def test_a_token_on_another_call_from_the_same_number_is_not_a_retry(
    hosts: Hosts, caller: str
) -> None:
    """The header is not signed: the same token on another call (another CallSid, the same
    caller, as withheld numbers share one) starts that call's own execution rather than
    get the first call's answer."""
    shared = new_token()
    first_call, second_call = call_params(From=caller), call_params(From=caller)
    hosts.post(0, "/flows/menu", first_call, shared)
    hosts.post(1, "/flows/menu", second_call, shared)
    runs = [e for e in executions.list_executions(hosts.store)
            if e.flow_name == "menu" and e.contact_channel_address == caller]
    assert {e.call_sid for e in runs} == {first_call["CallSid"], second_call["CallSid"]}
    step = hosts.post(1, "/flows/menu/step/menu/gather", {**second_call, "Digits": "5"},
                      new_token())
    assert b"Press number 1." in step.content  # the second call's own execution moved


def test_a_token_of_any_length_keeps_the_flow_running(hosts: Hosts, caller: str) -> None:
    """The header is the sender's to make as long as it likes: an overlong retry key is kept
    as its digest (PostgreSQL's indexes refuse an entry over 2,704 bytes), so the call runs
    and its retry is still told apart."""
    call = call_params(From=caller)
    long_token = base64.b64encode(os.urandom(4500)).decode()  # 6,000 characters, random
    first = hosts.post(0, "/flows/menu", call, long_token)
    again = hosts.post(1, "/flows/menu", call, long_token)
    assert b"Press a key." in first.content
    assert again.content == first.content
    assert _execution(hosts, "menu", caller).active
