"""What each webhook was answered: the ``webhook_exchanges`` table.

Every request to a webhook route (:func:`~switchboard.callbacks.handlers.make_view`: the
bundled flows, ``TwilioBlueprint`` routes, the Studio flows under ``/flows/``) that passed the
signature check leaves one row: when it came, its kind and path, the SIDs it is about, the
few fields that explain the step, the HTTP status and the start of the body answered, whether
that was the safe answer and why, and how long the answer took. A request refused for its
signature leaves none: it is not Twilio's, and anyone could fill the table with them.

The row is built in a few microseconds (nothing is parsed: the console reads the TwiML when it
shows it) and handed to the store's write-behind (``Store.defer``), which writes it just after
the answer; a failure to hand it over is logged and changes nothing in the answer. It is handed
over as expendable: while the database cannot take rows and the write-behind is full, the
exchanges are dropped before any call, message or step. Rows older than
``SWITCHBOARD_EXCHANGES_RETENTION_DAYS`` are deleted now and then, in bounded batches, by a
thread of each process (:class:`Purger`).

The table joins the store's schema (:data:`switchboard.callbacks.store.schema.metadata`), so
``Store.create_all()`` makes it once this module is imported.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response
from sqlalchemy.engine import Dialect

from switchboard.callbacks.deadline import HandlerTimeout
from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.now_and_then import NowAndThen
from switchboard.callbacks.store.schema import UTCDateTime, metadata
from switchboard.config.validation import redact_url

log = logging.getLogger("switchboard.callbacks")

__all__ = [
    "ANSWER_LIMIT",
    "PROBLEMS",
    "Purger",
    "exchange_row",
    "exchanges",
    "purge_exchanges",
    "record_exchange",
]

ANSWER_LIMIT = 4096
"""Bytes of an answer's body kept (``answer``); ``answer_bytes`` is its whole size."""

#: ``problem``: why an exchange is one of the overview's "fallbacks and errors".
PROBLEMS = {
    "fallback": "Twilio called a fallback URL: the main URL's answer failed",
    "timeout": "the handler ran out of time: the safe answer went out",
    "failed": "the handler (or the store under it) failed: the safe answer went out",
    "apology": "the handler answered the apology itself",
    "http_error": "answered 400 or more",
}

PURGE_EVERY = 600.0
"""Seconds between two purges of old exchanges in a process."""
PURGE_BATCH = 500
"""Rows one purge transaction deletes at most."""
PURGE_PAUSE = 0.05
"""Seconds a purge waits between two full batches, leaving the writer to the webhooks."""
PURGE_ROUND = 100
"""Batches one purge round deletes at most; the next round goes on."""

#: Digits a ``<Gather>`` got are kept up to this many keys (a menu choice, an extension);
#: a longer entry (a PIN, an account or card number) is kept as one ``*`` per key.
DIGITS_KEPT = 3
#: Characters of a ``SpeechResult`` kept.
SPEECH_KEPT = 200
#: A run of five digits or more in a ``SpeechResult`` (a spoken number) is masked.
_SPOKEN_NUMBER = re.compile(r"\d(?:[\d ,.\-]*\d){4,}")
_DIGIT = re.compile(r"\d")


