"""``/metrics`` for Studio flows, on SQLite and PostgreSQL: each execution counted once when
it starts (by its trigger) and once when it ends (by why), however its end is repeated; each
widget's failure by the widget's type; nothing counted for a step that neither starts nor
ends an execution; nothing breaks with metrics off."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, request

from switchboard.api import TwilioClient
from switchboard.callbacks import metrics
from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.metrics import MetricsConfig, register_metrics
from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.api import register_studio_api
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.context import flow_sid
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.executions import Database, Execution
from switchboard.callbacks.studio.runtime import fire_due_timeouts
from switchboard.config import Secret, Settings
from tests.conftest import serving
from tests.server.conftest import (
    ACCOUNT_SID,
    NUMBER,
    TOKEN,
    Twilio,
    call_params,
    clean_app,
    message_params,
    spoken,
    twiml,
    verbs,
)
from tests.studio import widget

from .scraping import TOKEN as METRICS_TOKEN
from .scraping import bearer, parse, total, value

STARTED = "switchboard_flow_executions_started_total"
ENDED = "switchboard_flow_executions_ended_total"
WIDGET_ERRORS = "switchboard_flow_widget_errors_total"


def trigger(first: str | None) -> dict[str, Any]:
    """A trigger that goes to ``first`` whatever started the execution."""
    events = ("incomingCall", "incomingMessage", "incomingRequest", "incomingParent")
    return {"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
            "transitions": [{"event": event, **({"next": first} if first else {})}
                            for event in events]}


def definition(*states: dict[str, Any]) -> dict[str, Any]:
    return {"description": "metrics", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [trigger(states[0]["name"]), *states]}


def say(name: str, text: str, after: str | None = None) -> dict[str, Any]:
    return widget(name, "say-play", {"say": text}, audioComplete=after)


def gather(name: str, keypress: str | None) -> dict[str, Any]:
    return widget(name, "gather-input-on-call", {"say": "Press a key.", "number_of_digits": 1},
                  keypress=keypress, speech=None, timeout=None)


def set_variable(name: str, after: str | None) -> dict[str, Any]:
    return widget(name, "set-variables", {"variables": [{"key": "seen", "value": name}]},
                  next=after)


def http(name: str, url: str, after: str | None) -> dict[str, Any]:
    return widget(name, "make-http-request", {"method": "GET", "url": url},
                  success=after, failed=after)


DIVIDE_BY_ZERO = "{{ 1 | divided_by: 0 }}"

DEFINITIONS: dict[str, dict[str, Any]] = {
    "metrics_say": definition(say("hello", "Hello.")),
    "metrics_menu": definition(gather("menu", "pressed"), say("pressed", "Thank you.")),
    # the menu, a split, a say, and a second question: a step that moves and waits again
    "metrics_local": definition(
        gather("menu", "route"),
        widget("route", "split-based-on", {"input": "{{widgets.menu.Digits}}"},
               noMatch="pressed"),
        say("pressed", "You pressed {{widgets.menu.Digits}}.", "confirm"),
        gather("confirm", None),
    ),
    "metrics_broken_step": definition(gather("menu", "sorry"), say("sorry", DIVIDE_BY_ZERO)),
    "metrics_bad_liquid": definition(http("fetch", f"https://example.com/{DIVIDE_BY_ZERO}",
                                          None)),
    "metrics_stream": definition(widget("stream", "fork-stream", {})),
    "metrics_flex": definition(
        widget("agent", "send-to-flex", {}, callComplete=None, failedToEnqueue="sorry"),
        say("sorry", "No agent today."),
    ),
    "metrics_repeat": definition(set_variable("again", "again")),
    "metrics_steps": definition(set_variable("a", "b"), set_variable("b", "a")),
    "metrics_parent": definition(
        widget("sub", "run-subflow", {"flow_sid": "metrics_child"}, completed="after",
               failed="after"),
        set_variable("after", None),
    ),
    "metrics_child": definition(set_variable("inside", None)),
    "metrics_parent_of_broken": definition(
        widget("sub", "run-subflow", {"flow_sid": "metrics_broken_child"}, completed=None,
               failed="after"),
        set_variable("after", None),
    ),
    "metrics_broken_child": definition(http("fetch", DIVIDE_BY_ZERO, None)),
    "metrics_request": definition(set_variable("given", None)),
    "metrics_purge": definition(gather("menu", None)),
    "metrics_ask": definition(widget("ask", "send-and-wait-for-reply", {
        "from": "{{flow.channel.address}}", "body": "Your name?", "timeout": "1",
    }, incomingMessage=None, timeout=None, deliveryFailure=None)),
}
# Widgets that take their failure transition, once without it (the execution ends there),
# once with it (to "sorry"); and the same widgets succeeding. "SERVICE" is the test service.
OTHER_NUMBER = "+15550001111"
FAILING: dict[str, tuple[str, dict[str, Any], str, str]] = {  # kind, properties, events
    "http": ("make-http-request", {"method": "GET", "url": "http://SERVICE/broken"},
             "success", "failed"),
    "function": ("run-function", {"url": "http://SERVICE/broken"}, "success", "fail"),
    "text": ("send-message", {"to": OTHER_NUMBER, "from": NUMBER, "body": "Hi."},
             "sent", "failed"),
    "subflow": ("run-subflow", {"flow_sid": "metrics_nowhere"}, "completed", "failed"),
    "redirect": ("add-twiml-redirect", {"url": "/elsewhere", "method": "PATCH"},
                 "return", "fail"),
}
for short, (kind, properties, success, failure) in FAILING.items():
    DEFINITIONS[f"metrics_{short}_ends"] = definition(
        widget("it", kind, properties, **{success: "done"}), say("done", "Done."))
    DEFINITIONS[f"metrics_{short}_sorry"] = definition(
        widget("it", kind, properties, **{success: "done", failure: "sorry"}),
        say("done", "Done."), say("sorry", "Sorry."))
DEFINITIONS.update({
    "metrics_http_ok": definition(
        widget("it", "make-http-request", {"method": "GET", "url": "http://SERVICE/ok"},
               success="done", failed="sorry"),
        say("done", "Done."), say("sorry", "Sorry.")),
    "metrics_text_sent": definition(
        widget("it", "send-message", {"to": OTHER_NUMBER, "from": NUMBER, "body": "Sent."},
               sent="done", failed="sorry"),
        say("done", "Done."), say("sorry", "Sorry.")),
    # a subflow whose Make HTTP Request fails and has no failed transition
    "metrics_parent_of_failing": definition(
        widget("sub", "run-subflow", {"flow_sid": "metrics_http_ends"}, completed="after",
               failed="after"),
        set_variable("after", None),
    ),
    # itself as its subflow, until Studio's depth is passed: the deepest Run Subflow fails
    "metrics_deep": definition(
        widget("sub", "run-subflow", {"flow_sid": "metrics_deep"}, completed=None, failed=None),
    ),
})
FLOWS = {name: Flow(name, body, f"{name}.json") for name, body in DEFINITIONS.items()}

#: A web service and Twilio's REST API on 127.0.0.1, for the widgets that request them.
SERVICE = Flask("service")


@SERVICE.get("/ok")
def service_ok() -> dict[str, Any]:
    return {"ok": True}


@SERVICE.route("/broken", methods=["GET", "POST"])
def service_broken() -> tuple[dict[str, Any], int]:
    return {"error": "down for maintenance"}, 500


@SERVICE.post("/2010-04-01/Accounts/<account>/Messages.json")
def service_messages(account: str) -> tuple[dict[str, Any], int]:
    if request.form["To"] == OTHER_NUMBER and request.form.get("Body") != "Sent.":
        return {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}, 400
    return {"sid": "SM" + uuid.uuid4().hex, "account_sid": account, "status": "queued"}, 201


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    with serving(SERVICE) as url:
        yield url


def flows_at(service: str) -> dict[str, Flow]:
    """:data:`FLOWS`, their ``http://SERVICE`` the test service's address."""
    text = json.dumps(DEFINITIONS).replace("http://SERVICE", service)
    return {name: Flow(name, body, f"{name}.json") for name, body in json.loads(text).items()}


