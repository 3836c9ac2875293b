"""The store through PgBouncer in transaction mode (``deploy/scale-out/pgbouncer.ini`` as
shipped, started here): every statement run many more times per connection than psycopg's
prepare threshold (5), from two stores of one connection each, so that their transactions
share PgBouncer's server connections; nothing left on a server connection afterwards (no
prepared statement, no setting, no advisory lock); the statement timeout still set from the
budget; ``create_all`` from several processes at once. Without ``?pooler=transaction`` the same
run fails as the issue saw it (``DuplicatePreparedStatement``). And the connection math: the
workers gunicorn runs, the server's ``max_connections``, the warning.

PostgreSQL comes from ``SWITCHBOARD_TEST_POSTGRESQL_URL`` and PgBouncer must be installed;
without either these tests skip, and fail under CI (``CI=true``).
"""

from __future__ import annotations

import logging
import multiprocessing
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from switchboard.callbacks.deadline import Deadline
from switchboard.callbacks.store import Store, StoreUnavailable, schema
from switchboard.callbacks.store import engine as engine_module
from switchboard.callbacks.store.engine import ConnectionBudget, gunicorn_workers, pooler_of
from switchboard.callbacks.studio import executions, flows_store
from switchboard.callbacks.studio.executions import Database, Execution, Step
from switchboard.config import ConfigError, load_settings
from tests.conftest import _fresh_postgres_url, _postgres_base_url
from tests.pgbouncer import PASSWORD, PgBouncer

#: More than psycopg's prepare_threshold (5): a statement run this often on one connection
#: would be prepared on the server.
TIMES = 8
FLOW_DEFINITION = {
    "description": "pooler test", "initial_state": "Trigger", "flags": {},
    "states": [{"name": "Trigger", "type": "trigger", "properties": {"offset": {"x": 0, "y": 0}},
                "transitions": [{"event": "incomingMessage"}, {"event": "incomingCall"},
                                {"event": "incomingRequest"}]}],
}


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    with PgBouncer(_postgres_base_url()) as running:
        yield running


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the test server: its name."""
    for url in _fresh_postgres_url(_postgres_base_url()):
        yield url.rsplit("/", 1)[1]


def stores(url: str, count: int = 2) -> list[Store]:
    """``count`` stores of one connection each (the write-behind off, the breaker off)."""
    made = [Store(url, pool_size=1, max_overflow=0, retry_after=0) for _ in range(count)]
    made[0].create_all()
    return made


def every_operation(store: Store, n: int) -> None:
    """Each of the store's operations once, on rows of round ``n``, checked."""
    call, message, recording = f"CA{n:032x}", f"SM{n:032x}", f"RE{n:032x}"
    caller, us = f"+1555000{n:04d}", "+15559990000"
    store.record_call({"CallSid": call, "From": caller, "To": us, "CallStatus": "ringing"})
    store.record_outbound_call({"sid": call, "from": us, "to": caller, "status": "queued"})
    assert store.record_call_status(
        {"CallSid": call, "CallStatus": "completed", "SequenceNumber": "0"}, f"tok-c{n}")
    assert not store.record_call_status(
        {"CallSid": call, "CallStatus": "completed", "SequenceNumber": "0"}, f"tok-c{n}")
    assert store.get_call(call)["status"] == "completed"
    store.record_message({"MessageSid": message, "From": caller, "To": us, "Body": "hi"})
    store.record_outbound_message({"sid": message, "from": us, "to": caller, "body": "yo"})
    assert store.record_message_status({"MessageSid": message, "MessageStatus": "delivered"})
    assert store.get_message(message)["status"] == "delivered"
    store.record_recording({"RecordingSid": recording, "CallSid": call, "RecordingDuration": "9"})
    assert store.record_recording_status(
        {"RecordingSid": recording, "CallSid": call, "RecordingStatus": "completed"}, f"tok-r{n}")
    assert store.get_recording(recording)["call_sid"] == call
    assert [c["status"] for c in store.status_callbacks(call)] == ["completed"]
    store.save_voice_session(call, {"attempts": n})
    assert store.load_voice_session(call) == {"attempts": n}
    store.save_sms_session(caller, us, {"step": n})
    assert store.load_sms_session(caller, us) == {"step": n}
    store.opt_out(caller, us)
    assert store.is_opted_out(caller, us)
    assert store.is_opted_out(caller)
    store.opt_in(caller, us)
    assert not store.is_opted_out(caller, us)
    store.purge_idle_sessions()
    store.check()
    store.ping()


