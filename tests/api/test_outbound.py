"""``switchboard call`` and ``switchboard sms``: outbound with status callbacks pointing back
at the server, recorded in its store, refused for numbers that opted out."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from switchboard.callbacks.store import Store
from switchboard.cli import cli
from tests.api.conftest import ACCOUNT_SID, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
PUBLIC = "https://switchboard.example.com"
TO, FROM = "+14155550123", "+14155550100"


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
        "FallbackUrl": [f"{PUBLIC}/voice/fallback"],
        "FallbackMethod": ["POST"],
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
        (["sms", "--to", TO, "--from", FROM], "give --body, --media-url or both"),
        (["sms", "--to", "555-0123", "--from", FROM], "give --body, --media-url or both"),
        (
            ["call", "--to", TO, "--from", FROM, "--flow", "ivr", "--url", "https://e.com"],
            "not both",
        ),
        (["call", "--to", TO, "--from", FROM, "--flow", "karaoke"], "karaoke"),
        (
            ["sms", "--to", TO, "--from", FROM, "--body", "x", "--media-url", "menu.png"],
            "--media-url: 'menu.png' is not",
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


def _extra(command: str) -> list[str]:
    return ["--body", "hello"] if command == "sms" else []


@pytest.mark.parametrize("command", ["sms", "call"])
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://switchboard.example.com/?q=1", "must not have a ?query string"),
        ("https://switchboard.example.com/#frag", "must not have a #fragment"),
        ("notaurl", "'notaurl' must start with http:// or https://"),
    ],
)
def test_public_url_option_gets_the_settings_checks(
    server_env: Store, twilio_env: TwilioStub, command: str, url: str, expected: str
) -> None:
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command),
                          "--public-url", url, "--allow-insecure")  # fmt: skip
    assert code == 2
    assert output.startswith("Error: --public-url: ")
    assert output.count("\n") == 1, output
    assert expected in output
    assert "SWITCHBOARD_PUBLIC_URL" not in output
    assert twilio_env.requests == []


def test_public_url_option_is_used_when_good(server_env: Store, twilio_env: TwilioStub) -> None:
    twilio_env.answer("POST", f"{A}/Calls.json", {"sid": sid("CA", 3), "status": "queued"})
    code, output = invoke("call", "--to", TO, "--from", FROM,
                          "--public-url", "https://other.example.com/")  # fmt: skip
    assert code == 0, output
    assert twilio_env.last.form["Url"] == ["https://other.example.com/voice"]


def test_an_empty_body_is_refused_before_any_request(
    server_env: Store, twilio_env: TwilioStub
) -> None:
    code, output = invoke("sms", "--to", TO, "--from", FROM, "--body", "")
    assert code == 2
    assert output == (
        "Error: --body: must not be empty when no media is sent (Twilio refuses it: error 21602)\n"
    )
    assert twilio_env.requests == []


def test_an_empty_body_with_media_is_sent(server_env: Store, twilio_env: TwilioStub) -> None:
    twilio_env.answer("POST", f"{A}/Messages.json", {"sid": sid("MM", 4), "status": "queued"})
    code, output = invoke("sms", "--to", TO, "--from", FROM, "--body", "",
                          "--media-url", "https://example.com/menu.png")  # fmt: skip
    assert code == 0, output
    assert twilio_env.last.form["MediaUrl"] == ["https://example.com/menu.png"]


def test_media_alone_is_sent_without_a_body(server_env: Store, twilio_env: TwilioStub) -> None:
    """Twilio takes Body, MediaUrl or both: --media-url alone needs no --body."""
    twilio_env.answer("POST", f"{A}/Messages.json", {"sid": sid("MM", 5), "status": "queued"})
    code, output = invoke("sms", "--to", TO, "--from", FROM,
                          "--media-url", "https://example.com/menu.png")  # fmt: skip
    assert code == 0, output
    assert twilio_env.last.form == {
        "To": [TO],
        "From": [FROM],
        "MediaUrl": ["https://example.com/menu.png"],
        "StatusCallback": [f"{PUBLIC}/sms/status"],
    }
    assert server_env.get_message(sid("MM", 5)) is not None


def test_neither_body_nor_media_is_one_line_before_anything(
    server_env: Store, twilio_env: TwilioStub
) -> None:
    code, output = invoke("sms", "--to", TO, "--from", FROM)
    assert code == 2
    assert output == "Error: give --body, --media-url or both: a message needs text or media\n"
    assert twilio_env.requests == []


@pytest.mark.parametrize(
    ("command", "answer", "expected"),
    [
        ("call", [1, 2], "Twilio's answer is not a call: it is a JSON array, not an object"),
        ("sms", [1, 2], "Twilio's answer is not a message: it is a JSON array, not an object"),
        ("sms", {"messages": None, "uri": "/x"}, "Twilio's answer is not a message: it has no sid"),
        ("call", {"sid": sid("SM")}, "Twilio's answer is not a call: its sid 'SM"),
    ],
)
def test_wrong_shaped_answers_are_one_line(
    server_env: Store, twilio_env: TwilioStub, command: str, answer: object, expected: str
) -> None:
    path = f"{A}/Calls.json" if command == "call" else f"{A}/Messages.json"
    twilio_env.answer("POST", path, answer)
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command))
    assert code == 1
    assert output.count("\n") == 1, output
    assert output.startswith(f"Error: {expected}")
    search = "get-calls" if command == "call" else "get-all-sms-messages"
    assert f"check with `switchboard api {search} --to {TO}` before trying again" in output
    assert len(twilio_env.requests) == 1


DOWN = "postgresql://u:dbpass_zz@127.0.0.1:1/x"


@pytest.mark.parametrize("command", ["sms", "call"])
def test_opt_out_check_with_the_database_down_refuses_before_sending(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", DOWN)
    result = CliRunner().invoke(cli, [command, "--to", TO, "--from", FROM, *_extra(command)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    doing = "sending" if command == "sms" else "calling"
    [line] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert line.startswith(f"Error: cannot check whether {TO} opted out, so not {doing}: "
                           "database postgresql+psycopg://u:***@127.0.0.1:1/x is unavailable")
    assert "dbpass_zz" not in result.output
    assert twilio_env.requests == []


@pytest.mark.parametrize("command", ["sms", "call"])
def test_placed_but_not_recorded_says_so_and_prints_the_answer(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from switchboard.callbacks.store import StoreUnavailable

    def down(self: Store, resource: object) -> None:
        raise StoreUnavailable("database sqlite:///x is unavailable (OperationalError: disk\n"
                               "I/O error)")

    kind, prefix = ("call", "CA") if command == "call" else ("message", "SM")
    monkeypatch.setattr(Store, f"record_outbound_{kind}", down)
    resource = {"sid": sid(prefix, 5), "to": TO, "from": FROM, "status": "queued"}
    twilio_env.answer("POST", f"{A}/Calls.json" if kind == "call" else f"{A}/Messages.json",
                      resource)  # fmt: skip
    result = CliRunner().invoke(cli, [command, "--to", TO, "--from", FROM, *_extra(command)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == resource
    done = "placed" if kind == "call" else "sent"
    assert result.stderr == (
        f"Error: {kind} {sid(prefix, 5)} was {done} (its JSON is printed), but it could not be "
        "recorded in the server's store: database sqlite:///x is unavailable "
        "(OperationalError: disk I/O error)\n"
    )
    assert len(twilio_env.requests) == 1
