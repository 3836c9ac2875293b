"""Studio executions in the store: each run of a flow for a contact, its steps and its context,
in the shape of Studio's Executions, Steps and Context resources, on SQLite and PostgreSQL.

The tables join the store's schema (:data:`switchboard.callbacks.store.schema.metadata`), so
``Store.create_all()`` makes them once this module is imported; every function here also
creates them on first use.

**One active execution per flow and contact**, held by the database: ``active_key`` is set
while an execution is active (``messaging``; ``call:<CallSid>``, or ``call`` for a flow whose
``allow_concurrent_calls`` is false) and NULL once it ended, under a unique index over
(``flow_sid``, ``contact_channel_address``, ``active_key``): a second insert for the same
contact fails, whichever process makes it.

**A claim, not a held lock**: a webhook works on an execution only while it holds the row's
``claim`` (a token with an expiry, set by one ``UPDATE ... WHERE claim IS NULL OR expired``).
The flow then runs outside any transaction (a widget may wait 10 s on an HTTP request) and
its progress is written, and the claim released, in one short transaction. A second message
for the same contact waits for the claim, then continues from where the first left the
execution. :func:`claim_due` takes executions whose wait timed out with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several processes share them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import random
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from switchboard.callbacks import metrics
from switchboard.callbacks.deadline import HandlerTimeout, ends, shielded
from switchboard.callbacks.store import clock as dbclock
from switchboard.callbacks.store.engine import (
    IMMEDIATE,
    is_missing_table,
    is_transient,
    unavailable,
)
from switchboard.callbacks.store.errors import StoreUnavailable
from switchboard.callbacks.store.schema import UTCDateTime, metadata
from switchboard.callbacks.store.store import Store
from switchboard.callbacks.store.upgrade import add_missing_columns, create_missing_indexes

T = TypeVar("T")

log = logging.getLogger("switchboard.callbacks.studio")

ACTIVE, ENDED = "active", "ended"
#: Studio keeps an execution for 30 days; so does Switchboard unless told otherwise.
DEFAULT_RETENTION = timedelta(days=30)
#: Rows deleted per transaction by :func:`purge_executions`.
PURGE_BATCH = 500
#: ``transitioned_to`` of the step that ends an execution, as in Studio.
ENDED_STEP = "Ended"
#: Twilio's ``CallStatus`` of a call that is over.
CALL_OVER = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
#: Why an execution ended (:attr:`Execution.end_reason`; the ``reason`` of
#: ``switchboard_flow_executions_ended_total``): its flow took a transition that leads nowhere;
#: a widget or the flow failed (a caller hears the apology); Studio's limits (1,000 steps, 10
#: runs of one widget in a row); the call ended; a new execution took its place (the call
#: requested the flow's URL again, a message came while it waited for something else); the
#: Studio API ended or deleted it; the retention deleted it while it was active.
COMPLETED, FAILED, LIMIT, CALL_ENDED, REPLACED, API, EXPIRED = (
    "completed", "failed", "limit", "call_ended", "replaced", "api", "expired",
)
#: The event that started an execution (``switchboard_flow_executions_started_total``'s
#: ``trigger``), by what its ``trigger`` context holds.
TRIGGERS = {"call": "incomingCall", "message": "incomingMessage", "request": "incomingRequest"}

executions = sa.Table(
    "studio_executions",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column("flow_sid", sa.String, nullable=False),
    sa.Column("flow_name", sa.String, nullable=False),
    sa.Column("contact_channel_address", sa.String, nullable=False),
    sa.Column("channel_address", sa.String),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("call_sid", sa.String),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("active_key", sa.String),
    sa.Column("widget", sa.String),
    sa.Column("waiting_for", sa.String),
    sa.Column("wait_until", UTCDateTime, index=True),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("frames", sa.Text, nullable=False),
    sa.Column("step_count", sa.Integer, nullable=False),
    sa.Column("last_widget", sa.String),
    sa.Column("repeats", sa.Integer, nullable=False),
    sa.Column("claim", sa.String),
    sa.Column("claimed_until", UTCDateTime),
    # the ``I-Twilio-Idempotency-Token`` of the webhook that moved it last, and its answer
    sa.Column("answer_token", sa.String),
    sa.Column("answer", sa.Text),
    sa.Column("date_created", UTCDateTime, nullable=False),
    sa.Column("date_updated", UTCDateTime, nullable=False, index=True),
    sa.Index("ix_studio_executions_created", "date_created", "sid"),  # the console's list
    sa.Index(
        "uq_studio_executions_active", "flow_sid", "contact_channel_address", "active_key",
        unique=True,
    ),
    sa.Index("ix_studio_executions_flow_created", "flow_sid", "date_created"),
    # a call's newest execution (every step of a call), in the order it is asked for: an
    # index on the call alone leaves SQLite to walk the flow's executions by date instead
    sa.Index("ix_studio_executions_call", "call_sid", "flow_sid", "date_created"),
    # Twilio's retry of a webhook, told by its token (:func:`answering`)
    sa.Index("ix_studio_executions_answer_token", "answer_token"),
)

steps = sa.Table(
    "studio_steps",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column(
        "execution_sid", sa.String,
        sa.ForeignKey("studio_executions.sid", ondelete="CASCADE"), nullable=False, index=True,
    ),
    sa.Column("flow_sid", sa.String, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("type", sa.String),
    sa.Column("transitioned_from", sa.String, nullable=False),
    sa.Column("transitioned_to", sa.String, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("date_created", UTCDateTime, nullable=False),
    sa.Column("date_updated", UTCDateTime, nullable=False),
)

TABLES = (executions, steps)


# -- the hot statements, built once (SQLAlchemy's compiled cache, the store's prepared ones) --
# Their parameters are named apart from the columns (``sid_``, not ``sid``), so that compiling
# with the parameters' names as column keys adds nothing to their SET clauses.


def _param(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


_x = executions.c
_NOW = _param("now_", _x.claimed_until)
_FREE = sa.or_(_x.claim.is_(None), _x.claimed_until < _NOW)
_TAKE = {"claim": _param("token_", _x.claim), "claimed_until": _param("until_", _x.claimed_until)}
#: Columns that change as an execution runs (:func:`_state`), with ``date_updated``.
_STATE_COLUMNS = ("call_sid", "status", "active_key", "widget", "waiting_for", "wait_until",
                  "context", "frames", "step_count", "last_widget", "repeats", "answer_token",
                  "answer", "date_updated")

#: Claim the execution ``sid_`` if it is active and free; the row as it now stands.
CLAIM_SID = (
    sa.update(executions)
    .where(_x.sid == _param("sid_", _x.sid), _x.status == ACTIVE, _FREE)
    .values(_TAKE)
    .returning(executions)
)
#: :func:`find_call` and :func:`claim` in one: the call's newest active execution of the flow,
#: claimed if free.
CLAIM_CALL = (
    sa.update(executions)
    .where(
        _x.sid == sa.select(_x.sid).where(
            _x.call_sid == _param("call_sid_", _x.call_sid), _x.status == ACTIVE,
            _x.flow_sid == _param("flow_sid_", _x.flow_sid),
        ).order_by(_x.date_created.desc()).limit(1).scalar_subquery(),
        _x.call_sid == _param("call_sid_", _x.call_sid),
        _x.status == ACTIVE,
        _FREE,
    )
    .values(_TAKE)
    .returning(executions)
)
#: :func:`find_active` and :func:`claim` in one: the flow's active execution for the contact
#: under the key, claimed if free.
CLAIM_ACTIVE = (
    sa.update(executions)
    .where(
        _x.flow_sid == _param("flow_sid_", _x.flow_sid),
        _x.contact_channel_address == _param("contact_", _x.contact_channel_address),
        _x.active_key == _param("key_", _x.active_key),
        _x.status == ACTIVE,
        _FREE,
    )
    .values(_TAKE)
    .returning(executions)
)
_MINE = sa.and_(_x.sid == _param("sid_", _x.sid), _x.claim == _param("claim_", _x.claim))
#: Write a claimed execution's progress and release its claim (while it is active).
SAVE_STATE = (
    sa.update(executions)
    .where(_MINE, _x.status == ACTIVE)
    .values({**{name: _param(f"{name}_", _x[name]) for name in _STATE_COLUMNS},
             "claim": sa.null(), "claimed_until": sa.null()})
)
_SEEN = sa.and_(
    _x.sid == _param("sid_", _x.sid),
    _x.status == ACTIVE,
    _x.step_count == _param("seen_steps_", _x.step_count),
    _x.date_updated == _param("seen_updated_", _x.date_updated),
    _FREE,
)


@functools.cache
def save_seen(columns: frozenset[str]) -> sa.Update:
    """Write ``columns`` of an execution no request claimed, if it still stands as it was read
    (its step count and time of update, active, free): :func:`save_unclaimed`. Only the
    columns that changed are written, so that the indexes over the others are left alone;
    a claim that ran out meanwhile is cleared (its holder's progress is then refused)."""
    values: dict[str, Any] = {name: _param(f"{name}_", _x[name]) for name in sorted(columns)}
    values.update(claim=sa.null(), claimed_until=sa.null())
    return sa.update(executions).where(_SEEN).values(values)


#: Release the claim, writing nothing else.
RELEASE = sa.update(executions).where(_MINE).values(claim=sa.null(), claimed_until=sa.null())
INSERT_STEPS = sa.insert(steps)
#: :func:`end_call_executions`: whether the call has an active execution, then ending them.
_CALL_ACTIVE = sa.and_(_x.call_sid == _param("call_sid_", _x.call_sid), _x.status == ACTIVE)
CALL_HAS_ACTIVE = sa.select(_x.sid).where(_CALL_ACTIVE).limit(1)
END_CALL = (
    sa.update(executions)
    .where(_CALL_ACTIVE)
    .values(status=ENDED, active_key=None, widget=None, waiting_for=None, wait_until=None,
            date_updated=_param("updated_", _x.date_updated))
    .returning(_x.flow_name)
)
#: :func:`find_call`: the call's newest active execution of the flow.
FIND_CALL = (
    sa.select(executions)
    .where(_x.call_sid == _param("call_sid_", _x.call_sid), _x.status == ACTIVE,
           _x.flow_sid == _param("flow_sid_", _x.flow_sid))
    .order_by(_x.date_created.desc())
    .limit(1)
)


#: Random 128-bit numbers for SIDs and claims, without a system call each (seeded from the
#: system's randomness, and again in a forked process).
_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)


