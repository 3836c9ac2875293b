"""A setting or profile a command cannot use is one line starting with the command as typed,
as its argument errors do (``Error: call: TWILIO_ACCOUNT_SID: ...``), exit status 2, before
any request: for every command, whether it reads the settings itself or loads the app.

"Before any request" is proven with a server on 127.0.0.1 named as the REST API that records
every request it gets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from werkzeug.wrappers import Request, Response

from switchboard.cli import cli
from switchboard.emulator import Emulator
from tests.conftest import serving

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "SECRETTOKEN_not_for_errors"
NUMBER = "+14155550100"
CALLER = "+14155550101"
PUBLIC = ["--public-url", "http://127.0.0.1:5000", "--allow-insecure"]
BAD_SID = ("TWILIO_ACCOUNT_SID: 'AC123' is not an account SID (AC followed by 32 hexadecimal "
           "digits)")

#: The commands, as typed after ``switchboard``, and how their errors start.
COMMANDS = {
    "call": ["call", "--to", NUMBER, "--from", CALLER, *PUBLIC],
    "sms": ["sms", "--to", NUMBER, "--from", CALLER, "--body", "hi", *PUBLIC],
    "provision": ["provision", "--number", NUMBER, *PUBLIC],
    "get-account-details": ["api", "get-account-details"],
    "simulate call": ["simulate", "call", "--to", NUMBER],
    "simulate sms": ["simulate", "sms", "--to", NUMBER, "--body", "hi", "--in-process"],
    "emulator": ["emulator", "--port", "0"],
    "flows run": ["flows", "run", "ask", "--from", CALLER, "--to", NUMBER],
    "run": ["run", "--port", "0"],
}
#: Commands without ``--config-ref``: their settings are the environment's.
ENVIRONMENT_ONLY = {
    "flows check": ["flows", "check"],
    "flows list": ["flows", "list"],
    "routes": ["routes"],
}


class Recorder:
    """Answers every request with 500, keeping ``METHOD /path`` of each."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append(f"{request.method} {request.path}")
        return Response("no", 500)(environ, start_response)


@pytest.fixture(scope="module")
def recording_server() -> Iterator[tuple[Recorder, str]]:
    app = Recorder()
    with serving(app) as url:
        yield app, url


@pytest.fixture
def recorder(recording_server: tuple[Recorder, str], tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Settings that would work, with the recording server as the REST API, a flows folder
    and a database of their own, and no profiles file; nothing is started or served."""
    app, url = recording_server
    app.received.clear()
    flows = tmp_path / "the_flows"  # not ./flows, which is the folder without the setting
    flows.mkdir()
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_BASE_URL": url, "SWITCHBOARD_FLOWS_DIR": str(flows),
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.sqlite3'}",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("SWITCHBOARD_PROFILE", "SWITCHBOARD_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a server was started")

    monkeypatch.setattr("flask.cli.run_simple", refuse)
    monkeypatch.setattr(Emulator, "start", refuse)
    return app


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    assert TOKEN not in result.output
    return result.output.rstrip("\n")


def switchboard(*args: str) -> str:
    return one_line_error(CliRunner().invoke(cli, list(args)))


@pytest.mark.parametrize("typed", sorted(COMMANDS))
def test_an_unknown_profile_starts_with_the_command(recorder: Recorder, typed: str) -> None:
    line = switchboard(*COMMANDS[typed], "--config-ref", "acne")
    assert line.startswith(f"Error: {typed}: profile 'acne' is not defined "), line
    assert recorder.received == []


@pytest.mark.parametrize("typed", sorted({**COMMANDS, **ENVIRONMENT_ONLY}))
def test_a_setting_that_cannot_be_used_starts_with_the_command(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    line = switchboard(*{**COMMANDS, **ENVIRONMENT_ONLY}[typed])
    assert line == f"Error: {typed}: {BAD_SID}"
    assert recorder.received == []


@pytest.mark.parametrize("typed", ["call", "sms", "provision", "get-account-details"])
def test_no_credentials_starts_with_the_command(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    line = switchboard(*COMMANDS[typed])
    assert line.startswith(f"Error: {typed}: profile 'default' has no REST API credentials"), line
    assert recorder.received == []


def test_simulating_against_the_emulator_without_its_account(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    line = switchboard("simulate", "call", "--to", NUMBER)
    assert line == ("Error: simulate call: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be the "
                    "emulator's account to read its numbers (or use --url URL or --in-process)")
    assert recorder.received == []


@pytest.mark.parametrize("typed", ["call", "sms"])
def test_a_public_url_setting_that_cannot_be_used_starts_with_the_command(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    """The setting, not ``--public-url``: refused by the app as it is loaded."""
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "https://switch board.example.com")
    line = switchboard(*COMMANDS[typed][:-3])
    assert line == (f"Error: {typed}: SWITCHBOARD_PUBLIC_URL: 'https://switch board.example.com' "
                    "is not a valid URL")
    assert recorder.received == []


@pytest.mark.parametrize("typed", ["call", "provision"])
def test_no_public_url_setting_starts_with_the_command(recorder: Recorder, typed: str) -> None:
    line = switchboard(*COMMANDS[typed][:-3])
    assert line.startswith(f"Error: {typed}: SWITCHBOARD_PUBLIC_URL"), line
    assert recorder.received == []


def test_no_flows_folder_starts_with_the_command(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_FLOWS_DIR")
    for typed, args in (("flows run", COMMANDS["flows run"]), ("flows list", ["flows", "list"]),
                        ("flows show", ["flows", "show", "ask"])):
        line = switchboard(*args)
        assert line == (f"Error: {typed}: no flows folder: set SWITCHBOARD_FLOWS_DIR or create "
                        "flows/ in the working folder, with one NAME.json file per flow")
    assert recorder.received == []


def test_an_app_named_with_app_that_cannot_be_loaded_is_about_app(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--app`` is an option of ``switchboard`` itself, not of the command."""
    (tmp_path / "sb_cli_unloadable.py").write_text("raise RuntimeError('no DATABASE')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    line = switchboard("--app", "sb_cli_unloadable", "routes")
    assert line == ("Error: --app 'sb_cli_unloadable' could not be loaded: RuntimeError: "
                    "no DATABASE")
