"""``switchboard emulator``: the command a developer runs."""

from __future__ import annotations

import errno
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner

from switchboard.cli import cli
from switchboard.cli.emulator import emulator_command
from switchboard.emulator import Emulator
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


# -- an address that cannot be used: one line, exit status 2, before anything is started ---


@pytest.fixture
def nothing_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator may not be started, nor its settings read."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("started although an option is wrong")

    monkeypatch.setattr(Emulator, "start", refused)
    monkeypatch.setattr("switchboard.config.load_settings", refused)


def emulator(*args: str, prefix: str = "Error: emulator: ") -> str:
    """``switchboard emulator ARGS``, which must fail with a usage error: its one line."""
    result = CliRunner().invoke(cli, ["emulator", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == "", result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(prefix), result.stderr
    return result.stderr.strip()


@pytest.mark.usefixtures("nothing_started")
def test_port_in_use_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = emulator("--port", str(port))
    assert line == (f"Error: emulator: Invalid value for '--port': 127.0.0.1:{port} is already "
                    "in use (Address already in use); pick another port, or 0 for any free port")


@pytest.mark.usefixtures("nothing_started")
def test_a_name_under_invalid_is_refused_without_asking_a_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a resolver was asked: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket.socket, "bind", lookup)
    for host in ("nosuch.invalid", "NoSuch.Invalid."):
        assert emulator("--host", host) == (
            f"Error: emulator: Invalid value for '--host': '{host}' does not resolve: names "
            "under .invalid never do; give a name or address of this machine, like 127.0.0.1")


@pytest.mark.usefixtures("nothing_started")
def test_a_name_the_resolver_does_not_know(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []

    def unknown(host: str, *args: object, **kwargs: object) -> None:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    assert emulator("--host", "nosuch.example", "--port", "0") == (
        "Error: emulator: Invalid value for '--host': 'nosuch.example' does not resolve to an "
        "address (Name or service not known); give a name or address of this machine, like "
        "127.0.0.1")
    assert asked == ["nosuch.example"]


def test_an_address_is_not_looked_up_and_a_name_of_this_machine_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from switchboard.cli.emulator import _unresolved

    def lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a resolver was asked: {args}")

    with monkeypatch.context() as patched:
        patched.setattr(socket, "getaddrinfo", lookup)
        assert _unresolved("127.0.0.1") is None
        assert _unresolved("::1") is None
    assert _unresolved("localhost") is None  # /etc/hosts


@pytest.mark.usefixtures("nothing_started")
def test_an_address_of_another_machine() -> None:
    line = emulator("--host", "192.0.2.1", "--port", "0")  # TEST-NET-1: never this machine's
    assert line.startswith("Error: emulator: Invalid value for '--host': '192.0.2.1' is not an "
                           "address of this machine (")
    assert line.endswith("); give one, like 127.0.0.1")


@pytest.mark.usefixtures("nothing_started")
def test_a_port_that_needs_privileges(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket, "create_server", denied)
    assert emulator("--port", "80") == (
        "Error: emulator: Invalid value for '--port': this user may not listen on "
        "127.0.0.1:80 (Permission denied); ports below 1024 need privileges; pick another "
        "port, like 8080")


@pytest.mark.usefixtures("nothing_started")
def test_another_listening_error_is_one_line_with_status_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(socket, "create_server", exhausted)
    result = CliRunner().invoke(cli, ["emulator", "--port", "0"])
    assert result.exit_code == 1
    assert result.output == ("Error: cannot listen on 127.0.0.1:0 (Too many open files); check "
                             "--host and --port\n")


def test_a_port_taken_after_the_check_is_the_same_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def taken(self: Emulator) -> None:
        raise OSError(errno.EADDRINUSE, "Address already in use (while attempting to bind on "
                                        "address ('127.0.0.1', 0))")

    monkeypatch.setattr(Emulator, "start", taken)
    assert emulator("--port", "0", "--quiet") == (
        "Error: emulator: Invalid value for '--port': 127.0.0.1:0 is already in use (Address "
        "already in use); pick another port, or 0 for any free port")


@pytest.mark.usefixtures("nothing_started")
def test_a_fault_its_injector_refuses_is_a_usage_error_before_start() -> None:
    line = emulator("--port", "0", "--fault", "503:rate=2")
    assert line == "Error: emulator: Invalid value for --fault: rate 2.0 must be between 0 and 1"


def test_a_setting_that_cannot_be_used_is_status_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setattr(Emulator, "start", lambda self: pytest.fail("started"))
    line = emulator("--port", "0", prefix="Error: emulator: TWILIO_ACCOUNT_SID: ")
    assert "'AC123' is not an account SID" in line