def every_studio_operation(store: Store, n: int) -> None:
    """Studio's executions, steps and flows, each operation once, checked."""
    db = Database(store)
    sid = executions.new_sid("FN")
    flow = "FW" + f"{n:032x}"
    made = executions.create(db, Execution(
        sid=sid, flow_sid=flow, flow_name="demo", contact_channel_address=f"+1555111{n:04d}",
        channel_address="+15559990000", channel="messaging", active_key="messaging",
        context={"flow": {"flow_sid": flow, "sid": sid}}, widget="ask",
        waiting_for="reply",
        wait_until=db.now() - timedelta(seconds=1)), claim_for=30)
    made.step_count = 1
    assert executions.save(db, made, [Step("incomingMessage", "Trigger", "ask", flow)])
    assert executions.claim(db, made, claim_for=30)
    executions.release(db, made)
    claimed = executions.claim_active(db, flow, f"+1555111{n:04d}", "messaging", claim_for=30)
    assert claimed is not None
    assert claimed.sid == sid
    assert executions.save(db, claimed, [])
    assert executions.claim_call(db, f"CA{n:032x}", flow, claim_for=30) is None
    assert executions.find_active(db, flow, f"+1555111{n:04d}", "messaging") is not None
    assert [e.sid for e in executions.claim_due(db, claim_for=30)] == [sid]
    assert len(executions.list_steps(store, sid)) == 1
    assert executions.end_execution(store, sid) is not None
    stored = flows_store.create_flow(store, friendly_name=f"flow {n}", status="draft",
                                     definition=FLOW_DEFINITION)
    assert flows_store.update_flow(store, stored.sid, status="draft") is not None
    assert flows_store.set_test_users(store, stored.sid, ["+15550001111"]) is not None
    assert flows_store.get_test_users(store, stored.sid) == ["+15550001111"]
    assert flows_store.get_revision(store, stored.sid, 2) is not None
    assert flows_store.delete_flow(store, stored.sid)


def alternately(work: Callable[[Store, int], None], made: list[Store]) -> None:
    """``work`` ``TIMES`` rounds on each store in turn: their transactions interleave on
    PgBouncer's server connections."""
    for n in range(TIMES):
        for index, store in enumerate(made):
            work(store, n * len(made) + index)


def left_on_the_server(bouncer: PgBouncer, database: str) -> list[tuple[Any, ...]]:
    """What PgBouncer's server connections hold once the stores are done: for each (all taken
    at once, so that each client gets a server connection of its own), its prepared
    statements, its statement_timeout and its advisory locks."""
    dsn = (f"host=127.0.0.1 port={bouncer.port} dbname={database} user={bouncer.user} "
           f"password={PASSWORD}")
    found = []
    clients = [psycopg.connect(dsn) for _ in range(4)]
    try:
        for client in clients:
            found.append(client.execute(
                "SELECT pg_backend_pid(), "
                "(SELECT count(*) FROM pg_prepared_statements), "
                "current_setting('statement_timeout'), "
                "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')").fetchone())
    finally:
        for client in clients:
            client.close()
    return found


def test_every_statement_runs_many_times_through_pgbouncer(
    bouncer: PgBouncer, database: str
) -> None:
    url = bouncer.url(database)
    made = stores(url)
    try:
        assert made[0].pooler == "transaction"
        alternately(every_operation, made)
        alternately(every_studio_operation, made)
    finally:
        for store in made:
            store.close()
    leftovers = left_on_the_server(bouncer, database)
    assert len({pid for pid, *_ in leftovers}) == len(leftovers), leftovers  # all different
    for _pid, prepared, timeout, locks in leftovers:
        assert (prepared, timeout, locks) == (0, "0", 0), leftovers


def test_without_the_option_the_pooler_breaks_prepared_statements(
    bouncer: PgBouncer, database: str
) -> None:
    """What the issue saw: psycopg prepares a statement after 5 uses on a connection, and
    PgBouncer lends the server connection to the next client's transaction."""
    made = stores(bouncer.url(database, pooler=None))
    try:
        with pytest.raises(StoreUnavailable, match="prepared statement"):
            alternately(every_operation, made)
    finally:
        for store in made:
            store.close()


def _start_up(url: str) -> None:
    store = Store(url, retry_after=0)
    try:
        store.create_all()
        store.check()
    finally:
        store.close()


def test_processes_starting_at_once_create_the_tables_through_pgbouncer(
    bouncer: PgBouncer, database: str
) -> None:
    """The issue's "the database is unavailable at start-up": gunicorn's master and workers of
    several hosts making sure of the tables at the same moment."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_start_up, args=(bouncer.url(database),))
                 for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * len(processes)


def test_the_statement_timeout_still_ends_a_statement_with_the_budget(
    bouncer: PgBouncer, database: str
) -> None:
    """``SET LOCAL`` inside the transaction: the server cuts a statement at the end of the
    handler's budget, as on a direct connection."""
    store = Store(bouncer.url(database), pool_size=1, max_overflow=0, retry_after=0)
    try:
        store.create_all()
        def sleep() -> None:
            store._run(lambda conn: conn.exec_driver_sql("SELECT pg_sleep(5)"), write=False)

        with pytest.raises(StoreUnavailable, match="statement timeout"):
            Deadline(1.0).run(sleep)
        store.ping()  # the connection (and PgBouncer's) still usable
    finally:
        store.close()
    for _pid, _prepared, timeout, _locks in left_on_the_server(bouncer, database):
        assert timeout == "0"


