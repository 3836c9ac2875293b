"""``switchboard flows run``: one execution (``--to``) or one per row of a CSV file
(``--contacts``), through the app's store and account, against the emulator; every bad
argument one line and exit status 2 before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.cli import cli
from switchboard.emulator import Emulator
from tests.studio_timers import NUMBER, ask_definition, contact


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(caller=False) as emu:
        yield emu


@pytest.fixture
def env(tmp_path: Path, emulator: Emulator, database_url: str) -> dict[str, str]:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "ask.json").write_text(json.dumps(ask_definition(3600)))
    no_request = ask_definition(3600)
    no_request["states"][0]["transitions"] = [{"event": "incomingMessage", "next": "question"}]
    (flows / "inbound.json").write_text(json.dumps(no_request))
    return {
        "SWITCHBOARD_FLOWS_DIR": str(flows),
        "SWITCHBOARD_DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": emulator.account_sid,
        "TWILIO_AUTH_TOKEN": emulator.auth_token,
        "TWILIO_API_BASE_URL": emulator.url,
    }


@pytest.fixture
def store(env: dict[str, str]) -> Iterator[Store]:
    made = Store(env["SWITCHBOARD_DATABASE_URL"])
    made.create_all()
    yield made
    made.close()


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["flows", "run", *args], env=env)


def sent_to(emulator: Emulator, number: str) -> list[str]:
    return [m["body"] for m in emulator.state.list("messages", where=lambda m: m["to"] == number)]


def test_one_execution_is_started_and_printed(env, emulator, store):
    number = contact()
    result = run(env, "ask", "--to", number, "--from", NUMBER, "--parameters",
                 '{"name": "Ada"}')
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["contact_channel_address"] == number
    assert printed["status"] == "active"
    assert printed["context"]["flow"]["data"] == {"name": "Ada"}
    assert sent_to(emulator, number) == ["Hello Ada, reply YES."]
    (execution,) = [e for e in executions.list_executions(store)
                    if e.contact_channel_address == number]
    assert execution.sid == printed["sid"]
    again = run(env, "ask", "--to", number, "--from", NUMBER)
    assert again.exit_code == 1
    assert again.stderr == (f"Error: {number} has an active execution of flow ask already; it "
                            "must end before another starts\n")


def test_a_number_that_opted_out_is_not_started(env, emulator, store):
    number = contact()
    store.opt_out(number, NUMBER)
    result = run(env, "ask", "--to", number, "--from", NUMBER)
    assert result.exit_code == 1
    assert "has opted out" in result.stderr
    assert sent_to(emulator, number) == []


def test_a_file_of_contacts_with_a_summary_and_a_second_run_that_starts_none(
        env, emulator, store, tmp_path):
    numbers = [contact() for _ in range(6)]
    store.opt_out(numbers[2], NUMBER)
    path = tmp_path / "contacts.csv"
    path.write_text("to,name\n" + "".join(f"{n},P{i}\n" for i, n in enumerate(numbers)))
    result = run(env, "ask", "--from", NUMBER, "--contacts", str(path), "--rate", "200")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("6 contacts: 5 started, 1 skipped (opted out), 0 skipped "
                                    "(already started), 0 failed in ")
    assert result.stderr.startswith("campaign ask-")
    for index, number in enumerate(numbers):
        assert sent_to(emulator, number) == ([] if index == 2 else [f"Hello P{index}, reply YES."])
    again = run(env, "ask", "--from", NUMBER, "--contacts", str(path))
    assert again.stdout == ("6 contacts: 0 started, 1 skipped (opted out), 5 skipped (already "
                            "started), 0 failed\n")


def test_rows_that_fail_are_listed_and_exit_1(env, emulator, store, tmp_path):
    busy, free = contact(), contact()
    assert run(env, "ask", "--to", busy, "--from", NUMBER).exit_code == 0
    path = tmp_path / "contacts.csv"
    path.write_text(f"to\n{busy}\n{free}\n")
    result = run(env, "ask", "--from", NUMBER, "--contacts", str(path), "--campaign", "mine")
    assert result.exit_code == 1
    assert f"row 2: {busy}: {busy} has an active execution of flow ask already\n" in result.stderr
    assert result.stderr.endswith("Error: 1 contact got no execution; run the same command "
                                  "again to try them again\n")
    assert result.stdout.startswith("2 contacts: 1 started, 0 skipped (opted out), 0 skipped "
                                    "(already started), 1 failed")


def test_no_account_is_refused_before_anything_and_a_later_run_starts_everyone(
        env, emulator, store, tmp_path):
    numbers = [contact(), contact()]
    path = tmp_path / "contacts.csv"
    path.write_text("to,name\n" + "".join(f"{n},P{i}\n" for i, n in enumerate(numbers)))
    token = env["TWILIO_AUTH_TOKEN"]
    result = run({**env, "TWILIO_AUTH_TOKEN": ""}, "ask", "--from", NUMBER, "--contacts",
                 str(path))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: flows run: no Twilio account to send through: ")
    assert "TWILIO_AUTH_TOKEN" in result.stderr
    assert token not in result.output
    one = run({**env, "TWILIO_AUTH_TOKEN": ""}, "ask", "--from", NUMBER, "--to", numbers[0])
    assert one.exit_code == 2
    assert [e for e in executions.list_executions(store)
            if e.contact_channel_address in numbers] == []
    again = run(env, "ask", "--from", NUMBER, "--contacts", str(path))
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("2 contacts: 2 started, 0 skipped (opted out), 0 skipped "
                                   "(already started), 0 failed")
    for index, number in enumerate(numbers):
        assert sent_to(emulator, number) == [f"Hello P{index}, reply YES."]


def test_a_send_the_api_refuses_fails_the_contact_and_the_next_run_sends_it(
        env, emulator, store, tmp_path):
    number = contact()
    path = tmp_path / "contacts.csv"
    path.write_text(f"to,name\n{number},Ada\n")
    emulator.faults.add("500", rate=1.0, methods=["POST"])
    try:
        failed = run(env, "ask", "--from", NUMBER, "--contacts", str(path), "--campaign",
                     "down")
    finally:
        emulator.faults.clear()
    assert failed.exit_code == 1, failed.output
    assert failed.stdout.startswith("1 contact: 0 started, 0 skipped (opted out), 0 skipped "
                                    "(already started), 1 failed")
    assert f"row 2: {number}: execution FN" in failed.stderr
    assert "not sent: " in failed.stderr
    assert "500" in failed.stderr
    again = run(env, "ask", "--from", NUMBER, "--contacts", str(path), "--campaign", "down")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("1 contact: 1 started, 0 skipped (opted out), 0 skipped "
                                   "(already started), 0 failed")
    assert sent_to(emulator, number) == ["Hello Ada, reply YES."]


def test_a_send_the_api_refuses_for_one_contact_prints_the_execution_and_exits_1(
        env, emulator, store):
    number = contact()
    emulator.faults.add("500", rate=1.0, methods=["POST"])
    try:
        failed = run(env, "ask", "--to", number, "--from", NUMBER)
    finally:
        emulator.faults.clear()
    assert failed.exit_code == 1, failed.output
    printed = json.loads(failed.stdout)
    assert printed["contact_channel_address"] == number
    (line,) = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert line.startswith(f"Error: execution {printed['sid']}: not sent: ")
    assert "500" in line
    assert sent_to(emulator, number) == []


@pytest.mark.parametrize(("args", "problem"), [
    (["ask", "--from", NUMBER], "flows run: give --to for one contact or --contacts for a "
                                "file, one of them"),
    (["ask", "--from", NUMBER, "--to", "+1555", "--contacts", "x.csv"],
     "flows run: give --to for one contact or --contacts for a file, one of them"),
    (["ask", "--from", "555", "--to", "+15551230000"],
     "flows run: --from: '555' is not an E.164 number (like +14155550100: '+', country code, "
     "number)"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--parameters", "[1]"],
     "flows run: --parameters: a JSON object is needed, like '{\"name\": \"Ada\"}'"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--parameters", "{"],
     "flows run: --parameters: not JSON (Expecting property name enclosed in double quotes "
     "at column 2)"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--parameters", '{"total": 1e400}'],
     "flows run: --parameters: holds a number too large for JSON at total; send a finite "
     "number, or its digits as a string"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--parameters", '{"name": "\\ud800"}'],
     "flows run: --parameters: holds a lone UTF-16 surrogate at name; send text as UTF-8, or "
     "escape it as a surrogate pair"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--parameters",
      '{"a":' * 65 + "1" + "}" * 65],
     "flows run: --parameters: nests more than 64 levels deep (at " + "a." * 40 + "...); "
     "send flatter data"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--parameters",
      '{"a":' * 100_000 + "1" + "}" * 100_000],
     "flows run: --parameters: nested too deeply to read; send flatter JSON"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--parameters",
      '{"id": 1' + "0" * 5000 + "}"],
     "flows run: --parameters: a number has more than 4300 digits; send it as a string"),
    (["ask", "--from", NUMBER, "--contacts", "CSV", "--rate", "0"],
     "flows run: --rate: 0 is not a number of executions a second above 0"),
    (["ask", "--from", NUMBER, "--to", "+15551230000", "--campaign", "x"],
     "flows run: --campaign goes with --contacts"),
    (["nope", "--from", NUMBER, "--to", "+15551230000"],
     "flows run: no flow named 'nope' in FLOWS (flows: ask, inbound)"),
    (["inbound", "--from", NUMBER, "--to", "+15551230000"],
     "flows run: flow 'inbound' does not start on a REST API request: its trigger has no "
     "'incomingRequest' transition"),
    (["ask", "--from", NUMBER, "--contacts", "CSV"],
     "flows run: --contacts: CSV: row 3: '555-0101' in column 'to' is not a phone number in "
     "E.164 form (+ and the "
     "country code, like +14155550123)"),
    (["ask", "--from", NUMBER, "--rate", "fast", "--to", "+15551230000"],
     "flows run: Invalid value for '--rate': 'fast' is not a valid float."),
])
def test_a_bad_argument_is_one_line_and_exit_2_with_nothing_sent(env, emulator, tmp_path,
                                                                 args, problem):
    path = tmp_path / "contacts.csv"
    path.write_text("to\n+15551230001\n555-0101\n")
    args = [str(path) if arg == "CSV" else arg for arg in args]
    before = len(emulator.state.list("messages"))
    result = run(env, *args)
    expected = problem.replace("FLOWS", env["SWITCHBOARD_FLOWS_DIR"]).replace("CSV", str(path))
    assert (result.exit_code, result.stderr) == (2, f"Error: {expected}\n")
    assert result.stdout == ""
    assert len(emulator.state.list("messages")) == before


def test_the_help_names_the_options():
    result = CliRunner().invoke(cli, ["flows", "run", "--help"])
    assert result.exit_code == 0
    for option in ("--to", "--from", "--parameters", "--contacts", "--rate", "--campaign"):
        assert option in result.stdout


