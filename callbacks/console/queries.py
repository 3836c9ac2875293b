"""What the console's pages read from the store, and the heard state it writes.

Every function takes an open connection of the store's engine (one read transaction per page)
and returns plain dicts and dataclasses. Lists are paged by key (``created_at``, ``sid``), never
by offset, so that the last page costs what the first does; a filter by number is two queries
(``from`` and ``to``) each walking its own index in order, merged. The indexes each query
expects are listed in docs/console.md.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from switchboard.callbacks.console import answers
from switchboard.callbacks.console.lines import Line
from switchboard.callbacks.console.tables import heard, insert_ignoring
from switchboard.callbacks.errors import STATUS_KINDS
from switchboard.callbacks.exchanges import ANSWER_LIMIT
from switchboard.callbacks.exchanges import exchanges as webhook_exchanges
from switchboard.callbacks.store.schema import (
    NO_SEQUENCE,
    calls,
    messages,
    opt_outs,
    recordings,
    status_callbacks,
    voice_sessions,
)
from switchboard.callbacks.studio.executions import ACTIVE, ENDED
from switchboard.callbacks.studio.executions import executions as flow_executions
from switchboard.callbacks.studio.executions import steps as flow_steps

#: A call's statuses before its end.
LIVE_STATUSES = ("queued", "initiated", "ringing", "in-progress")
#: A call still "in progress" in its row after this long is one whose last status callback
#: never came (or was never asked for): it is not counted as live.
LIVE_WINDOW = timedelta(hours=4)
#: The statuses of a status callback that tell of something that went wrong: a call that
#: did not connect, a message not delivered, a recording with nothing in it or none at all.
FAILURE_STATUSES = ("busy", "no-answer", "failed", "canceled", "undelivered", "absent")
CALL_STATUSES = (*LIVE_STATUSES, "completed", "busy", "no-answer", "failed", "canceled")
#: Recordings made by ``<Record>`` (Twilio's ``RecordVerb``, or no source: a Record action's).
VOICEMAIL_SOURCES = ("RecordVerb",)
#: Webhook exchanges a call's page shows at most (its own, its legs' and its recordings').
TIMELINE_EXCHANGES = 500
#: An inbound call's first webhook, shown on the call's first line, came this close to the row.
OPENING_WINDOW = timedelta(seconds=10)

_CALL_COLUMNS = (
    calls.c.sid, calls.c["from"], calls.c["to"], calls.c.direction, calls.c.status,
    calls.c.duration, calls.c.caller_name, calls.c.forwarded_from, calls.c.parent_call_sid,
    calls.c.created_at, calls.c.updated_at,
)
_MESSAGE_COLUMNS = (
    messages.c.sid, messages.c["from"], messages.c["to"], messages.c.body, messages.c.direction,
    messages.c.status, messages.c.error_code, messages.c.num_media, messages.c.media,
    messages.c.created_at,
)


# -- paging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A place in a list ordered by (``created_at``, ``sid``), as a URL carries it."""

    created_at: datetime
    sid: str

    def encode(self) -> str:
        return f"{self.created_at.astimezone(UTC):%Y%m%dT%H%M%S.%f}~{self.sid}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor written by :meth:`encode`; None for anything else."""
        if not text or "~" not in text:
            return None
        when, _, sid = text.partition("~")
        try:
            created_at = datetime.strptime(when, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        except ValueError:
            return None
        return cls(created_at, sid) if sid and len(sid) <= 64 else None


@dataclass
class Page:
    """Rows of a list, newest first, with the cursors of the pages around them (None: none)."""

    rows: list[dict[str, Any]]
    newer: Cursor | None = None
    older: Cursor | None = None


def _keyed_page(
    conn: sa.Connection,
    branches: Sequence[sa.Select],
    table: sa.FromClause,
    *,
    before: Cursor | None,
    after: Cursor | None,
    size: int,
    created: sa.ColumnElement[datetime] | None = None,
) -> Page:
    """Run ``branches`` (selects of the same columns of ``table``, whose rows are merged) for
    the page before ``before`` (or after ``after``, or the newest), ``size`` rows. ``created``:
    the table's time column when it is not ``created_at`` (the rows must still hold it as
    ``created_at``)."""
    sid = table.c.sid
    if created is None:
        created = table.c.created_at
    key = sa.tuple_(created, sid)
    ascending = after is not None
    limited = []
    for branch in branches:
        # The plain bound on ``created_at`` is what an index on (..., created_at) ranges over;
        # the row comparison then only orders the rows of the cursor's own instant.
        if after is not None:
            branch = branch.where(created >= _at(after.created_at),
                                  key > sa.tuple_(_at(after.created_at), sa.literal(after.sid)))
        elif before is not None:
            branch = branch.where(created <= _at(before.created_at),
                                  key < sa.tuple_(_at(before.created_at),
                                                  sa.literal(before.sid)))
        order = (created.asc(), sid.asc()) if ascending else (created.desc(), sid.desc())
        limited.append(branch.order_by(*order).limit(size + 1))
    if len(limited) == 1:
        stmt = limited[0]
    else:
        merged = sa.union(*(sa.select(branch.subquery()) for branch in limited)).subquery()
        order = (
            (merged.c.created_at.asc(), merged.c.sid.asc()) if ascending
            else (merged.c.created_at.desc(), merged.c.sid.desc())
        )
        stmt = sa.select(merged).order_by(*order).limit(size + 1)
    rows = [_decode(row) for row in conn.execute(stmt).mappings()]
    more = len(rows) > size
    rows = rows[:size]
    if ascending:
        rows.reverse()
        has_newer, has_older = more, True
    else:
        has_newer, has_older = before is not None, more
    page = Page(rows)
    if rows:
        if has_newer:
            page.newer = Cursor(rows[0]["created_at"], rows[0]["sid"])
        if has_older:
            page.older = Cursor(rows[-1]["created_at"], rows[-1]["sid"])
    return page


def _at(when: datetime) -> sa.BindParameter[datetime]:
    return sa.literal(when, calls.c.created_at.type)


def _decode(row: Any) -> dict[str, Any]:
    result = dict(row)
    for name in ("extra", "media", "params", "data"):
        value = result.get(name)
        if isinstance(value, str):
            try:
                result[name] = json.loads(value)
            except ValueError:
                result[name] = None
    return result


def normalise_number(text: str | None) -> str | None:
    """A number as a filter takes it: ``(415) 555-0100`` and ``+1 415 555 0100`` ->
    ``+14155550100`` when it is only digits and punctuation (``1415...`` gets its ``+``);
    anything else (``client:alice``, ``whatsapp:+1...``) as typed, trimmed."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if all(c.isascii() and (c.isdigit() or c in "+-(). ") for c in text):
        digits = "".join(c for c in text if c.isdigit())
        if digits:
            return "+" + digits
    return text[:64]


# -- calls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFilters:
    """The calls page's filters: a number (either side), a status, a range of times (UTC)."""

    number: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, select: sa.Select) -> sa.Select:
        if self.status:
            select = select.where(calls.c.status == self.status)
        if self.since is not None:
            select = select.where(calls.c.created_at >= self.since)
        if self.until is not None:
            select = select.where(calls.c.created_at < self.until)
        return select


