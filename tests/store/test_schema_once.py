"""The tables are created once per process: at start-up, or (the database down then) by the
breaker's probe when it returns, never again by each webhook."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from switchboard.callbacks.store import Store
from tests.conftest import free_port
from tests.server.conftest import Twilio, call_params, make_app, message_params, twiml


def webhooks(twilio: Twilio) -> list[int]:
    """One of each kind of webhook; their statuses."""
    call = call_params()
    return [
        twilio.post("/voice", call).status_code,
        twilio.post("/voice/menu", {**call, "Digits": "9"}).status_code,
        twilio.post("/sms", message_params("HELP")).status_code,
        twilio.post("/voice/status", {**call, "CallStatus": "completed"}).status_code,
        twilio.post("/sms/status", {"MessageSid": "SM" + "1" * 32,
                                    "MessageStatus": "delivered"}).status_code,
    ]


def count_create_all(store: Store) -> list[float]:
    """The times ``create_all`` is called on ``store`` from now on."""
    calls: list[float] = []
    create_all = store.create_all

    def counted() -> None:
        calls.append(time.monotonic())
        create_all()

    store.create_all = counted  # type: ignore[method-assign]
    return calls


def healthy(app: Flask, within: float = 10.0) -> int:
    """``/healthz``'s status once its check has finished: the check goes on in its thread
    after a 503 that says it had not finished within 0.7 s (a loaded machine)."""
    until = time.monotonic() + within
    while True:
        status = app.test_client().get("/healthz").status_code
        if status == 200 or time.monotonic() > until:
            return status
        time.sleep(0.1)


def test_with_the_database_up_webhooks_never_create_the_tables(database_url: str) -> None:
    app = make_app(database_url)
    store = app.extensions["switchboard"].store
    try:
        assert store.schema_ready
        calls = count_create_all(store)
        twilio = Twilio(app.test_client())
        assert webhooks(twilio) == [200, 200, 200, 204, 204]
        assert healthy(app) == 200
        # (at most once more: for a table a module added to the schema after start-up)
        assert len(calls) <= 1
        calls.clear()
        for _ in range(4):
            assert webhooks(twilio) == [200, 200, 200, 204, 204]
            assert healthy(app) == 200
        assert calls == []
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def down_app(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        blocker = tmp_path / "blocked"
        blocker.write_text("where the folder should be")
        url = f"sqlite:///{blocker / 'db.sqlite3'}"
    else:
        url = f"postgresql+psycopg://switchboard@127.0.0.1:{free_port()}/nowhere"
    app = make_app(url)
    yield app
    app.extensions["switchboard"].store.close()


def test_with_the_database_down_webhooks_do_not_try_to_create_the_tables(
    down_app: Flask,
) -> None:
    """Start-up found the database down: the webhooks that follow are answered without
    trying it again (no connection asked for), the tables left to the breaker's probe."""
    store = down_app.extensions["switchboard"].store
    assert not store.schema_ready
    attempts: list[str] = []  # by the threads that answer (the write-behind's are its own)
    checkout = store.engine.raw_connection

    def counted() -> Any:
        if threading.current_thread() is threading.main_thread():
            attempts.append("a request's")
        return checkout()

    store.engine.raw_connection = counted
    twilio = Twilio(down_app.test_client())
    started = time.monotonic()
    for _ in range(10):
        assert webhooks(twilio) == [200, 200, 200, 503, 503]
    took = time.monotonic() - started
    assert attempts == [], "a webhook tried the database"
    assert took < 2.0, f"50 webhooks took {took:.2f} s"


def test_the_tables_are_made_when_the_database_returns_without_a_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_RETRY_AFTER", "0.2")
    blocker = tmp_path / "blocked"
    blocker.write_text("where the folder should be")
    app = make_app(f"sqlite:///{blocker / 'db.sqlite3'}")
    store = app.extensions["switchboard"].store
    try:
        twilio = Twilio(app.test_client())
        assert twilio.post("/voice/status", call_params(CallStatus="completed")).status_code == 503
        blocker.unlink()
        deadline = time.monotonic() + 5
        while not store.schema_ready and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.schema_ready
        calls = count_create_all(store)
        assert twilio.post("/voice/status", call_params(CallStatus="completed")).status_code == 204
        twiml(twilio.post("/voice/menu", call_params(Digits="9")))
        assert calls == []
    finally:
        store.close()


def test_ensure_schema_creates_the_tables_once(database_url: str) -> None:
    store = Store(database_url)
    try:
        calls = count_create_all(store)
        for _ in range(3):
            store.ensure_schema()
        assert len(calls) == 1
        assert store.schema_ready
    finally:
        store.close()
