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
execution. :func:`claim_due` takes executions whose reply timed out with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several processes share them.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from switchboard.callbacks.deadline import HandlerTimeout, shielded
from switchboard.callbacks.store.engine import (
    IMMEDIATE,
    is_missing_table,
    is_transient,
    unavailable,
)
from switchboard.callbacks.store.schema import UTCDateTime, metadata

T = TypeVar("T")

ACTIVE, ENDED = "active", "ended"
#: Studio keeps an execution for 30 days; so does Switchboard unless told otherwise.
DEFAULT_RETENTION = timedelta(days=30)
#: Rows deleted per transaction by :func:`purge_executions`.
PURGE_BATCH = 500
#: ``transitioned_to`` of the step that ends an execution, as in Studio.
ENDED_STEP = "Ended"
#: Twilio's ``CallStatus`` of a call that is over.
CALL_OVER = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

executions = sa.Table(
    "studio_executions",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column("flow_sid", sa.String, nullable=False),
    sa.Column("flow_name", sa.String, nullable=False),
    sa.Column("contact_channel_address", sa.String, nullable=False),
    sa.Column("channel_address", sa.String),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("call_sid", sa.String, index=True),
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
    sa.Column("date_created", UTCDateTime, nullable=False),
    sa.Column("date_updated", UTCDateTime, nullable=False, index=True),
    sa.Index(
        "uq_studio_executions_active", "flow_sid", "contact_channel_address", "active_key",
        unique=True,
    ),
    sa.Index("ix_studio_executions_flow_created", "flow_sid", "date_created"),
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


def new_sid(prefix: str) -> str:
    """A new SID: ``prefix`` and 32 hex digits, as Twilio's (``FN...``, ``FT...``)."""
    return prefix + uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    #: True when this webhook made the execution (it was not found active).
    new: bool = field(default=False, compare=False)

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
    first use."""

    _ready: weakref.WeakSet[Engine] = weakref.WeakSet()
    _ready_lock = threading.Lock()
    #: The tables :meth:`ensure_tables` makes (a subclass for other tables has its own
    #: ``_ready`` too).
    tables: tuple[sa.Table, ...] = TABLES

    def __init__(self, store_or_engine: Any, *, clock: Callable[[], datetime] | None = None):
        engine = getattr(store_or_engine, "engine", store_or_engine)
        if not isinstance(engine, Engine):
            raise TypeError(f"a Store or an SQLAlchemy Engine, not {type(store_or_engine)!r}")
        self.engine = engine
        self.dialect = engine.dialect.name
        self.clock = clock or utcnow
        #: The store's own transaction runner, when given a store: its time budgets within
        #: the handler's deadline, its circuit breaker, its writer lock and retries.
        self._store_run: Callable[..., Any] | None = (
            None if store_or_engine is engine else getattr(store_or_engine, "_run", None)
        )

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

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
        if self._store_run is not None:
            return self._store_run(work, write=write)  # type: ignore[no-any-return]
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
                    time.sleep(delay * (1 + random.random()))
                    delay *= 2
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover


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
    }


# -- operations --------------------------------------------------------------------------------


def create(db: Database, execution: Execution, *, claim_for: float) -> Execution:
    """Insert ``execution`` as active and claimed by this caller for ``claim_for`` seconds;
    :class:`AlreadyActive` when the flow has an active execution for the contact already."""
    now = db.now()
    execution.claim = uuid.uuid4().hex
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
    insert = _insert_new(db.dialect)
    if db.run(lambda conn: conn.execute(insert, row).first()) is None:
        raise AlreadyActive(execution.active_key)
    return execution


def _insert_new(dialect: str) -> sa.Insert:
    """An insert that adds nothing where the unique index holds the row already (no error,
    which the store would count as a failure of the database): it returns the new SID, or
    no row."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(executions).on_conflict_do_nothing().returning(executions.c.sid)


def find_active(db: Database, flow_sid: str, contact: str, active_key: str) -> Execution | None:
    """The flow's active execution for ``contact`` under ``active_key``, if any."""
    query = sa.select(executions).where(
        executions.c.flow_sid == flow_sid,
        executions.c.contact_channel_address == contact,
        executions.c.active_key == active_key,
    )
    return _one(db, query)


def find_call(db: Database, call_sid: str, flow_sid: str | None = None) -> Execution | None:
    """The active execution of the call ``call_sid`` (of the flow ``flow_sid`` if given)."""
    query = sa.select(executions).where(
        executions.c.call_sid == call_sid, executions.c.status == ACTIVE
    )
    if flow_sid is not None:
        query = query.where(executions.c.flow_sid == flow_sid)
    return _one(db, query.order_by(executions.c.date_created.desc()).limit(1))


def get(db: Database, sid: str) -> Execution | None:
    return _one(db, sa.select(executions).where(executions.c.sid == sid))


def _one(db: Database, query: sa.Select[Any]) -> Execution | None:
    row = db.run(lambda conn: conn.execute(query).mappings().first(), write=False)
    return _execution(row) if row is not None else None


def claim(db: Database, execution: Execution, *, claim_for: float) -> bool:
    """Take the claim of ``execution`` for ``claim_for`` seconds if nobody holds it (or theirs
    expired), and reload it as stored; False when another holds it or it ended meanwhile."""
    token = uuid.uuid4().hex
    table = executions

    def work(conn: sa.Connection) -> Mapping[str, Any] | None:
        now = db.now()
        taken = conn.execute(
            sa.update(table)
            .where(
                table.c.sid == execution.sid,
                table.c.status == ACTIVE,
                sa.or_(table.c.claim.is_(None), table.c.claimed_until < now),
            )
            .values(claim=token, claimed_until=now + timedelta(seconds=claim_for))
        ).rowcount
        if not taken:
            return None
        return conn.execute(sa.select(table).where(table.c.sid == execution.sid)).mappings().one()

    row = db.run(work)
    if row is None:
        return False
    fresh = _execution(row)
    for name in fresh.__dataclass_fields__:
        if name != "new":
            setattr(execution, name, getattr(fresh, name))
    return True


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


class ClaimTimeout(TimeoutError):
    """The execution stayed claimed by another request for as long as this one could wait."""


def save(db: Database, execution: Execution, new_steps: Sequence[Step]) -> bool:
    """Write the progress of a claimed ``execution`` and its new steps, and release the claim,
    in one transaction. An execution ended meanwhile (its call ended) stays ended. False,
    writing nothing, when the claim was lost (it expired and another request took it)."""
    now = db.now()
    first = execution.step_count - len(new_steps) + 1
    rows = [
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
    state = {**_state(execution), "date_updated": now, "claim": None, "claimed_until": None}
    table = executions
    mine = sa.and_(table.c.sid == execution.sid, table.c.claim == execution.claim)

    def work(conn: sa.Connection) -> bool:
        written = conn.execute(
            sa.update(table).where(mine, table.c.status == ACTIVE).values(**state)
        ).rowcount
        if not written and not conn.execute(
            sa.update(table).where(mine).values(claim=None, claimed_until=None)
        ).rowcount:
            return False
        if rows:
            conn.execute(sa.insert(steps), rows)
        return True

    saved = db.run(work)
    execution.claim = None
    execution.date_updated = now
    return saved


def release(db: Database, execution: Execution) -> None:
    """Give the claim back without writing any progress."""
    if execution.claim is None:
        return
    table = executions
    db.run(lambda conn: conn.execute(
        sa.update(table)
        .where(table.c.sid == execution.sid, table.c.claim == execution.claim)
        .values(claim=None, claimed_until=None)
    ))
    execution.claim = None


def end_call_executions(
    store_or_engine: Any, call_sid: str, call_status: str | None = None
) -> int:
    """End the active executions of the call ``call_sid``, whose status callback said it is
    over; how many. With ``call_status`` (the callback's ``CallStatus``), only when that is a
    final status (``completed``, ``busy``, ``failed``, ``no-answer``, ``canceled``). Their steps
    so far stay."""
    if call_status is not None and call_status not in CALL_OVER:
        return 0
    db = Database(store_or_engine)
    table = executions

    def work(conn: sa.Connection) -> int:
        return conn.execute(
            sa.update(table)
            .where(table.c.call_sid == call_sid, table.c.status == ACTIVE)
            .values(status=ENDED, active_key=None, widget=None, waiting_for=None,
                    wait_until=None, date_updated=db.now())
        ).rowcount

    return db.run(work)


def end_execution(store_or_engine: Any, sid: str) -> Execution | None:
    """End the execution ``sid`` now (Studio's ``Status=ended``), as it stands: its steps stay,
    and a request moving it meanwhile keeps it ended. The execution, or None if there is none."""
    db = Database(store_or_engine)
    table = executions

    def work(conn: sa.Connection) -> Mapping[str, Any] | None:
        conn.execute(
            sa.update(table)
            .where(table.c.sid == sid, table.c.status == ACTIVE)
            .values(status=ENDED, active_key=None, widget=None, waiting_for=None,
                    wait_until=None, date_updated=db.now())
        )
        return conn.execute(sa.select(table).where(table.c.sid == sid)).mappings().first()

    row = db.run(work)
    return _execution(row) if row is not None else None


def delete_execution(store_or_engine: Any, sid: str) -> bool:
    """Delete the execution ``sid`` and its steps; False if there was none."""
    db = Database(store_or_engine)

    def work(conn: sa.Connection) -> bool:
        conn.execute(sa.delete(steps).where(steps.c.execution_sid == sid))
        return bool(conn.execute(sa.delete(executions).where(executions.c.sid == sid)).rowcount)

    return db.run(work)


def claim_due(db: Database, *, claim_for: float, limit: int = 50) -> list[Execution]:
    """Claim up to ``limit`` executions waiting for a reply whose timeout passed (a call's
    waits move only with the call). On
    PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``: processes doing this at once
    take different executions, and none waits on another."""
    table = executions

    def work(conn: sa.Connection) -> list[Mapping[str, Any]]:
        now = db.now()
        free = sa.or_(table.c.claim.is_(None), table.c.claimed_until < now)
        picked = conn.execute(
            sa.select(table.c.sid)
            .where(table.c.status == ACTIVE, table.c.waiting_for == "reply",
                   table.c.wait_until <= now, free)
            .order_by(table.c.wait_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
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
    query = sa.select(steps).where(steps.c.sid == sid, steps.c.execution_sid == execution_sid)
    row = db.run(lambda conn: conn.execute(query).mappings().first(), write=False)
    return {**row, "context": json.loads(row["context"])} if row is not None else None


def list_steps(store_or_engine: Any, execution_sid: str) -> list[dict[str, Any]]:
    """The steps of an execution in order, as Studio's Step resources (``context`` decoded)."""
    db = Database(store_or_engine)
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
    :data:`PURGE_BATCH` at a time; how many executions."""
    db = Database(store_or_engine)
    cutoff = (now or db.now()) - older_than
    table = executions
    deleted = 0
    while True:
        def work(conn: sa.Connection) -> int:
            picked = sa.select(table.c.sid).where(table.c.date_updated < cutoff).limit(
                PURGE_BATCH
            )
            if db.dialect == "postgresql":
                picked = picked.with_for_update(skip_locked=True)
            sids = conn.execute(picked).scalars().all()
            if not sids:
                return 0
            conn.execute(sa.delete(steps).where(steps.c.execution_sid.in_(sids)))
            return conn.execute(sa.delete(table).where(table.c.sid.in_(sids))).rowcount

        count = db.run(work)
        deleted += count
        if count < PURGE_BATCH:
            return deleted