class JSONText(sa.TypeDecorator[dict[str, str]]):
    """A dict of strings stored as JSON text, encoded by the writer (not the request)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, str] | None:
        if value is None:
            return None
        try:
            decoded = json.loads(value)
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid itself

exchanges = sa.Table(
    "webhook_exchanges",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),  # when the request reached the app
    sa.Column("kind", sa.String(20), nullable=False),  # voice, sms, voice_fallback, ...
    sa.Column("endpoint", sa.String),  # the Flask endpoint: ivr.menu, studio.step
    sa.Column("path", sa.String, nullable=False),  # without the query string
    sa.Column("sid", sa.String),  # CallSid, MessageSid or RecordingSid, as the kind has it
    sa.Column("call_sid", sa.String),  # the call it is about (a recording's call too)
    sa.Column("parent_call_sid", sa.String),  # ParentCallSid: the call a dialled leg is of
    sa.Column("status", sa.Integer, nullable=False),  # the HTTP status answered
    sa.Column("answer", sa.Text),  # the body's first ANSWER_LIMIT bytes (None: empty)
    sa.Column("answer_bytes", sa.Integer, nullable=False),
    sa.Column("fields", JSONText),  # the request fields that explain the step
    sa.Column("duplicate", sa.Boolean),  # a status callback stored before (None: not one)
    sa.Column("error", sa.String),  # the class of the error the safe answer was for
    sa.Column("problem", sa.String(20)),  # a key of PROBLEMS, None when all went well
    sa.Column("duration_ms", sa.Float, nullable=False),
    # a call's timeline (its exchanges, its legs' and its recordings' by their call)
    sa.Index("ix_webhook_exchanges_call_sid_created_at", "call_sid", "created_at"),
    # the retention purge, oldest first
    sa.Index("ix_webhook_exchanges_created_at", "created_at"),
    # the overview's latest problems: the few rows with one, newest first
    sa.Index(
        "ix_webhook_exchanges_problems", "created_at", "id",
        sqlite_where=sa.text("problem IS NOT NULL"),
        postgresql_where=sa.text("problem IS NOT NULL"),
    ),
)

TABLES = (exchanges,)

# -- what each kind keeps of its request ---------------------------------------------------

_CALL_FIELDS = (
    "CallStatus", "Digits", "FinishedOnKey", "SpeechResult", "Confidence", "DialCallStatus",
    "DialCallSid", "DialCallDuration", "RecordingSid", "RecordingDuration", "AnsweredBy",
    "QueueResult", "ErrorCode",
)
_MESSAGE_FIELDS = ("SmsStatus", "NumMedia", "OptOutType", "ErrorCode")
_FIELDS: dict[str, tuple[str, ...]] = {
    "voice": _CALL_FIELDS,
    "voice_fallback": (*_CALL_FIELDS, "ErrorUrl"),
    "sms": _MESSAGE_FIELDS,
    "sms_fallback": (*_MESSAGE_FIELDS, "ErrorUrl"),
    "call_status": ("CallStatus", "SequenceNumber", "CallDuration", "CallbackSource",
                    "SipResponseCode", "AnsweredBy", "ErrorCode"),
    "message_status": ("MessageStatus", "SmsStatus", "ErrorCode"),
    "recording_status": ("RecordingStatus", "RecordingDuration", "RecordingSource",
                         "ErrorCode"),
}
#: The field naming a kind's resource, in order of preference.
_SID_FIELDS: dict[str, tuple[str, ...]] = {
    "voice": ("CallSid",),
    "voice_fallback": ("CallSid",),
    "sms": ("MessageSid", "SmsMessageSid", "SmsSid"),
    "sms_fallback": ("MessageSid", "SmsMessageSid", "SmsSid"),
    "call_status": ("CallSid",),
    "message_status": ("MessageSid", "SmsSid"),
    "recording_status": ("RecordingSid",),
}
_KEPT = {kind: frozenset(names) for kind, names in _FIELDS.items()}
_VOICE_KINDS = frozenset({"voice", "voice_fallback"})
_APOLOGY = VOICE_APOLOGY.encode()


def _first(params: Mapping[str, Any], name: str) -> str | None:
    """A field's first value, from a werkzeug MultiDict (a dict of lists) or a plain mapping,
    without MultiDict's per-call overhead."""
    value = dict.get(params, name) if isinstance(params, dict) else params.get(name)
    if value.__class__ is list:
        return value[0] if value else None
    return value


def _kept(kind: str, params: Mapping[str, Any]) -> dict[str, str] | None:
    """The fields of ``kind`` that explain the step, the sensitive ones masked: one pass over
    the request's fields (a MultiDict's lists read in place)."""
    keep = _KEPT.get(kind)
    if not keep:
        return None
    kept: dict[str, str] = {}
    for name, value in dict.items(params) if isinstance(params, dict) else params.items():
        if name in keep:
            if value.__class__ is list:
                value = value[0] if value else None
            if value:
                kept[name] = value
    if not kept:
        return None
    digits = kept.get("Digits")
    if digits is not None and len(digits) > DIGITS_KEPT:
        kept["Digits"] = "*" * min(len(digits), 64)
    speech = kept.get("SpeechResult")
    if speech is not None:
        kept["SpeechResult"] = _SPOKEN_NUMBER.sub(_masked, speech[:SPEECH_KEPT])
    error_url = kept.get("ErrorUrl")
    if error_url is not None:
        kept["ErrorUrl"] = shown_url(error_url)
    return kept


def _masked(match: re.Match[str]) -> str:
    return _DIGIT.sub("*", match.group())


def shown_url(url: str) -> str:
    """A URL as the log and the console may show it: without the password of a
    ``user:password@`` part or the query string, which may carry what the URL's owner put
    there (``?…`` marks one)."""
    shown = redact_url(url)
    base, query, _ = shown.partition("?")
    return f"{base}?…" if query else base


