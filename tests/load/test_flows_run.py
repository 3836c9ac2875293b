"""``switchboard flows run --contacts`` over 1,000 contacts against the emulator, killed
(SIGKILL) half-way and run again: every contact gets exactly one execution and one message,
and the starts keep under ``--rate`` in every second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.emulator import Emulator
from tests.campaign import hello_flow, write_contacts
from tests.load.figures import report
from tests.load.servers import server_env

SCRIPT = Path(sys.executable).with_name("switchboard")
CONTACTS = 1_000
RATE = 100
NUMBER = "+15005550006"
#: The campaign's flow, its Trigger with the transitions to nowhere that Studio's editor adds.
HELLO = hello_flow("incomingMessage", "incomingCall")


def _most_in_a_second(times: list[datetime]) -> int:
    """The most starts within any one second (a window opening at each start)."""
    stamps = sorted(t.timestamp() for t in times)
    most, first = 0, 0
    for last, stamp in enumerate(stamps):
        while stamp - stamps[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_a_campaign_killed_half_way_and_run_again_starts_each_contact_once(
        load_database_url: str, tmp_path: Path) -> None:
    backend = load_database_url.split(":", 1)[0].split("+")[0]
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hello.json").write_text(json.dumps(HELLO))
    numbers = [f"+1555{index:07d}" for index in range(CONTACTS)]
    contacts = write_contacts(tmp_path / "contacts.csv", numbers)
    command = [str(SCRIPT), "flows", "run", "hello", "--from", NUMBER, "--contacts",
               str(contacts), "--rate", str(RATE)]
    with Emulator(caller=False) as emu:
        env = server_env(
            SWITCHBOARD_DATABASE_URL=load_database_url, SWITCHBOARD_FLOWS_DIR=str(flows),
            TWILIO_ACCOUNT_SID=emu.account_sid, TWILIO_AUTH_TOKEN=emu.auth_token,
            TWILIO_API_BASE_URL=emu.url,
        )

        def sent() -> int:
            return len(emu.state.list("messages"))

        with (tmp_path / "first.log").open("wb") as out:
            first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while sent() < CONTACTS // 2 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.poll() is None, (tmp_path / "first.log").read_text()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        killed_at = sent()
        second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=300)
        assert second.returncode == 0, second.stdout + second.stderr
        messages = emu.state.list("messages")

    store = Store(load_database_url)
    try:
        made = executions.list_executions(store)
        with store.engine.connect() as conn:
            keyed = conn.execute(sa.text(
                "SELECT state, count(*) FROM studio_campaign_rows GROUP BY state")).all()
    finally:
        store.close()
    per_contact = Counter(execution.contact_channel_address for execution in made)
    assert sorted(per_contact) == numbers
    assert set(per_contact.values()) == {1}, [n for n, c in per_contact.items() if c > 1]
    texts = Counter(message["to"] for message in messages)
    assert sorted(texts) == numbers
    assert set(texts.values()) == {1}, [n for n, c in texts.items() if c > 1]
    assert all(m["body"] == f"Hello P{numbers.index(m['to'])}" for m in messages[:50])
    assert dict(keyed) == {"started": CONTACTS}
    summary = second.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{CONTACTS} contacts: ")
    assert ", 0 failed" in summary

    cut = sorted(execution.date_created for execution in made)
    runs = [cut[:killed_at], cut[killed_at:]]
    most = max(_most_in_a_second(times) for times in runs if times)
    spans = [(times[-1] - times[0]).total_seconds() for times in runs if len(times) > 1]
    mean = max((len(times) - 1) / span for times, span in zip(runs, spans, strict=False)
               if span > 0)
    assert most <= RATE + 2, f"{most} starts within one second, at --rate {RATE}"
    assert mean <= RATE * 1.01
    report("flows run killed and resumed",
           f"{backend}: {CONTACTS} contacts, killed after {killed_at} messages; second run: "
           f"{summary}; each contact 1 execution and 1 message; at --rate {RATE}: mean "
           f"{mean:.1f}/s, at most {most} in any second")