def list_calls(
    conn: sa.Connection, filters: CallFilters, *, before: Cursor | None = None,
    after: Cursor | None = None, size: int = 50,
) -> Page:
    """Calls, newest first, filtered and paged."""
    base = filters.where(sa.select(*_CALL_COLUMNS))
    if filters.number:
        branches = [base.where(calls.c["from"] == filters.number),
                    base.where(calls.c["to"] == filters.number)]
    else:
        branches = [base]
    return _keyed_page(conn, branches, calls, before=before, after=after, size=size)


@dataclass
class TimelineEvent:
    """One line of a call's timeline: what happened at ``at`` (``title``: a
    :class:`~switchboard.callbacks.console.lines.Line`, whose values a page isolates each on
    its own, or plain text, shown whole), and what Switchboard answered
    (``answer``: None when the store does not know; ``verbs``: its TwiML, a line per verb;
    ``twiml``: the document, its URLs' credentials and queries masked; ``problem``: a key of
    :data:`switchboard.callbacks.exchanges.PROBLEMS`)."""

    at: datetime
    kind: str
    title: str
    fields: dict[str, Any] = field(default_factory=dict)
    answer: str | None = None
    link: str | None = None
    recording: dict[str, Any] | None = None
    verbs: list[str] = field(default_factory=list)
    twiml: str | None = None
    problem: str | None = None


@dataclass
class CallDetail:
    """A call's page: ``exchanges`` are the webhook exchanges of the call and of its legs
    (oldest first, :data:`TIMELINE_EXCHANGES` at most; ``more_exchanges`` when there are
    more), ``own_hosts`` the hosts whose URLs its answers show by their path. Each recording
    holds the Studio flow that recorded it, as :func:`voicemails` gives it."""

    call: dict[str, Any]
    events: list[TimelineEvent]
    recordings: list[dict[str, Any]]
    children: list[dict[str, Any]]
    session: dict[str, Any] | None
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    more_exchanges: bool = False
    own_hosts: tuple[str, ...] = ()


#: A source of timeline events: ``(conn, call row, detail so far) -> events``. Flow
#: executions add theirs here (see docs/console.md).
TimelineSource = Callable[[sa.Connection, dict[str, Any], CallDetail], Iterable[TimelineEvent]]

#: Fields of a call status callback worth showing on its line (the rest are in its details).
_STATUS_FIELDS = ("CallDuration", "SipResponseCode", "ErrorCode", "ErrorMessage", "AnsweredBy",
                  "RecordingDuration", "RecordingStatus", "CallbackSource")