def exchange_row(
    kind: str,
    params: Mapping[str, Any],
    response: Response,
    *,
    arrived: float,
    started: float,
    endpoint: str | None,
    path: str,
    error: BaseException | None = None,
    safe: bool = False,
    duplicate: bool | None = None,
) -> dict[str, Any]:
    """The row of one exchange: the request's ``params`` of a route of ``kind``, answered
    with ``response``. ``arrived``: its ``time.time()``; ``started``: its
    ``time.perf_counter()``; ``error``: what went wrong, and ``safe`` whether the answer was
    the error policy's safe answer for it (rather than a refusal of the request)."""
    duration = time.perf_counter() - started
    status = response.status_code
    body = response.get_data() if response.is_sequence else b""
    sid = None
    for name in _SID_FIELDS.get(kind, ()):
        sid = _first(params, name)
        if sid:
            break
    if kind.endswith("_fallback"):
        problem: str | None = "fallback"
    elif safe and error is not None:
        problem = "timeout" if isinstance(error, HandlerTimeout) else "failed"
    elif status >= 400:
        problem = "http_error"
    elif kind in _VOICE_KINDS and _APOLOGY in body:
        problem = "apology"
    else:
        problem = None
    return {
        "created_at": datetime.fromtimestamp(arrived, UTC),
        "kind": kind,
        "endpoint": endpoint,
        "path": path[:500],
        "sid": sid,
        "call_sid": _first(params, "CallSid"),
        "parent_call_sid": _first(params, "ParentCallSid"),
        "status": status,
        "answer": body[:ANSWER_LIMIT].decode("utf-8", "replace") if body else None,
        "answer_bytes": len(body),
        "fields": _kept(kind, params),
        "duplicate": duplicate,
        "error": type(error).__name__ if error is not None else None,
        "problem": problem,
        "duration_ms": round(duration * 1000, 3),
    }


def record_exchange(store: Any, row: Mapping[str, Any], purger: Purger | None = None) -> None:
    """Hand ``row`` to ``store`` to be written after the answer, and start a purge of old rows
    now and then (``purger``). Never raises: a failure is logged, and the answer stays as it
    is.

    A store that does not defer (``record_delay`` of 0) writes the row at once, as it writes
    every webhook's rows then; while its circuit breaker is open (the database failed a
    webhook a moment ago) the row is not written rather than waited for."""
    try:
        if not store.defers:
            breaker = store.breaker
            if breaker is not None and breaker.open is not None:
                log.debug("exchange of %s not recorded: the database is unavailable",
                          row.get("path"))
                return
        store.defer(exchanges, row, label=row.get("sid") or row.get("path") or "-",
                    expendable=True)
    except Exception as error:
        log.warning("exchange of %s %s not recorded: %s", row.get("path"),
                    row.get("sid") or "-", type(error).__name__)
    if purger is not None:
        purger(store)


# -- retention -----------------------------------------------------------------------------


def purge_exchanges(
    store: Any, older_than: timedelta, *, now: datetime | None = None,
    batches: int | None = None, pause: float = 0.0,
) -> int:
    """Delete the exchanges older than ``older_than``, :data:`PURGE_BATCH` rows per
    transaction of the ``store``'s (``batches`` of them at most; None: until none is left),
    ``pause`` seconds apart; how many. On PostgreSQL the rows another transaction holds are
    skipped, so that several processes purging at once share the work."""
    cutoff = (now or datetime.now(UTC)) - older_than
    table = exchanges
    oldest = (
        sa.select(table.c.id).where(table.c.created_at < cutoff)
        .order_by(table.c.created_at).limit(PURGE_BATCH)
    )
    if store.dialect == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    delete = sa.delete(table).where(table.c.id.in_(oldest.scalar_subquery()))
    deleted, done = 0, 0
    while batches is None or done < batches:
        count = store.run(lambda conn: conn.execute(delete).rowcount)
        deleted += count
        done += 1
        if count < PURGE_BATCH:
            break
        if pause:
            time.sleep(pause)
    return deleted


class Purger(NowAndThen):
    """Deletes the exchanges older than ``retention`` now and then (every
    :data:`PURGE_EVERY` seconds at most), in a thread of its own, one round at a time in a
    process."""

    what = "webhook exchanges"
    thread_name = "switchboard-exchanges-purge"

    def __init__(self, retention: timedelta, every: float = PURGE_EVERY) -> None:
        super().__init__(every)
        self.retention = retention

    def work(self, store: Any, *arguments: Any) -> None:
        count = purge_exchanges(store, self.retention, batches=PURGE_ROUND, pause=PURGE_PAUSE)
        if count:
            log.info("%d webhook exchanges older than %s deleted", count, self.retention)
