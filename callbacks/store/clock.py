"""The database server's clock, which every host of a deployment shares.

Claims, leases and the ends of waits are times written by one host and compared by another.
On PostgreSQL the hosts' own clocks may disagree; the server's is the one they all see. So
:meth:`DatabaseClock.now` is this host's clock moved by its offset from the server's: measured
with ``SELECT clock_timestamp()`` (taken as read at the midpoint of the round trip, so within
half of it) when the time is first asked for, and again every :data:`REFRESH_EVERY` seconds.

The measurement is one short statement in the thread that asks for the time, bounded as
every statement of the store is (its ``statement_timeout``, within a handler's deadline); no
thread of its own. While one thread measures, the others go on with the offset they have,
except for the first measurement, which they wait for (as long as their budget allows). A
measurement that fails keeps the last offset (none at first), says so in one log line, and is
tried again :data:`RETRY_EVERY` seconds later. An offset beyond :data:`ABSURD` is used, and
logged as a warning: one of the two clocks is wrong.

On SQLite the database is a file on this host: its clock is this host's, nothing is measured.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from switchboard.callbacks.deadline import HandlerTimeout, shielded
from switchboard.callbacks.store import budget
from switchboard.callbacks.store.errors import StoreUnavailable

if TYPE_CHECKING:
    from switchboard.callbacks.store.store import Store

__all__ = ["ABSURD", "REFRESH_EVERY", "RETRY_EVERY", "DatabaseClock", "database_clock",
           "host_now"]

log = logging.getLogger("switchboard.callbacks.store")

REFRESH_EVERY = 300.0
"""Seconds between two measurements of a database server's clock in a process."""

RETRY_EVERY = 30.0
"""Seconds after a failed measurement before the next one."""

ABSURD = timedelta(days=1)
"""An offset beyond this is logged as a warning: one of the clocks is wrong."""

MEASURE_LIMIT = 5.0
"""Seconds the measurement may take on an engine given without its store (a store bounds it
as it bounds any statement)."""

_ZERO = timedelta(0)
_SERVER_TIME = sa.select(sa.func.clock_timestamp())

#: (this host's time as the statement left, the server's time, this host's as it came back)
Reading = tuple[datetime, datetime, datetime]


def host_now() -> datetime:
    """This host's clock, in UTC."""
    return datetime.now(UTC)


class DatabaseClock:
    """The offset of a database server's clock from this host's, measured by ``measure()``
    (a :data:`Reading`) every ``every`` seconds (:data:`REFRESH_EVERY`), ``retry_every``
    (:data:`RETRY_EVERY`) after a failure; ``measure`` None: the database shares this host's
    clock."""

    def __init__(self, measure: Callable[[], Reading] | None, *, name: str = "the database",
                 every: float | None = None, retry_every: float | None = None) -> None:
        self.name = name
        self.every = REFRESH_EVERY if every is None else every
        self.retry_every = RETRY_EVERY if retry_every is None else retry_every
        self._measure = measure
        self._offset = _ZERO
        self._due = 0.0  # time.monotonic() of the next measurement
        self._lock = threading.Lock()
        self._tried = False
        self._failing = False
        self._absurd = False

    @property
    def offset(self) -> timedelta:
        """The server's clock less this host's, as last measured (zero before)."""
        return self._offset

    def correction(self) -> timedelta:
        """:attr:`offset`, measured first when it is due."""
        if self._measure is not None and time.monotonic() >= self._due:
            self._refresh()
        return self._offset

    def now(self) -> datetime:
        """The server's time: this host's clock moved by :meth:`correction`."""
        return host_now() + self.correction()

    def _refresh(self) -> None:
        if not self._tried:  # the first: wait for it, as long as the budget allows
            taken = self._lock.acquire(timeout=budget.wait(MEASURE_LIMIT))
        else:  # a refresh: another thread doing it, the offset as it is meanwhile
            taken = self._lock.acquire(blocking=False)
        if not taken:
            return
        try:
            if time.monotonic() < self._due:
                return  # measured by another thread meanwhile
            self._tried = True
            self._due = time.monotonic() + self.retry_every
            self._take(self._read())
        finally:
            self._lock.release()

    def _read(self) -> Reading | None:
        assert self._measure is not None
        try:
            return self._measure()
        except HandlerTimeout:
            raise
        except (StoreUnavailable, exc.SQLAlchemyError, OSError) as error:
            if not self._failing:
                text = " ".join(str(error).split())
                log.warning("the clock of %s could not be read (%s): timers and claims use "
                            "this host's clock %s for now; tried again every %g s",
                            self.name, text, _moved(self._offset), self.retry_every)
            self._failing = True
            return None

    def _take(self, reading: Reading | None) -> None:
        if reading is None:
            return
        sent, server, back = reading
        offset = server.astimezone(UTC) - (sent + (back - sent) / 2)
        if self._failing:
            log.warning("the clock of %s is read again: this host's clock %s", self.name,
                        _moved(offset))
        self._failing = False
        absurd = abs(offset) > ABSURD
        if absurd and not self._absurd:
            log.warning("this host's clock is %s the clock of %s by %s: one of them is wrong "
                        "(check their time synchronisation); Switchboard's timers and claims "
                        "follow the database's", "behind" if offset > _ZERO else "ahead of",
                        self.name, abs(offset))
        self._absurd = absurd
        self._offset = offset
        self._due = time.monotonic() + self.every

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a thread of the parent's may have held it


def _moved(offset: timedelta) -> str:
    return f"moved by {offset.total_seconds():+.3f} s" if offset else "as it is"


_clocks: weakref.WeakKeyDictionary[Engine, DatabaseClock] = weakref.WeakKeyDictionary()
_clocks_lock = threading.Lock()


def database_clock(store_or_engine: Store | Engine) -> DatabaseClock:
    """The clock of the database behind a store (or an SQLAlchemy engine): one per engine in a
    process, so that every caller shares its measurement."""
    engine: Engine = getattr(store_or_engine, "engine", store_or_engine)
    found = _clocks.get(engine)
    if found is not None:
        return found
    with _clocks_lock:
        found = _clocks.get(engine)
        if found is None:
            found = _clocks[engine] = _make(store_or_engine, engine)
    return found


def _make(store_or_engine: Store | Engine, engine: Engine) -> DatabaseClock:
    """A clock that measures nothing on SQLite; on PostgreSQL, one that measures through the
    store (its bounds, retries and breaker), or the engine when given alone. It holds them
    weakly: a clock outlives neither."""
    if engine.dialect.name != "postgresql":
        return DatabaseClock(None)
    name = f"the database server ({engine.url.host or 'local socket'})"
    ref: weakref.ref[Any] = weakref.ref(store_or_engine)
    measure = _measure_engine if store_or_engine is engine else _measure_store
    return DatabaseClock(lambda: measure(ref()), name=name)


def _reading(conn: sa.Connection) -> Reading:
    sent = host_now()
    server = conn.execute(_SERVER_TIME).scalar_one()
    back = host_now()
    return sent, server, back


def _measure_store(store: Store | None) -> Reading:
    if store is None:
        raise StoreUnavailable("the store is closed")
    return store.run(_reading, write=False)


def _measure_engine(engine: Engine | None) -> Reading:
    if engine is None:
        raise StoreUnavailable("the engine is gone")
    ms = budget.milliseconds(budget.wait(MEASURE_LIMIT))
    with shielded(), engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
        return _reading(conn)


def _after_fork_in_child() -> None:
    global _clocks_lock
    _clocks_lock = threading.Lock()
    for found in list(_clocks.values()):
        found._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
