"""Executions, steps and context in the store, on SQLite and PostgreSQL: Studio's shape, one
active execution per flow and contact held by the database (threads and processes at once),
claims, a call's executions ending with the call, the purge, and due timeouts shared out."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.executions import (
    AlreadyActive,
    Database,
    Execution,
    Step,
)
from tests.conftest import _fresh_postgres_url

FLOW = "FW" + "a" * 32


def execution(contact: str = "+15550001", key: str = "messaging", **fields: Any) -> Execution:
    sid = executions.new_sid("FN")
    return Execution(
        sid=sid, flow_sid=fields.pop("flow_sid", FLOW), flow_name="demo",
        contact_channel_address=contact, channel_address="+15559990000",
        channel=fields.pop("channel", "messaging"), active_key=key,
        context={"flow": {"flow_sid": FLOW, "sid": sid}, "widgets": {}}, **fields,
    )


@pytest.fixture
def store(database_url: str) -> Any:
    made = Store(database_url)
    made.create_all()
    yield made
    made.close()


@pytest.fixture
def db(store: Store) -> Database:
    return Database(store)


def test_the_stores_create_all_makes_the_tables_in_studios_shape(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    names = set(inspector.get_table_names())
    assert {"studio_executions", "studio_steps"} <= names
    columns = {c["name"] for c in inspector.get_columns("studio_executions")}
    assert {"sid", "flow_sid", "contact_channel_address", "status", "context", "date_created",
            "date_updated"} <= columns
    step_columns = {c["name"] for c in inspector.get_columns("studio_steps")}
    assert {"sid", "execution_sid", "flow_sid", "name", "transitioned_from", "transitioned_to",
            "context", "date_created", "date_updated"} <= step_columns
    indexes = {i["name"]: i for i in inspector.get_indexes("studio_executions")}
    assert indexes["uq_studio_executions_active"]["unique"]


def test_an_execution_and_its_steps_round_trip(db: Database, store: Store) -> None:
    made = executions.create(db, execution(), claim_for=10)
    assert made.sid.startswith("FN")
    assert len(made.sid) == 34
    made.context["widgets"]["ask"] = {"inbound": {"Body": "héllo"}}
    made.step_count = 2
    made.widget, made.waiting_for = "ask", "reply"
    steps = [Step("incomingMessage", "Trigger", "ask", FLOW, "trigger"),
             Step("incomingMessage", "ask", "Ended", FLOW, "send-and-wait-for-reply",
                  {"inbound": {"Body": "héllo"}})]
    assert executions.save(db, made, steps)
    (stored,) = executions.list_executions(store, flow_sid=FLOW)
    assert stored.as_resource()["context"]["widgets"]["ask"]["inbound"]["Body"] == "héllo"
    assert (stored.status, stored.widget, stored.waiting_for) == ("active", "ask", "reply")
    assert stored.date_created.tzinfo is not None
    listed = executions.list_steps(store, made.sid)
    assert [(s["seq"], s["name"], s["transitioned_from"], s["transitioned_to"])
            for s in listed] == [(1, "incomingMessage", "Trigger", "ask"),
                                 (2, "incomingMessage", "ask", "Ended")]
    assert listed[1]["sid"].startswith("FT")
    assert listed[1]["context"] == {"inbound": {"Body": "héllo"}}


def test_one_active_execution_per_flow_and_contact(db: Database, store: Store) -> None:
    first = executions.create(db, execution(), claim_for=10)
    with pytest.raises(AlreadyActive):
        executions.create(db, execution(), claim_for=10)
    executions.create(db, execution(contact="+15550002"), claim_for=10)
    executions.create(db, execution(flow_sid="FW" + "b" * 32), claim_for=10)
    executions.create(db, execution(key="call:CA1", channel="voice"), claim_for=10)
    first.status = "ended"
    executions.save(db, first, [])
    again = executions.create(db, execution(), claim_for=10)
    assert executions.find_active(db, FLOW, "+15550001", "messaging").sid == again.sid


def create_in_a_process(url: str, start: Any, results: Any) -> None:
    """One process's attempt (spawned: module level)."""
    store = Store(url)
    db = Database(store)
    start.wait(20)
    try:
        executions.create(db, execution(contact="+15550099"), claim_for=10)
        results.put("created")
    except AlreadyActive:
        results.put("refused")
    finally:
        store.close()