def metrics_app(database_url: str, service: str) -> Flask:
    application = clean_app(database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                            TWILIO_ACCOUNT_SID=ACCOUNT_SID)
    assert register_metrics(application, MetricsConfig(Secret(METRICS_TOKEN))) is not None
    application.register_blueprint(studio_blueprint(
        flows_at(service),
        client_factory=lambda _settings: TwilioClient(ACCOUNT_SID, TOKEN, base_url=service,
                                                      retries=0),
    ))
    register_studio_api(application)
    return application


@pytest.fixture(scope="module")
def app(module_database_url: str, service: str) -> Iterator[Flask]:
    application = metrics_app(module_database_url, service)
    yield application
    application.extensions["switchboard"].store.close()


def scrape(app: Flask) -> dict[Any, float]:
    answer = app.test_client().get("/metrics", headers=bearer())
    assert answer.status_code == 200, answer.data
    return parse(answer.get_data(as_text=True))


class Counts:
    """The samples when the test began, and how far they moved since."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.before = scrape(app)

    def moved(self, name: str, **labels: str) -> float:
        """How far the sample ``name`` with exactly ``labels`` moved."""
        return value(scrape(self.app), name, **labels) - value(self.before, name, **labels)

    def moved_in_all(self, name: str, **labels: str) -> float:
        """How far the samples ``name`` whose labels include ``labels`` moved, together."""
        return total(scrape(self.app), name, **labels) - total(self.before, name, **labels)


@pytest.fixture
def counts(app: Flask) -> Counts:
    return Counts(app)


def contact() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


class Call:
    """One call to a flow, as Twilio makes its requests."""

    def __init__(self, twilio: Twilio, flow: str) -> None:
        self.twilio = twilio
        self.flow = flow
        self.params = call_params(From=contact())

    @property
    def sid(self) -> str:
        return self.params["CallSid"]

    def start(self) -> Any:
        return twiml(self.twilio.post(f"/flows/{self.flow}", self.params))

    def step(self, widget_name: str, **extra: str) -> Any:
        return twiml(self.twilio.post(f"/flows/{self.flow}/step/{widget_name}/gather",
                                      {**self.params, **extra}))

    def status(self, status: str, sequence: int) -> int:
        params = {**self.params, "CallStatus": status, "SequenceNumber": str(sequence)}
        return self.twilio.post(f"/flows/{self.flow}/call-status", params).status_code


def execution_of(store: Store, call: Call) -> Execution:
    (found,) = [e for e in executions.list_executions(store) if e.call_sid == call.sid]
    return found


def studio_api(app: Flask, method: str, path: str, data: dict[str, str] | None = None) -> Any:
    secret = base64.b64encode(f"{ACCOUNT_SID}:{TOKEN}".encode()).decode()
    return app.test_client().open(f"/v2{path}", method=method, data=data,
                                  headers={"Authorization": f"Basic {secret}"})


# -- starts and ends ------------------------------------------------------------------------------


def test_a_call_that_runs_to_the_end_counts_one_start_and_one_completed(twilio, counts):
    assert spoken(Call(twilio, "metrics_say").start()) == "Hello."
    assert counts.moved(STARTED, flow="metrics_say", trigger="incomingCall") == 1
    assert counts.moved(ENDED, flow="metrics_say", reason="completed") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_say") == 1
    assert counts.moved_in_all(WIDGET_ERRORS, flow="metrics_say") == 0


def test_a_step_that_neither_starts_nor_ends_counts_nothing(twilio, store, counts):
    call = Call(twilio, "metrics_local")
    call.start()
    assert counts.moved(STARTED, flow="metrics_local", trigger="incomingCall") == 1
    after_start = Counts(counts.app)
    assert "You pressed 7." in spoken(call.step("menu", Digits="7"))
    assert execution_of(store, call).widget == "confirm"
    for name in (STARTED, ENDED, WIDGET_ERRORS):
        assert after_start.moved_in_all(name, flow="metrics_local") == 0


def test_the_step_that_ends_a_flow_counts_it_completed_once(twilio, store, counts):
    call = Call(twilio, "metrics_menu")
    call.start()
    assert counts.moved_in_all(ENDED, flow="metrics_menu") == 0
    assert spoken(call.step("menu", Digits="1")) == "Thank you."
    assert execution_of(store, call).status == "ended"
    assert counts.moved(ENDED, flow="metrics_menu", reason="completed") == 1
    assert spoken(call.step("menu", Digits="1")) == VOICE_APOLOGY  # a step come again
    assert counts.moved_in_all(ENDED, flow="metrics_menu") == 1


def test_the_calls_end_counts_call_ended_once_however_often_it_is_told(twilio, store, counts):
    call = Call(twilio, "metrics_menu")
    call.start()
    assert call.status("in-progress", 0) == 204
    assert counts.moved_in_all(ENDED, flow="metrics_menu") == 0
    assert call.status("completed", 1) == 204
    assert call.status("completed", 1) == 204  # Twilio sending the callback again
    assert executions.end_call_executions(store, call.sid, "completed") == 0
    assert execution_of(store, call).status == "ended"
    assert counts.moved(ENDED, flow="metrics_menu", reason="call_ended") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_menu") == 1


def test_a_step_that_finds_the_call_over_counts_call_ended(twilio, store, counts):
    call = Call(twilio, "metrics_menu")
    call.start()
    assert verbs(call.step("menu", Digits="1", CallStatus="completed")) == []
    assert execution_of(store, call).status == "ended"
    assert counts.moved(ENDED, flow="metrics_menu", reason="call_ended") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_menu") == 1


def test_a_call_requesting_the_flow_again_replaces_its_execution(twilio, counts):
    call = Call(twilio, "metrics_menu")
    call.start()
    assert verbs(call.start()) == ["Gather", "Redirect"]
    assert counts.moved(STARTED, flow="metrics_menu", trigger="incomingCall") == 2
    assert counts.moved(ENDED, flow="metrics_menu", reason="replaced") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_menu") == 1


@pytest.mark.parametrize("flow", ["metrics_repeat", "metrics_steps"])
def test_studios_limits_count_as_limit(twilio, counts, flow):
    assert spoken(Call(twilio, flow).start()) == VOICE_APOLOGY
    assert counts.moved(ENDED, flow=flow, reason="limit") == 1
    assert counts.moved_in_all(ENDED, flow=flow) == 1
    assert counts.moved_in_all(WIDGET_ERRORS, flow=flow) == 0


def test_a_message_and_the_subflow_it_runs_count_their_triggers(twilio, counts):
    answer = twilio.post("/flows/metrics_parent", message_params(From=contact()))
    assert answer.status_code == 200
    assert counts.moved(STARTED, flow="metrics_parent", trigger="incomingMessage") == 1
    assert counts.moved(STARTED, flow="metrics_child", trigger="incomingParent") == 1
    assert counts.moved(ENDED, flow="metrics_parent", reason="completed") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_child") == 0  # its parent's execution ends


def test_an_execution_started_and_ended_through_the_studio_api_counts_once(
        app, twilio, store, counts):
    sid = flow_sid(FLOWS["metrics_request"])
    answer = studio_api(app, "POST", f"/Flows/{sid}/Executions",
                        {"To": contact(), "From": NUMBER})
    assert answer.status_code == 201, answer.json
    assert answer.json["status"] == "ended"
    assert counts.moved(STARTED, flow="metrics_request", trigger="incomingRequest") == 1
    assert counts.moved(ENDED, flow="metrics_request", reason="completed") == 1

    menu = flow_sid(FLOWS["metrics_menu"])
    ended, deleted = Call(twilio, "metrics_menu"), Call(twilio, "metrics_menu")
    ended.start()
    deleted.start()
    path = f"/Flows/{menu}/Executions/{execution_of(store, ended).sid}"
    for _ in range(2):
        answer = studio_api(app, "POST", path, {"Status": "ended"})
        assert (answer.status_code, answer.json["status"]) == (200, "ended")
    assert counts.moved(ENDED, flow="metrics_menu", reason="api") == 1
    path = f"/Flows/{menu}/Executions/{execution_of(store, deleted).sid}"
    assert studio_api(app, "DELETE", path).status_code == 204
    assert studio_api(app, "DELETE", path).status_code == 404
    assert counts.moved(ENDED, flow="metrics_menu", reason="api") == 2
    assert executions.delete_execution(store, execution_of(store, ended).sid)  # ended: no more
    assert counts.moved_in_all(ENDED, flow="metrics_menu") == 2


def test_a_flow_of_the_studio_api_is_counted_under_its_sid_whatever_its_revision(
        app, twilio, counts):
    body = {"FriendlyName": "Metrics menu", "Status": "published",
            "Definition": json.dumps(DEFINITIONS["metrics_menu"])}
    created = studio_api(app, "POST", "/Flows", body)
    assert created.status_code == 201, created.json
    sid = created.json["sid"]
    Call(twilio, sid).start()
    assert studio_api(app, "POST", f"/Flows/{sid}", body).json["revision"] == 2
    Call(twilio, sid).start()
    assert counts.moved(STARTED, flow=sid, trigger="incomingCall") == 2
    assert all("@" not in dict(labels).get("flow", "")
               for name, labels in scrape(app) if name == STARTED)


def test_a_timeout_the_timer_takes_to_the_end_counts_completed_once(twilio, store, counts):
    answer = twilio.post("/flows/metrics_ask", message_params(From=contact()))
    assert "Your name?" in answer.get_data(as_text=True)
    time.sleep(1.2)
    settings = Settings(handler_timeout=3.0)
    assert fire_due_timeouts(store, FLOWS, settings=settings, client_factory=lambda _: None) == 1
    assert fire_due_timeouts(store, FLOWS, settings=settings, client_factory=lambda _: None) == 0
    assert counts.moved(STARTED, flow="metrics_ask", trigger="incomingMessage") == 1
    assert counts.moved(ENDED, flow="metrics_ask", reason="completed") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_ask") == 1


def test_the_retention_counts_the_active_executions_it_deletes_as_expired(
        twilio, store, counts):
    calls = [Call(twilio, "metrics_purge") for _ in range(3)]
    for call in calls:
        call.start()
    assert calls[0].status("completed", 0) == 204
    later = datetime.now(UTC) + timedelta(days=31)
    assert executions.purge_executions(store, now=later) >= 3
    assert executions.purge_executions(store, now=later) == 0
    assert counts.moved(ENDED, flow="metrics_purge", reason="expired") == 2
    assert counts.moved(ENDED, flow="metrics_purge", reason="call_ended") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_purge") == 3


# -- widgets that fail ----------------------------------------------------------------------------


@pytest.mark.parametrize(("flow", "kind", "reason"), [
    ("metrics_bad_liquid", "make-http-request", "failed"),  # Liquid that cannot be rendered
    ("metrics_stream", "fork-stream", "failed"),  # cannot run, and no way out: WidgetError
    ("metrics_flex", "send-to-flex", "completed"),  # cannot run: its failure transition
])
def test_a_failing_widget_is_counted_by_its_type(twilio, store, counts, flow, kind, reason):
    call = Call(twilio, flow)
    call.start()
    assert execution_of(store, call).status == "ended"
    assert counts.moved(WIDGET_ERRORS, flow=flow, widget=kind) == 1
    assert counts.moved_in_all(WIDGET_ERRORS, flow=flow) == 1
    assert counts.moved(ENDED, flow=flow, reason=reason) == 1
    assert counts.moved_in_all(ENDED, flow=flow) == 1


def test_a_widget_failing_in_a_subflow_is_counted_under_the_subflow(twilio, counts):
    answer = twilio.post("/flows/metrics_parent_of_broken", message_params(From=contact()))
    assert answer.status_code == 200
    assert counts.moved(WIDGET_ERRORS, flow="metrics_broken_child",
                        widget="make-http-request") == 1
    assert counts.moved_in_all(WIDGET_ERRORS, flow="metrics_parent_of_broken") == 0
    assert counts.moved(ENDED, flow="metrics_parent_of_broken", reason="completed") == 1


@pytest.mark.parametrize("short", list(FAILING))
@pytest.mark.parametrize("way_out", ["ends", "sorry"])
def test_a_widget_taking_its_failure_transition_is_counted_once_whether_or_not_it_leads_on(
        twilio, store, counts, short, way_out):
    """Make HTTP Request answered 500, Run Function answered 500, Send Message refused by the
    REST API, Run Subflow of no flow, TwiML Redirect with a method it cannot use: each is
    one error of its widget's type, whether the flow ends there or goes on to "sorry"."""
    flow, kind = f"metrics_{short}_{way_out}", FAILING[short][0]
    call = Call(twilio, flow)
    assert spoken(call.start()) == ("Sorry." if way_out == "sorry" else "")
    assert execution_of(store, call).status == "ended"
    assert counts.moved(WIDGET_ERRORS, flow=flow, widget=kind) == 1
    assert counts.moved_in_all(WIDGET_ERRORS) == 1
    assert counts.moved(ENDED, flow=flow, reason="completed") == 1
    assert counts.moved_in_all(ENDED, flow=flow) == 1


