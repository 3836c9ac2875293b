"""``switchboard call`` and ``switchboard sms``: outbound with status callbacks pointing back
at the server, recorded in its store, refused for numbers that opted out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from callbacks.cli import cli
from callbacks.store import Store
from tests.api.conftest import ACCOUNT_SID, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
PUBLIC = "https://switchboard.example.com"
TO, FROM = "+14155550123", "+14155550100"


@pytest.fixture
def server_env(
    twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'switchboard.sqlite3'}"
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", PUBLIC)
    store = Store(url)
    store.create_all()
    yield store
    store.close()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_call_runs_the_flow_and_reports_back(server_env: Store, twilio_env: TwilioStub) -> None:
    call = {"sid": sid("CA"), "account_sid": ACCOUNT_SID, "to": TO, "from": FROM,
            "status": "queued", "direction": "outbound-api"}  # fmt: skip
    twilio_env.answer("POST", f"{A}/Calls.json", call)
    code, output = invoke("call", "--to", TO, "--from", FROM, "--flow", "ivr")
    assert code == 0, output
    assert sid("CA") in output
    assert twilio_env.last.form == {
        "To": [TO],
        "From": [FROM],
        "Url": [f"{PUBLIC}/voice"],
        "Method": ["POST"],
        "StatusCallback": [f"{PUBLIC}/voice/status"],
        "StatusCallbackMethod": ["POST"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
    }
    stored = server_env.get_call(sid("CA"))
    assert stored is not None
    assert stored["status"] == "queued"


def test_call_with_a_url_and_recording(server_env: Store, twilio_env: TwilioStub) -> None:
    twilio_env.answer("POST", f"{A}/Calls.json", {"sid": sid("CA", 2), "status": "queued"})
    code, output = invoke(
        "call", "--to", TO, "--from", FROM, "--url", "https://example.com/twiml", "--record"
    )
    assert code == 0, output
    assert twilio_env.last.form["Url"] == ["https://example.com/twiml"]
    assert twilio_env.last.form["Record"] == ["true"]


def test_sms_sends_with_a_status_callback(server_env: Store, twilio_env: TwilioStub) -> None:
    message = {"sid": sid("MM"), "account_sid": ACCOUNT_SID, "to": TO, "from": FROM,
               "body": "Table ready", "status": "queued", "direction": "outbound-api"}  # fmt: skip
    twilio_env.answer("POST", f"{A}/Messages.json", message)
    code, output = invoke(
        "sms", "--to", TO, "--from", FROM, "--body", "Table ready",
        "--media-url", "https://example.com/menu.png",
    )  # fmt: skip
    assert code == 0, output
    assert twilio_env.last.form == {
        "To": [TO],
        "From": [FROM],
        "Body": ["Table ready"],
        "MediaUrl": ["https://example.com/menu.png"],
        "StatusCallback": [f"{PUBLIC}/sms/status"],
    }
    stored = server_env.get_message(sid("MM"))
    assert stored is not None
    assert stored["body"] == "Table ready"


@pytest.mark.parametrize("command", ["sms", "call"])
def test_opted_out_numbers_are_refused_before_any_request(
    server_env: Store, twilio_env: TwilioStub, command: str
) -> None:
    server_env.opt_out(TO, sender=FROM)
    extra = ["--body", "hello"] if command == "sms" else []
    code, output = invoke(command, "--to", TO, "--from", FROM, *extra)
    assert code == 1
    assert output.count("\n") == 1
    assert "opted out" in output
    assert twilio_env.requests == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sms", "--to", "555-0123", "--from", FROM, "--body", "x"], "--to: "),
        (["sms", "--to", TO, "--from", FROM], "Missing option '--body'"),
        (
            ["call", "--to", TO, "--from", FROM, "--flow", "ivr", "--url", "https://e.com"],
            "not both",
        ),
        (["call", "--to", TO, "--from", FROM, "--flow", "karaoke"], "karaoke"),
        (
            ["sms", "--to", TO, "--from", FROM, "--body", "x", "--media-url", "menu.png"],
            "media_url",
        ),
    ],
)
def test_bad_arguments_are_one_line(
    server_env: Store, twilio_env: TwilioStub, args: list[str], expected: str
) -> None:
    code, output = invoke(*args)
    assert code == 2
    assert output.count("\n") == 1, output
    assert expected in output
    assert twilio_env.requests == []


def test_local_public_url_is_refused(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "http://localhost:5000")
    code, output = invoke("sms", "--to", TO, "--from", FROM, "--body", "x")
    assert code == 1
    assert "tunnel" in output
    assert twilio_env.requests == []
