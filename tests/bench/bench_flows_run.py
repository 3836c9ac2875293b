"""``switchboard flows run --contacts``: executions started per second against the emulator.

The flow is the shortest that sends: the REST API's trigger, one Send Message, the end. Each
row costs its key (a write), the opt-out check (a read), the execution (a write, the message
through the REST client, the progress written) and the key marked started (a write). The
command runs as a user runs it (a process of its own, ``--rate`` far above what it reaches,
so that the figure is its ceiling), against an emulator in this process; the figure is the
summary's own (the run, without the process's start). The baseline: the same number of
messages sent one after another with the REST client alone, from a process of its own, to
the same emulator: what the starts cost beyond Twilio's side. Then ``--rate 20`` (Studio's
limit, the default) over 200 rows, to show the pace held.

SQLite always; PostgreSQL too when ``SWITCHBOARD_TEST_POSTGRESQL_URL`` names a server (a
database is created for the run and dropped after).

Run: ``.venv/bin/python -m tests.bench flows_run``
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from switchboard.emulator import Emulator
from tests.campaign import HELLO, write_contacts
from tests.conftest import _fresh_postgres_url

ROWS = 2_000
PACED_ROWS = 200
NUMBER = "+15005550006"
SCRIPT = Path(sys.executable).with_name("switchboard")
BASELINE = """
import sys, time
from switchboard.api import TwilioClient
sid, token, url, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with TwilioClient(sid, token, base_url=url) as client:
    began = time.perf_counter()
    for index in range(count):
        client.messages.create(f"+1557{index:07d}", from_="+15005550006", body=f"Hello P{index}")
    print(time.perf_counter() - began)
"""
SUMMARY = re.compile(r"(\d+) started.* in ([0-9.]+) s \(([0-9.]+) a second\)")


def _env(emu: Emulator, database_url: str, flows: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    env.update(SWITCHBOARD_DOTENV="0", SWITCHBOARD_DATABASE_URL=database_url,
               SWITCHBOARD_FLOWS_DIR=str(flows), TWILIO_ACCOUNT_SID=emu.account_sid,
               TWILIO_AUTH_TOKEN=emu.auth_token, TWILIO_API_BASE_URL=emu.url)
    return env


def _contacts(folder: Path, rows: int, prefix: str) -> Path:
    numbers = (f"+1{prefix}{i:07d}" for i in range(rows))
    return write_contacts(folder / f"contacts-{prefix}.csv", numbers)


def _flows_run(env: dict[str, str], folder: Path, contacts: Path, rate: float
               ) -> tuple[int, float, float, float]:
    """(started, seconds of the run, starts a second, seconds with the process's start)."""
    began = time.perf_counter()
    done = subprocess.run(
        [str(SCRIPT), "flows", "run", "hello", "--from", NUMBER, "--contacts", str(contacts),
         "--rate", str(rate)], cwd=folder, env=env, capture_output=True, text=True,
        timeout=900, check=False)
    wall = time.perf_counter() - began
    found = SUMMARY.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"flows run failed ({done.returncode}): {done.stdout}{done.stderr}")
    return int(found[1]), float(found[2]), float(found[3]), wall


def _baseline(emu: Emulator, count: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", BASELINE, emu.account_sid, emu.auth_token, emu.url, str(count)],
        capture_output=True, text=True, timeout=900, check=True)
    return count / float(done.stdout.strip())


def _one(label: str, database_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-flows-run-") as tmp, Emulator(
            caller=False) as emu:
        folder = Path(tmp)
        (folder / "flows").mkdir()
        (folder / "flows" / "hello.json").write_text(json.dumps(HELLO))
        env = _env(emu, database_url.replace("TMP", tmp), folder / "flows")
        baseline = _baseline(emu, ROWS)
        started, seconds, rate, wall = _flows_run(env, folder, _contacts(folder, ROWS, "555"),
                                                  100_000)
        paced, paced_seconds, paced_rate, _ = _flows_run(
            env, folder, _contacts(folder, PACED_ROWS, "556"), 20)
    print(f"  {label}: {started} executions in {seconds:.2f} s: {rate:.0f} started/s "
          f"({wall:.1f} s with the process's start); REST sends alone: {baseline:.0f}/s; "
          f"flows run / REST alone: {rate / baseline:.2f}")
    print(f"  {label}: --rate 20: {paced} executions in {paced_seconds:.1f} s: "
          f"{paced_rate:.1f}/s")


def main() -> None:
    print(f"flows run --contacts: {ROWS} rows, one message each, against the emulator")
    _one("sqlite", "sqlite:///TMP/switchboard.sqlite3")
    base = os.environ.get("SWITCHBOARD_TEST_POSTGRESQL_URL")
    if not base:
        print("  postgresql: skipped (SWITCHBOARD_TEST_POSTGRESQL_URL is not set)")
        return
    with contextmanager(_fresh_postgres_url)(base) as url:
        _one("postgresql", url)


if __name__ == "__main__":
    main()