@pytest.mark.parametrize("flow", ["metrics_http_ok", "metrics_text_sent"])
def test_a_widget_that_succeeds_counts_no_error(twilio, counts, flow):
    assert spoken(Call(twilio, flow).start()) == "Done."
    assert counts.moved(ENDED, flow=flow, reason="completed") == 1
    assert counts.moved_in_all(WIDGET_ERRORS) == 0


def test_a_question_not_delivered_is_counted_once_as_its_widgets_error(twilio, store, counts):
    sender = contact()
    answer = twilio.post("/flows/metrics_ask", message_params(From=sender))
    assert "Your name?" in answer.get_data(as_text=True)
    (asking,) = [e for e in executions.list_executions(store)
                 if e.contact_channel_address == sender]
    status = message_params(From=NUMBER, To=sender, MessageStatus="undelivered",
                            ErrorCode="30003")
    for _ in range(2):  # Twilio sending the callback again: the execution waits no more
        answer = twilio.post(f"/flows/metrics_ask/message-status/{asking.sid}/ask", status)
        assert answer.status_code < 300, answer.data
    assert executions.get(Database(store), asking.sid).status == "ended"
    assert counts.moved(WIDGET_ERRORS, flow="metrics_ask", widget="send-and-wait-for-reply") == 1
    assert counts.moved_in_all(WIDGET_ERRORS) == 1
    assert counts.moved(ENDED, flow="metrics_ask", reason="completed") == 1


