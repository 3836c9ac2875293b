"""The development server (``flask --app switchboard.callbacks run``, ``switchboard run``)
writes the call and message rows it answered but had not written yet when it is stopped with
SIGTERM or SIGINT (Ctrl-C). SIGTERM's default action would end the process without its exit
hooks, and the rows would be lost. Real servers in subprocesses; ``SWITCHBOARD_RECORD_DELAY=5``
so that every row still waits when the signal arrives."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from switchboard.callbacks.security import signed_headers
from switchboard.callbacks.store import Store
from tests.conftest import free_port
from tests.e2e.conftest import ROOT, SWITCHBOARD, subprocess_env

TOKEN = "dev-server-token-0123456789abcdef"
WEBHOOKS = 12


def serve(command: str, database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    args = {
        "flask": [sys.executable, "-m", "flask", "--app", "switchboard.callbacks", "run"],
        "switchboard": [str(SWITCHBOARD), "run"],
    }[command]
    env = subprocess_env({
        "SWITCHBOARD_DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_RECORD_DELAY": "5",
    })
    with log.open("wb") as out:
        return subprocess.Popen([*args, "--port", str(port)], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)


def wait_until_up(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited:\n{log.read_text()}"
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    pytest.fail(f"the server did not start:\n{log.read_text()}")


def webhook(session: requests.Session, base: str, path: str, params: dict[str, str]) -> None:
    url = base + path
    response = session.post(url, data=params, headers=signed_headers(TOKEN, url, params),
                            timeout=10)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        ("flask", signal.SIGTERM),
        ("flask", signal.SIGINT),
        ("switchboard", signal.SIGTERM),
    ],
    ids=["flask-run-SIGTERM", "flask-run-SIGINT", "switchboard-run-SIGTERM"],
)
def test_a_stopped_dev_server_writes_every_row_it_answered(
    command: str, signum: signal.Signals, database_url: str, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    server = serve(command, database_url, port, log)
    try:
        wait_until_up(server, base, log)
        calls = [f"CA{uuid.uuid4().hex}" for _ in range(WEBHOOKS)]
        messages = [f"SM{uuid.uuid4().hex}" for _ in range(WEBHOOKS)]
        with requests.Session() as session:
            for call, message in zip(calls, messages, strict=True):
                webhook(session, base, "/voice", {
                    "CallSid": call, "From": "+15551230001", "To": "+15559870002",
                    "CallStatus": "ringing", "Direction": "inbound"})
                webhook(session, base, "/sms", {
                    "MessageSid": message, "From": "+15551230001", "To": "+15559870002",
                    "Body": "hello"})
        server.send_signal(signum)
        code = server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    output = log.read_text()
    assert "Traceback" not in output, output
    assert "lost" not in output, output
    store = Store(database_url)
    try:
        missing = [sid for sid in calls if store.get_call(sid) is None]
        missing += [sid for sid in messages if store.get_message(sid) is None]
    finally:
        store.close()
    assert missing == [], f"{len(missing)} of {2 * WEBHOOKS} rows lost"
    assert code == 0, output  # stopped as by Ctrl-C