def test_executions_made_at_once_by_threads_and_processes_leave_one(
    db: Database, store: Store, database_url: str,
) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait(10)
        try:
            executions.create(db, execution(contact="+15550077"), claim_for=10)
            outcomes.append("created")
        except AlreadyActive:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["created"] + ["refused"] * 7

    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=create_in_a_process, args=(database_url, start, results))
                 for _ in range(3)]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(60)
    assert sorted(results.get(timeout=5) for _ in processes) == ["created", "refused", "refused"]
    active = [e for e in executions.list_executions(store, status="active")
              if e.contact_channel_address in ("+15550077", "+15550099")]
    assert len(active) == 2


def test_a_claim_is_held_until_released_or_expired(store: Store) -> None:
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    db = Database(store, clock=lambda: now[0])
    made = executions.create(db, execution(), claim_for=10)
    other = executions.find_active(db, FLOW, "+15550001", "messaging")
    assert not executions.claim(db, other, claim_for=10)
    executions.release(db, made)
    assert executions.claim(db, other, claim_for=10)
    now[0] += timedelta(seconds=11)
    third = executions.get(db, made.sid)
    assert executions.claim(db, third, claim_for=10)
    other.step_count = 5
    assert not executions.save(db, other, [Step("x", "a", "b", FLOW)])
    assert executions.get(db, made.sid).step_count == 0
    assert executions.list_steps(store, made.sid) == []


def test_claim_waiting_gives_up_at_its_limit(db: Database) -> None:
    made = executions.create(db, execution(), claim_for=30)
    with pytest.raises(executions.ClaimTimeout):
        executions.claim_waiting(db, executions.get(db, made.sid), claim_for=10,
                                 until=time.monotonic() + 0.2)


def test_end_call_executions_ends_only_that_calls(db: Database, store: Store) -> None:
    call = executions.create(db, execution(key="call:CA1", channel="voice", call_sid="CA1"),
                             claim_for=10)
    executions.release(db, call)
    other = executions.create(
        db, execution(contact="+15550003", key="call:CA2", channel="voice", call_sid="CA2"),
        claim_for=10)
    assert executions.end_call_executions(store, "CA1") == 1
    assert executions.end_call_executions(store.engine, "CA1") == 0
    assert executions.get(db, call.sid).status == "ended"
    assert executions.get(db, call.sid).active_key is None
    assert executions.get(db, other.sid).status == "active"
    other.step_count = 1
    executions.save(db, other, [])
    executions.end_call_executions(store, "CA2")
    assert executions.get(db, other.sid).status == "ended"