def new_sid(prefix: str) -> str:
    """A new SID: ``prefix`` and 32 hex digits, as Twilio's (``FN...``, ``FT...``).

    The first 13 digits are the time in microseconds and the other 19 random (76 bits), so
    that new rows land at the end of the tables' indexes over their SIDs, on pages the
    database has at hand, rather than each on a page of its own."""
    return f"{prefix}{time.time_ns() // 1000:013x}{_random.getrandbits(76):019x}"


def _token() -> str:
    """A new claim: 32 hex digits."""
    return f"{_random.getrandbits(128):032x}"


def utcnow() -> datetime:
    """This host's clock in UTC, before :meth:`Database.now` sets it to the database's."""
    return dbclock.host_now()


@dataclass
class Execution:
    """One execution as stored. ``context`` is Studio's (``flow``, ``trigger``, ``widgets``,
    ``contact``) of the flow the execution started in; ``frames`` the subflows running under
    it (see :mod:`~switchboard.callbacks.studio.runtime`); ``widget`` and ``waiting_for`` where
    it waits for Twilio or the contact, ``wait_until`` when that wait times out."""

    sid: str
    flow_sid: str
    flow_name: str
    contact_channel_address: str
    channel_address: str | None
    channel: str
    call_sid: str | None = None
    status: str = ACTIVE
    active_key: str | None = None
    widget: str | None = None
    waiting_for: str | None = None
    wait_until: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)
    frames: list[dict[str, Any]] = field(default_factory=list)
    step_count: int = 0
    last_widget: str | None = None
    repeats: int = 0
    date_created: datetime | None = None
    date_updated: datetime | None = None
    claim: str | None = field(default=None, repr=False)
    claimed_until: datetime | None = field(default=None, repr=False)
    #: The ``I-Twilio-Idempotency-Token`` of the webhook that moved it last, and the TwiML
    #: that webhook was answered (:func:`answering`).
    answer_token: str | None = field(default=None, repr=False)
    answer: str | None = field(default=None, repr=False)
    #: The columns of :func:`_state` as read from the database (context and frames as text).
    stored: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: True when this webhook made the execution (it was not found active).
    new: bool = field(default=False, compare=False)
    #: Why the runtime ended it (:data:`COMPLETED`...), counted once its end is written; an
    #: execution ended with none given failed.
    end_reason: str | None = field(default=None, repr=False, compare=False)
    #: The subflows the runtime entered, by name, and the widgets that failed, as (flow name,
    #: widget type): counted, as the end is, by the write of this progress (a run done again
    #: counts them once).
    subflows_entered: list[str] = field(default_factory=list, repr=False, compare=False)
    failed_widgets: list[tuple[str, str]] = field(default_factory=list, repr=False,
                                                  compare=False)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def as_resource(self) -> dict[str, Any]:
        """The execution in the fields of Studio's Execution resource."""
        return {
            "sid": self.sid,
            "flow_sid": self.flow_sid,
            "contact_channel_address": self.contact_channel_address,
            "status": self.status,
            "context": self.context,
            "date_created": self.date_created,
            "date_updated": self.date_updated,
        }


