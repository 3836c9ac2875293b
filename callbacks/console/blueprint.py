"""The console's blueprint, its state in the app, and what every page shares: the navigation,
the helpers its templates use, the headers and the error pages.

Its error handlers are the blueprint's own: they answer errors raised in console views and
nothing else, so the TwiML answers of the Twilio routes (``callbacks/errors.py``) stay as they
are, and those never reach a console page (``/console`` is not a Twilio path).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from switchboard.callbacks.console.lines import Line, Value, isolated_text, plain
from switchboard.callbacks.console.options import ConsoleOptions
from switchboard.callbacks.logs import hidden_in_logs, hide_in_logs
from switchboard.callbacks.secrets import (
    hide_credentials,
    hide_values,
    longest_first,
    secret_values,
)
from switchboard.callbacks.store import StoreUnavailable
from switchboard.callbacks.store.engine import BUSY_MS, IMMEDIATE
from switchboard.callbacks.text import shortened
from switchboard.config.secret import MASK

if TYPE_CHECKING:
    from switchboard.callbacks.app import Switchboard

log = logging.getLogger("switchboard.callbacks")

EXTENSION = "switchboard_console"
PAGE_SIZE = 50
#: Seconds a console query may wait for a lock or run (the pages are not on Twilio's clock).
DATABASE_WAIT = 5.0
#: Seconds a page waits for this process's webhook rows to be written before it reads.
FLUSH_WAIT = 1.0

bp = Blueprint(
    "console", __name__, url_prefix="/console",
    template_folder="templates", static_folder="static", static_url_path="/static",
)

#: The navigation: (endpoint, label).
NAV: list[tuple[str, str]] = [
    ("console.overview", "Overview"),
    ("console.calls", "Calls"),
    ("console.voicemails", "Voicemails"),
    ("console.conversations", "Conversations"),
    ("console.executions", "Flow executions"),
]

#: Endpoints that are not pages: without a session they answer 401, not a redirect to login.
NOT_PAGES = {"console.overview_live", "console.recording_audio"}

#: Sent with every answer under /console (pages, JSON, audio, static files, errors).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class Console:
    """What :func:`~switchboard.callbacks.console.register_console` keeps in
    ``app.extensions["switchboard_console"]``."""

    def __init__(self, options: ConsoleOptions, switchboard: Switchboard) -> None:
        self.options = options
        self.switchboard = switchboard
        self.clock = options.clock
        self.tables_ready = False
        self.static_versions: dict[str, str] = {}
        own_key = options.secret_key.decode() if options.key_source == "setting" else None
        #: Values no page and no log line shows, whatever field holds them: the settings'
        #: secrets, and the console's password (or its hash) and key, which ``app.config``
        #: may have given.
        self.secrets = secret_values(switchboard.settings, options.password, own_key)
        hide_in_logs(*self.secrets)
        self._masked: tuple[tuple[str, ...], tuple[str, ...]] = ((), self.secrets)

    def masked_values(self) -> tuple[str, ...]:
        """The values a page masks, the longest first: :attr:`secrets` and those given to
        :func:`~switchboard.callbacks.logs.hide_in_logs`, merged once each time those
        change (not for every value a page shows)."""
        logged = hidden_in_logs()
        seen, merged = self._masked
        if logged is not seen:
            merged = longest_first((*logged, *self.secrets))
            self._masked = (logged, merged)
        return merged

    @property
    def store(self) -> Any:
        return self.switchboard.store

    def now(self) -> datetime:
        return self.clock()

    def day_start(self, now: datetime) -> datetime:
        """Midnight of ``now``'s day in the console's time zone."""
        local = now.astimezone(self.options.timezone)
        return datetime.combine(local.date(), time(0), tzinfo=self.options.timezone)

    def ensure_tables(self) -> None:
        """The console's tables exist (``Store.create_all``), once per process."""
        if not self.tables_ready:
            self.store.create_all()
            self.tables_ready = True

    def flush(self) -> None:
        """Have the rows this process handed to the store's write-behind (what each webhook
        was answered, a flow's steps, calls and messages) written, so that a page shows them;
        other processes' come within their ``record_delay``. The write-behind's thread writes
        them; the page waits :data:`FLUSH_WAIT` seconds at most (a locked or slow database),
        and not at all while they wait for a database that failed their last write: then it
        shows what is written."""
        store = self.store
        if not store.defers or store.rows_blocked:
            return
        if not store.wait_written(FLUSH_WAIT):
            log.info("console: %d rows waiting to be written are not shown yet",
                     store.rows_waiting)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection for one page's reads (on SQLite one snapshot for all of them), once
        this process's waiting rows are written (:meth:`flush`)."""
        self.flush()
        with self.store.engine.connect() as conn:
            _own_limits(conn)
            if conn.dialect.name == "postgresql":
                conn.begin()
                _own_limits(conn)
            yield conn

    @contextlib.contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        with self.store.engine.connect() as conn:
            conn.execution_options(**{IMMEDIATE: True})
            _own_limits(conn)  # SQLite's before its BEGIN IMMEDIATE waits for the writer
            with conn.begin():
                _own_limits(conn)  # PostgreSQL's in the transaction
                yield conn