def call_detail(conn: sa.Connection, sid: str, *,
                own_hosts: Sequence[str] = ()) -> CallDetail | None:
    """The call, its recordings, its child legs, its session, its webhook exchanges and its
    timeline; URLs on ``own_hosts`` (this server's) are shown by their path."""
    row = conn.execute(
        sa.select(calls).where(calls.c.sid == sid)
    ).mappings().first()
    if row is None:
        return None
    call = _decode(row)
    children = [_decode(r) for r in conn.execute(
        sa.select(*_CALL_COLUMNS).where(calls.c.parent_call_sid == sid)
        .order_by(calls.c.created_at)
    ).mappings()]
    recording_rows = [_decode(r) for r in conn.execute(
        _with_call_flow(sa.select(recordings, heard.c.heard_at)
                        .outerjoin(heard, heard.c.recording_sid == recordings.c.sid))
        .where(recordings.c.call_sid == sid).order_by(recordings.c.created_at)
    ).mappings()]
    session_row = conn.execute(
        sa.select(voice_sessions).where(voice_sessions.c.call_sid == sid)
    ).mappings().first()
    exchange = webhook_exchanges
    exchange_rows = _rows(conn, (
        sa.select(exchange)
        .where(exchange.c.call_sid.in_([sid, *(child["sid"] for child in children)]))
        .order_by(exchange.c.created_at, exchange.c.id).limit(TIMELINE_EXCHANGES + 1)
    ))
    detail = CallDetail(call, [], recording_rows, children,
                        _decode(session_row) if session_row is not None else None,
                        exchanges=exchange_rows[:TIMELINE_EXCHANGES],
                        more_exchanges=len(exchange_rows) > TIMELINE_EXCHANGES,
                        own_hosts=tuple(own_hosts))
    events: list[TimelineEvent] = []
    for source in TIMELINE_SOURCES:
        events.extend(source(conn, call, detail))
    events.sort(key=lambda event: event.at)
    detail.events = events
    return detail


def _first_request(conn: sa.Connection, call: dict[str, Any],
                   detail: CallDetail) -> Iterable[TimelineEvent]:
    """The call's first line: its first request's fields, and for an inbound call what its
    first webhook was answered."""
    direction = (call.get("direction") or "a").capitalize()
    title = Line.of("{} call from {} to {}", direction, call["from"] or "unknown",
                    call["to"] or "unknown")
    event = TimelineEvent(
        call["created_at"], "webhook", title,
        fields={k: v for k, v in (call.get("extra") or {}).items() if v not in (None, "")},
    )
    opening = _opening_exchange(call, detail)
    if opening is not None:
        _answered(event, opening, detail)
    yield event


def _opening_exchange(call: dict[str, Any], detail: CallDetail) -> dict[str, Any] | None:
    """The exchange of the webhook that made an inbound call's row (its ``/voice``), which
    the call's first line shows; None for any other call."""
    if call.get("direction") != "inbound" or not detail.exchanges:
        return None
    first = detail.exchanges[0]
    if first["kind"] != "voice" or first["sid"] != call["sid"]:
        return None
    if abs(first["created_at"] - call["created_at"]) > OPENING_WINDOW:
        return None
    return first


def _callback_sids(call: dict[str, Any], detail: CallDetail) -> list[str]:
    """The SIDs whose stored status callbacks the timeline lists: the call's, its
    recordings'."""
    return [call["sid"], *(r["sid"] for r in detail.recordings)]


def _callbacks(conn: sa.Connection, call: dict[str, Any],
               detail: CallDetail) -> Iterable[TimelineEvent]:
    sids = _callback_sids(call, detail)
    rows = conn.execute(
        sa.select(status_callbacks).where(status_callbacks.c.resource_sid.in_(sids))
        .order_by(status_callbacks.c.id)
    ).mappings()
    for row in rows:
        callback = _decode(row)
        params = callback.get("params") or {}
        sequence = callback["sequence_number"]
        title = Line(callback["kind"].capitalize()) + Line.of(" status: {}", callback["status"])
        if sequence is not None and sequence != NO_SEQUENCE:
            title += Line.of(" (#{})", sequence)
        shown = {name: params[name] for name in _STATUS_FIELDS if params.get(name)}
        yield TimelineEvent(callback["received_at"], "status", title, fields=shown,
                            answer="204: stored")


def _recordings(conn: sa.Connection, call: dict[str, Any],
                detail: CallDetail) -> Iterable[TimelineEvent]:
    for recording in detail.recordings:
        seconds = recording.get("duration")
        length = Line.of(", {} s", seconds) if seconds is not None else ""
        source = recording.get("source") or "Record"
        title = Line.of("Recording {} ({}", recording["sid"], source) + length + ")"
        yield TimelineEvent(recording["created_at"], "recording", title, recording=recording)


