"""The Store: what Switchboard keeps about calls, messages, callbacks, sessions and opt-outs."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import URL

from switchboard.callbacks.deadline import HandlerTimeout, bounded, shielded
from switchboard.callbacks.store import budget, schema
from switchboard.callbacks.store.behind import Row, WriteBehind
from switchboard.callbacks.store.breaker import INTERVAL, Breaker
from switchboard.callbacks.store.checkpoint import Checkpointer
from switchboard.callbacks.store.engine import (
    BUSY_MS,
    IMMEDIATE,
    STATEMENT_MS,
    TRANSACTION_MS,
    begin_statement,
    is_missing_table,
    is_outage,
    is_refused_value,
    is_transient,
    is_unreachable,
    make_engine,
    parse_url,
    pooler_of,
    safe_url,
    sqlite_path,
    tell_connection_budget,
    unavailable,
)
from switchboard.callbacks.store.errors import StoreUnavailable
from switchboard.callbacks.store.kept import KeptConnection
from switchboard.callbacks.store.params import (
    call_row,
    call_sid,
    dumps,
    key_text,
    message_row,
    message_sid,
    plain,
    recording_row,
    sequence_number,
)
from switchboard.callbacks.store.schema import ALL_SENDERS, JSON_COLUMNS, NO_SEQUENCE
from switchboard.callbacks.store.statements import PURGE_LIMIT, Prepared, Statements
from switchboard.callbacks.store.upgrade import add_missing_columns, create_missing_indexes
from switchboard.callbacks.store.watchdog import WATCHDOG
from switchboard.callbacks.store.writelock import WriterBusy, WriterLock

T = TypeVar("T")
log = logging.getLogger("switchboard.callbacks.store")
#: The retries' jitter, leaving the random module's shared state alone.
_jitter = random.Random()
Clock = Callable[[], datetime]

_PG_CREATE_LOCK = 0x5377_6264  # advisory lock serialising create_all across processes

VOICE_SESSION_IDLE = timedelta(days=1)
"""A voice session not saved for this long is gone: its call has ended (Twilio ends a call
after 24 hours at most, 4 by default)."""

SESSION_PURGE_EVERY = 600.0
"""Seconds between two purges of idle sessions in a process (sooner while a backlog remains)."""

CREATE_LIMIT = 600.0
"""Seconds ``create_all`` may take outside a handler (PostgreSQL: an index built on a large
table, or another process's ``create_all`` waited for)."""

WATCHDOG_GRACE = 0.1
"""Seconds after the end of its budget at which a PostgreSQL connection is cut: first the
server's ``statement_timeout`` gets its chance to end the statement cleanly."""

_KEEP_STATEMENT_MS = 5000
"""Outside a handler, a connection's ``statement_timeout`` is left as a request set it unless
it is shorter than this (a request near its deadline): one ``SET`` less per transaction."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """The database behind the callbacks server.

    ``url`` is any SQLAlchemy URL of SQLite (``sqlite:////var/lib/switchboard/db.sqlite3``)
    or PostgreSQL (``postgresql+psycopg://user:pass@host/db``). Nothing connects until the
    first call. ``clock`` returns the current time as an aware datetime (tests inject one).

    Every method is one short transaction. Every database failure raises
    :class:`StoreUnavailable`; the next call tries again, so the store recovers by itself
    when the database comes back. Writes that fail on a lock (SQLite), a serialization
    failure or a dropped connection are retried a few times first; all writes are idempotent,
    so a retry never stores anything twice.

    ``record_delay`` (seconds, 0 by default): when above 0, the rows of ``record_call`` and
    ``record_message`` are written by a thread of the process, several in one transaction,
    at most that long after the call (see :mod:`switchboard.callbacks.store.behind`); reads of
    calls and
    messages in this process write them first.

    Run under a handler's deadline (:mod:`switchboard.callbacks.deadline`), every wait of an
    operation (the writer lock, SQLite's busy handler, a pooled or new connection, a
    PostgreSQL statement) ends before the deadline does
    (:mod:`~switchboard.callbacks.store.budget`), and after a failure of the database such
    operations fail at once for ``retry_after`` seconds, while a thread checks the database
    (:mod:`~switchboard.callbacks.store.breaker`; 0 turns that off). ``busy_timeout``,
    ``connect_timeout`` and ``pool_timeout`` are the longest waits outside a handler.

    ``pool_size`` and ``max_overflow``: the connections of this process, at most their sum
    open at once. ``hosts``: how many hosts run Switchboard against this database, for the
    connection math logged at the first :meth:`create_all` (hosts x gunicorn workers x
    connections per process, against PostgreSQL's ``max_connections``). A PostgreSQL URL
    with ``?pooler=transaction`` (PgBouncer in transaction mode in front) prepares nothing
    on the server and sets its ``statement_timeout`` with ``SET LOCAL``, in each transaction.
    """

    sms_session_idle = timedelta(hours=4)
    voice_session_idle = VOICE_SESSION_IDLE
    #: Seconds between purges of idle sessions (:meth:`purge_idle_sessions`), per process.
    session_purge_every = SESSION_PURGE_EVERY

    def __init__(
        self,
        url: str | URL,
        *,
        clock: Clock | None = None,
        busy_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 10.0,
        attempts: int = 4,
        sms_session_idle: timedelta | None = None,
        voice_session_idle: timedelta | None = None,
        record_delay: float = 0.0,
        retry_after: float = INTERVAL,
        hosts: int = 1,
    ) -> None:
        self.url = parse_url(url)
        #: The pooler the URL names: ``transaction`` keeps no state between transactions.
        self.pooler = pooler_of(self.url)
        self._hosts = max(1, hosts)
        self._per_process = pool_size + max_overflow
        self.engine = make_engine(
            self.url,
            busy_timeout=busy_timeout,
            connect_timeout=connect_timeout,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
        )
        self.dialect = self.url.get_backend_name()
        self._sql = Statements.for_dialect(self.dialect)
        # A time as the driver returns it -> an aware UTC datetime (rows read off a cursor).
        dialect = self.engine.dialect
        self._time_from_db = schema.UTCDateTime().dialect_impl(dialect).result_processor(
            dialect, None
        )
        self._prepared: dict[tuple[sa.ClauseElement, tuple[str, ...]], Prepared] = {}
        self._inserts: dict[sa.Table, sa.Insert] = {}
        self._clock = clock or _utcnow
        self._attempts = max(1, attempts)
        self._retry_window = busy_timeout  # a lock still held after this is not passing
        self._busy_timeout = busy_timeout
        self._busy_ms = int(busy_timeout * 1000)
        self._local = threading.local()  # .ungated: this thread's operations pass the breaker
        #: The circuit breaker of webhooks' operations (None: off).
        self.breaker = Breaker(self._check_database, retry_after) if retry_after > 0 else None
        file = sqlite_path(self.url) if self.dialect == "sqlite" else None
        self._writer_lock = (
            WriterLock(file, busy_timeout) if self.dialect == "sqlite" else None
        )
        self._checkpointer = (
            Checkpointer(self.engine, self._writer_lock)
            if file is not None and self._writer_lock is not None
            else None
        )
        # One connection kept for the main thread, if the pool leaves others for the rest.
        self._kept = (
            KeptConnection(self.engine, file)
            if file is not None and pool_size + max_overflow >= 2
            else None
        )
        if sms_session_idle is not None:
            self.sms_session_idle = sms_session_idle
        if voice_session_idle is not None:
            self.voice_session_idle = voice_session_idle
        self._purged_at: float | None = None  # time.monotonic() of the last purge
        self._backlog = False  # the last purge left idle sessions: the next comes sooner
        self._purging = threading.Lock()  # held by the thread of a purge while it runs
        self._purger: threading.Thread | None = None
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_purge_in_child(ref))
        self._schema_ready = False
        self._behind = (
            WriteBehind(self._write_rows, self._check_database, delay=record_delay)
            if record_delay > 0
            else None
        )
        if self._behind is not None:
            atexit.register(_close_behind, weakref.ref(self._behind))

    def __repr__(self) -> str:
        return f"<Store {safe_url(self.url)}>"

    def close(self) -> None:
        """Write the rows waiting to be written, then close every pooled connection (the store
        stays usable: it reconnects on demand)."""
        if self._behind is not None:
            self._behind.close()
        if self.breaker is not None:
            self.breaker.close()
        purger = self._purger
        if purger is not None and purger is not threading.current_thread():
            purger.join(timeout=self._retry_window)  # a batch of idle sessions: milliseconds
        if self._checkpointer is not None:
            self._checkpointer.close()
        if self._kept is not None:
            self._kept.close()
        self.engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        """The clock's time in UTC (naive: taken as UTC), so that ``now - idle`` is elapsed time
        even when the clock gives a zone with summer time."""
        now = self._clock()
        if now.tzinfo is UTC:
            return now
        return now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)

    def run(self, work: Callable[[sa.Connection], T], *, write: bool = True) -> T:
        """``work(conn)`` in one short transaction of the store's: its retries, its writer
        lock (SQLite), its time budget under a handler's deadline, its circuit breaker;
        failures raise :class:`StoreUnavailable`. For the tables other modules keep in the
        store's schema (:data:`~switchboard.callbacks.store.schema.metadata`)."""
        return self._run(work, write=write)

    def prepare(
        self, stmt: sa.ClauseElement, params: Mapping[str, Any]
    ) -> tuple[str, tuple[Any, ...] | dict[str, Any]]:
        """A statement built once (a module-level constant: it is a key of the store's cache)
        as the driver's SQL and arguments for ``params``, ready for :meth:`run_prepared`:
        compiled the first time, and only its parameters converted after that."""
        return self._bind(stmt, params)

    def run_prepared(
        self, work: Callable[[Any], T], *, write: bool = True, single: bool = False
    ) -> T:
        """``work(cursor)`` in one short transaction on the driver's own cursor, for
        statements made by :meth:`prepare` (``cursor.execute(sql, args)``): what :meth:`run`
        does, without SQLAlchemy's statement layer. ``single``: ``work`` runs one statement,
        which SQLite runs as its own transaction."""
        return self._run_sql(work, write=write, single=single)

    def _run(
        self, work: Callable[[sa.Connection], T], *, write: bool = True,
        limit: float = budget.BACKGROUND,
    ) -> T:
        """Run ``work`` in one transaction, retrying transient failures with a short backoff.

        ``limit``: the seconds a PostgreSQL statement may take outside a handler."""
        end = budget.ends()

        def once() -> T:
            with self.engine.connect() as conn:
                fairy = conn.connection
                watch = None if self.dialect == "sqlite" else self._watch(fairy, end, limit)
                try:
                    if write:
                        conn.execution_options(**{IMMEDIATE: True})
                    with self._writer(write, end):
                        self._limit(fairy, end, limit)
                        with conn.begin():
                            result = work(conn)
                except BaseException:
                    fairy.info.pop(STATEMENT_MS, None)  # a SET rolled back with the rest
                    fairy.info.pop(TRANSACTION_MS, None)
                    raise
                finally:
                    conn.close()  # back to the pool (its reset, too) while still watched
                    if watch is not None:
                        WATCHDOG.release(watch)
            if write and self._checkpointer is not None:
                self._checkpointer.committed()
            return result

        return self._retrying(once, write, end)

    def _run_sql(
        self, work: Callable[[Any], T], *, write: bool = True, single: bool = False
    ) -> T:
        """Like :meth:`_run`, with ``work`` given a DBAPI cursor for :meth:`_bind`'s statements.

        The writer lock (SQLite) is held from ``BEGIN IMMEDIATE`` to ``COMMIT`` only. ``single``:
        ``work`` runs one statement, which SQLite runs as its own transaction (autocommit, no
        BEGIN and COMMIT to send). An SQLite read is one statement in autocommit, which WAL
        serves from a consistent snapshot.
        """
        sqlite = self.dialect == "sqlite"
        begin = sqlite and write and not single
        pooled = self.pooler == "transaction"  # psycopg in autocommit: BEGIN said here
        kept = self._kept
        end = budget.ends()

        def once() -> T:
            fairy, keeping = kept.borrow() if kept is not None else (
                self.engine.raw_connection(), False
            )
            cursor = None
            watch = None if sqlite else self._watch(fairy, end, budget.BACKGROUND)
            try:
                cursor = fairy.cursor()
                with self._writer(write, end):
                    try:
                        self._limit(fairy, end, budget.BACKGROUND)
                        if begin:
                            cursor.execute("BEGIN IMMEDIATE")
                        elif pooled:
                            cursor.execute(begin_statement(fairy.info.pop(TRANSACTION_MS)))
                        result = work(cursor)
                        if begin:
                            cursor.execute("COMMIT")
                        elif not sqlite:
                            fairy.commit()
                    except BaseException:
                        _rollback(fairy, sqlite)
                        raise
                if write and self._checkpointer is not None:
                    self._checkpointer.committed()
                return result
            except self._dbapi_error() as error:
                dialect = self.engine.dialect
                gone = dialect.is_disconnect(error, fairy.dbapi_connection, cursor) or (
                    not sqlite and _left_unusable(error, dialect.loaded_dbapi.OperationalError)
                )
                if gone:
                    fairy.invalidate(error)
                if keeping:
                    kept.forget()  # closed below: the next attempt checks one out afresh
                    keeping = False
                raise exc.DBAPIError.instance(
                    None, None, error, type(error), hide_parameters=True,
                    connection_invalidated=gone, dialect=dialect,
                ) from error
            finally:
                if cursor is not None:
                    with contextlib.suppress(Exception):
                        cursor.close()
                if not keeping:
                    fairy.close()
                if watch is not None:
                    WATCHDOG.release(watch)

        return self._retrying(once, write, end)

    def _bind(
        self, stmt: sa.ClauseElement, params: Mapping[str, Any]
    ) -> tuple[str, tuple[Any, ...] | dict[str, Any]]:
        """One of :attr:`_sql`'s statements as the driver's SQL and arguments (see
        :class:`Prepared`), made before the transaction so that the writer lock is not held
        while Python converts parameters. A parameter its type cannot convert raises
        :class:`ValueRefused`, as SQLAlchemy's ``StatementError`` does in :meth:`run`."""
        key = (stmt, tuple(params))
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared[key] = Prepared(stmt, self.engine.dialect, key[1])
        try:
            return prepared.sql, prepared.args(params)
        except Exception as error:  # a bind processor's: the statement is never sent
            failure = exc.StatementError(str(error), prepared.sql, None, error,
                                         hide_parameters=True)
            raise unavailable(failure, self.url) from failure

    def _retrying(self, once: Callable[[], T], write: bool, end: float | None) -> T:
        """``once()``, retried as :meth:`_attempt` says; a table found missing is created
        again (and ``once`` run again) rather than failing every write until someone does."""
        try:
            return self._attempt(once, write, end)
        except StoreUnavailable as error:
            if error.__cause__ is None or not is_missing_table(error.__cause__):
                raise
            if getattr(self._local, "leave_missing", False):
                raise  # a check that creates them in a time of its own (see check())
            log.warning("%s: creating the missing tables", error)
            self.create_all()
            return self._attempt(once, write, end)

    def _attempt(self, once: Callable[[], T], write: bool, end: float | None) -> T:
        """``once()`` in a shielded section, retried after a transient failure while the
        budget lasts (``end``: see :mod:`~switchboard.callbacks.store.budget`). Under a
        handler's deadline it fails at once while the breaker is open; a failure of the
        database opens it."""
        breaker = self.breaker
        if breaker is not None and breaker.tripped and end is not None and not getattr(
            self._local, "ungated", False
        ):
            breaker.check(write)
        delay = 0.02
        give_up = time.monotonic() + self._retry_window
        if end is not None:
            give_up = min(give_up, end)
        for attempt in range(1, self._attempts + 1):
            started = time.monotonic()
            try:
                with shielded():  # a deadline passing in the transaction is raised after it
                    result = once()
            except HandlerTimeout:
                raise  # the handler's deadline passed (a TimeoutError, so an OSError)
            except (exc.SQLAlchemyError, OSError, OverflowError, WriterBusy,
                    self._dbapi_error()) as error:
                pause = delay * (1 + _jitter.random())
                retry = attempt < self._attempts and time.monotonic() + pause < give_up
                if retry and is_transient(error):
                    time.sleep(pause)
                    delay *= 2
                    continue
                if not is_transient(error) and not _says_nothing_of_connections(error):
                    self.engine.dispose()
                failure = unavailable(error, self.url)
                if breaker is not None and (is_outage(error) or is_unreachable(error)):
                    breaker.failed(failure, everything=not write or is_unreachable(error),
                                   request=end is not None, started=started)
                raise failure from error
            if breaker is not None and breaker.tripped:
                breaker.succeeded(write)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _writer(self, write: bool, end: float | None) -> contextlib.AbstractContextManager[None]:
        if not write or self._writer_lock is None:
            return _NO_LOCK
        return self._writer_lock.hold(budget.wait(self._busy_timeout, end))

    def _limit(self, fairy: Any, end: float | None, limit: float) -> None:
        """Set the connection's own timeouts from the budget, when they change: SQLite's busy
        timeout, PostgreSQL's ``statement_timeout`` (``limit`` seconds outside a handler)."""
        info = fairy.info
        if self.dialect == "sqlite":
            ms = self._busy_ms if end is None else budget.milliseconds(
                budget.wait(self._busy_timeout, end))
            if info.get(BUSY_MS) != ms:
                fairy.dbapi_connection.execute(f"PRAGMA busy_timeout = {ms}")
                info[BUSY_MS] = ms
            return
        ms = budget.milliseconds(budget.wait(limit, end))
        if self.pooler == "transaction":
            # The next transaction may run on another server connection: nothing set on this
            # one may outlive the transaction, and nothing set before can be counted on. The
            # transaction's BEGIN sets it (engine.begin_statement), in the same round trip.
            info[TRANSACTION_MS] = ms
            return
        current = info.get(STATEMENT_MS)
        if current == ms:
            return
        if end is None and limit == budget.BACKGROUND and current is not None and (
            current >= _KEEP_STATEMENT_MS
        ):
            return
        fairy.dbapi_connection.execute(f"SET statement_timeout = {ms}")
        info[STATEMENT_MS] = ms

    def _watch(self, fairy: Any, end: float | None, limit: float) -> int | None:
        """Have the watchdog cut ``fairy``'s PostgreSQL connection at the end of the budget
        (``limit`` seconds from now outside a handler); the key to release."""
        return WATCHDOG.watch(fairy.dbapi_connection, time.monotonic() + limit if end is None
                              else end + WATCHDOG_GRACE)

    def _dbapi_error(self) -> type[Exception]:
        dbapi = self.engine.dialect.loaded_dbapi
        return getattr(dbapi, "Error", exc.SQLAlchemyError)

    def _get(self, table: sa.Table, sid: str) -> dict[str, Any] | None:
        query = self._sql.get[table.name]
        if self._behind is not None and table.name in _ROW_MAKERS:  # rows it may hold
            self._behind.flush(None if budget.ends() is None else budget.wait(self._busy_timeout))

        def work(conn: sa.Connection) -> dict[str, Any] | None:
            row = conn.execute(query, {"sid": key_text(sid)}).mappings().first()
            return _decode(row) if row is not None else None

        return self._run(work, write=False)

    def _record(
        self, table: sa.Table, row: dict[str, Any], params: Mapping[str, Any] | None = None
    ) -> None:
        """Upsert ``row``; for an inbound message (its webhook's ``params`` given), also keep
        its conversation alive (:func:`~callbacks.store.statements.session_touch`)."""
        now = self._now()
        row.update(created_at=now, updated_at=now)
        bound = self._bind(self._sql.upsert[table.name], row)
        touch = self._touch(params, now) if params is not None else None
        if touch is None:
            self._run_sql(lambda cursor: cursor.execute(*bound), single=True)
            return

        def work(cursor: Any) -> None:
            cursor.execute(*bound)
            cursor.execute(*touch)

        self._run_sql(work)

    def _touch(
        self, params: Mapping[str, Any], now: datetime
    ) -> tuple[str, tuple[Any, ...] | dict[str, Any]] | None:
        """The statement that moves the conversation of an inbound message's (From, To) on to
        ``now``, or None without both numbers."""
        from_, to = params.get("From"), params.get("To")
        if not from_ or not to or not isinstance(from_, str) or not isinstance(to, str):
            return None
        key = {
            "from_number": key_text(from_),
            "to_number": key_text(to),
            "now": now,
            "since": now - self.sms_session_idle,
        }
        return self._bind(self._sql.sms_session_touch, key)

    def _record_behind(self, table: sa.Table, sid: str, params: Mapping[str, Any]) -> bool:
        """Hand a copy of a webhook's fields to the write-behind; False when there is none."""
        if self._behind is None:
            return False
        self._behind.submit(table.name, sid, (plain(params), self._now()))
        return True

    # -- rows written just after the answer ----------------------------------------------------

    @property
    def defers(self) -> bool:
        """Whether :meth:`defer` hands rows to a thread (``record_delay`` above 0), rather than
        writing each at once."""
        return self._behind is not None

    @property
    def rows_waiting(self) -> int:
        """Rows handed over in this process and not written yet."""
        return len(self._behind) if self._behind is not None else 0

    @property
    def rows_dropped(self) -> int:
        """Rows handed over in this process that never will be written (see
        :attr:`WriteBehind.dropped`)."""
        return self._behind.dropped if self._behind is not None else 0

    @property
    def rows_dropped_by_table(self) -> dict[str, int]:
        """:attr:`rows_dropped` by table name (the tables that lost rows only)."""
        return self._behind.dropped_by_table if self._behind is not None else {}

    @property
    def rows_blocked(self) -> bool:
        """True while rows wait for a database that failed their last write."""
        return self._behind is not None and self._behind.failure is not None

    def defer(
        self, table: sa.Table, row: Mapping[str, Any], *, label: str = "-", expendable: bool = False
    ) -> None:
        """Insert ``row`` into ``table`` (a table of the store's schema) just after the answer,
        with the other rows handed over in the meantime, in one transaction (see
        :mod:`~switchboard.callbacks.store.behind`); at once when the store does not defer.

        For rows nothing in the answer depends on: a step of a flow, what a webhook was
        answered. ``label`` names the row in the log should the database refuse it. Readers
        in this process see the row once they :meth:`flush`; other processes within
        ``record_delay`` seconds; a process killed meanwhile loses it. An ``expendable`` row
        is dropped before any other when more rows wait than the write-behind holds (the
        database down)."""
        if self._behind is not None:
            self._behind.submit(table.name, label, _Deferred(table, dict(row)),
                                expendable=expendable)
            return
        bound = self._bind(self._insert(table), row)
        self._run_sql(lambda cursor: cursor.execute(*bound), single=True)

    def flush(self) -> None:
        """Write the rows this process handed over so far (:meth:`defer`, the calls and
        messages of webhooks); under a handler's deadline, wait no longer than it allows.
        Raises :class:`StoreUnavailable` when they cannot be written now (they stay queued)."""
        if self._behind is not None:
            self._behind.flush(None if budget.ends() is None else budget.wait(self._busy_timeout))

    def wait_written(self, timeout: float) -> bool:
        """Whether the rows this process handed over so far are written within ``timeout``
        seconds: the write-behind's thread is asked to write them now, and nothing is written
        in the calling thread (:meth:`flush` writes in it, waiting as long as the database's
        locks allow). False leaves them queued."""
        return self._behind is None or self._behind.wait_written(timeout)

    def _insert(self, table: sa.Table) -> sa.Insert:
        insert = self._inserts.get(table)
        if insert is None:
            insert = self._inserts[table] = sa.insert(table)
        return insert

    def _write_rows(self, rows: Sequence[Row]) -> None:
        """Upsert the write-behind's rows in one transaction, in the order they came.

        The rows are made here, in the write-behind's thread, several in a row, not in the
        request that handed them over."""
        groups: list[tuple[str, list[Any]]] = []
        touches: list[Any] = []
        for table, sid, data in rows:
            if isinstance(data, _Deferred):
                sql, args = self._bind(self._insert(data.table), data.row)
                if groups and groups[-1][0] == sql:
                    groups[-1][1].append(args)
                else:
                    groups.append((sql, [args]))
                continue
            params, now = data
            try:
                row = _ROW_MAKERS[table](params)
            except (TypeError, ValueError) as error:  # a row that cannot be made holds none back
                log.warning("%s row %s not recorded: %s", table, sid, error)
                continue
            row["created_at"] = row["updated_at"] = now
            sql, args = self._bind(self._sql.upsert[table], row)
            if groups and groups[-1][0] == sql:
                groups[-1][1].append(args)
            else:
                groups.append((sql, [args]))
            if table == schema.messages.name:
                touch = self._touch(params, now)
                if touch is not None:
                    touches.append(touch)
        if touches:
            groups.append((touches[0][0], [args for _sql, args in touches]))
        if not groups:
            return

        def work(cursor: Any) -> None:
            for sql, many in groups:
                if len(many) == 1:
                    cursor.execute(sql, many[0])
                else:
                    cursor.executemany(sql, many)

        self._run_sql(work, single=len(groups) == 1 and len(groups[0][1]) == 1)

    def _record_status(
        self,
        kind: str,
        table: sa.Table,
        row: dict[str, Any],
        fields: dict[str, Any],
        sequence: int | None,
        idempotency_token: str | None,
    ) -> bool:
        """Store the callback whose fields (a plain dict) made ``row``; True if it was new."""
        if row["status"] is None:
            raise ValueError(f"the {kind} status callback has no status")
        now = self._now()
        row.update(created_at=now, updated_at=now)
        callback = {
            "resource_sid": row["sid"],
            "kind": kind,
            "status": row["status"],
            "sequence_number": NO_SEQUENCE if sequence is None else sequence,
            "idempotency_token": key_text(idempotency_token),
            "params": dumps(fields),
            "received_at": now,
        }
        insert = self._bind(self._sql.callback, callback)
        update = self._bind(self._sql.upsert[table.name], row)

        def work(cursor: Any) -> bool:
            if cursor.execute(*insert).fetchone() is None:
                return False
            cursor.execute(*update)
            return True

        return self._run_sql(work)

    # -- schema and health ---------------------------------------------------------------------

    def create_all(self) -> None:
        """Create the tables that do not exist yet, and the columns and indexes that a table
        made by an older version lacks (:mod:`~switchboard.callbacks.store.upgrade`); safe
        when several processes start at once."""

        def work(conn: sa.Connection) -> None:
            if self.dialect == "postgresql":
                # a transaction-level lock: a session-level one would stay with the server
                # connection a transaction-mode pooler hands to another client afterwards
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_CREATE_LOCK)))
            schema.metadata.create_all(conn, checkfirst=True)
            if not self._schema_ready:  # once per store: the tables made above have theirs
                _key_tokens_by_resource(conn)   # may rebuild the table, with its indexes
                add_missing_columns(conn, schema.metadata.sorted_tables)
                create_missing_indexes(conn, schema.metadata.sorted_tables)
                if self.dialect == "postgresql":
                    tell_connection_budget(conn, self.url, hosts=self._hosts,
                                           per_process=self._per_process, pooler=self.pooler)

        try:
            self._run(work, limit=CREATE_LIMIT)
        except StoreUnavailable as error:
            if "already exists" not in str(error.__cause__):
                raise
            self._run(work, limit=CREATE_LIMIT)
        self._schema_ready = True

    @property
    def schema_ready(self) -> bool:
        """Whether this store made sure of its tables (:meth:`create_all`) in this process."""
        return self._schema_ready

    def ensure_schema(self) -> None:
        """:meth:`create_all` unless it succeeded already in this process: the tables are
        created once per process, not per webhook. While the database is out, under a
        handler's deadline, this fails at once (the breaker's probe creates them when it
        returns)."""
        if not self._schema_ready:
            self.create_all()

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers."""
        self._run(lambda conn: conn.execute(sa.select(1)).scalar_one(), write=False)

    def check(self, *, create_within: float | None = None) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers, holds every table (the
        missing ones are created) and takes writes, and no call or message row waits for it.

        What ``/healthz`` reports. It looks at the database whatever the breaker says (see
        :mod:`~switchboard.callbacks.store.breaker`), so that it tells whether the database is
        back, and closes the breaker when it is; its waits are bounded as any operation's.
        A read-only file or server answers reads and fails every
        write; a full disk also passes a write of nothing. So the check writes: it rewrites
        the one row of ``write_probe`` (in one transaction with a delete of no row from each
        table), which needs room in the database's log as every write does. And a write of
        one row may still pass where the rows of webhooks cannot go in (a PostgreSQL table
        that must grow on a full disk): while the write-behind's last write failed for the
        database (:func:`~callbacks.store.engine.is_outage`) and its rows wait, the check
        fails too, until they are written.

        ``create_within``: seconds given to creating the tables, when the check finds them
        missing (or never made: the database was down at start-up), counted from then rather
        than within the deadline the check runs under; for a caller that does not wait for the
        check to end (``/healthz`` answers within its own wait and leaves the check to finish
        in its thread). Twenty tables and their indexes take a tenth of a second on an idle
        server, several times that on a busy one or a slow disk; a creation cut short by the
        deadline is rolled back whole, and each check after it would start again from nothing.
        """
        local = self._local
        gated = not getattr(local, "ungated", False)
        local.ungated = True
        try:
            if create_within is None:
                self._check_database()
            else:
                self._check_creating_apart(create_within)
        finally:
            local.ungated = not gated
        behind = self._behind
        failure = behind.failure if behind is not None else None
        if failure is not None and behind is not None:
            waiting = f"{len(behind)} webhook rows wait to be written"
            raise StoreUnavailable(
                f"{waiting}: {failure}", reason=f"{waiting}: {failure.reason}"
            ) from failure.__cause__

    def _check_creating_apart(self, seconds: float) -> None:
        """:meth:`_check_database`, with the tables it lacks created within ``seconds`` of
        their own; a database that does not answer fails within the deadline as before."""
        local = self._local
        if not self._schema_ready:
            self.ping()
        else:
            local.leave_missing = True
            try:
                self._check_database()
                return
            except StoreUnavailable as error:
                if error.__cause__ is None or not is_missing_table(error.__cause__):
                    raise
                log.warning("%s: creating the missing tables", error)
            finally:
                local.leave_missing = False
        with bounded(seconds):
            self.create_all()
            self._check_database()

    def _check_database(self) -> None:
        """:meth:`check` without the write-behind: how the write-behind itself tells a database
        that fails every write from one that refuses a row.

        ``create_all`` runs at the first check only: later, a table found missing by the
        probes is created again as by any write (:meth:`_retrying`). So a check is one short
        transaction, and never waits for another process's ``create_all`` (on PostgreSQL an
        advisory lock, held while a process starting up builds an index)."""
        self.ensure_schema()
        probes = [sa.delete(table).where(sa.false()) for table in schema.metadata.sorted_tables]
        probe, row = self._sql.probe, {"id": 1, "checked_at": self._now()}

        def work(conn: sa.Connection) -> None:
            for nothing in probes:
                conn.execute(nothing)
            conn.execute(probe, row)

        self._run(work)

    # -- calls ---------------------------------------------------------------------------------

    def record_call(self, params: Mapping[str, Any]) -> None:
        """Insert or update a call from a voice webhook's fields (CallSid, From, CallStatus...).

        With a ``record_delay``, the row is written just after (see :class:`Store`).
        """
        sid = call_sid(params)
        if sid and self._record_behind(schema.calls, sid, params):
            return
        self._record(schema.calls, call_row(plain(params)))

    def record_call_status(
        self, params: Mapping[str, Any], idempotency_token: str | None = None
    ) -> bool:
        """Store a call status callback once; True if it was new, False for a repeat.

        A repeat is the same CallSid, CallStatus and SequenceNumber, or the same
        ``I-Twilio-Idempotency-Token``. The call's status moves only forward.
        """
        fields = plain(params)
        return self._record_status(
            "call",
            schema.calls,
            call_row(fields),
            fields,
            sequence_number(fields),
            idempotency_token,
        )

    def record_outbound_call(self, resource: Mapping[str, Any]) -> None:
        """Insert or update a call from the REST API's JSON (``sid``, ``from``, ``status``...)."""
        self._record(schema.calls, call_row(resource))

    def get_call(self, sid: str) -> dict[str, Any] | None:
        """The call as a dict of its columns (``sid``, ``from``, ``to``, ``status``...)."""
        return self._get(schema.calls, sid)

    # -- messages ------------------------------------------------------------------------------

    def record_message(self, params: Mapping[str, Any]) -> None:
        """Insert or update a message from an SMS webhook's fields (inbound unless told).

        With a ``record_delay``, the row is written just after (see :class:`Store`).
        """
        sid = message_sid(params)
        if sid and self._record_behind(schema.messages, sid, params):
            return
        fields = plain(params)
        self._record(schema.messages, _inbound_message_row(fields), fields)

    def record_message_status(
        self, params: Mapping[str, Any], idempotency_token: str | None = None
    ) -> bool:
        """Store a message status callback once; True if it was new, False for a repeat.

        Messages carry no SequenceNumber: a repeat is the same MessageSid and MessageStatus,
        or the same idempotency token. The message's status moves only forward.
        """
        fields = plain(params)
        return self._record_status(
            "message", schema.messages, message_row(fields), fields, None, idempotency_token
        )

    def record_outbound_message(self, resource: Mapping[str, Any]) -> None:
        """Insert or update a message from the REST API's JSON."""
        self._record(schema.messages, message_row(resource))

    def get_message(self, sid: str) -> dict[str, Any] | None:
        """The message as a dict; ``media`` is a list of ``{"url", "content_type"}``."""
        return self._get(schema.messages, sid)

    # -- recordings ----------------------------------------------------------------------------

    def record_recording(self, params: Mapping[str, Any]) -> None:
        """Insert or update a recording (RecordingSid, RecordingUrl, RecordingDuration, CallSid)."""
        self._record(schema.recordings, recording_row(plain(params)))

    def record_recording_status(
        self, params: Mapping[str, Any], idempotency_token: str | None = None
    ) -> bool:
        """Store a recording status callback once (RecordingSid + RecordingStatus); True if new."""
        fields = plain(params)
        return self._record_status(
            "recording",
            schema.recordings,
            recording_row(fields),
            fields,
            None,
            idempotency_token,
        )

    def get_recording(self, sid: str) -> dict[str, Any] | None:
        return self._get(schema.recordings, sid)

    def status_callbacks(self, sid: str) -> list[dict[str, Any]]:
        """The callbacks stored for a call, message or recording, in the order they arrived.

        Each: ``id``, ``resource_sid``, ``kind``, ``status``, ``sequence_number`` (None if
        absent), ``idempotency_token``, ``params`` (all fields as received), ``received_at``.
        """

        def work(conn: sa.Connection) -> list[dict[str, Any]]:
            result = conn.execute(self._sql.callbacks_of, {"sid": key_text(sid)})
            rows = [_decode(row) for row in result.mappings()]
            for row in rows:
                if row["sequence_number"] == NO_SEQUENCE:
                    row["sequence_number"] = None
            return rows

        return self._run(work, write=False)

    # -- sessions ------------------------------------------------------------------------------

    def load_voice_session(self, call_sid: str) -> dict[str, Any]:
        """The session saved for this call, ``{}`` if none or not saved for a day (the call
        ended long ago: :meth:`purge_idle_sessions` deletes it)."""
        return self._load_session(
            self._sql.voice_session_get,
            {"call_sid": key_text(call_sid)},
            since=self._now() - self.voice_session_idle,
        )

    def save_voice_session(self, call_sid: str, data: Mapping[str, Any]) -> None:
        self._save_session(self._sql.voice_session_upsert, {"call_sid": key_text(call_sid)}, data)

    def load_sms_session(self, from_: str, to: str) -> dict[str, Any]:
        """The conversation of this (From, To) pair; ``{}`` if none or idle for 4 hours."""
        key = {"from_number": key_text(from_), "to_number": key_text(to)}
        return self._load_session(
            self._sql.sms_session_get, key, since=self._now() - self.sms_session_idle
        )

    def save_sms_session(self, from_: str, to: str, data: Mapping[str, Any]) -> None:
        key = {"from": key_text(from_), "to": key_text(to)}
        self._save_session(self._sql.sms_session_upsert, key, data)

    def purge_sms_sessions(self) -> int:
        """Delete the conversations idle for longer than the expiry; return how many."""
        return self._purge(schema.sms_sessions, self.sms_session_idle)

    def purge_voice_sessions(self) -> int:
        """Delete the voice sessions not saved for ``voice_session_idle`` (a day); return how
        many."""
        return self._purge(schema.voice_sessions, self.voice_session_idle)

    def purge_idle_sessions(self) -> int:
        """Delete the idle voice sessions and SMS conversations; return how many.

        Saving a session runs a bounded part of it now and then (every
        ``session_purge_every`` seconds in a process), so that neither table grows forever;
        this runs it all, in transactions of a few hundred rows."""
        return sum(self._purge(table, idle) for table, idle in self._session_tables())

    def _session_tables(self) -> tuple[tuple[sa.Table, timedelta], ...]:
        """Each session table with the idle time after which its rows are deleted."""
        return (
            (schema.voice_sessions, self.voice_session_idle),
            (schema.sms_sessions, self.sms_session_idle),
        )

    def _purge(
        self, table: sa.Table, idle: timedelta, *, once: bool = False,
        now: datetime | None = None,
    ) -> int:
        """Delete the sessions of ``table`` idle for longer than ``idle`` at ``now`` (the
        clock's time), at most :data:`~callbacks.store.statements.PURGE_LIMIT` per transaction
        (so that the writer is never held long); ``once``: one transaction only. Returns how
        many."""
        now = self._now() if now is None else now
        stmt, cutoff = self._sql.purge[table.name], {"cutoff": now - idle}
        deleted = 0
        while True:
            count = self._run(lambda conn: conn.execute(stmt, cutoff).rowcount)
            deleted += count
            if once or count < PURGE_LIMIT:
                return deleted

    def _purge_now_and_then(self) -> None:
        """After a session is saved: every ``session_purge_every`` seconds, start a thread that
        deletes a bounded batch of idle sessions of each kind (again a second later while
        batches come back full), one at a time in a process.

        Not in the request's thread: the save has succeeded, and the answer must not wait
        for the purge, nor fail with the handler's deadline passing in it (the caller would
        hear the apology for a session that was saved)."""
        now, last = time.monotonic(), self._purged_at
        every = min(1.0, self.session_purge_every) if self._backlog else self.session_purge_every
        if last is not None and now - last < every:
            return
        if not self._purging.acquire(blocking=False):
            return  # a purge is running
        self._purged_at = now
        thread = threading.Thread(  # idle as of the save (the clock's time, taken here)
            target=self._purge_batches, args=(self._now(),), name="switchboard-session-purge",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError as error:  # the interpreter is ending, or out of threads
            self._purging.release()
            log.warning("idle sessions not purged: no thread (%s)", error)
            return
        self._purger = thread

    def _purge_batches(self, now: datetime) -> None:
        """One round of :meth:`_purge_now_and_then`, in its own thread, of the sessions idle
        at ``now``: a failure is logged, and tried again at the next round."""
        try:
            backlog = False
            for table, idle in self._session_tables():
                if self._purge(table, idle, once=True, now=now) >= PURGE_LIMIT:
                    backlog = True
            self._backlog = backlog
        except StoreUnavailable as error:
            log.warning("idle sessions not purged: %s", error)
        except Exception:
            log.exception("idle sessions not purged")
        finally:
            self._purging.release()

    def _load_session(
        self, query: sa.Select, key: dict[str, str | None], since: datetime | None = None
    ) -> dict[str, Any]:
        bound = self._bind(query, key)
        row = self._run_sql(lambda cursor: cursor.execute(*bound).fetchone(), write=False)
        if row is None:
            return {}
        text, updated_at = row  # the statement selects (data, updated_at)
        if since is not None and self._time_from_db(updated_at) < since:
            return {}
        data = json.loads(text)
        return data if isinstance(data, dict) else {}

    def _save_session(
        self, upsert: sa.Insert, key: dict[str, str | None], data: Mapping[str, Any]
    ) -> None:
        if any(value is None for value in key.values()):
            raise ValueError(f"a session needs a key: {', '.join(key)}")
        text = json.dumps(dict(data), separators=(",", ":"))  # TypeError here, not in the DB
        row = {**key, "data": text, "updated_at": self._now()}
        bound = self._bind(upsert, row)
        self._run_sql(lambda cursor: cursor.execute(*bound), single=True)
        self._purge_now_and_then()

    # -- opt-outs ------------------------------------------------------------------------------

    def opt_out(self, number: str, sender: str | None = None, *, token: str | None = None
                ) -> None:
        """Record that ``number`` wants no more messages from ``sender`` (None: from anyone);
        ``token``: the retry key of the message that said so (:meth:`opt_outs_of`). An
        opt-out recorded already stays as it was."""
        row = {"number": _number(number), "sender": _sender(sender), "created_at": self._now(),
               "token": token}
        bound = self._bind(self._sql.opt_out, row)
        self._run_sql(lambda cursor: cursor.execute(*bound), single=True)

    def opt_in(self, number: str, sender: str | None = None) -> None:
        """Undo opt-outs of ``number``: for ``sender`` and the global one; None: all of them.

        Opting in to one sender also lifts a global (STOPALL) opt-out, since START must
        always take effect; opt-outs from other senders stay.
        """
        table = schema.opt_outs
        stmt = sa.delete(table).where(table.c.number == _number(number))
        if sender is not None:
            stmt = stmt.where(table.c.sender.in_([_sender(sender), ALL_SENDERS]))
        self._run(lambda conn: conn.execute(stmt))

    def opt_outs_of(self, number: str, sender: str) -> list[OptOut]:
        """The opt-outs of ``number`` from ``sender`` and from all senders (none, one or
        both): what :meth:`is_opted_out` looks up, in the same one read, with the
        :attr:`~switchboard.callbacks.twilio_request.TwilioRequest.retry_key` of the message
        that made each (Twilio's retry of that message carries it again)."""
        params = {"number": _number(number), "sender": _sender(sender)}
        bound = self._bind(self._sql.opt_outs_of, params)
        rows = self._run_sql(lambda cursor: cursor.execute(*bound).fetchall(), write=False)
        return [OptOut(*row) for row in rows]

    def is_opted_out(self, number: str, sender: str | None = None) -> bool:
        """True if ``number`` opted out of ``sender`` or of all senders.

        With ``sender`` None (the sender is not known) any opt-out of the number counts.
        """
        if sender is None:
            query, params = self._sql.opted_out_anywhere, {"number": _number(number)}
        else:
            query = self._sql.opted_out_of
            params = {"number": _number(number), "sender": _sender(sender)}
        bound = self._bind(query, params)
        return self._run_sql(
            lambda cursor: cursor.execute(*bound).fetchone() is not None, write=False
        )


_NO_LOCK = contextlib.nullcontext()


class OptOut(NamedTuple):
    """An opt-out as :meth:`Store.opt_outs_of` finds it."""

    #: The number opted out of, or :data:`~.schema.ALL_SENDERS` for all of them (STOPALL).
    sender: str
    #: The retry key of the message that opted out (its idempotency token and SID), if any.
    token: str | None


def _inbound_message_row(params: dict[str, Any]) -> dict[str, Any]:
    row = message_row(params)
    row["direction"] = row["direction"] or "inbound"
    return row


@dataclass(frozen=True, slots=True)
class _Deferred:
    """A row handed to :meth:`Store.defer`: inserted as it is."""

    table: sa.Table
    row: dict[str, Any]


_ROW_MAKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    schema.calls.name: call_row,
    schema.messages.name: _inbound_message_row,
}


def _says_nothing_of_connections(error: BaseException) -> bool:
    """A failure of the statement, not of the connection it ran on: a value refused, or a
    table missing (dropped, or the SQLite file replaced by an empty one: a connection to the
    old file still sees its tables, and is discarded at checkout). The pool keeps its
    connections, those idle and those other threads hold, rather than have every one of them
    closed or, checked out across :meth:`Engine.dispose <sqlalchemy.engine.Engine.dispose>`,
    returned to a pool the engine no longer uses and left open until it is collected."""
    return is_refused_value(error) or is_missing_table(error)


def _key_tokens_by_resource(conn: sa.Connection) -> None:
    """Make a ``status_callbacks`` table of an older version, where an idempotency token was
    unique across the table, key it by (resource SID, token) as the schema does. PostgreSQL
    drops the old constraint and adds the new one; SQLite, which cannot drop a constraint,
    copies the rows into a new table (in the same transaction, under the writer lock)."""
    table = schema.status_callbacks
    uniques = sa.inspect(conn).get_unique_constraints(table.name)
    old = [u["name"] for u in uniques if u["column_names"] == ["idempotency_token"]]
    if not old:
        return
    log.warning("status_callbacks: idempotency tokens are now unique per resource, not "
                "across the table; changing the table's constraint")
    new = next(c for c in table.constraints if isinstance(c, sa.UniqueConstraint)
               and [col.name for col in c.columns] == ["resource_sid", "idempotency_token"])
    if conn.dialect.name == "postgresql":
        for name in old:
            conn.exec_driver_sql(f'ALTER TABLE {table.name} DROP CONSTRAINT "{name}"')
        # isolate_from_table=False: the table's CREATE keeps the constraint for later create_all
        conn.execute(sa.schema.AddConstraint(new, isolate_from_table=False))
        return
    aside = f"{table.name}_old"
    names = [column.name for column in table.columns]
    conn.exec_driver_sql(f'ALTER TABLE {table.name} RENAME TO "{aside}"')
    table.create(conn)
    rows = sa.select(*(sa.column(name) for name in names)).select_from(sa.table(aside))
    conn.execute(sa.insert(table).from_select(names, rows))
    conn.exec_driver_sql(f'DROP TABLE "{aside}"')


def _reset_purge_in_child(ref: weakref.ref[Store]) -> None:
    """In a forked child: no purge runs there (a thread of the parent's held the lock)."""
    store = ref()
    if store is not None:
        store._purging = threading.Lock()
        store._purger = None


def _close_behind(ref: weakref.ref[WriteBehind]) -> None:
    """At interpreter exit (a worker's graceful stop): write the rows still waiting."""
    behind = ref()
    if behind is not None:
        behind.close()


def _left_unusable(error: BaseException, operational: type[Exception]) -> bool:
    """Whether a PostgreSQL driver error left its connection unusable although the dialect
    does not call it a disconnect: one of psycopg's own (no SQLSTATE, such as ``cannot exit
    pipeline mode while busy`` when the server ends the connection during an ``executemany``)
    or of the server's connection class (08) and shutdowns (57P). Put back in the pool, such a
    connection fails its rollback and the pool logs a traceback; it is dropped instead. (A
    statement cancelled by ``statement_timeout``, 57014, leaves its connection usable.)"""
    if not isinstance(error, operational):
        return False
    state = getattr(error, "sqlstate", None)
    return state is None or state[:2] == "08" or state[:3] == "57P"


def _rollback(fairy: Any, sqlite: bool) -> None:
    fairy.info.pop(STATEMENT_MS, None)  # a SET in the transaction is undone with it
    fairy.info.pop(TRANSACTION_MS, None)
    with contextlib.suppress(Exception):
        if not sqlite:
            fairy.rollback()
        elif fairy.dbapi_connection.in_transaction:
            fairy.dbapi_connection.execute("ROLLBACK")


def _number(number: str) -> str:
    text = key_text(number.strip() if isinstance(number, str) else number)
    if text is None:
        raise ValueError("an opt-out needs a phone number")
    return text


def _sender(sender: str | None) -> str:
    text = key_text(sender.strip() if isinstance(sender, str) else sender)
    return text or ALL_SENDERS


def _decode(row: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(row)
    for name in JSON_COLUMNS.intersection(result):
        if result[name] is not None:
            result[name] = json.loads(result[name])
    return result


__all__ = ["OptOut", "Store", "StoreUnavailable"]