def _own_limits(conn: sa.Connection) -> None:
    """The console's own waits on a pooled connection, whatever a webhook's deadline left on
    it: on PostgreSQL a ``statement_timeout`` for this transaction only (``SET LOCAL``, inside
    one); on SQLite the busy timeout (outside one), noted where the store looks for it so that
    it sets its own again."""
    ms = int(DATABASE_WAIT * 1000)
    if conn.dialect.name == "postgresql":
        if conn.in_transaction():
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
        return
    if conn.in_transaction():
        return
    info = conn.connection.info
    if info.get(BUSY_MS) != ms:
        conn.connection.dbapi_connection.execute(f"PRAGMA busy_timeout = {ms}")  # type: ignore[union-attr]
        info[BUSY_MS] = ms


def console() -> Console:
    return current_app.extensions[EXTENSION]


# -- template helpers --------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    """A time in the console's zone: the time alone when it is today."""
    if value is None:
        return "-"
    state = console()
    local = value.astimezone(state.options.timezone)
    today = state.now().astimezone(state.options.timezone).date()
    if local.date() == today:
        return f"{local:%H:%M:%S}"
    return f"{local:%Y-%m-%d %H:%M}"


def _shown(value: object) -> str:
    """A stored value as a page may show it: every value a log line hides masked (the
    settings' secrets, :attr:`Console.secrets`, and any other given to
    :func:`~switchboard.callbacks.logs.hide_in_logs`), and the credentials in it too
    (:func:`~switchboard.callbacks.secrets.hide_credentials`: a URL's password, a
    ``token=`` pair). Every stored value a page shows passes here, its numbers and names
    too."""
    if value is None:
        text = ""
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return hide_credentials(hide_values(text, console().masked_values(), MASK))


def _as_is(value: object) -> bool:
    """Whether :func:`_shown` shows ``value`` as it is: only such a value is put in a link or
    a form (a contact's conversation, a flow to filter by), which would carry it whole."""
    return value is None or _shown(value) == str(value)


def _isolated(value: object) -> Markup:
    """A stored value (as :func:`_shown` shows it) for a page, in a ``<bdi>`` of its own, so
    that a bidi control in it turns nothing around it; text that can turn nothing
    (:func:`~switchboard.callbacks.console.lines.plain`) as it is."""
    text = _shown(value)
    if plain(text):
        return escape(text)
    return Markup("<bdi>{}</bdi>").format(text)


def _line(text: str) -> Markup:
    """A :class:`~switchboard.callbacks.console.lines.Line` for a page, each of its values
    :func:`_isolated`; other text as :func:`_shown` shows it, whole."""
    if not isinstance(text, Line):
        return escape(_shown(text))
    return Markup("").join(
        _isolated(part) if isinstance(part, Value) else escape(part) for part in text.parts
    )


def _isolated_text(value: object) -> str:
    """A stored value for text that holds no element (a ``<title>``, an attribute): isolated
    with Unicode's own characters (:func:`~switchboard.callbacks.console.lines.isolated_text`)."""
    return isolated_text(_shown(value))


#: A segment of a contact linked by its own path: characters that no browser, proxy or
#: werkzeug decodes or rewrites in a path.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9+\-_.:@~]+")


