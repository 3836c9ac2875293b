"""Who may see the console: one password, a signed session cookie, a CSRF token per session.

The session is a cookie of its own (``switchboard_console``, path ``/console`` under the app's
root: ``/sb/console`` for an app served under ``/sb``), signed with
the console's secret key (:mod:`~switchboard.callbacks.console.options`), so the app's own
``flask.session`` and ``SECRET_KEY`` are left to the app. It is HttpOnly, SameSite=Lax, and
Secure when the request came over https. It holds a random CSRF token and, once logged in, a
random session id, when the login ends (``SWITCHBOARD_CONSOLE_SESSION_HOURS`` after it) and a
fingerprint of the password setting, so that changing the password ends every session.
Logging in starts a new session (a new token, a new id).

Logging out drops the browser's cookie and revokes the session on the server: a SHA-256
digest of its id goes into ``console_revoked_sessions`` until the session's end, and every
console request of a session looks its digest up there (one primary-key lookup, once per
request), so a copy of the cookie taken before logout is refused by every worker and host.
A session cookie without an id is logged out. Revoked rows are deleted, a bounded batch at a
time, by each login and logout once their end has passed (:data:`PURGE_GRACE` after it, for
hosts whose clocks differ a little). When the database cannot answer the lookup the request
is refused with the console's 503 page (JSON for what is not a page), never let through; a
logout whose revocation cannot be written drops the browser's cookie all the same and
answers 503.

Every request that changes something (any method but GET and HEAD) must carry the session's
CSRF token (the form field ``csrf_token`` or the header ``X-CSRF-Token``), compared with
:func:`hmac.compare_digest`; the login form too, with the token of the session before login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from flask import Response, abort, g, jsonify, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.security import check_password_hash

from switchboard.callbacks.console import throttle
from switchboard.callbacks.console.blueprint import NOT_PAGES, bp, console
from switchboard.callbacks.console.options import ConsoleOptions
from switchboard.callbacks.console.tables import insert_ignoring, revoked_sessions

COOKIE = "switchboard_console"
_SALT = "switchboard.console.session"
#: A password longer than this is wrong without being hashed.
MAX_PASSWORD = 1024
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PUBLIC = frozenset({"console.login", "console.static"})
#: How long a revoked session's row stays after the session's end.
PURGE_GRACE = timedelta(hours=1)
#: Expired rows deleted by one login or logout at most.
PURGE_BATCH = 500


def _serializer(options: ConsoleOptions) -> URLSafeSerializer:
    return URLSafeSerializer(options.secret_key, salt=_SALT)


def _session() -> dict[str, Any]:
    """This request's session (read from the cookie once): ``{}`` when there is none."""
    data = g.get("console_session")
    if data is None:
        data = {}
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                loaded = _serializer(console().options).loads(raw)
            except BadSignature:
                loaded = None
            if isinstance(loaded, dict) and isinstance(loaded.get("csrf"), str):
                data = loaded
        g.console_session = data
    return data


def _replace_session(logged_in: bool) -> dict[str, Any]:
    state = console()
    data: dict[str, Any] = {"csrf": secrets.token_urlsafe(32)}
    if logged_in:
        options = state.options
        data["sid"] = secrets.token_urlsafe(32)
        data["until"] = int(state.now().timestamp()) + options.session_seconds
        data["pw"] = options.password_fingerprint
    g.console_session = data
    g.console_session_changed = True
    g.pop("console_logged_in", None)
    return data


def logged_in() -> bool:
    """Whether this request's session is logged in: not past its end, made with the current
    password, and not logged out (looked up in the database once per request).

    Raises :class:`sqlalchemy.exc.SQLAlchemyError` (or the store's ``StoreUnavailable``) when
    the database cannot say; the blueprint answers those with its 503 page."""
    known = g.get("console_logged_in")
    if known is None:
        known = g.console_logged_in = _valid(_session())
    return known


def _valid(data: dict[str, Any]) -> bool:
    state = console()
    until = data.get("until")
    if not isinstance(until, int) or until <= state.now().timestamp():
        return False
    fingerprint = data.get("pw")
    if not isinstance(fingerprint, str) or not hmac.compare_digest(
        fingerprint.encode(), state.options.password_fingerprint.encode()
    ):
        return False
    session_id = data.get("sid")
    if not isinstance(session_id, str) or not session_id:
        return False  # a session from before sessions had ids: log in again
    with state.reading() as conn:
        return not is_revoked(conn, session_id)


# -- revoked sessions --------------------------------------------------------------------------


