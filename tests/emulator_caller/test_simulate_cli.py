"""``switchboard simulate call|sms`` against a server on a real socket, an emulator, the app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from switchboard.cli import cli
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
    from switchboard.emulator import Emulator

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


@pytest.fixture
def simulator(server: HookServer) -> Iterator[Any]:
    """The emulator's REST app (simulator endpoints included) on a real socket."""
    from werkzeug.serving import make_server

    from switchboard.emulator.caller import Phone
    from switchboard.emulator.faults import FaultInjector
    from switchboard.emulator.rest import CONTEXT_KEY, create_app
    from switchboard.emulator.restkit import EmulatorContext
    from switchboard.emulator.state import EmulatorState

    state = EmulatorState(ACCOUNT_SID, TOKEN)
    phone = Phone(state)
    app = create_app()
    context = EmulatorContext(state, FaultInjector(), phone)

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        environ[CONTEXT_KEY] = context
        return app(environ, start_response)

    http = make_server("127.0.0.1", 0, wsgi, threaded=True)
    url = f"http://127.0.0.1:{http.server_port}"
    state.base_url = phone.api_base_url = url
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=url, state=state, phone=phone)
    finally:
        phone.wait_idle(5)
        http.shutdown()
        http.server_close()


def test_the_running_emulator_places_the_call(server: HookServer, simulator: Any) -> None:
    simulator.state.buy_number(ACCOUNT_SID, "+15551230000", voice_url=server.url("/voice"),
                               status_callback=server.url("/status"))
    server.on("/voice", twiml("<Gather numDigits='1' action='/menu'><Say>Press 2</Say></Gather>"))
    server.on("/menu", twiml("<Record action='/saved'/>"))
    server.on("/saved", twiml("<Say>Saved</Say>"))
    output = run("call", "--to", "+15551230000", "--emulator", simulator.url, "--digits", "2",
                 "--record-seconds", "9")
    lines = output.splitlines()
    assert lines[0] == (f"Calling +15551230000 from +15555550100 (+15551230000 as configured "
                        f"in {simulator.url})")
    assert "  Caller: pressed 2" in lines
    assert "  Say: Saved" in lines
    [call] = simulator.state.list("calls")
    assert call["status"] == "completed"
    [recording] = simulator.state.list("recordings")
    assert recording["duration"] == "9"
    saved = server.requests_to("/saved")[0]
    assert saved.params["RecordingUrl"] == f"{simulator.url}{recording['uri'][:-5]}"
    assert saved.params["CallSid"] == call["sid"]
    assert len(server.requests_to("/status")) == 1


def test_the_running_emulator_sends_the_text(server: HookServer, simulator: Any) -> None:
    simulator.state.buy_number(ACCOUNT_SID, "+15551230000", sms_url=server.url("/sms"))
    server.on("/sms", twiml("<Message>Hi back</Message>"))
    output = run("sms", "--to", "+15551230000", "--emulator", simulator.url, "--body", "hi",
                 "--verbose")
    lines = output.splitlines()
    assert lines[1] == "  Message received: from +15555550100: hi"
    assert lines[2] == f"  ... sms: POST {server.url('/sms')} -> 200"
    assert lines[3] == "  Message sent: to +15555550100: Hi back"
    assert lines[4].endswith(": delivered")
    assert "  >   Body=hi" in lines
    assert {m["direction"] for m in simulator.state.list("messages")} == {
        "inbound", "outbound-reply"}
    assert TOKEN not in output


def test_the_simulator_checks_its_input(server: HookServer, simulator: Any) -> None:
    result = CliRunner().invoke(cli, ["simulate", "call", "--to", "+15550000000",
                                      "--emulator", simulator.url])
    assert result.exit_code == 1
    assert "is not a number of account" in result.output


@pytest.mark.parametrize("kind", ["call", "sms"])
@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({}, ["--config-ref", "nosuch"], "nosuch"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, [], "TWILIO_ACCOUNT_SID"),
    ],
)
def test_unusable_settings_are_a_usage_error(
    tmp_path, monkeypatch: pytest.MonkeyPatch, kind: str, env: dict[str, str],
    args: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'sb.sqlite3'}")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    extra = ["--body", "hi"] if kind == "sms" else []
    result = CliRunner().invoke(cli, ["simulate", kind, "--to", "+15551230000", "--in-process",
                                      *extra, *args])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: ")
    assert expected in result.output


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "Error: simulate sms: --body: must not be empty when no media is sent"),
        ("x" * 1601, "Error: simulate sms: --body: is 1601 characters; Twilio takes at most "
                    "1600"),
    ],
)
def test_sms_body_gets_the_checks_of_switchboard_sms(
    tmp_path, monkeypatch: pytest.MonkeyPatch, body: str, expected: str
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'sb.sqlite3'}")
    result = CliRunner().invoke(cli, ["simulate", "sms", "--to", "+15551230000", "--body", body,
                                      "--in-process"])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith(expected)
    assert not (tmp_path / "sb.sqlite3").exists()
