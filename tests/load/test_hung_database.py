"""A PostgreSQL that accepts connections and never answers, under gunicorn with 4 workers.

From the start (the server's address reaches a host that froze): webhooks keep coming for 20
seconds and are answered at once with the safe answers (the store created no table and, having
failed once in each process, does not try again on a caller's time), and ``/healthz`` says what
is wrong within a second.

In the middle of a run (the database host freezes under traffic, then comes back): every
webhook is still answered before gunicorn's worker timeout, no worker is killed (the store's
waits end with the handler's deadline: a hung connection is cut), and once the database answers
again the server uses it without a restart, and every call and message row of the webhooks
answered meanwhile is written."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.twiml import parse_twiml
from switchboard.config import Settings
from tests.conftest import _fresh_postgres_url, _postgres_base_url
from tests.load.figures import report
from tests.load.servers import Answer, Gunicorn, HangingServer, no_secrets, percentile, send_at
from tests.load.test_held_lock import KINDS, WORKER_TIMEOUT, stored, webhook

#: Webhooks sent to the server whose database hangs from the start, and over how long.
WEBHOOKS, OVER = 100, 20.0
#: What the hanging database may cost a caller (p99) and the health check (each).
P99_LIMIT, HEALTH_LIMIT = 1.0, 1.0
PASSWORD = "hung-db-password-3b9a"


def health(port: int) -> tuple[int | None, float, dict[str, str]]:
    """/healthz: its status, how long it took, its JSON."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        return response.status, time.perf_counter() - started, body
    finally:
        conn.close()


LOG_LINE = re.compile(r"^\[[^]]*\] \[(?P<pid>\d+)\] \[\w+\] (?P<message>.*)$", re.MULTILINE)


def still_out(log: str) -> list[int]:
    """The workers whose breaker is open, as their log lines tell: the later of "webhooks no
    longer wait for it" and "the database answers again" that each logged is the first."""
    last: dict[int, bool] = {}
    for match in LOG_LINE.finditer(log):
        message = match["message"]
        if "webhooks no longer wait for it" in message:
            last[int(match["pid"])] = True
        elif message.startswith("the database answers again"):
            last[int(match["pid"])] = False
    return sorted(pid for pid, out in last.items() if out)


def check_answers(requests: list[tuple[str, str, dict[str, str], dict[str, str]]],
                  answers: list[Answer]) -> None:
    for (kind, _path, _params, _headers), answer in zip(requests, answers, strict=True):
        assert answer.status is not None, f"{kind}: no answer ({answer.error})"
        if kind.endswith("status"):
            assert answer.status in (204, 503), (kind, answer.status)
        else:
            assert answer.status == 200, (kind, answer.status, answer.body)
            parse_twiml(answer.body)


def test_a_database_that_never_answers(tmp_path: Path) -> None:
    hole = HangingServer().start()
    url = f"postgresql+psycopg://switchboard:{PASSWORD}@127.0.0.1:{hole.port}/switchboard"
    requests = [webhook(n) for n in range(WEBHOOKS)]
    schedule = [OVER * n / WEBHOOKS for n in range(WEBHOOKS)]
    log = tmp_path / "gunicorn.log"
    try:
        server = Gunicorn(url, log, workers=4)
        started = time.monotonic()
        server.start(healthy=False)
        start_up = time.monotonic() - started
        try:
            workers_before = server.worker_pids()
            checks: list[tuple[int | None, float, dict[str, str]]] = []
            stop = threading.Event()

            def poll_health() -> None:
                while not stop.wait(1.0):
                    checks.append(health(server.port))

            poller = threading.Thread(target=poll_health, daemon=True)
            poller.start()
            answers = send_at(server.port, schedule, [r[1:] for r in requests])
            stop.set()
            poller.join(15)
            workers_after = server.worker_pids()
        finally:
            text = server.stop()
    finally:
        hole.close()

    seconds = [a.seconds for a in answers]
    kinds = Counter((k, a.status) for (k, *_rest), a in zip(requests, answers, strict=True))
    health_seconds = [s for _status, s, _body in checks]
    reasons = {body.get("reason", "") for _status, _s, body in checks}
    report(
        "PostgreSQL that never answers, from the start",
        f"gunicorn up in {start_up:.1f} s; {WEBHOOKS} webhooks over {OVER:g} s: p50 "
        f"{percentile(seconds, 0.5) * 1000:.1f} ms, p99 {percentile(seconds, 0.99) * 1000:.1f} "
        f"ms, max {max(seconds) * 1000:.0f} ms; " + ", ".join(
            f"{k} {s}: {n}" for (k, s), n in sorted(kinds.items(), key=str))
        + f"; /healthz {len(checks)} times, max {max(health_seconds) * 1000:.0f} ms, all 503 "
        f"({sorted(reasons)[0]!r}...); "
        f"workers killed: {len(set(workers_before) - set(workers_after))}",
    )
    check_answers(requests, answers)
    for (kind, *_rest), answer in zip(requests, answers, strict=True):
        if kind == "sms-help":  # answered anyway: Twilio enforces an opt-out itself
            assert b"<Message>" in answer.body, answer.body
        if kind == "voice":  # the welcome needs no database
            assert b"<Gather" in answer.body, answer.body
    assert percentile(seconds, 0.99) < P99_LIMIT, sorted(seconds)[-5:]
    assert checks, "no health check was made"
    assert all(status == 503 for status, _s, _body in checks), checks
    assert max(health_seconds) < HEALTH_LIMIT, health_seconds
    assert all(reason and "\n" not in reason for reason in reasons), reasons
    assert any("timeout" in reason or "did not answer" in reason for reason in reasons), reasons
    assert not no_secrets(text + repr(reasons), PASSWORD)
    assert workers_after == workers_before
    assert "WORKER TIMEOUT" not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture
