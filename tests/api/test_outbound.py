"""``switchboard call`` and ``switchboard sms``: outbound with status callbacks pointing back
at the server, recorded in its store, refused for numbers that opted out. With
``--config-ref`` the opt-outs and records are those of that profile's store; an ``--app``
without a store, an empty ``--url`` or a public URL that would break the callbacks is one line
before any request; a create whose answer was lost says it may have been carried out; a call
gets this server's fallback URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from switchboard.callbacks.store import Store
from switchboard.cli import cli
from switchboard.emulator import Emulator
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN, TwilioStub, sid
from tests.conftest import free_port

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
    assert code == 2
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
    assert output.startswith(f"Error: {command}: --public-url: ")
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
        "Error: sms: --body: must not be empty when no media is sent (Twilio refuses it: "
        "error 21602)\n"
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
    assert output == ("Error: sms: give --body, --media-url or both: a message needs text or "
                      "media\n")
    assert twilio_env.requests == []


@pytest.mark.parametrize(
    ("command", "answer", "expected"),
    [
        ("call", [1, 2], f"HTTP 200 from POST {A}/Calls.json: the body is JSON but not an "
                         "object (application/json, 6 bytes): '[1, 2]'. Twilio may have acted"),
        ("sms", [1, 2], f"HTTP 200 from POST {A}/Messages.json: the body is JSON but not an "
                        "object (application/json, 6 bytes): '[1, 2]'. Twilio may have acted"),
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


@pytest.mark.parametrize("command", ["sms", "call"])
def test_config_ref_checks_opt_outs_in_that_profiles_database(
    server_env: Store,
    twilio_env: TwilioStub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
) -> None:
    acme_url = f"sqlite:///{tmp_path / 'acme.sqlite3'}"
    profiles = tmp_path / "switchboard.toml"
    profiles.write_text(f'[profiles.acme]\ndatabase_url = "{acme_url}"\n')
    monkeypatch.setenv("SWITCHBOARD_PROFILES_FILE", str(profiles))
    acme = Store(acme_url)
    acme.create_all()
    acme.opt_out(TO, sender=FROM)
    acme.close()
    twilio_env.answer("POST", f"{A}/(Calls|Messages).json", {"sid": sid("SM"), "to": TO})
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command),
                          "--config-ref", "acme")  # fmt: skip
    assert code == 1, output
    assert "has opted out" in output
    assert twilio_env.requests == []


def test_config_ref_records_in_that_profiles_database(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    acme_url = f"sqlite:///{tmp_path / 'acme.sqlite3'}"
    profiles = tmp_path / "switchboard.toml"
    profiles.write_text(f'[profiles.acme]\ndatabase_url = "{acme_url}"\n')
    monkeypatch.setenv("SWITCHBOARD_PROFILES_FILE", str(profiles))
    twilio_env.answer("POST", f"{A}/Messages.json", {"sid": sid("SM", 7), "status": "queued"})
    code, output = invoke("sms", "--to", TO, "--from", FROM, "--body", "hi",
                          "--config-ref", "acme")  # fmt: skip
    assert code == 0, output
    acme = Store(acme_url)
    try:
        assert acme.get_message(sid("SM", 7)) is not None
    finally:
        acme.close()
    assert server_env.get_message(sid("SM", 7)) is None


@pytest.mark.parametrize("command", ["sms", "call"])
def test_an_app_without_a_store_is_one_line_before_any_request(
    server_env: Store, twilio_env: TwilioStub, tmp_path: Path, command: str
) -> None:
    plain = tmp_path / "plainapp.py"
    plain.write_text("from flask import Flask\n\napp = Flask(__name__)\n")
    code, output = invoke("--app", str(plain), command, "--to", TO, "--from", FROM,
                          *_extra(command))  # fmt: skip
    assert code == 1
    assert output.count("\n") == 1, output
    assert output.startswith("Error: the app 'plainapp' was not made by callbacks.create_app()")
    assert twilio_env.requests == []


@pytest.fixture
def emulator_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Emulator, Store]]:
    url = f"sqlite:///{tmp_path / 'switchboard.sqlite3'}"
    with Emulator(ACCOUNT_SID, AUTH_TOKEN, caller=False) as emu:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        monkeypatch.setenv("TWILIO_API_BASE_URL", emu.url)
        monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
        monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", PUBLIC)
        store = Store(url)
        store.create_all()
        yield emu, store
        store.close()


@pytest.mark.parametrize("command", ["sms", "call"])
def test_a_lost_answer_to_the_create_says_it_may_have_been_placed(
    emulator_env: tuple[Emulator, Store], command: str
) -> None:
    emu, _ = emulator_env
    emu.faults.add("drop", after=True, methods=["POST"])
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command))
    assert code == 1
    assert output.count("\n") == 1, output
    assert emu.state.created_count("messages" if command == "sms" else "calls") == 1
    search = "get-all-sms-messages" if command == "sms" else "get-calls"
    assert output.startswith("Error: could not reach ")
    assert output.endswith(
        f"Twilio may have acted on the request all the same: check with "
        f"`switchboard api {search} --to {TO}` before trying again\n"
    )


@pytest.mark.parametrize("command", ["sms", "call"])
def test_a_refused_create_does_not_say_it_may_have_been_placed(
    emulator_env: tuple[Emulator, Store], command: str
) -> None:
    emu, _ = emulator_env
    emu.state.strict_senders = True  # FROM is none of the account's numbers: refused
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command))
    assert code == 1
    assert output.count("\n") == 1, output
    assert f"Twilio error {21606 if command == 'sms' else 21210}" in output, output
    assert "may have acted" not in output
    assert emu.state.created_count() == 0


def test_an_empty_url_is_refused_not_replaced_by_the_flow(
    server_env: Store, twilio_env: TwilioStub
) -> None:
    code, output = invoke("call", "--to", TO, "--from", FROM, "--url", "")
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith("Error: call: --url: ")
    assert twilio_env.requests == []


def test_flow_and_an_empty_url_are_not_both_accepted(
    server_env: Store, twilio_env: TwilioStub
) -> None:
    code, output = invoke("call", "--to", TO, "--from", FROM, "--flow", "ivr", "--url", "")
    assert code == 2
    assert output == "Error: call: give --flow or --url, not both\n"
    assert twilio_env.requests == []


@pytest.mark.parametrize("url", [None, "https://example.com/twiml"])
def test_a_call_falls_back_to_this_servers_fallback_route(
    server_env: Store, twilio_env: TwilioStub, url: str | None
) -> None:
    twilio_env.answer("POST", f"{A}/Calls.json", {"sid": sid("CA", 8), "status": "queued"})
    code, output = invoke("call", "--to", TO, "--from", FROM,
                          *(["--url", url] if url else []))  # fmt: skip
    assert code == 0, output
    assert twilio_env.last.form["FallbackUrl"] == [f"{PUBLIC}/voice/fallback"]
    assert twilio_env.last.form["FallbackMethod"] == ["POST"]


def test_the_fallback_url_is_a_route_the_app_serves(server_env: Store) -> None:
    from switchboard.callbacks import create_app

    app = create_app({"TESTING": True})
    rules = {rule.rule: rule.methods for rule in app.url_map.iter_rules()}
    for path in ("/voice", "/voice/fallback", "/voice/status", "/sms/status"):
        assert path in rules
        assert {"GET", "POST"} <= rules[path]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://switchboard.example.com?", "must not have a ?query string"),
        ("https://switchboard.example.com#", "must not have a #fragment"),
        ("https://switch board.example.com", "is not a valid URL"),
    ],
)
@pytest.mark.parametrize("command", ["sms", "call"])
def test_a_public_url_that_would_break_the_callbacks_is_refused_before_any_request(
    server_env: Store, twilio_env: TwilioStub, command: str, url: str, expected: str
) -> None:
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command),
                          "--public-url", url)  # fmt: skip
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith(f"Error: {command}: --public-url: ")
    assert expected in output
    assert twilio_env.requests == []


def test_a_bad_public_url_setting_is_named_as_the_setting(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "https://switch board.example.com")
    code, output = invoke("sms", "--to", TO, "--from", FROM, "--body", "x")
    assert code in (1, 2)  # 2 when the settings refuse it as the app is loaded
    assert output == (
        "Error: sms: SWITCHBOARD_PUBLIC_URL: 'https://switch board.example.com' is not a valid "
        "URL\n"
    )
    assert "--public-url" not in output
    assert twilio_env.requests == []


@pytest.mark.parametrize("command", ["sms", "call"])
def test_a_connection_refused_does_not_say_it_may_have_been_placed(
    server_env: Store, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Nothing reached Twilio: the error alone, not "Twilio may have acted"."""
    monkeypatch.setenv("TWILIO_API_BASE_URL", f"http://127.0.0.1:{free_port()}")
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command))
    assert code == 1
    assert output.startswith("Error: could not reach 127.0.0.1:")
    assert output.endswith(": Connection refused (retries exhausted)\n"), output
    assert "may have acted" not in output



