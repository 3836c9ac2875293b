"""``switchboard provision --flow NAME``: a number's voice and SMS URLs at a Studio flow,
``/flows/NAME``, its fallbacks and status callback at the server's; the flow checked before
any request (a ``NAME.json`` of the flows folder, or a flow's SID, the folder's or the
database's); the dry-run diff and the read-back check, against the emulator."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from switchboard.api import TwilioClient, ValidationError, provisioning
from switchboard.api.provisioning import (
    Target,
    apply,
    check_flow_name,
    flow_url,
    plan,
    resolve_target,
    webhook_settings,
)
from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import flows_store
from switchboard.callbacks.studio.context import flow_sid
from switchboard.callbacks.studio.loader import load_flow
from switchboard.cli import cli
from switchboard.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "flows" / "examples"
PUBLIC = "https://switchboard.example.com"
IVR = f"{PUBLIC}/flows/ivr_voicemail"
#: Nothing listens there: a command that made a request would fail to connect (exit 1).
NOWHERE = "http://127.0.0.1:9"

#: What a number provisioned with ``--flow ivr_voicemail`` holds.
IVR_NUMBER = {
    "voice_url": IVR,
    "voice_method": "POST",
    "voice_fallback_url": f"{PUBLIC}/voice/fallback",
    "voice_fallback_method": "POST",
    "sms_url": IVR,
    "sms_method": "POST",
    "sms_fallback_url": f"{PUBLIC}/sms/fallback",
    "sms_fallback_method": "POST",
    "status_callback": f"{PUBLIC}/voice/status",
    "status_callback_method": "POST",
}


# -- the library ---------------------------------------------------------------------------


def test_a_flow_takes_the_voice_and_sms_urls_and_leaves_the_rest_to_the_server() -> None:
    assert webhook_settings(PUBLIC, "number", "ivr_voicemail") == IVR_NUMBER
    application = webhook_settings(PUBLIC, "application", "ivr_voicemail")
    assert application == {**IVR_NUMBER, "sms_status_callback": f"{PUBLIC}/sms/status"}
    assert webhook_settings(PUBLIC, "sandbox", "ivr_voicemail") == {
        "voice_url": IVR, "voice_method": "POST", "sms_url": IVR, "sms_method": "POST"}
    assert webhook_settings(PUBLIC, "number") == webhook_settings(PUBLIC, "number", None)
    sid = "FW" + "0" * 32
    assert flow_url(PUBLIC, sid) == f"{PUBLIC}/flows/{sid}"


@pytest.mark.parametrize("name", ["", "my flow", "-ivr", "ivr/menu", "ivr?x=1", "../ivr", "ivr#"])
def test_a_name_that_cannot_be_a_url_segment_is_refused(name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_flow_name(name)
    assert raised.value.argument == "flow"
    assert "is not a flow name" in str(raised.value)
    with pytest.raises(ValidationError):
        webhook_settings(PUBLIC, "number", name)


def test_the_plan_from_the_bundled_routes_to_a_flow_changes_two_urls() -> None:
    current = {"sid": "PN" + "1" * 32, "phone_number": "+14155550100",
               **webhook_settings(PUBLIC, "number")}
    target = Target("number", current["sid"], "number +14155550100", current)
    changes = plan(None, target, PUBLIC, flow="ivr_voicemail")  # type: ignore[arg-type]
    assert changes.diff() == [
        "number +14155550100:",
        f"  voice_url: {PUBLIC}/voice -> {IVR}",
        f"  sms_url: {PUBLIC}/sms -> {IVR}",
    ]


# -- against the emulator ------------------------------------------------------------------


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """The emulator (REST side), and the settings of a server whose flows folder holds the
    examples, with a database of its own."""
    with Emulator(caller=False) as running:
        for name, value in {
            "TWILIO_ACCOUNT_SID": running.account_sid,
            "TWILIO_AUTH_TOKEN": running.auth_token,
            "TWILIO_API_BASE_URL": running.url,
            "SWITCHBOARD_PUBLIC_URL": PUBLIC,
            "SWITCHBOARD_FLOWS_DIR": str(EXAMPLES),
            "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'switchboard.sqlite3'}",
        }.items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture
def client(emu: Emulator) -> Iterator[TwilioClient]:
    with TwilioClient(emu.account_sid, emu.auth_token, base_url=emu.url, retries=0) as made:
        yield made


@pytest.fixture
def number(client: TwilioClient) -> dict[str, Any]:
    return client.incoming_phone_numbers.create(area_code="415")


def provision(*args: str) -> Result:
    return CliRunner().invoke(cli, ["provision", *args], catch_exceptions=False)


def urls(client: TwilioClient, sid: str) -> dict[str, Any]:
    found = client.incoming_phone_numbers.get(sid)
    return {name: found.get(name) for name in IVR_NUMBER}


def test_dry_run_shows_the_flows_urls_and_changes_nothing(
    client: TwilioClient, number: dict[str, Any]
) -> None:
    before = urls(client, number["sid"])
    done = provision("--number", number["phone_number"], "--flow", "ivr_voicemail", "--dry-run")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0] == f"number {number['phone_number']} ({number['sid']}):"
    assert f"  voice_url: (none) -> {IVR}" in lines
    assert f"  sms_url: (none) -> {IVR}" in lines
    assert f"  voice_fallback_url: (none) -> {PUBLIC}/voice/fallback" in lines
    assert f"  sms_fallback_url: (none) -> {PUBLIC}/sms/fallback" in lines
    assert f"  status_callback: (none) -> {PUBLIC}/voice/status" in lines
    assert lines[-1] == "Dry run: nothing was changed."
    assert urls(client, number["sid"]) == before


def test_provisioning_a_flow_writes_reads_back_and_says_so(
    client: TwilioClient, number: dict[str, Any]
) -> None:
    done = provision("--number", number["sid"], "--flow", "ivr_voicemail")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == (
        f"Verified: number {number['phone_number']} ({number['sid']}) points at flow "
        f"ivr_voicemail, {IVR}.")
    assert urls(client, number["sid"]) == IVR_NUMBER
    again = provision("--number", number["sid"], "--flow", "ivr_voicemail", "--dry-run")
    assert "already points at this server, nothing to change" in again.output


def test_from_a_flow_back_to_the_bundled_routes_and_to_another_flow(
    client: TwilioClient, number: dict[str, Any]
) -> None:
    assert provision("--number", number["sid"], "--flow", "ivr_voicemail").exit_code == 0
    back = provision("--number", number["sid"])
    assert back.exit_code == 0, back.output
    assert f"  voice_url: {IVR} -> {PUBLIC}/voice" in back.output
    assert urls(client, number["sid"])["sms_url"] == f"{PUBLIC}/sms"
    other = provision("--number", number["sid"], "--flow", "sms_reply_loop")
    assert other.exit_code == 0, other.output
    assert urls(client, number["sid"])["sms_url"] == f"{PUBLIC}/flows/sms_reply_loop"


def test_a_flow_that_answers_no_calls_is_a_warning(number: dict[str, Any]) -> None:
    done = provision("--number", number["sid"], "--flow", "sms_reply_loop")
    assert done.exit_code == 0, done.output
    assert ("warning: flow sms_reply_loop answers no calls: its trigger's 'incomingCall' "
            "leads to no widget (a call hears nothing and hangs up)") in done.output
    assert "answers no messages" not in done.output


def test_the_read_back_names_the_urls_twilio_did_not_keep(
    client: TwilioClient, number: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provisioning, "write", lambda client, plan: None)
    done = provision("--number", number["sid"], "--flow", "ivr_voicemail")
    assert done.exit_code == 1
    (last,) = [line for line in done.output.splitlines() if line.startswith("Error:")]
    assert last.startswith(f"Error: number {number['phone_number']} ({number['sid']}) did not "
                           f"keep the change: voice_url is (none), not {IVR}; ")
    assert f"sms_url is (none), not {IVR}" in last


def test_apply_with_a_flow_on_the_emulator(client: TwilioClient, number: dict[str, Any]) -> None:
    target = resolve_target(client, number=number["phone_number"])
    after = apply(client, plan(client, target, PUBLIC, flow="sms_reply_loop"))
    assert after["voice_url"] == after["sms_url"] == f"{PUBLIC}/flows/sms_reply_loop"
    assert after["status_callback"] == f"{PUBLIC}/voice/status"


def test_an_application_and_the_sandbox_take_a_flow_too(client: TwilioClient) -> None:
    application = client.applications.create(friendly_name="front desk")
    done = provision("--application", application["sid"], "--flow", "ivr_voicemail")
    assert done.exit_code == 0, done.output
    after = client.applications.get(application["sid"])
    assert (after["voice_url"], after["sms_url"]) == (IVR, IVR)
    assert after["sms_status_callback"] == f"{PUBLIC}/sms/status"
    done = provision("--sandbox", "--flow", "ivr_voicemail")
    assert done.exit_code == 0, done.output
    assert client.sandbox.get()["voice_url"] == IVR


# -- refused before any request ------------------------------------------------------------


@pytest.fixture
def nowhere(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST API where nothing answers: a refusal with exit status 2 was made before any
    request (one would have failed to connect, exit status 1)."""
    monkeypatch.setenv("TWILIO_API_BASE_URL", NOWHERE)


