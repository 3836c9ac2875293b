"""Another process holds the database's write lock for a minute (SQLite: ``BEGIN EXCLUSIVE``;
PostgreSQL: every table locked ``IN EXCLUSIVE MODE``) while webhooks of every kind arrive
over 4 gunicorn workers: every one is answered within gunicorn's worker
timeout (voice and SMS with valid TwiML, status callbacks with 204 or a retryable 503), no
worker is killed, and once the lock is let go every call and message row and every callback
answered 204 is in the database; the callbacks answered 503, sent again as Twilio would, are
all taken.

The store bounds each wait by the handler's deadline and, after the first wait that fails in
a worker, stops trying for a few seconds (its breaker), so that a worker never waits past
gunicorn's timeout and the requests queued behind it are answered at once."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.store.schema import metadata
from switchboard.callbacks.twiml import parse_twiml
from switchboard.config import Settings
from tests.load.figures import report
from tests.load.servers import Answer, Gunicorn, Sender, percentile, send_at
from tests.load.workload import TOKEN_HEADER

#: Seconds the other process holds the lock (shorten it to try the test locally: at least 20).
LOCK_HELD = 60.0
#: Webhooks sent while it is held: half at once at the start, the rest spread over the hold.
WEBHOOKS = 50
#: gunicorn's worker timeout (deploy/gunicorn.conf.py): every answer must come before it.
WORKER_TIMEOUT = 12.0

ACCOUNT = "AC" + "5" * 32
US, CALLER = "+15005550001", "+15005550006"

#: Another process: ``python -c LOCKER DATABASE SECONDS`` holds the write lock of an SQLite
#: file (``BEGIN EXCLUSIVE``: in WAL mode readers go on), or of every table of a PostgreSQL
#: database (``LOCK TABLE ... IN EXCLUSIVE MODE``: plain reads go on), for SECONDS.
LOCKER = """
import sys, time
target, seconds = sys.argv[1], float(sys.argv[2])
if target.startswith("postgresql"):
    import psycopg
    db = psycopg.connect(target)
    db.execute("LOCK TABLE " + sys.argv[3] + " IN EXCLUSIVE MODE")
else:
    import sqlite3
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(seconds)
db.commit() if target.startswith("postgresql") else db.execute("COMMIT")
print("released", flush=True)
"""

KINDS = ("voice", "menu", "sms", "sms-help", "sms-stop", "call-status", "message-status",
         "recording-status", "voice-fallback", "sms-fallback")


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def webhook(n: int) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """The ``n``-th webhook: (kind, path, params, headers)."""
    kind = KINDS[n % len(KINDS)]
    call = {"CallSid": _sid("CA"), "AccountSid": ACCOUNT, "From": CALLER, "To": US,
            "CallStatus": "in-progress", "Direction": "inbound"}
    text = {"MessageSid": _sid("SM"), "AccountSid": ACCOUNT, "From": f"+1555{n:07d}",
            "To": US, "NumMedia": "0"}
    if kind == "voice":
        return kind, "/voice", call, {}
    if kind == "menu":
        return kind, "/voice/menu", {**call, "Digits": "9"}, {}
    if kind.startswith("sms") and not kind.endswith("fallback"):
        body = {"sms": "hello", "sms-help": "HELP", "sms-stop": "STOP"}[kind]
        return kind, "/sms", {**text, "Body": body}, {}
    if kind == "call-status":
        params = {**call, "CallStatus": "completed", "SequenceNumber": "0", "CallDuration": "7"}
        return kind, "/voice/status", params, {TOKEN_HEADER: _sid("tok")}
    if kind == "message-status":
        params = {**text, "MessageStatus": "delivered"}
        return kind, "/sms/status", params, {TOKEN_HEADER: _sid("tok")}
    if kind == "recording-status":
        params = {"CallSid": call["CallSid"], "AccountSid": ACCOUNT, "RecordingSid": _sid("RE"),
                  "RecordingStatus": "completed", "RecordingUrl": "https://example.com/r",
                  "RecordingDuration": "3"}
        return kind, "/voice/recording-status", params, {TOKEN_HEADER: _sid("tok")}
    fallback = {"ErrorCode": "11200", "ErrorUrl": "https://example.com/voice"}
    if kind == "voice-fallback":
        return kind, "/voice/fallback", {**call, **fallback}, {}
    return kind, "/sms/fallback", {**text, "Body": "hi", **fallback}, {}


def stored(store: Store, kind: str, params: dict[str, str]) -> bool:
    if kind == "voice" or kind == "menu":
        return store.get_call(params["CallSid"]) is not None
    if kind.startswith("sms") and not kind.endswith("fallback"):
        return store.get_message(params["MessageSid"]) is not None
    sid = params.get("RecordingSid") or params.get("MessageSid") or params["CallSid"]
    return len(store.status_callbacks(sid)) == 1


def locker_command(url: str) -> list[str]:
    """The command of the process that holds the lock on the database at ``url``."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return [sys.executable, "-c", LOCKER, str(parsed.database), str(LOCK_HELD)]
    target = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    return [sys.executable, "-c", LOCKER, target, str(LOCK_HELD), tables]


