"""A call's step moved without a claim, on SQLite and PostgreSQL: the execution read, the
widgets run, and the progress written in one statement if nobody moved it meanwhile; a widget
that acts outside the database (an HTTP request) runs once, under a claim; a step that lost
the race runs again under a claim, or is told it came too late; the steps themselves written
after the answer and seen by every reader."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest
import sqlalchemy as sa
from flask import Flask

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.executions import Database, Execution, Step
from tests.conftest import serving
from tests.server.conftest import Twilio, call_params, clean_app, spoken, twiml, verbs
from tests.studio import widget


def trigger(first: str) -> dict[str, Any]:
    return {"name": "Trigger", "type": "trigger", "properties": {},
            "transitions": [{"event": "incomingCall", "next": first},
                            {"event": "incomingMessage"}, {"event": "incomingRequest"}]}


def gather(name: str, text: str, keypress: str | None) -> dict[str, Any]:
    return widget(name, "gather-input-on-call", {"say": text, "number_of_digits": 1},
                  keypress=keypress, speech=keypress, timeout=name)


def say(name: str, text: str, after: str | None) -> dict[str, Any]:
    return widget(name, "say-play", {"say": text}, audioComplete=after)


def split(name: str, on: str, to: str) -> dict[str, Any]:
    return widget(name, "split-based-on", {"input": on}, noMatch=to)


def definition(*states: dict[str, Any]) -> dict[str, Any]:
    return {"description": "steps", "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [trigger(states[0]["name"]), *states]}


DEFINITIONS = {
    # the menu, a split, a say, then a second question: a step of the menu is local work only
    "local": definition(
        gather("menu", "Press a key.", "route"),
        split("route", "{{widgets.menu.Digits}}", "pressed"),
        say("pressed", "You pressed {{widgets.menu.Digits}}.", "confirm"),
        gather("confirm", "Press 1 to confirm.", None),
    ),
    # the menu, then an HTTP request: a step of the menu acts outside the database
    "hook": definition(
        gather("menu", "Press a key.", "fetch"),
        widget("fetch", "make-http-request", {
            "method": "POST", "url": "http://SERVICE/hook", "content_type":
            "application/x-www-form-urlencoded;charset=utf-8",
            "parameters": [{"key": "digits", "value": "{{widgets.menu.Digits}}"}],
        }, success="done", failed="done"),
        say("done", "The service said {{widgets.fetch.status_code}}.", None),
    ),
    # the menu, then a say whose text cannot be made: the execution ends with an error
    "broken": definition(
        gather("menu", "Press a key.", "sorry"),
        say("sorry", "{{ 1 | divided_by: 0 }}", None),
    ),
}

SERVICE = flask.Flask("hook-service")
HITS: list[dict[str, str]] = []


@SERVICE.post("/hook")
def hook() -> str:
    HITS.append(dict(flask.request.form))
    return "ok"


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    with serving(SERVICE) as url:
        yield url



@pytest.fixture(scope="module")
def app(module_database_url: str, service: str) -> Iterator[Flask]:
    text = json.dumps(DEFINITIONS).replace("http://SERVICE", service)
    flows = {name: Flow(name, body, f"{name}.json") for name, body in json.loads(text).items()}
    application = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                            SWITCHBOARD_RECORD_DELAY="0.05")
    application.register_blueprint(studio_blueprint(flows))
    yield application
    application.extensions["switchboard"].store.close()




class Calls:
    """Counts the claims taken by the runtime (``executions.claim_call``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.claims = 0
        real = executions.claim_call

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.claims += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(executions, "claim_call", counted)


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> Calls:
    return Calls(monkeypatch)


@pytest.fixture(autouse=True)
def _no_hits() -> None:
    HITS.clear()


def start(twilio: Twilio, flow: str) -> dict[str, str]:
    params = call_params(From="+1555" + str(uuid.uuid4().int)[:7])
    assert verbs(twiml(twilio.post(f"/flows/{flow}", params))) == ["Gather", "Redirect"]
    return params


def step(twilio: Twilio, flow: str, params: dict[str, str], widget_name: str = "menu",
         **extra: str) -> Any:
    return twilio.post(f"/flows/{flow}/step/{widget_name}/gather",
                       {**params, "Digits": "7", **extra})


def the_execution(store: Store, params: dict[str, str]) -> Execution:
    (found,) = [e for e in executions.list_executions(store) if e.call_sid == params["CallSid"]]
    return found


def moves(store: Store, execution: Execution) -> list[tuple[str, str]]:
    return [(s["transitioned_from"], s["transitioned_to"])
            for s in executions.list_steps(store, execution.sid)]


# -- through the app ----------------------------------------------------------------------------


def test_a_step_through_local_widgets_takes_no_claim(twilio, store, claims) -> None:
    params = start(twilio, "local")
    root = twiml(step(twilio, "local", params))
    assert "You pressed 7." in spoken(root)
    assert root.find("Gather").get("action").endswith("/flows/local/step/confirm/gather")
    assert claims.claims == 0
    execution = the_execution(store, params)
    assert (execution.widget, execution.step_count) == ("confirm", 4)
    assert execution.claim is None
    assert moves(store, execution) == [
        ("Trigger", "menu"), ("menu", "route"), ("route", "pressed"), ("pressed", "confirm")]


def test_a_widget_that_acts_outside_runs_once_under_a_claim(twilio, store, claims) -> None:
    params = start(twilio, "hook")
    root = twiml(step(twilio, "hook", params))
    assert spoken(root) == "The service said 200."
    assert HITS == [{"digits": "7"}]  # once: the run without a claim stopped before it
    assert claims.claims == 1
    execution = the_execution(store, params)
    assert execution.status == "ended"
    assert moves(store, execution) == [
        ("Trigger", "menu"), ("menu", "fetch"), ("fetch", "done"), ("done", "Ended")]


def test_a_step_that_lost_the_race_runs_again_under_a_claim(
        twilio, store, claims, monkeypatch) -> None:
    """Another request moves the execution between this one's read and its write (here: the
    menu asked again, as a Gather's timeout would): the write finds it changed, writes
    nothing, and the step runs again on the execution as it now stands."""
    params = start(twilio, "local")
    real = executions.save_unclaimed

    def raced(db: Database, execution: Execution, new_steps: Any, seen: Any) -> bool:
        other = executions.get(db, execution.sid)
        assert other is not None
        assert executions.claim(db, other, claim_for=10)
        other.step_count += 1
        assert executions.save(db, other, [Step("timeout", "menu", "menu", other.flow_sid,
                                                "gather-input-on-call")])
        return real(db, execution, new_steps, seen)

    monkeypatch.setattr(executions, "save_unclaimed", raced)
    root = twiml(step(twilio, "local", params))
    assert "You pressed 7." in spoken(root)
    assert claims.claims == 1
    execution = the_execution(store, params)
    assert (execution.widget, execution.step_count) == ("confirm", 5)
    assert moves(store, execution) == [
        ("Trigger", "menu"), ("menu", "menu"), ("menu", "route"), ("route", "pressed"),
        ("pressed", "confirm")]


def test_a_failing_step_that_lost_the_race_logs_its_error_once(
        twilio, store, claims, monkeypatch, caplog) -> None:
    """The run without a claim holds back what it has to log until its progress is
    written; when it loses the race, the run under a claim logs it, once."""
    params = start(twilio, "broken")
    real = executions.save_unclaimed

    def raced(db: Database, execution: Execution, new_steps: Any, seen: Any) -> bool:
        other = executions.get(db, execution.sid)
        assert other is not None
        assert executions.claim(db, other, claim_for=10)
        assert executions.save(db, other, [])
        return real(db, execution, new_steps, seen)

    monkeypatch.setattr(executions, "save_unclaimed", raced)
    with caplog.at_level("INFO", logger="switchboard"):
        root = twiml(step(twilio, "broken", params))
    assert spoken(root) == VOICE_APOLOGY
    assert claims.claims == 1
    ends = [r for r in caplog.records if "can't divide by 0" in r.getMessage()]
    assert len(ends) == 1, [r.getMessage() for r in ends]
    assert ends[0].levelname == "ERROR"
    assert "widget sorry (say-play)" in ends[0].getMessage()
    assert the_execution(store, params).status == "ended"


def test_a_failing_step_that_won_logs_its_error_once(twilio, store, claims, caplog) -> None:
    params = start(twilio, "broken")
    with caplog.at_level("INFO", logger="switchboard"):
        root = twiml(step(twilio, "broken", params))
    assert spoken(root) == VOICE_APOLOGY
    assert claims.claims == 0
    assert len([r for r in caplog.records if "can't divide by 0" in r.getMessage()]) == 1
    assert the_execution(store, params).status == "ended"


def test_the_same_step_sent_at_once_moves_the_execution_once(app, store) -> None:
    """Twilio retrying a Gather's action while the first is still being answered: one request
    moves the execution, the others find it gone past the menu and apologise."""
    params = start(Twilio(app.test_client()), "local")
    barrier = threading.Barrier(6)
    answers: list[Any] = []

    def send() -> None:
        twilio = Twilio(app.test_client())
        barrier.wait()
        answers.append(twiml(step(twilio, "local", params)))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    moved = [root for root in answers if "You pressed 7." in spoken(root)]
    sorry = [root for root in answers if VOICE_APOLOGY in spoken(root)]
    assert (len(answers), len(moved), len(sorry)) == (6, 1, 5)
    execution = the_execution(store, params)
    assert (execution.widget, execution.step_count) == ("confirm", 4)
    assert len(moves(store, execution)) == 4


def test_a_call_that_ended_meanwhile_stays_ended(twilio, store, claims, monkeypatch) -> None:
    params = start(twilio, "local")
    real = executions.save_unclaimed

    def ended_first(db: Database, execution: Execution, new_steps: Any, seen: Any) -> bool:
        assert executions.end_call_executions(db.store, params["CallSid"], "completed") == 1
        return real(db, execution, new_steps, seen)

    monkeypatch.setattr(executions, "save_unclaimed", ended_first)
    root = twiml(step(twilio, "local", params))
    assert VOICE_APOLOGY in spoken(root)  # the claimed run finds no active execution
    execution = the_execution(store, params)
    assert (execution.status, execution.step_count) == ("ended", 1)


def test_the_steps_written_after_the_answer_are_seen_by_every_reader(
        app, twilio, store, module_database_url) -> None:
    params = start(twilio, "local")
    twiml(step(twilio, "local", params))
    execution = the_execution(store, params)
    assert len(executions.list_steps(store, execution.sid)) == 4  # this process: flushed
    store.flush()
    other = Store(module_database_url)  # another process's view of the database
    try:
        listed = executions.list_steps(other, execution.sid)
    finally:
        other.close()
    assert [s["seq"] for s in listed] == [1, 2, 3, 4]
    assert all(s["sid"].startswith("FT") and len(s["sid"]) == 34 for s in listed)


def test_a_webhooks_steps_wait_for_the_thread_a_timers_go_in_with_the_execution(
        module_database_url: str, service: str) -> None:
    """Under a webhook the answer does not wait for the steps; without one (a timer, a
    command) they are written with the execution, so that a process killed just after has
    written them too."""
    text = json.dumps(DEFINITIONS).replace("http://SERVICE", service)
    flows = {name: Flow(name, body, f"{name}.json") for name, body in json.loads(text).items()}
    app = clean_app(module_database_url, BUNDLED_FLOWS=False, STUDIO_FLOWS=False,
                    SWITCHBOARD_RECORD_DELAY="5")  # nothing written by the thread meanwhile
    app.register_blueprint(studio_blueprint(flows))
    store = app.extensions["switchboard"].store
    other = Store(module_database_url)  # another process's view of the database
    try:
        params = start(Twilio(app.test_client()), "local")
        execution = the_execution(other, params)
        assert (execution.widget, execution.step_count) == ("menu", 1)
        assert executions.list_steps(other, execution.sid) == []
        assert store.rows_waiting >= 1
        store.flush()
        assert len(executions.list_steps(other, execution.sid)) == 1

        db = Database(store)  # no webhook: a timer's move
        moving = executions.get(db, execution.sid)
        assert moving is not None
        assert executions.claim(db, moving, claim_for=10)
        moving.step_count += 1
        assert executions.save(db, moving, [Step("timeout", "menu", "menu", moving.flow_sid)])
        assert len(executions.list_steps(other, execution.sid)) == 2  # no flush needed
    finally:
        other.close()
        store.close()


# -- the statements -----------------------------------------------------------------------------


@pytest.fixture
def db(store: Store) -> Database:
    return Database(store)


def waiting(db: Database) -> Execution:
    sid = executions.new_sid("FN")
    made = Execution(sid=sid, flow_sid="FW" + "b" * 32, flow_name="local",
                     contact_channel_address="+15550001111", channel_address="+15559990000",
                     channel="voice", call_sid="CA" + uuid.uuid4().hex, active_key="call:x" + sid,
                     widget="menu", waiting_for="gather", context={"widgets": {}})
    made = executions.create(db, made, claim_for=10)
    assert executions.save(db, made, [])
    found = executions.find_call(db, made.call_sid, made.flow_sid)
    assert found is not None
    return found


def moved(execution: Execution) -> list[Step]:
    execution.context["widgets"]["menu"] = {"Digits": "7"}
    execution.step_count += 1
    return [Step("keypress", "menu", "route", execution.flow_sid, "gather-input-on-call")]


def test_an_unclaimed_write_writes_only_what_changed(db, store) -> None:
    execution = waiting(db)
    seen = (execution.step_count, execution.date_updated)
    assert executions.save_unclaimed(db, execution, moved(execution), seen)
    statement = executions.save_seen(frozenset({"context", "step_count", "date_updated"}))
    assert set(statement.compile().params) >= {"context_", "step_count_", "date_updated_"}
    assert not {"widget_", "call_sid_", "active_key_"} & set(statement.compile().params)
    stored = executions.get(db, execution.sid)
    assert stored is not None
    assert (stored.step_count, stored.widget) == (1, "menu")
    assert stored.context["widgets"]["menu"] == {"Digits": "7"}


def test_an_unclaimed_write_loses_to_a_claim_held_and_wins_over_one_run_out(db) -> None:
    execution = waiting(db)
    seen = (execution.step_count, execution.date_updated)
    holder = executions.get(db, execution.sid)
    assert holder is not None
    assert executions.claim(db, holder, claim_for=10)
    assert not executions.save_unclaimed(db, execution, moved(execution), seen)
    assert executions.get(db, execution.sid).step_count == 0
    later = datetime.now(UTC) + timedelta(seconds=30)  # the holder's claim has run out
    late = Database(db.store, clock=lambda: later)
    assert executions.save_unclaimed(late, execution, [], seen)
    stored = executions.get(db, execution.sid)
    assert (stored.step_count, stored.claim) == (1, None)
    assert not executions.save(db, holder, [])  # the holder's claim is gone with it


def test_an_unclaimed_write_loses_to_a_move_in_between(db) -> None:
    execution = waiting(db)
    seen = (execution.step_count, execution.date_updated)
    other = executions.get(db, execution.sid)
    assert executions.claim(db, other, claim_for=10)
    other.step_count = 1
    assert executions.save(db, other, [Step("timeout", "menu", "menu", other.flow_sid)])
    assert not executions.save_unclaimed(db, execution, moved(execution), seen)
    assert len(executions.list_steps(db.store, execution.sid)) == 1


def test_a_calls_execution_is_found_by_the_calls_index_on_sqlite(tmp_path) -> None:
    """SQLite's planner, without statistics, would walk the flow's executions by date."""
    store = Store(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    try:
        store.create_all()
        sql = str(executions.FIND_CALL.compile(dialect=store.engine.dialect))
        with store.engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}",
                                        ("CA1", "active", "FW1", 1, 0)).all()
    finally:
        store.close()
    assert "ix_studio_executions_call" in " ".join(str(row[-1]) for row in plan)


def test_new_sids_sort_in_the_order_they_were_made() -> None:
    made = [executions.new_sid("FT") for _ in range(2000)]
    assert all(len(sid) == 34 and sid.startswith("FT") for sid in made)
    assert len(set(made)) == 2000
    assert [sid[:15] for sid in made] == sorted(sid[:15] for sid in made)
    int(made[0][2:], 16)


def test_nothing_is_claimed_in_the_database_by_a_step_without_a_claim(twilio, store) -> None:
    params = start(twilio, "local")
    twiml(step(twilio, "local", params))
    with store.engine.connect() as conn:
        claims = conn.execute(sa.text(
            "SELECT claim FROM studio_executions WHERE call_sid = :sid"),
            {"sid": params["CallSid"]}).scalars().all()
    assert claims == [None]
