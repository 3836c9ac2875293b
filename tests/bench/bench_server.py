"""The callbacks server under gunicorn (2 sync workers, deploy/gunicorn.conf.py) on 127.0.0.1.

Measured in the same run with the same load (16 connections, each a thread sending pre-signed
requests over fresh TCP connections, since gunicorn's sync workers close each one), in
interleaved rounds so that the machine's other load drifts as little as possible between them:

- the ceiling: a bare Flask app answering a constant XML string (``ceiling_app.py``);
- ``/voice``: a new call each request, signature check, the call recorded, the IVR's TwiML;
- ``/sms``: a new message each request, recorded, opt-out looked up, a reply;
- ``/voice/status``: a new call's completed callback each request, stored.

Prints requests per second, p50 and p99 latency, each rate as a ratio of the ceiling, and (on
Linux) the CPU time the gunicorn workers spent per request, which moves less than the rates
when other jobs share the machine.
Goals: /voice and /sms >= 0.75, /voice/status >= 0.6, p99 < 20 ms. The same three are then
measured with the database calls replaced by no-ops (``nostore_app.py``): the server's own
path (signature, parsing, deadline, TwiML) without what the store costs.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

from switchboard.callbacks.security import signed_headers
from switchboard.callbacks.store import Store, schema
from switchboard.callbacks.store.schema import UTCDateTime
from switchboard.callbacks.store.statuses import status_rank

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
TOKEN = "bench-auth-token"
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 16))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
#: Calls and messages put in the database before the run (0: it starts empty).
PREFILL = int(os.environ.get("BENCH_PREFILL", 0))
SLICE = float(os.environ.get("BENCH_SLICE", 1.0))
WARMUP = 0.3
#: Requests made for each second of a run: more than any target here answers in a second
#: (about 2,300 at most), so that no request is sent twice.
REQUESTS_PER_SECOND = 4000
#: wrk (Debian's package) when installed, unless BENCH_LOADGEN=python: it leaves more of the
#: machine to gunicorn than the Python generator does.
WRK = None if os.environ.get("BENCH_LOADGEN") == "python" else shutil.which("wrk")
WRK_SCRIPT = Path(__file__).with_name("wrk_requests.lua")
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(folder: Path) -> str:
    """``BENCH_DATABASE_URL``, else an SQLite file in ``folder``."""
    return os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{folder / 'switchboard.sqlite3'}")


def prefill(url: str, rows: int) -> None:
    """Put ``rows`` calls and as many messages in the database, as a server that has run for a
    while has: an empty database flatters every write, its indexes fitting in a few pages."""
    store = Store(url)
    try:
        store.create_all()
        if store.dialect == "sqlite":
            n = sa.select(sa.literal(1).label("i")).cte("n", recursive=True)
            source = n.union_all(sa.select(n.c.i + 1).where(n.c.i < rows))
            sid = sa.func.lower(sa.func.hex(sa.func.randomblob(16)))
        else:
            source = sa.func.generate_series(1, rows).table_valued("i").render_derived("n")
            sid = sa.func.md5(sa.cast(sa.func.random(), sa.Text) + sa.cast(source.c.i, sa.Text))
        at = sa.literal(datetime(2026, 11, 1, tzinfo=UTC), UTCDateTime)
        common = {
            "account_sid": sa.literal("AC" + "b" * 32), "from": sa.literal("+15551230001"),
            "to": sa.literal("+15559870002"), "direction": sa.literal("inbound"),
            "created_at": at, "updated_at": at,
        }
        calls = {
            "sid": sa.literal("CA") + sid, **common, "status": sa.literal("completed"),
            "status_rank": sa.literal(status_rank("call", "completed")),
            "duration": sa.literal(31),
        }
        messages = {
            "sid": sa.literal("SM") + sid, **common, "body": sa.literal("hello there"),
            "status": sa.literal("received"),
            "status_rank": sa.literal(status_rank("message", "received")),
            "num_media": sa.literal(0), "num_segments": sa.literal(1),
        }
        with store.engine.begin() as conn:
            for table, columns in ((schema.calls, calls), (schema.messages, messages)):
                select = sa.select(*columns.values()).select_from(source)
                conn.execute(sa.insert(table).from_select(list(columns), select))
        if store.dialect == "sqlite":  # all in the database file and on disk, so that the
            with store.engine.connect() as conn:  # run's first checkpoint is not the pre-fill's
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            os.sync()
    finally:
        store.close()


def start_gunicorn(
    app: str, port: int, folder: Path, extra: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """gunicorn with deploy/gunicorn.conf.py serving ``app`` on ``port``, its database, access
    log and error log in ``folder``; ``extra``: more environment variables (settings), over
    those."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    env.update(
        TWILIO_AUTH_TOKEN=TOKEN,
        SWITCHBOARD_DOTENV="0",
        SWITCHBOARD_DATABASE_URL=database_url(folder),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_ACCESSLOG=str(folder / f"access-{port}.log"),
        GUNICORN_ERRORLOG=str(folder / f"error-{port}.log"),
    )
    env.update(extra or {})
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), app],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited with {process.returncode}")
        try:
            status = exchange(port, HEALTHZ)
            if status == b"200":
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"gunicorn on port {port} did not start")


