"""The server under a real gunicorn on 127.0.0.1, configured by deploy/gunicorn.conf.py."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from lxml import etree

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.security import signed_headers
from switchboard.callbacks.store import Store
from switchboard.callbacks.twiml import parse_twiml
from tests.conftest import free_port, stop_process
from tests.server.conftest import TOKEN, call_params, message_params, sid, spoken

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
HANDLER_TIMEOUT = 0.5
pytestmark = pytest.mark.slow


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    env.update(SWITCHBOARD_DOTENV="0", GUNICORN_WORKERS="2", GUNICORN_GRACEFUL_TIMEOUT="5")
    env.update(extra)
    return env


def gunicorn(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), *args],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    stop_process(process, grace=10)


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or workers still booting
            pass
        time.sleep(0.05)
    pytest.fail(f"gunicorn did not become healthy:\n{log.read_text()}")


@dataclass
class Server:
    base: str
    log: Path
    database_url: str
    session: requests.Session

    def request(self, path: str, params: dict[str, str] | None = None, *, method: str = "POST",
                signed: bool = True, headers: dict[str, str] | None = None) -> requests.Response:
        params = params or {}
        all_headers = dict(headers or {})
        if method == "GET":
            url = self.base + path + ("?" + urlencode(params) if params else "")
            if signed:
                all_headers.update(signed_headers(TOKEN, url))
            return self.session.get(url, headers=all_headers, timeout=10)
        url = self.base + path
        if signed:
            all_headers.update(signed_headers(TOKEN, url, params))
        return self.session.post(url, data=params, headers=all_headers, timeout=10)


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = server_env(
        TWILIO_AUTH_TOKEN=TOKEN,
        SWITCHBOARD_DATABASE_URL=module_database_url,
        SWITCHBOARD_HANDLER_TIMEOUT=str(HANDLER_TIMEOUT),
        GUNICORN_BIND=f"127.0.0.1:{port}",
    )
    process = gunicorn("tests.server.gunicorn_app:app", env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log)
        with requests.Session() as session:
            yield Server(base, log, module_database_url, session)
    finally:
        stop(process)


def twiml(response: requests.Response) -> etree._Element:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    return parse_twiml(response.content)


ROUTES = {
    "/voice": "voice", "/voice/menu": "voice", "/voice/voicemail": "voice",
    "/voice/voicemail/saved": "voice", "/voice/dial-result": "voice",
    "/voice/fallback": "voice", "/sms": "sms", "/sms/fallback": "sms",
    "/voice/status": "status", "/sms/status": "status", "/voice/recording-status": "status",
}


def params_for(path: str) -> dict[str, str]:
    if path == "/voice/status":
        return call_params(CallStatus="completed", SequenceNumber="0")
    if path == "/sms/status":
        return {"MessageSid": sid("SM"), "MessageStatus": "sent"}
    if path == "/voice/recording-status":
        return {"CallSid": sid("CA"), "RecordingSid": sid("RE"), "RecordingStatus": "completed",
                "RecordingUrl": "https://api.twilio.com/r", "RecordingDuration": "3"}
    return call_params() if ROUTES[path] == "voice" else message_params("HELP")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_endpoint_signed_and_unsigned(server: Server, method: str) -> None:
    for path, kind in ROUTES.items():
        response = server.request(path, params_for(path), method=method)
        if kind == "status":
            assert response.status_code == 204, (path, response.text)
        else:
            twiml(response)
        refused = server.request(path, params_for(path), method=method, signed=False)
        assert refused.status_code == 403, path
        assert refused.content == b""
    assert server.session.get(server.base + "/healthz").json() == {"status": "ok"}


def test_the_ivr_walked_digit_by_digit(server: Server) -> None:
    call = call_params(CallStatus="ringing")

    def press(path: str, **extra: str) -> Any:
        return twiml(server.request(path, dict(call, **extra)))

    def press_url(url: str, **extra: str) -> Any:
        assert url.startswith(server.base)
        return press(url.removeprefix(server.base), **extra)

    welcome = press("/voice")
    action = welcome.find("Gather").get("action").removeprefix(server.base)
    assert "press 1" in spoken(welcome)
    assert "open Monday" in spoken(press(action, Digits="1"))
    assert "not one of the options" in spoken(press(action, Digits="7"))
    assert "did not get that" in spoken(press_url(welcome.find("Redirect").text))
    record = press(action, Digits="2").find("Record")
    assert record.get("recordingStatusCallback") == server.base + "/voice/recording-status"
    saved = press_url(record.get("action"), RecordingSid=sid("RE"), RecordingDuration="4")
    assert [child.tag for child in saved] == ["Say", "Hangup"]
    assert press(action, Digits="3").find("Record") is not None  # no forward number
    assert [child.tag for child in press(action, Digits="9")] == ["Say", "Hangup"]  # 3rd miss


def test_duplicated_and_out_of_order_status_callbacks(server: Server) -> None:
    call_sid = sid("CA")
    events = [call_params(call_sid, CallStatus=s, SequenceNumber=str(n))
              for n, s in enumerate(["initiated", "ringing", "in-progress", "completed"])]
    for params in [events[3], events[1], events[3], events[0], events[2], events[1]]:
        assert server.request("/voice/status", params).status_code == 204
    store = Store(server.database_url)
    try:
        assert store.get_call(call_sid)["status"] == "completed"
        assert len(store.status_callbacks(call_sid)) == 4
    finally:
        store.close()


def test_the_sms_bot(server: Server) -> None:
    caller = "+1555" + sid("")[:7].translate(str.maketrans("abcdef", "123456"))

    def send(body: str) -> list[str]:
        root = twiml(server.request("/sms", message_params(body, From=caller)))
        return ["".join(m.itertext()) for m in root.iter("Message")]

    assert "HOURS" in send("HELP")[0]
    assert send("STOP") == []  # Twilio confirms an exact keyword itself (see the SMS bot)
    assert send("hello") == []
    assert send("START") == []
    assert len(send("hello")) == 1
    assert "you are unsubscribed" in send("Stop!")[0]  # a variant Twilio does not act on


@pytest.mark.parametrize("path", ["raise", "hang", "garbage", "bad-xml"])
def test_failing_handlers_still_answer_in_time(server: Server, path: str) -> None:
    started = time.monotonic()
    root = twiml(server.request(f"/broken/{path}", call_params()))
    assert time.monotonic() - started < HANDLER_TIMEOUT + 2
    assert spoken(root) == VOICE_APOLOGY
    assert len(twiml(server.request("/broken/sms-raise", message_params()))) == 0
    assert server.request("/broken/status-raise", call_params()).status_code == 503


def test_the_access_log_carries_no_query_string_or_secret(server: Server) -> None:
    params = call_params(Password="hunter2-secret")
    signature = signed_headers(TOKEN, f"{server.base}/voice?{urlencode(params)}")
    server.request("/voice", params, method="GET")
    server.session.get(server.base + "/healthz?token=hunter2-secret")
    deadline = time.monotonic() + 5
    while "/healthz" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = server.log.read_text()
    assert '"GET /voice HTTP/1.1" 200' in text
    assert "hunter2-secret" not in text
    assert TOKEN not in text
    assert signature["X-Twilio-Signature"] not in text


def test_gunicorn_applies_no_forwarded_headers(server: Server) -> None:
    """Only the app decides which proxies' headers count (SWITCHBOARD_TRUSTED_PROXIES, 0
    here): gunicorn's own default would take them from any process on 127.0.0.1."""
    params = call_params()
    https = signed_headers(TOKEN, server.base.replace("http:", "https:") + "/voice", params)
    for header in ({"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"}):
        response = server.session.post(server.base + "/voice", data=params,
                                        headers={**https, **header}, timeout=10)
        assert response.status_code == 403, header
    script_name = server.request("/voice", params, headers={"SCRIPT_NAME": "/elsewhere"})
    assert twiml(script_name).find("Gather").get("action") == server.base + "/voice/menu"


