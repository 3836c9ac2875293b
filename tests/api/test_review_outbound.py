"""Second review of ``switchboard call`` / ``switchboard sms``: the opt-out check uses the
store of the profile picked with ``--config-ref``, an ``--app`` without a store is one line,
a create whose answer was lost says it may have been carried out, ``--url ""`` is refused,
and a call gets this server's fallback URL."""

from __future__ import annotations

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


def _extra(command: str) -> list[str]:
    return ["--body", "hello"] if command == "sms" else []


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


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
    code, output = invoke(command, "--to", "+1", "--from", FROM, *_extra(command))
    assert code == 1
    assert output.count("\n") == 1, output
    assert "Twilio error 21211" in output, output
    assert "may have acted" not in output
    assert emu.state.created_count() == 0


def test_an_empty_url_is_refused_not_replaced_by_the_flow(
    server_env: Store, twilio_env: TwilioStub
) -> None:
    code, output = invoke("call", "--to", TO, "--from", FROM, "--url", "")
    assert code == 2
    assert output.count("\n") == 1, output
    assert output.startswith("Error: --url: ")
    assert twilio_env.requests == []


def test_flow_and_an_empty_url_are_not_both_accepted(
    server_env: Store, twilio_env: TwilioStub
) -> None:
    code, output = invoke("call", "--to", TO, "--from", FROM, "--flow", "ivr", "--url", "")
    assert code == 2
    assert output == "Error: give --flow or --url, not both\n"
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
    assert output.startswith("Error: --public-url: ")
    assert expected in output
    assert twilio_env.requests == []


def test_a_bad_public_url_setting_is_named_as_the_setting(
    server_env: Store, twilio_env: TwilioStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_URL", "https://switch board.example.com")
    code, output = invoke("sms", "--to", TO, "--from", FROM, "--body", "x")
    assert code in (1, 2)  # 2 when the settings refuse it as the app is loaded
    assert output == (
        "Error: SWITCHBOARD_PUBLIC_URL: 'https://switch board.example.com' is not a valid URL\n"
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

