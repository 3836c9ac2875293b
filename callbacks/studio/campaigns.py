"""Campaigns: one execution of a flow per row of a CSV file (``switchboard flows run NAME
--from +1... --contacts contacts.csv``), at a rate the account allows, and safe to run again
after Ctrl-C or a crash without starting any execution twice.

- :func:`read_contacts` reads and checks the whole file before anything is sent: a ``to``
  column of E.164 numbers, each contact once; the other columns are each row's parameters
  (``{{flow.data.NAME}}``). A problem is one line naming the row (rows are numbered as a
  spreadsheet numbers them: the header is row 1).
- :class:`TokenBucket` paces the starts: ``rate`` per second (Studio takes 20 executions per
  second through its API).
- :func:`run_campaign` keys each row in the database (:data:`campaign_rows`: the campaign,
  the row number and the number) *before* its execution is created: the key is written
  ``starting``, the execution created, the key marked ``started`` with the execution's SID.
  Run again, a ``started`` row is skipped; a row left ``starting`` (the run stopped between
  the two writes) is checked: an execution of the flow for that contact created since the key
  was written means it was started, so it is marked so; otherwise it is started now. The
  messages a start sends are keyed by the row too
  (:class:`~switchboard.callbacks.studio.timers.SendOnce`), so a contact whose message went
  out just before the run stopped does not get it twice. A row whose start could not send
  (no account, the REST API refused it) is failed, not started, even though its execution
  ran. Rows that failed or were skipped because the contact opted out are tried again by the
  next run.

A campaign is named by the flow and the file's content (``ask-3f2a9c1b0d4e``), so the same
command on the same file resumes it; ``--campaign NAME`` names it outright (to resume after
editing the file: rows are then matched by row number and number).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from switchboard.callbacks.store.schema import UTCDateTime, metadata
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.context import flow_sid
from switchboard.callbacks.studio.definition import StudioError
from switchboard.callbacks.studio.executions import AlreadyActive, Database, Execution
from switchboard.callbacks.studio.timers import CreatesWrapped, SendOnce, SendsDatabase
from switchboard.config.validation import is_e164

if TYPE_CHECKING:
    from switchboard.callbacks.studio.definition import Flow
    from switchboard.callbacks.studio.runtime import ClientFactory
    from switchboard.config import Settings

__all__ = [
    "DEFAULT_RATE",
    "ContactsError",
    "SendFailures",
    "Summary",
    "TokenBucket",
    "campaign_id",
    "campaign_rows",
    "contacts_counted",
    "read_contacts",
    "run_campaign",
]

#: Executions started per second by default: what Studio's API takes.
DEFAULT_RATE = 20.0
#: The column of the numbers (matched without regard to case).
TO_COLUMN = "to"

STARTING, STARTED, FAILED, SKIPPED = "starting", "started", "failed", "skipped"
#: Seconds a row keyed ``starting`` is left to the run that keyed it: another run finding it
#: so, with no execution made yet, puts it off until then (the run may be creating it). Both
#: runs time it by the database's clock (``keyed_at``: :meth:`Database.now`), whatever host.
STARTING_LEASE = 15.0

campaign_rows = sa.Table(
    "studio_campaign_rows",
    metadata,
    sa.Column("campaign", sa.String, primary_key=True),
    sa.Column("row_number", sa.Integer, primary_key=True),
    sa.Column("to", sa.String, primary_key=True),
    sa.Column("flow_sid", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("execution_sid", sa.String),
    sa.Column("error", sa.Text),
    sa.Column("keyed_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


class CampaignDatabase(Database):
    """The store's transactions for :data:`campaign_rows`, made on first use."""

    _ready: weakref.WeakSet[Any] = weakref.WeakSet()
    _ready_lock = threading.Lock()
    tables = (campaign_rows,)


# -- the file ----------------------------------------------------------------------------------


class ContactsError(StudioError):
    """A contacts file that cannot be used, in one line naming the file and the row."""


