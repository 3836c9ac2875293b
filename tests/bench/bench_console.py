"""Console: its pages with 100,000 calls and 100,000 messages in the database.

The database holds a month of a busy line: 100,000 calls (a fifth of them busy, unanswered,
failed or canceled, a few still "ringing" long after they ended, as a call whose last status
callback never came stays), a status callback for each, 12,000 voicemails (most heard),
100,000 texts with 20,000 contacts (inbound and outbound, some undelivered, each outbound
with its status callback), 500 opt-outs and 2,000 voice sessions, and what each of those
webhooks was answered (about 350,000 webhook exchanges, half a percent of them fallbacks or
failed answers); about a thirtieth of it is today. Each page is asked for through Flask's
test client by a logged-in operator: routing, the session, the queries, the templates; no
network. The overview is timed first without the indexes the console's pages need
(:data:`INDEXES`, which docs/console.md lists: the schema makes them, the run drops them
first), then with them, as are the other pages. The goal: the overview's p99 under 200 ms.

SQLite always; PostgreSQL too when ``SWITCHBOARD_TEST_POSTGRESQL_URL`` names a server (a
database is created for the run and dropped after).

Run: ``.venv/bin/python -m tests.bench console``
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from switchboard.callbacks import create_app, exchanges
from switchboard.callbacks.console import register_console, tables
from switchboard.callbacks.store import schema, status_rank
from tests.conftest import _fresh_postgres_url

GOAL_P99_MS = 200.0
CALLS = 100_000
MESSAGES = 100_000
CONTACTS = 20_000
VOICEMAILS = 12_000
HEARD = 10_000
DAYS = 30
PASSWORD = "benchmark password"
OURS = ["+14155550100", "+14155550101", "+14155550102"]
#: The indexes the console's pages need, as the database is asked to make them.
INDEXES = [
    'CREATE INDEX IF NOT EXISTS ix_calls_created_at ON calls (created_at)',
    'CREATE INDEX IF NOT EXISTS ix_calls_status_created_at ON calls (status, created_at)',
    'CREATE INDEX IF NOT EXISTS ix_calls_from_created_at ON calls ("from", created_at)',
    'CREATE INDEX IF NOT EXISTS ix_calls_to_created_at ON calls ("to", created_at)',
    'CREATE INDEX IF NOT EXISTS ix_calls_parent_call_sid ON calls (parent_call_sid)',
    'CREATE INDEX IF NOT EXISTS ix_messages_created_at ON messages (created_at)',
    'CREATE INDEX IF NOT EXISTS ix_messages_from_created_at ON messages ("from", created_at)',
    'CREATE INDEX IF NOT EXISTS ix_messages_to_created_at ON messages ("to", created_at)',
    'CREATE INDEX IF NOT EXISTS ix_recordings_created_at ON recordings (created_at)',
    'CREATE INDEX IF NOT EXISTS ix_status_callbacks_status_received_at '
    'ON status_callbacks (status, received_at)',
]
CALL_OUTCOMES = [("completed", 75), ("busy", 6), ("no-answer", 9), ("failed", 3),
                 ("canceled", 2), ("ringing", 5)]
SIP = {"completed": "200", "busy": "486", "no-answer": "487", "canceled": "487",
       "failed": "404"}


def contact(n: int) -> str:
    return f"+1555{n:07d}"


def load(engine: sa.Engine, now: datetime, rng: random.Random) -> dict[str, str]:
    """Fill the database; return a call, a contact and a cursor deep in the calls to ask for."""
    start = now - timedelta(days=DAYS)
    span = (now - start).total_seconds()

    def when() -> datetime:
        return start + timedelta(seconds=rng.random() * span)

    statuses = [s for s, weight in CALL_OUTCOMES for _ in range(weight)]
    calls, callbacks, recordings, heard, sessions = [], [], [], [], []
    for n in range(CALLS):
        sid = f"CA{n:032x}"
        created = when()
        status = rng.choice(statuses)
        outbound = rng.random() < 0.1
        person, ours = contact(rng.randrange(CONTACTS)), rng.choice(OURS)
        caller, called = (ours, person) if outbound else (person, ours)
        duration = rng.randrange(5, 600) if status == "completed" else 0
        calls.append({
            "sid": sid, "account_sid": "AC" + "0" * 32, "from": caller, "to": called,
            "direction": "outbound-api" if outbound else "inbound", "status": status,
            "status_rank": status_rank("call", status), "duration": duration,
            "extra": json.dumps({"ApiVersion": "2010-04-01", "FromCity": "SPRINGFIELD"}),
            "created_at": created, "updated_at": created + timedelta(seconds=duration),
        })
        if status != "ringing":
            callbacks.append({
                "resource_sid": sid, "kind": "call", "status": status, "sequence_number": 0,
                "idempotency_token": str(uuid.UUID(int=n)),
                "params": json.dumps({"CallSid": sid, "CallStatus": status, "From": caller,
                                      "To": called, "CallDuration": str(duration),
                                      "SipResponseCode": SIP[status]}),
                "received_at": created + timedelta(seconds=duration),
            })
        if n < VOICEMAILS:
            recording = f"RE{n:032x}"
            recordings.append({
                "sid": recording, "account_sid": "AC" + "0" * 32, "call_sid": sid,
                "url": f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/{recording}",
                "duration": rng.randrange(3, 90), "channels": 1, "source": "RecordVerb",
                "status": "completed", "status_rank": 3, "error_code": None, "extra": None,
                "created_at": created, "updated_at": created,
            })
            if n < HEARD:
                heard.append({"recording_sid": recording, "heard_at": created})
        if n < 2000:
            sessions.append({"call_sid": sid, "data": '{"attempts": 1}', "updated_at": created})

    messages = []
    for n in range(MESSAGES):
        sid = f"SM{n:032x}"
        created = when()
        person, ours = contact(rng.randrange(CONTACTS)), rng.choice(OURS)
        inbound = rng.random() < 0.6
        if inbound:
            status, error = "received", None
        else:
            roll = rng.random()
            status, error = (("delivered", None) if roll < 0.9 else
                             ("undelivered", "30003") if roll < 0.95 else ("failed", "30008"))
            callbacks.append({
                "resource_sid": sid, "kind": "message", "status": status, "sequence_number": -1,
                "idempotency_token": str(uuid.UUID(int=CALLS + n)),
                "params": json.dumps({"MessageSid": sid, "MessageStatus": status, "From": ours,
                                      "To": person, **({"ErrorCode": error} if error else {})}),
                "received_at": created + timedelta(seconds=3),
            })
        messages.append({
            "sid": sid, "account_sid": "AC" + "0" * 32, "messaging_service_sid": None,
            "from": person if inbound else ours, "to": ours if inbound else person,
            "body": f"Message number {n}: are you open on Saturday?",
            "direction": "inbound" if inbound else "outbound-api", "status": status,
            "status_rank": status_rank("message", status), "error_code": error,
            "num_media": 0, "num_segments": 1, "media": None, "extra": None,
            "created_at": created, "updated_at": created,
        })
    opt_outs = [{"number": contact(n), "sender": rng.choice([*OURS, "*"]), "created_at": now}
                for n in range(0, CONTACTS, CONTACTS // 500)]

    with engine.begin() as conn:
        for table, rows in ((schema.calls, calls), (schema.messages, messages),
                            (schema.status_callbacks, callbacks),
                            (schema.recordings, recordings), (tables.heard, heard),
                            (schema.voice_sessions, sessions), (schema.opt_outs, opt_outs)):
            for first in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[first:first + 5000])
        load_exchanges(conn, calls, messages, rng)
    deep = sorted(calls, key=lambda c: (c["created_at"], c["sid"]), reverse=True)[CALLS // 2]
    return {
        "call": calls[-1]["sid"], "contact": messages[-1]["from"],
        "number": calls[-1]["from"],
        "cursor": f"{deep['created_at'].astimezone(UTC):%Y%m%dT%H%M%S.%f}~{deep['sid']}",
    }


#: What the bundled IVR answers, as kept in ``webhook_exchanges.answer`` (one text for all).
VOICE_ANSWER = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thank you for calling.</Say>'
    '<Gather action="https://example.com/voice/menu" method="POST" num_digits="1" timeout="5">'
    '<Say>For our opening hours and address, press 1. To leave a voicemail, press 2.</Say>'
    '</Gather><Redirect method="POST">https://example.com/voice/menu</Redirect></Response>'
)
#: Exchanges with a problem (a fallback, a failed answer) in a thousand.
PROBLEMS_PER_1000 = 5


def load_exchanges(conn: sa.Connection, calls: list[dict[str, Any]],
                   messages: list[dict[str, Any]], rng: random.Random) -> None:
    """What each webhook was answered: each call's ``/voice``, half of them a menu step, its
    status callback; each inbound text's ``/sms``, each outbound one's status callback (about
    350,000 rows), a few of them fallbacks or failed answers; inserted as they are made."""
    table = exchanges.exchanges
    batch: list[dict[str, Any]] = []

    def add(kind: str, path: str, sid: str, call_sid: str | None, at: datetime,
            status: int = 200, answer: str | None = None, **fields: str) -> None:
        problem = None
        if rng.randrange(1000) < PROBLEMS_PER_1000:
            problem = rng.choice(["fallback", "failed", "timeout"])
        batch.append({
            "created_at": at, "kind": kind, "endpoint": None, "path": path, "sid": sid,
            "call_sid": call_sid, "parent_call_sid": None, "status": status,
            "answer": answer, "answer_bytes": len(answer or ""), "fields": fields or None,
            "duplicate": None if status != 204 else False, "error": None, "problem": problem,
            "duration_ms": 1.5,
        })
        if len(batch) >= 5000:
            conn.execute(table.insert(), batch)
            batch.clear()

    for call in calls:
        sid, at = call["sid"], call["created_at"]
        if call["direction"] == "inbound":
            add("voice", "/voice", sid, sid, at, answer=VOICE_ANSWER, CallStatus="ringing")
            if rng.random() < 0.5:
                add("voice", "/voice/menu", sid, sid, at + timedelta(seconds=8),
                    answer=VOICE_ANSWER, Digits="1")
        if call["status"] != "ringing":
            add("call_status", "/voice/status", sid, sid,
                at + timedelta(seconds=call["duration"]), status=204,
                CallStatus=call["status"])
    for message in messages:
        at = message["created_at"]
        if message["direction"] == "inbound":
            add("sms", "/sms", message["sid"], None, at,
                answer="<Response><Message>Thanks, we will be in touch.</Message></Response>")
        else:
            add("message_status", "/sms/status", message["sid"], None,
                at + timedelta(seconds=3), status=204, MessageStatus=message["status"])
    if batch:
        conn.execute(table.insert(), batch)


def timed(client: Any, path: str, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` requests for ``path`` (after two not timed)."""
    for _ in range(2):
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[98]