def test_a_subflows_failing_widget_is_counted_once_under_the_subflow(twilio, counts):
    """The subflow's Make HTTP Request fails and leads nowhere: the subflow completes, and its
    parent's Run Subflow, which did not fail, counts nothing."""
    assert spoken(Call(twilio, "metrics_parent_of_failing").start()) == ""
    assert counts.moved(STARTED, flow="metrics_http_ends", trigger="incomingParent") == 1
    assert counts.moved(WIDGET_ERRORS, flow="metrics_http_ends",
                        widget="make-http-request") == 1
    assert counts.moved_in_all(WIDGET_ERRORS) == 1
    assert counts.moved(ENDED, flow="metrics_parent_of_failing", reason="completed") == 1


def test_a_run_subflow_past_studios_depth_is_counted_once(twilio, counts):
    assert spoken(Call(twilio, "metrics_deep").start()) == ""
    assert counts.moved(STARTED, flow="metrics_deep", trigger="incomingCall") == 1
    assert counts.moved(STARTED, flow="metrics_deep", trigger="incomingParent") == 10
    assert counts.moved(WIDGET_ERRORS, flow="metrics_deep", widget="run-subflow") == 1
    assert counts.moved_in_all(WIDGET_ERRORS) == 1
    assert counts.moved(ENDED, flow="metrics_deep", reason="completed") == 1