@dataclass(frozen=True)
class Contact:
    """One row of the file: its number (the header is row 1), ``to``, and the other columns."""

    row: int
    to: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class Contacts:
    """A checked contacts file: its rows in order and the SHA-256 of its bytes."""

    path: Path
    rows: list[Contact]
    digest: str


def read_contacts(path: Path) -> Contacts:
    """The contacts of the CSV file ``path`` (UTF-8, a header row naming a ``to`` column), or
    :class:`ContactsError` with the first problem."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ContactsError(f"{path}: cannot be read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ContactsError(f"{path}: line {line}: not UTF-8 text; save the file as CSV "
                            "UTF-8") from None
    return Contacts(path, list(_rows(path, text)), hashlib.sha256(data).hexdigest())


def _rows(path: Path, text: str) -> Iterator[Contact]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 1
    try:
        header = next(reader, None)
        if header is None:
            raise ContactsError(f"{path}: empty; its first row names the columns, one of "
                                f"them {TO_COLUMN!r}")
        if not any(field.strip() for field in header):
            raise ContactsError(f"{path}: row 1: empty; the first row names the columns, one "
                                f"of them {TO_COLUMN!r}")
        names = [name.strip() for name in header]
        to_index = _header(path, names)
        seen: dict[str, int] = {}
        rows = 0
        for record in reader:
            number += 1
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            if len(record) != len(names):
                raise ContactsError(f"{path}: row {number}: {len(record)} fields, but the "
                                    f"header names {len(names)} columns")
            to = record[to_index].strip()
            if not is_e164(to):
                shown = _short(to) if to else "nothing"
                raise ContactsError(
                    f"{path}: row {number}: {shown} in column {TO_COLUMN!r} is not a phone "
                    "number in E.164 form (+ and the country code, like +14155550123)")
            if to in seen:
                raise ContactsError(f"{path}: row {number}: {to} is on row {seen[to]} "
                                    "already; a contact gets one execution of the flow")
            seen[to] = number
            parameters = {name: value for index, (name, value) in enumerate(
                zip(names, record, strict=True)) if index != to_index}
            rows += 1
            yield Contact(number, to, parameters)
    except csv.Error as error:
        raise ContactsError(f"{path}: row {number + 1}: not CSV: {error}") from None
    if not rows:
        raise ContactsError(f"{path}: no contacts, only the header row")


def _short(value: str, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _header(path: Path, names: Sequence[str]) -> int:
    """The index of the ``to`` column; :class:`ContactsError` for a header that cannot be
    used."""
    for index, name in enumerate(names, 1):
        if not name:
            raise ContactsError(f"{path}: row 1: column {index} has no name")
    folded = [name.casefold() for name in names]
    for name in folded:
        if folded.count(name) > 1:
            raise ContactsError(f"{path}: row 1: two columns named {name!r}")
    if TO_COLUMN not in folded:
        listed = ", ".join(names)
        raise ContactsError(f"{path}: row 1: no {TO_COLUMN!r} column for the numbers "
                            f"(columns: {listed})")
    return folded.index(TO_COLUMN)


def campaign_id(flow: Flow, contacts: Contacts) -> str:
    """The campaign of ``flow`` over this very file: ``NAME-`` and 12 hex digits of its
    SHA-256."""
    return f"{flow.name}-{contacts.digest[:12]}"


# -- the pace ----------------------------------------------------------------------------------


class TokenBucket:
    """At most ``rate`` takes a second over time, ``burst`` at once (default 1: evenly
    spaced, so that no second holds more than ``rate``)."""

    def __init__(self, rate: float, burst: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not rate > 0:
            raise ValueError(f"a rate must be above 0, not {rate!r}")
        self.rate = float(rate)
        self.burst = max(float(burst), 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._at = clock()

    def take(self) -> float:
        """Wait for a token and take it; the seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return waited
            pause = max((1.0 - self._tokens) / self.rate, 1e-6)  # past the clock's rounding
            self._sleep(pause)
            waited += pause


# -- the run -----------------------------------------------------------------------------------


class Starter(Protocol):
    """:func:`switchboard.callbacks.studio.outbound.start_execution`'s signature."""

    def __call__(self, store_or_engine: Any, flow: Flow, *, to: str, from_: str,
                 parameters: Mapping[str, Any] | None, settings: Settings,
                 client_factory: ClientFactory = ...,
                 flows: Mapping[str, Flow] | None = ...) -> Execution: ...


