"""Studio flows made through the Studio API, kept in the database so that every host of a
deployment serves the same flows: ``studio_flows`` (one row a flow: its name, the status and
number of its latest revision, the latest published one), ``studio_flow_revisions`` (every
revision: definition, status, commit message, the problems :func:`check_definition` found) and
``studio_test_users`` (the contacts who run a flow's latest draft).

The tables join the store's schema (:data:`switchboard.callbacks.store.schema.metadata`) like
the executions'; every function here also creates them on first use.

A flow runs for a contact as Studio runs it (:meth:`DatabaseFlows.for_contact`): its latest
revision for its test users, its latest published revision for everyone else, nothing for
anyone else while it was never published. An execution keeps the revision it started with:
the runtime knows that revision as ``FW...@N`` (the flow's name, in ``studio_executions``).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from switchboard.callbacks.store.schema import UTCDateTime, metadata
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.check import check_definition
from switchboard.callbacks.studio.definition import Flow, Problem

DRAFT, PUBLISHED = "draft", "published"
STATUSES = (DRAFT, PUBLISHED)
#: A flow's SID, as Studio makes them.
FLOW_SID = re.compile(r"FW[0-9a-fA-F]{32}")
#: The runtime's name of one revision of a flow: ``FW...@N``.
PINNED = re.compile(r"(FW[0-9a-fA-F]{32})@([0-9]{1,9})")
#: Parsed revisions kept per process (a revision never changes once written).
CACHED_REVISIONS = 256

flows = sa.Table(
    "studio_flows",
    metadata,
    sa.Column("sid", sa.String, primary_key=True),
    sa.Column("friendly_name", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("published_revision", sa.Integer),
    sa.Column("date_created", UTCDateTime, nullable=False, index=True),
    sa.Column("date_updated", UTCDateTime, nullable=False),
)

revisions = sa.Table(
    "studio_flow_revisions",
    metadata,
    sa.Column("flow_sid", sa.String, sa.ForeignKey("studio_flows.sid", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("friendly_name", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("commit_message", sa.Text),
    sa.Column("errors", sa.Text, nullable=False),
    sa.Column("warnings", sa.Text, nullable=False),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("date_created", UTCDateTime, nullable=False),
    sa.Column("date_updated", UTCDateTime, nullable=False),
)

test_users = sa.Table(
    "studio_test_users",
    metadata,
    sa.Column("flow_sid", sa.String, sa.ForeignKey("studio_flows.sid", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("address", sa.String, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
)

TABLES = (flows, revisions, test_users)


class FlowsDatabase(executions.Database):
    """:class:`~switchboard.callbacks.studio.executions.Database` for the flows' tables."""

    _ready: weakref.WeakSet[Engine] = weakref.WeakSet()
    _ready_lock = threading.Lock()
    tables = TABLES


# -- records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    """One revision of a flow, as stored (``definition``, ``errors`` and ``warnings`` decoded:
    each problem is ``{"message", "property_path"}``)."""

    flow_sid: str
    revision: int
    friendly_name: str
    status: str
    definition: Any
    commit_message: str | None
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    valid: bool
    date_created: datetime
    date_updated: datetime

    @property
    def name(self) -> str:
        """The runtime's name of this revision (``FW...@N``)."""
        return f"{self.flow_sid}@{self.revision}"

    def flow(self) -> Flow:
        """The revision as the runtime runs it."""
        return Flow(name=self.name, definition=self.definition, source=f"flow {self.flow_sid}")


@dataclass(frozen=True)
class StoredFlow:
    """A flow of the database: its row and its latest revision (``latest``)."""

    sid: str
    friendly_name: str
    status: str
    revision: int
    published_revision: int | None
    date_created: datetime
    date_updated: datetime
    latest: Revision = field(repr=False)


class FlowInvalid(Exception):
    """A definition with errors cannot be published; ``errors``/``warnings`` say why."""

    def __init__(self, errors: list[dict[str, Any]], warnings: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(error["message"] for error in errors))
        self.errors = errors
        self.warnings = warnings


# -- checks ------------------------------------------------------------------------------------


