"""Twilio's retry of the URL of a call a Make Outgoing Call widget placed
(``/flows/NAME/outgoing-call/EXECUTION/WIDGET``, with the first attempt's
``I-Twilio-Idempotency-Token``) gets the first attempt's answer, the same TwiML, without the
execution moving again, as do the retries of the call's steps; so does a retry that comes
while the first attempt still runs and then ends the execution. The first attempt goes to one
host and the retry to another (two apps on one database, each on werkzeug's server on
127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.outbound import start_execution
from tests.conftest import serving
from tests.retries import PUBLIC_URL, Hosts, new_caller, new_token
from tests.server.conftest import NUMBER, call_params, clean_app
from tests.studio import state, transition

#: The web service a flow's Make HTTP Request waits for, until the test lets it answer.
SERVICE = Flask("service")
entered, release = threading.Event(), threading.Event()


@SERVICE.get("/slow")
def service_slow() -> dict[str, bool]:
    entered.set()
    release.wait(5)
    return {"ok": True}


def outgoing_call(answered: str, *states: dict[str, Any]) -> dict[str, Any]:
    """A flow the Studio API starts, which calls its contact and goes on to ``answered``
    in the call."""
    trigger = state("Trigger", "trigger", {}, [
        transition("incomingMessage"), transition("incomingCall"),
        transition("incomingRequest", "call")])
    call = state("call", "make-outgoing-call-v2", {
        "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}", "timeout": 30,
    }, [transition("answered", answered), transition("busy"), transition("noAnswer"),
        transition("failed")])
    return {"description": "retried outgoing calls", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True}, "states": [trigger, call, *states]}


def wait_for_service(name: str) -> list[dict[str, Any]]:
    """``name``, a Make HTTP Request to the test service, then a goodbye that ends there."""
    return [
        state(name, "make-http-request", {"method": "GET", "url": "http://SERVICE/slow"},
              [transition("success", "bye"), transition("failed", "bye")]),
        state("bye", "say-play", {"say": "Thank you for waiting. Goodbye."},
              [transition("audioComplete")]),
    ]


DEFINITIONS = {
    # the call asks for a key, and the execution waits for it
    "callback": outgoing_call(
        "menu",
        state("menu", "gather-input-on-call", {
            "say": "Hello. Press a key.", "number_of_digits": 1, "timeout": 5,
            "stop_gather": True,
        }, [transition("keypress", "pressed"), transition("speech"), transition("timeout")]),
        state("pressed", "say-play", {"say": "You pressed {{widgets.menu.Digits}}."},
              [transition("audioComplete")]),
    ),
    # the call says its piece and the execution ends with the answer
    "reminder": outgoing_call(
        "remind",
        state("remind", "say-play", {"say": "Your appointment is tomorrow. Goodbye."},
              [transition("audioComplete")]),
    ),
    # the call's answer waits for a web service, then ends the execution
    "lookup": outgoing_call("fetch", *wait_for_service("fetch")),
    # the call asks for a key, whose step waits for a web service and ends the execution
    "confirm": outgoing_call(
        "menu",
        state("menu", "gather-input-on-call", {
            "say": "Press 1 to confirm.", "number_of_digits": 1, "timeout": 5,
            "stop_gather": True,
        }, [transition("keypress", "fetch"), transition("speech"), transition("timeout")]),
        *wait_for_service("fetch"),
    ),
}


def flows_at(service: str) -> dict[str, Flow]:
    """:data:`DEFINITIONS`, their ``http://SERVICE`` the test service's address."""
    text = json.dumps(DEFINITIONS).replace("http://SERVICE", service)
    return {name: Flow(name, body, f"{name}.json") for name, body in json.loads(text).items()}


class Calls:
    """A REST client standing in for Twilio's (``client.calls.create``, its own ``calls``):
    records the calls placed through it."""

    def __init__(self) -> None:
        self.placed: list[dict[str, Any]] = []
        self.calls = self
        self.timeout: Any = None

    def factory(self, settings: Any) -> Calls:
        return self

    def __enter__(self) -> Calls:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def create(self, to: str, from_: str, **options: Any) -> dict[str, Any]:
        call = {"sid": "CA" + uuid.uuid4().hex, "to": to, "from": from_, **options}
        self.placed.append(call)
        return {"sid": call["sid"], "status": "queued"}


REST = Calls()


def _host(database_url: str, flows: dict[str, Flow]) -> Flask:
    app = clean_app(database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                    TWILIO_ACCOUNT_SID="AC" + "a" * 32, SWITCHBOARD_HANDLER_TIMEOUT="5",
                    SWITCHBOARD_PUBLIC_URL=PUBLIC_URL)
    app.register_blueprint(studio_blueprint(flows, client_factory=REST.factory))
    return app


class Deployment(Hosts):
    """The two hosts, the flows they serve and their settings."""

    def __init__(self, first: str, second: str, store: Any, flows: dict[str, Flow],
                 settings: Any) -> None:
        super().__init__(first, second, store)
        self.flows = flows
        self.settings = settings


@pytest.fixture(scope="module")
def hosts(module_database_url: str) -> Iterator[Deployment]:
    with serving(SERVICE) as service:
        flows = flows_at(service)
        first, second = _host(module_database_url, flows), _host(module_database_url, flows)
        try:
            with serving(first) as one, serving(second) as two:
                yield Deployment(one, two, first.extensions["switchboard"].store, flows,
                                 first.extensions["switchboard"].settings)
        finally:
            first.extensions["switchboard"].store.close()
            second.extensions["switchboard"].store.close()