def session_digest(session_id: str) -> str:
    """What ``console_revoked_sessions`` keeps of a session id (SHA-256, hex)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def is_revoked(conn: sa.Connection, session_id: str) -> bool:
    """Whether the session was logged out (a lookup by primary key)."""
    table = revoked_sessions
    found = conn.execute(
        sa.select(table.c.session_digest)
        .where(table.c.session_digest == session_digest(session_id))
    ).first()
    return found is not None


def revoke(conn: sa.Connection, session_id: str, until: datetime) -> None:
    """Refuse the session from now on, until ``until`` (its end); revoking twice is harmless."""
    conn.execute(insert_ignoring(conn, revoked_sessions).values(
        session_digest=session_digest(session_id), expires_at=until,
    ))


def purge_revoked(conn: sa.Connection, now: datetime) -> int:
    """Delete up to :data:`PURGE_BATCH` rows of sessions that ended :data:`PURGE_GRACE`
    before ``now``; return how many went."""
    table = revoked_sessions
    expired = (
        sa.select(table.c.session_digest)
        .where(table.c.expires_at < now - PURGE_GRACE)
        .order_by(table.c.expires_at)
        .limit(PURGE_BATCH)
    )
    return conn.execute(sa.delete(table).where(table.c.session_digest.in_(expired))).rowcount


def csrf_token() -> str:
    """The session's CSRF token (a session is started if there is none)."""
    data = _session()
    if not data:
        data = _replace_session(False)
    return data["csrf"]


def csrf_valid() -> bool:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = _session().get("csrf")
    if not expected or not sent:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def password_matches(options: ConsoleOptions, given: str) -> bool:
    if len(given) > MAX_PASSWORD:
        return False
    if options.hashed:
        return check_password_hash(options.password, given)
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                               hashlib.sha256(options.password.encode()).digest())


def console_root() -> str:
    """The console's path on this site: ``/console`` under the app's root (``SCRIPT_NAME``, or
    a trusted proxy's ``X-Forwarded-Prefix``)."""
    return request.script_root + (bp.url_prefix or "/console")


def current_path() -> str:
    """This request's path on this site, with its query string: where to come back to."""
    path = request.script_root + request.path
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def safe_next(target: str | None) -> str:
    """Where to go after login or a form: a console path of this site, else the overview.

    A path elsewhere, an absolute or scheme-relative URL, a backslash, a control character
    and a ``.`` or ``..`` segment (encoded or not) are all refused."""
    if target and not any(c in target for c in "\\\x7f") and all(c >= " " for c in target):
        root = console_root()
        path = target.split("#", 1)[0].split("?", 1)[0]
        segments = unquote(path).split("/")
        if (
            (path == root or path.startswith(f"{root}/"))
            and not path.startswith(f"{root}/login")
            and not any(segment in (".", "..") for segment in segments)
        ):
            return target
    return url_for("console.overview")


# -- the gate ----------------------------------------------------------------------------------


@bp.before_request
def _gate() -> Response | None:
    endpoint = request.endpoint or ""
    if endpoint == "console.static":
        return None
    console().ensure_tables()
    if endpoint in _PUBLIC:
        return None
    if not logged_in():
        if endpoint in NOT_PAGES:
            response = jsonify(error="Not logged in", login=url_for("console.login"))
            response.status_code = 401
            return response
        if request.method in _SAFE_METHODS:
            return redirect(url_for("console.login", next=current_path()))
        return redirect(url_for("console.login"), code=303)
    if request.method not in _SAFE_METHODS and not csrf_valid():
        abort(403, "The form had no valid security token: reload the page and try again.")
    return None


@bp.after_request
def _save_session(response: Response) -> Response:
    if g.get("console_session_changed"):
        options = console().options
        data = g.console_session
        response.set_cookie(
            COOKIE, _serializer(options).dumps(data),
            max_age=options.session_seconds if "until" in data else None,
            path=console_root(), secure=request.is_secure, httponly=True,
            samesite="Lax",
        )
    return response


# -- login and logout --------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if logged_in():
            return redirect(target)
        notice = "You are logged out." if request.args.get("out") else None
        return render_template("console/login.html", next=target, notice=notice)
    if not csrf_valid():
        _replace_session(False)
        return _login_page(target, "The login form had expired: try again.", 403)
    state = console()
    key = throttle.client_key(request.remote_addr)
    with state.writing() as conn:
        wait = throttle.take_attempt(conn, key, state.now())
    if wait is not None:
        response = _login_page(
            target, f"Too many wrong passwords: try again in {wait} seconds.", 429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not password_matches(state.options, request.form.get("password", "")):
        return _login_page(target, "Wrong password.", 401)
    with state.writing() as conn:
        throttle.succeeded(conn, key, state.now())
        purge_revoked(conn, state.now())
    _replace_session(True)
    return redirect(target, code=303)


def _login_page(target: str, error: str, status: int) -> Response:
    body = render_template("console/login.html", next=target, error=error)
    return Response(body, status=status, mimetype="text/html")


@bp.post("/logout")
def logout() -> Response:
    ending = _session()  # logged in: the gate saw to it
    _replace_session(False)  # the browser's cookie goes, whatever happens below
    state = console()
    with state.writing() as conn:
        revoke(conn, ending["sid"], datetime.fromtimestamp(ending["until"], UTC))
        purge_revoked(conn, state.now())
    return redirect(url_for("console.login", out=1), code=303)
