"""The Studio API against the emulator: executions started per second, and the end-to-end time
of a reply resuming a waiting execution: ``python -m tests.bench studio-api``.

The real app (werkzeug's threaded server, as ``switchboard run``) and the emulator run in this
process on 127.0.0.1, the app's ``TWILIO_API_BASE_URL`` pointing at the emulator. A published
flow asks each contact a question (Send & Wait For Reply) and confirms the answer.

- **Starts**: ``POST /v2/Flows/FW.../Executions`` for a new contact each time, from one client
  and from ``CLIENTS`` at once; each start writes the execution, runs the trigger and the
  question, and sends the question through the REST client to the emulator, which answers
  with the message's resource before the API answers. The baseline is that send alone: the
  same client posting the message to the emulator's ``Messages.json`` (what one start must
  at least wait for). Twilio lets an account start 20 executions a second through its API.
- **Reply**: the contact's SMS posted by the emulator (signed) to the flow's webhook URL; the
  time from the post until the emulator holds the flow's reply (the webhook finds the waiting
  execution, claims it, runs it on, answers the ``<Message>``). The baseline is the same
  message to a flow that starts a new execution and replies at once.

SQLite always; PostgreSQL too when ``SWITCHBOARD_TEST_POSTGRESQL_URL`` names a server (a
database is created for the run and dropped after).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from switchboard.callbacks.studio.api import register_studio_api
from switchboard.emulator.stack import SwitchboardStack
from tests.studio import widget

STARTS = int(os.environ.get("BENCH_STARTS", 300))
REPLIES = int(os.environ.get("BENCH_REPLIES", 150))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 4))
NUMBER = "+15551230000"
INSTANT = "+15551230001"


QUESTION = {
    "description": "benchmark", "initial_state": "Trigger", "states": [
        widget("Trigger", "trigger", {}, incomingMessage=None, incomingCall=None,
               incomingRequest="ask"),
        widget("ask", "send-and-wait-for-reply", {
            "from": "{{flow.channel.address}}", "body": "Coming on {{flow.data.day}}?",
            "timeout": "3600"}, incomingMessage="thanks", timeout=None, deliveryFailure=None),
        widget("thanks", "send-message", {
            "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
            "body": "Thanks: {{widgets.ask.inbound.Body}}"}, sent=None, failed=None),
    ]}
INSTANT_REPLY = {
    "description": "baseline", "initial_state": "Trigger", "states": [
        widget("Trigger", "trigger", {}, incomingMessage="thanks", incomingCall=None,
               incomingRequest=None),
        widget("thanks", "send-message", {
            "from": "{{flow.channel.address}}", "to": "{{contact.channel.address}}",
            "body": "Thanks: {{trigger.message.Body}}"}, sent=None, failed=None),
    ]}


def contact(index: int) -> str:
    return f"+1555{index:07d}"


def rate(count: int, work: Callable[[int], None], clients: int) -> float:
    """``work(i)`` for i in 0..count-1 from ``clients`` threads: calls per second."""
    began = time.perf_counter()
    if clients == 1:
        for index in range(count):
            work(index)
    else:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(work, range(count)))
    return count / (time.perf_counter() - began)


def latencies(count: int, work: Callable[[int], None]) -> list[float]:
    times = []
    for index in range(count):
        began = time.perf_counter()
        work(index)
        times.append((time.perf_counter() - began) * 1000)
    return times


def summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95) - 1]
    return f"p50 {statistics.median(times):6.1f} ms, p95 {p95:6.1f} ms"


def run(label: str, url: str) -> None:
    stack = SwitchboardStack(database_url=url, config={"BUNDLED_FLOWS": False}).start()
    assert stack.app is not None
    register_studio_api(stack.app)
    emulator = stack.emulator
    session = requests.Session()
    session.auth = (emulator.account_sid, emulator.auth_token)
    try:
        def create(name: str, definition: dict[str, Any]) -> dict[str, Any]:
            answer = session.post(f"{stack.url}/v2/Flows", data={
                "FriendlyName": name, "Status": "published",
                "Definition": json.dumps(definition)}, timeout=30)
            answer.raise_for_status()
            return answer.json()

        flow, instant = create("question", QUESTION), create("instant", INSTANT_REPLY)
        state = emulator.state
        state.buy_number(state.main_account_sid, NUMBER, sms_url=flow["webhook_url"])
        state.buy_number(state.main_account_sid, INSTANT, sms_url=instant["webhook_url"])
        executions = f"{stack.url}/v2/Flows/{flow['sid']}/Executions"
        messages = (f"{emulator.url}/2010-04-01/Accounts/{emulator.account_sid}"
                    "/Messages.json")
        taken = iter(range(10_000_000))
        lock = threading.Lock()

        def start(_index: int) -> None:
            with lock:
                number = next(taken)
            answer = session.post(executions, data={
                "To": contact(number), "From": NUMBER,
                "Parameters": '{"day": "Monday"}'}, timeout=30)
            assert answer.status_code == 201, answer.text

        def send(index: int) -> None:
            answer = session.post(messages, data={
                "To": contact(9_000_000 + index), "From": NUMBER,
                "Body": "Coming on Monday?"}, timeout=30)
            assert answer.status_code == 201, answer.text

        for index in range(10):  # warm up: connections, caches, the tables
            start(index)
            send(index)
        stack.wait_idle(60)
        print(f"{label}:")
        for clients in (1, CLIENTS):
            studio = rate(STARTS, start, clients)
            stack.wait_idle(120)
            baseline = rate(STARTS, send, clients)
            stack.wait_idle(120)
            print(f"  starts, {clients} client{'s' if clients > 1 else ' '}: "
                  f"{studio:7.1f} executions/s  (the send alone: {baseline:7.1f}/s, "
                  f"ratio {studio / baseline:.2f}; Twilio's limit: 20/s)")

        waiting = min(REPLIES, STARTS)
        phone = emulator.phone

        def reply(index: int) -> None:
            transcript = phone.inbound_sms(NUMBER, contact(index), "yes")
            assert transcript.messages, transcript.render()

        def fresh(index: int) -> None:
            transcript = phone.inbound_sms(INSTANT, contact(index), "yes")
            assert transcript.messages, transcript.render()

        resumed = latencies(waiting, reply)
        started = latencies(waiting, fresh)
        stack.wait_idle(120)
        print(f"  reply resuming a waiting execution: {summary(resumed)}")
        print(f"  message starting one (baseline):   {summary(started)}  "
              f"(ratio of medians {statistics.median(resumed) / statistics.median(started):.2f})")
    finally:
        session.close()
        stack.stop()


def main() -> None:
    logging.getLogger("switchboard").setLevel(logging.ERROR)
    print(f"{STARTS} starts each way, {REPLIES} replies; app and emulator in this process, "
          f"{os.cpu_count()} cores")
    for label, url in databases():
        run(label, url)


def databases() -> Iterator[tuple[str, str]]:
    """(label, URL): an SQLite file, then a fresh PostgreSQL database when a server is set."""
    with tempfile.TemporaryDirectory(prefix="bench-studio-api-") as folder:
        yield "SQLite", f"sqlite:///{Path(folder) / 'switchboard.sqlite3'}"
    base = os.environ.get("SWITCHBOARD_TEST_POSTGRESQL_URL")
    if not base:
        return
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield "PostgreSQL", sa.make_url(base).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