def test_a_write_lock_held_by_another_process(load_database_url: str, tmp_path: Path) -> None:
    url = load_database_url
    backend = sa.make_url(url).get_backend_name()
    requests = [webhook(n) for n in range(WEBHOOKS)]
    burst = WEBHOOKS // 2
    spread = LOCK_HELD - 15
    schedule = [1.0] * burst + [
        1.0 + spread * (i + 1) / (WEBHOOKS - burst) for i in range(WEBHOOKS - burst)
    ]
    log = tmp_path / "gunicorn.log"
    with Gunicorn(url, log, workers=4) as server:
        workers_before = server.worker_pids()
        locker = subprocess.Popen(locker_command(url), stdout=subprocess.PIPE, text=True)
        try:
            assert locker.stdout is not None
            assert locker.stdout.readline().strip() == "locked"
            locked_at = time.monotonic()
            answers = send_at(server.port, schedule, [r[1:] for r in requests])
            health_held = server.health()
            assert locker.stdout.readline().strip() == "released"
            released_at = time.monotonic()
        finally:
            locker.kill()
            locker.wait()
        # Every row and accepted callback lands once the lock is gone.
        store = Store(url)
        try:
            deadline = time.monotonic() + 30
            while True:
                missing = [(k, p) for (k, _path, p, _h), a in zip(requests, answers, strict=True)
                           if _must_be_stored(k, a) and not stored(store, k, p)]
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            landed_in = time.monotonic() - released_at
            # Twilio sends the callbacks answered 503 again (later than the breaker's interval,
            # within which a worker that found the lock does not try again): now they are taken.
            time.sleep(max(0.0, released_at + Settings.database_retry_after + 1 - time.monotonic()))
            refused = [(k, path, p, h) for (k, path, p, h), a in zip(requests, answers, strict=True)
                       if k.endswith("status") and a.status == 503]
            sender = Sender(server.port)
            again = [sender.post(path, p, h).status for _k, path, p, h in refused]
            sender.close()
            not_once = [k for (k, _path, p, _h) in requests
                        if k.endswith("status") and not stored(store, k, p)]
        finally:
            store.close()
        workers_after = server.worker_pids()
        text = server.stop()

    seconds = [a.seconds for a in answers]
    kinds = Counter((k, a.status) for (k, *_rest), a in zip(requests, answers, strict=True))
    rows = sum(1 for (k, *_rest) in requests if not k.endswith("fallback"))
    report(
        f"write lock held by another process, {backend}",
        f"lock held {released_at - locked_at:.0f} s; {WEBHOOKS} webhooks of {len(KINDS)} kinds "
        f"over 4 workers: answered in p50 {percentile(seconds, 0.5) * 1000:.0f} ms, max "
        f"{max(seconds):.1f} s (gunicorn kills at {WORKER_TIMEOUT:g} s); "
        + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(kinds.items(), key=str))
        + f"; workers killed: {len(set(workers_before) - set(workers_after))}; "
        f"{len(refused)} callbacks refused, all taken when sent again; rows and callbacks "
        f"in the database {landed_in:.1f} s after the release; rows lost: {len(missing)} "
        f"of {rows}",
    )
    assert "WORKER TIMEOUT" not in text, text[-3000:]
    assert workers_after == workers_before, "a worker was killed or replaced"
    slow = [(k, a.seconds) for (k, *_rest), a in zip(requests, answers, strict=True)
            if a.seconds >= WORKER_TIMEOUT]
    assert not slow, f"answered after gunicorn's timeout: {slow}"
    for (kind, _path, _params, _headers), answer in zip(requests, answers, strict=True):
        assert answer.status is not None, f"{kind}: no answer ({answer.error})"
        if kind.endswith("status"):
            assert answer.status in (204, 503), (kind, answer.status)
        else:
            assert answer.status == 200, (kind, answer.status, answer.body)
            parse_twiml(answer.body)
    assert health_held == 503, "the health check did not see the lock"
    assert not missing, f"{len(missing)} rows or callbacks never written: {missing[:3]}"
    assert again == [204] * len(refused)
    assert not not_once
    assert "Traceback" not in text, text[-3000:]


def _must_be_stored(kind: str, answer: Answer) -> bool:
    """Every call and message row (voice, SMS); a callback if it was answered 204."""
    if kind.endswith("fallback"):
        return False
    if kind.endswith("status"):
        return answer.status == 204
    return True
