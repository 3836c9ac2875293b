"""All 50 of the connector's operations (and the alias), run through the command line,
``switchboard api OPERATION --kebab-options``, against a running emulator on 127.0.0.1: in this
process with click's runner, and some as a subprocess of the installed console script.

Every run checks the exit status and what is printed: the JSON of Twilio's answer on stdout
(compared with the emulator's state), or for a delete the 204 line on stderr. The resources the
operations act on are made first through the command line (a sub-account, numbers, a caller
ID, an application, a call, a message); those no request makes (a conference and its
participant, a recording, its transcription, a notification) are put in the emulator's state.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from switchboard.api.operations import OPERATIONS
from switchboard.cli import cli
from switchboard.emulator import Emulator, media
from tests.e2e.conftest import ROOT, SWITCHBOARD, subprocess_env
from tests.emulator_rest.conftest import RecordingPhone

CALLER = "+14155550111"
DONE = "Done: Twilio answered 204 No Content."


@dataclass
class Shell:
    """Runs ``switchboard api ...`` against ``emu`` and remembers which operations ran."""

    emu: Emulator
    env: dict[str, str]
    ran: set[str] = field(default_factory=set)

    def __call__(self, name: str, *options: str, status: int = 0) -> Any:
        """``switchboard api NAME OPTIONS`` in this process: the JSON printed (None for a
        delete, which prints its 204 line on stderr and nothing on stdout)."""
        self.ran.add(name)
        result = CliRunner().invoke(cli, ["api", name, *options], env=self.env)
        assert result.exit_code == status, (name, result.output, result.exception)
        return self._printed(name, result.stdout, result.stderr, status)

    def run(self, name: str, *options: str, status: int = 0) -> Any:
        """The same, as a subprocess of the installed console script."""
        self.ran.add(name)
        done = subprocess.run(
            [str(SWITCHBOARD), "api", name, *options], env=subprocess_env(self.env), cwd=ROOT,
            capture_output=True, text=True, timeout=30, check=False,
        )
        assert done.returncode == status, (name, done.stdout, done.stderr)
        return self._printed(name, done.stdout, done.stderr, status)

    def _printed(self, name: str, stdout: str, stderr: str, status: int) -> Any:
        assert self.emu.auth_token not in stdout + stderr, name
        if status:
            assert stdout == "", (name, stdout)
            assert stderr.startswith("Error: "), (name, stderr)
            assert stderr.count("\n") == 1, (name, stderr)
            return stderr.strip()
        if stdout == "":
            assert stderr == DONE + "\n", (name, stderr)
            return None
        assert stderr == "", (name, stderr)
        return json.loads(stdout)


@pytest.fixture
def shell() -> Iterator[Shell]:
    """The emulator on a free port of 127.0.0.1 (its caller side only records the calls and
    messages it is handed), and the settings pointing ``switchboard`` at it."""
    emu = Emulator(caller=False)
    emu.phone = RecordingPhone()
    with emu:
        yield Shell(emu, {
            "TWILIO_ACCOUNT_SID": emu.account_sid,
            "TWILIO_AUTH_TOKEN": emu.auth_token,
            "TWILIO_API_BASE_URL": emu.url,
            "SWITCHBOARD_DOTENV": "0",
        })


def sids(items: list[dict[str, Any]]) -> list[str]:
    return [item["sid"] for item in items]


def test_every_operation_through_the_command_line(shell: Shell, tmp_path: Path) -> None:
    api, emu = shell, shell.emu
    state, main = emu.state, emu.account_sid

    # -- accounts
    assert api.run("get-account-details")["sid"] == main
    sub = api("create-sub-account", "--friendly-name", "Support")
    assert state.get("accounts", sub["sid"])["friendly_name"] == "Support"
    assert api("get-sub-account-by-account-sid", "--account-sid", sub["sid"])["sid"] == sub["sid"]
    assert api("get-sub-account-by-friendly-name", "--friendly-name", "Support")["sid"] == (
        sub["sid"])
    assert sorted(sids(api("get-all-accounts-details"))) == sorted([main, sub["sid"]])
    updated = api("update-account", "--account-sid", sub["sid"], "--friendly-name", "Help desk")
    assert updated["friendly_name"] == "Help desk"
    assert state.get("accounts", sub["sid"])["friendly_name"] == "Help desk"

    # -- numbers for sale
    local = api("get-available-phone-numbers", "--iso-country-code", "US", "--area-code", "415")
    assert local
    assert all(n["phone_number"].startswith("+1415") for n in local)
    assert api("get-available-phone-numbers-advanced-seach", "--iso-country-code", "US",
               "--near-phone-number", "+14155550100", "--distance", "30", "--limit", "5")
    texas = api("get-available-phone-numbers-advanced-search", "--iso-country-code", "US",
                "--in-region", "TX", "--limit", "5")
    assert {n["region"] for n in texas} == {"TX"}
    toll_free = api("get-available-toll-free-numbers", "--iso-country-code", "US",
                    "--contains", "866")
    assert toll_free
    assert all("866" in n["phone_number"] for n in toll_free)

    # -- outgoing caller IDs
    validation = api("add-new-caller-id", "--phone-number", "+14155550142",
                     "--friendly-name", "Home")
    assert validation["validation_code"]
    assert validation["phone_number"] == "+14155550142"
    [caller_id] = api("get-all-outgoing-caller-ids", "--phone-number", "+14155550142")
    assert api("get-outgoing-caller-id-by-outgoing-caller-id-sid", "--outgoing-caller-id-sid",
               caller_id["sid"])["friendly_name"] == "Home"
    assert api("update-outgoing-caller-id-by-outgoing-caller-id-sid", "--outgoing-caller-id-sid",
               caller_id["sid"], "--friendly-name", "Cell")["friendly_name"] == "Cell"
    assert api("delete-outgoing-caller-id", "--outgoing-caller-id-sid", caller_id["sid"]) is None
    assert state.list("outgoing_caller_ids", account_sid=main) == []

    # -- applications
    app = api("create-application", "--friendly-name", "Switchboard",
              "--voice-url", "https://example.com/voice")
    assert api("get-application", "--application-sid", app["sid"])["voice_url"] == (
        "https://example.com/voice")
    assert api("update-application", "--application-sid", app["sid"],
               "--sms-url", "https://example.com/sms")["sms_url"] == "https://example.com/sms"
    assert sids(api("get-all-applications", "--friendly-name", "Switchboard")) == [app["sid"]]

    # -- incoming numbers
    by_area = api.run("add-incoming-phone-number-by-area-code", "--area-code", "512")
    assert by_area["phone_number"].startswith("+1512")
    ours = api("add-incoming-phone-number-by-phone-number", "--phone-number", "+14155550123",
               "--voice-url", "https://example.com/voice")
    assert ours["phone_number"] == "+14155550123"
    assert sorted(sids(api("get-incoming-phone-numbers"))) == sorted([by_area["sid"],
                                                                      ours["sid"]])
    changed = api("update-incoming-phone-numbers", "--incoming-phone-number-sid", ours["sid"],
                  "--voice-url", "https://example.com/v2", "--sms-method", "GET")
    assert (changed["voice_url"], changed["sms_method"]) == ("https://example.com/v2", "GET")
    assert state.find_number("+14155550123")["voice_url"] == "https://example.com/v2"
    assert api("get-incoming-phone-numbers-by-incoming-phone-number-sid",
               "--incoming-phone-number-sid", ours["sid"])["sms_method"] == "GET"
    moved = api("exchange-phone-numbers-between-subaccounts", "--incoming-phone-number-sid",
                by_area["sid"], "--account-sid-to", sub["sid"])
    assert moved["account_sid"] == sub["sid"]
    assert state.get("incoming_phone_numbers", by_area["sid"])["account_sid"] == sub["sid"]

    # -- calls
    call = api.run("make-call", "--to", CALLER, "--from", ours["phone_number"],
                   "--url", "https://example.com/voice", "--if-machine", "Continue")
    assert (call["sid"][:2], call["to"]) == ("CA", CALLER)
    assert emu.phone.calls[-1]["machine_detection"] == "Enable"
    state.update_call(call["sid"], status="in-progress")
    assert api("get-call", "--call-sid", call["sid"])["status"] == "in-progress"
    assert sids(api("get-calls", "--to", CALLER, "--status", "in-progress")) == [call["sid"]]
    assert api("change-call-state", "--call-sid", call["sid"], "--status", "completed")[
        "status"] == "completed"

    # -- conferences: a call joins one in a call's TwiML, so the state holds it
    conference = state.create_conference(main, "room")
    state.add_participant(conference["sid"], call["sid"])
    assert api("get-conference", "--conference-sid", conference["sid"])["friendly_name"] == "room"
    assert sids(api("get-conferences", "--status", "in-progress", "--friendly-name", "room")) == [
        conference["sid"]]
    participants = api("get-participants", "--conference-sid", conference["sid"])
    assert [p["call_sid"] for p in participants] == [call["sid"]]
    where = ("--conference-sid", conference["sid"], "--call-sid", call["sid"])
    assert api("get-participant", *where)["muted"] is False
    assert api("update-participant-status", *where, "--muted", "true")["muted"] is True
    assert api("delete-participant", *where) is None
    assert api("get-participants", "--conference-sid", conference["sid"]) == []

    # -- messages
    message = api.run("send-sms-message", "--to", CALLER, "--from", ours["phone_number"],
                      "--body", "Hello")
    assert (message["sid"][:2], message["body"]) == ("SM", "Hello")
    assert api("get-sms-message", "--sms-message-sid", message["sid"])["body"] == "Hello"
    assert sids(api("get-all-sms-messages", "--to", CALLER)) == [message["sid"]]

    # -- recordings and transcriptions: made by <Record> in a call, so the state holds them
    recording = state.create_recording(main, call["sid"], duration=2)
    transcription = state.create_transcription(main, recording["sid"],
                                               transcription_text="Call me back")
    assert api("get-recording", "--recording-sid", recording["sid"])["duration"] == "2"
    audio = tmp_path / "recording.mp3"
    saved = CliRunner().invoke(cli, ["api", "get-recording", "--recording-sid", recording["sid"],
                                     "--recording-type", "mp3", "--output", str(audio)],
                               env=api.env)
    assert saved.exit_code == 0, saved.output
    assert saved.stderr == f"Saved {audio.stat().st_size} bytes to {audio}\n"
    assert audio.stat().st_size == media.mp3_size(2)
    assert sids(api("get-recordings", "--call-sid", call["sid"])) == [recording["sid"]]
    assert api("get-transcription-by-transcription-sid", "--transcription-sid",
               transcription["sid"])["transcription_text"] == "Call me back"
    assert sids(api("get-transcriptions", "--recording-sid", recording["sid"])) == [
        transcription["sid"]]
    assert api("delete-recording", "--recording-sid", recording["sid"]) is None
    assert state.get("recordings", recording["sid"]) is None

    # -- notifications: Twilio writes them when a webhook fails
    notification = state.create_notification(main, call["sid"], error_code="11200")
    assert api("get-notification", "--notification-sid", notification["sid"])["error_code"] == (
        "11200")
    assert sids(api("get-all-notifications")) == [notification["sid"]]
    assert sids(api("get-notifications-by-call-sid", "--call-sid", call["sid"])) == [
        notification["sid"]]
    # retired by Twilio (docs/api.md): sent as the connector sent it, Twilio's refusal (405)
    # is one line naming the retirement, exit status 1
    refusal = api.run("delete-notification", "--notification-sid", notification["sid"],
                      status=1)
    assert "deleting a Notification was retired by Twilio" in refusal
    assert state.get("notifications", notification["sid"]) is not None

    # -- the sandbox: retired by Twilio, still served by the emulator (docs/api.md)
    sandbox = api("update-sandbox", "--voice-url", "https://example.com/sandbox")
    assert sandbox["voice_url"] == "https://example.com/sandbox"
    assert api("get-sandbox")["voice_url"] == "https://example.com/sandbox"

    # -- deletes, last: what the others acted on
    assert api("delete-incoming-phone-number", "--incoming-phone-number-sid", ours["sid"]) is None
    assert state.find_number("+14155550123") is None
    assert api.run("delete-application", "--application-sid", app["sid"]) is None
    assert state.get("applications", app["sid"]) is None

    assert set(OPERATIONS) - api.ran == set(), "operations not run through the command line"
    assert api.ran == set(OPERATIONS)
