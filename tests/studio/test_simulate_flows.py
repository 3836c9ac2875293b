"""``switchboard simulate call|sms`` driving the example Studio flows (``flows/examples``):
the IVR's menu by keys and by speech down to the voicemail, and the SMS bot's reply loop over
three ``simulate sms`` invocations, the execution waiting for each reply in the database
between two of them.

Twice: with ``--in-process --flow NAME`` (the app in the command's process, a new one each
invocation, on one database), and through a running emulator (``--emulator``, the default
when ``TWILIO_API_BASE_URL`` is the emulator's) calling a number that ``switchboard provision
--flow`` pointed at the server's flow, as a user would, the texts from the installed console
script in processes of their own.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from switchboard.api import TwilioClient
from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.cli import cli
from switchboard.emulator.stack import SwitchboardStack
from tests.e2e.conftest import ROOT, SWITCHBOARD, stack_env, subprocess_env

EXAMPLES = ROOT / "flows" / "examples"

TO = "+15551230000"
CALLER = "+15555550100"

MENU = ("  Say: Thanks for calling Harbor Dental. Press 1 or say front desk to talk to us. Press "
        "2 or say hours for our opening hours. Press 3 or say message to leave a voicemail.")
HOURS = ("  Say: We are open Monday to Friday from 8 AM to 6 PM, and Saturday from 9 AM to "
         "noon.")
VOICEMAIL = [
    "  Say: Please leave your name, your number and a short message after the tone. Press the "
    "pound key when you are done.",
    "  Play: (beep)",
    "RECORD",
    "  Say: Thank you. We will call you back on the number ending in 0100. Goodbye.",
    "  End: The document ended; the call hangs up.",
    "STATUS",
]
RECORD = re.compile(r"  Record: 5 s recorded \(RE[0-9a-f]{32}\), ended by #")
STATUS = re.compile(r"  Status: call completed after \d+ s")

GREETING = ("Hi, this is Corner Books! Reply 1 to track an order, 2 for our opening hours, or "
            "BYE to finish.")
OPENING = "We are open every day from 10 AM to 7 PM."
AGAIN = "Anything else? Reply 1 to track an order, 2 for our hours, or BYE."
BYE = "Thanks for texting Corner Books. Bye!"


def same_lines(lines: list[str], expected: list[str]) -> None:
    """``lines`` are ``expected``, where ``RECORD`` and ``STATUS`` stand for the recording's
    and the call's status lines (a SID, a duration)."""
    assert len(lines) == len(expected), "\n".join(lines)
    for line, wanted in zip(lines, expected, strict=True):
        if wanted == "RECORD":
            assert RECORD.fullmatch(line), line
        elif wanted == "STATUS":
            assert STATUS.fullmatch(line), line
        else:
            assert line == wanted


def sent(output: str) -> list[str]:
    """The texts the flow sent, in order."""
    prefix = f"  Message sent: to {CALLER}: "
    return [line.removeprefix(prefix) for line in output.splitlines()
            if line.startswith(prefix)]


def only_execution(store_url: str, flow: str) -> executions.Execution:
    store = Store(store_url)
    try:
        (found,) = [e for e in executions.list_executions(store) if e.flow_name == flow]
        return found
    finally:
        store.close()


def steps(store_url: str, execution_sid: str) -> list[str]:
    store = Store(store_url)
    try:
        return [s["transitioned_to"] for s in executions.list_steps(store, execution_sid)]
    finally:
        store.close()


# -- --in-process --flow NAME ------------------------------------------------------------------


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> str:
    """Settings for the app in process: the examples' folder, an SQLite file (its URL)."""
    monkeypatch.setenv("SWITCHBOARD_FLOWS_DIR", str(EXAMPLES))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", sqlite_url)
    return sqlite_url


def simulate(*args: str) -> Result:
    return CliRunner().invoke(cli, ["simulate", *args], catch_exceptions=False)


