"""The console's pages through the test client: what each shows, the filters kept across
pages, the forms that mark a voicemail heard and opt a number out or back in, and a database
that does not answer."""

from __future__ import annotations

import html
import re
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks.console import auth
from switchboard.callbacks.console.blueprint import FLUSH_WAIT, Console
from tests.console.conftest import (
    ACCOUNT_SID,
    CALLER,
    NUMBER,
    add_call,
    add_message,
    add_voicemail,
    console_app,
    csrf_of,
    log_in,
)


def test_the_overview_and_its_live_data_agree(client: FlaskClient, store: Any) -> None:
    call_sid = add_call(store, status="ringing")
    add_voicemail(store, add_call(store))
    add_call(store, status="busy", from_=NUMBER, to="+15005550020")
    add_message(store, "hi")
    page = client.get("/console/").text
    live = client.get("/console/overview.json").json
    assert live is not None
    assert live["counts"] == {"calls-today": 3, "messages-today": 1, "live": 1, "unheard": 1}
    for name, count in live["counts"].items():
        assert f'data-count="{name}">{count}<' in page
    for name, section in live["sections"].items():
        assert f'<div data-section="{name}">{section}</div>' in page
    assert f"/console/calls/{call_sid}" in live["sections"]["live"]
    assert "busy" in live["sections"]["failures"]
    assert re.fullmatch(r"\d\d:\d\d:\d\d", live["updated"])
    assert 'data-refresh="5.0"' in page


def test_the_calls_page_keeps_its_filters_in_the_links_to_other_pages(
    client: FlaskClient, store: Any
) -> None:
    for _ in range(55):
        add_call(store)
    page = client.get("/console/calls?number=%2B1%20(555)%20555-0100&status=completed").text
    assert page.count("<tr>") == 51  # the header and 50 calls
    older = re.search(r'href="([^"]+)" rel="next"', page)
    assert older is not None
    link = older.group(1).replace("&amp;", "&")
    assert "number=" in link
    assert "status=completed" in link
    assert "before=" in link
    rest = client.get(link).text
    assert rest.count("<tr>") == 6
    assert 'rel="prev"' in rest
    assert 'rel="next"' not in rest
    assert 'value="+1 (555) 555-0100"' in rest
    assert '<option value="completed" selected>' in rest


def test_filters_that_do_not_parse_are_left_out(client: FlaskClient, store: Any) -> None:
    add_call(store)
    page = client.get("/console/calls?status=bogus&since=yesterday&until=2026-13-45"
                      "&before=junk").text
    assert page.count("<tr>") == 2
    assert 'value="yesterday"' not in page
    assert "<option value=\"\">any</option>" in page


def test_a_call_page_and_a_call_that_is_not_there(client: FlaskClient, store: Any) -> None:
    call_sid = add_call(store)
    recording = add_voicemail(store, call_sid)
    page = client.get(f"/console/calls/{call_sid}").text
    assert "Call status: completed (#0)" in page
    assert f'src="/console/recordings/{recording}/audio"' in page
    assert 'preload="none"' in page
    missing = client.get("/console/calls/CA-not-here")
    assert missing.status_code == 404
    assert "No call CA-not-here in the database." in missing.text


