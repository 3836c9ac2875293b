"""The console's defences: CSRF tokens on every form that changes something, no secret in any
page, its headers on every answer, no inline script, and the Twilio routes left as they were."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks import create_app
from switchboard.callbacks.console import register_console
from switchboard.callbacks.security import signed_headers
from tests.console.conftest import (
    ACCOUNT_SID,
    CALLER,
    NUMBER,
    PASSWORD,
    TOKEN,
    add_call,
    add_message,
    add_voicemail,
    console_app,
    csrf_of,
    log_in,
)


@pytest.fixture
def data(store: Any) -> dict[str, str]:
    call_sid = add_call(store)
    add_call(store, status="busy", from_=NUMBER, to="+15005550020")
    add_message(store, "Hello <script>alert(1)</script> & goodbye")
    return {"call": call_sid, "recording": add_voicemail(store, call_sid)}


def _pages(data: dict[str, str]) -> list[str]:
    return [
        "/console/", "/console/overview.json", "/console/calls",
        f"/console/calls?number={CALLER}&status=completed&since=2000-01-01&until=2999-12-31",
        f"/console/calls/{data['call']}", "/console/calls/CA-none", "/console/voicemails",
        "/console/voicemails?show=unheard", "/console/conversations",
        f"/console/conversations?number={NUMBER}", f"/console/conversations/{CALLER}",
        "/console/not/a/page", "/console/login", "/console/static/no-such-file.css",
    ]


def test_a_form_posted_without_its_csrf_token_is_refused(
    client: FlaskClient, store: Any, data: dict[str, str]
) -> None:
    heard = f"/console/voicemails/{data['recording']}/heard"
    opt_out = f"/console/conversations/{CALLER}/opt-out"
    stranger = FlaskClient(client.application)
    other_token = csrf_of(stranger.get("/console/login").text)
    for token in (None, "", "not-the-token", other_token, "é" * 43):
        fields = {} if token is None else {"csrf_token": token}
        response = client.post(heard, data={**fields, "heard": "1"})
        assert response.status_code == 403, token
        assert "security token" in response.text
        response = client.post(opt_out, data={**fields, "sender": NUMBER})
        assert response.status_code == 403, token
    assert not store.is_opted_out(CALLER)
    assert "Unheard (1)" in client.get("/console/voicemails").text

    token = csrf_of(client.get("/console/").text)
    assert client.post(heard, data={"csrf_token": token, "heard": "1"}).status_code == 303
    assert "Unheard (0)" in client.get("/console/voicemails").text
    response = client.post(opt_out, data={"sender": NUMBER}, headers={"X-CSRF-Token": token})
    assert response.status_code == 303
    assert store.is_opted_out(CALLER, sender=NUMBER)


def test_no_page_shows_a_token_a_secret_or_the_password(
    sqlite_url: str, tmp_path: Any
) -> None:
    from werkzeug.security import generate_password_hash

    password_hash = generate_password_hash(PASSWORD)
    secrets = {
        "auth token": TOKEN, "console password": PASSWORD, "password hash": password_hash,
        "secret key": "the-deployment-secret-key-0123456789",
    }
    app = console_app(sqlite_url, SWITCHBOARD_CONSOLE_PASSWORD=None,
                      SWITCHBOARD_CONSOLE_PASSWORD_HASH=password_hash,
                      SWITCHBOARD_SECRET_KEY=secrets["secret key"])
    try:
        store = app.extensions["switchboard"].store
        # Fields and a text that happen to hold secrets: shown masked.
        call_sid = add_call(store, CallToken=TOKEN, Hook="https://user:pw-in-a-url@example.com/")
        add_message(store, f"my token is {TOKEN}")
        secrets["password in a URL"] = "pw-in-a-url"
        data = {"call": call_sid, "recording": add_voicemail(store, call_sid)}
        client = app.test_client()
        for page in _pages(data):  # logged out
            _no_secret(client.get(page), secrets, page)
        assert log_in(client).status_code == 303
        key = app.extensions["switchboard_console"].options.secret_key
        for page in _pages(data):
            _no_secret(client.get(page), secrets, page, key)
        assert "********" in client.get(f"/console/calls/{call_sid}").text
    finally:
        app.extensions["switchboard"].store.close()


def _no_secret(response: Any, secrets: dict[str, str], page: str, key: bytes = b"") -> None:
    text = response.get_data(as_text=True)
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    for name, secret in secrets.items():
        assert secret not in text, f"{page} shows the {name}"
        assert secret not in cookies, f"{page}'s cookie holds the {name}"
    if key:
        assert key.hex() not in text
        assert key.decode("latin-1") not in text


def test_every_answer_under_console_has_the_security_headers(
    client: FlaskClient, data: dict[str, str]
) -> None:
    anonymous = FlaskClient(client.application)
    answers = [client.get(page) for page in _pages(data)]
    answers += [anonymous.get(page) for page in ("/console/", "/console", "/console/login",
                                                 "/console/overview.json")]
    answers += [client.get("/console/static/console.css"), client.get("/console/static/console.js"),
                client.post("/console/logout")]
    for response in answers:
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
    for response in answers:
        if "/static/" not in response.request.path:
            assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_no_page_has_inline_script_style_or_event_handlers(
    client: FlaskClient, data: dict[str, str]
) -> None:
    for page in _pages(data):
        response = client.get(page)
        if response.mimetype != "text/html":
            continue
        html = response.text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (page, tag)
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), page
        assert "<style" not in html, page
        assert not re.search(r"\sstyle=", html), page
        assert not re.search(r"\son[a-z]+=", html), page
        assert "javascript:" not in html, page


def test_text_from_callers_is_escaped(client: FlaskClient, data: dict[str, str]) -> None:
    for page in ("/console/conversations", f"/console/conversations/{CALLER}"):
        html = client.get(page).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; goodbye" in html


def test_the_twilio_routes_are_left_as_they_were(client: FlaskClient) -> None:
    params = {"CallSid": "CA" + "1" * 32, "AccountSid": ACCOUNT_SID, "From": CALLER,
              "To": NUMBER, "CallStatus": "ringing"}
    # Still signed: the console's session does not open /voice.
    assert client.post("/voice", data=params).status_code == 403
    signed = signed_headers(TOKEN, "http://localhost/voice", params)
    answer = client.post("/voice", data=params, headers=signed)
    assert answer.status_code == 200
    assert answer.mimetype == "text/xml"
    assert "Content-Security-Policy" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    # A Twilio 404 is still the safe TwiML, a console 404 a page.
    missing = client.post("/voice/no-such-step", data=params,
                          headers=signed_headers(TOKEN, "http://localhost/voice/no-such-step",
                                                 params))
    assert missing.mimetype == "text/xml"
    assert b"<Response>" in missing.data
    page = client.get("/console/no-such-page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "<Response" not in page.text
    # The session cookie is scoped to /console.
    cookie = client.get_cookie("switchboard_console", path="/console")
    assert cookie is not None
    assert cookie.path == "/console"


def test_without_a_password_there_is_no_console(sqlite_url: str) -> None:
    app = create_app({"TESTING": True, "SWITCHBOARD_DATABASE_URL": sqlite_url,
                      "TWILIO_AUTH_TOKEN": TOKEN})
    try:
        assert register_console(app) is None
        response = app.test_client().get("/console/")
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "console" not in app.blueprints
    finally:
        app.extensions["switchboard"].store.close()


def test_registering_twice_is_harmless(app: Flask) -> None:
    assert register_console(app) is app.extensions["switchboard_console"]