def _children(conn: sa.Connection, call: dict[str, Any],
              detail: CallDetail) -> Iterable[TimelineEvent]:
    for child in detail.children:
        title = Line.of("Dialled {}: {}", child["to"] or "unknown", child["status"] or "-")
        yield TimelineEvent(child["created_at"], "dial", title, link=child["sid"])


def _session(conn: sa.Connection, call: dict[str, Any],
             detail: CallDetail) -> Iterable[TimelineEvent]:
    if detail.session is not None:
        data = detail.session.get("data") or {}
        yield TimelineEvent(detail.session["updated_at"], "session",
                            "Session saved (the last save is kept)", fields=dict(data))


#: Fields of a webhook shown on its line, as (field, how).
_HIGHLIGHTS = (
    ("Digits", "Digits {}"), ("SpeechResult", 'said "{}"'), ("DialCallStatus", "Dial: {}"),
    ("RecordingDuration", "recorded {} s"), ("QueueResult", "queue: {}"),
)
_STATUS_TITLES = {"call_status": "Call", "message_status": "Message",
                  "recording_status": "Recording"}
_STATUS_FIELDS_OF = {"call_status": "CallStatus", "message_status": "MessageStatus",
                     "recording_status": "RecordingStatus"}
#: What a problem adds to "Switchboard answered 200 in 3.1 ms".
_PROBLEM_NOTES = {
    "timeout": "the safe answer: the handler ran out of time",
    "failed": "the safe answer: the handler failed",
    "apology": "the apology",
}


def _exchanges(conn: sa.Connection, call: dict[str, Any],
               detail: CallDetail) -> Iterable[TimelineEvent]:
    """Every webhook of the call and of its legs with what it was answered, but for those
    another line shows: the first webhook (on the call's first line) and the status
    callbacks stored (on their own lines, from ``status_callbacks``)."""
    opening = _opening_exchange(call, detail)
    stored = set(_callback_sids(call, detail))
    legs = {child["sid"]: child for child in detail.children}
    for row in detail.exchanges:
        if row is opening:
            continue
        if (row["kind"] in STATUS_KINDS and row["problem"] is None and not row["duplicate"]
                and row["sid"] in stored):
            continue
        fields = row.get("fields") or {}
        leg = legs.get(row["call_sid"])
        title = _exchange_title(row, fields)
        if leg is not None:
            title = Line.of("Leg to {}: {}", leg["to"] or "unknown", title)
        kind = "fallback" if row["kind"].endswith("_fallback") else (
            "status" if row["kind"] in STATUS_KINDS else "webhook")
        event = TimelineEvent(row["created_at"], kind, title, fields=dict(fields),
                              link=leg["sid"] if leg is not None else None)
        _answered(event, row, detail)
        yield event


def _exchange_title(row: dict[str, Any], fields: dict[str, Any]) -> Line:
    kind, path = row["kind"], row["path"]
    if kind in STATUS_KINDS:
        status = fields.get(_STATUS_FIELDS_OF[kind]) or fields.get("SmsStatus") or "-"
        title = Line(_STATUS_TITLES[kind]) + Line.of(" status: {}", status)
        if fields.get("SequenceNumber"):
            title += Line.of(" (#{})", fields["SequenceNumber"])
        return title + (", a repeat" if row["duplicate"] else "")
    if kind.endswith("_fallback"):
        title = Line.of("Fallback {}: Twilio's ErrorCode {}", path, fields.get("ErrorCode") or "-")
        return title + (Line.of(" at {}", fields["ErrorUrl"]) if fields.get("ErrorUrl") else "")
    title = Line.of("Webhook {}" if kind == "voice" else "Message webhook {}", path)
    shown = [Line.of(how, fields[name]) for name, how in _HIGHLIGHTS if fields.get(name)]
    return title + " · " + Line(", ").join(shown) if shown else title


def _answered(event: TimelineEvent, row: dict[str, Any], detail: CallDetail) -> None:
    """Give ``event`` what the exchange ``row`` was answered."""
    status, problem = row["status"], row["problem"]
    text = f"{status} in {row['duration_ms']:.1f} ms"
    if row["kind"] in STATUS_KINDS:
        if problem is None:
            text += ": a repeat, nothing stored" if row["duplicate"] else ": stored"
        elif status >= 500:
            text += ": not stored, for Twilio to send again"
    note = _PROBLEM_NOTES.get(problem or "")
    if note and row["kind"] not in STATUS_KINDS:
        text += f", {note}"
    if row["error"]:
        text += f" ({row['error']})"
    answer = row.get("answer")
    if row["answer_bytes"] > ANSWER_LIMIT:
        text += f"; the first {ANSWER_LIMIT} of its {row['answer_bytes']} bytes kept"
    event.answer = text
    event.problem = problem
    if answer:
        event.verbs = answers.verbs(answer, detail.own_hosts)
        event.twiml = answers.safe_text(answer)


TIMELINE_SOURCES: list[TimelineSource] = [
    _first_request, _callbacks, _exchanges, _recordings, _children, _session,
]


# -- overview ----------------------------------------------------------------------------------