def test_a_failing_run_whose_progress_is_not_written_counts_nothing(
        twilio, store, counts, monkeypatch):
    """The claim is lost before the run's progress is written (another request took the
    execution over): the widget's failure, the subflow and the end are that request's to
    count, not this one's."""
    real = executions.save
    lost: list[bool] = []

    def after_losing_the_claim(db: Database, execution: Execution, new_steps: Any) -> bool:
        table = executions.executions
        db.run(lambda conn: conn.execute(
            sa.update(table).where(table.c.sid == execution.sid).values(claim="another")))
        saved = real(db, execution, new_steps)
        lost.append(saved)
        return saved

    monkeypatch.setattr(executions, "save", after_losing_the_claim)
    Call(twilio, "metrics_parent_of_failing").start()
    assert lost == [False]
    assert counts.moved(STARTED, flow="metrics_parent_of_failing", trigger="incomingCall") == 1
    assert counts.moved_in_all(STARTED, trigger="incomingParent") == 0
    assert counts.moved_in_all(WIDGET_ERRORS) == 0
    assert counts.moved_in_all(ENDED) == 0


def test_a_failing_step_that_lost_the_race_is_counted_once(
        twilio, store, counts, monkeypatch):
    """The step runs without a claim, fails, and finds the execution moved by another
    request when it writes: it runs again under a claim, which alone counts."""
    call = Call(twilio, "metrics_broken_step")
    call.start()
    real = executions.save_unclaimed
    raced: list[bool] = []

    def racing(db: Database, execution: Execution, new_steps: Any, seen: Any) -> bool:
        other = executions.get(db, execution.sid)
        assert other is not None
        assert executions.claim(db, other, claim_for=10)
        assert executions.save(db, other, [])
        raced.append(True)
        return real(db, execution, new_steps, seen)

    monkeypatch.setattr(executions, "save_unclaimed", racing)
    assert spoken(call.step("menu", Digits="1")) == VOICE_APOLOGY
    assert raced == [True]
    assert counts.moved(WIDGET_ERRORS, flow="metrics_broken_step", widget="say-play") == 1
    assert counts.moved(ENDED, flow="metrics_broken_step", reason="failed") == 1
    assert counts.moved_in_all(ENDED, flow="metrics_broken_step") == 1