def test_a_call_without_an_execution_ends_without_waiting_for_the_writer(
    database_url: str, tmp_path: Any
) -> None:
    """Every call's final status callback asks to end its executions; most calls run no flow.
    Those are answered by a read, which does not queue behind another process's write."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single writer")
    patient = Store(database_url, busy_timeout=2.0)
    patient.create_all()
    call = executions.create(Database(patient),
                             execution(key="call:CA1", channel="voice", call_sid="CA1"),
                             claim_for=10)
    executions.release(Database(patient), call)
    writer = sqlite3.connect(sa.engine.make_url(database_url).database, isolation_level=None,
                             check_same_thread=False)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        assert executions.end_call_executions(patient, "CA-no-flow", "completed") == 0
        assert time.monotonic() - started < 1.0
        threading.Timer(0.3, writer.execute, ("COMMIT",)).start()
        assert executions.end_call_executions(patient, "CA1", "completed") == 1
    finally:
        time.sleep(0.35)
        writer.close()
        patient.close()


def test_progress_written_after_the_call_ended_leaves_it_ended(db: Database) -> None:
    running = executions.create(
        db, execution(key="call:CA9", channel="voice", call_sid="CA9"), claim_for=10)
    executions.end_call_executions(db.engine, "CA9")
    running.widget, running.step_count = "menu", 1
    assert executions.save(db, running, [Step("keypress", "menu", "next", FLOW)])
    stored = executions.get(db, running.sid)
    assert (stored.status, stored.claim) == ("ended", None)
    assert len(executions.list_steps(db.engine, running.sid)) == 1


def test_purge_deletes_old_executions_with_their_steps(store: Store) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    db = Database(store, clock=lambda: now[0])
    old = executions.create(db, execution(), claim_for=10)
    old.step_count = 1
    old.status = "ended"
    executions.save(db, old, [Step("incomingMessage", "Trigger", "Ended", FLOW)])
    now[0] += timedelta(days=20)
    recent = executions.create(db, execution(contact="+15550004"), claim_for=10)
    later = now[0] + timedelta(days=15)
    assert executions.purge_executions(store, now=later) == 1
    assert executions.get(db, old.sid) is None
    assert executions.list_steps(store, old.sid) == []
    assert executions.get(db, recent.sid) is not None
    assert executions.purge_executions(store, timedelta(days=1), now=later) == 1
    assert timedelta(days=30) == executions.DEFAULT_RETENTION


def test_due_timeouts_are_shared_out_between_workers(store: Store) -> None:
    now = datetime.now(UTC)
    db = Database(store)
    made = []
    for index in range(20):
        item = executions.create(db, execution(contact=f"+1555100{index:04d}"), claim_for=10)
        item.widget, item.waiting_for = "ask", "reply"
        item.wait_until = now - timedelta(seconds=1)
        executions.save(db, item, [])
        made.append(item.sid)
    later = executions.create(db, execution(contact="+15552000000"), claim_for=10)
    later.widget, later.waiting_for = "ask", "reply"
    later.wait_until = now + timedelta(hours=1)
    executions.save(db, later, [])
    taken: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait(10)
        while True:
            batch = executions.claim_due(db, claim_for=30, limit=3)
            if not batch:
                return
            with lock:
                taken.extend(e.sid for e in batch)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == sorted(made)
    assert executions.claim_due(db, claim_for=30) == []


@pytest.fixture
def postgresql_store(postgres_server_url: str) -> Iterator[Store]:
    """A store on a PostgreSQL database of its own (for what only PostgreSQL has: row
    locks)."""
    for url in _fresh_postgres_url(postgres_server_url):
        made = Store(url)
        made.create_all()
        try:
            yield made
        finally:
            made.close()


def test_a_due_execution_whose_steps_are_being_written_is_claimed_all_the_same(
        postgresql_store: Store) -> None:
    """A step row going in (the write-behind's insert after a webhook, which locks its
    execution's key) does not hide the execution from the timers: they pick it ``FOR NO KEY
    UPDATE``, which such an insert does not block, where ``FOR UPDATE SKIP LOCKED`` would
    skip it."""
    now = datetime.now(UTC)
    db = Database(postgresql_store, clock=lambda: now)
    waiting = executions.create(db, execution(), claim_for=10)
    waiting.widget, waiting.waiting_for = "ask", "reply"
    waiting.wait_until = now - timedelta(seconds=1)
    executions.save(db, waiting, [])
    with postgresql_store.engine.connect() as other:  # a step being written, not committed
        other.execute(executions.steps.insert().values(
            sid=executions.new_sid("FT"), execution_sid=waiting.sid, flow_sid=FLOW, seq=1,
            name="incomingMessage", transitioned_from="Trigger", transitioned_to="ask",
            context="{}", date_created=now, date_updated=now))
        claimed = executions.claim_due(db, claim_for=10)
        other.rollback()
    assert [taken.sid for taken in claimed] == [waiting.sid]


def test_a_table_dropped_under_the_running_server_is_made_again(store: Store) -> None:
    db = Database(store)
    executions.create(db, execution(), claim_for=10)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE studio_steps"))
        conn.execute(sa.text("DROP TABLE studio_executions"))
    assert executions.find_active(db, FLOW, "+15550001", "messaging") is None
    executions.create(db, execution(), claim_for=10)
