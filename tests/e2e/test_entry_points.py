"""Every documented way to start the server serves it: the ``switchboard`` console script,
``python -m switchboard``, ``flask --app switchboard.callbacks`` and gunicorn's
``switchboard.callbacks:create_app()``, each started from a folder of its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, stop_process
from tests.e2e.conftest import SWITCHBOARD, subprocess_env

BIN = Path(sys.executable).parent
TOKEN = "entry-points-token-0123456789abcdef"

COMMANDS = {
    "console script": [str(SWITCHBOARD), "run", "--port", "{port}"],
    "python -m switchboard": [sys.executable, "-m", "switchboard", "run", "--port", "{port}"],
    "flask --app": [str(BIN / "flask"), "--app", "switchboard.callbacks", "run",
                    "--port", "{port}"],
    "gunicorn": [str(BIN / "gunicorn"), "--bind", "127.0.0.1:{port}", "--workers", "1",
                 "switchboard.callbacks:create_app()"],
}


@pytest.mark.parametrize("how", list(COMMANDS))
def test_the_server_starts_and_answers(how: str, tmp_path: Path) -> None:
    port = free_port()
    command = [part.format(port=port) for part in COMMANDS[how]]
    env = subprocess_env({
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'switchboard.sqlite3'}",
        "SWITCHBOARD_DOTENV": "0",
    })
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()
            try:
                health = requests.get(base + "/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        assert health.status_code == 200, health.text
        assert requests.post(base + "/voice", data={"CallSid": "CA" + "0" * 32},
                             timeout=10).status_code == 403   # unsigned
    finally:
        stop_process(server)


def test_python_m_switchboard_is_the_console_script() -> None:
    by_module = subprocess.run([sys.executable, "-m", "switchboard", "--help"],
                               capture_output=True, text=True, timeout=60)
    by_script = subprocess.run([str(SWITCHBOARD), "--help"], capture_output=True, text=True,
                               timeout=60)
    assert by_module.returncode == by_script.returncode == 0
    assert by_module.stdout == by_script.stdout
    for command in ("api", "call", "emulator", "provision", "simulate", "sms", "run"):
        assert f"\n  {command} " in by_module.stdout