def wait_for_log(server: Server, text: str) -> str:
    deadline = time.monotonic() + 5
    while text not in server.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} never reached the log"
        time.sleep(0.05)
    return server.log.read_text(errors="replace")


def test_log_lines_stay_one_line_each(server: Server) -> None:
    """A newline sent percent-encoded in a path cannot start a log line of its own."""
    server.session.post(server.base + "/voice/x%0Aforged%20line%0D%00", timeout=10)
    server.session.get(server.base + "/nothing%0Aforged%20line", timeout=10)
    text = wait_for_log(server, "/nothing")
    assert not [line for line in text.splitlines() if line.startswith("forged")]
    assert '"POST /voice/x\\nforged line\\r\\x00 HTTP/1.1" 200' in text  # access log
    assert "POST /voice/x\\nforged line\\r\\x00 answered with safe TwiML" in text  # the app's


def test_the_apps_lines_carry_the_time_the_worker_and_the_level(server: Server) -> None:
    assert server.request("/voice", call_params(), signed=False).status_code == 403
    text = wait_for_log(server, "refused POST /voice with 403")
    lines = [line for line in text.splitlines() if "refused POST /voice with 403" in line]
    pattern = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[WARNING\] refused "
    assert all(re.match(pattern, line) for line in lines), lines