def conversation_url(contact: str, *, opt_out: bool = False, **params: str) -> str:
    """The address of ``contact``'s conversation (``opt_out``: of its opt-out form).

    A contact of letters, digits and ``+-_.:@~`` in ``/``-separated segments, none of them
    empty, ``.`` or ``..``, has its own path (``/console/conversations/+14155550100``,
    ``/console/conversations/client:alice``), as operators bookmark it. Any other is named in
    the query (``/console/conversation?contact=...``), which nothing rewrites: a browser
    resolves a ``.`` or ``..`` segment, werkzeug merges a leading ``//``, and a proxy may
    decode what is percent-encoded in a path."""
    segments = contact.split("/")
    if len(segments) > 1 and not segments[-1]:
        segments.pop()  # a trailing slash is kept as it is
    if all(_PATH_SEGMENT.fullmatch(segment) and segment not in (".", "..")
           for segment in segments):
        endpoint = "console.conversation_opt_out" if opt_out else "console.conversation"
    else:
        endpoint = "console.conversation_of_opt_out" if opt_out else "console.conversation_of"
    return url_for(endpoint, contact=contact, **params)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _seconds(value: int | None) -> str:
    if value is None:
        return "-"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}:{seconds:02d}"


_STATUS_CLASSES = {
    "completed": "ok", "delivered": "ok", "received": "ok", "read": "ok", "sent": "ok",
    "queued": "live", "initiated": "live", "ringing": "live", "in-progress": "live",
    "sending": "live", "accepted": "live", "receiving": "live", "processing": "live",
    "busy": "bad", "no-answer": "bad", "failed": "bad", "canceled": "bad",
    "undelivered": "bad", "absent": "bad",
}


def _status_class(status: str | None) -> str:
    return _STATUS_CLASSES.get((status or "").lower(), "other")


def _static(filename: str) -> str:
    """The URL of a static file, with a version from its content (cached until it changes)."""
    versions = console().static_versions
    version = versions.get(filename)
    if version is None:
        path = Path(bp.static_folder or "") / filename
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "0"
        versions[filename] = version
    return url_for("console.static", filename=filename, v=version)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    from switchboard.callbacks.console.auth import csrf_token, current_path

    return {
        "nav": NAV, "when": _when, "iso": _iso, "seconds": _seconds,
        "status_class": _status_class, "csrf_token": csrf_token, "static": _static,
        "current_path": current_path, "shown": _shown, "as_is": _as_is,
        "isolated": _isolated, "line": _line, "isolated_text": _isolated_text,
        "conversation_url": conversation_url, "shortened": shortened,
        "refresh": console().options.refresh,
    }


@bp.before_request
def _refuse_nul() -> None:
    """A NUL character in the path, the query or a form is refused with 400: no stored value
    holds one, and PostgreSQL refuses it in a query (which would read as a database down)."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.method not in ("GET", "HEAD"):
        values += [*request.form.keys(), *request.form.values()]
    if any("\x00" in value for value in values):
        abort(400, "The request holds a NUL character, which no value here can hold.")


def add_security_headers(response: Response) -> Response:
    """The console's headers on an answer under /console; nothing elsewhere."""
    path = request.path
    if path == bp.url_prefix or path.startswith(f"{bp.url_prefix}/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "console.static":
            response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- error pages -------------------------------------------------------------------------------


def error_page(status: int, title: str, text: str) -> Response:
    if request.endpoint in NOT_PAGES:
        from flask import jsonify

        response = jsonify(error=title, detail=_shown(text))
        response.status_code = status
        return response
    body = render_template("console/error.html", status=status, title=title, text=text)
    return Response(body, status=status, mimetype="text/html")


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return error_page(error.code or 500, error.name, error.description or "")


@bp.errorhandler(StoreUnavailable)
@bp.errorhandler(sa.exc.SQLAlchemyError)
def _database_error(error: Exception) -> Response:
    log.warning("console: %s %s: the database is unavailable (%s)", request.method,
                request.path, type(error).__name__)
    response = error_page(503, "Database unavailable",
                          "The database did not answer. Try again in a moment.")
    response.headers["Retry-After"] = "5"
    return response


def local_day(text: str | None, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` date of the console's zone as the time it starts (``end``: the time
    the day after starts); None for anything else, and for a day whose start is not a time
    Python can hold in UTC (``9999-12-31`` with ``end``)."""
    if not text:
        return None
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
    try:
        if end:
            day += timedelta(days=1)
        start = datetime.combine(day, time(0), tzinfo=console().options.timezone)
        start.astimezone(UTC)  # a day at the calendar's ends may have no UTC time
    except OverflowError:
        return None
    return start
