"""``switchboard simulate call --stir-verstat VALUE``: the simulated incoming call comes with
that SHAKEN/STIR verification, as Twilio's ``StirVerstat``, wherever the server is (a URL, a
running emulator, the app in process); a value Twilio does not send is one line, exit status
2, before any request. Without the option the call's requests carry none.

Twilio's values: https://www.twilio.com/docs/voice/trusted-calling-with-shakenstir"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from werkzeug.wrappers import Request, Response

from switchboard.cli import cli
from switchboard.emulator import Emulator
from switchboard.emulator.caller import STIR_VERSTATS
from tests.conftest import serving

NUMBER = "+14155550100"
HANG_UP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'


@dataclass
class Server:
    """A voice URL on 127.0.0.1 that hangs up, keeping each request's form."""

    url: str = ""
    received: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append({"path": request.path, **request.form.to_dict()})
        response = Response(HANG_UP, content_type="text/xml")
        return response(environ, start_response)


@pytest.fixture
def server() -> Iterator[Server]:
    app = Server()
    with serving(app) as url:
        app.url = url
        yield app


@pytest.fixture
def emulator(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A running emulator whose number ``NUMBER`` calls ``server``; the settings name its
    account."""
    with Emulator() as emu:
        emu.state.buy_number(emu.account_sid, NUMBER, voice_url=f"{server.url}/voice")
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", emu.account_sid)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", emu.auth_token)
        monkeypatch.setenv("TWILIO_API_BASE_URL", emu.url)
        yield emu


def simulate_call(*args: str) -> Result:
    return CliRunner().invoke(cli, ["simulate", "call", "--to", NUMBER, *args])


def verstats(server: Server) -> list[str | None]:
    return [form.get("StirVerstat") for form in server.received]


@pytest.mark.parametrize("verstat", ["TN-Validation-Passed-A", "TN-Validation-Failed-B-Diverted",
                                     "No-TN-Validation"])
def test_a_call_to_a_url_comes_with_the_verification(server: Server, verstat: str) -> None:
    done = simulate_call("--url", f"{server.url}/voice", "--stir-verstat", verstat)
    assert done.exit_code == 0, done.output
    assert verstats(server) == [verstat]


def test_a_call_the_running_emulator_places_comes_with_it(
    server: Server, emulator: Emulator
) -> None:
    done = simulate_call("--stir-verstat", "TN-Validation-Passed-C")
    assert done.exit_code == 0, done.output
    assert verstats(server) == ["TN-Validation-Passed-C"]
    assert len(emulator.state.list("calls")) == 1  # the emulator's own call


def test_a_call_placed_from_here_with_the_emulators_number_comes_with_it(
    server: Server, emulator: Emulator
) -> None:
    done = CliRunner().invoke(cli, ["simulate", "call", "--to", NUMBER, "-i",
                                    "--stir-verstat", "TN-Validation-Passed-B"], input="\n")
    assert done.exit_code == 0, done.output
    assert verstats(server) == ["TN-Validation-Passed-B"]
    assert emulator.state.list("calls") == []  # its number's URLs were read, the call made here


def test_the_app_in_process_gets_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'sb.sqlite3'}")
    done = simulate_call("--in-process", "--verbose", "--digits", "1",
                         "--stir-verstat", "TN-Validation-Passed-A")
    assert done.exit_code == 0, done.output
    assert "  >   StirVerstat=TN-Validation-Passed-A" in done.output.splitlines()


def test_without_the_option_the_call_carries_none(server: Server, emulator: Emulator) -> None:
    assert simulate_call("--url", f"{server.url}/voice").exit_code == 0
    assert simulate_call().exit_code == 0
    assert verstats(server) == [None, None]


@pytest.mark.parametrize("value", ["TN-Validation-Passed", "tn-validation-passed-a", "",
                                   "TN-Validation-Passed-A "])
@pytest.mark.parametrize("where", ["url", "emulator"])
def test_a_value_twilio_does_not_send_is_refused_before_any_request(
    server: Server, emulator: Emulator, value: str, where: str
) -> None:
    args = ["--url", f"{server.url}/voice"] if where == "url" else []
    done = simulate_call(*args, "--stir-verstat", value)
    assert done.exit_code == 2
    assert done.output.count("\n") == 1, done.output
    assert done.output.startswith(
        f"Error: simulate call: Invalid value for '--stir-verstat': {value!r} is not a "
        f"StirVerstat Twilio sends; one of {', '.join(STIR_VERSTATS)}")
    assert server.received == []
    assert emulator.state.list("calls") == []


def test_the_emulators_simulator_refuses_such_a_value(emulator: Emulator) -> None:
    answer = requests.post(
        f"{emulator.url}/2010-04-01/Accounts/{emulator.account_sid}/Simulator/Calls.json",
        data={"To": NUMBER, "StirVerstat": "TN-Validation-Passed"}, timeout=10,
        auth=(emulator.account_sid, emulator.auth_token))
    assert answer.status_code == 400
    assert answer.json()["message"].startswith(
        "StirVerstat: 'TN-Validation-Passed' is not one of TN-Validation-Passed-A, ")
    assert emulator.state.list("calls") == []
