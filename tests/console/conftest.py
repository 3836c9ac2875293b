"""Fixtures for the console: an app with the console on (SQLite, or the suite's databases), a
logged-in test client, the emulator and the server together with the console on, and rows to
show."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks import create_app
from switchboard.callbacks.console import register_console
from switchboard.emulator.stack import SwitchboardStack

PASSWORD = "correct horse battery"
TOKEN = "console-test-auth-token-0123456789"
ACCOUNT_SID = "AC" + "c" * 32
NUMBER = "+15551230000"
CALLER = "+15555550100"


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


def console_app(database_url: str, *, record_delay: str = "0", **config: Any) -> Flask:
    """An app made by create_app, with the console registered on it (the webhooks' rows
    written at once unless ``record_delay`` says otherwise)."""
    app = create_app({
        "TESTING": True,
        "SWITCHBOARD_DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_RECORD_DELAY": record_delay,
    })
    app.config["SWITCHBOARD_CONSOLE_PASSWORD"] = PASSWORD
    app.config.update(config)
    assert register_console(app) is not None
    return app


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: FlaskClient, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/console/login").text)
    return client.post("/console/login", data={"csrf_token": token, "password": password})


def logged_in(app: Flask) -> FlaskClient:
    """A client of ``app`` logged in to the console."""
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


def logged_in_session(stack: SwitchboardStack) -> requests.Session:
    """A session logged in to the console of ``stack``'s server, over HTTP."""
    session = requests.Session()
    page = session.get(stack.url + "/console/login", timeout=10)
    response = session.post(stack.url + "/console/login", timeout=10, allow_redirects=False,
                            data={"csrf_token": csrf_of(page.text), "password": PASSWORD})
    assert response.status_code == 303
    return session


def _closed_after(app: Flask) -> Iterator[Flask]:
    yield app
    app.extensions["switchboard"].store.close()


@pytest.fixture
def console_config() -> dict[str, Any]:
    """Settings the ``app`` and ``db_app`` fixtures add to :func:`console_app`'s; a test
    module overrides this fixture to change them."""
    return {}


@pytest.fixture
def app(sqlite_url: str, console_config: dict[str, Any]) -> Iterator[Flask]:
    """The console's app on an SQLite file."""
    yield from _closed_after(console_app(sqlite_url, **console_config))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client logged in to the console."""
    return logged_in(app)


@pytest.fixture
def db_app(database_url: str, console_config: dict[str, Any]) -> Iterator[Flask]:
    """The console's app on each of the suite's databases: SQLite, then PostgreSQL."""
    yield from _closed_after(console_app(database_url, **console_config))


@pytest.fixture
def db_client(db_app: Flask) -> FlaskClient:
    """A client logged in to ``db_app``'s console."""
    return logged_in(db_app)


@pytest.fixture
def db_store(db_app: Flask) -> Any:
    return db_app.extensions["switchboard"].store


def add_call(store: Any, *, status: str = "completed", from_: str = CALLER, to: str = NUMBER,
             call_sid: str | None = None, **extra: str) -> str:
    """A call as the bundled flows store it: the webhook's row, then a status callback."""
    call_sid = call_sid or sid("CA")
    store.record_call({"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": from_, "To": to,
                       "CallStatus": "ringing", "Direction": "inbound", **extra})
    if status != "ringing":
        store.record_call_status({"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": from_,
                                  "To": to, "CallStatus": status, "SequenceNumber": "0",
                                  "CallDuration": "12"}, None)
    return call_sid


def add_voicemail(store: Any, call_sid: str, seconds: int = 7) -> str:
    recording_sid = sid("RE")
    store.record_recording_status({
        "RecordingSid": recording_sid, "CallSid": call_sid, "AccountSid": ACCOUNT_SID,
        "RecordingStatus": "completed", "RecordingDuration": str(seconds),
        "RecordingSource": "RecordVerb",
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/"
                        f"{recording_sid}",
    }, None)
    return recording_sid


def add_message(store: Any, body: str, *, from_: str = CALLER, to: str = NUMBER) -> str:
    message_sid = sid("SM")
    store.record_message({"MessageSid": message_sid, "AccountSid": ACCOUNT_SID, "From": from_,
                          "To": to, "Body": body, "NumMedia": "0"})
    return message_sid


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SwitchboardStack]:
    """The emulator and the server on real sockets, a number pointed at the server's bundled
    flows, the console on (its overview refreshing every second)."""
    stack = SwitchboardStack(instance_path=tmp_path).start()
    assert stack.app is not None
    stack.app.config.update(SWITCHBOARD_CONSOLE_PASSWORD=PASSWORD,
                            SWITCHBOARD_CONSOLE_REFRESH=1)
    assert register_console(stack.app) is not None
    state = stack.emulator.state
    state.buy_number(state.main_account_sid, NUMBER,
                     voice_url=stack.url + "/voice", status_callback=stack.url + "/voice/status",
                     sms_url=stack.url + "/sms")
    try:
        yield stack
    finally:
        stack.stop()