def in_process_call(*args: str) -> list[str]:
    done = simulate("call", "--to", TO, "--in-process", "--flow", "ivr_voicemail", *args)
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0] == (f"Calling {TO} from {CALLER} (flow ivr_voicemail of the app in process "
                        "(http://localhost))")
    return lines[1:]


def test_in_process_the_menu_by_key_down_to_the_voicemail(in_process: str) -> None:
    same_lines(in_process_call("--digits", "3"), [MENU, "  Caller: pressed 3", *VOICEMAIL])
    execution = only_execution(in_process, "ivr_voicemail")
    assert execution.status == "ended"
    assert execution.context["widgets"]["main_menu"]["Digits"] == "3"
    assert execution.context["widgets"]["record_voicemail"]["RecordingDuration"] == "5"
    assert steps(in_process, execution.sid) == [
        "main_menu", "route_digits", "voicemail_prompt", "record_voicemail", "thank_you",
        "Ended"]


def test_in_process_the_menu_by_speech_down_to_the_voicemail(in_process: str) -> None:
    same_lines(in_process_call("--speech", "leave a message"),
               [MENU, '  Caller: said "leave a message"', *VOICEMAIL])
    execution = only_execution(in_process, "ivr_voicemail")
    assert execution.context["widgets"]["main_menu"]["SpeechResult"] == "leave a message"
    assert steps(in_process, execution.sid)[:3] == ["main_menu", "route_speech",
                                                    "voicemail_prompt"]


def test_in_process_the_hours_then_back_to_the_menu(in_process: str) -> None:
    same_lines(in_process_call("--digits", "2,3"), [
        MENU, "  Caller: pressed 2", HOURS, MENU, "  Caller: pressed 3", *VOICEMAIL])


def test_in_process_the_sms_reply_loop_over_three_invocations(in_process: str) -> None:
    def text(body: str) -> list[str]:
        done = simulate("sms", "--to", TO, "--in-process", "--flow", "sms_reply_loop",
                        "--body", body)
        assert done.exit_code == 0, done.output
        assert done.output.splitlines()[0] == (
            f"Texting {TO} from {CALLER} (flow sms_reply_loop of the app in process "
            "(http://localhost))")
        return sent(done.output)

    assert text("hi") == [GREETING]
    waiting = only_execution(in_process, "sms_reply_loop")
    assert (waiting.status, waiting.widget, waiting.waiting_for) == ("active", "greeting",
                                                                     "reply")
    assert text("2") == [OPENING, AGAIN]
    waiting = only_execution(in_process, "sms_reply_loop")
    assert (waiting.status, waiting.widget, waiting.waiting_for) == ("active", "ask_again",
                                                                     "reply")
    assert text("bye") == [BYE]
    ended = only_execution(in_process, "sms_reply_loop")
    assert ended.sid == waiting.sid
    assert ended.status == "ended"
    assert ended.context["flow"]["variables"]["reply"] == "bye"


def test_flow_needs_in_process(in_process: str) -> None:
    for where in (["--url", "http://127.0.0.1:9/flows/ivr_voicemail"],
                  ["--emulator", "http://127.0.0.1:9"]):
        done = simulate("call", "--to", TO, *where, "--flow", "ivr_voicemail")
        assert done.exit_code == 2
        assert "--flow needs --in-process" in done.output
        assert "switchboard provision --number NUMBER --flow NAME" in done.output


def test_in_process_a_flow_the_app_does_not_serve_is_one_line(in_process: str) -> None:
    done = simulate("sms", "--to", TO, "--in-process", "--flow", "ivr", "--body", "hi")
    assert done.exit_code == 2
    assert done.output == ("Error: simulate sms: --flow: the app has no flow 'ivr' (its "
                           "flows folder's: "
                           "ivr_voicemail, sms_reply_loop; SWITCHBOARD_FLOWS_DIR sets the "
                           "folder)\n")


# -- through a running emulator, the number provisioned with --flow ----------------------------