def one_error_line(done: Result) -> str:
    assert done.exit_code == 2, done.output
    lines = done.output.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.usefixtures("nowhere")
def test_a_name_that_is_not_a_flow_of_the_folder_is_one_line() -> None:
    line = one_error_line(provision("--number", "+14155550100", "--flow", "ivr"))
    assert line == (f"Error: provision: --flow: no flow named 'ivr' in {EXAMPLES} (flows: "
                    "ivr_voicemail, sms_reply_loop); a flow of the Studio API goes by its SID, "
                    "FW...")


@pytest.mark.usefixtures("nowhere")
def test_a_name_that_cannot_be_a_flow_is_one_line() -> None:
    line = one_error_line(provision("--number", "+14155550100", "--flow", "my flow"))
    assert line.startswith("Error: provision: --flow: 'my flow' is not a flow name")


@pytest.mark.usefixtures("nowhere")
def test_an_unknown_flow_sid_is_one_line() -> None:
    sid = "FW" + "a" * 32
    line = one_error_line(provision("--number", "+14155550100", "--flow", sid))
    assert line == f"Error: provision: --flow: no flow {sid} in the flows folder or the database"


@pytest.mark.usefixtures("nowhere")
def test_a_flow_that_cannot_run_is_one_line_pointing_at_flows_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    definition = json.loads((EXAMPLES / "ivr_voicemail.json").read_text())
    definition["initial_state"] = "gone"
    (folder / "ivr.json").write_text(json.dumps(definition))
    monkeypatch.setenv("SWITCHBOARD_FLOWS_DIR", str(folder))
    line = one_error_line(provision("--number", "+14155550100", "--flow", "ivr"))
    assert line.startswith(f"Error: provision: --flow: {folder / 'ivr.json'} cannot run (1 "
                           "problem: ")
    assert "'gone'" in line
    assert line.endswith(f"see `switchboard flows check {folder / 'ivr.json'}`")


