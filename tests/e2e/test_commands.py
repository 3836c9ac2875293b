"""The "Try it without an account" walkthrough, command by command, as subprocesses of the
installed ``switchboard`` script: ``switchboard emulator`` and ``switchboard run`` in the
background, then ``api``, ``provision``, ``simulate call``, ``simulate sms`` and ``sms`` against
them. The README's walkthrough is these commands (the rest of tests/e2e drives the same
commands in process, which is quicker)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.store.schema import calls
from tests.conftest import free_port
from tests.e2e.conftest import ROOT, SWITCHBOARD, subprocess_env

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "local-emulator-token"
CALLER = "+15555550100"
pytestmark = pytest.mark.slow


class Background:
    """A ``switchboard`` command running in the background, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(SWITCHBOARD), *args], env=env, cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{what} exited with {self.process.returncode}:\n"
                            f"{self.log.read_text()}")
            try:
                if ready():
                    return
            except requests.RequestException:  # not listening yet
                pass
            time.sleep(0.05)
        pytest.fail(f"{what} did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Shell:
    """The walkthrough's shell: its environment, and commands run in it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(SWITCHBOARD), *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        assert AUTH_TOKEN not in done.stdout + done.stderr
        return done


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[tuple[Shell, str, str]]:
    """``switchboard emulator`` and ``switchboard run`` started as the walkthrough says; yields
    the shell, the emulator's URL and the server's URL."""
    emulator_port, server_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    server_url = f"http://127.0.0.1:{server_port}"
    env = subprocess_env({
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": emulator_url,
        "SWITCHBOARD_PUBLIC_URL": server_url,
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_FORWARD_NUMBER": "+15557770000",
    })
    emulator = Background(["emulator", "--port", str(emulator_port)], env,
                          tmp_path / "switchboard.emulator.log")
    server = Background(["run", "--port", str(server_port)], env, tmp_path / "server.log")
    account = f"{emulator_url}/2010-04-01/Accounts/{ACCOUNT_SID}.json"
    try:
        emulator.wait_until(lambda: requests.get(
            account, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5).status_code == 200, "emulator")
        server.wait_until(lambda: requests.get(
            server_url + "/healthz", timeout=5).status_code == 200, "switchboard run")
        yield Shell(env), emulator_url, server_url
    finally:
        server.stop()
        emulator.stop()
    assert AUTH_TOKEN not in emulator.log.read_text()
    assert AUTH_TOKEN not in server.log.read_text()


def test_try_it_without_an_account(running: tuple[Shell, str, str], database_url: str) -> None:
    shell, emulator_url, server_url = running
    bought = json.loads(shell("api", "add-incoming-phone-number-by-area-code",
                              "--area-code", "415").stdout)
    number = bought["phone_number"]
    assert number.startswith("+1415")

    provisioned = shell("provision", "--allow-insecure", "--number", number).stdout
    assert f"voice_url: (none) -> {server_url}/voice" in provisioned
    assert f"Verified: number {number} ({bought['sid']}) points at {server_url}." in provisioned

    call = shell("simulate", "call", "--to", number, "--digits", "1").stdout.splitlines()
    assert call[0] == f"Calling {number} from {CALLER} ({number} as configured in {emulator_url})"
    assert call[1:5] == [
        "  Say: Thank you for calling Switchboard.",
        "  Say: For our opening hours and address, press 1. To leave a voicemail, press 2. To "
        "talk to a person, press 3.",
        "  Caller: pressed 1",
        "  Say: Switchboard is open Monday to Friday, 9 AM to 5 PM. Our address is 1 Main "
        "Street, Springfield.",
    ]
    assert call[-3:-1] == [
        "  Say: Sorry we could not help you. Thank you for calling Switchboard. Goodbye.",
        "  Hangup",
    ]
    assert call[-1].startswith("  Status: call completed after ")

    stop = shell("simulate", "sms", "--to", number, "--body", "STOP").stdout.splitlines()
    assert stop[1] == f"  Message received: from {CALLER}: STOP"
    assert stop[2].startswith(f"  Opt-out: {CALLER} opted out of messages from {number}")
    assert not [line for line in stop if "Message blocked" in line]  # the bot said nothing

    refused = shell("sms", "--to", CALLER, "--from", number, "--body", "hi", "--allow-insecure",
                    code=1)
    assert refused.stdout == ""
    assert refused.stderr == (f"Error: {CALLER} has opted out (replied STOP to {number}): not "
                              "sending. They can reply START to opt back in.\n")

    store = Store(database_url)
    try:
        with store.engine.connect() as conn:
            [(call_sid, status)] = conn.execute(sa.select(calls.c.sid, calls.c.status))
        assert status == "completed"
        assert [row["status"] for row in store.status_callbacks(call_sid)] == ["completed"]
        assert store.is_opted_out(CALLER, sender=number)
    finally:
        store.close()


def test_bad_arguments_and_secrets_against_the_emulator(
    running: tuple[Shell, str, str], tmp_path: Path
) -> None:
    """As subprocesses against ``switchboard emulator``: a bad argument is one line and sends
    nothing; a public URL's password is never printed."""
    shell, _, server_url = running
    number = json.loads(shell("api", "add-incoming-phone-number-by-area-code",
                              "--area-code", "415").stdout)["phone_number"]
    with_password = server_url.replace("http://", "http://bob:hunter2@")
    shown = server_url.replace("http://", "http://bob:***@")

    provisioned = shell("provision", "--allow-insecure", "--number", number,
                        "--public-url", with_password)
    assert "hunter2" not in provisioned.stdout + provisioned.stderr
    assert provisioned.stdout.splitlines()[-1].endswith(f"points at {shown}.")
    listed = shell("api", "get-incoming-phone-numbers").stdout
    assert "hunter2" not in listed
    assert json.loads(listed)[0]["voice_url"] == f"{shown}/voice"

    def refused(*args: str, says: str) -> None:
        done = shell(*args, code=2)
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("Error: "), done.stderr
        assert says in done.stderr, done.stderr

    accounts = len(json.loads(shell("api", "get-all-accounts-details").stdout))
    refused("api", "create-sub-account", "--friendly-name", "lost1",
            "-o", str(tmp_path / "nonexistent" / "x.json"), says="is not an existing folder")
    assert len(json.loads(shell("api", "get-all-accounts-details").stdout)) == accounts

    refused("provision", "--allow-insecure", "--number", "42", says="--number: '42'")
    refused("sms", "--to", CALLER, "--from", number, "--body", "", "--allow-insecure",
            says="--body: must not be empty")
    refused("api", "send-sms-message", "--to", CALLER, "--from", number, "--body", "",
            says="--body: must not be empty")
    refused("call", "--to", CALLER, "--from", number, "--allow-insecure",
            "--public-url", f"{server_url}/?q=1", says="--public-url: ")
    assert json.loads(shell("api", "get-all-sms-messages").stdout) == []
    assert json.loads(shell("api", "get-calls").stdout) == []


@pytest.mark.parametrize("command", ["call", "sms"])
def test_call_and_sms_say_one_line_when_the_database_is_down(
    running: tuple[Shell, str, str], command: str
) -> None:
    """Not the server's start-up warning first (the database down, signatures unchecked):
    the command's own line says what concerns it, and nothing is sent."""
    shell, _, _ = running
    env = {**shell.env, "SWITCHBOARD_DATABASE_URL": "postgresql://u:dbpass_zz@127.0.0.1:1/x"}
    env.pop("TWILIO_AUTH_TOKEN")
    env.update(TWILIO_API_KEY_SID="SK" + "1" * 32, TWILIO_API_KEY_SECRET="key-secret-not-shown")
    extra = ["--body", "hello"] if command == "sms" else []
    done = Shell(env)(command, "--to", CALLER, "--from", "+14155550100", "--allow-insecure",
                      *extra, code=1)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("Error: cannot check whether"), done.stderr
    assert "dbpass_zz" not in done.stderr
    assert json.loads(shell("api", "get-calls").stdout) == []
    assert json.loads(shell("api", "get-all-sms-messages").stdout) == []