def test_no_contact_or_sid_becomes_a_label(app, twilio, counts):
    call = Call(twilio, "metrics_menu")
    call.start()
    assert call.status("completed", 0) == 204
    text = app.test_client().get("/metrics", headers=bearer()).get_data(as_text=True)
    assert call.params["From"] not in text
    assert call.sid not in text
    assert "divided_by" not in text


# -- metrics off ----------------------------------------------------------------------------------


def everything_once(twilio: Twilio, store: Store) -> None:
    """Start, fail, end and delete executions every way the counters see."""
    assert spoken(Call(twilio, "metrics_say").start()) == "Hello."
    assert spoken(Call(twilio, "metrics_bad_liquid").start()) == VOICE_APOLOGY
    assert spoken(Call(twilio, "metrics_flex").start()) == "No agent today."
    twilio.post("/flows/metrics_parent", message_params(From=contact()))
    hung_up, ended = Call(twilio, "metrics_menu"), Call(twilio, "metrics_menu")
    hung_up.start()
    ended.start()
    assert hung_up.status("completed", 0) == 204
    assert executions.end_execution(store, execution_of(store, ended).sid) is not None
    assert executions.delete_execution(store, execution_of(store, ended).sid)
    Call(twilio, "metrics_purge").start()
    executions.purge_executions(store, now=datetime.now(UTC) + timedelta(days=31))