@pytest.mark.parametrize("through", ["pgbouncer", "direct"])
def test_a_transaction_is_one_transaction_with_its_own_timeout(
    bouncer: PgBouncer, database: str, through: str
) -> None:
    """psycopg begins nothing by itself under ``?pooler=transaction``: the store's ``BEGIN``
    (with ``SET LOCAL statement_timeout``, one round trip) makes each operation one
    transaction, undone as a whole, on the pooler and on a direct connection alike."""
    url = bouncer.url(database) if through == "pgbouncer" else sa.make_url(
        _postgres_base_url()).set(database=database).update_query_dict(
        {"pooler": "transaction"}).render_as_string(hide_password=False)
    store = Store(url, pool_size=1, max_overflow=0, retry_after=0)
    row = {"number": "+15550001111", "sender": "*", "created_at": datetime.now(UTC)}
    seen: list[str] = []
    try:
        store.create_all()

        def with_sqlalchemy(conn: sa.Connection) -> None:
            conn.execute(sa.insert(schema.opt_outs).values(row))
            seen.append(conn.exec_driver_sql("SHOW statement_timeout").scalar_one())
            raise RuntimeError("undone")

        def with_the_driver(cursor: Any) -> None:
            cursor.execute("INSERT INTO opt_outs (number, sender, created_at) "
                           "VALUES (%s, %s, %s)", (row["number"], row["sender"], row["created_at"]))
            seen.append(cursor.execute("SHOW statement_timeout").fetchone()[0])
            raise RuntimeError("undone")

        for run, work in ((store._run, with_sqlalchemy), (store._run_sql, with_the_driver)):
            with pytest.raises(RuntimeError):
                run(work)
            assert not store.is_opted_out(row["number"])
        with pytest.raises(RuntimeError):
            Deadline(5.0).run(lambda: store._run(with_sqlalchemy))
        assert seen == ["30s", "30s", "4s"]
        store.opt_out(row["number"])
        assert store.is_opted_out(row["number"])
    finally:
        store.close()


# -- the URL option ------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "pooler"), [
    ("", "none"), ("?pooler=transaction", "transaction"), ("?pooler=Session", "session"),
    ("?pooler=none&sslmode=disable", "none"),
])
def test_the_pooler_is_named_in_the_url(query: str, pooler: str) -> None:
    store = Store(f"postgresql://u:p@db.internal:6432/switchboard{query}")
    try:
        assert store.pooler == pooler
        assert "pooler" not in store.engine.url.query  # not handed to libpq
    finally:
        store.close()


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://u:p@h/db?pooler=statement", "must be one of none, session, transaction"),
    ("postgresql://u:p@h/db?pooler=transaction&pooler=none", "given once"),
    ("sqlite:////tmp/x.sqlite3?pooler=transaction", "PostgreSQL only"),
])
def test_a_wrong_pooler_option_is_refused(url: str, says: str) -> None:
    with pytest.raises(StoreUnavailable, match=says):
        Store(url)
    with pytest.raises(ConfigError, match=r"SWITCHBOARD_DATABASE_URL: \?pooler="):
        load_settings(overrides={"SWITCHBOARD_DATABASE_URL": url})


def test_the_settings_keep_the_option_and_hide_the_password() -> None:
    settings = load_settings(overrides={
        "SWITCHBOARD_DATABASE_URL": "postgres://u:s3cret@db:6432/sb?pooler=transaction"})
    assert settings.database_url is not None
    assert pooler_of(engine_module.parse_url(settings.database_url)) == "transaction"
    assert "s3cret" not in repr(settings)


# -- the connection math -------------------------------------------------------------------------


def test_the_pool_sizes_and_hosts_come_from_the_settings() -> None:
    settings = load_settings(overrides={"SWITCHBOARD_DATABASE_POOL_SIZE": "3",
                                        "SWITCHBOARD_DATABASE_MAX_OVERFLOW": "0",
                                        "SWITCHBOARD_HOSTS": "4"})
    assert (settings.database_pool_size, settings.database_max_overflow, settings.hosts) == (
        3, 0, 4)
    defaults = load_settings()
    assert (defaults.database_pool_size, defaults.database_max_overflow, defaults.hosts) == (
        5, 10, 1)
    for name, value in [("SWITCHBOARD_DATABASE_POOL_SIZE", "0"),
                        ("SWITCHBOARD_DATABASE_MAX_OVERFLOW", "-1"),
                        ("SWITCHBOARD_HOSTS", "none")]:
        with pytest.raises(ConfigError, match=name):
            load_settings(overrides={name: value})


