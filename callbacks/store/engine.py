"""Creating the engine, and telling a passing failure from a database that is down.

SQLite: the file and its folder are created on first connect; every connection runs in WAL
mode with a busy timeout, ``synchronous=NORMAL`` and foreign keys on; SQLAlchemy emits BEGIN
itself (the sqlite3 module's own transaction handling is off), ``BEGIN IMMEDIATE`` for writes,
so a write transaction takes the write lock up front and waits its turn on the busy timeout
instead of failing on a lock upgrade. The log is checkpointed off the request path
(:mod:`switchboard.callbacks.store.checkpoint`). A pooled connection whose file was replaced or
removed
is discarded at checkout.

PostgreSQL: ``postgresql://`` and ``postgres://`` use psycopg (3); pre-ping, a bounded pool
wait and a connect timeout, so a server that goes away costs seconds, not a hang, and is
picked up again when it returns.

Under a handler's deadline, the pool wait, the connect timeout and the pre-ping are bounded by
what is left of it (:mod:`~switchboard.callbacks.store.budget`); the pre-ping is watched
(:mod:`~switchboard.callbacks.store.watchdog`), and no new connection is begun once the
budget is spent.
"""

from __future__ import annotations

import contextlib
import os
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import QueuePool, StaticPool

from switchboard.callbacks.store import budget
from switchboard.callbacks.store.errors import StoreUnavailable
from switchboard.callbacks.store.watchdog import WATCHDOG
from switchboard.config.validation import DATABASE_SECRET_QUERY, redact_database_url

IMMEDIATE = "switchboard_immediate"
"""Execution option: begin this connection's transaction with ``BEGIN IMMEDIATE`` (SQLite)."""

SUPPORTED = ("sqlite", "postgresql")


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of an SQLite file (absolute), e.g. in the Flask instance folder."""
    return URL.create("sqlite", database=str(Path(path).resolve())).render_as_string()


def safe_url(url: URL) -> str:
    """``url`` for a message: its passwords as ``***``, as ``config`` shows a database URL
    (:func:`switchboard.config.validation.redact_database_url`)."""
    return redact_database_url(url)


def _secrets(url: URL) -> list[str]:
    """The password of ``url``, and those given in its query."""
    found = [str(url.password)] if url.password else []
    for key, value in url.query.items():
        if key.lower() in DATABASE_SECRET_QUERY:
            found.extend(v for v in ([value] if isinstance(value, str) else value) if v)
    return found


def parse_url(url: str | URL) -> URL:
    try:
        parsed = sa.make_url(url)
    except (exc.ArgumentError, ValueError) as error:
        raise StoreUnavailable(f"not a database URL: {error}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in SUPPORTED:
        raise StoreUnavailable(
            f"unsupported database {safe_url(parsed)}: use sqlite:///PATH or postgresql+psycopg://..."
        )
    if parsed.get_backend_name() == "sqlite" and sqlite_path(parsed):
        parsed = parsed.set(database=str(Path(parsed.database or "").resolve()))
    return parsed


def sqlite_path(url: URL) -> str | None:
    """The file of an SQLite URL, None for an in-memory or URI-style database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("uri"):
        return None
    return database


class BudgetSpent(TimeoutError):
    """No time is left in the handler's deadline for a new database connection."""


class BudgetedPool(QueuePool):
    """A ``QueuePool`` whose wait for a free connection (``pool_timeout``) is bounded by what
    is left of the calling thread's budget (:func:`~callbacks.store.budget.wait`)."""

    @property  # type: ignore[override]
    def _timeout(self) -> float:
        return budget.wait(self._pool_timeout)

    @_timeout.setter
    def _timeout(self, value: float) -> None:
        self._pool_timeout = value

    def recreate(self) -> QueuePool:
        pool = super().recreate()
        pool._timeout = self._pool_timeout  # not the budget of the thread that disposed it
        return pool