@dataclass
class Running:
    """The emulator and the server (the examples' flows) on sockets, and the settings of a
    ``switchboard`` command that uses them."""

    stack: SwitchboardStack
    client: TwilioClient
    env: dict[str, str]
    database_url: str

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``switchboard ARGS`` as a process of the installed console script."""
        return subprocess.run([str(SWITCHBOARD), *args], env=subprocess_env(self.env), cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)

    def number_for(self, flow: str) -> str:
        """A new number of the emulator's account, pointed at ``flow`` by ``provision``."""
        bought = self.client.incoming_phone_numbers.create(area_code="415")["phone_number"]
        done = self.cli("provision", "--allow-insecure", "--number", bought, "--flow", flow)
        assert done.exit_code == 0, done.output
        assert f"points at flow {flow}, {self.stack.url}/flows/{flow}." in done.output
        return bought


@pytest.fixture
def running(database_url: str) -> Iterator[Running]:
    stack = SwitchboardStack(database_url=database_url,
                             config={"SWITCHBOARD_FLOWS_DIR": str(EXAMPLES)}).start()
    client = stack.client()
    try:
        yield Running(stack, client, stack_env(stack), database_url)
    finally:
        client.close()
        stack.stop()


def test_the_emulator_calls_the_flow_by_key_and_by_speech(running: Running) -> None:
    number = running.number_for("ivr_voicemail")
    for script, caller in ((["--digits", "2,3"], ["  Caller: pressed 2", HOURS, MENU,
                                                   "  Caller: pressed 3"]),
                           (["--speech", "leave a message"],
                            ['  Caller: said "leave a message"'])):
        done = running.cli("simulate", "call", "--to", number, *script)
        assert done.exit_code == 0, done.output
        lines = done.output.splitlines()
        assert lines[0] == (f"Calling {number} from {CALLER} ({number} as configured in "
                            f"{running.stack.emulator.url})")
        same_lines(lines[1:], [MENU, *caller, *VOICEMAIL])
    store = running.stack.store
    found = [e for e in executions.list_executions(store) if e.flow_name == "ivr_voicemail"]
    assert sorted(e.status for e in found) == ["ended", "ended"]
    recordings = list(running.client.recordings.list())
    assert len(recordings) == 2
    calls = {c["sid"]: c for c in running.client.calls.list()}
    assert {e.call_sid for e in found} == set(calls)
    assert {c["status"] for c in calls.values()} == {"completed"}
    for call_sid in calls:  # /voice/status stored each call's end
        assert [row["status"] for row in store.status_callbacks(call_sid)] == ["completed"]


def test_the_sms_reply_loop_over_three_invocations_of_the_console_script(
    running: Running,
) -> None:
    number = running.number_for("sms_reply_loop")
    replies = []
    for body in ("hello", "hours", "bye"):
        done = running.run("simulate", "sms", "--to", number, "--body", body)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1] == f"  Message received: from {CALLER}: {body}"
        replies.append(sent(done.stdout))
        execution = only_execution(running.database_url, "sms_reply_loop")
        if body != "bye":
            assert (execution.status, execution.waiting_for) == ("active", "reply")
    assert replies == [[GREETING], [OPENING, AGAIN], [BYE]]
    assert execution.status == "ended"
    assert steps(running.database_url, execution.sid) == [
        "greeting", "save_reply", "route_reply", "send_hours", "ask_again", "save_reply",
        "route_reply", "goodbye", "Ended"]
    texts = [m["body"] for m in running.client.messages.list() if m["direction"] != "inbound"]
    assert sorted(texts) == sorted([GREETING, OPENING, AGAIN, BYE])


def test_the_worked_example_draws_the_flow_as_flows_show_does() -> None:
    """docs/flows.md's Mermaid picture of the IVR is what ``flows show --mermaid`` prints."""
    page = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    (drawn,) = [block for block in re.findall(r"```mermaid\n(.*?)```", page, re.S)
                if "main_menu" in block]
    done = CliRunner().invoke(cli, ["flows", "show", str(EXAMPLES / "ivr_voicemail.json"),
                                    "--mermaid"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert drawn == done.output
