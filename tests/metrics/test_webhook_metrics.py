"""``/metrics`` in one process (Flask's test client): the webhooks, the error policy, the
store and the REST client counted exactly; the scrape protected; no secret in it."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from switchboard.api import TwilioClient, TwilioHTTPError
from switchboard.callbacks import create_app
from switchboard.callbacks.metrics import MetricsConfig, register_metrics
from switchboard.config import ConfigError, Secret, load_settings
from switchboard.emulator import Emulator
from tests.server.broken import broken_blueprint
from tests.server.conftest import TOKEN as AUTH_TOKEN
from tests.server.conftest import Twilio, call_params, message_params, sid

from .scraping import TOKEN, bearer, parse, total, value

CONFIG = MetricsConfig(Secret(TOKEN))


def metrics_app(database_url: str, **settings: Any) -> Flask:
    app = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                      "SWITCHBOARD_DATABASE_URL": database_url, **settings})
    assert register_metrics(app, CONFIG) is not None
    return app


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    # a deadline no answer meets by accident on a loaded machine, a hang that always misses it
    application = metrics_app(sqlite_url, SWITCHBOARD_HANDLER_TIMEOUT="1.5")
    application.register_blueprint(broken_blueprint(hang_for=3))
    yield application
    application.extensions["switchboard"].store.close()


def scrape(app: Flask) -> dict[Any, float]:
    answer = app.test_client().get("/metrics", headers=bearer())
    assert answer.status_code == 200, answer.data
    return parse(answer.get_data(as_text=True))


def test_counters_move_by_exactly_the_requests_sent(app: Flask) -> None:
    twilio = Twilio(app.test_client())
    before = scrape(app)
    for _ in range(7):
        assert twilio.post("/voice", call_params()).status_code == 200
    for _ in range(4):
        assert twilio.post("/sms", message_params("hours")).status_code == 200
    for _ in range(3):
        status = call_params(CallStatus="completed", CallDuration="12", SequenceNumber="0")
        assert twilio.post("/voice/status", status).status_code == 204
    assert twilio.post("/voice", call_params(), signed=False).status_code == 403
    assert twilio.get("/voice", call_params()).status_code == 200
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    welcome = {"endpoint": "ivr.welcome", "kind": "voice"}
    assert moved("switchboard_webhooks_total", **welcome, status="200") == 8
    assert moved("switchboard_webhooks_total", **welcome, status="403") == 1
    assert moved("switchboard_webhooks_total", endpoint="sms_bot.reply", kind="sms",
                 status="200") == 4
    assert moved("switchboard_webhooks_total", endpoint="status.call_status",
                 kind="call_status", status="204") == 3
    assert moved("switchboard_webhook_seconds_count", endpoint="ivr.welcome") == 9
    assert moved("switchboard_webhook_seconds_bucket", endpoint="ivr.welcome", le="+Inf") == 9
    seconds = moved("switchboard_webhook_seconds_sum", endpoint="ivr.welcome")
    assert 0 < seconds < 9 * 1.5
    assert moved("switchboard_signature_refusals_total", endpoint="ivr.welcome") == 1
    scrapes = total(after, "switchboard_webhooks_total", endpoint="switchboard_metrics")
    assert scrapes == 0  # /metrics itself, /healthz: not webhooks


def test_the_error_policy_is_counted(app: Flask) -> None:
    twilio = Twilio(app.test_client())
    before = scrape(app)
    assert twilio.post("/broken/hang", call_params()).status_code == 200
    assert twilio.post("/broken/raise", call_params()).status_code == 200
    assert twilio.post("/broken/garbage", call_params()).status_code == 200
    assert twilio.post("/broken/status-hang", call_params(CallStatus="completed")
                       ).status_code == 503
    assert twilio.post("/voice/no-such-page", call_params()).status_code == 200
    assert twilio.post("/sms/fallback", message_params(ErrorCode="11200",
                                                       ErrorUrl="https://x/sms")).status_code == 200
    assert twilio.post("/voice/fallback", call_params(ErrorCode="99999")).status_code == 200
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("switchboard_handler_timeouts_total", endpoint="broken.voice_hangs") == 1
    assert moved("switchboard_handler_timeouts_total", endpoint="broken.status_hangs") == 1
    assert moved("switchboard_safe_answers_total", kind="voice", reason="timeout") == 1
    assert moved("switchboard_safe_answers_total", kind="call_status", reason="timeout") == 1
    assert moved("switchboard_safe_answers_total", kind="voice", reason="exception") == 1
    assert moved("switchboard_safe_answers_total", kind="voice", reason="bad_result") == 1
    assert moved("switchboard_safe_answers_total", kind="voice", reason="http_404") == 1
    assert moved("switchboard_fallbacks_total", kind="sms", error_code="11200") == 1
    assert moved("switchboard_fallbacks_total", kind="voice", error_code="other") == 1
    assert moved("switchboard_webhooks_total", endpoint="broken.status_hangs",
                 kind="call_status", status="503") == 1


def test_the_database_down_is_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the database folder should be")
    app = metrics_app(f"sqlite:///{blocker / 'switchboard.sqlite3'}")
    store = app.extensions["switchboard"].store
    store._behind.hold = 3  # the write-behind keeps 3 rows at most, so that some are dropped
    # 11 rows handed over: each /voice its call's and its exchange's, the callback its exchange
    twilio = Twilio(app.test_client())
    before = scrape(app)
    for _ in range(5):
        assert twilio.post("/voice", call_params()).status_code == 200
    assert twilio.post("/voice/status", call_params(CallStatus="completed")).status_code == 503
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and store.rows_dropped < 8:
        time.sleep(0.02)
    after = scrape(app)
    assert value(after, "switchboard_write_behind_rows_waiting") == 3
    assert total(after, "switchboard_write_behind_rows_dropped_total") - total(
        before, "switchboard_write_behind_rows_dropped_total") == 8
    # the 6 exchanges go first; then the 2 oldest calls, for the newer calls
    for table, count in (("webhook_exchanges", 6), ("calls", 2)):
        assert value(after, "switchboard_write_behind_rows_dropped_total", table=table) - value(
            before, "switchboard_write_behind_rows_dropped_total", table=table) == count
    assert value(after, "switchboard_database_unavailable") == 1
    assert value(after, "switchboard_database_errors_total", during="handler") - value(
        before, "switchboard_database_errors_total", during="handler") == 1
    assert value(after, "switchboard_safe_answers_total", kind="call_status",
                 reason="database") >= 1
    store.close()


def test_the_rest_client_is_counted(app: Flask) -> None:
    with Emulator() as emulator:
        client = TwilioClient(emulator.account_sid, emulator.auth_token, base_url=emulator.url)
        before = scrape(app)
        emulator.faults.add("503", count=1, methods=["GET"], retry_after=0)
        emulator.faults.add("429", count=1, methods=["POST"], retry_after=0)
        list(client.calls.list(limit=1))
        client.messages.create("+15550001111", from_="+15550002222", body="hello")
        with pytest.raises(TwilioHTTPError):
            client.calls.get("CA" + "0" * 32)
        client.close()
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("switchboard_twilio_api_requests_total", method="GET", status="200") == 1
    assert moved("switchboard_twilio_api_requests_total", method="POST", status="201") == 1
    assert moved("switchboard_twilio_api_requests_total", method="GET", status="404") == 1
    assert moved("switchboard_twilio_api_retries_total", method="GET", reason="503") == 1
    assert moved("switchboard_twilio_api_retries_total", method="POST", reason="429") == 1
    assert moved("switchboard_twilio_api_errors_total", method="GET", status="404") == 1
    assert total(after, "switchboard_twilio_api_errors_total", status="200") == 0
    assert moved("switchboard_twilio_api_request_seconds_count", method="GET") == 2


def test_a_connection_that_fails_is_counted_as_such(app: Flask) -> None:
    from tests.conftest import free_port

    client = TwilioClient("AC" + "0" * 32, "token", base_url=f"http://127.0.0.1:{free_port()}",
                          retries=1)
    client.retries = client.retries.new(backoff_factor=0)
    before = scrape(app)
    with pytest.raises(Exception, match=r"refused|connect"):
        client.calls.get("CA" + "0" * 32)
    after = scrape(app)
    assert value(after, "switchboard_twilio_api_errors_total", method="GET",
                 status="connection") - value(before, "switchboard_twilio_api_errors_total",
                                              method="GET", status="connection") == 1
    assert value(after, "switchboard_twilio_api_retries_total", method="GET", reason="connect"
                 ) - value(before, "switchboard_twilio_api_retries_total", method="GET",
                           reason="connect") == 1


def test_a_scrape_without_the_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    for headers in ({}, bearer("metrics-token-7c1e0b9a55d24f3X"), {"Authorization": TOKEN},
                    {"Authorization": "Basic !!!"}, {"Authorization": "Digest " + TOKEN}):
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.data == b""
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert client.post("/metrics", headers=bearer()).status_code == 405
    basic = base64.b64encode(f"prometheus:{TOKEN}".encode()).decode()
    assert client.get("/metrics", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": f"bearer  {TOKEN}"}).status_code == 200


def test_no_secret_in_the_scrape(app: Flask) -> None:
    twilio = Twilio(app.test_client())
    twilio.post("/voice", call_params(From="+15550009999"))
    twilio.post("/sms", message_params("my password is hunter2"))
    answer = app.test_client().get("/metrics", headers=bearer())
    text = answer.get_data(as_text=True)
    for secret in (TOKEN, AUTH_TOKEN, "hunter2", "+15550009999"):
        assert secret not in text
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.content_type.startswith("text/plain")


def test_off_unless_configured(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = create_app({"TESTING": True, "SWITCHBOARD_DATABASE_URL": sqlite_url})
    assert register_metrics(plain) is None
    assert plain.test_client().get("/metrics", headers=bearer()).status_code == 404
    monkeypatch.setenv("SWITCHBOARD_METRICS_TOKEN", TOKEN)
    configured = create_app({"TESTING": True, "SWITCHBOARD_DATABASE_URL": sqlite_url})
    assert register_metrics(configured) is not None
    assert register_metrics(configured) is configured.extensions["switchboard.metrics"]  # once
    assert configured.test_client().get("/metrics", headers=bearer()).status_code == 200
    for app in (plain, configured):
        app.extensions["switchboard"].store.close()


@pytest.mark.parametrize("token", ["short", "sixteen chars ok", "é" * 20, "x" * 15])
def test_a_weak_or_odd_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="SWITCHBOARD_METRICS_TOKEN: must be at least 16") as e:
        load_settings(environ={"SWITCHBOARD_METRICS_TOKEN": token})
    assert token not in str(e.value)


def test_voicemail_notices_are_counted(app: Flask) -> None:
    class Notices:
        counts = {("text", "sent"): 2, ("email", "failed"): 1}

    app.extensions["switchboard.notices"] = Notices()
    samples = scrape(app)
    assert value(samples, "switchboard_voicemail_notices_total", channel="text",
                 outcome="sent") >= 2
    Notices.counts = {("text", "sent"): 5, ("email", "failed"): 1}
    again = scrape(app)
    assert value(again, "switchboard_voicemail_notices_total", channel="text", outcome="sent") - (
        value(samples, "switchboard_voicemail_notices_total", channel="text", outcome="sent")
    ) == 3
    del app.extensions["switchboard.notices"]


def test_a_message_sid_is_never_a_label(app: Flask) -> None:
    twilio = Twilio(app.test_client())
    message_sid = sid("SM")
    twilio.post("/sms/status", {"MessageSid": message_sid, "MessageStatus": "delivered",
                                "AccountSid": "AC" + "a" * 32})
    assert message_sid not in app.test_client().get("/metrics", headers=bearer()).get_data(
        as_text=True)
