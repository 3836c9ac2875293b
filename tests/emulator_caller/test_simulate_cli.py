"""``switchboard simulate call|sms`` against a server on a real socket, an emulator, the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from callbacks.cli import cli
from tests.emulator_caller.conftest import HookServer, twiml

ACCOUNT_SID = "AC" + "1" * 32
TOKEN = "ab" * 16


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HookServer]:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    hooks = HookServer(TOKEN)
    hooks.thread.start()
    try:
        yield hooks
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["simulate", *args], input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_call_a_url_with_digits(server: HookServer) -> None:
    server.on("/voice", twiml("<Gather numDigits='1' action='/menu'><Say>Press 1</Say></Gather>"))
    server.on("/menu", twiml("<Say>Our hours are nine to five</Say>"))
    output = run("call", "--to", "+15551230000", "--url", server.url("/voice"), "--digits", "1")
    assert "Say: Press 1" in output
    assert "Caller: pressed 1" in output
    assert "Say: Our hours are nine to five" in output
    assert "call completed" in output
    assert all(r.signature_valid for r in server.received)
    assert TOKEN not in output


def test_interactive_reads_digits_from_stdin(server: HookServer) -> None:
    server.on("/voice", twiml("<Gather numDigits='1' action='/menu'><Say>Press 1</Say></Gather>"))
    server.on("/menu", lambda r: twiml(f"<Say>You chose {r.form['Digits']}</Say>"))
    output = run("call", "--to", "+15551230000", "--url", server.url("/voice"), "-i",
                 input="7\n")
    assert "Press keys" in output
    assert "Say: You chose 7" in output


def test_verbose_shows_the_http_exchanges(server: HookServer) -> None:
    server.on("/voice", twiml("<Dial action='/dialled'>+15557770000</Dial>"))
    server.on("/dialled", lambda r: twiml(f"<Say>{r.form['DialCallStatus']}</Say>"))
    output = run("call", "--to", "+15551230000", "--url", server.url("/voice"),
                 "--dial-outcome", "+15557770000=busy", "--verbose")
    assert "Say: busy" in output
    assert "X-Twilio-Signature:" in output
    assert "DialCallStatus=busy" in output
    assert "< 200 text/xml" in output


def test_sms_to_a_url(server: HookServer) -> None:
    server.on("/sms", lambda r: twiml(f"<Message>You said {r.form['Body']}</Message>"))
    output = run("sms", "--to", "+15551230000", "--url", server.url("/sms"), "--body", "hello")
    assert "Message received: from +15555550100: hello" in output
    assert "Message sent: to +15555550100: You said hello" in output


def test_through_a_running_emulator(server: HookServer) -> None:
    from emulator import Emulator

    with Emulator(ACCOUNT_SID, TOKEN) as emu:
        emu.state.buy_number(emu.account_sid, "+15551230000", voice_url=server.url("/voice"),
                             status_callback=server.url("/status"))
        server.on("/voice", twiml("<Say>Hello from the emulator's number</Say>"))
        output = run("call", "--to", "+15551230000", "--emulator", emu.url)
    assert "Say: Hello from the emulator's number" in output
    assert len(server.requests_to("/status")) == 1


def test_where_is_the_server() -> None:
    result = CliRunner().invoke(cli, ["simulate", "call", "--to", "+15551230000"])
    assert result.exit_code == 2
    assert "--in-process" in result.output


def test_bad_dial_outcome() -> None:
    result = CliRunner().invoke(cli, ["simulate", "call", "--to", "+15551230000",
                                      "--in-process", "--dial-outcome", "maybe"])
    assert result.exit_code == 2
    assert "dial outcome" in result.output


def test_in_process(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'sb.sqlite3'}")
    monkeypatch.setenv("SWITCHBOARD_BUSINESS_NAME", "Acme")
    output = run("call", "--to", "+15551230000", "--in-process", "--digits", "1")
    assert "Say: Thank you for calling Acme." in output
    assert "Caller: pressed 1" in output
    assert "Errors" not in output


def test_url_with_fallback_and_credentials(server: HookServer) -> None:
    server.on("/voice", ("broken", 500))
    server.on("/fallback", twiml("<Say>Fallback speaking</Say>"))
    url = server.url("/voice").replace("http://", "http://bob:hunter2@")
    output = run("call", "--to", "+15551230000", "--url", url, "--fallback-url",
                 server.url("/fallback"), "--verbose")
    assert "Say: Fallback speaking" in output
    assert "ErrorCode=11217" in output
    assert "hunter2" not in output
    assert server.requests_to("/voice")[0].headers["Authorization"].startswith("Basic ")
