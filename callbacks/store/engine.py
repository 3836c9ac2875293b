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
picked up again when it returns. Behind a transaction-mode pooler (PgBouncer), named in the
URL as ``?pooler=transaction``, psycopg prepares no statement on the server: the next
transaction of a connection may run on another server connection, where the statement
prepared on the first does not exist (or another client's of the same name does). psycopg then
runs in autocommit and each transaction begins with :func:`begin_statement`, which sets its
``statement_timeout`` with ``SET LOCAL`` in the ``BEGIN``'s own round trip: nothing outlives a
transaction. The store takes only transaction-level advisory locks, with or without a pooler.

The connection math: each process opens at most ``pool_size + max_overflow`` connections;
:func:`connection_budget` says what hosts x workers x that comes to against the server's
``max_connections`` (the store logs it at its first ``create_all``).

Under a handler's deadline, the pool wait, the connect timeout and the pre-ping are bounded by
what is left of it (:mod:`~switchboard.callbacks.store.budget`); the pre-ping is watched
(:mod:`~switchboard.callbacks.store.watchdog`), and no new connection is begun once the
budget is spent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import QueuePool, StaticPool

from switchboard.callbacks.store import budget
from switchboard.callbacks.store.errors import StoreUnavailable, ValueRefused
from switchboard.callbacks.store.watchdog import WATCHDOG
from switchboard.config.validation import (
    DATABASE_POOLER_OPTION,
    DATABASE_POOLERS,
    DATABASE_SECRET_QUERY,
    redact_database_url,
)

IMMEDIATE = "switchboard_immediate"
"""Execution option: begin this connection's transaction with ``BEGIN IMMEDIATE`` (SQLite)."""

SUPPORTED = ("sqlite", "postgresql")

POOLER = DATABASE_POOLER_OPTION
"""The URL's query option naming the pooler between Switchboard and PostgreSQL (not libpq's:
the store takes it out of what it hands the driver)."""

POOLERS = DATABASE_POOLERS
"""``none`` (the default): PostgreSQL itself, or a pooler in session mode, where a client keeps
its server connection (the same as none for Switchboard); ``transaction``: PgBouncer (or
another pooler) in transaction mode, where each transaction may run on another server
connection."""

log = logging.getLogger("switchboard.callbacks.store")


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
    pooler_of(parsed)  # a wrong ?pooler= fails here, not at the first connection
    return parsed


def pooler_of(url: URL) -> str:
    """The pooler the URL names (``?pooler=transaction``): one of :data:`POOLERS`, ``none``
    without the option. :class:`StoreUnavailable` for another value, or on an SQLite URL."""
    value = url.query.get(POOLER)
    if value is None:
        return "none"
    if url.get_backend_name() != "postgresql":
        raise StoreUnavailable(f"{safe_url(url)}: ?{POOLER}= applies to PostgreSQL only")
    if not isinstance(value, str) or value.strip().lower() not in POOLERS:
        raise StoreUnavailable(
            f"{safe_url(url)}: ?{POOLER}= must be one of {', '.join(POOLERS)}, given once"
        )
    return value.strip().lower()


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

    # SQLAlchemy names a pool's logger after its class's module: without this, its INFO lines
    # ("Pool disposed", at every gunicorn worker's start) would be the app's own logger's.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.QueuePool"

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
            url.difference_update_query([POOLER]),
            pooler=pooler_of(url),
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

TRANSACTION_MS = "switchboard_transaction_ms"
"""Key of a pooled connection's ``info`` (``?pooler=transaction``): the ``statement_timeout``
in ms for the next transaction it begins (:func:`begin_statement`), taken by that ``BEGIN``."""


def begin_statement(ms: int | None) -> str:
    """What begins a transaction through a transaction-mode pooler: ``BEGIN``, and its
    ``statement_timeout`` in the same round trip (simple query protocol), the one psycopg would
    otherwise spend on a ``BEGIN`` of its own. Nothing outlives the transaction."""
    return "BEGIN" if ms is None else f"BEGIN; SET LOCAL statement_timeout = {int(ms)}"


STATEMENT_MS = "switchboard_statement_ms"
"""Key of a pooled connection's ``info``: its ``statement_timeout`` (PostgreSQL) in ms as last
set, absent when not known (a new connection, or a transaction that set it rolled back)."""

#: psycopg counts a connect timeout in whole seconds, and anything under 2 as 2.
_PG_MIN_CONNECT_TIMEOUT = 2


def _postgresql_engine(
    url: URL, *, pooler: str, connect_timeout: float, **pool: Any
) -> Engine:
    connect_args: dict[str, Any] = {}
    if pooler == "transaction":
        # psycopg prepares a statement on the server once a connection has run it 5 times
        # (prepare_threshold); through a transaction-mode pooler, the name it gave it means
        # another server connection's statement, or none.
        connect_args["prepare_threshold"] = None
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

    if pooler == "transaction":

        @event.listens_for(engine, "connect")
        def explicit_transactions(dbapi_connection: Any, record: Any) -> None:
            # psycopg begins no transaction by itself: each begins with begin_statement(), so
            # that its statement_timeout is set in the BEGIN's round trip, SET LOCAL
            dbapi_connection.autocommit = True

        @event.listens_for(engine, "begin")
        def begin(conn: sa.Connection) -> None:
            fairy = conn.connection
            fairy.dbapi_connection.execute(begin_statement(fairy.info.pop(TRANSACTION_MS, None)))

    ping = engine.dialect.do_ping

    def watched_ping(dbapi_connection: Any) -> bool:
        end = budget.ends()
        with WATCHDOG.watching(dbapi_connection, _end(end, budget.BACKGROUND)):
            return ping(dbapi_connection)

    engine.dialect.do_ping = watched_ping  # type: ignore[method-assign]
    _dispose_after_fork(engine)
    return engine


# -- the connection math -----------------------------------------------------------------------


def gunicorn_workers(
    argv: Sequence[str] | None = None,
    modules: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """How many worker processes this host runs, as far as this process can tell: under
    gunicorn, its ``-w``/``--workers`` option, else the ``workers`` of its configuration file
    (``deploy/gunicorn.conf.py``, which reads ``GUNICORN_WORKERS``), else ``WEB_CONCURRENCY``
    (gunicorn's own default), else 1; outside gunicorn (the development server, a script), 1."""
    argv = sys.argv if argv is None else argv
    modules = sys.modules if modules is None else modules
    environ = os.environ if environ is None else environ
    if "gunicorn.arbiter" not in modules:
        return 1
    for index, arg in enumerate(argv):
        value = None
        if arg in ("-w", "--workers") and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--workers="):
            value = arg.partition("=")[2]
        elif arg.startswith("-w") and arg[2:].isdigit():
            value = arg[2:]
        if value is not None and value.strip().isdigit() and int(value) > 0:
            return int(value)
    configured = getattr(modules.get("__config__"), "workers", None)
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        return configured
    concurrency = environ.get("WEB_CONCURRENCY", "").strip()
    return int(concurrency) if concurrency.isdigit() and int(concurrency) > 0 else 1


@dataclass(frozen=True)
class ConnectionBudget:
    """What a deployment may open against what PostgreSQL takes.

    ``hosts`` (``SWITCHBOARD_HOSTS``) x ``workers`` (:func:`gunicorn_workers`) x
    ``per_process`` (``pool_size + max_overflow``) connections at most, against the server's
    ``max_connections`` less the connections it keeps for superusers (``reserved``)."""

    hosts: int
    workers: int
    per_process: int
    max_connections: int
    reserved: int
    pooler: str = "none"

    @property
    def most(self) -> int:
        """Connections the deployment may open at once."""
        return self.hosts * self.workers * self.per_process

    @property
    def available(self) -> int:
        """Connections PostgreSQL takes from roles that are not superusers."""
        return max(0, self.max_connections - self.reserved)

    @property
    def exceeded(self) -> bool:
        """Whether the deployment may open more connections than PostgreSQL takes (never
        through a transaction pooler, whose own limits stand between them)."""
        return self.pooler != "transaction" and self.most > self.available

    def describe(self) -> str:
        """One line: the product, the server's limit, and what to change."""
        product = (f"{self.hosts} hosts x {self.workers} workers x {self.per_process} "
                   f"connections (pool size + overflow) = {self.most}")
        if self.pooler == "transaction":
            return (f"{product} client connections to the pooler at most: its max_client_conn "
                    f"must hold them, and its server pool (default_pool_size + "
                    f"reserve_pool_size) fit in PostgreSQL's {self.available} "
                    f"(max_connections {self.max_connections} less {self.reserved} reserved)")
        if self.exceeded:
            return (f"{product} may exceed what PostgreSQL takes: max_connections "
                    f"{self.max_connections} less {self.reserved} reserved for superusers = "
                    f"{self.available}; lower SWITCHBOARD_DATABASE_POOL_SIZE or "
                    f"SWITCHBOARD_DATABASE_MAX_OVERFLOW, run fewer workers, raise "
                    f"max_connections, or put PgBouncer in transaction mode in front "
                    f"(docs/deploy.md, Many hosts)")
        return (f"{product}, within PostgreSQL's {self.available} (max_connections "
                f"{self.max_connections} less {self.reserved} reserved for superusers)")


_SERVER_LIMITS = (
    "SELECT current_setting('max_connections')::int, "
    "current_setting('superuser_reserved_connections')::int, "
    "coalesce(current_setting('reserved_connections', true), '0')::int"
)

_TOLD: set[tuple[str, int, int]] = set()
"""(URL, hosts, per_process) already told about in this process, or in the process it was
forked from (gunicorn's master, before its workers): once per host, not per worker."""


def connection_budget(
    conn: sa.Connection, *, hosts: int, per_process: int, pooler: str = "none",
    workers: int | None = None,
) -> ConnectionBudget:
    """The :class:`ConnectionBudget` of this deployment on ``conn``'s PostgreSQL server."""
    max_connections, superuser, reserved = conn.exec_driver_sql(_SERVER_LIMITS).one()
    return ConnectionBudget(
        hosts=hosts, workers=gunicorn_workers() if workers is None else workers,
        per_process=per_process, max_connections=max_connections,
        reserved=superuser + reserved, pooler=pooler,
    )


def tell_connection_budget(
    conn: sa.Connection, url: URL, *, hosts: int, per_process: int, pooler: str
) -> ConnectionBudget | None:
    """Log the deployment's :class:`ConnectionBudget` once per host (a warning when it may
    exceed the server's limit); None when told already or when the server would not say."""
    key = (safe_url(url), hosts, per_process)
    if key in _TOLD:
        return None
    _TOLD.add(key)
    try:
        with conn.begin_nested():
            found = connection_budget(conn, hosts=hosts, per_process=per_process,
                                      pooler=pooler)
    except exc.SQLAlchemyError as error:
        log.info("the server's max_connections could not be read (%s): the connection "
                 "math is not checked", reason(error, url))
        return None
    if found.exceeded:
        log.warning("database connections: %s", found.describe())
    else:
        log.info("database connections: %s", found.describe())
    return found


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
    if isinstance(error, exc.StatementError) and error.orig is not None:
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
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.StatementError) and error.orig is not None:
        error = error.orig
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


def is_refused_value(error: BaseException) -> bool:
    """The database refused a value of the statement, or the statement could not be sent for
    one: the driver's ``DataError`` (too long, out of range, a bad cast) or ``IntegrityError``
    (a constraint), PEP 249's names for them; the ``OverflowError`` of an integer the driver
    cannot convert (sqlite3: past 64 bits); SQLAlchemy's ``StatementError`` for a parameter it
    could not convert, unless the error it wraps (``orig``) is an outage."""
    if isinstance(error, exc.DataError | exc.IntegrityError | OverflowError):
        return True
    if isinstance(error, exc.StatementError) and not isinstance(error, exc.DBAPIError):
        return not (is_outage(error.orig) or is_unreachable(error.orig))
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        error = error.orig
    return any(cls.__name__ in ("DataError", "IntegrityError") for cls in type(error).__mro__)


def describe(error: BaseException, url: URL) -> str:
    """One line: which database, what happened (it is unavailable, or refused a value) and the
    driver's reason (no SQL, no parameters, no password)."""
    what = "refused a value" if is_refused_value(error) else "is unavailable"
    return f"database {safe_url(url)} {what} ({reason(error, url)})"


#: A password this long or longer is masked wherever its text appears in a driver's message;
#: a shorter one (which may be an ordinary word: ``on`` in ``connection``) only where it stands
#: as a password (in the URL, ``:PASSWORD@``, ``password=PASSWORD``).
MASKED_ANYWHERE = 8


def mask_secrets(text: str, url: URL) -> str:
    """``text`` with ``url``'s secrets hidden: the URL itself, as the driver may quote it, shown
    with its passwords as ``***`` (:func:`safe_url`); a password (or one of the query) of
    :data:`MASKED_ANYWHERE` characters or more replaced by ``***`` wherever it appears, a
    shorter one only where it stands as a password, so that the rest of the message stays as
    the driver wrote it and what is masked does not give the password away."""
    secrets = _secrets(url)
    if not secrets:
        return text
    for shown in {url.render_as_string(hide_password=False), str(url)}:
        text = text.replace(shown, safe_url(url))
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MASKED_ANYWHERE:
            text = text.replace(secret, "***")
            continue
        quoted = re.escape(secret)
        text = re.sub(rf":{quoted}@", ":***@", text)
        text = re.sub(rf"(password\s*=\s*['\"]?){quoted}(?=['\"\s,;)]|$)", r"\g<1>***", text,
                      flags=re.IGNORECASE)
    return text


def reason(error: BaseException, url: URL) -> str:
    """The driver's reason for ``error`` in one line, ``OperationalError: database or disk is
    full``: the first line of its message, the passwords of ``url`` masked
    (:func:`mask_secrets`), 200 characters at most."""
    cause = (error.orig if isinstance(error, exc.StatementError) and error.orig is not None
             else error)
    text = mask_secrets((str(cause).strip().splitlines() or [type(cause).__name__])[0], url)
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(cause).__name__}: {text}"


def unavailable(error: BaseException, url: URL) -> StoreUnavailable:
    """The :class:`StoreUnavailable` of ``error``, a :class:`ValueRefused` when the database
    refused a value (chain it: ``raise ... from error``)."""
    kind = ValueRefused if is_refused_value(error) else StoreUnavailable
    return kind(describe(error, url), reason=reason(error, url))