def problems(definition: Any, source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The errors and the warnings of ``definition`` (the checks of ``switchboard flows
    check``), each ``{"message": ONE LINE, "property_path": "#/states/N/..."}``."""
    found = check_definition(definition, source)
    states = definition.get("states") if isinstance(definition, Mapping) else None
    shown = [{"message": str(problem), "property_path": _path(problem, states)}
             for problem in found]
    return ([item for item, problem in zip(shown, found, strict=True) if not problem.warning],
            [item for item, problem in zip(shown, found, strict=True) if problem.warning])


#: Properties of a state itself (not of its ``properties``), as a problem names them.
_OF_STATE = ("name", "type", "properties", "transitions")


def _path(problem: Problem, states: Any) -> str:
    """A JSON pointer (``#/states/2/properties/say``) to where ``problem`` is."""
    path = "#"
    if isinstance(problem.state, int):
        path += f"/states/{problem.state - 1}"
    elif problem.state is not None and isinstance(states, list):
        for index, state in enumerate(states):
            if isinstance(state, Mapping) and state.get("name") == problem.state:
                path += f"/states/{index}"
                break
    prop = problem.property
    if not prop:
        return path
    if prop in ("next", "event"):
        prop = "transitions"
    elif not prop.startswith(_OF_STATE) and problem.state is not None:
        prop = "properties." + prop
    return path + "/" + re.sub(r"\[(\d+)\]", r".\1", prop).replace(".", "/")


# -- rows --------------------------------------------------------------------------------------


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def _revision(row: Mapping[str, Any]) -> Revision:
    return Revision(
        flow_sid=row["flow_sid"],
        revision=row["revision"],
        friendly_name=row["friendly_name"],
        status=row["status"],
        definition=_loads(row["definition"]),
        commit_message=row["commit_message"],
        errors=_loads(row["errors"]) or [],
        warnings=_loads(row["warnings"]) or [],
        valid=bool(row["valid"]),
        date_created=row["date_created"],
        date_updated=row["date_updated"],
    )


def _stored(row: Mapping[str, Any], latest: Revision) -> StoredFlow:
    return StoredFlow(
        sid=row["sid"],
        friendly_name=row["friendly_name"],
        status=row["status"],
        revision=row["revision"],
        published_revision=row["published_revision"],
        date_created=row["date_created"],
        date_updated=row["date_updated"],
        latest=latest,
    )


def _with_latest() -> sa.Select[Any]:
    """The flows joined with their latest revisions (the revision's columns prefixed ``r_``)."""
    columns = [*flows.c, *(column.label(f"r_{column.name}") for column in revisions.c)]
    return sa.select(*columns).select_from(flows.join(revisions, sa.and_(
        revisions.c.flow_sid == flows.c.sid, revisions.c.revision == flows.c.revision)))


def _from_joined(row: Mapping[str, Any]) -> StoredFlow:
    latest = _revision({column.name: row[f"r_{column.name}"] for column in revisions.c})
    return _stored(row, latest)


def _revision_row(sid: str, number: int, friendly_name: str, status: str, definition: Any,
                  commit_message: str | None, now: datetime) -> dict[str, Any]:
    errors, warnings = problems(definition, "definition")
    if errors and status == PUBLISHED:
        raise FlowInvalid(errors, warnings)
    return {
        "flow_sid": sid, "revision": number, "friendly_name": friendly_name, "status": status,
        "definition": json.dumps(definition, separators=(",", ":")),
        "commit_message": commit_message, "errors": json.dumps(errors),
        "warnings": json.dumps(warnings), "valid": not errors,
        "date_created": now, "date_updated": now,
    }


# -- operations --------------------------------------------------------------------------------


def new_flow_sid() -> str:
    return "FW" + uuid.uuid4().hex


def create_flow(store_or_engine: Any, *, friendly_name: str, status: str, definition: Any,
                commit_message: str | None = None) -> StoredFlow:
    """A new flow (revision 1). A draft may have errors (``valid`` false, ``errors``); a
    published flow may not: :class:`FlowInvalid`."""
    db = FlowsDatabase(store_or_engine)
    sid = new_flow_sid()
    now = db.now()
    row = _revision_row(sid, 1, friendly_name, status, definition, commit_message, now)

    def work(conn: sa.Connection) -> None:
        conn.execute(sa.insert(flows).values(
            sid=sid, friendly_name=friendly_name, status=status, revision=1,
            published_revision=1 if status == PUBLISHED else None,
            date_created=now, date_updated=now))
        conn.execute(sa.insert(revisions).values(row))

    db.run(work)
    found = get_flow(store_or_engine, sid)
    assert found is not None
    return found


def update_flow(store_or_engine: Any, sid: str, *, status: str,
                friendly_name: str | None = None, definition: Any = None,
                commit_message: str | None = None) -> StoredFlow | None:
    """A new revision of flow ``sid`` (every update is one), with the latest revision's name
    and definition where none is given; None when there is no such flow;
    :class:`FlowInvalid` for a published revision with errors."""
    current = get_flow(store_or_engine, sid)
    if current is None:
        return None
    db = FlowsDatabase(store_or_engine)
    now = db.now()
    name = friendly_name if friendly_name is not None else current.latest.friendly_name
    body = definition if definition is not None else current.latest.definition
    row = _revision_row(sid, 0, name, status, body, commit_message, now)

    def work(conn: sa.Connection) -> StoredFlow | None:
        # the increment takes the row's lock: concurrent updates get successive numbers
        changes: dict[str, Any] = {"revision": flows.c.revision + 1, "friendly_name": name,
                                   "status": status, "date_updated": now}
        if not conn.execute(sa.update(flows).where(flows.c.sid == sid).values(changes)).rowcount:
            return None
        number = conn.execute(sa.select(flows.c.revision).where(flows.c.sid == sid)).scalar_one()
        if status == PUBLISHED:
            conn.execute(sa.update(flows).where(flows.c.sid == sid)
                         .values(published_revision=number))
        conn.execute(sa.insert(revisions).values({**row, "revision": number}))
        return _from_joined(conn.execute(_with_latest().where(flows.c.sid == sid)).mappings().one())

    return db.run(work)


def get_flow(store_or_engine: Any, sid: str) -> StoredFlow | None:
    db = FlowsDatabase(store_or_engine)
    query = _with_latest().where(flows.c.sid == sid)
    row = db.run(lambda conn: conn.execute(query).mappings().first(), write=False)
    return _from_joined(row) if row is not None else None


def list_flows(store_or_engine: Any, *, offset: int = 0, limit: int = 50) -> list[StoredFlow]:
    """Flows, oldest first."""
    db = FlowsDatabase(store_or_engine)
    query = (_with_latest().order_by(flows.c.date_created, flows.c.sid)
             .offset(offset).limit(limit))
    rows = db.run(lambda conn: conn.execute(query).mappings().all(), write=False)
    return [_from_joined(row) for row in rows]


def delete_flow(store_or_engine: Any, sid: str) -> bool:
    """Delete flow ``sid`` with its revisions, test users, executions and their steps; False
    when there is no such flow."""
    db = FlowsDatabase(store_or_engine)
    runs, steps = executions.executions, executions.steps

    def work(conn: sa.Connection) -> bool:
        conn.execute(sa.delete(steps).where(steps.c.execution_sid.in_(
            sa.select(runs.c.sid).where(runs.c.flow_sid == sid).scalar_subquery())))
        conn.execute(sa.delete(runs).where(runs.c.flow_sid == sid))
        conn.execute(sa.delete(test_users).where(test_users.c.flow_sid == sid))
        conn.execute(sa.delete(revisions).where(revisions.c.flow_sid == sid))
        return bool(conn.execute(sa.delete(flows).where(flows.c.sid == sid)).rowcount)

    runs_db = executions.Database(store_or_engine)
    runs_db.ensure_tables()
    runs_db.flush()  # the steps still waiting are written first, then deleted with the rest
    return db.run(work)


LATEST_PUBLISHED, LATEST_REVISION = "LatestPublished", "LatestRevision"


def get_revision(store_or_engine: Any, sid: str, revision: int | str) -> Revision | None:
    """Revision ``revision`` of flow ``sid``: a number, ``LatestPublished`` or
    ``LatestRevision``; None when there is none."""
    db = FlowsDatabase(store_or_engine)
    if revision == LATEST_REVISION:
        number: Any = sa.select(flows.c.revision).where(flows.c.sid == sid).scalar_subquery()
    elif revision == LATEST_PUBLISHED:
        number = (sa.select(flows.c.published_revision).where(flows.c.sid == sid)
                  .scalar_subquery())
    else:
        number = int(revision)
    query = sa.select(revisions).where(revisions.c.flow_sid == sid,
                                       revisions.c.revision == number)
    row = db.run(lambda conn: conn.execute(query).mappings().first(), write=False)
    return _revision(row) if row is not None else None


def list_revisions(store_or_engine: Any, sid: str, *, offset: int = 0, limit: int = 50
                   ) -> list[Revision]:
    """The revisions of flow ``sid``, newest first."""
    db = FlowsDatabase(store_or_engine)
    query = (sa.select(revisions).where(revisions.c.flow_sid == sid)
             .order_by(revisions.c.revision.desc()).offset(offset).limit(limit))
    rows = db.run(lambda conn: conn.execute(query).mappings().all(), write=False)
    return [_revision(row) for row in rows]


def get_test_users(store_or_engine: Any, sid: str) -> list[str]:
    db = FlowsDatabase(store_or_engine)
    query = (sa.select(test_users.c.address).where(test_users.c.flow_sid == sid)
             .order_by(test_users.c.position))
    return list(db.run(lambda conn: conn.execute(query).scalars().all(), write=False))


def set_test_users(store_or_engine: Any, sid: str, addresses: Iterable[str]) -> list[str] | None:
    """Make ``addresses`` (in order, each once) the test users of flow ``sid``; None when
    there is no such flow."""
    db = FlowsDatabase(store_or_engine)
    wanted = list(dict.fromkeys(address for address in addresses if address))

    def work(conn: sa.Connection) -> bool:
        if conn.execute(sa.select(flows.c.sid).where(flows.c.sid == sid)).first() is None:
            return False
        conn.execute(sa.delete(test_users).where(test_users.c.flow_sid == sid))
        if wanted:
            conn.execute(sa.insert(test_users), [
                {"flow_sid": sid, "address": address, "position": position}
                for position, address in enumerate(wanted)])
        return True

    return wanted if db.run(work) else None


# -- the runtime's look-up -----------------------------------------------------------------------


class DatabaseFlows:
    """The flows of the database as the runtime finds them (its ``lookup``): by SID, by
    ``FW...@N`` (a revision an execution runs), or by SID for one contact.

    ``store`` is a Store or an Engine; without one, the store of the current Flask app (the
    ``/flows`` blueprint's runtime serves whichever app it is registered on). Each look-up
    reads the flow's row (so every host sees an update at once); a revision is parsed once.
    """

    def __init__(self, store: Any = None) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[str, str, int], Flow] = OrderedDict()
        self._lock = threading.Lock()

    def _store(self) -> Any:
        if self.store is not None:
            return self.store
        from flask import current_app, has_app_context

        if not has_app_context():
            return None
        switchboard = current_app.extensions.get("switchboard")
        return switchboard.store if switchboard is not None else None

    def find(self, wanted: str) -> Flow | None:
        """``FW...@N``: that revision; ``FW...``: its latest published revision, else its
        latest (a subflow, or a step of an execution, whose own revision the runtime reads
        from the execution)."""
        store = self._store()
        if store is None:
            return None
        pinned = PINNED.fullmatch(wanted)
        if pinned:
            return self._revision(store, pinned.group(1), int(pinned.group(2)))
        if not FLOW_SID.fullmatch(wanted):
            return None
        row = self._row(store, wanted)
        if row is None:
            return None
        for number in (row["published_revision"], row["revision"]):
            if number is not None:
                found = self._revision(store, wanted, number, valid_only=True)
                if found is not None:
                    return found
        return None

    def for_contact(self, wanted: str, contact: str, *,
                    known: StoredFlow | None = None) -> Flow | None:
        """The revision of flow ``wanted`` that runs for ``contact``: the latest one for a test
        user, the latest published one for everyone; None when none may run for them.
        ``known``: the flow as just read (its row is not read again)."""
        store = self._store()
        if store is None:
            return None
        pinned = PINNED.fullmatch(wanted)
        if pinned:
            return self._revision(store, pinned.group(1), int(pinned.group(2)))
        if not FLOW_SID.fullmatch(wanted):
            return None
        row: Mapping[str, Any] | None = (
            {"revision": known.revision, "published_revision": known.published_revision}
            if known is not None and known.sid == wanted else self._row(store, wanted))
        if row is None:
            return None
        numbers: list[int] = []
        if row["revision"] != row["published_revision"] and is_test_user(store, wanted,
                                                                           contact):
            numbers.append(row["revision"])
        if row["published_revision"] is not None:
            numbers.append(row["published_revision"])
        for number in numbers:
            found = self._revision(store, wanted, number, valid_only=True)
            if found is not None:
                return found
        return None

    def _row(self, store: Any, sid: str) -> Mapping[str, Any] | None:
        db = FlowsDatabase(store)
        query = sa.select(flows.c.revision, flows.c.published_revision).where(flows.c.sid == sid)
        return db.run(lambda conn: conn.execute(query).mappings().first(), write=False)

    def _revision(self, store: Any, sid: str, number: int, *, valid_only: bool = False
                  ) -> Flow | None:
        engine = getattr(store, "engine", store)
        key = (str(engine.url), sid, number)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        revision = get_revision(store, sid, number)
        if revision is None or (valid_only and not revision.valid):
            return None
        flow = revision.flow()
        with self._lock:
            self._cache[key] = flow
            while len(self._cache) > CACHED_REVISIONS:
                self._cache.popitem(last=False)
        return flow


def is_test_user(store_or_engine: Any, sid: str, contact: str) -> bool:
    db = FlowsDatabase(store_or_engine)
    query = sa.select(test_users.c.address).where(test_users.c.flow_sid == sid,
                                                  test_users.c.address == contact)
    return db.run(lambda conn: conn.execute(query).first(), write=False) is not None


def revision_of(flow_name: str) -> int:
    """The revision an execution runs, from its flow's runtime name (``FW...@N``); a flow of
    the flows folder has one, revision 1."""
    pinned = PINNED.fullmatch(flow_name)
    return int(pinned.group(2)) if pinned else 1
