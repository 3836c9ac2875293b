"""Studio's timers across two real servers (gunicorn, one worker each) on one database: 200
Send & Wait For Reply timeouts taken once each, within seconds of their time, with the
follow-up message sent once each through the emulator; and the same with one server killed
(SIGKILL) while it is taking them: the other takes the rest, and the executions the killed
one had claimed once its claims expire, still one step and one message each."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.executions import Database
from switchboard.callbacks.studio.runtime import BACKGROUND_CLAIM
from switchboard.emulator import Emulator
from tests.load.figures import report
from tests.load.servers import ACCOUNT_SID, TOKEN, Gunicorn, percentile, send_all
from tests.server.conftest import message_params
from tests.studio_timers import LATE, NUMBER, ask_definition, ask_flow, later, waiting

WAITING = 200
#: The question's timeout (seconds) in the flow the webhooks start.
TIMEOUT = 5


def timers_app() -> Any:
    """The app gunicorn serves here (``tests.load.test_timers_many_processes:timers_app()``):
    Switchboard's production app with its Studio timers."""
    from switchboard.callbacks.production import production_app
    from switchboard.callbacks.studio.timers import start_timers

    app = production_app()
    start_timers(app)
    return app


def servers(stack: ExitStack, database_url: str, tmp_path: Path, emu: Emulator,
            flows: Path) -> list[Gunicorn]:
    env = {"SWITCHBOARD_FLOWS_DIR": str(flows), "TWILIO_API_BASE_URL": emu.url}
    return [
        stack.enter_context(Gunicorn(
            database_url, tmp_path / f"gunicorn-{index}.log", workers=1, env=env,
            app="tests.load.test_timers_many_processes:timers_app()"))
        for index in range(2)
    ]


def flows_folder(tmp_path: Path, seconds: int) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "ask.json").write_text(json.dumps(ask_definition(seconds)))
    return folder


def ended(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(executions.executions)
                            .where(executions.executions.c.status == "ended")).scalar_one()


def wait_ended(store: Store, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while ended(store) < count and time.monotonic() < deadline:
        time.sleep(0.2)


def timeout_steps(store: Store) -> tuple[Counter[str], dict[str, Any]]:
    """Timeout steps per execution, and when each was written."""
    table = executions.steps
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.execution_sid, table.c.date_created).where(
            table.c.transitioned_from == "question", table.c.name == "timeout")).all()
    return Counter(sid for sid, _ in rows), dict(rows)


def late_messages(emu: Emulator) -> Counter[str]:
    return Counter(m["to"] for m in emu.state.list("messages", where=lambda m: m["body"] == LATE))


def test_two_servers_take_each_timeout_once(load_database_url: str, tmp_path: Path) -> None:
    backend = load_database_url.split(":", 1)[0].split("+")[0]
    flows = flows_folder(tmp_path, TIMEOUT)
    numbers = [f"+1555{index:07d}" for index in range(WAITING)]
    with ExitStack() as stack:
        emu = stack.enter_context(Emulator(account_sid=ACCOUNT_SID, auth_token=TOKEN,
                                           caller=False))
        first, second = servers(stack, load_database_url, tmp_path, emu, flows)
        halves = [numbers[:WAITING // 2], numbers[WAITING // 2:]]
        for server, half in zip((first, second), halves, strict=True):
            answers, _ = send_all(server.port, [
                ("/flows/ask", message_params("hi", From=number, To=NUMBER), {})
                for number in half], threads=8)
            assert {answer.status for answer in answers} == {200}
        store = stack.enter_context(_store(load_database_url))
        wait_ended(store, WAITING, TIMEOUT + 30)
        logs = first.log_text() + second.log_text()
        made = executions.list_executions(store)
        steps, at = timeout_steps(store)
        texts = late_messages(emu)
    assert len(made) == WAITING
    assert all(execution.status == "ended" for execution in made), logs[-3000:]
    assert set(steps.values()) == {1}
    assert len(steps) == WAITING
    assert sorted(texts) == numbers
    assert set(texts.values()) == {1}
    lateness = [(at[e.sid] - e.date_created).total_seconds() - TIMEOUT for e in made]
    assert max(lateness) < 3.0
    report("timers, two servers",
           f"{backend}: {WAITING} timeouts of {TIMEOUT} s taken by 2 gunicorns: 1 step and 1 "
           f"message each; late by p50 {percentile(lateness, 0.5):.2f} s, max "
           f"{max(lateness):.2f} s")


def test_a_server_killed_while_taking_them_leaves_none_untaken_or_twice(
        load_database_url: str, tmp_path: Path) -> None:
    backend = load_database_url.split(":", 1)[0].split("+")[0]
    flows = flows_folder(tmp_path, 3600)
    numbers = [f"+1556{index:07d}" for index in range(WAITING)]
    with ExitStack() as stack:
        emu = stack.enter_context(Emulator(account_sid=ACCOUNT_SID, auth_token=TOKEN,
                                           caller=False))
        # each message takes 50 ms to be answered (made first): a kill lands mid-send often
        emu.faults.add("slow", rate=1.0, delay=0.05, after=True, methods=["POST"])
        store = stack.enter_context(_store(load_database_url))
        db = Database(store)
        flow = ask_flow(3600)
        first, second = servers(stack, load_database_url, tmp_path, emu, flows)
        for index, number in enumerate(numbers):
            waiting(db, flow, number, later(2 + 6 * index / WAITING))
        deadline = time.monotonic() + 60
        while sum(late_messages(emu).values()) < WAITING // 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        master = first.process
        assert master is not None
        workers = first.worker_pids()
        os.kill(master.pid, signal.SIGKILL)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        master.wait(10)
        killed_at = sum(late_messages(emu).values())
        at_kill = claims(store)
        time.sleep(5)  # the other server's claims of the moment come and go
        held = len(at_kill & claims(store))
        wait_ended(store, WAITING, BACKGROUND_CLAIM + 40)
        made = executions.list_executions(store)
        steps, _ = timeout_steps(store)
        texts = late_messages(emu)
        logs = second.log_text()
    assert all(execution.status == "ended" for execution in made), logs[-3000:]
    assert len(steps) == WAITING
    assert set(steps.values()) == {1}
    assert sorted(texts) == numbers
    assert set(texts.values()) == {1}, [n for n, c in texts.items() if c > 1]
    looked_up = logs.count("reached Twilio before the process sending it stopped")
    report("timers, a server killed",
           f"{backend}: {WAITING} timeouts, one of 2 gunicorns SIGKILLed after {killed_at} "
           f"messages holding {held} claims (retaken after {BACKGROUND_CLAIM:g} s; "
           f"{looked_up} of their messages found at Twilio, not sent again): 1 step and 1 "
           "message each")


def claims(store: Store) -> set[tuple[str, str]]:
    """(execution, claim) of each execution claimed now."""
    table = executions.executions
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.sid, table.c.claim).where(
            table.c.status == "active", table.c.claim.is_not(None))).all()
    return {(sid, claim) for sid, claim in rows}


class _store:
    def __init__(self, url: str) -> None:
        self.store = Store(url)

    def __enter__(self) -> Store:
        self.store.create_all()
        return self.store

    def __exit__(self, *details: object) -> None:
        self.store.close()