def test_a_voicemail_notice_link_leads_to_its_call(client: FlaskClient, store: Any) -> None:
    call_sid = add_call(store)
    recording = add_voicemail(store, call_sid)
    response = client.get(f"/console/voicemails/{recording}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/calls/{call_sid}#{recording}"
    assert client.get("/console/voicemails/RE-none").status_code == 404


def test_marking_a_voicemail_heard_and_unheard(client: FlaskClient, store: Any) -> None:
    recording = add_voicemail(store, add_call(store))
    token = csrf_of(client.get("/console/voicemails").text)
    response = client.post(f"/console/voicemails/{recording}/heard",
                           data={"csrf_token": token, "heard": "1",
                                 "next": f"/console/voicemails?show=unheard#{recording}"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/voicemails?show=unheard#{recording}"
    assert "No unheard voicemail." in client.get("/console/voicemails?show=unheard").text
    assert client.get("/console/overview.json").json["counts"]["unheard"] == 0  # type: ignore[index]
    response = client.post(f"/console/voicemails/{recording}/heard",
                           data={"csrf_token": token, "heard": "0", "next": "https://evil/"})
    assert response.headers["Location"] == "/console/"
    assert "Unheard (1)" in client.get("/console/voicemails").text
    unknown = client.post("/console/voicemails/RE-none/heard", data={"csrf_token": token})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("sender", "out_of_ours", "out_of_other"),
    [(NUMBER, True, False), ("*", True, True)],
)
def test_opting_a_contact_out_and_back_in(
    client: FlaskClient, store: Any, sender: str, out_of_ours: bool, out_of_other: bool
) -> None:
    add_message(store, "hello")
    page = client.get(f"/console/conversations/{CALLER}").text
    assert f"Opt out of {NUMBER}" in page
    assert "has not opted out" in page
    token = csrf_of(page)
    url = f"/console/conversations/{CALLER}/opt-out"
    response = client.post(url, data={"csrf_token": token, "sender": sender})
    assert response.status_code == 303
    assert store.is_opted_out(CALLER, sender=NUMBER) is out_of_ours
    assert store.is_opted_out(CALLER, sender="+15550000000") is out_of_other
    page = client.get(f"/console/conversations/{CALLER}").text
    assert "opted out</span>" in page
    listing = client.get("/console/conversations").text
    assert "opted out</span>" in listing
    client.post(url, data={"csrf_token": token, "sender": sender, "action": "in"})
    assert not store.is_opted_out(CALLER)
    assert "has not opted out" in client.get(f"/console/conversations/{CALLER}").text


def test_the_conversations_preview_keeps_a_flag_whole(client: FlaskClient, store: Any) -> None:
    scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    add_message(store, "w" * 77 + scotland)
    listing = client.get("/console/conversations").text
    assert "w" * 77 + "…" in listing
    assert "\U0001f3f4" not in listing


def test_conversations_find_a_number(client: FlaskClient, store: Any) -> None:
    add_message(store, "from the caller")
    add_message(store, "from someone else", from_="+15555550177")
    page = client.get("/console/conversations?number=1-555-555-0177").text
    assert "+15555550177" in page
    assert f"/console/conversations/{CALLER}" not in page
    assert "1 message" in page


def test_a_database_that_does_not_answer_is_a_503_page(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(self: Console) -> Any:
        raise sa.exc.OperationalError("SELECT", {}, Exception("unable to open database file"))

    # the session's own check reads the database too (tests/console/test_login.py): here it
    # passes, so that the pages' queries are the ones that find the database gone
    monkeypatch.setattr(auth, "logged_in", lambda: True)
    monkeypatch.setattr(Console, "reading", down)
    response = client.get("/console/calls")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Database unavailable" in response.text
    assert "unable to open" not in response.text
    live = client.get("/console/overview.json")
    assert live.status_code == 503
    assert live.json == {"error": "Database unavailable",
                         "detail": "The database did not answer. Try again in a moment."}


def test_a_page_waits_a_moment_for_this_process_s_rows_then_shows_what_is_written(
    tmp_path: Path,
) -> None:
    """Another process holds SQLite's write lock: the webhook's call, handed to the
    write-behind, cannot go in. The page waits FLUSH_WAIT for it, not the store's busy
    timeout, and shows what is written; once the lock is gone the call is there."""
    database = tmp_path / "db.sqlite3"
    app = console_app(f"sqlite:///{database}", record_delay="0.02")
    store = app.extensions["switchboard"].store
    client = app.test_client()
    try:
        assert log_in(client).status_code == 303
        client.get("/console/calls")  # the tables, the session: written before the lock
        other = sqlite3.connect(str(database), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock; readers go on (WAL)
        try:
            call_sid = add_call(store, status="ringing")
            assert not store.wait_written(0.1)  # it cannot go in
            started = time.monotonic()
            response = client.get("/console/calls")
            took = time.monotonic() - started
            assert response.status_code == 200
            assert call_sid not in response.text
            assert FLUSH_WAIT <= took < FLUSH_WAIT + 2, took  # the busy timeout is 10 s
        finally:
            other.rollback()
            other.close()
        assert call_sid in client.get("/console/calls").text
    finally:
        store.close()


def test_console_queries_wait_their_own_time_whatever_a_webhook_left(database_url: str) -> None:
    app = console_app(database_url)
    state = app.extensions["switchboard_console"]
    engine = app.extensions["switchboard"].store.engine
    try:
        engine.dispose()  # one connection in the pool: the one each block below gets
        with engine.connect() as conn:  # a connection a handler's deadline left short
            conn.exec_driver_sql("PRAGMA busy_timeout = 30" if conn.dialect.name == "sqlite"
                                 else "SET statement_timeout = 30")
            conn.commit()
        with state.reading() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
                assert conn.connection.info["switchboard_busy_ms"] == 5000
            else:
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "5s"
        with state.writing() as conn:
            if conn.dialect.name == "postgresql":
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "5s"
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:  # the webhook's value is back for the store
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "30ms"
    finally:
        app.extensions["switchboard"].store.close()


@pytest.mark.parametrize("contact", ["user/42", "a/opt-out", "x/y/z/"])
def test_a_contact_with_slashes_opens_and_opts_out(
    client: FlaskClient, store: Any, contact: str
) -> None:
    add_message(store, "from a slashed contact", from_=contact)
    listing = client.get("/console/conversations").text
    link = f'href="/console/conversations/{contact}"'
    assert link in listing
    page = client.get(f"/console/conversations/{contact}")
    assert page.status_code == 200
    assert "from a slashed contact" in page.text
    assert f'action="/console/conversations/{contact}/opt-out"' in page.text
    response = client.post(f"/console/conversations/{contact}/opt-out",
                           data={"csrf_token": csrf_of(page.text), "sender": "*"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/conversations/{contact}"
    assert store.is_opted_out(contact)


@pytest.mark.parametrize("contact", [
    "/lead", "//lead", "a/../b", "a/./b", ".", "..", "x/.", "a//b", "a b", "Zoë", "a?b#c", "%2e%2e",
])
def test_a_contact_a_path_cannot_carry_is_linked_by_the_query(
    client: FlaskClient, store: Any, contact: str
) -> None:
    add_message(store, "from an odd contact", from_=contact)
    add_message(store, "from the caller")
    listing = client.get("/console/conversations").text
    link = _conversation_link(listing, "from an odd contact")
    address = urlsplit(link)
    assert address.path == "/console/conversation"
    assert parse_qs(address.query) == {"contact": [contact]}
    page = client.get(link)
    assert page.status_code == 200
    assert "from an odd contact" in page.text
    assert "from the caller" not in page.text
    opt_out = link.replace("/conversation?", "/conversation/opt-out?")
    assert f'action="{html.escape(opt_out)}"' in page.text
    assert client.post(opt_out, data={"sender": "*"}).status_code == 403  # no CSRF token
    assert not store.is_opted_out(contact)
    token = csrf_of(page.text)
    response = client.post(opt_out, data={"csrf_token": token, "sender": "*"})
    assert response.status_code == 303
    assert response.headers["Location"] == link
    assert store.is_opted_out(contact)
    assert not store.is_opted_out(CALLER)
    client.post(opt_out, data={"csrf_token": token, "sender": "*", "action": "in"})
    assert not store.is_opted_out(contact)


@pytest.mark.parametrize("contact", [
    CALLER, "client:alice", "whatsapp:+15555550100", "sip:alice@example.com", "user/42",
    "x/y/z/", "messenger:1234_5678", "v1.2",
])
def test_an_ordinary_contact_keeps_its_own_path(
    client: FlaskClient, store: Any, contact: str
) -> None:
    add_message(store, "hello", from_=contact)
    listing = client.get("/console/conversations").text
    assert _conversation_link(listing, "hello") == f"/console/conversations/{contact}"
    assert "hello" in client.get(f"/console/conversations/{contact}").text
    assert "hello" in client.get("/console/conversation", query_string={"contact": contact}).text


def test_a_contact_s_old_path_still_opens_when_its_link_is_the_query(
    client: FlaskClient, store: Any
) -> None:
    add_message(store, "hello", from_="a b")
    assert "hello" in client.get("/console/conversations/a%20b").text


def test_a_failed_text_to_an_odd_contact_links_to_its_conversation(
    client: FlaskClient, store: Any
) -> None:
    sid = add_message(store, "hi", from_=NUMBER, to="/lead")
    store.record_message_status({"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": NUMBER,
                                 "To": "/lead", "MessageStatus": "undelivered",
                                 "ErrorCode": "30003"}, None)
    failures = client.get("/console/overview.json").json["sections"]["failures"]  # type: ignore[index]
    assert 'href="/console/conversation?contact=/lead"' in failures


def _conversation_link(listing: str, preview: str) -> str:
    """The address of the conversation whose latest message is ``preview`` in the list."""
    for href, row in re.findall(r'<a class="item" href="([^"]+)">(.*?)</a>', listing, re.S):
        if preview in row:
            return html.unescape(href)
    raise AssertionError(f"no conversation shows {preview!r}")