def test_the_app_opens_its_store_with_those_sizes(tmp_path: Any) -> None:
    from switchboard.callbacks import create_app, get_store

    app = create_app({"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      "SWITCHBOARD_DATABASE_POOL_SIZE": "2",
                      "SWITCHBOARD_DATABASE_MAX_OVERFLOW": "1", "SWITCHBOARD_HOSTS": "3"})
    with app.app_context():
        store = get_store()
        assert store.engine.pool.size() == 2
        assert store.engine.pool._max_overflow == 1
        assert store._hosts == 3
        store.close()


def gunicorn_modules(workers: object = None) -> dict[str, Any]:
    modules: dict[str, Any] = {"gunicorn.arbiter": types.ModuleType("gunicorn.arbiter")}
    if workers is not None:
        modules["__config__"] = types.SimpleNamespace(workers=workers)
    return modules


@pytest.mark.parametrize(("argv", "modules", "environ", "workers"), [
    (["pytest"], {}, {"WEB_CONCURRENCY": "9"}, 1),  # not under gunicorn: one process
    (["gunicorn", "-c", "deploy/gunicorn.conf.py"], gunicorn_modules(4), {}, 4),
    (["gunicorn", "-w", "6", "-c", "x.py"], gunicorn_modules(4), {}, 6),
    (["gunicorn", "--workers=7"], gunicorn_modules(4), {}, 7),
    (["gunicorn", "-w3"], gunicorn_modules(), {}, 3),
    (["gunicorn", "app:app"], gunicorn_modules(), {"WEB_CONCURRENCY": "5"}, 5),
    (["gunicorn", "app:app"], gunicorn_modules(), {}, 1),
])
def test_the_workers_gunicorn_runs(argv: list[str], modules: dict[str, Any],
                                   environ: dict[str, str], workers: int) -> None:
    assert gunicorn_workers(argv, modules, environ) == workers


def test_the_budget_arithmetic() -> None:
    budget = ConnectionBudget(hosts=3, workers=5, per_process=15, max_connections=200,
                              reserved=3)
    assert (budget.most, budget.available, budget.exceeded) == (225, 197, True)
    assert "3 hosts x 5 workers x 15 connections (pool size + overflow) = 225" in (
        budget.describe())
    assert "SWITCHBOARD_DATABASE_POOL_SIZE" in budget.describe()
    assert not ConnectionBudget(3, 5, 10, 200, 3).exceeded
    pooled = ConnectionBudget(3, 5, 15, 200, 3, pooler="transaction")
    assert not pooled.exceeded
    assert "max_client_conn" in pooled.describe()


def test_a_deployment_that_may_exceed_max_connections_is_warned_about_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for url in _fresh_postgres_url(_postgres_base_url()):
        monkeypatch.setattr(engine_module, "_TOLD", set())
        monkeypatch.setattr(engine_module, "gunicorn_workers", lambda: 12)
        caplog.set_level(logging.INFO, logger="switchboard.callbacks.store")
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
        hosts = max_connections // (12 * 15) + 1
        for _ in range(2):  # a second store of the same deployment in the process: no repeat
            store = Store(url, hosts=hosts)
            store.create_all()
            store.close()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, caplog.text
        assert (f"{hosts} hosts x 12 workers x 15 connections (pool size + overflow) = "
                f"{hosts * 12 * 15} may exceed what PostgreSQL takes: max_connections "
                f"{max_connections}") in warnings[0].getMessage()
        caplog.clear()
        store = Store(url, hosts=1, pool_size=2, max_overflow=0)
        store.create_all()
        store.close()
        assert not [r for r in caplog.records if r.levelno == logging.WARNING], caplog.text
        assert "1 hosts x 12 workers x 2 connections" in caplog.text


def test_the_shipped_pgbouncer_ini_is_transaction_mode_within_the_deadline() -> None:
    from tests.pgbouncer import INI

    settings = {}
    for line in INI.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(";"):
            name, _, value = line.partition("=")
            settings[name.strip()] = value.strip()
    assert settings["pool_mode"] == "transaction"
    assert settings["server_reset_query"] == ""
    assert int(settings["query_wait_timeout"]) < load_settings().handler_timeout
    assert int(settings["default_pool_size"]) + int(settings["reserve_pool_size"]) <= int(
        settings["max_db_connections"])
    assert "?pooler=transaction" in INI.read_text()