@pytest.mark.usefixtures("nowhere")
def test_without_a_flows_folder_a_name_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_FLOWS_DIR")
    monkeypatch.chdir(tmp_path)
    line = one_error_line(provision("--number", "+14155550100", "--flow", "ivr_voicemail"))
    assert line.startswith("Error: provision: --flow: no flow named 'ivr_voicemail': there is "
                           "no flows folder (set SWITCHBOARD_FLOWS_DIR")


@pytest.mark.usefixtures("nowhere")
def test_a_database_that_cannot_be_read_is_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL",
                       "postgresql+psycopg://switchboard:hunter2@127.0.0.1:9/switchboard")
    sid = "FW" + "b" * 32
    done = provision("--number", "+14155550100", "--flow", sid)
    assert done.exit_code == 1
    (line,) = done.output.splitlines()
    assert line.startswith(f"Error: provision: --flow: cannot look flow {sid} up: database ")
    assert "hunter2" not in line


# -- flows by SID ----------------------------------------------------------------------------


def test_a_flow_of_the_folder_by_its_sid(client: TwilioClient, number: dict[str, Any]) -> None:
    sid = flow_sid(load_flow(EXAMPLES / "ivr_voicemail.json"))
    done = provision("--number", number["sid"], "--flow", sid)
    assert done.exit_code == 0, done.output
    assert urls(client, number["sid"])["voice_url"] == f"{PUBLIC}/flows/{sid}"


@pytest.fixture
def database_flows(emu: Emulator, tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}")
    store.create_all()
    yield store
    store.close()


def test_a_flow_of_the_studio_api_by_its_sid(
    client: TwilioClient, number: dict[str, Any], database_flows: Store
) -> None:
    definition = json.loads((EXAMPLES / "sms_reply_loop.json").read_text())
    made = flows_store.create_flow(database_flows, friendly_name="bot", status="published",
                                   definition=definition)
    done = provision("--number", number["sid"], "--flow", made.sid)
    assert done.exit_code == 0, done.output
    assert "warning: flow " + made.sid + " answers no calls" in done.output
    assert "never published" not in done.output
    assert urls(client, number["sid"])["sms_url"] == f"{PUBLIC}/flows/{made.sid}"


def test_a_draft_of_the_studio_api_is_a_warning(
    number: dict[str, Any], database_flows: Store
) -> None:
    definition = json.loads((EXAMPLES / "ivr_voicemail.json").read_text())
    made = flows_store.create_flow(database_flows, friendly_name="ivr", status="draft",
                                   definition=definition)
    done = provision("--number", number["sid"], "--flow", made.sid)
    assert done.exit_code == 0, done.output
    assert (f"warning: flow {made.sid} was never published: it runs only for its test users "
            "until it is") in done.output


def test_the_folder_is_read_as_the_server_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: TwilioClient,
    number: dict[str, Any],
) -> None:
    """``./flows`` of the working folder, when SWITCHBOARD_FLOWS_DIR is not set."""
    (tmp_path / "flows").mkdir()
    shutil.copy(EXAMPLES / "ivr_voicemail.json", tmp_path / "flows" / "front-desk.json")
    monkeypatch.delenv("SWITCHBOARD_FLOWS_DIR")
    monkeypatch.chdir(tmp_path)
    done = provision("--number", number["sid"], "--flow", "front-desk")
    assert done.exit_code == 0, done.output
    assert urls(client, number["sid"])["voice_url"] == f"{PUBLIC}/flows/front-desk"