def row(database: str, page: str, times: list[float]) -> None:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    print(f"  {database:<10} {page:<34} {len(times):>5} {cuts[49]:>8.1f} {cuts[89]:>8.1f} "
          f"{cuts[98]:>8.1f} {max(times):>8.1f}", flush=True)


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{folder}/bench.sqlite3"


def bench(database: str, url: str) -> float:
    """Load ``url``, time the pages; the overview's p99 with the indexes."""
    app = create_app({
        "TESTING": True, "QUIET_START": True, "SWITCHBOARD_DATABASE_URL": url,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "bench-token-0123456789",
    })
    app.config["SWITCHBOARD_CONSOLE_PASSWORD"] = PASSWORD
    register_console(app)
    store = app.extensions["switchboard"].store
    try:
        started = time.perf_counter()
        picks = load(store.engine, datetime.now(UTC), random.Random(7))
        print(f"  {database}: loaded in {time.perf_counter() - started:.0f} s", flush=True)
        if database == "postgresql":
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        client = app.test_client()
        page = client.get("/console/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        assert client.post("/console/login", data={"csrf_token": token,
                                                   "password": PASSWORD}).status_code == 303
        with store.engine.begin() as conn:  # the schema makes them: dropped for the baseline
            for statement in INDEXES:
                name = re.search(r"EXISTS (\w+)", statement).group(1)  # type: ignore[union-attr]
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
            if database == "postgresql":
                conn.exec_driver_sql("ANALYZE")
        row(database, "overview, without the indexes", timed(client, "/console/", 30))
        with store.engine.begin() as conn:
            for statement in INDEXES:
                conn.exec_driver_sql(statement)
            if database == "postgresql":
                conn.exec_driver_sql("ANALYZE")
        overview = timed(client, "/console/", 500)
        row(database, "overview", overview)
        pages = {
            "overview.json (its refresh)": "/console/overview.json",
            "calls, newest": "/console/calls",
            "calls, 50,000 back": f"/console/calls?before={picks['cursor']}",
            "calls ?number=": f"/console/calls?number={picks['number']}",
            "calls ?number= (one of ours)": f"/console/calls?number={OURS[0]}",
            "calls ?status=busy": "/console/calls?status=busy",
            "calls ?since=&until= (a week)": "/console/calls?since="
            + (datetime.now(UTC) - timedelta(days=9)).strftime("%Y-%m-%d") + "&until="
            + (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d"),
            "a call": f"/console/calls/{picks['call']}",
            "voicemails": "/console/voicemails",
            "voicemails, unheard": "/console/voicemails?show=unheard",
            "conversations": "/console/conversations",
            "conversations ?number=": f"/console/conversations?number={picks['contact']}",
            "a conversation": f"/console/conversations/{picks['contact']}",
        }
        for label, path in pages.items():
            row(database, label, timed(client, path, 100))
        return p99(overview)
    finally:
        store.close()


def main() -> None:
    logging.getLogger("switchboard").setLevel(logging.ERROR)
    print(f"  {CALLS:,} calls, {MESSAGES:,} messages, {VOICEMAILS:,} voicemails; "
          f"times in ms, through Flask's test client", flush=True)
    print(f"  {'database':<10} {'page':<34} {'runs':>5} {'p50':>8} {'p90':>8} {'p99':>8} "
          f"{'max':>8}", flush=True)
    results = {}
    with sqlite_database() as url:
        results["sqlite"] = bench("sqlite", url)
    postgres = os.environ.get("SWITCHBOARD_TEST_POSTGRESQL_URL")
    if postgres:
        with contextmanager(_fresh_postgres_url)(postgres) as url:
            results["postgresql"] = bench("postgresql", url)
    else:
        print("  postgresql: skipped (SWITCHBOARD_TEST_POSTGRESQL_URL is not set)")
    for database, value in results.items():
        verdict = "met" if value < GOAL_P99_MS else "NOT met"
        print(f"  {database}: overview p99 {value:.1f} ms; goal < {GOAL_P99_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