def test_an_unparsable_request_line_leaves_its_query_string_out_of_the_log(
    server: Server,
) -> None:
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /voice?token=hunter2-query\x00 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")
    text = wait_for_log(server, "Invalid request from")
    assert "hunter2-query" not in text
    assert "/voice?…" in text


def test_gunicorn_refuses_to_start_without_an_auth_token(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    env = server_env(GUNICORN_BIND=f"127.0.0.1:{free_port()}",
                     SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    process = gunicorn(env=env, log=log)
    try:
        assert process.wait(30) != 0
    finally:
        stop(process)
    assert "TWILIO_AUTH_TOKEN is not set" in log.read_text()


def test_call_and_message_rows_are_written_after_the_answer(
    server: Server, tmp_path: Path
) -> None:
    """The webhook's row follows its answer within SWITCHBOARD_RECORD_DELAY (0.02 s); a
    worker stopped gracefully writes what it still holds (here, a delay of 5 s)."""
    call, message = call_params(), message_params("HELP")
    twiml(server.request("/voice", call))
    twiml(server.request("/sms", message))
    store = Store(server.database_url)
    try:
        deadline = time.monotonic() + 5
        while store.get_call(call["CallSid"]) is None or store.get_message(
            message["MessageSid"]
        ) is None:
            assert time.monotonic() < deadline, "the rows were not written"
            time.sleep(0.02)
    finally:
        store.close()

    port, log = free_port(), tmp_path / "gunicorn.log"
    url = f"sqlite:///{tmp_path / 'switchboard.sqlite3'}"
    env = server_env(TWILIO_AUTH_TOKEN=TOKEN, SWITCHBOARD_DATABASE_URL=url,
                     SWITCHBOARD_RECORD_DELAY="5", GUNICORN_BIND=f"127.0.0.1:{port}")
    process = gunicorn("tests.server.gunicorn_app:app", env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    calls = [call_params() for _ in range(6)]
    try:
        wait_healthy(base, process, log)
        with requests.Session() as session:
            held = Server(base, log, url, session)
            for params in calls:
                twiml(held.request("/voice", params))
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text()
    store = Store(url)
    try:
        assert all(store.get_call(params["CallSid"]) for params in calls)
    finally:
        store.close()


def test_workers_freeze_what_they_made_at_start_up(server: Server) -> None:
    """A full garbage collection does not walk the app's start-up objects in a request."""
    frozen = server.session.get(server.base + "/test-gc", timeout=10).json()["frozen"]
    assert frozen > 10_000


def trickle(
    server: Server, path: str, params: dict[str, str], seconds: float
) -> tuple[bytes, float]:
    """POST ``params`` to ``path`` a byte at a time over ``seconds``: the answer's first bytes
    and when they came."""
    body = urlencode(params).encode()
    host, port = server.base.removeprefix("http://").split(":")
    signature = signed_headers(TOKEN, server.base + path, params)["X-Twilio-Signature"]
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
            ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        started = time.monotonic()

        def send() -> None:
            with contextlib.suppress(OSError):  # the server may answer and close first
                for byte in range(len(body)):
                    sock.sendall(body[byte:byte + 1])
                    time.sleep(seconds / len(body))

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = sock.recv(65536)
        took = time.monotonic() - started
        sock.shutdown(socket.SHUT_RDWR)
        sender.join(seconds + 5)
    return answer, took


def test_a_trickled_body_holds_no_worker_past_the_deadline(server: Server) -> None:
    """gunicorn's sync worker reads the body in the app: the handler's deadline cuts the
    read short, where the worker timeout would kill the worker (and its unwritten rows)."""
    for path, status in [("/voice", b"200"), ("/voice/status", b"408")]:
        answer, took = trickle(server, path, call_params(CallStatus="completed"), seconds=4)
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
        assert took < HANDLER_TIMEOUT + 1.5, took
    text = wait_for_log(server, "POST /voice/status: the body did not arrive within the 0.5 s")
    assert "POST /voice: the body did not arrive within the 0.5 s deadline" in text
    assert "WORKER TIMEOUT" not in text
