"""Voicemail notices: a text, and an email when SMTP is configured, for each voicemail the
bundled IVR or a Studio flow's Record Voicemail records, sent once, never while Twilio waits
for an answer.

The recording status callback (``/voice/recording-status``, or a flow's
``/flows/NAME/recording-status/WIDGET``; ``RecordingStatus`` completed) hands the
recording to :func:`notify_voicemail`, which writes its row into ``voicemail_notices``
(whose key is the ``RecordingSid``), queued and claimed by no sender yet, hands it to a
thread of the process, and returns; Twilio is answered after that. The
row is one short insert under the handler's deadline, as the webhook's other writes: when
the database cannot take it, the callback is answered 503, as any status callback the store
could not write, so that Twilio, where it retries, sends it again (and the thread, handed the
notice all the same, claims it should the database come back within its claim's tries); a
retry finds the row there and adds none. The thread then, in order:

1. claims the row: an update that only succeeds on a row still queued (with no row, an insert
   that does nothing when one is there). Whatever Twilio retries, and whichever worker or
   host gets each retry, one claim succeeds; the others stop there;
2. finds the caller and the number called (the call's row in the store, which the voice
   webhooks wrote; else Twilio's Call resource);
3. texts each number of ``SWITCHBOARD_VOICEMAIL_NOTIFY`` (default: ``SWITCHBOARD_FORWARD_NUMBER``)
   from the number called, through :meth:`switchboard.api.TwilioClient.from_settings`: who
   called, how long the message is, and the console's link to it
   (``SWITCHBOARD_PUBLIC_URL/console/voicemails/<RecordingSid>``);
4. emails the same to ``SWITCHBOARD_VOICEMAIL_EMAIL`` when ``SWITCHBOARD_SMTP_URL`` is set
   (``smtp://user:password@host:587``, STARTTLS when the server offers it, or ``smtps://`` for
   TLS from the start), from ``SWITCHBOARD_SMTP_FROM``;
5. writes the outcome on the claimed row.

A send that fails for a reason that may pass (Twilio's 429 or 503, a connection never made, an
SMTP 4xx or a dropped SMTP connection) is tried again after 1, 4 and 15 seconds; one that may
have gone out (a read timeout after sending) is not, so that nobody gets the notice twice.
Failures are logged with the recording's SID and the error's kind and code, never a password.
A process that ends normally first finishes what is queued, for up to :data:`CLOSE_WAIT`
seconds. A notice its process never finished (killed or crashed) is taken over by the next
process of any host to serve a request, the row keeping what the notice needs: one claimed
and never finished, :data:`STALE_AFTER` seconds after its claim; one queued and never
claimed (its process ended between the answer and the claim, or its claim met the database
down), :data:`UNCLAIMED_AFTER` seconds after it was queued, so that the thread of the
process that queued it, which claims it within milliseconds, goes first.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import logging
import os
import queue
import smtplib
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Flask, current_app, request
from sqlalchemy.dialects import postgresql, sqlite

from switchboard.callbacks.store import schema
from switchboard.callbacks.store.engine import IMMEDIATE
from switchboard.callbacks.store.errors import StoreUnavailable
from switchboard.callbacks.store.params import to_int
from switchboard.callbacks.store.schema import UTCDateTime
from switchboard.config import ConfigError
from switchboard.config.notify import (
    SmtpServer,
)

if TYPE_CHECKING:
    from switchboard.api import TwilioClient
    from switchboard.callbacks.store import Store
    from switchboard.callbacks.twilio_request import StatusCallback
    from switchboard.config import Settings

__all__ = [
    "NOTICES_EXTENSION",
    "NoticeConfig",
    "SmtpServer",
    "Voicemail",
    "VoicemailNotices",
    "notify_voicemail",
    "register_notices",
    "voicemail_notices",
]

log = logging.getLogger("switchboard.callbacks")

NOTICES_EXTENSION = "switchboard.notices"
#: Where the console shows a voicemail: this, then the RecordingSid.
CONSOLE_PATH = "/console/voicemails/"
#: Seconds between the tries of a send that failed for a reason that may pass (3 retries).
SEND_BACKOFF = (1.0, 4.0, 15.0)
#: Seconds between the tries of a claim while the database is unavailable.
CLAIM_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: Seconds between the looks for the call's row (another worker writes it within
#: SWITCHBOARD_RECORD_DELAY), before asking Twilio.
LOOKUP_BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0)
#: Seconds an ending process spends finishing the notices it has queued.
CLOSE_WAIT = 10.0
#: Seconds after which a claimed notice that never finished is taken over by another process:
#: its claimer ended between the claim and the sends. Longer than any notice takes (four tries
#: of each send, the SMTP timeout).
STALE_AFTER = 300.0
#: Seconds after which a notice queued and never claimed is taken over by another process: its
#: process ended between the callback's answer and its thread's claim. The thread claims within
#: milliseconds, or within the :data:`CLAIM_BACKOFF` (about 50 s) while the database is down.
UNCLAIMED_AFTER = 60.0
#: ``claimed_by`` of a notice queued and claimed by no sender yet (the column, older than the
#: queued state, is NOT NULL in the tables of earlier versions).
UNCLAIMED = ""
#: Seconds an SMTP server has to connect and answer each command.
SMTP_TIMEOUT = 30.0
#: Twilio statuses after which a text was surely not sent, so it is tried again.
_RETRY_STATUSES = frozenset({429, 503})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

NOTIFY_VARIABLE = "SWITCHBOARD_VOICEMAIL_NOTIFY"
EMAIL_VARIABLE = "SWITCHBOARD_VOICEMAIL_EMAIL"
SMTP_URL_VARIABLE = "SWITCHBOARD_SMTP_URL"
SMTP_FROM_VARIABLE = "SWITCHBOARD_SMTP_FROM"


voicemail_notices = sa.Table(
    "voicemail_notices",
    schema.metadata,
    sa.Column("recording_sid", sa.String, primary_key=True),
    sa.Column("call_sid", sa.String),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("texts_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("emails_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failure", sa.String),
    sa.Column("duration", sa.Integer),
    sa.Column("link", sa.String),
)
"""One row per recording whose notice was queued (its key makes it exactly once): who claimed
it (``host:pid``; :data:`UNCLAIMED` while queued) and when (while queued: when it was queued),
when it finished, what went out, and the last failure (one line, no secret); the recording's
``duration`` and ``link``, for a process that takes over a notice never finished."""


@functools.cache
def _insert_new(dialect: str) -> sa.Insert:
    """The insert of a notice's row that does nothing when the recording has one already; it
    returns the key of the row it inserted (no row: nothing inserted)."""
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    table = voicemail_notices
    return (insert(table).on_conflict_do_nothing(index_elements=[table.c.recording_sid])
            .returning(table.c.recording_sid))


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeConfig:
    """Who hears of a voicemail: ``numbers`` by text; with ``smtp``, ``email_to`` by email
    from ``email_from``."""

    numbers: tuple[str, ...] = ()
    smtp: SmtpServer | None = None
    email_from: str | None = None
    email_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.smtp is not None and not self.email_from:
            raise ConfigError(f"{SMTP_FROM_VARIABLE}: required with {SMTP_URL_VARIABLE} (the "
                              "address the voicemail emails come from)")

    @property
    def emails(self) -> bool:
        return self.smtp is not None and bool(self.email_to)

    @property
    def enabled(self) -> bool:
        return bool(self.numbers) or self.emails

    @classmethod
    def from_settings(cls, settings: Settings) -> NoticeConfig:
        """The notices' settings: texts to ``voicemail_notify``
        (``SWITCHBOARD_VOICEMAIL_NOTIFY``), by default to the forward number; with
        ``smtp_url``, emails to ``voicemail_email``, by default to ``smtp_from``."""
        numbers = settings.voicemail_notify
        if numbers is None:
            numbers = (settings.forward_number,) if settings.forward_number else ()
        email_to = settings.voicemail_email
        if email_to is None:
            email_to = (settings.smtp_from,) if settings.smtp_from else ()
        return cls(numbers=numbers, smtp=settings.smtp_url, email_from=settings.smtp_from,
                   email_to=email_to)


# -- what is queued --------------------------------------------------------------------------


@dataclass(frozen=True)
class Voicemail:
    """A recording to announce. ``caller`` and ``called`` are looked up when not given."""

    recording_sid: str
    call_sid: str | None
    duration: int | None
    link: str
    caller: str | None = None
    called: str | None = None


def notify_voicemail(status: StatusCallback) -> None:
    """Queue the notice of a completed recording (the IVR's recording status callback): its
    row is written before the callback is answered (:meth:`VoicemailNotices.queue`), then
    this process's thread sends it. A no-op when notices are off or the recording is not
    complete.

    Raises :class:`~switchboard.callbacks.store.StoreUnavailable` when the row could not be
    written, so that the callback is answered 503 and Twilio, where it retries, sends it
    again; the thread is handed the notice all the same, and its claim waits out a short
    outage (Twilio does not send every callback again). Once the row is written, a notice
    that this process fails to hand to its thread is taken over later."""
    try:
        notices = current_app.extensions.get(NOTICES_EXTENSION)
        sid = status.recording_sid
        if notices is None or status.recording_status != "completed" or not sid:
            return
        base = status.settings.public_url or request.url_root
        voicemail = Voicemail(
            recording_sid=sid,
            call_sid=status.call_sid,
            duration=to_int(status.recording_duration),  # None when no column holds it
            link=base.rstrip("/") + CONSOLE_PATH + sid,
        )
    except Exception:
        log.exception("the notice of recording %s was not queued", status.recording_sid)
        return
    try:
        notices.queue(voicemail)
    finally:
        try:
            notices.submit(voicemail)
        except Exception:
            log.exception("the notice of recording %s was not handed to the notices' thread",
                          voicemail.recording_sid)


# -- the sender ------------------------------------------------------------------------------


class _Stop:
    """What :meth:`VoicemailNotices.close` queues: the thread ends."""


_STOP = _Stop()


def _claimer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _Retry(Exception):
    """A failure worth another try (the wrapped error says which)."""


class VoicemailNotices:
    """The queue and the thread of one app's notices (see the module docstring).

    ``client_factory()`` makes the REST client (default:
    ``TwilioClient.from_settings(settings=settings)``); ``send_email(server, message)`` sends
    one email (default: :func:`send_email`); the backoffs are the waits between tries;
    ``stale_after`` and ``unclaimed_after``, the seconds after which :meth:`recover` takes over
    a notice claimed and never finished, and one queued and never claimed.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        config: NoticeConfig,
        *,
        client_factory: Callable[[], TwilioClient] | None = None,
        email_sender: Callable[[SmtpServer, EmailMessage], None] | None = None,
        send_backoff: Sequence[float] = SEND_BACKOFF,
        claim_backoff: Sequence[float] = CLAIM_BACKOFF,
        lookup_backoff: Sequence[float] = LOOKUP_BACKOFF,
        stale_after: float = STALE_AFTER,
        unclaimed_after: float = UNCLAIMED_AFTER,
    ) -> None:
        self.store = store
        self.settings = settings
        self.config = config
        self._client_factory = client_factory or self._default_client
        self._send_email = email_sender or send_email
        self.send_backoff = tuple(send_backoff)
        self.claim_backoff = tuple(claim_backoff)
        self.lookup_backoff = tuple(lookup_backoff)
        self.stale_after = stale_after
        self.unclaimed_after = unclaimed_after
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))
        atexit.register(_close_at_exit, ref)

    def _reset(self) -> None:
        """Fresh state: at start and in a forked child (the parent sends its own)."""
        #: What happened since the start, by (channel, outcome): ("text", "sent"),
        #: ("email", "failed"), ("recording", "duplicate")... (read by the metrics).
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._queue: queue.SimpleQueue[Voicemail | _Stop | None] = queue.SimpleQueue()
        self._idle = threading.Condition(threading.Lock())
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._client: TwilioClient | None = None
        self._table_ready = False
        self._next_recovery = 0.0

    def recover_soon(self) -> None:
        """Queue the look for notices whose process ended before sending them (see
        :meth:`recover`): at the process's first request, then at most once every
        ``unclaimed_after`` or ``stale_after`` seconds, the shorter (a ``before_request``
        function of the app)."""
        now = time.monotonic()
        if now < self._next_recovery:
            return
        self._next_recovery = now + min(self.stale_after, self.unclaimed_after)
        self.submit(None)

    def queue(self, voicemail: Voicemail) -> bool:
        """Write ``voicemail``'s row, queued and claimed by no sender yet, unless the recording
        has one already (a retry of its callback): True if written. One short transaction of
        the store's, under the handler's deadline when called in one; raises
        :class:`~switchboard.callbacks.store.StoreUnavailable` when the database cannot take
        it. The notice is not lost from then on: :meth:`submit` has this process's thread send
        it, and :meth:`recover` another's should this process end first."""
        row = self._row(voicemail, UNCLAIMED)
        insert = _insert_new(self.store.dialect)
        self._ensure_table()
        return self.store.run(lambda conn: conn.execute(insert, row).first() is not None)

    def submit(self, voicemail: Voicemail | None) -> None:
        """Queue ``voicemail`` (None: :meth:`recover`); its notice goes out from this
        process's thread."""
        with self._idle:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="switchboard-notices", daemon=True
                )
                self._thread.start()
        self._queue.put(voicemail)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued notice is done with; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Finish the queued notices (for at most ``timeout`` seconds), stop the thread and
        close the REST client."""
        if not self.wait_idle(timeout):
            log.error("%d voicemail notices not sent: the process is ending", self._pending)
        with self._idle:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
        client, self._client = self._client, None
        close = getattr(client, "close", None)
        if close is not None:
            close()

    def _run(self) -> None:
        while True:
            voicemail = self._queue.get()
            if isinstance(voicemail, _Stop):
                return
            try:
                if voicemail is None:
                    self.recover()
                else:
                    self.process(voicemail)
            except Exception:
                log.exception("the notice of recording %s failed",
                              voicemail.recording_sid if voicemail else "(recovery)")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def process(self, voicemail: Voicemail) -> None:
        """Claim, look up, send and record one notice (in the notices' thread)."""
        sid = voicemail.recording_sid
        claimed = self._claim(voicemail)
        if claimed is None:
            self.counts["recording", "unclaimed"] += 1
            return
        if not claimed:
            self.counts["recording", "duplicate"] += 1
            log.debug("recording %s: its notice was claimed already", sid)
            return
        self._send(voicemail)

    def recover(self) -> int:
        """Send the notices claimed more than ``stale_after`` seconds ago and never finished
        (their process ended between the claim and the sends), and those queued more than
        ``unclaimed_after`` seconds ago and never claimed (their process ended between the
        callback's answer and the claim): each is taken over by one process, by an update
        that only succeeds on the row as it was read. Returns how many this process took."""
        table = voicemail_notices
        now = datetime.now(UTC)
        stale = now - timedelta(seconds=self.stale_after)
        unclaimed = now - timedelta(seconds=self.unclaimed_after)
        try:
            self._ensure_table()
            with self.store.engine.connect() as conn:
                left = conn.execute(
                    sa.select(table.c.recording_sid, table.c.call_sid, table.c.claimed_at,
                              table.c.claimed_by, table.c.duration, table.c.link)
                    .where(table.c.finished_at.is_(None), sa.or_(
                        sa.and_(table.c.claimed_by != UNCLAIMED, table.c.claimed_at < stale),
                        sa.and_(table.c.claimed_by == UNCLAIMED,
                                table.c.claimed_at < unclaimed),
                    ))
                    .limit(100)
                ).all()
        except (sa.exc.SQLAlchemyError, StoreUnavailable) as error:
            log.warning("unsent voicemail notices not looked for: %s", type(error).__name__)
            return 0
        taken = 0
        for row in left:
            if not self._take_over(row.recording_sid, row.claimed_at, row.claimed_by):
                continue
            taken += 1
            self.counts["recording", "recovered"] += 1
            if row.claimed_by == UNCLAIMED:
                log.warning("recording %s: its notice was queued at %s and never claimed: "
                            "sending it now", row.recording_sid, row.claimed_at.isoformat())
            else:
                log.warning("recording %s: its notice was claimed at %s and never finished: "
                            "sending it now", row.recording_sid, row.claimed_at.isoformat())
            self._send(Voicemail(
                recording_sid=row.recording_sid, call_sid=row.call_sid, duration=row.duration,
                link=row.link or self._link(row.recording_sid),
            ))
        return taken

    def _take_over(self, sid: str, claimed_at: datetime, claimed_by: str) -> bool:
        table = voicemail_notices
        try:
            with self._transaction() as conn:
                done = conn.execute(
                    sa.update(table)
                    .where(table.c.recording_sid == sid, table.c.finished_at.is_(None),
                           table.c.claimed_at == claimed_at, table.c.claimed_by == claimed_by)
                    .values(claimed_at=datetime.now(UTC), claimed_by=_claimer())
                )
        except (sa.exc.SQLAlchemyError, StoreUnavailable) as error:
            log.warning("recording %s: its unsent notice was not taken over: %s", sid,
                        type(error).__name__)
            return False
        return done.rowcount == 1

    def _link(self, sid: str) -> str:
        return (self.settings.public_url or "").rstrip("/") + CONSOLE_PATH + sid

    def _send(self, voicemail: Voicemail) -> None:
        sid = voicemail.recording_sid
        caller, called = self._numbers(voicemail)
        failures: list[str] = []
        texts = self._send_texts(voicemail, caller, called, failures)
        emails = self._send_emails(voicemail, caller, called, failures)
        self._finish(sid, texts, emails, "; ".join(failures) or None)

    # -- the database ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        with self.store.engine.connect() as conn:
            if self.store.dialect == "sqlite":
                conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                yield conn

    def _ensure_table(self) -> None:
        """Create the table, or add the columns a table made by an earlier version lacks (in
        one transaction of the store's: under a handler's deadline, bounded by it)."""
        if self._table_ready:
            return
        name = voicemail_notices.name

        def work(conn: sa.Connection) -> None:
            voicemail_notices.create(conn, checkfirst=True)
            present = {column["name"] for column in sa.inspect(conn).get_columns(name)}
            for column in voicemail_notices.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {column.name} {kind}")

        self.store.run(work)
        self._table_ready = True

    @staticmethod
    def _row(voicemail: Voicemail, claimed_by: str) -> dict[str, Any]:
        return {
            "recording_sid": voicemail.recording_sid,
            "call_sid": voicemail.call_sid,
            "claimed_at": datetime.now(UTC),
            "claimed_by": claimed_by,
            "texts_sent": 0,
            "emails_sent": 0,
            "duration": voicemail.duration,
            "link": voicemail.link,
        }

    def _claim(self, voicemail: Voicemail) -> bool | None:
        """True: ours to send; False: claimed before (a retry, another worker or host); None:
        the database stayed unavailable (the row, if queued, is left to :meth:`recover`).

        The queued row is claimed by an update that only succeeds while it is queued; a
        recording with no row (submitted without :meth:`queue`) by an insert that does
        nothing when the row is there."""
        table = voicemail_notices
        row = self._row(voicemail, _claimer())
        claim = (
            sa.update(table)
            .where(table.c.recording_sid == voicemail.recording_sid,
                   table.c.claimed_by == UNCLAIMED, table.c.finished_at.is_(None))
            .values(claimed_at=row["claimed_at"], claimed_by=row["claimed_by"])
        )
        waits = iter(self.claim_backoff)
        while True:
            try:
                self._ensure_table()
                with self._transaction() as conn:
                    if conn.execute(claim).rowcount == 1:
                        return True
                    inserted = conn.execute(_insert_new(self.store.dialect), row).first()
                    return inserted is not None
            except (sa.exc.SQLAlchemyError, StoreUnavailable) as error:
                wait = next(waits, None)
                if wait is None:
                    log.error("the notice of recording %s was not sent: the database is "
                              "unavailable (%s)", voicemail.recording_sid, type(error).__name__)
                    return None
                log.warning("the notice of recording %s waits for the database (%s): trying "
                            "again in %g s", voicemail.recording_sid, type(error).__name__, wait)
                time.sleep(wait)

    def _finish(self, sid: str, texts: int, emails: int, failure: str | None) -> None:
        try:
            with self._transaction() as conn:
                conn.execute(
                    sa.update(voicemail_notices)
                    .where(voicemail_notices.c.recording_sid == sid)
                    .values(finished_at=datetime.now(UTC), texts_sent=texts,
                            emails_sent=emails, failure=failure[:500] if failure else None)
                )
        except (sa.exc.SQLAlchemyError, StoreUnavailable) as error:
            log.warning("the outcome of the notice of recording %s was not stored: %s", sid,
                        type(error).__name__)

    def _numbers(self, voicemail: Voicemail) -> tuple[str | None, str | None]:
        """(caller, number called): given, else the call's row, else Twilio's Call."""
        if voicemail.called or not voicemail.call_sid:
            return voicemail.caller, voicemail.called
        call_sid = voicemail.call_sid
        for wait in (*self.lookup_backoff, None):
            try:
                call = self.store.get_call(call_sid)
            except Exception as error:  # the database down: Twilio knows the call too
                log.debug("recording %s: call %s not read: %s", voicemail.recording_sid,
                          call_sid, type(error).__name__)
                call = None
            if call and call.get("to"):
                return call.get("from"), call["to"]
            if wait is not None:
                time.sleep(wait)
        try:
            resource = self._twilio().calls.get(call_sid)
        except Exception as error:
            log.warning("recording %s: call %s is in neither the store nor Twilio (%s)",
                        voicemail.recording_sid, call_sid, _described(error))
            return None, None
        return resource.get("from"), resource.get("to")

    # -- texts -------------------------------------------------------------------------------

    def _default_client(self) -> TwilioClient:
        from switchboard.api import TwilioClient

        return TwilioClient.from_settings(settings=self.settings)

    def _twilio(self) -> TwilioClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _send_texts(self, voicemail: Voicemail, caller: str | None, called: str | None,
                    failures: list[str]) -> int:
        numbers = self.config.numbers
        if not numbers:
            return 0
        if not called:
            log.error("recording %s: no text sent, the number called is unknown (it is the "
                      "sender)", voicemail.recording_sid)
            self.counts["text", "failed"] += len(numbers)
            failures.append("texts: the number called is unknown")
            return 0
        body = text_body(voicemail, caller)
        sent = 0
        for number in numbers:
            if number == called:
                continue  # never to itself
            error = self._tries(
                f"the text of recording {voicemail.recording_sid} to {number}",
                lambda number=number: self._text(number, called, body),
            )
            if error is None:
                sent += 1
                self.counts["text", "sent"] += 1
            else:
                self.counts["text", "failed"] += 1
                failures.append(f"text to {number}: {_described(error)}")
        return sent

    def _text(self, to: str, from_: str, body: str) -> None:
        from switchboard.api import TwilioConnectionError, TwilioHTTPError, TwilioTimeout

        try:
            self._twilio().messages.create(to, from_=from_, body=body)
        except TwilioHTTPError as error:
            if error.status in _RETRY_STATUSES:
                raise _Retry() from error
            raise
        except TwilioTimeout as error:
            if error.phase == "connect":
                raise _Retry() from error
            raise
        except TwilioConnectionError as error:
            if not error.connected:
                raise _Retry() from error
            raise

    # -- emails ------------------------------------------------------------------------------

    def _send_emails(self, voicemail: Voicemail, caller: str | None, called: str | None,
                     failures: list[str]) -> int:
        config = self.config
        if not config.emails or config.smtp is None or config.email_from is None:
            return 0
        message = email_message(voicemail, caller, called, config.email_from, config.email_to)
        server = config.smtp
        error = self._tries(
            f"the email of recording {voicemail.recording_sid} through {server.shown}",
            lambda: self._email(server, message),
        )
        if error is None:
            self.counts["email", "sent"] += 1
            return 1
        self.counts["email", "failed"] += 1
        failures.append(f"email: {_described(error)}")
        return 0

    def _email(self, server: SmtpServer, message: EmailMessage) -> None:
        try:
            self._send_email(server, message)
        except (ssl.SSLError, smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError,
                SmtpRefused):
            raise
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise _Retry() from error
            raise
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                raise _Retry() from error
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise _Retry() from error

    # -- tries -------------------------------------------------------------------------------

    def _tries(self, what: str, send: Callable[[], None]) -> BaseException | None:
        """``send()`` until it succeeds, fails for good, or the tries run out; the error that
        ended it (None: sent). Each failure is logged, described without secrets."""
        waits = iter(self.send_backoff)
        while True:
            try:
                send()
                return None
            except _Retry as retry:
                error: BaseException = retry.__cause__ or retry
                wait = next(waits, None)
                if wait is None:
                    log.error("%s was not sent after %d tries: %s", what,
                              len(self.send_backoff) + 1, _described(error))
                    return error
                log.warning("%s failed (%s): trying again in %g s", what, _described(error),
                            wait)
                time.sleep(wait)
            except Exception as error:
                log.error("%s was not sent: %s", what, _described(error))
                return error


class SmtpRefused(Exception):
    """Switchboard will not send this email as configured (the message says why)."""


def text_body(voicemail: Voicemail, caller: str | None) -> str:
    """The text: who called, how long, and the console's link."""
    length = f"{voicemail.duration} s" if voicemail.duration is not None else "length unknown"
    return f"New voicemail from {_plain(caller) or 'an unknown caller'} ({length}): " + (
        voicemail.link
    )


def email_message(voicemail: Voicemail, caller: str | None, called: str | None,
                  sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The email: the text's facts, in a subject and a few lines."""
    who = _plain(caller) or "an unknown caller"
    length = (f"{voicemail.duration} seconds" if voicemail.duration is not None
              else "an unknown length")
    message = EmailMessage()
    message["Subject"] = f"Voicemail from {who}" + (
        f" ({voicemail.duration} s)" if voicemail.duration is not None else ""
    )
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid("voicemail", domain=sender.rpartition("@")[2])
    message.set_content(
        f"{who} left a voicemail of {length}"
        + (f" for {_plain(called)}" if called else "") + ".\n\n"
        f"Listen to it in the console: {voicemail.link}\n\n"
        f"Recording {voicemail.recording_sid}"
        + (f", call {voicemail.call_sid}" if voicemail.call_sid else "") + ".\n"
    )
    return message


def send_email(server: SmtpServer, message: EmailMessage, *,
               timeout: float = SMTP_TIMEOUT) -> None:
    """Send ``message`` through ``server`` with :mod:`smtplib`: TLS from the start
    (``smtps``), or STARTTLS when the server offers it; a password is only ever sent over TLS
    or to the loopback (:class:`SmtpRefused` otherwise)."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.tls == "ssl":
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if server.tls == "starttls":
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif server.username and server.host not in _LOOPBACK:
                raise SmtpRefused(
                    f"{server.host} offers no STARTTLS: the password is not sent in clear "
                    "(use smtps://, or a server that offers STARTTLS)"
                )
        if server.username:
            password = server.password.reveal() if server.password is not None else ""
            smtp.login(server.username, password)
        smtp.send_message(message)


def _described(error: BaseException) -> str:
    """An error for a log line: its kind and code, never a password or a server's reply."""
    name = type(error).__name__
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{name} {error.smtp_code}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        return f"{name} {', '.join(map(str, codes))}"
    if isinstance(error, SmtpRefused):
        return str(error)
    status = getattr(error, "status", None)
    code = getattr(error, "code", None)
    if isinstance(status, int):
        return f"{name} {status}" + (f" (Twilio error {code})" if isinstance(code, int) else "")
    if isinstance(error, OSError) and error.strerror:
        return f"{name}: {error.strerror}"
    module = type(error).__module__
    if module.startswith("switchboard.") and not isinstance(error, ConfigError):
        return f"{name}: {error}"  # the client's errors carry no secret
    return name


def _plain(value: str | None) -> str:
    """A number (or a SIP or client name) as text: printable, one line, at most 64 characters."""
    if not value:
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:64]


def _reset_in_child(ref: weakref.ref[VoicemailNotices]) -> None:
    notices = ref()
    if notices is not None:
        notices._reset()


def _close_at_exit(ref: weakref.ref[VoicemailNotices]) -> None:
    notices = ref()
    if notices is not None and notices._thread is not None:
        notices.close()


def register_notices(
    app: Flask, config: NoticeConfig | None = None, **options: Any
) -> VoicemailNotices | None:
    """Send voicemail notices for ``app``'s IVR, when anyone is to get them.

    ``config`` defaults to :meth:`NoticeConfig.from_settings` with the app's settings;
    ``options`` go to :class:`VoicemailNotices`. Texts need ``TWILIO_ACCOUNT_SID``: without
    it, notices that only have the default recipient (the forward number) are left off with a
    warning, and an explicit ``SWITCHBOARD_VOICEMAIL_NOTIFY`` is a :class:`ConfigError`.
    The ``voicemail_notices`` table is created with the store's others (it is on their
    metadata), or on the first notice. Registering twice is harmless.
    """
    existing = app.extensions.get(NOTICES_EXTENSION)
    if existing is not None:
        return existing
    switchboard = app.extensions["switchboard"]
    settings = switchboard.settings
    explicit = config is not None or bool(settings.voicemail_notify)
    if config is None:
        config = NoticeConfig.from_settings(settings)
    if config.numbers and not settings.account_sid:
        if explicit:
            raise ConfigError(f"{NOTIFY_VARIABLE}: texts need TWILIO_ACCOUNT_SID (and the auth "
                              "token) to send them")
        log.warning("voicemail notices by text are off: they need TWILIO_ACCOUNT_SID (set "
                    "%s=off to silence this)", NOTIFY_VARIABLE)
        config = NoticeConfig(numbers=(), smtp=config.smtp, email_from=config.email_from,
                              email_to=config.email_to)
    if not config.enabled:
        return None
    notices = VoicemailNotices(switchboard.store, settings, config, **options)
    app.extensions[NOTICES_EXTENSION] = notices
    app.before_request(notices.recover_soon)
    return notices