@dataclass(frozen=True)
class Step:
    """A step to write: the widget ``transitioned_from`` left on the event ``name``."""

    name: str
    transitioned_from: str
    transitioned_to: str
    flow_sid: str
    type: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


class AlreadyActive(Exception):
    """Another execution of the flow is active for the contact (the unique index said so)."""


# -- the database ------------------------------------------------------------------------------


class Database:
    """Short transactions on the store's engine (or any SQLAlchemy engine): retried on a lock
    or a dropped connection, run shielded from the handler's deadline, failures raised as the
    store's :class:`~switchboard.callbacks.store.StoreUnavailable`. The tables are created on
    first use.

    Its :meth:`now` is the database server's time, which every host shares (claims, waits
    and leases are compared across hosts), unless ``clock`` (tests) gives the time outright."""

    _ready: weakref.WeakSet[Engine] = weakref.WeakSet()
    _ready_lock = threading.Lock()
    #: The tables :meth:`ensure_tables` makes (a subclass for other tables has its own
    #: ``_ready`` too).
    tables: tuple[sa.Table, ...] = TABLES

    def __init__(self, store_or_engine: Store | Engine, *,
                 clock: Callable[[], datetime] | None = None):
        if isinstance(store_or_engine, Store):
            engine = store_or_engine.engine
        elif isinstance(store_or_engine, Engine):
            engine = store_or_engine
        else:
            raise TypeError(f"a Store or an SQLAlchemy Engine, not {type(store_or_engine)!r}")
        self.engine = engine
        self.dialect = engine.dialect.name
        self.clock = clock
        self._database_clock: dbclock.DatabaseClock | None = None
        #: The store, when given one: its transactions (its time budgets within the handler's
        #: deadline, its circuit breaker, its writer lock and retries), its prepared
        #: statements for the hot ones of a webhook (:func:`find_call`, :func:`claim_call`,
        #: :func:`save_unclaimed`...), and its write-behind for the steps (:meth:`defer`).
        self.store = store_or_engine if isinstance(store_or_engine, Store) else None

    def now(self) -> datetime:
        """The current time in UTC: ``clock``'s when given, else this host's clock set to the
        database server's (:mod:`~switchboard.callbacks.store.clock`; measured when due, by
        one short statement)."""
        if self.clock is not None:
            return self.clock().astimezone(UTC)
        found = self._database_clock
        if found is None:
            found = self._database_clock = dbclock.database_clock(self.store or self.engine)
        return (utcnow() + found.correction()).astimezone(UTC)

    @property
    def defers(self) -> bool:
        """Whether :meth:`defer` hands rows to the store's write-behind."""
        return self.store is not None and self.store.defers

    def defer(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` into ``table`` just after the answer, by the store's write-behind
        (only when :attr:`defers`; see ``Store.defer``)."""
        if self.store is None:
            raise RuntimeError("rows are deferred to a store's write-behind, and there is none")
        for row in rows:
            self.store.defer(table, row, label=row["sid"])

    def flush(self) -> None:
        """Write the rows this process deferred (before reading or deleting steps)."""
        if self.store is not None and self.store.defers:
            self.store.flush()

    def ensure_tables(self) -> None:
        if self.engine in self._ready:
            return
        with self._ready_lock:
            if self.engine not in self._ready:
                self._create()
                self._ready.add(self.engine)

    def _create(self) -> None:
        def work(conn: sa.Connection) -> None:
            if self.dialect == "postgresql":  # the store's lock: one create_all at a time
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x5377_6264)))
            metadata.create_all(conn, tables=list(self.tables), checkfirst=True)
            add_missing_columns(conn, self.tables)  # a table made by an older version
            create_missing_indexes(conn, self.tables)

        try:
            self._attempts(work, write=True)
        except exc.SQLAlchemyError as error:  # another process made them at the same moment
            if "already exists" not in str(error):
                raise unavailable(error, self.engine.url) from error
            self._attempts(work, write=True)

    def run(self, work: Callable[[sa.Connection], T], *, write: bool = True) -> T:
        """``work(conn)`` in one transaction (``BEGIN IMMEDIATE`` on SQLite for a write), by
        the store when there is one; failures raise ``StoreUnavailable``."""
        self.ensure_tables()
        if self.store is not None:
            return self.store.run(work, write=write)
        try:
            return self._attempts(work, write=write)
        except (exc.SQLAlchemyError, OSError) as error:
            if not is_missing_table(error):
                raise unavailable(error, self.engine.url) from error
        self._ready.discard(self.engine)  # dropped under us: made again, and tried once more
        self.ensure_tables()
        try:
            return self._attempts(work, write=write)
        except (exc.SQLAlchemyError, OSError) as error:
            raise unavailable(error, self.engine.url) from error

    def bind(self, stmt: sa.Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
             ) -> Bound:
        """One of this module's prebuilt statements with its parameters (a list of them: an
        executemany), ready for :meth:`statements`: with a store, as the driver's SQL and
        arguments (its :class:`~switchboard.callbacks.store.statements.Prepared`, compiled
        once), made before the transaction as the store makes its own."""
        many = not isinstance(params, Mapping)
        if self.store is None:
            return Bound(stmt, list(params) if many else params, many)  # type: ignore[arg-type]
        prepare = self.store.prepare
        if not many:
            return Bound(*prepare(stmt, params), False)  # type: ignore[arg-type]
        bound = [prepare(stmt, row) for row in params]  # type: ignore[union-attr]
        return Bound(bound[0][0] if bound else "", [args for _sql, args in bound], True)

    def statements(self, work: Callable[[Callable[[Bound], Result]], T], *,
                   write: bool = True, single: bool = False) -> T:
        """``work(run)`` in one transaction, where ``run(bound)`` executes a statement of
        :meth:`bind` and gives its :class:`Result`. With a store, on its raw DBAPI cursor (its
        retries, circuit breaker and writer lock; ``single``: ``work`` runs one statement,
        which SQLite autocommits); else on a SQLAlchemy connection, by :meth:`run`."""
        if self.store is None:
            return self.run(lambda conn: work(functools.partial(_run_core, conn)), write=write)
        self.ensure_tables()
        decoders = _decoders(self.engine.dialect)
        return self.store.run_prepared(
            lambda cursor: work(functools.partial(_run_cursor, cursor, decoders)),
            write=write, single=single,
        )

    def _attempts(self, work: Callable[[sa.Connection], T], *, write: bool) -> T:
        delay = 0.02
        for attempt in range(1, 5):
            try:
                with shielded(), self.engine.connect() as conn:
                    if write:
                        conn.execution_options(**{IMMEDIATE: True})
                    with conn.begin():
                        return work(conn)
            except HandlerTimeout:
                raise
            except (exc.SQLAlchemyError, OSError) as error:
                if attempt < 4 and is_transient(error):
                    time.sleep(delay * (1 + _random.random()))
                    delay *= 2
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Bound:
    """A statement and its parameters, as :meth:`Database.bind` made them."""

    statement: Any  # the driver's SQL (a store), or the SQLAlchemy statement
    params: Any  # the driver's arguments, or the statement's parameters (a list: many)
    many: bool


@dataclass(frozen=True)
class Result:
    """What a statement did: the rows it changed, the rows it returned (as dicts)."""

    rowcount: int
    rows: list[dict[str, Any]]


def _run_core(conn: sa.Connection, bound: Bound) -> Result:
    result = conn.execute(bound.statement, bound.params)
    rows = [dict(row) for row in result.mappings()] if result.returns_rows else []
    return Result(result.rowcount, rows)


def _run_cursor(cursor: Any, decoders: Mapping[str, Callable[[Any], Any]], bound: Bound
                ) -> Result:
    if bound.many:
        if bound.params:
            cursor.executemany(bound.statement, bound.params)
        return Result(cursor.rowcount, [])
    cursor.execute(bound.statement, bound.params)
    rows: list[dict[str, Any]] = []
    if cursor.description is not None:
        names = [column[0] for column in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            for name, decode in decoders.items():
                if name in row:
                    row[name] = decode(row[name])
            rows.append(row)
    return Result(cursor.rowcount, rows)


_DECODERS: dict[Any, dict[str, Callable[[Any], Any]]] = {}


def _decoders(dialect: sa.Dialect) -> dict[str, Callable[[Any], Any]]:
    """The result processors of the executions' columns that have one (their times), as
    SQLAlchemy would apply them to a row read off the driver's cursor."""
    found = _DECODERS.get(dialect)
    if found is None:
        found = {}
        for column in executions.columns:
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                found[column.name] = processor
        _DECODERS[dialect] = found
    return found


# -- rows --------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _execution(row: Mapping[str, Any]) -> Execution:
    return Execution(
        sid=row["sid"],
        flow_sid=row["flow_sid"],
        flow_name=row["flow_name"],
        contact_channel_address=row["contact_channel_address"],
        channel_address=row["channel_address"],
        channel=row["channel"],
        call_sid=row["call_sid"],
        status=row["status"],
        active_key=row["active_key"],
        widget=row["widget"],
        waiting_for=row["waiting_for"],
        wait_until=row["wait_until"],
        context=json.loads(row["context"]),
        frames=json.loads(row["frames"]),
        step_count=row["step_count"],
        last_widget=row["last_widget"],
        repeats=row["repeats"],
        date_created=row["date_created"],
        date_updated=row["date_updated"],
        claim=row["claim"],
        claimed_until=row["claimed_until"],
        answer_token=row["answer_token"],
        answer=row["answer"],
        stored={name: row[name] for name in _STATE_COLUMNS},
    )


def _state(execution: Execution) -> dict[str, Any]:
    """The columns that change as an execution runs."""
    active = execution.active
    return {
        "call_sid": execution.call_sid,
        "status": execution.status,
        "active_key": execution.active_key if active else None,
        "widget": execution.widget if active else None,
        "waiting_for": execution.waiting_for if active else None,
        "wait_until": execution.wait_until if active else None,
        "context": _dumps(execution.context),
        "frames": _dumps(execution.frames),
        "step_count": execution.step_count,
        "last_widget": execution.last_widget,
        "repeats": execution.repeats,
        "answer_token": execution.answer_token,
        "answer": execution.answer,
    }


# -- operations --------------------------------------------------------------------------------


def create(db: Database, execution: Execution, *, claim_for: float) -> Execution:
    """Insert ``execution`` as active and claimed by this caller for ``claim_for`` seconds;
    :class:`AlreadyActive` when the flow has an active execution for the contact already."""
    now = db.now()
    execution.claim = _token()
    execution.date_created = execution.date_updated = now
    execution.new = True
    row = {
        "sid": execution.sid,
        "flow_sid": execution.flow_sid,
        "flow_name": execution.flow_name,
        "contact_channel_address": execution.contact_channel_address,
        "channel_address": execution.channel_address,
        "channel": execution.channel,
        **_state(execution),
        "claim": execution.claim,
        "claimed_until": now + timedelta(seconds=claim_for),
        "date_created": now,
        "date_updated": now,
    }
    retry = _retry()
    if retry is None:
        bound = db.bind(_insert_new(db.dialect), row)
    else:  # nor where Twilio's first attempt of this request made or moved one already
        row.update(retry_token_=retry.token, retry_flow_=execution.flow_sid,
                   retry_contact_=execution.contact_channel_address)
        bound = db.bind(_insert_unanswered(db.dialect), row)
    if not db.statements(lambda run: run(bound).rows, single=True):
        raise AlreadyActive(execution.active_key)
    trigger = next(iter(execution.context.get("trigger") or ()), "")
    metrics.flow_started(execution.flow_name, TRIGGERS.get(trigger, "other"))
    return execution


@functools.cache
def _insert_new(dialect: str) -> sa.Insert:
    """An insert that adds nothing where the unique index holds the row already (no error,
    which the store would count as a failure of the database): it returns the new SID, or
    no row."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(executions).on_conflict_do_nothing().returning(executions.c.sid)


@functools.cache
def _insert_unanswered(dialect: str) -> sa.Insert:
    """:func:`_insert_new`, adding nothing either where an execution of the flow for the
    contact holds the token of the request (``retry_token_``): Twilio's retry of a request
    whose first attempt made or moved it (:func:`answering`)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    names = [column.name for column in executions.columns]
    answered = sa.exists().where(
        _x.answer_token == _param("retry_token_", _x.answer_token),
        _x.flow_sid == _param("retry_flow_", _x.flow_sid),
        _x.contact_channel_address == _param("retry_contact_", _x.contact_channel_address),
    )
    values = sa.select(*(_param(name, executions.c[name]) for name in names)).where(~answered)
    return (insert(executions).from_select(names, values).on_conflict_do_nothing()
            .returning(executions.c.sid))


def find_active(db: Database, flow_sid: str, contact: str, active_key: str) -> Execution | None:
    """The flow's active execution for ``contact`` under ``active_key``, if any; under a
    webhook that is Twilio's retry of one that moved an execution of the flow for the contact,
    :class:`Answered` (:func:`answering`)."""
    table = executions
    query = sa.select(table).where(
        table.c.flow_sid == flow_sid, table.c.contact_channel_address == contact
    )
    retry = _retry()
    if retry is None:
        return _one(db, query.where(table.c.active_key == active_key))
    answered = table.c.answer_token == retry.token
    query = query.where(sa.or_(table.c.active_key == active_key, answered)).order_by(
        sa.case((answered, 0), else_=1), table.c.date_updated.desc()
    ).limit(1)
    found = _one(db, query)
    if found is None:
        return None
    _retried(db, found, claimed=False)
    return found if found.active_key == active_key and found.active else None


def find_call(db: Database, call_sid: str, flow_sid: str | None = None) -> Execution | None:
    """The active execution of the call ``call_sid`` (of the flow ``flow_sid`` if given)."""
    if flow_sid is not None:  # a webhook's: the prebuilt statement, on the store's cursor
        bound = db.bind(FIND_CALL, {"call_sid_": call_sid, "flow_sid_": flow_sid})
        rows = db.statements(lambda run: run(bound).rows, write=False, single=True)
        if rows:
            return _retried(db, _execution(rows[0]), claimed=False)
        _answered_call(db, call_sid, flow_sid)
        return None
    query = sa.select(executions).where(
        executions.c.call_sid == call_sid, executions.c.status == ACTIVE
    )
    if flow_sid is not None:
        query = query.where(executions.c.flow_sid == flow_sid)
    return _one(db, query.order_by(executions.c.date_created.desc()).limit(1))


def get(db: Database, sid: str) -> Execution | None:
    """The execution ``sid``, if any; under a webhook that is Twilio's retry of the one that
    moved it last, :class:`Answered` (:func:`answering`)."""
    found = _one(db, sa.select(executions).where(executions.c.sid == sid))
    return _retried(db, found, claimed=False) if found is not None else None


def _one(db: Database, query: sa.Select[Any]) -> Execution | None:
    row = db.run(lambda conn: conn.execute(query).mappings().first(), write=False)
    return _execution(row) if row is not None else None


def claim(db: Database, execution: Execution, *, claim_for: float) -> bool:
    """Take the claim of ``execution`` for ``claim_for`` seconds if nobody holds it (or theirs
    expired), and reload it as stored; False when another holds it or it ended meanwhile."""
    fresh = _claimed(db, CLAIM_SID, {"sid_": execution.sid}, claim_for)
    if fresh is None:
        return False
    for name in fresh.__dataclass_fields__:
        if name != "new":
            setattr(execution, name, getattr(fresh, name))
    return True


def claim_call(db: Database, call_sid: str, flow_sid: str, *, claim_for: float
               ) -> Execution | None:
    """:func:`find_call` and :func:`claim` in one statement: the call's active execution of
    the flow, claimed for ``claim_for`` seconds; None when there is none or another request
    holds it (:func:`find_call` then tells which)."""
    return _claimed(db, CLAIM_CALL, {"call_sid_": call_sid, "flow_sid_": flow_sid}, claim_for)


def claim_active(db: Database, flow_sid: str, contact: str, active_key: str, *,
                 claim_for: float) -> Execution | None:
    """:func:`find_active` and :func:`claim` in one statement: the flow's active execution
    for ``contact`` under ``active_key``, claimed for ``claim_for`` seconds; None when there
    is none or another request holds it."""
    return _claimed(
        db, CLAIM_ACTIVE, {"flow_sid_": flow_sid, "contact_": contact, "key_": active_key},
        claim_for,
    )


def _claimed(db: Database, statement: sa.Update, key: dict[str, Any], claim_for: float
             ) -> Execution | None:
    now = db.now()
    bound = db.bind(statement, {
        **key, "token_": _token(), "until_": now + timedelta(seconds=claim_for),
        "now_": now,
    })
    rows = db.statements(lambda run: run(bound).rows, single=True)
    return _retried(db, _execution(rows[0]), claimed=True) if rows else None


def claim_waiting(
    db: Database, execution: Execution, *, claim_for: float, until: float,
    pause: float = 0.02,
) -> Execution | None:
    """:func:`claim` ``execution``, waiting while another holds it, until ``until``
    (``time.monotonic()``); None if it ended meanwhile, :class:`ClaimTimeout` at ``until``."""
    while True:
        if claim(db, execution, claim_for=claim_for):
            return execution
        current = get(db, execution.sid)
        if current is None or not current.active:
            return None
        if time.monotonic() + pause >= until:
            raise ClaimTimeout(f"execution {execution.sid} is busy with another request")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.2)


class ClaimTimeout(StoreUnavailable):
    """The execution stayed claimed by another request for as long as this one could wait:
    for this request the execution is unavailable, as the database is when it cannot answer
    in time (the safe answer, a 503 for a status callback, a one-line log without a
    traceback)."""


# -- Twilio's retries --------------------------------------------------------------------------
#
# Twilio retries a webhook it got no answer to (a timeout, a 5xx, as the URL's ``#rc=..&rp=..``
# says) with the ``I-Twilio-Idempotency-Token`` of the first attempt. Each execution keeps the
# token of the webhook that moved it last and the TwiML that webhook was answered, written with
# its progress; a webhook carrying that token finds them in the row it reads anyway, and is
# answered the same TwiML without the flow running again (no second step, no second message).


class Answered(Exception):
    """The webhook is Twilio's retry of one that moved the execution ``execution_sid``:
    ``answer`` is the TwiML the first attempt was answered, to answer again."""

    def __init__(self, execution_sid: str, answer: str) -> None:
        super().__init__(execution_sid)
        self.execution_sid = execution_sid
        self.answer = answer


@dataclass
class Answering:
    """A webhook that tells its retries apart: its token, how an answer is written as TwiML
    (``render(output)``), and the executions it moved so far (which it may read again)."""

    token: str
    render: Callable[[Any], str]
    moved: set[str] = field(default_factory=set)


_answering: ContextVar[Answering | None] = ContextVar("switchboard_studio_answering",
                                                      default=None)


@contextlib.contextmanager
def answering(token: str | None, render: Callable[[Any], str]) -> Iterator[None]:
    """Within the block, the webhook carries ``token`` (its ``I-Twilio-Idempotency-Token``;
    None or empty: Twilio sent none, and nothing changes): each execution it moves keeps the
    token and the answer ``render(output)`` makes of the webhook's output (:func:`stamp`), and
    reading an execution that holds the token already raises :class:`Answered`."""
    if not token:
        yield
        return
    reset = _answering.set(Answering(token, render))
    try:
        yield
    finally:
        _answering.reset(reset)


def stamp(execution: Execution, output: Any) -> None:
    """Before the progress of ``execution`` is written under :func:`answering`: the webhook's
    token and the TwiML of ``output``, the answer so far, go with it. An execution ended for a
    new one to take its place keeps what it had (the new one answers the webhook)."""
    current = _answering.get()
    if current is None or execution.end_reason == REPLACED:
        return
    try:
        answer = current.render(output)
    except Exception as error:  # the answer fails as it is sent: nothing to answer again
        log.warning("execution %s: the answer is not kept for Twilio's retries (%s: %s)",
                    execution.sid, type(error).__name__, error)
        execution.answer_token = execution.answer = None
        return
    execution.answer_token, execution.answer = current.token, answer


def _retry() -> Answering | None:
    """The current webhook's :class:`Answering`, while it has moved no execution yet (a
    retry is told by the first execution it reads)."""
    current = _answering.get()
    return current if current is not None and not current.moved else None


def _retried(db: Database, execution: Execution, *, claimed: bool) -> Execution:
    """``execution`` as a webhook read it; :class:`Answered` (its claim given back first) when
    it holds the token of the webhook, which did not move it: Twilio's retry."""
    current = _answering.get()
    if (current is None or execution.answer_token != current.token
            or execution.answer is None or execution.sid in current.moved):
        return execution
    if claimed:
        release(db, execution)
    raise Answered(execution.sid, execution.answer)


def _answered_call(db: Database, call_sid: str, flow_sid: str) -> None:
    """:class:`Answered` when the call has no active execution of the flow and its webhook is
    Twilio's retry of the one that ended it; else nothing. A read of its own, made only for a
    step that found no execution waiting (which is otherwise answered with the apology)."""
    retry = _retry()
    if retry is None:
        return
    query = (
        sa.select(_x.sid, _x.answer)
        .where(_x.answer_token == retry.token, _x.call_sid == call_sid,
               _x.flow_sid == flow_sid, _x.answer.is_not(None))
        .order_by(_x.date_updated.desc())
        .limit(1)
    )
    row = db.run(lambda conn: conn.execute(query).first(), write=False)
    if row is not None:
        raise Answered(row.sid, row.answer)


def _moved(execution: Execution) -> None:
    """The current webhook wrote the progress of ``execution``."""
    current = _answering.get()
    if current is not None:
        current.moved.add(execution.sid)


def save(db: Database, execution: Execution, new_steps: Sequence[Step]) -> bool:
    """Write the progress of a claimed ``execution`` and its new steps, and release the claim.
    An execution ended meanwhile (its call ended) stays ended: its claim is released and the
    run's steps are written, but its state is not, and what the run did (its end, its widgets'
    failures, the subflows it entered) is not counted; the request that ended it counted the
    end. False, writing nothing, when the claim was lost
    (it expired and another request took it).

    Under a webhook (:func:`_after_answer`) the steps are written just after the answer, by
    the store's write-behind (the execution's row, which the next request reads, now); else
    in the same transaction."""
    now = db.now()
    rows = _step_rows(execution, new_steps, now)
    state = {f"{name}_": value for name, value in _state(execution).items()}
    state.update(date_updated_=now, sid_=execution.sid, claim_=execution.claim)
    write = db.bind(SAVE_STATE, state)
    release = db.bind(RELEASE, {"sid_": execution.sid, "claim_": execution.claim})
    written = _write_progress(db, (write, release), rows)
    execution.claim = None
    execution.date_updated = now
    if written is not None:
        _moved(execution)
    if written is write:
        _count_written(execution)
    return written is not None


def unclaimed(execution: Execution, now: datetime) -> bool:
    """Whether no request holds ``execution`` as read (no claim, or one that ran out)."""
    return execution.claim is None or (
        execution.claimed_until is not None and execution.claimed_until < now
    )


def save_unclaimed(db: Database, execution: Execution, new_steps: Sequence[Step],
                   seen: tuple[int, datetime | None]) -> bool:
    """Write the progress of an ``execution`` moved without a claim, if the row still stands
    as it was read (``seen``: its ``step_count`` and ``date_updated`` then), active and free:
    one statement, where a claim and a save take two. False, writing nothing, when another
    request moved it, claimed it or ended it meanwhile (the caller then runs it again under a
    claim). Only for a run that did nothing outside the database: it may be run again."""
    now = db.now()
    rows = _step_rows(execution, new_steps, now)
    stored = execution.stored
    state = {name: value for name, value in _state(execution).items()
             if name not in stored or stored[name] != value}
    columns = {*state, "date_updated"}
    params = {f"{name}_": value for name, value in state.items()}
    params.update(date_updated_=now, sid_=execution.sid, seen_steps_=seen[0],
                  seen_updated_=seen[1], now_=now)
    write = db.bind(save_seen(frozenset(columns)), params)
    saved = _write_progress(db, (write,), rows) is not None
    if saved:
        execution.date_updated = now
        _moved(execution)
        _count_written(execution)
    return saved


def _count_written(execution: Execution) -> None:
    """Count what the progress of ``execution`` just written did: the subflows it entered,
    the widgets that failed, and its end."""
    for flow_name in execution.subflows_entered:
        metrics.flow_started(flow_name, "incomingParent")
    for flow_name, kind in execution.failed_widgets:
        metrics.widget_failed(flow_name, kind)
    execution.subflows_entered, execution.failed_widgets = [], []
    if execution.status == ENDED:  # it was active: the write requires it
        metrics.flow_ended(execution.flow_name, execution.end_reason or FAILED)


def _write_progress(db: Database, writes: Sequence[Bound], rows: list[dict[str, Any]]
                    ) -> Bound | None:
    """Run ``writes`` in turn until one changes the execution's row, then the steps' ``rows``:
    handed to the write-behind under a webhook (:func:`_after_answer`), each write a statement
    of its own; else all in one transaction. The write that changed the row (None: none did,
    and nothing is written)."""
    if not rows or _after_answer(db):
        written = next((bound for bound in writes if db.statements(
            lambda run, bound=bound: run(bound).rowcount > 0, single=True)), None)
        if written is not None and rows:
            db.defer(steps, rows)
        return written
    insert = db.bind(INSERT_STEPS, rows)

    def work(run: Callable[[Bound], Result]) -> Bound | None:
        written = next((bound for bound in writes if run(bound).rowcount), None)
        if written is not None:
            run(insert)
        return written

    return db.statements(work)


def _after_answer(db: Database) -> bool:
    """Whether the steps go to the store's write-behind: under a webhook's deadline, whose
    answer need not wait for them, with a store that defers. A timer, a command or a script
    writes them with the execution, in one transaction, so that a process killed after it
    moved an execution has written its steps too."""
    return db.defers and ends() is not None


def _step_rows(execution: Execution, new_steps: Sequence[Step], now: datetime
               ) -> list[dict[str, Any]]:
    """The rows of ``new_steps``, the last steps ``execution`` took."""
    first = execution.step_count - len(new_steps) + 1
    return [
        {
            "sid": new_sid("FT"),
            "execution_sid": execution.sid,
            "flow_sid": step.flow_sid,
            "seq": first + index,
            "name": step.name,
            "type": step.type,
            "transitioned_from": step.transitioned_from,
            "transitioned_to": step.transitioned_to,
            "context": _dumps(step.context),
            "date_created": now,
            "date_updated": now,
        }
        for index, step in enumerate(new_steps)
    ]


def release(db: Database, execution: Execution) -> None:
    """Give the claim back without writing any progress."""
    if execution.claim is None:
        return
    bound = db.bind(RELEASE, {"sid_": execution.sid, "claim_": execution.claim})
    db.statements(lambda run: run(bound), single=True)
    execution.claim = None


def end_call_executions(
    store_or_engine: Any, call_sid: str, call_status: str | None = None
) -> int:
    """End the active executions of the call ``call_sid``, whose status callback said it is
    over; how many. With ``call_status`` (the callback's ``CallStatus``), only when that is a
    final status (``completed``, ``busy``, ``failed``, ``no-answer``, ``canceled``). Their steps
    so far stay. Each is counted as ended (``call_ended``) by the update that ends it: a
    callback that comes again finds none active and counts nothing."""
    if call_status is not None and call_status not in CALL_OVER:
        return 0
    db = Database(store_or_engine)
    call = {"call_sid_": call_sid}
    # Most calls run no flow: a read (no writer lock) says so, and only a call with an
    # execution to end writes. Both statements are built once: this runs for every call.
    found = db.bind(CALL_HAS_ACTIVE, call)
    if not db.statements(lambda run: run(found).rows, write=False, single=True):
        return 0
    end = db.bind(END_CALL, {**call, "updated_": db.now()})
    ended = db.statements(lambda run: run(end).rows, single=True)
    _count_ended([row["flow_name"] for row in ended], CALL_ENDED)
    return len(ended)


def _count_ended(flow_names: Sequence[str], reason: str) -> None:
    """Count the executions of ``flow_names`` an update just took from active to ended."""
    for flow_name, count in Counter(flow_names).items():
        metrics.flow_ended(flow_name, reason, count)


def end_execution(store_or_engine: Any, sid: str) -> Execution | None:
    """End the execution ``sid`` now (Studio's ``Status=ended``), as it stands: its steps stay,
    and a request moving it meanwhile keeps it ended. The execution, or None if there is none.
    Counted as ended (``api``) when it was active."""
    db = Database(store_or_engine)
    table = executions

    def work(conn: sa.Connection) -> tuple[bool, Mapping[str, Any] | None]:
        ended = conn.execute(
            sa.update(table)
            .where(table.c.sid == sid, table.c.status == ACTIVE)
            .values(status=ENDED, active_key=None, widget=None, waiting_for=None,
                    wait_until=None, date_updated=db.now())
        ).rowcount > 0
        return ended, conn.execute(sa.select(table).where(table.c.sid == sid)).mappings().first()

    ended, row = db.run(work)
    if row is None:
        return None
    if ended:
        metrics.flow_ended(row["flow_name"], API)
    return _execution(row)


def delete_execution(store_or_engine: Any, sid: str) -> bool:
    """Delete the execution ``sid`` and its steps; False if there was none. An active one is
    counted as ended (``api``)."""
    db = Database(store_or_engine)
    db.flush()  # its steps still waiting are written first, then deleted with it

    def work(conn: sa.Connection) -> tuple[str, str] | None:
        conn.execute(sa.delete(steps).where(steps.c.execution_sid == sid))
        gone = conn.execute(
            sa.delete(executions).where(executions.c.sid == sid)
            .returning(executions.c.status, executions.c.flow_name)
        ).first()
        return (gone.status, gone.flow_name) if gone is not None else None

    gone = db.run(work)
    if gone is None:
        return False
    if gone[0] == ACTIVE:
        metrics.flow_ended(gone[1], API)
    return True


def claim_due(db: Database, *, claim_for: float, limit: int = 50) -> list[Execution]:
    """Claim up to ``limit`` executions waiting for a reply, or for the return of a
    conversation's TwiML Redirect, whose timeout passed (a call's waits move only with the
    call). On
    PostgreSQL the rows are picked ``FOR NO KEY UPDATE SKIP LOCKED``: processes doing this at
    once take different executions, and none waits on another; an execution whose step rows
    are being inserted (which lock its key, ``FOR KEY SHARE``) is taken all the same."""
    table = executions

    now = db.now()  # before the transaction: a measurement of the clock is a statement of its own

    def work(conn: sa.Connection) -> list[Mapping[str, Any]]:
        free = sa.or_(table.c.claim.is_(None), table.c.claimed_until < now)
        picked = conn.execute(
            sa.select(table.c.sid)
            .where(table.c.status == ACTIVE, table.c.wait_until <= now, free,
                   sa.or_(table.c.waiting_for == "reply",
                          sa.and_(table.c.waiting_for == "return",
                                  table.c.channel == "messaging")))
            .order_by(table.c.wait_until)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        ).scalars().all()
        if not picked:
            return []
        tokens = {sid: uuid.uuid4().hex for sid in picked}
        for sid, token in tokens.items():
            conn.execute(
                sa.update(table).where(table.c.sid == sid, free)
                .values(claim=token, claimed_until=now + timedelta(seconds=claim_for))
            )
        rows = conn.execute(sa.select(table).where(table.c.sid.in_(picked))).mappings().all()
        return [row for row in rows if row["claim"] == tokens[row["sid"]]]

    return [_execution(row) for row in db.run(work)]


def list_executions(
    store_or_engine: Any, *, flow_sid: str | None = None, status: str | None = None
) -> list[Execution]:
    """Executions, newest first (optionally of one flow, or in one status)."""
    db = Database(store_or_engine)
    query = sa.select(executions).order_by(executions.c.date_created.desc())
    if flow_sid is not None:
        query = query.where(executions.c.flow_sid == flow_sid)
    if status is not None:
        query = query.where(executions.c.status == status)
    rows = db.run(lambda conn: conn.execute(query).mappings().all(), write=False)
    return [_execution(row) for row in rows]


def page_executions(
    store_or_engine: Any, flow_sid: str, *, status: str | None = None,
    created_from: datetime | None = None, created_to: datetime | None = None,
    offset: int = 0, limit: int = 50,
) -> list[Execution]:
    """A page of the executions of one flow, newest first: ``limit`` from ``offset``, created
    at or after ``created_from`` and before ``created_to`` when given (Studio's API list)."""
    db = Database(store_or_engine)
    table = executions
    query = sa.select(table).where(table.c.flow_sid == flow_sid)
    if status is not None:
        query = query.where(table.c.status == status)
    if created_from is not None:
        query = query.where(table.c.date_created >= created_from)
    if created_to is not None:
        query = query.where(table.c.date_created < created_to)
    query = query.order_by(table.c.date_created.desc(), table.c.sid.desc()).offset(offset).limit(
        limit)
    rows = db.run(lambda conn: conn.execute(query).mappings().all(), write=False)
    return [_execution(row) for row in rows]


def get_step(store_or_engine: Any, execution_sid: str, sid: str) -> dict[str, Any] | None:
    """One step of an execution, as :func:`list_steps` gives them; None if there is none."""
    db = Database(store_or_engine)
    db.flush()  # the steps this process handed to the write-behind
    query = sa.select(steps).where(steps.c.sid == sid, steps.c.execution_sid == execution_sid)
    row = db.run(lambda conn: conn.execute(query).mappings().first(), write=False)
    return {**row, "context": json.loads(row["context"])} if row is not None else None


def list_steps(store_or_engine: Any, execution_sid: str) -> list[dict[str, Any]]:
    """The steps of an execution in order, as Studio's Step resources (``context`` decoded)."""
    db = Database(store_or_engine)
    db.flush()  # the steps this process handed to the write-behind
    query = (
        sa.select(steps).where(steps.c.execution_sid == execution_sid).order_by(steps.c.seq)
    )
    rows = db.run(lambda conn: conn.execute(query).mappings().all(), write=False)
    return [{**row, "context": json.loads(row["context"])} for row in rows]


def purge_executions(
    store_or_engine: Any, older_than: timedelta = DEFAULT_RETENTION, *,
    now: datetime | None = None,
) -> int:
    """Delete the executions (ended or not) not updated for ``older_than``, with their steps,
    :data:`PURGE_BATCH` at a time; how many executions. (The steps still waiting to be
    written are of executions that just moved: none of them is old enough to go.) The active
    ones are counted as ended (``expired``)."""
    db = Database(store_or_engine)
    cutoff = (now or db.now()) - older_than
    table = executions
    deleted = 0
    while True:
        def work(conn: sa.Connection) -> tuple[int, list[str]]:
            picked = sa.select(table.c.sid, table.c.status, table.c.flow_name).where(
                table.c.date_updated < cutoff
            ).limit(PURGE_BATCH)
            if db.dialect == "postgresql":
                picked = picked.with_for_update(skip_locked=True)
            rows = conn.execute(picked).all()
            if not rows:
                return 0, []
            sids = [row.sid for row in rows]
            conn.execute(sa.delete(steps).where(steps.c.execution_sid.in_(sids)))
            count = conn.execute(sa.delete(table).where(table.c.sid.in_(sids))).rowcount
            return count, [row.flow_name for row in rows if row.status == ACTIVE]

        count, active = db.run(work)
        _count_ended(active, EXPIRED)
        deleted += count
        if count < PURGE_BATCH:
            return deleted
