"""The purge of idle sessions runs off the request's thread, and never waits on PostgreSQL.

In the request, right after a session save, it would run under the handler's deadline: a
deadline passing inside it would raise :class:`HandlerTimeout` out of ``save_voice_session``,
and the caller would hear the apology for a session that was saved. On PostgreSQL it skips
the rows another transaction holds (another worker's purge, a session being saved): a
``DELETE ... IN (SELECT ... LIMIT 500)`` would wait for each of them, and two purges choosing
rows in another order could deadlock."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from switchboard.callbacks.deadline import Deadline
from switchboard.callbacks.store import Store, schema
from tests.forking import wait_child

from .conftest import FakeClock


def wait_for_purge(store: Store, timeout: float = 10.0) -> None:
    """Until the purge thread a save started (if any) is done."""
    purger = getattr(store, "_purger", None)  # None: the purge ran in the save
    if purger is not None:
        purger.join(timeout)
        assert not purger.is_alive(), "the purge never ended"


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


#: How long a handler may take in these tests: far more than a save needs on a loaded machine.
DEADLINE = 5.0


class HeldDeletes:
    """Holds each DELETE ``engine`` runs until :meth:`let_go` (``DEADLINE`` * 4 at most), so
    that a purge lasts as long as the test wants; remembers the threads that ran one."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.threads: list[str] = []
        self._gate = threading.Event()

    def __enter__(self) -> HeldDeletes:
        event.listen(self.engine, "before_cursor_execute", self._hold)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.let_go()
        event.remove(self.engine, "before_cursor_execute", self._hold)

    def let_go(self) -> None:
        self._gate.set()

    def _hold(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            self.threads.append(threading.current_thread().name)
            self._gate.wait(DEADLINE * 4)


def test_a_deadline_passing_in_the_purge_does_not_fail_the_save(
    store: Store, clock: FakeClock
) -> None:
    store.save_voice_session("CA-old", {"step": 1})
    wait_for_purge(store)
    clock.advance(days=2)
    store.session_purge_every = 0  # it is time for the next purge
    deadline = Deadline(DEADLINE)  # SIGALRM, as in a sync worker

    with HeldDeletes(store.engine) as held:
        # a purge in the save would last until the deadline passed in it: HandlerTimeout
        deadline.run(lambda: store.save_voice_session("CA-new", {"step": 2}))
        assert store._purger is not None
        assert store._purger.is_alive()  # held, not waited for
        assert store.load_voice_session("CA-new") == {"step": 2}
        held.let_go()
        wait_for_purge(store)
    assert held.threads  # the purge ran...
    assert threading.current_thread().name not in held.threads  # ...in another thread
    assert count(store, schema.voice_sessions) == 1  # CA-old purged all the same
    assert store._purging.acquire(blocking=False), "the purge lock stayed held"
    store._purging.release()


def test_a_failing_purge_is_logged_and_the_next_round_runs(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store.save_voice_session("CA-old", {})
    wait_for_purge(store)
    clock.advance(days=2)
    store.session_purge_every = 0

    def fail(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            raise ValueError("no purge today")

    event.listen(store.engine, "before_cursor_execute", fail)
    try:
        store.save_voice_session("CA-new", {})  # the save itself is not affected
        wait_for_purge(store)
    finally:
        event.remove(store.engine, "before_cursor_execute", fail)
    assert "idle sessions not purged" in caplog.text
    store.save_voice_session("CA-new", {})
    wait_for_purge(store)
    assert count(store, schema.voice_sessions) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_purge_skips_rows_another_transaction_holds(
    store: Store, clock: FakeClock
) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.voice_sessions.insert(), [
            {"call_sid": f"CA{n}", "data": "{}", "updated_at": clock.now} for n in range(20)
        ])
    clock.advance(days=2)
    other = store.engine.connect()
    holder = other.begin()
    other.execute(  # another worker's purge, or a save, holds one of the idle rows
        sa.select(schema.voice_sessions).where(schema.voice_sessions.c.call_sid == "CA7")
        .with_for_update()
    )
    result: list[int] = []
    purge = threading.Thread(target=lambda: result.append(store.purge_voice_sessions()))
    try:
        purge.start()
        purge.join(DEADLINE * 4)  # a purge waiting for the row would wait until the rollback
        assert not purge.is_alive(), "the purge waited for a row another transaction holds"
        assert result == [19]
    finally:
        holder.rollback()
        other.close()
        purge.join(10)
    assert store.purge_voice_sessions() == 1  # the row held is purged next time


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_purges_of_several_processes_at_once_share_the_work(
    database_url: str, clock: FakeClock
) -> None:
    stores = [Store(database_url, clock=clock) for _ in range(4)]
    try:
        stores[0].create_all()
        with stores[0].engine.begin() as conn:
            conn.execute(schema.sms_sessions.insert(), [
                {"from": f"+1{n}", "to": "+1999", "data": "{}", "updated_at": clock.now}
                for n in range(3000)
            ])
        clock.advance(days=1)
        counts: list[int] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(stores))

        def purge(store: Store) -> None:
            barrier.wait()
            try:
                counts.append(store.purge_sms_sessions())
            except BaseException as error:  # a deadlock, a lock timeout
                errors.append(error)

        threads = [threading.Thread(target=purge, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors
        assert sum(counts) == 3000
        assert count(stores[0], schema.sms_sessions) == 0
    finally:
        for store in stores:
            store.close()


def test_a_child_forked_while_a_purge_runs_purges_too(store: Store) -> None:
    """The purge's lock, held by a thread of the parent at the fork, is free in the child
    (no thread there would ever release it: the child would never purge)."""
    assert store._purging.acquire(blocking=False)  # a purge running in the parent
    try:
        pid = os.fork()
        if pid == 0:  # the child: answers by its exit code, and exits at once whatever happens
            code = 2  # an error in the child
            try:
                free = store._purging.acquire(blocking=False)
                code = 0 if free and store._purger is None else 1
            finally:
                os._exit(code)
        code = wait_child(pid)
    finally:
        store._purging.release()
    assert code != 1, "the purge's lock was still held in the child, or a purge thread was left"
    assert code == 0, f"the child failed (exit {code})"


def test_the_caller_hears_the_handler_not_the_apology_when_the_purge_is_slow(
    database_url: str,
) -> None:
    """Through the app, under a SIGALRM deadline (as in gunicorn's sync workers)."""
    from switchboard.callbacks.handlers import TwilioBlueprint
    from switchboard.callbacks.twiml import VoiceResponse
    from tests.server.conftest import Twilio, call_params, make_app

    bp = TwilioBlueprint("mine", __name__)

    @bp.voice("/voice")
    def hello(call):  # type: ignore[no-untyped-def]
        call.session["visits"] = call.session.get("visits", 0) + 1
        return VoiceResponse().say("Hello from the handler")

    app = make_app(database_url, BUNDLED_FLOWS=False, SWITCHBOARD_HANDLER_TIMEOUT=str(DEADLINE))
    app.register_blueprint(bp)
    store: Store = app.extensions["switchboard"].store

    try:
        with HeldDeletes(store.engine) as held:  # the purge lasts until the caller has heard
            params = call_params()
            response = Twilio(app.test_client()).post("/voice", params)  # the first purge
            assert response.status_code == 200
            assert b"Hello from the handler" in response.data
            assert store.load_voice_session(params["CallSid"]) == {"visits": 1}
            held.let_go()
            wait_for_purge(store)
        assert held.threads, "no purge ran"
        assert threading.current_thread().name not in held.threads  # not the request's thread
    finally:
        store.close()