@dataclass
class Overview:
    calls_today: int
    messages_today: int
    live_count: int
    unheard: int
    live: list[dict[str, Any]]
    recent_calls: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    voicemails: list[dict[str, Any]]


def overview(conn: sa.Connection, *, now: datetime, day_start: datetime,
             size: int = 10) -> Overview:
    """Today's counts (since ``day_start``), the live calls, the latest calls, failures and
    unheard voicemails."""
    live_where = (calls.c.status.in_(LIVE_STATUSES), calls.c.created_at >= now - LIVE_WINDOW)
    return Overview(
        calls_today=_count(conn, calls, calls.c.created_at >= day_start),
        messages_today=_count(conn, messages, messages.c.created_at >= day_start),
        live_count=_count(conn, calls, *live_where),
        unheard=unheard_count(conn),
        live=_rows(conn, sa.select(*_CALL_COLUMNS).where(*live_where)
                   .order_by(calls.c.created_at.desc()).limit(size)),
        recent_calls=_rows(conn, sa.select(*_CALL_COLUMNS)
                           .order_by(calls.c.created_at.desc(), calls.c.sid.desc())
                           .limit(size)),
        failures=failures(conn, size=size),
        voicemails=voicemails(conn, unheard_only=True, size=5).rows,
    )


def _count(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def _rows(conn: sa.Connection, stmt: sa.Select) -> list[dict[str, Any]]:
    return [_decode(row) for row in conn.execute(stmt).mappings()]


def failures(conn: sa.Connection, *, size: int = 10) -> list[dict[str, Any]]:
    """The latest things that went wrong, newest first, ``size`` at most: the status
    callbacks that tell of a failure (:func:`failed_statuses`) and the webhooks whose answer
    was a problem (:func:`problem_exchanges`), merged. Each row: ``source`` (``status`` or
    ``exchange``), ``kind`` (``call``, ``message``, ``recording``), ``status``, ``from``,
    ``to``, ``contact`` (a message's other party), ``error_code``, ``sip_code``, ``call_sid``,
    ``received_at``; an exchange's also ``path``, ``error``, ``problem``."""
    rows = failed_statuses(conn, size=size) + problem_exchanges(conn, size=size)
    rows.sort(key=lambda row: row["received_at"], reverse=True)
    return rows[:size]


def failed_statuses(conn: sa.Connection, *, size: int = 10) -> list[dict[str, Any]]:
    """The latest status callbacks that tell of a failure, newest first: one index walk of
    ``size`` rows per status (``status``, ``received_at``), merged."""
    stmt = _failures_statement(size)
    rows = _rows(conn, stmt)
    for row in rows:
        params = row.get("params") or {}
        row["source"] = "status"
        row["from"] = params.get("From")
        row["to"] = params.get("To")
        row["error_code"] = params.get("ErrorCode")
        row["sip_code"] = params.get("SipResponseCode")
        row["call_sid"] = row["resource_sid"] if row["kind"] == "call" else params.get("CallSid")
        row["contact"] = row["to"]  # a status callback's message is one sent
    return rows


#: The kind of resource a webhook of each kind is about.
_RESOURCE_OF = {"voice": "call", "voice_fallback": "call", "call_status": "call",
                "sms": "message", "sms_fallback": "message", "message_status": "message",
                "recording_status": "recording"}
#: How the overview names each problem.
_PROBLEM_LABELS = {"fallback": "fallback", "timeout": "handler timed out",
                   "failed": "handler failed", "apology": "apology"}


def problem_exchanges(conn: sa.Connection, *, size: int = 10) -> list[dict[str, Any]]:
    """The latest webhooks whose answer was a problem (a fallback, the safe answer after a
    failure or a timeout, the apology, a status of 400 or more), newest first: one walk of
    ``size`` entries of the partial index on the rows with a ``problem``. The numbers come
    from the calls and messages they are about."""
    rows = _rows(conn, _problems_statement(size))
    call_sids = {row["call_sid"] for row in rows if row["call_sid"]}
    message_sids = {row["resource_sid"] for row in rows
                    if _RESOURCE_OF.get(row["kind"]) == "message" and row["resource_sid"]}
    numbers = _numbers(conn, calls, call_sids) | _numbers(conn, messages, message_sids)
    for row in rows:
        fields = row.pop("fields") or {}
        kind = row["kind"]
        key = row["resource_sid"] if _RESOURCE_OF.get(kind) == "message" else row["call_sid"]
        from_, to = numbers.get(key, (None, None))
        problem = row["problem"]
        row.update(
            source="exchange", kind=_RESOURCE_OF.get(kind, "call"),
            status=_PROBLEM_LABELS.get(problem, f"answered {row['http_status']}"),
            error_code=fields.get("ErrorCode"), sip_code=None, **{"from": from_, "to": to},
            contact=to if kind == "message_status" else from_,
        )
    return rows


@functools.lru_cache(maxsize=8)
def _problems_statement(size: int) -> sa.Select:
    """Built once per size, as :func:`_failures_statement`."""
    table = webhook_exchanges
    return (
        sa.select(table.c.id, table.c.created_at.label("received_at"), table.c.kind,
                  table.c.path, table.c.sid.label("resource_sid"), table.c.call_sid,
                  table.c.status.label("http_status"), table.c.fields, table.c.error,
                  table.c.problem)
        .where(table.c.problem.is_not(None))
        .order_by(table.c.created_at.desc(), table.c.id.desc()).limit(size)
    )


def _numbers(conn: sa.Connection, table: sa.Table,
             sids: set[str]) -> dict[str, tuple[str | None, str | None]]:
    """The (from, to) of each call or message of ``sids`` (by primary key)."""
    if not sids:
        return {}
    stmt = sa.select(table.c.sid, table.c["from"], table.c["to"]).where(
        table.c.sid.in_(sorted(sids)))
    return {sid: (from_, to) for sid, from_, to in conn.execute(stmt)}


@functools.lru_cache(maxsize=8)
def _failures_statement(size: int) -> sa.Select:
    """Built once per size: making this statement costs ten times what running it does."""
    table = status_callbacks
    branches = [
        sa.select(table.c.id, table.c.resource_sid, table.c.kind, table.c.status,
                  table.c.params, table.c.received_at)
        .where(table.c.status == status)
        .order_by(table.c.received_at.desc()).limit(size).subquery()
        for status in FAILURE_STATUSES
    ]
    merged = sa.union_all(*(sa.select(branch) for branch in branches)).subquery()
    return sa.select(merged).order_by(merged.c.received_at.desc(), merged.c.id.desc()).limit(size)


# -- voicemails --------------------------------------------------------------------------------


def _voicemail_where() -> tuple[sa.ColumnElement[bool], ...]:
    return (
        sa.or_(recordings.c.source.in_(VOICEMAIL_SOURCES), recordings.c.source.is_(None)),
        sa.or_(recordings.c.status == "completed", recordings.c.status.is_(None)),
    )


def unheard_count(conn: sa.Connection) -> int:
    unheard = ~sa.exists().where(heard.c.recording_sid == recordings.c.sid)
    return _count(conn, recordings, *_voicemail_where(), unheard)


_call_executions = flow_executions.alias("call_executions")
#: The SID of the newest flow execution of a recording's call: a subquery built once, as
#: building it costs more than running it.
_NEWEST_CALL_EXECUTION = (
    sa.select(_call_executions.c.sid)
    .where(_call_executions.c.call_sid == recordings.c.call_sid)
    .order_by(_call_executions.c.date_created.desc(), _call_executions.c.sid.desc()).limit(1)
    .correlate(recordings).scalar_subquery()
)

_recording_callbacks = webhook_exchanges.alias("recording_callbacks")


def _names_flow(path: sa.ColumnElement[str], name: sa.ColumnElement[str]
                ) -> sa.ColumnElement[bool]:
    """Whether ``path`` is a route of the flow ``name`` (a prefix compared as it is, not a
    LIKE pattern: a flow's name may hold ``%`` or ``_``)."""
    prefix = sa.literal("/flows/") + name + sa.literal("/recording-status/")
    return sa.func.substr(path, 1, sa.func.length(prefix)) == prefix


#: The SID of the execution of the recording's call that ran the flow whose route the
#: recording's status callback came to (by the flow's name or SID, as the URL gives it; the
#: newest, should the call have run that flow twice).
_RECORDING_FLOW_EXECUTION = (
    sa.select(_call_executions.c.sid)
    .join(_recording_callbacks, _recording_callbacks.c.call_sid == _call_executions.c.call_sid)
    .where(_call_executions.c.call_sid == recordings.c.call_sid,
           _recording_callbacks.c.sid == recordings.c.sid,
           _recording_callbacks.c.kind == "recording_status",
           sa.or_(_names_flow(_recording_callbacks.c.path, _call_executions.c.flow_name),
                  _names_flow(_recording_callbacks.c.path, _call_executions.c.flow_sid)))
    .order_by(_call_executions.c.date_created.desc(), _call_executions.c.sid.desc()).limit(1)
    .correlate(recordings).scalar_subquery()
)

#: The execution a recording's flow is read from: the one that recorded it, else (a recording
#: stored otherwise, or whose exchanges are no longer kept:
#: ``SWITCHBOARD_EXCHANGES_RETENTION_DAYS``) the call's newest.
_RECORDING_EXECUTION = sa.func.coalesce(_RECORDING_FLOW_EXECUTION, _NEWEST_CALL_EXECUTION)


def _with_call_flow(select: sa.Select) -> sa.Select:
    """``select`` (of recordings) with the Studio flow that recorded it: the ``flow_name`` and
    ``execution_sid`` of the execution of the recording's call that ran the flow whose route
    (``/flows/NAME/recording-status/WIDGET``) the recording's status callback came to, as its
    webhook exchange tells; else (a recording stored otherwise) of the call's newest
    execution; NULL for a call that ran none. Correlated subqueries find that execution (by
    the indexes on ``webhook_exchanges (call_sid, ...)`` and ``studio_executions (call_sid,
    ...)``), an outer join by its SID reads it."""
    table = flow_executions
    return (select.add_columns(table.c.flow_name, table.c.sid.label("execution_sid"))
            .outerjoin_from(recordings, table, table.c.sid == _RECORDING_EXECUTION))


def voicemails(
    conn: sa.Connection, *, unheard_only: bool = False, before: Cursor | None = None,
    after: Cursor | None = None, size: int = 50,
) -> Page:
    """Voicemails newest first, with the caller (from their call), when they were heard and
    the Studio flow that recorded them (``flow_name``, ``execution_sid``: see
    :func:`_with_call_flow`; None for a call that ran no flow)."""
    stmt = _with_call_flow(
        sa.select(recordings.c.sid, recordings.c.call_sid, recordings.c.account_sid,
                  recordings.c.duration, recordings.c.status, recordings.c.created_at,
                  calls.c["from"].label("caller"), calls.c["to"].label("called"),
                  heard.c.heard_at)
        .select_from(recordings)
        .outerjoin(calls, calls.c.sid == recordings.c.call_sid)
        .outerjoin(heard, heard.c.recording_sid == recordings.c.sid)
    ).where(*_voicemail_where())
    if unheard_only:
        stmt = stmt.where(heard.c.recording_sid.is_(None))
    return _keyed_page(conn, [stmt], recordings, before=before, after=after, size=size)


def recording(conn: sa.Connection, sid: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(recordings, heard.c.heard_at)
        .outerjoin(heard, heard.c.recording_sid == recordings.c.sid)
        .where(recordings.c.sid == sid)
    ).mappings().first()
    return _decode(row) if row is not None else None


def set_heard(conn: sa.Connection, sid: str, is_heard: bool, now: datetime) -> None:
    """Mark the recording heard (once: the first time is kept) or unheard."""
    if not is_heard:
        conn.execute(sa.delete(heard).where(heard.c.recording_sid == sid))
        return
    conn.execute(insert_ignoring(conn, heard).values(recording_sid=sid, heard_at=now))


# -- conversations -----------------------------------------------------------------------------


def _contact() -> sa.ColumnElement[str]:
    """The other party of a message: its sender when it came in, else its recipient."""
    return sa.case((messages.c.direction == "inbound", messages.c["from"]),
                   else_=messages.c["to"])


#: Messages read at a time while conversations are gathered.
_SCAN = 200


def conversations(conn: sa.Connection, *, number: str | None = None,
                  before: Cursor | None = None, size: int = 50) -> Page:
    """Contacts by their latest message, newest first, ``size`` of them: each with that
    message (``latest``), how many messages (``count``) and the senders it opted out of
    (``opted_out``, ``*``: all). ``number``: only conversations with that number on either
    side (a contact, or one of ours).

    Messages are read newest first by the index on ``created_at`` (or on ``from`` and ``to``)
    until ``size`` contacts are found, so a page costs what its conversations hold, not the
    whole table. A page is keyed by the latest message of the last conversation before it
    (``before``): a contact with a message at or after that key was on an earlier page."""
    contact = _contact().label("contact")
    base = sa.select(*_MESSAGE_COLUMNS, contact)
    branches = ([base.where(messages.c["from"] == number), base.where(messages.c["to"] == number)]
                if number else [base])
    found: dict[str, dict[str, Any]] = {}
    earlier: set[str] = set()
    scan = before
    while len(found) <= size:
        batch = _keyed_page(conn, branches, messages, before=scan, after=None, size=_SCAN)
        for message in batch.rows:
            who = message.pop("contact")
            if who is None or who in found or who in earlier:
                continue
            if before is not None and _has_since(conn, who, before):
                earlier.add(who)
                continue
            found[who] = {"contact": who, "last_at": message["created_at"], "latest": message}
            if len(found) > size:
                break
        if batch.older is None:
            break
        scan = batch.older
    rows = list(found.values())
    page = Page(rows[:size])
    if len(rows) > size:
        last = page.rows[-1]["latest"]
        page.older = Cursor(last["created_at"], last["sid"])
    if page.rows:
        _attach_counts(conn, page.rows)
        _attach_opt_outs(conn, page.rows)
    return page


def _has_since(conn: sa.Connection, contact: str, cursor: Cursor) -> bool:
    """Whether ``contact`` has a message at or after ``cursor`` (two index probes)."""
    key = sa.tuple_(messages.c.created_at, messages.c.sid)
    at = sa.tuple_(_at(cursor.created_at), sa.literal(cursor.sid))
    for column in (messages.c["from"], messages.c["to"]):
        probe = sa.select(messages.c.sid).where(
            column == contact, messages.c.created_at >= _at(cursor.created_at), key >= at
        ).limit(1)
        if conn.execute(probe).first() is not None:
            return True
    return False


def _attach_counts(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Each conversation's number of messages: those from the contact and those to it."""
    contacts = [row["contact"] for row in rows]
    counts = dict.fromkeys(contacts, 0)
    for column in (messages.c["from"], messages.c["to"]):
        stmt = (sa.select(column, sa.func.count()).where(column.in_(contacts))
                .group_by(column))
        for who, count in conn.execute(stmt):
            counts[who] += count
    for row in rows:
        row["count"] = counts[row["contact"]]


def _attach_opt_outs(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    senders = opted_out(conn, [row["contact"] for row in rows])
    for row in rows:
        row["opted_out"] = senders.get(row["contact"], [])


def opted_out(conn: sa.Connection, numbers: Sequence[str]) -> dict[str, list[str]]:
    """For each number that opted out of anything: the senders (``*``: every sender)."""
    found: dict[str, list[str]] = {}
    rows = conn.execute(
        sa.select(opt_outs.c.number, opt_outs.c.sender)
        .where(opt_outs.c.number.in_(list(numbers))).order_by(opt_outs.c.sender)
    )
    for number, sender in rows:
        found.setdefault(number, []).append(sender)
    return found


def thread(conn: sa.Connection, contact: str, *, before: Cursor | None = None,
           after: Cursor | None = None, size: int = 50) -> Page:
    """The messages to and from ``contact``, newest first."""
    base = sa.select(*_MESSAGE_COLUMNS)
    branches = [base.where(messages.c["from"] == contact), base.where(messages.c["to"] == contact)]
    return _keyed_page(conn, branches, messages, before=before, after=after, size=size)


# -- flow executions ---------------------------------------------------------------------------

EXECUTION_STATUSES = (ACTIVE, ENDED)

_EXECUTION_COLUMNS = (
    flow_executions.c.sid, flow_executions.c.flow_sid, flow_executions.c.flow_name,
    flow_executions.c.contact_channel_address.label("contact"), flow_executions.c.channel,
    flow_executions.c.call_sid, flow_executions.c.status, flow_executions.c.step_count,
    flow_executions.c.date_created.label("created_at"), flow_executions.c.date_updated,
)


@dataclass(frozen=True)
class ExecutionFilters:
    """The executions page's filters: a flow's name, a contact, a status."""

    flow: str | None = None
    contact: str | None = None
    status: str | None = None

    def where(self, select: sa.Select) -> sa.Select:
        table = flow_executions
        if self.flow:
            select = select.where(table.c.flow_name == self.flow)
        if self.contact:
            select = select.where(table.c.contact_channel_address == self.contact)
        if self.status:
            select = select.where(table.c.status == self.status)
        return select


def list_executions(
    conn: sa.Connection, filters: ExecutionFilters, *, before: Cursor | None = None,
    after: Cursor | None = None, size: int = 50,
) -> Page:
    """Flow executions, newest first (by ``date_created``, then SID), filtered and paged."""
    base = filters.where(sa.select(*_EXECUTION_COLUMNS))
    return _keyed_page(conn, [base], flow_executions, before=before, after=after, size=size,
                       created=flow_executions.c.date_created)


def flow_names(conn: sa.Connection) -> list[str]:
    """The names of the flows that have executions, for the filter's choices."""
    column = flow_executions.c.flow_name
    return list(conn.execute(sa.select(column).distinct().order_by(column)).scalars())


@dataclass
class ExecutionDetail:
    execution: dict[str, Any]
    steps: list[dict[str, Any]]


def execution_detail(conn: sa.Connection, sid: str) -> ExecutionDetail | None:
    """An execution (``context`` decoded) and its steps in order (each ``context`` decoded)."""
    table = flow_executions
    row = conn.execute(
        sa.select(*(column for column in table.c
                    if column.name not in ("frames", "claim", "claimed_until")))
        .where(table.c.sid == sid)
    ).mappings().first()
    if row is None:
        return None
    execution = _json_field(dict(row), "context")
    step_rows = conn.execute(
        sa.select(flow_steps).where(flow_steps.c.execution_sid == sid)
        .order_by(flow_steps.c.seq, flow_steps.c.sid)
    ).mappings()
    return ExecutionDetail(execution, [_json_field(dict(step), "context") for step in step_rows])


def call_executions(conn: sa.Connection, call_sid: str) -> list[dict[str, Any]]:
    """The flow executions of a call, in the order they began."""
    return _rows(conn, sa.select(*_EXECUTION_COLUMNS)
                 .where(flow_executions.c.call_sid == call_sid)
                 .order_by(flow_executions.c.date_created, flow_executions.c.sid))


def _json_field(row: dict[str, Any], name: str) -> dict[str, Any]:
    value = row.get(name)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # else shown as stored
            row[name] = json.loads(value)
    return row
