"""``switchboard simulate call`` and ``simulate sms`` as subprocesses against the running pair
(the emulator and the server of ``pair``, in this process): the transcript lines they print,
what the server stored of the simulated call, and that the call and its recording are the
running emulator's."""

from __future__ import annotations

import re

import requests

from tests.e2e.conftest import CALLER, OPERATOR, Pair

RECORDED = re.compile(r"^  Record: 5 s recorded \((RE[0-9a-f]{32})\), ended by #$", re.M)


def test_simulate_a_voicemail(loop: Pair) -> None:
    done = loop.run("simulate", "call", "--to", loop.number, "--digits", "3",
                    "--dial-outcome", "busy")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (f"Calling {loop.number} from {CALLER} ({loop.number} as configured in "
                        f"{loop.emulator.url})")
    assert lines[1:4] == [
        "  Say: Thank you for calling Acme Plumbing.",
        "  Say: For our opening hours and address, press 1. To leave a voicemail, press 2. To "
        "talk to a person, press 3.",
        "  Caller: pressed 3",
    ]
    assert lines[4:10] == [
        "  Say: Please hold while we connect you.",
        f"  Dial: number {OPERATOR}: busy",
        "  Say: Sorry, nobody could take your call.",
        "  Say: Please leave a message after the tone. Press the pound key when you are "
        "finished.",
        "  Play: (beep)",
        lines[9],
    ]
    [recording_sid] = RECORDED.findall(done.stdout)
    assert lines[10:12] == [
        "  Say: Thank you, your message has been recorded. Goodbye.",
        "  Hangup",
    ]
    assert re.fullmatch(r"  Status: call completed after \d+ s", lines[12])
    assert lines[13:] == []
    recording = loop.store.get_recording(recording_sid)
    assert recording["duration"] == 5
    call = loop.store.get_call(recording["call_sid"])
    assert (call["status"], call["from"], call["to"]) == ("completed", CALLER, loop.number)
    assert [row["status"] for row in loop.store.status_callbacks(call["sid"])] == ["completed"]


def test_simulate_sms_verbose(loop: Pair) -> None:
    done = loop.run("simulate", "sms", "--to", loop.number, "--body", "HOURS", "--verbose")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == f"  Message received: from {CALLER}: HOURS"
    assert lines[2] == f"  ... sms: POST {loop.url}/sms -> 200"
    assert lines[3] == (f"  Message sent: to {CALLER}: Acme Plumbing is open weekdays 9 to 5. "
                        "Our address is 1 Main Street.")
    assert re.fullmatch(rf"  Message SM[0-9a-f]{{32}} to \{CALLER}: delivered", lines[4])
    assert "HTTP exchanges:" in lines
    assert f"  > POST {loop.url}/sms" in lines
    assert any(line.startswith("  > X-Twilio-Signature: ") for line in lines)
    assert "  >   Body=HOURS" in lines
    assert loop.emulator.auth_token not in done.stdout + done.stderr


def test_a_simulated_voicemail_is_a_recording_of_the_emulator(loop: Pair) -> None:
    done = loop.run("simulate", "call", "--to", loop.number, "--digits", "2")
    assert done.returncode == 0, done.stderr
    [recording_sid] = RECORDED.findall(done.stdout)
    stored = loop.store.get_recording(recording_sid)
    answer = requests.get(stored["url"] + ".json", timeout=10,
                          auth=(loop.emulator.account_sid, loop.emulator.auth_token))
    assert answer.status_code == 200
    assert answer.json()["call_sid"] == stored["call_sid"]
    assert loop.client.calls.get(stored["call_sid"])["status"] == "completed"


def test_simulate_sms_takes_at_most_ten_media(loop: Pair) -> None:
    """Twilio takes at most 10 media on a message (its error 21623): an eleventh ``--media`` is
    one line before anything is sent, and the emulator gets no message; ten are texted."""
    media = [arg for n in range(11) for arg in ("--media", f"https://example.com/{n}.png")]
    texted = loop.emulator.state.created_count("messages")
    done = loop.run("simulate", "sms", "--to", loop.number, "--body", "HOURS", *media)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("Error: simulate sms: --media: 11 given; Twilio takes at most 10 "
                           "for a message\n")
    assert loop.emulator.state.created_count("messages") == texted
    done = loop.run("simulate", "sms", "--to", loop.number, "--body", "HOURS", *media[:20])
    assert done.returncode == 0, done.stderr
    assert f"  Message received: from {CALLER}: HOURS" in done.stdout.splitlines()
    assert loop.emulator.state.created_count("messages") > texted