class Placed:
    """An execution started through the Studio API and the call its widget placed."""

    def __init__(self, hosts: Deployment, flow: str) -> None:
        self.hosts = hosts
        self.contact = new_caller()
        self.execution = start_execution(
            hosts.store, hosts.flows[flow], to=self.contact, from_=NUMBER, parameters={},
            settings=hosts.settings, client_factory=REST.factory)
        (self.call,) = [c for c in REST.placed if c["to"] == self.contact]
        assert self.call["url"].startswith(PUBLIC_URL)
        self.path = self.call["url"].removeprefix(PUBLIC_URL)
        self.params = call_params(self.call["sid"], From=NUMBER, To=self.contact,
                                  Direction="outbound-api")

    def answered(self, host: int, token: str | None) -> bytes:
        """The call's URL, requested of ``host`` as Twilio does once the call is answered."""
        return self.hosts.post(host, self.path, self.params, token).content

    def stored(self) -> executions.Execution:
        found = executions.get(executions.Database(self.hosts.store), self.execution.sid)
        assert found is not None
        return found

    def steps(self) -> list[str]:
        return [f"{step['transitioned_from']}->{step['transitioned_to']}"
                for step in executions.list_steps(self.hosts.store, self.execution.sid)]


def test_a_retried_answer_of_an_outgoing_call_gets_the_first_answer_and_moves_nothing(
    hosts: Deployment
) -> None:
    placed = Placed(hosts, "callback")
    retried = new_token()
    first = placed.answered(0, retried)
    again = placed.answered(1, retried)
    assert b"Hello. Press a key." in first
    assert again == first
    execution = placed.stored()
    assert execution.active
    assert (execution.widget, execution.waiting_for) == ("menu", "gather")
    assert placed.steps().count("call->menu") == 1
    # the caller's key (a new request, a new token) moves it on as before
    step = {**placed.params, "Digits": "4"}
    pressed = hosts.post(1, "/flows/callback/step/menu/gather", step, new_token())
    assert b"You pressed 4." in pressed.content


def test_a_retried_answer_that_ended_the_execution_gets_the_same_goodbye(
    hosts: Deployment
) -> None:
    placed = Placed(hosts, "reminder")
    retried = new_token()
    first = placed.answered(0, retried)
    again = placed.answered(1, retried)
    assert b"Your appointment is tomorrow. Goodbye." in first
    assert again == first
    assert placed.stored().status == executions.ENDED
    assert placed.steps().count("call->remind") == 1


def test_the_calls_url_requested_again_without_the_token_is_not_taken_for_a_retry(
    hosts: Deployment
) -> None:
    placed = Placed(hosts, "callback")
    assert b"Hello. Press a key." in placed.answered(0, new_token())
    assert VOICE_APOLOGY.encode() in placed.answered(1, new_token())
    assert VOICE_APOLOGY.encode() in placed.answered(1, None)
    assert placed.steps().count("call->menu") == 1


# -- a retry while the first attempt still runs ---------------------------------------------------


def _while_the_first_runs(first: Callable[[], bytes], retry: Callable[[], bytes]
                          ) -> tuple[bytes, bytes]:
    """``first()`` until it waits for the test service (holding the execution's claim), then
    ``retry()`` meanwhile; the service answers a moment after. Both answers."""
    entered.clear()
    release.clear()
    answers: dict[str, bytes] = {}
    started: list[threading.Thread] = []
    try:
        for name, request in (("first", first), ("again", retry)):
            thread = threading.Thread(target=lambda name=name, request=request:
                                      answers.update({name: request()}))
            thread.start()
            started.append(thread)
            assert entered.wait(5)
        time.sleep(0.3)  # the retry waits for the first attempt's claim
    finally:
        release.set()
        for thread in started:
            thread.join(10)
    return answers["first"], answers["again"]


def test_a_retry_of_the_answer_while_the_first_attempt_runs_gets_its_goodbye(
    hosts: Deployment
) -> None:
    placed = Placed(hosts, "lookup")
    retried = new_token()
    first, again = _while_the_first_runs(lambda: placed.answered(0, retried),
                                         lambda: placed.answered(1, retried))
    assert b"Thank you for waiting. Goodbye." in first
    assert again == first
    assert placed.stored().status == executions.ENDED
    assert placed.steps().count("fetch->bye") == 1


def test_a_retry_of_a_step_while_the_first_attempt_runs_gets_its_goodbye(
    hosts: Deployment
) -> None:
    placed = Placed(hosts, "confirm")
    assert b"Press 1 to confirm." in placed.answered(0, new_token())
    step = {**placed.params, "Digits": "1"}
    retried = new_token()

    def pressed(host: int) -> Callable[[], bytes]:
        return lambda: hosts.post(host, "/flows/confirm/step/menu/gather", step,
                                  retried).content

    first, again = _while_the_first_runs(pressed(0), pressed(1))
    assert b"Thank you for waiting. Goodbye." in first
    assert again == first
    assert placed.stored().status == executions.ENDED
    assert placed.steps().count("menu->fetch") == 1