def test_with_metrics_off_the_flows_run_and_nothing_is_counted(
        app, twilio, store, counts, monkeypatch):
    monkeypatch.setattr(metrics, "_instruments_made", None)  # no app registered metrics
    everything_once(twilio, store)
    monkeypatch.undo()
    for name in (STARTED, ENDED, WIDGET_ERRORS):
        assert counts.moved_in_all(name) == 0


def test_an_app_without_the_metrics_token_runs_flows_and_serves_no_metrics(sqlite_url):
    plain = clean_app(sqlite_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False)
    plain.register_blueprint(studio_blueprint(FLOWS))
    try:
        assert register_metrics(plain) is None
        assert spoken(Call(Twilio(plain.test_client()), "metrics_say").start()) == "Hello."
        assert plain.test_client().get("/metrics", headers=bearer()).status_code == 404
    finally:
        plain.extensions["switchboard"].store.close()


def test_counting_that_fails_never_stops_a_flow(twilio, store, monkeypatch, caplog):
    """The multiprocess folder gone: the counts are lost, said once, and the flows run."""

    class Gone:
        def labels(self, *values: str) -> Gone:
            return self

        def inc(self, amount: float = 1) -> None:
            raise FileNotFoundError(2, "No such file or directory")

    class Instruments:
        flows_started = flows_ended = widget_errors = Gone()

    monkeypatch.setattr(metrics, "_instruments_made", Instruments())
    monkeypatch.setattr(metrics, "_warned_flow_count_failed", False)
    with caplog.at_level(logging.ERROR, logger="switchboard"):
        everything_once(twilio, store)
    lost = [r for r in caplog.records if r.getMessage().startswith("metrics not counted")]
    assert len(lost) == 1
    assert "PROMETHEUS_MULTIPROC_DIR" in lost[0].getMessage()