def exchange(port: int, request: bytes) -> bytes:
    """Send one request on a new connection; the status code of the answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        head = sock.recv(65536)
        while sock.recv(65536):
            pass
    return head[9:12]


def post(port: int, path: str, params: dict[str, str]) -> bytes:
    url = f"http://127.0.0.1:{port}{path}"
    body = urlencode(params).encode()
    signature = signed_headers(TOKEN, url, params)["X-Twilio-Signature"]
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
        f"I-Twilio-Idempotency-Token: {uuid.uuid4()}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def call(sid: str, **extra: str) -> dict[str, str]:
    params = {
        "CallSid": sid, "AccountSid": "AC" + "b" * 32, "From": "+15551230001",
        "To": "+15559870002", "CallStatus": "ringing", "ApiVersion": "2010-04-01",
        "Direction": "inbound", "Caller": "+15551230001", "Called": "+15559870002",
        "FromCity": "SPRINGFIELD", "FromState": "IL", "FromCountry": "US", "FromZip": "62701",
    }
    params.update(extra)
    return params


def message(sid: str) -> dict[str, str]:
    return {
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "b" * 32,
        "From": "+15551230001", "To": "+15559870002", "Body": "hello there", "NumMedia": "0",
        "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01",
    }


def requests_for(name: str, port: int, count: int) -> list[bytes]:
    """``count`` pre-signed requests to ``name``, each for a new call or message."""
    made = []
    for _ in range(count):
        sid = uuid.uuid4().hex
        if name == "/sms":
            made.append(post(port, "/sms", message("SM" + sid)))
        elif name == "/voice/status":
            params = call("CA" + sid, CallStatus="completed", CallDuration="31", Duration="1",
                          SequenceNumber="3", CallbackSource="call-progress-events",
                          Timestamp="Fri, 27 Nov 2026 12:00:00 +0000")
            made.append(post(port, "/voice/status", params))
        else:
            made.append(post(port, "/voice", call("CA" + sid)))
    return made


class Target:
    """One thing measured: its label, port, pre-signed requests, goal, and the figures so far."""

    def __init__(self, label: str, port: int, path: str, goal: float | None) -> None:
        self.label, self.port, self.path, self.goal = label, port, path, goal
        self.done = 0
        self.seconds = 0.0
        self.latencies: list[float] = []
        self.bad = 0
        self.round_rates: list[float] = []
        self.wrk_latencies: list[tuple[float, float]] = []
        self.folder = Path(tempfile.gettempdir())
        self.master: int | None = None
        self.cpu = 0.0

    def run(self, seconds: float, *, record: bool = True) -> None:
        """``CONNECTIONS`` connections for ``seconds``: wrk when installed, else Python. Every
        run sends requests made for it (new calls and messages, not those of earlier runs: a
        repeated status callback is a duplicate, which the store does not write)."""
        if WRK:
            seconds = max(1, round(seconds))  # wrk takes whole seconds
        batch = requests_for(self.path, self.port, math.ceil(seconds * REQUESTS_PER_SECOND))
        before = worker_cpu(self.master)
        if WRK:
            self._run_wrk(seconds, batch, record)
        else:
            self._run_python(seconds, batch, record)
        if record:
            self.cpu += worker_cpu(self.master) - before

    def _run_wrk(self, seconds: float, batch: list[bytes], record: bool) -> None:
        """wrk (C, epoll) sends the pre-signed requests; it reconnects as gunicorn's sync
        workers close each connection."""
        data = b"".join(b"%d\n%s" % (len(r), r) for r in batch)
        path = self.folder / f"requests-{self.port}.bin"
        path.write_bytes(data)
        output = subprocess.run(
            [WRK, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s",
             str(WRK_SCRIPT), f"http://127.0.0.1:{self.port}/", "--", str(path), "2"],
            capture_output=True, text=True, check=True, timeout=seconds + 30,
        ).stdout
        path.unlink()
        if not record:
            return
        done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        errors = re.search(r"Socket errors: connect (\d+), read \d+, write (\d+), timeout (\d+)",
                           output)
        self.done += done
        self.seconds += seconds
        self.round_rates.append(done / seconds)
        self.bad += int(bad.group(1)) if bad else 0
        if errors:
            self.bad += sum(int(n) for n in errors.groups())
        self.wrk_latencies.append((_wrk_ms(output, "50%"), _wrk_ms(output, "99%")))

    def _run_python(self, seconds: float, batch: list[bytes], record: bool) -> None:
        """``CONNECTIONS`` threads, each on a new connection per request."""
        latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
        bad = [0] * CONNECTIONS
        stop_at = time.perf_counter() + seconds
        size, counter, port = len(batch), itertools.count(), self.port

        def worker(slot: int) -> None:
            mine = latencies[slot]
            clock = time.perf_counter
            while True:
                started = clock()
                if started >= stop_at:
                    return
                status = exchange(port, batch[next(counter) % size])
                mine.append(clock() - started)
                if status not in (b"200", b"204"):
                    bad[slot] += 1

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if record:
            done = sum(len(slot) for slot in latencies)
            self.done += done
            self.seconds += seconds
            self.round_rates.append(done / seconds)
            self.latencies.extend(t for slot in latencies for t in slot)
            self.bad += sum(bad)

    def figures(self) -> tuple[float, float, float]:
        if self.wrk_latencies:  # wrk reports percentiles per run: the median of the rounds
            p50 = statistics.median(p for p, _ in self.wrk_latencies)
            p99 = statistics.median(p for _, p in self.wrk_latencies)
            return self.done / self.seconds, p50, p99
        ordered = sorted(self.latencies)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return self.done / self.seconds, p50, p99


def worker_cpu(master: int | None) -> float:
    """User + system CPU seconds used so far by the workers of the gunicorn ``master``: the
    live ones, plus those that exited (gunicorn recycles a worker after ``max_requests``), which
    the kernel adds to the master's children times. 0 where /proc is not there."""
    if master is None:
        return 0.0
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        ticks = sum(int(n) for n in _stat(master)[13:15])  # cutime, cstime
    except OSError:
        return 0.0
    for pid in children:
        try:
            ticks += sum(int(n) for n in _stat(int(pid))[11:13])  # utime, stime
        except OSError:
            continue  # exited just now: counted in the master's children times next time
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _wrk_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def main() -> None:
    goals = {"/voice": 0.75, "/sms": 0.75, "/voice/status": 0.6}
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        folder = Path(tmp)
        if PREFILL:
            prefill(database_url(folder), PREFILL)
        ports = [free_port(), free_port(), free_port()]
        apps = ["tests.bench.ceiling_app:app", "switchboard.callbacks.wsgi:app",
                "tests.bench.nostore_app:app"]
        processes = [
            start_gunicorn(app, port, folder) for app, port in zip(apps, ports, strict=True)
        ]
        ceiling_port, server_port, nostore_port = ports
        try:
            for port, process in zip(ports, processes, strict=True):
                wait_ready(port, process)
            masters = {port: process.pid for port, process in zip(ports, processes, strict=True)}
            ceiling = Target("ceiling (constant XML)", ceiling_port, "/voice", None)
            targets = [ceiling]
            targets += [Target(name, server_port, name, goal) for name, goal in goals.items()]
            targets += [Target(f"{name} (no database)", nostore_port, name, None)
                        for name in goals]
            for target in targets:
                target.folder = folder
                target.master = masters[target.port]
            generator = "wrk" if WRK else "a Python load generator"
            print(f"gunicorn, 2 sync workers, {CONNECTIONS} connections from {generator}, "
                  f"{ROUNDS} rounds of {SLICE:g} s per target, interleaved; {os.cpu_count()} "
                  "cores shared with the load generator; the database "
                  + (f"holding {PREFILL:,} calls and {PREFILL:,} messages at the start"
                     if PREFILL else "empty at the start"))
            for target in targets:
                target.run(WARMUP, record=False)
            for _ in range(ROUNDS):
                for target in targets:
                    target.run(SLICE)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    print(f"{'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'goal':>6} "
          f"{'cpu us':>7}  errors")
    for target in targets:
        rate, p50, p99 = target.figures()
        # The ratio of each round to the ceiling's in the same round, then the median: the
        # machine's other load drifts less within a round than across the whole run.
        ratio = statistics.median(
            mine / theirs for mine, theirs in zip(target.round_rates, ceiling.round_rates,
                                                  strict=True)
        )
        goal = f">={target.goal:.2f}" if target.goal else ""
        missed = target.goal is not None and (ratio < target.goal or p99 >= 20)
        cpu = f"{target.cpu / target.done * 1e6:7.0f}" if target.cpu and target.done else " " * 7
        print(f"{target.label:28} {rate:8.0f} {p50:8.2f} {p99:8.2f} {ratio:6.2f} {goal:>6} "
              f"{cpu}  {target.bad}{'  MISSED' if missed else ''}")
