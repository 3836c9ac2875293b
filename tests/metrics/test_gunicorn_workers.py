"""``/metrics`` under a real gunicorn with two sync workers (prometheus-client's multiprocess
mode): whichever worker answers the scrape, the counts are the requests sent to both, and they
stay when a worker ends and is replaced."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, stop_process
from tests.load.servers import ACCOUNT_SID, TOKEN, Answer, send_all, server_env

from .scraping import TOKEN as METRICS_TOKEN
from .scraping import bearer, parse, total, value

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("gunicorn_conf.py")
APP = "tests.metrics.gunicorn_app:app"

pytestmark = pytest.mark.slow


class Server:
    """gunicorn on a free port of 127.0.0.1 with ``workers`` workers and metrics on;
    ``settings`` add to its environment (``SWITCHBOARD_FLOWS_DIR``...)."""

    def __init__(self, tmp_path: Path, workers: int = 2, **settings: str) -> None:
        self.port = free_port()
        self.folder = tmp_path / "prometheus"
        self.log = tmp_path / "gunicorn.log"
        env = server_env(
            TWILIO_AUTH_TOKEN=TOKEN,
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'switchboard.sqlite3'}",
            SWITCHBOARD_PUBLIC_URL=f"http://127.0.0.1:{self.port}",
            SWITCHBOARD_METRICS_TOKEN=METRICS_TOKEN,
            PROMETHEUS_MULTIPROC_DIR=str(self.folder),
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            GUNICORN_WORKERS=str(workers),
            **settings,
        )
        self.workers = workers
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), APP],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return sorted(int(pid) for pid in children.read_text().split())

    def wait_ready(self, exclude: set[int] = frozenset(), timeout: float = 60) -> list[int]:  # type: ignore[assignment]
        """Until /healthz answers 200 and ``workers`` workers (none of ``exclude``) run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{self.log.read_text()}")
            try:
                healthy = self.get("/healthz")[0] == 200
            except OSError:
                healthy = False
            pids = self.worker_pids()
            if healthy and len(pids) == self.workers and not exclude & set(pids):
                return pids
            time.sleep(0.05)
        pytest.fail(f"gunicorn was not ready in {timeout:g} s:\n{self.log.read_text()}")

    def end_worker(self, pid: int, timeout: float = 10) -> list[int]:
        """SIGTERM the worker ``pid``; once gunicorn has replaced it and ``child_exit`` has
        taken its files (its counts into the archive), the workers' pids."""
        os.kill(pid, signal.SIGTERM)
        workers = self.wait_ready(exclude={pid})
        deadline = time.monotonic() + timeout
        while os.path.exists(self.folder / f"counter_{pid}.db") and time.monotonic() < deadline:
            time.sleep(0.05)
        return workers

    def scrape(self) -> dict[Any, float]:
        status, body = self.get("/metrics", bearer())
        assert status == 200, body
        return parse(body.decode())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    try:
        running.wait_ready()
        yield running
    finally:
        stop_process(running.process)


def webhooks(voice: int, sms: int, status: int) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """Signed requests for new calls and messages: ``voice`` /voice, ``sms`` /sms,
    ``status`` /voice/status."""
    made: list[tuple[str, dict[str, str], dict[str, str]]] = []
    common = {"AccountSid": ACCOUNT_SID, "From": "+15551230001", "To": "+15559870002",
              "ApiVersion": "2010-04-01"}
    for _ in range(voice):
        made.append(("/voice", {**common, "CallSid": "CA" + uuid.uuid4().hex,
                                "CallStatus": "ringing", "Direction": "inbound"}, {}))
    for _ in range(sms):
        made.append(("/sms", {**common, "MessageSid": "SM" + uuid.uuid4().hex, "Body": "hours",
                              "NumMedia": "0"}, {}))
    for _ in range(status):
        made.append(("/voice/status", {**common, "CallSid": "CA" + uuid.uuid4().hex,
                                       "CallStatus": "completed", "CallDuration": "3",
                                       "SequenceNumber": "0"}, {}))
    return made


def statuses(answers: list[Answer]) -> dict[int | None, int]:
    counts: dict[int | None, int] = {}
    for answer in answers:
        counts[answer.status] = counts.get(answer.status, 0) + 1
    return counts


def check_sums(samples: dict[Any, float], voice: int, sms: int, status: int) -> None:
    assert value(samples, "switchboard_webhooks_total", endpoint="ivr.welcome", kind="voice",
                 status="200") == voice
    assert value(samples, "switchboard_webhooks_total", endpoint="sms_bot.reply", kind="sms",
                 status="200") == sms
    assert value(samples, "switchboard_webhooks_total", endpoint="status.call_status",
                 kind="call_status", status="204") == status
    assert value(samples, "switchboard_webhook_seconds_count", endpoint="ivr.welcome") == voice
    assert value(samples, "switchboard_webhook_seconds_bucket", endpoint="ivr.welcome",
                 le="+Inf") == voice
    assert total(samples, "switchboard_webhooks_total") == voice + sms + status


def test_counts_are_summed_across_two_workers_and_survive_one_ending(server: Server) -> None:
    first = server.worker_pids()
    answers, _ = send_all(server.port, webhooks(120, 60, 20), threads=8)
    assert statuses(answers) == {200: 180, 204: 20}
    files = sorted(name for name in os.listdir(server.folder) if name.endswith(".db"))
    served = {int(name.rpartition("_")[2][:-3]) for name in files if name.startswith("counter_")}
    assert set(first) <= served, f"both workers counted: {files}"
    for _ in range(4):  # each scrape answered by either worker: the same sums
        check_sums(server.scrape(), 120, 60, 20)

    gone = first[0]
    second = server.end_worker(gone)
    leftover = [name for name in os.listdir(server.folder) if name.endswith(f"_{gone}.db")]
    assert leftover == []
    assert (server.folder / "counter_archive.db").exists()
    check_sums(server.scrape(), 120, 60, 20)

    answers, _ = send_all(server.port, webhooks(30, 10, 0), threads=4)
    assert statuses(answers) == {200: 40}
    samples = server.scrape()
    check_sums(samples, 150, 70, 20)
    assert ("switchboard_write_behind_rows_waiting", ()) in samples  # the store was read
    # no row lost, whatever its table (a table appears once it has lost one)
    assert total(samples, "switchboard_write_behind_rows_dropped_total") == 0
    assert len(second) == 2


def test_the_scrape_is_refused_without_the_token_and_shows_no_secret(server: Server) -> None:
    send_all(server.port, webhooks(3, 1, 0), threads=2)
    for headers in ({}, bearer("not-the-metrics-token-at-all")):
        status, body = server.get("/metrics", headers)
        assert status == 401
        assert body == b""
    status, body = server.get("/metrics", bearer())
    assert status == 200
    text = body.decode()
    for secret in (TOKEN, METRICS_TOKEN):
        assert secret not in text
    log = server.log.read_text()
    assert METRICS_TOKEN not in log
    assert "refused GET /metrics with 401" in log