# -- a run whose execution ended while it held its claim ----------------------------------------


@pytest.mark.parametrize("flow", ["metrics_say", "metrics_parent_of_failing"])
def test_a_run_whose_call_ended_while_it_held_the_claim_counts_the_end_once(
        twilio, store, counts, monkeypatch, flow):
    """The call's status callback ends the execution while a run holds its claim; the run
    ends it too, and its write only releases the claim: the end is the callback's
    (``call_ended``), and the run counts nothing of its own, neither an end nor a widget's
    failure nor a subflow it entered."""
    real = executions.save
    ended_meanwhile: list[int] = []

    def after_the_call_ended(db: Database, execution: Execution, new_steps: Any) -> bool:
        ended_meanwhile.append(executions.end_call_executions(store, execution.call_sid,
                                                              "completed"))
        return real(db, execution, new_steps)

    monkeypatch.setattr(executions, "save", after_the_call_ended)
    call = Call(twilio, flow)
    call.start()
    assert ended_meanwhile == [1]
    assert execution_of(store, call).status == "ended"
    assert counts.moved(ENDED, flow=flow, reason="call_ended") == 1
    assert counts.moved_in_all(ENDED) == 1
    assert counts.moved_in_all(STARTED, trigger="incomingParent") == 0
    assert counts.moved_in_all(WIDGET_ERRORS) == 0