@dataclass
class Summary:
    """What a run did with the file's rows."""

    campaign: str
    total: int
    started: int = 0
    opted_out: int = 0
    already: int = 0
    failed: int = 0
    #: (row, number, reason) of each row that failed.
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    #: The run stopped before the last row (Ctrl-C); running it again goes on.
    interrupted: bool = False
    #: Seconds the run took.
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return self.started + self.opted_out + self.already + self.failed

    def line(self) -> str:
        return (f"{contacts_counted(self.total)}: {self.started} started, {self.opted_out} skipped "
                f"(opted out), {self.already} skipped (already started), {self.failed} "
                "failed")


@dataclass(frozen=True)
class _Key:
    state: str
    keyed_at: datetime


class CampaignRows:
    """The keyed rows of one campaign."""

    def __init__(self, store: Any, campaign: str, flow: Flow) -> None:
        self.db = CampaignDatabase(store)
        self.campaign = campaign
        self.flow_sid = flow_sid(flow)
        self.executions = Database(store)

    def states(self) -> dict[tuple[int, str], _Key]:
        """Each keyed row's state, by (row, number)."""
        table = campaign_rows
        query = sa.select(table.c.row_number, table.c.to, table.c.state, table.c.keyed_at
                          ).where(table.c.campaign == self.campaign)
        rows = self.db.run(lambda conn: conn.execute(query).all(), write=False)
        return {(row, to): _Key(state, keyed_at) for row, to, state, keyed_at in rows}

    def key(self, contact: Contact) -> datetime | None:
        """Write the row's key ``starting`` (or turn a failed or skipped one back to it): when
        it was keyed; None when it is starting or started already (another run has it)."""
        now = self.db.now()
        table = campaign_rows
        values = {"campaign": self.campaign, "row_number": contact.row, "to": contact.to,
                  "flow_sid": self.flow_sid, "state": STARTING, "execution_sid": None,
                  "error": None, "keyed_at": now, "updated_at": now}
        insert = (postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert)
        new = insert(table).on_conflict_do_nothing().returning(table.c.campaign)

        def work(conn: sa.Connection) -> bool:
            if conn.execute(new, values).first() is not None:
                return True
            return bool(conn.execute(
                sa.update(table).where(*self._mine(contact), table.c.state.in_((FAILED, SKIPPED)))
                .values(state=STARTING, error=None, keyed_at=now, updated_at=now)).rowcount)

        return now if self.db.run(work) else None

    def current(self, contact: Contact) -> _Key | None:
        """The row's key as it is now."""
        table = campaign_rows
        query = sa.select(table.c.state, table.c.keyed_at).where(*self._mine(contact))
        row = self.db.run(lambda conn: conn.execute(query).first(), write=False)
        return None if row is None else _Key(row.state, row.keyed_at)

    def take_over(self, contact: Contact, key: _Key) -> datetime | None:
        """Key again a row left ``starting`` as ``key`` says: when; None when another run
        changed it meanwhile (took it over, or started it)."""
        now = self.db.now()
        table = campaign_rows
        update = (sa.update(table)
                  .where(*self._mine(contact), table.c.state == STARTING,
                         table.c.keyed_at == key.keyed_at)
                  .values(keyed_at=now, updated_at=now))
        return now if self.db.run(lambda conn: bool(conn.execute(update).rowcount)) else None

    def mark(self, contact: Contact, state: str, *, execution_sid: str | None = None,
             error: str | None = None) -> None:
        """Write the row's ``state``. A row marked ``starting`` again (a run that gave up
        waiting for another's claim) stays ``started`` if another run started it meanwhile."""
        table = campaign_rows
        values = {"state": state, "execution_sid": execution_sid, "error": error,
                  "updated_at": self.db.now()}
        update = sa.update(table).where(*self._mine(contact))
        if state == STARTING:
            update = update.where(table.c.state != STARTED)
        self.db.run(lambda conn: conn.execute(update.values(**values)))

    def _mine(self, contact: Contact) -> tuple[sa.ColumnElement[bool], ...]:
        table = campaign_rows
        return (table.c.campaign == self.campaign, table.c.row_number == contact.row,
                table.c.to == contact.to)

    def started_since(self, contact: Contact, since: datetime) -> Execution | None:
        """The execution of the flow for the contact that the REST API (not the contact's
        own message) created since ``since``, if any."""
        table = executions.executions
        query = (sa.select(table.c.sid, table.c.context)
                 .where(table.c.flow_sid == self.flow_sid,
                        table.c.contact_channel_address == contact.to,
                        table.c.date_created >= since)
                 .order_by(table.c.date_created))
        rows = self.executions.run(lambda conn: conn.execute(query).all(), write=False)
        for sid, context in rows:
            if "request" in json.loads(context).get("trigger", {}):
                return executions.get(self.executions, sid)
        return None


