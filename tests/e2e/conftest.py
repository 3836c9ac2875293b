"""The whole house on real sockets of 127.0.0.1: the emulator, the Switchboard server (on the
database of the suite's ``database_url``: SQLite, then PostgreSQL), a number bought through the
REST client and pointed at the server with ``switchboard provision``.

``pair`` is the emulator and the server, started and configured for each other, with the
settings a ``switchboard`` command needs in the environment; ``loop`` adds a provisioned number.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from switchboard.api import TwilioClient
from switchboard.cli import cli
from switchboard.emulator.script import CallScript
from switchboard.emulator.stack import SwitchboardStack
from switchboard.emulator.transcript import Transcript

ROOT = Path(__file__).resolve().parents[2]
#: The installed console script (beside this Python, as in a virtualenv; else on PATH).
SWITCHBOARD = Path(sys.executable).with_name("switchboard")
if not SWITCHBOARD.exists():
    SWITCHBOARD = Path(shutil.which("switchboard") or "switchboard")

CALLER = "+15555550100"
OPERATOR = "+15557770000"
AREA_CODE = "415"
BUSINESS = {
    "SWITCHBOARD_BUSINESS_NAME": "Acme Plumbing",
    "SWITCHBOARD_BUSINESS_HOURS": "weekdays 9 to 5",
    "SWITCHBOARD_BUSINESS_ADDRESS": "1 Main Street",
    "SWITCHBOARD_FORWARD_NUMBER": OPERATOR,
}


@dataclass
class Pair:
    """The emulator and the server, configured for each other (see the module docstring)."""

    stack: SwitchboardStack
    client: TwilioClient
    env: dict[str, str]
    number: str = ""

    @property
    def emulator(self) -> Any:
        return self.stack.emulator

    @property
    def store(self) -> Any:
        return self.stack.store

    @property
    def url(self) -> str:
        return self.stack.url

    def cli(self, *args: str) -> Result:
        """``switchboard ARGS`` in this process (click's runner), with the pair's settings."""
        return CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``switchboard ARGS`` as a subprocess of the installed console script."""
        return subprocess.run(
            [str(SWITCHBOARD), *args], env=subprocess_env(self.env), cwd=ROOT,
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    def buy_and_provision(self) -> str:
        """Buy a number in area code 415 through the REST client and provision it."""
        bought = self.client.incoming_phone_numbers.create(area_code=AREA_CODE)
        result = self.cli("provision", "--allow-insecure", "--number", bought["phone_number"])
        assert result.exit_code == 0, result.output
        self.number = bought["phone_number"]
        return self.number

    def call(self, script: CallScript, from_: str = CALLER) -> Transcript:
        """Dial our number from ``from_``; wait for the call's background work to finish."""
        transcript = self.emulator.phone.inbound_call(self.number, from_, script=script)
        assert self.stack.wait_idle(20), "the emulator's background work did not finish"
        return transcript

    def sms(self, body: str, from_: str = CALLER) -> Transcript:
        transcript = self.emulator.phone.inbound_sms(self.number, from_, body)
        assert self.stack.wait_idle(20), "the emulator's background work did not finish"
        return transcript


def subprocess_env(settings: dict[str, str]) -> dict[str, str]:
    """The environment of a subprocess: this one's without TWILIO_* / SWITCHBOARD_* (the suite
    clears them already), plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    env.update(settings, SWITCHBOARD_DOTENV="0", PYTHONUNBUFFERED="1")
    return env


def stack_env(stack: SwitchboardStack) -> dict[str, str]:
    """The settings a ``switchboard`` command needs to use a started ``stack``: the emulator's
    account and URL, the server's public URL and database, the stack's own ``config``, no
    ``.env``."""
    emu = stack.emulator
    env = {
        "TWILIO_ACCOUNT_SID": emu.account_sid,
        "TWILIO_AUTH_TOKEN": emu.auth_token,
        "TWILIO_API_BASE_URL": emu.url,
        "SWITCHBOARD_PUBLIC_URL": stack.url,
        "SWITCHBOARD_DOTENV": "0",
    }
    if stack.database_url:
        env["SWITCHBOARD_DATABASE_URL"] = stack.database_url
    return {**env, **stack.config}


@pytest.fixture
def pair(database_url: str) -> Iterator[Pair]:
    """The emulator and the server on ``database_url``, each knowing the other."""
    stack = SwitchboardStack(database_url=database_url, config=BUSINESS).start()
    client = stack.client()
    try:
        yield Pair(stack, client, stack_env(stack))
    finally:
        client.close()
        stack.stop()


@pytest.fixture
def loop(pair: Pair) -> Pair:
    """``pair`` with a number bought and provisioned."""
    pair.buy_and_provision()
    return pair