BAD_ARGUMENTS = [
    (["call", "--url", "bad"], "--url: 'bad' is not an absolute http(s) URL"),
    (["call", "--url", ""], "--url: '' is not an absolute http(s) URL"),
    (
        ["sms", "--body", "x", "--media-url", "bad"],
        "--media-url: 'bad' is not an absolute http(s) URL",
    ),
    (["sms", "--body", "x" * 1601], "--body: is 1601 characters; Twilio takes at most 1600"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_ARGUMENTS)
def test_arguments_are_checked_before_the_opt_outs(
    server_env: Store, twilio_env: TwilioStub, args: list[str], expected: str
) -> None:
    server_env.opt_out(TO, sender=FROM)
    code, output = invoke(args[0], "--to", TO, "--from", FROM, *args[1:])
    assert (code, output) == (2, f"Error: {args[0]}: {expected}\n")
    assert twilio_env.requests == []


@pytest.mark.parametrize(("args", "expected"), BAD_ARGUMENTS)
def test_arguments_are_checked_before_the_database(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch,
    args: list[str], expected: str
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", DOWN)
    code, output = invoke(args[0], "--to", TO, "--from", FROM, *args[1:])
    assert (code, output) == (2, f"Error: {args[0]}: {expected}\n")


@pytest.mark.parametrize("command", ["sms", "call"])
def test_no_public_url_is_a_usage_error(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.delenv("SWITCHBOARD_PUBLIC_URL")
    code, output = invoke(command, "--to", TO, "--from", FROM, *_extra(command))
    assert code == 2
    assert output.count("\n") == 1, output
    assert "SWITCHBOARD_PUBLIC_URL" in output
    assert twilio_env.requests == []