def postgres_database() -> Iterator[str]:
    yield from _fresh_postgres_url(_postgres_base_url())


def test_the_database_hangs_under_traffic_and_comes_back(
    postgres_database: str, tmp_path: Path
) -> None:
    target = sa.make_url(postgres_database)
    proxy = HangingServer((target.host or "127.0.0.1", target.port or 5432)).start()
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    log = tmp_path / "gunicorn.log"
    before, during, after = (
        [webhook(n) for n in range(start, start + count)]
        for start, count in ((0, 40), (40, 60), (100, 40))
    )
    try:
        with Gunicorn(url, log, workers=4) as server:
            workers_before = server.worker_pids()
            answers_before = send_at(server.port, [i * 0.05 for i in range(len(before))],
                                     [r[1:] for r in before])
            proxy.hang()
            hung_at = time.monotonic()
            during_health = health(server.port)
            answers_during = send_at(server.port, [i * 0.4 for i in range(len(during))],
                                     [r[1:] for r in during])
            proxy.resume()
            resumed_at = time.monotonic()
            deadline = resumed_at + 30
            while health(server.port)[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            healthy_in = time.monotonic() - resumed_at
            # Each worker's breaker closes by itself (its probe, a write of its rows, a
            # /healthz it served) within a probe's interval once the database answers, or
            # once a probe that was itself waiting on the hung database has given up.
            deadline = time.monotonic() + 3 * Settings.database_retry_after + 5
            while still_out(server.log_text()) and time.monotonic() < deadline:
                time.sleep(0.2)
            out = still_out(server.log_text())
            answers_after = send_at(server.port, [i * 0.05 for i in range(len(after))],
                                    [r[1:] for r in after])
            workers_after = server.worker_pids()
            text = server.stop()  # a graceful stop: the workers write the rows they hold
    finally:
        proxy.close()

    requests = before + during + after
    answers = answers_before + answers_during + answers_after
    store = Store(postgres_database)
    try:
        webhooks = [(kind, params) for kind, _path, params, _h in requests
                    if not kind.endswith(("status", "fallback"))]
        unrecorded = [(kind, params) for kind, params in webhooks
                      if not stored(store, kind, params)]
        rows = len(webhooks)
    finally:
        store.close()
    during_seconds = [a.seconds for a in answers_during]
    slow = [s for s in during_seconds if s >= 1.0]
    kinds = Counter((k, a.status) for (k, *_rest), a in zip(during, answers_during, strict=True))
    report(
        "PostgreSQL hangs under traffic, then comes back",
        f"hung {resumed_at - hung_at:.0f} s under {len(during)} webhooks of {len(KINDS)} kinds: "
        f"max answer {max(during_seconds):.1f} s (gunicorn kills at {WORKER_TIMEOUT:g} s), "
        f"{len(slow)} over 1 s (each worker's first wait), p50 "
        f"{percentile(during_seconds, 0.5) * 1000:.0f} ms; "
        + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(kinds.items(), key=str))
        + f"; /healthz during the hang {during_health[1] * 1000:.0f} ms; healthy again "
        f"{healthy_in:.1f} s after it answered; hung connections cut: "
        f"{text.count('did not answer in time')}; workers killed: "
        f"{len(set(workers_before) - set(workers_after))}; rows lost: {len(unrecorded)} of {rows}",
    )
    check_answers(requests, answers)
    assert max(during_seconds) < WORKER_TIMEOUT - 1, sorted(during_seconds)[-5:]
    assert "WORKER TIMEOUT" not in text, text[-3000:]
    assert workers_after == workers_before
    assert during_health[0] == 503
    assert during_health[1] < HEALTH_LIMIT
    assert healthy_in < 15
    assert not out, f"workers still not using the database: {out}"
    assert all(a.status in (200, 204) for a in answers_after), Counter(
        a.status for a in answers_after)
    assert all(a.status in (200, 204) for a in answers_before)
    assert not unrecorded, f"{len(unrecorded)} call and message rows never written"
    assert "Traceback" not in text, text[-3000:]

