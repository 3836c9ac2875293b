"""The store's statements, built once per dialect and executed with parameters.

Building a statement costs more than running it on SQLite; built once, SQLAlchemy's compiled
cache serves every later execution.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from switchboard.callbacks.store import schema

_RESOURCE_KEEP = ("sid", "status", "status_rank", "extra", "created_at", "updated_at")

PURGE_LIMIT = 500
"""Sessions one purge statement deletes at most."""


def resource_upsert(insert: Callable[[sa.Table], Any], table: sa.Table) -> sa.Insert:
    """INSERT a resource row, or fill in what it adds and advance the status if it ranks later.

    Columns keep their value when the new row has none; ``extra`` keeps that of the earliest
    row (by ``created_at``, the time it was received, not written); ``status`` moves only
    forward, decided by the database within the one statement, so two workers racing on the
    same resource cannot move it back. ``created_at`` keeps the earliest time and
    ``updated_at`` the latest, since a webhook's row may be written after a later status
    callback's (:mod:`switchboard.callbacks.store.behind`).
    """
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    later = new.status_rank > old.status_rank
    earlier = new.created_at < old.created_at
    changes: dict[str, Any] = {
        column.name: sa.func.coalesce(new[column.name], column)
        for column in table.columns
        if column.name not in _RESOURCE_KEEP
    }
    changes["extra"] = sa.case(
        (earlier, sa.func.coalesce(new.extra, old.extra)),
        else_=sa.func.coalesce(old.extra, new.extra),
    )
    changes["status"] = sa.case((later, new.status), else_=old.status)
    changes["status_rank"] = sa.case((later, new.status_rank), else_=old.status_rank)
    changes["created_at"] = sa.case((earlier, new.created_at), else_=old.created_at)
    changes["updated_at"] = sa.case(
        (new.updated_at > old.updated_at, new.updated_at), else_=old.updated_at
    )
    return stmt.on_conflict_do_update(index_elements=[old.sid], set_=changes)


def session_upsert(insert: Callable[[sa.Table], Any], table: sa.Table) -> sa.Insert:
    stmt = insert(table)
    keys = [column.name for column in table.primary_key.columns]
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at},
    )


def idle_purge(table: sa.Table, limit: int) -> sa.Delete:
    """DELETE at most ``limit`` rows of a session table idle since before ``:cutoff``.

    Bounded, so that a purge holds the writer (SQLite) for milliseconds whatever the backlog;
    the outer test of ``updated_at`` keeps a session saved again meanwhile. On PostgreSQL the
    rows are locked as they are chosen, skipping those another transaction holds (a session
    being saved, another process's purge): two purges at once take disjoint batches, never
    wait for each other or a request, and cannot deadlock (SQLite's writer lock serialises
    them; it has no row locks, and the clause is left out there)."""
    cutoff = sa.bindparam("cutoff", type_=table.c.updated_at.type)
    keys = list(table.primary_key.columns)
    oldest = (
        sa.select(*keys)
        .where(table.c.updated_at < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    key = keys[0] if len(keys) == 1 else sa.tuple_(*keys)
    return sa.delete(table).where(table.c.updated_at < cutoff, key.in_(oldest))


@dataclass(frozen=True)
class Statements:
    upsert: dict[str, sa.Insert]  # table name -> resource upsert
    get: dict[str, sa.Select]  # table name -> select by :sid
    callback: sa.Insert  # status callback, nothing on a duplicate, RETURNING id
    callbacks_of: sa.Select
    voice_session_upsert: sa.Insert
    sms_session_upsert: sa.Insert
    voice_session_get: sa.Select  # :call_sid
    sms_session_get: sa.Select  # :from_number, :to_number
    sms_session_touch: sa.Update  # :from_number, :to_number, :now, :since
    opt_out: sa.Insert
    opted_out_anywhere: sa.Select  # :number
    opted_out_of: sa.Select  # :number, :sender
    opt_outs_of: sa.Select  # :number, :sender -> (sender, token) of each
    purge: dict[str, sa.Delete]  # session table name -> bounded delete of the idle, :cutoff
    probe: sa.Insert  # rewrite the write probe's row: :id, :checked_at

    @classmethod
    @functools.cache
    def for_dialect(cls, dialect: str) -> Statements:
        """The statements for "sqlite" or "postgresql" (built once per process)."""
        return cls.build(sqlite.insert if dialect == "sqlite" else postgresql.insert)

    @classmethod
    def build(cls, insert: Callable[[sa.Table], Any]) -> Statements:
        resources = (schema.calls, schema.messages, schema.recordings)
        callbacks = schema.status_callbacks
        voice, sms, opt_outs = schema.voice_sessions, schema.sms_sessions, schema.opt_outs
        opted_out = (
            sa.select(opt_outs.c.sender).where(opt_outs.c.number == sa.bindparam("number")).limit(1)
        )
        return cls(
            upsert={table.name: resource_upsert(insert, table) for table in resources},
            get={
                table.name: sa.select(table).where(table.c.sid == sa.bindparam("sid"))
                for table in resources
            },
            callback=insert(callbacks).on_conflict_do_nothing().returning(callbacks.c.id),
            callbacks_of=sa.select(callbacks)
            .where(callbacks.c.resource_sid == sa.bindparam("sid"))
            .order_by(callbacks.c.id),
            voice_session_upsert=session_upsert(insert, schema.voice_sessions),
            sms_session_upsert=session_upsert(insert, schema.sms_sessions),
            voice_session_get=sa.select(voice.c.data, voice.c.updated_at).where(
                voice.c.call_sid == sa.bindparam("call_sid")
            ),
            sms_session_get=sa.select(sms.c.data, sms.c.updated_at).where(
                sms.c["from"] == sa.bindparam("from_number"),
                sms.c.to == sa.bindparam("to_number"),
            ),
            sms_session_touch=session_touch(sms),
            opt_out=insert(opt_outs).on_conflict_do_nothing(),
            opted_out_anywhere=opted_out,
            opted_out_of=opted_out.where(
                opt_outs.c.sender.in_([sa.bindparam("sender"), schema.ALL_SENDERS])
            ),
            opt_outs_of=sa.select(opt_outs.c.sender, opt_outs.c.token).where(
                opt_outs.c.number == sa.bindparam("number"),
                opt_outs.c.sender.in_([sa.bindparam("sender"), schema.ALL_SENDERS]),
            ),
            purge={table.name: idle_purge(table, PURGE_LIMIT) for table in (voice, sms)},
            probe=probe_write(insert),
        )


def probe_write(insert: Callable[[sa.Table], Any]) -> sa.Insert:
    probe = schema.write_probe
    stmt = insert(probe)
    return stmt.on_conflict_do_update(
        index_elements=[probe.c.id], set_={"checked_at": stmt.excluded.checked_at}
    )


def session_touch(sms: sa.Table) -> sa.Update:
    """Move a live conversation's ``updated_at`` on to ``:now``, the time a message of its
    (From, To) pair arrived: the 4-hour expiry counts from the last message, not from the
    last change of the session. A conversation already idle since before ``:since`` (expired)
    is left to expire; a later time is never moved back."""
    now = sa.bindparam("now", type_=sms.c.updated_at.type)
    return (
        sa.update(sms)
        .where(
            sms.c["from"] == sa.bindparam("from_number"),
            sms.c.to == sa.bindparam("to_number"),
            sms.c.updated_at < now,
            sms.c.updated_at >= sa.bindparam("since", type_=sms.c.updated_at.type),
        )
        .values(updated_at=now)
    )


class Prepared:
    """A statement compiled once for an engine's dialect, run straight on a DBAPI cursor.

    The hot writes (a webhook's row, a status callback) cost less in SQLAlchemy's per-execution
    machinery than in SQLite itself when run through a ``Connection``; compiled here once,
    each run is the driver's ``execute`` with the parameters in the driver's order, converted
    by the same bind processors SQLAlchemy would use, so the stored bytes are the same.
    """

    __slots__ = ("_escaped", "defaults", "names", "positional", "processors", "sql")

    def __init__(self, stmt: sa.ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = compiled.string
        self.positional = compiled.positional
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        names = compiled.positiontup if compiled.positional else list(binds)
        escaped = compiled.escaped_bind_names or {}
        self.names = tuple(names or ())
        self.defaults = compiled.params
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name in self.names:
            bind = binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        self._escaped = escaped

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        processors, defaults = self.processors, self.defaults
        values = []
        for name in self.names:
            value = params[name] if name in params else defaults[name]
            processor = processors.get(name)
            values.append(processor(value) if processor is not None else value)
        if self.positional:
            return tuple(values)
        keys = (self._escaped.get(name, name) for name in self.names)
        return dict(zip(keys, values, strict=True))
