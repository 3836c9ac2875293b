"""``switchboard emulator``: the command a developer runs."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner

from switchboard.cli.emulator import emulator_command
from tests.emulator_rest.conftest import TIMEOUT

SID, TOKEN = "AC" + "ab" * 16, "cd" * 16


class Running:
    """``switchboard emulator`` in a child process, its output read line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from switchboard.cli import main; main()", "emulator", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, marker: str, timeout: float = 15) -> list[str]:
        seen: list[str] = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError("the command ended:\n" + "\n".join(seen))
            seen.append(line)
            if marker in line:
                return seen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def run() -> Iterator:
    started: list[Running] = []

    def start(*args: str, **env: str) -> Running:
        running = Running(list(args), env)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def value(lines: list[str], label: str) -> str:
    return next(line.split(label, 1)[1].split()[0] for line in lines if label in line)


def test_made_up_account_is_printed_once_and_works(run) -> None:
    lines = run("--port", "0", "--quiet").until("CTRL+C")
    url = value(lines, "listening on ")
    sid, token = value(lines, "Account SID: "), value(lines, "Auth token:  ")
    assert "made up" in "\n".join(lines)
    response = requests.get(f"{url}/2010-04-01/Accounts/{sid}.json", auth=(sid, token),
                            timeout=TIMEOUT)
    assert response.status_code == 200


def test_configured_account_is_used_and_its_token_never_shown(run) -> None:
    lines = run("--port", "0", "--quiet", TWILIO_ACCOUNT_SID=SID,
                TWILIO_AUTH_TOKEN=TOKEN).until("CTRL+C")
    output = "\n".join(lines)
    assert TOKEN not in output
    assert value(lines, "Account SID: ") == SID
    url = value(lines, "listening on ")
    response = requests.get(f"{url}/2010-04-01/Accounts/{SID}.json", auth=(SID, TOKEN),
                            timeout=TIMEOUT)
    assert response.status_code == 200


def test_configured_api_key_is_accepted(run) -> None:
    key, secret = "SK" + "ef" * 16, "01" * 16
    lines = run("--port", "0", "--quiet", TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN,
                TWILIO_API_KEY_SID=key, TWILIO_API_KEY_SECRET=secret).until("CTRL+C")
    assert secret not in "\n".join(lines)
    url = value(lines, "listening on ")
    response = requests.get(f"{url}/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers.json",
                            auth=(key, secret), timeout=TIMEOUT)
    assert response.status_code == 200
    # a standard key, as Twilio's are by default: not the Accounts endpoints (the auth token)
    response = requests.get(f"{url}/2010-04-01/Accounts/{SID}.json", auth=(key, secret),
                            timeout=TIMEOUT)
    assert response.status_code == 401
    assert TOKEN not in response.text


def test_faults_from_the_command_line(run) -> None:
    lines = run("--port", "0", "--quiet", "--fault", "503:count=1",
                TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN).until("CTRL+C")
    url = value(lines, "listening on ")
    answers = [requests.get(f"{url}/2010-04-01/Accounts/{SID}.json", auth=(SID, TOKEN),
                            timeout=TIMEOUT).status_code for _ in range(2)]
    assert answers == [503, 200]


def test_bad_fault_spec_is_a_usage_error() -> None:
    result = CliRunner().invoke(emulator_command, ["--port", "0", "--fault", "teapot"])
    assert result.exit_code == 2
    assert "fault kind 'teapot'" in result.output


def test_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = CliRunner().invoke(emulator_command, ["--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output