def make_engine(
    url: URL,
    *,
    busy_timeout: float,
    connect_timeout: float,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(
                url,
                busy_timeout=busy_timeout,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
            )
        return _postgresql_engine(
            url,
            connect_timeout=connect_timeout,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
        )
    except (ImportError, exc.ArgumentError) as error:
        raise StoreUnavailable(f"cannot use {safe_url(url)}: {error}") from None


def _sqlite_engine(url: URL, *, busy_timeout: float, **pool: Any) -> Engine:
    path = sqlite_path(url)
    connect_args: dict[str, Any] = {"timeout": busy_timeout, "check_same_thread": False}
    if path is None and not url.query.get("uri"):
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args=connect_args, hide_parameters=True
        )
    else:
        engine = sa.create_engine(
            url, connect_args=connect_args, hide_parameters=True, poolclass=BudgetedPool, **pool
        )

    @event.listens_for(engine, "do_connect")
    def make_folder(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        if path is not None:
            folder = Path(path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OSError(f"cannot create the folder {folder}: {error.strerror}") from None

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            if path is not None:  # see callbacks.store.checkpoint
                cursor.execute("PRAGMA wal_autocheckpoint = 0")
        finally:
            cursor.close()
        record.info[BUSY_MS] = int(busy_timeout * 1000)
        if path is not None:
            record.info["inode"] = file_id(path)

    @event.listens_for(engine, "checkout")
    def same_file(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if path is not None and replaced(record.info, path):
            raise exc.DisconnectionError(f"{path} was replaced or removed")

    @event.listens_for(engine, "begin")
    def begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    _dispose_after_fork(engine)
    return engine


def replaced(info: Mapping[str, Any], path: str) -> bool:
    """Whether the file a connection opened (as its pool record's ``info`` says) is no longer
    the one at ``path``: replaced, moved away or removed."""
    return info.get("inode") != file_id(path)


def file_id(path: str) -> tuple[int, int] | None:
    """The device and inode of ``path`` (None if it is not there): a replaced file changes them."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


BUSY_MS = "switchboard_busy_ms"
"""Key of a pooled connection's ``info``: its busy timeout (SQLite) in ms as last set."""

STATEMENT_MS = "switchboard_statement_ms"
"""Key of a pooled connection's ``info``: its ``statement_timeout`` (PostgreSQL) in ms as last
set, absent when not known (a new connection, or a transaction that set it rolled back)."""

#: psycopg counts a connect timeout in whole seconds, and anything under 2 as 2.
_PG_MIN_CONNECT_TIMEOUT = 2


def _postgresql_engine(url: URL, *, connect_timeout: float, **pool: Any) -> Engine:
    connect_args: dict[str, Any] = {}
    with contextlib.suppress(KeyError, ValueError):  # the URL's own, if it gives one
        connect_timeout = float(str(url.query["connect_timeout"]))
    if "application_name" not in url.query:
        connect_args["application_name"] = "switchboard"
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=1800,
        poolclass=BudgetedPool,
        connect_args=connect_args,
        hide_parameters=True,
        **pool,
    )

    @event.listens_for(engine, "do_connect")
    def bounded_connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        end = budget.ends()
        if budget.spent(end):
            raise BudgetSpent("no time left to connect before the handler's deadline")
        seconds = budget.wait(connect_timeout, end)
        cparams["connect_timeout"] = max(_PG_MIN_CONNECT_TIMEOUT, int(seconds))

    ping = engine.dialect.do_ping

    def watched_ping(dbapi_connection: Any) -> bool:
        end = budget.ends()
        with WATCHDOG.watching(dbapi_connection, _end(end, budget.BACKGROUND)):
            return ping(dbapi_connection)

    engine.dialect.do_ping = watched_ping  # type: ignore[method-assign]
    _dispose_after_fork(engine)
    return engine


def _end(end: float | None, limit: float) -> float:
    """``end``, or ``limit`` seconds from now outside a handler."""
    return time.monotonic() + limit if end is None else end


def _dispose_after_fork(engine: Engine) -> None:
    """A forked child (gunicorn with preload) must not use its parent's connections."""
    ref = weakref.ref(engine)

    def forget_parent_connections() -> None:
        child_engine = ref()
        if child_engine is not None:
            child_engine.dispose(close=False)

    os.register_at_fork(after_in_child=forget_parent_connections)


# -- failures ----------------------------------------------------------------------------------

_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_PG_RETRY_STATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def is_transient(error: BaseException) -> bool:
    """A failure worth retrying at once: a lock, a serialization failure, a dropped connection."""
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    if getattr(error, "sqlstate", None) in _PG_RETRY_STATES:
        return True
    message = str(error).lower()
    return any(text in message for text in _SQLITE_BUSY)


#: SQLite result codes (primary) of a database that fails every write, whatever the row:
#: PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
_SQLITE_OUTAGE = frozenset({3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
#: PostgreSQL SQLSTATE classes and codes of the same: connection, read-only transaction,
#: insufficient resources (disk full, out of memory or connections), object in use or locked,
#: operator intervention (shutdown), system (I/O) and internal errors, no privilege.
_PG_OUTAGE = ("08", "25", "53", "55", "57", "58", "XX", "42501")


def is_outage(error: BaseException | None) -> bool:
    """A failure of the database rather than of the statement's data (a full disk, a read-only
    file or server, an I/O error, a lock, a dropped connection): any other write would fail the
    same way, so a write that meets it must wait for the database, not be dropped as refused."""
    if error is None:
        return False
    if is_transient(error):
        return True
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        error = error.orig
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_OUTAGE
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith(_PG_OUTAGE)
    return isinstance(error, OSError)


#: SQLite result codes of a database that cannot be read either: IOERR, CORRUPT, CANTOPEN,
#: NOTADB.
_SQLITE_UNREACHABLE = frozenset({10, 11, 14, 26})
_CONNECTION_ERRORS = frozenset({"OperationalError", "InterfaceError"})


def is_unreachable(error: BaseException | None) -> bool:
    """The database could not be used at all, reads included: no connection could be made or
    kept (refused, timed out, cut, no time left to connect, the pool exhausted), the file
    cannot be opened or read. Not a lock, a read-only or full database, which still answer
    reads (:func:`is_outage` is true of those too)."""
    if error is None:
        return False
    if isinstance(error, exc.TimeoutError | BudgetSpent):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_UNREACHABLE
    if hasattr(error, "sqlstate"):  # psycopg
        state = error.sqlstate
        if state is None:  # the driver's own: a connection failure, or a misuse
            return any(cls.__name__ in _CONNECTION_ERRORS for cls in type(error).__mro__)
        return state.startswith(("08", "57P"))
    return isinstance(error, OSError) and "database is locked" not in str(error)


def is_missing_table(error: BaseException) -> bool:
    """A statement failed because one of the store's tables is not there (dropped, or the
    database file replaced by an empty one while the server runs)."""
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        error = error.orig
    if getattr(error, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return str(error).startswith("no such table")


def describe(error: BaseException, url: URL) -> str:
    """One line: which database, and the driver's reason (no SQL, no parameters, no password)."""
    return f"database {safe_url(url)} is unavailable ({reason(error, url)})"


def reason(error: BaseException, url: URL) -> str:
    """The driver's reason for ``error`` in one line, ``OperationalError: database or disk is
    full``: the first line of its message, the passwords of ``url`` masked, 200 characters at
    most."""
    cause = error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(cause).__name__}: {text}"


def unavailable(error: BaseException, url: URL) -> StoreUnavailable:
    """The :class:`StoreUnavailable` of ``error`` (chain it: ``raise ... from error``)."""
    return StoreUnavailable(describe(error, url), reason=reason(error, url))