def run_campaign(
    store: Any,
    flow: Flow,
    contacts: Sequence[Contact],
    *,
    campaign: str,
    from_: str,
    settings: Settings,
    parameters: Mapping[str, Any] | None = None,
    flows: Mapping[str, Flow] | None = None,
    rate: float = DEFAULT_RATE,
    client_factory: ClientFactory | None = None,
    start: Starter | None = None,
    bucket: TokenBucket | None = None,
    progress: Callable[[Contact], None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> Summary:
    """Start ``flow`` for each of ``contacts`` (see the module's text); ``parameters`` go with
    every row, under its own columns; ``flows`` are the other flows its subflows may name.
    ``progress(contact)`` is called after each row; ``stopping()`` true ends the run before
    the next row (``interrupted``). ``start`` is
    :func:`~switchboard.callbacks.studio.outbound.start_execution` unless given (tests).

    The store's :class:`~switchboard.callbacks.store.StoreUnavailable` ends the run (raised;
    run it again when the database is back)."""
    from switchboard.callbacks.studio.runtime import rest_client

    if start is None:
        from switchboard.callbacks.studio.outbound import start_execution

        start = start_execution
    once = SendOnce(SendsDatabase(store))
    client = _OneClient(client_factory or rest_client)
    sends = SendFailures(once.wrap(client))
    run = _Run(
        rows=CampaignRows(store, campaign, flow), store=store, flow=flow, from_=from_,
        settings=settings, flows=dict(flows or {}), start=start, once=once,
        factory=sends, sends=sends, bucket=bucket or TokenBucket(rate),
        summary=Summary(campaign, len(contacts)), lease=STARTING_LEASE,
    )
    states = run.rows.states()
    began = time.monotonic()
    with once.scope(), client:
        for contact in contacts:
            if stopping is not None and stopping():
                run.summary.interrupted = True
                break
            run.one(contact, states.get((contact.row, contact.to)),
                    {**(parameters or {}), **contact.parameters})
            if progress is not None:
                progress(contact)
        if not run.summary.interrupted:
            run.finish()
    run.summary.seconds = time.monotonic() - began
    return run.summary


class _OneClient:
    """A client factory that makes one REST client for the whole run (one session, its
    connections kept alive from message to message), closed at the run's end."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory
        self.client: Any = None
        self.made = False

    def __call__(self, settings: Settings) -> Any:
        if not self.made:
            self.client, self.made = self.factory(settings), True
        return None if self.client is None else _KeptOpen(self.client)

    def __enter__(self) -> _OneClient:
        return self

    def __exit__(self, *details: object) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


class _KeptOpen:
    """The run's client, lent to one send: ``with client:`` leaves it open."""

    def __init__(self, client: Any) -> None:
        object.__setattr__(self, "_client", client)

    def __enter__(self) -> _KeptOpen:
        return self

    def __exit__(self, *details: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)


#: The reason of a send made with no account configured.
NO_ACCOUNT = "no Twilio account is configured (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)"


class SendFailures:
    """A client factory that notes why each send of the row in hand failed: no account (the
    factory gave no client), or the error ``messages.create`` or ``calls.create`` raised."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory
        self.reasons: list[str] = []

    def __call__(self, settings: Settings) -> Any:
        client = self.factory(settings)
        if client is None:
            self.reasons.append(NO_ACCOUNT)
            return None
        return CreatesWrapped(
            client, lambda wrapped, kind: _NotedCreate(wrapped, kind, self.reasons))


class _NotedCreate:
    """``client.messages`` or ``client.calls``, whose ``create`` failures are noted."""

    def __init__(self, client: Any, kind: str, reasons: list[str]) -> None:
        self._client = client
        self._kind = kind
        self._reasons = reasons

    def create(self, *args: Any, **fields: Any) -> Any:
        try:
            return getattr(self._client, self._kind).create(*args, **fields)
        except Exception as error:
            self._reasons.append(_one_line(error))
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(getattr(self._client, self._kind), name)


@dataclass
class _Run:
    rows: CampaignRows
    store: Any
    flow: Flow
    from_: str
    settings: Settings
    flows: dict[str, Flow]
    start: Starter
    once: SendOnce
    factory: ClientFactory
    sends: SendFailures
    bucket: TokenBucket
    summary: Summary
    #: Rows whose execution another run still holds: taken at the end (:meth:`finish`).
    deferred: list[tuple[Contact, Execution]] = field(default_factory=list)
    #: Rows keyed ``starting`` by another run within :data:`STARTING_LEASE`, with no
    #: execution yet: looked at again at the end (:meth:`finish`), once the lease is over.
    leased: list[tuple[Contact, Mapping[str, Any]]] = field(default_factory=list)
    lease: float = STARTING_LEASE

    def one(self, contact: Contact, key: _Key | None, parameters: Mapping[str, Any], *,
            final: bool = False) -> None:
        """Start the row, or skip it as its key says; ``final`` (in :meth:`finish`) waits for
        what would otherwise be put off."""
        rows, summary = self.rows, self.summary
        if key is not None and key.state == STARTED:
            summary.already += 1
            return
        self._keyed_sends(contact)
        if key is not None and key.state == STARTING:
            found = rows.started_since(contact, key.keyed_at)
            if found is not None:
                self._resumed(contact, found, wait=final)
                return
            if self._leased(key):
                if final:  # another run took it over meanwhile: it is that run's
                    self._failed(contact, "another run is starting it; run again to check "
                                          "it", write=False)
                else:
                    self.leased.append((contact, parameters))
                return
        if self.store.is_opted_out(contact.to, sender=self.from_):
            if key is not None:
                rows.mark(contact, SKIPPED, error="opted out")
            summary.opted_out += 1
            return
        self.bucket.take()  # before the key: a row is keyed starting only while it starts
        if key is not None and key.state == STARTING:
            keyed = rows.take_over(contact, key)
        else:
            keyed = rows.key(contact)
        if keyed is None:
            summary.already += 1  # another run keyed it meanwhile
            return
        self.sends.reasons.clear()
        try:
            execution = self.start(self.store, self.flow, to=contact.to, from_=self.from_,
                                   parameters=parameters, settings=self.settings,
                                   client_factory=self.factory, flows=self.flows)
        except AlreadyActive:
            self._failed(contact, f"{contact.to} has an active execution of flow "
                                  f"{self.flow.name} already")
            return
        except Exception as error:
            if _is_store(error):
                raise  # the row stays starting: the next run checks it
            self._failed(contact, _one_line(error))
            return
        if self._unsent(contact, execution):
            return
        rows.mark(contact, STARTED, execution_sid=execution.sid)
        summary.started += 1

    def finish(self) -> None:
        """The rows put off by :meth:`one`, waiting for the leases and the claims of the run
        that died (or of another run going on)."""
        leased, self.leased = self.leased, []
        for contact, parameters in leased:
            key = self.rows.current(contact)
            if key is not None and key.state == STARTING:
                pause = (key.keyed_at - self.rows.db.now()).total_seconds() + self.lease
                if pause > 0:
                    time.sleep(pause + 0.01)
                    key = self.rows.current(contact)
            self.one(contact, key, parameters, final=True)
        deferred, self.deferred = self.deferred, []
        for contact, execution in deferred:
            self._keyed_sends(contact)
            self._resumed(contact, execution, wait=True)

    def _keyed_sends(self, contact: Contact) -> None:
        """What the row's start sends is keyed by the row, the same in every run."""
        self.once.begin(f"campaign:{self.rows.campaign}:{contact.row}:{contact.to}",
                        f"campaign {self.rows.campaign} row {contact.row}")

    def _resumed(self, contact: Contact, execution: Execution, *, wait: bool) -> None:
        """A row left starting whose execution is there: marked started; run from its
        trigger first when the run that made it stopped before running it. The run that made
        it holds its claim until the claim expires: without ``wait``, the row is put off
        until the end of this run (:meth:`finish`) rather than held up."""
        if execution.active and execution.step_count == 0:
            self.sends.reasons.clear()
            try:
                ran = self._run_trigger(execution, wait=wait)
            except executions.ClaimTimeout as error:
                if not wait:
                    self.deferred.append((contact, execution))
                    return
                self._failed(contact, _one_line(error), state=STARTING)
                return
            if ran and self._unsent(contact, execution):
                return
            if ran:
                self.rows.mark(contact, STARTED, execution_sid=execution.sid)
                self.summary.started += 1
                return
        self.rows.mark(contact, STARTED, execution_sid=execution.sid)
        self.summary.already += 1

    def _run_trigger(self, execution: Execution, *, wait: bool) -> bool:
        """Run ``execution`` from its trigger as ``start`` would have; False when another run
        did meanwhile (or it ended); :class:`~.executions.ClaimTimeout` while another holds
        it (after waiting for its claim to expire, with ``wait``)."""
        from switchboard.callbacks.studio.flows_store import DatabaseFlows
        from switchboard.callbacks.studio.outbound import (
            INCOMING_REQUEST,
            public_base,
            url_name,
        )
        from switchboard.callbacks.studio.runtime import CLAIM_MARGIN, PathLinks, Runtime
        from switchboard.callbacks.studio.widgets.base import MESSAGING, Output

        runtime = Runtime({**self.flows, self.flow.name: self.flow}, client_factory=self.factory,
                          lookup=DatabaseFlows(self.store))
        db = runtime.database(self.store)
        claim_for = float(self.settings.handler_timeout) + CLAIM_MARGIN
        until = time.monotonic() + (claim_for + 1.0 if wait else 0.0)
        claimed = executions.claim_waiting(db, execution, claim_for=claim_for, until=until)
        if claimed is None:
            return False
        if claimed.step_count:
            executions.release(db, claimed)
            return False
        self.bucket.take()
        links = PathLinks(public_base(self.settings), url_name(self.flow))
        ends = time.monotonic() + float(self.settings.handler_timeout)
        runtime._move(db, claimed, Output(MESSAGING, webhook=False), self.settings, links,
                      ends, lambda runner: runner.start(INCOMING_REQUEST))
        return True

    def _leased(self, key: _Key) -> bool:
        """Whether a row keyed ``starting`` may still be another run's to start."""
        return (self.rows.db.now() - key.keyed_at).total_seconds() < self.lease

    def _unsent(self, contact: Contact, execution: Execution) -> bool:
        """Whether a send of the row's start failed: the row is then failed (the next run
        tries it again), its reason the first send's."""
        if not self.sends.reasons:
            return False
        self._failed(contact, f"execution {execution.sid}: not sent: {self.sends.reasons[0]}")
        return True

    def _failed(self, contact: Contact, reason: str, *, state: str = FAILED,
                write: bool = True) -> None:
        if write:
            self.rows.mark(contact, state, error=reason)
        self.summary.failed += 1
        self.summary.failures.append((contact.row, contact.to, reason))


def contacts_counted(count: int) -> str:
    """``1 contact``, ``2 contacts``."""
    return f"{count} contact" if count == 1 else f"{count} contacts"


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


def _is_store(error: BaseException) -> bool:
    from switchboard.callbacks.store import StoreUnavailable

    return isinstance(error, StoreUnavailable)
