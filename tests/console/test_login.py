"""Logging in to the console: pages behind the login, the session cookie, its end, logging out
for good (a copy of the cookie refused on every database), and wrong passwords slowed per
client address without holding a worker."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks.console import auth, tables, throttle
from tests.console.conftest import (
    CALLER,
    PASSWORD,
    Clock,
    add_call,
    add_voicemail,
    console_app,
    csrf_of,
    log_in,
)

PAGES = [
    "/console", "/console/", "/console/calls", "/console/calls?status=busy&number=%2B1555",
    "/console/calls/CA0123", "/console/voicemails", "/console/voicemails?show=unheard",
    "/console/conversations", f"/console/conversations/{CALLER}", "/console/no/such/page",
]
NOT_PAGES = ["/console/overview.json", "/console/recordings/RE0123/audio"]
FORMS = ["/console/logout", "/console/voicemails/RE0123/heard",
         f"/console/conversations/{CALLER}/opt-out"]


def _clock(app: Flask) -> Clock:
    clock = Clock()
    app.extensions["switchboard_console"].clock = clock
    return clock


def _attempt(client: FlaskClient, password: str, address: str = "198.51.100.7") -> object:
    environ = {"REMOTE_ADDR": address}
    token = csrf_of(client.get("/console/login", environ_base=environ).text)
    return client.post("/console/login", data={"csrf_token": token, "password": password},
                       environ_base=environ)


def test_every_console_page_redirects_to_login_without_a_session(app: Flask, store: object
                                                                  ) -> None:
    call_sid = add_call(store)
    pages = [*PAGES, f"/console/calls/{call_sid}"]
    client = app.test_client()
    for page in pages:
        response = client.get(page)
        if page == "/console":  # the overview's address is /console/
            assert response.status_code == 308
            assert response.headers["Location"].endswith("/console/")
            continue
        assert response.status_code == 302, page
        location = response.headers["Location"]
        assert location.startswith("/console/login?next="), (page, location)


def test_the_login_sends_you_back_to_the_page_you_asked_for(app: Flask) -> None:
    client = app.test_client()
    location = client.get("/console/calls?status=busy").headers["Location"]
    page = client.get(location)
    token = csrf_of(page.text)
    response = client.post("/console/login", data={
        "csrf_token": token, "password": PASSWORD, "next": "/console/calls?status=busy",
    })
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/calls?status=busy"
    assert client.get("/console/calls?status=busy").status_code == 200


def test_what_is_not_a_page_answers_401_and_forms_go_to_login_changing_nothing(
    app: Flask, store: object
) -> None:
    client = app.test_client()
    for path in NOT_PAGES:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json is not None
        assert response.json["login"] == "/console/login"
    for path in FORMS:
        response = client.post(path, data={"sender": "*"})
        assert response.status_code == 303, path
        assert response.headers["Location"] == "/console/login"
    assert not store.is_opted_out(CALLER)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/consolex", "/console/"),
        ("/console/login", "/console/"),
        ("/console/\\evil.example", "/console/"),
        ("/console/calls?number=1", "/console/calls?number=1"),
    ],
)
def test_after_login_only_console_pages_are_a_destination(
    app: Flask, target: str, landing: str
) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/console/login").text)
    response = client.post("/console/login",
                           data={"csrf_token": token, "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == landing


def test_the_session_cookie_is_httponly_lax_scoped_and_secure_over_https(app: Flask) -> None:
    for base, secure in (("http://localhost", False), ("https://localhost", True)):
        client = app.test_client()
        token = csrf_of(client.get("/console/login", base_url=base).text)
        response = client.post("/console/login", base_url=base,
                               data={"csrf_token": token, "password": PASSWORD})
        assert response.status_code == 303
        [header] = response.headers.getlist("Set-Cookie")
        cookie = SimpleCookie()
        cookie.load(header)
        morsel = cookie["switchboard_console"]
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Lax"
        assert morsel["path"] == "/console"
        assert bool(morsel["secure"]) is secure
        assert int(morsel["max-age"]) == 12 * 3600


def test_a_wrong_password_or_no_form_token_logs_nobody_in(app: Flask) -> None:
    client = app.test_client()
    response = _attempt(client, "wrong password")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "Wrong password." in response.text  # type: ignore[attr-defined]
    assert client.get("/console/").status_code == 302
    response = client.post("/console/login", data={"password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/console/").status_code == 302


def test_five_wrong_passwords_are_slowed_per_address_without_sleeping(app: Flask) -> None:
    clock = _clock(app)
    client = app.test_client()
    for _ in range(3):  # three mistakes cost nothing
        assert _attempt(client, "guess").status_code == 401  # type: ignore[attr-defined]
    fourth = _attempt(client, "guess")
    assert fourth.status_code == 429  # type: ignore[attr-defined]
    assert fourth.headers["Retry-After"] == "2"  # type: ignore[attr-defined]
    assert "try again in 2 seconds" in fourth.text  # type: ignore[attr-defined]
    # While it waits, even the right password is not looked at.
    assert _attempt(client, PASSWORD).status_code == 429  # type: ignore[attr-defined]
    # Another address is not held back.
    assert _attempt(app.test_client(), "guess", "203.0.113.9").status_code == 401  # type: ignore[attr-defined]
    clock.advance(2)
    assert _attempt(client, "guess").status_code == 401  # type: ignore[attr-defined]
    fifth = _attempt(client, "guess")
    assert fifth.status_code == 429  # type: ignore[attr-defined]
    assert fifth.headers["Retry-After"] == "4"  # type: ignore[attr-defined]
    clock.advance(4)
    assert _attempt(client, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    # The right password cleared the count: three free mistakes again.
    for _ in range(3):
        assert _attempt(app.test_client(), "guess").status_code == 401  # type: ignore[attr-defined]


def test_logging_in_and_being_slowed_on_each_database(database_url: str) -> None:
    app = console_app(database_url)
    try:
        client = app.test_client()
        assert _attempt(client, PASSWORD).status_code == 303  # type: ignore[attr-defined]
        assert client.get("/console/").status_code == 200
        for _ in range(3):
            assert _attempt(app.test_client(), "guess").status_code == 401  # type: ignore[attr-defined]
        assert _attempt(app.test_client(), PASSWORD).status_code == 429  # type: ignore[attr-defined]
    finally:
        app.extensions["switchboard"].store.close()


def test_the_count_of_wrong_passwords_is_shared_by_every_process_on_the_database(
    sqlite_url: str,
) -> None:
    first, second = console_app(sqlite_url), console_app(sqlite_url)
    try:
        for app in (first, second, first):
            assert _attempt(app.test_client(), "guess").status_code == 401  # type: ignore[attr-defined]
        assert _attempt(second.test_client(), "guess").status_code == 429  # type: ignore[attr-defined]
    finally:
        for app in (first, second):
            app.extensions["switchboard"].store.close()


def test_wrong_passwords_sent_at_once_get_no_more_than_three_checks(database_url: str) -> None:
    app = console_app(database_url)
    try:
        clients = [app.test_client() for _ in range(12)]
        tokens = [csrf_of(c.get("/console/login").text) for c in clients]
        start = threading.Barrier(len(clients))

        def attempt(pair: tuple[FlaskClient, str]) -> int:
            client, token = pair
            start.wait()
            return client.post("/console/login",
                               data={"csrf_token": token, "password": "guess"}).status_code

        with ThreadPoolExecutor(len(clients)) as pool:
            statuses = sorted(pool.map(attempt, zip(clients, tokens, strict=True)))
        # A race lost counts as a wait: fewer checks, never more.
        assert 1 <= statuses.count(401) <= 3
        assert statuses.count(429) == len(clients) - statuses.count(401)
    finally:
        app.extensions["switchboard"].store.close()


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (None, "unknown"),
    ],
)
def test_an_ipv6_client_counts_by_its_64_network(address: str | None, key: str) -> None:
    assert throttle.client_key(address) == key


def test_the_delay_doubles_after_three_failures_up_to_fifteen_minutes() -> None:
    assert [throttle.delay_after(n).total_seconds() for n in range(1, 8)] == [
        0, 0, 2, 4, 8, 16, 32,
    ]
    assert throttle.delay_after(40).total_seconds() == 15 * 60


def test_a_session_ends_after_its_hours(app: Flask) -> None:
    clock = _clock(app)
    client = app.test_client()
    assert log_in(client).status_code == 303
    clock.advance(12 * 3600 - 5)
    assert client.get("/console/").status_code == 200
    clock.advance(10)
    assert client.get("/console/").status_code == 302


def test_a_changed_password_ends_every_session(sqlite_url: str) -> None:
    key = "a-shared-secret-key-of-the-deployment-0123"
    before = console_app(sqlite_url, SWITCHBOARD_SECRET_KEY=key)
    after = console_app(sqlite_url, SWITCHBOARD_SECRET_KEY=key,
                        SWITCHBOARD_CONSOLE_PASSWORD="a new password")
    same = console_app(sqlite_url, SWITCHBOARD_SECRET_KEY=key)
    try:
        client = before.test_client()
        assert log_in(client).status_code == 303
        cookie = client.get_cookie("switchboard_console", path="/console")
        assert cookie is not None
        for app, welcome in ((same, 200), (after, 302)):
            other = app.test_client()
            other.set_cookie("switchboard_console", cookie.value, path="/console")
            assert other.get("/console/").status_code == welcome
    finally:
        for app in (before, after, same):
            app.extensions["switchboard"].store.close()


def test_a_cookie_signed_with_another_key_is_nobody(sqlite_url: str) -> None:
    ours = console_app(sqlite_url, SWITCHBOARD_SECRET_KEY="the-key-of-this-deployment-00")
    theirs = console_app(sqlite_url, SWITCHBOARD_SECRET_KEY="the-key-of-another-one-000000")
    try:
        client = theirs.test_client()
        assert log_in(client).status_code == 303
        cookie = client.get_cookie("switchboard_console", path="/console")
        assert cookie is not None
        stranger = ours.test_client()
        stranger.set_cookie("switchboard_console", cookie.value, path="/console")
        assert stranger.get("/console/").status_code == 302
    finally:
        for app in (ours, theirs):
            app.extensions["switchboard"].store.close()


def test_logging_out_needs_the_form_token_and_ends_the_session(
    client: FlaskClient, store: object
) -> None:
    add_voicemail(store, add_call(store))
    assert client.post("/console/logout").status_code == 403
    assert client.get("/console/").status_code == 200
    token = csrf_of(client.get("/console/").text)
    response = client.post("/console/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login?out=1"
    assert "You are logged out." in client.get("/console/login?out=1").text
    assert client.get("/console/").status_code == 302


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("switchboard_console", path="/console")
    assert cookie is not None
    return cookie.value


def _with_cookie(app: Flask, value: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("switchboard_console", value, path="/console")
    return client


def _log_out(client: FlaskClient) -> None:
    token = csrf_of(client.get("/console/").text)
    response = client.post("/console/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login?out=1"


def _revoked_rows(app: Flask) -> int:
    with app.extensions["switchboard"].store.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(tables.revoked_sessions)
        ).scalar_one()


def test_a_copy_of_a_logged_out_cookie_is_refused_and_other_sessions_go_on(
    database_url: str,
) -> None:
    app = console_app(database_url)
    try:
        leaving, staying = app.test_client(), app.test_client()
        assert log_in(leaving).status_code == 303
        assert log_in(staying).status_code == 303
        copy = _cookie(leaving)
        assert copy != _cookie(staying)
        assert _with_cookie(app, copy).get("/console/calls").status_code == 200
        _log_out(leaving)
        assert _revoked_rows(app) == 1
        replayed = _with_cookie(app, copy)
        for page in ("/console/", "/console/calls", "/console/voicemails"):
            response = replayed.get(page)
            assert response.status_code == 302, page
            assert response.headers["Location"].startswith("/console/login?next="), page
        for path in NOT_PAGES:
            response = replayed.get(path)
            assert response.status_code == 401, path
            assert response.json is not None
            assert response.json["login"] == "/console/login"
        response = replayed.post("/console/logout", data={"csrf_token": "x"})
        assert response.status_code == 303
        assert response.headers["Location"] == "/console/login"
        # The login page sees nobody logged in, and offers its form.
        assert "csrf_token" in replayed.get("/console/login").text
        # The session logged in on its own is untouched.
        assert staying.get("/console/").status_code == 200
        assert staying.get("/console/overview.json").status_code == 200
        # Logging in again is a new session, which works.
        assert log_in(leaving).status_code == 303
        assert _cookie(leaving) != copy
        assert leaving.get("/console/").status_code == 200
    finally:
        app.extensions["switchboard"].store.close()


def test_the_table_keeps_no_session_id(app: Flask) -> None:
    client = app.test_client()
    assert log_in(client).status_code == 303
    with app.test_request_context("/console/"):
        data = auth._serializer(app.extensions["switchboard_console"].options).loads(
            _cookie(client)
        )
    _log_out(client)
    with app.extensions["switchboard"].store.engine.connect() as conn:
        [(kept,)] = conn.execute(sa.select(tables.revoked_sessions.c.session_digest)).all()
    assert data["sid"] not in kept
    assert kept == auth.session_digest(data["sid"])


def test_a_session_cookie_without_an_id_is_logged_out(app: Flask) -> None:
    client = app.test_client()
    assert log_in(client).status_code == 303
    state = app.extensions["switchboard_console"]
    with app.test_request_context("/console/"):
        serializer = auth._serializer(state.options)
        data = serializer.loads(_cookie(client))
        assert isinstance(data.pop("sid"), str)
        without_id = serializer.dumps(data)
        empty_id = serializer.dumps({**data, "sid": ""})
    for value in (without_id, empty_id):
        old = _with_cookie(app, value)
        assert old.get("/console/").status_code == 302
        assert old.get("/console/overview.json").status_code == 401
    assert client.get("/console/").status_code == 200


def test_revoked_rows_go_once_their_session_has_ended(database_url: str) -> None:
    app = console_app(database_url)
    try:
        clock = _clock(app)
        first = app.test_client()
        assert log_in(first).status_code == 303
        _log_out(first)
        clock.advance(6 * 3600)
        second = app.test_client()
        assert log_in(second).status_code == 303
        copy = _cookie(second)
        _log_out(second)
        assert _revoked_rows(app) == 2
        # The first session ended; its row stays a while for hosts whose clocks lag.
        clock.advance(6 * 3600 + 1)
        assert log_in(app.test_client()).status_code == 303
        assert _revoked_rows(app) == 2
        clock.advance(auth.PURGE_GRACE.total_seconds())
        assert log_in(app.test_client()).status_code == 303  # a login purges
        assert _revoked_rows(app) == 1
        assert _with_cookie(app, copy).get("/console/").status_code == 302  # still revoked
        clock.advance(6 * 3600)
        third = app.test_client()
        assert log_in(third).status_code == 303
        _log_out(third)  # a logout purges too
        assert _revoked_rows(app) == 1
    finally:
        app.extensions["switchboard"].store.close()


def test_a_purge_deletes_a_bounded_batch(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "PURGE_BATCH", 2)
    state = app.extensions["switchboard_console"]
    now = state.now()
    with state.writing() as conn:
        for n in range(5):
            auth.revoke(conn, f"session-{n}", now - auth.PURGE_GRACE - timedelta(seconds=n + 1))
        auth.revoke(conn, "session-live", now + timedelta(hours=1))
    with state.writing() as conn:
        assert auth.purge_revoked(conn, now) == 2
        assert auth.purge_revoked(conn, now) == 2
        assert auth.purge_revoked(conn, now) == 1
        assert auth.purge_revoked(conn, now) == 0
        assert auth.is_revoked(conn, "session-live")
        assert not auth.is_revoked(conn, "session-0")


def test_a_database_error_on_the_session_check_is_a_503_never_a_way_in(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session_id = ""

    def down(conn: sa.Connection, sid: str) -> bool:
        nonlocal session_id
        session_id = sid
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(auth, "is_revoked", down)
    response = client.get("/console/calls")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Database unavailable" in response.text
    assert "Traceback" not in response.text
    assert "connection refused" not in response.text
    live = client.get("/console/overview.json")
    assert live.status_code == 503
    assert live.json is not None
    assert live.json["error"] == "Database unavailable"
    assert session_id
    assert session_id not in caplog.text
    monkeypatch.undo()
    assert client.get("/console/calls").status_code == 200


def test_a_logout_the_database_cannot_record_still_drops_the_cookie(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(conn: sa.Connection, sid: str, until: object) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    token = csrf_of(client.get("/console/").text)
    monkeypatch.setattr(auth, "revoke", down)
    response = client.post("/console/logout", data={"csrf_token": token})
    assert response.status_code == 503
    assert "Database unavailable" in response.text
    assert client.get("/console/").status_code == 302
