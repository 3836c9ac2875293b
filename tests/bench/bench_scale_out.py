"""What the scale-out stack costs on one machine: PostgreSQL direct, through PgBouncer, and
three hosts behind nginx, measured in the same run.

1. **The store, prepared or not** (one thread, one connection, each operation under a
   handler's deadline as in a webhook), on a direct connection: psycopg's server-side prepared
   statements and a ``statement_timeout`` set once per connection (``?pooler=none``, the
   default), against none prepared alone, and against none prepared with the timeout set by
   each transaction's ``BEGIN`` (``?pooler=transaction``); then the latter through PgBouncer.
2. **Webhooks per second** (a mix of ``/voice``, ``/sms`` and ``/voice/status``, each request
   a new call or message, pre-signed; 16 connections from wrk when installed, else a Python
   load generator): one host (gunicorn, 2 sync workers) on PostgreSQL direct, without and
   with ``?pooler=transaction``; the same host through PgBouncer in transaction mode; three
   such hosts behind nginx (``deploy/scale-out/nginx-switchboard.conf``, TLS, keep-alive from
   the client) through PgBouncer (``deploy/scale-out/pgbouncer.ini``). Interleaved rounds,
   so that the machine's other load drifts as little as possible between them.

Everything runs on this machine, which is CPU-bound (the load generator, nginx, PgBouncer,
PostgreSQL and every worker share its cores): the figures show what each layer costs, not how
the stack scales across machines.

PostgreSQL: ``SWITCHBOARD_TEST_POSTGRESQL_URL`` (a throw-away database is made there), else a
server of its own (initdb, as the load suite does). PgBouncer, nginx and openssl must be
installed. ``BENCH_ROUNDS`` (5), ``BENCH_SLICE`` (3 s), ``BENCH_CONNECTIONS`` (16),
``BENCH_STORE_ROUNDS`` (7), ``BENCH_STORE_OPS`` (1,000 per round).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy import event

from switchboard.callbacks.deadline import Deadline
from switchboard.callbacks.security import signed_headers
from switchboard.callbacks.store import Store
from tests.bench.bench_server import WRK, WRK_SCRIPT, _wrk_ms, call, message

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
SLICE = float(os.environ.get("BENCH_SLICE", 3.0))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 16))
STORE_OPS = int(os.environ.get("BENCH_STORE_OPS", 1000))
STORE_ROUNDS = int(os.environ.get("BENCH_STORE_ROUNDS", 7))
WORKERS = 2
MIX = ("/voice", "/sms", "/voice/status")
REQUESTS_PER_SECOND = 3000


# -- the database --------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL database to use (and drop afterwards)."""
    base = os.environ.get("SWITCHBOARD_TEST_POSTGRESQL_URL")
    server = None
    if not base:
        from tests.load.conftest import PostgresServer, _pg_bin

        bin_dir = _pg_bin()
        if bin_dir is None:
            raise SystemExit("no PostgreSQL: set SWITCHBOARD_TEST_POSTGRESQL_URL or install it")
        folder = Path(tempfile.mkdtemp(prefix="bench-scale-out-pg-"))
        server = PostgresServer(bin_dir, folder)
        server.init()
        base = server.url
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        if server is not None:
            server.stop("immediate")
            shutil.rmtree(server.folder, ignore_errors=True)


# -- 1. the store, prepared or not ---------------------------------------------------------------


def store_round(store: Store, count: int) -> float:
    """Microseconds per operation: ``count`` operations of a webhook's kinds (a status
    callback stored, a session saved and read, an opt-out looked up, a call read), each under
    a handler deadline."""
    sids = [f"CA{uuid.uuid4().hex}" for _ in range(count // 5 + 1)]
    operations: list[Callable[[], object]] = []
    for sid in sids:
        operations += [
            lambda sid=sid: store.record_call_status(
                {"CallSid": sid, "CallStatus": "completed", "SequenceNumber": "0"}),
            lambda sid=sid: store.save_voice_session(sid, {"attempts": 1}),
            lambda sid=sid: store.load_voice_session(sid),
            lambda: store.is_opted_out("+15551230001", "+15559870002"),
            lambda sid=sid: store.get_call(sid),
        ]
    operations = operations[:count]
    started = time.perf_counter()
    for operation in operations:
        Deadline(10.0).run(operation)
    return (time.perf_counter() - started) / len(operations) * 1e6


def bench_store(direct: str, pooled: str) -> None:
    unprepared = sa.make_url(direct).update_query_dict({"pooler": "transaction"})
    variants: dict[str, Store] = {
        "direct, ?pooler=none (the default)": Store(direct, retry_after=0),
        "direct, prepare_threshold=None only": Store(direct, retry_after=0),
        "direct, ?pooler=transaction": Store(unprepared, retry_after=0),
        "PgBouncer, ?pooler=transaction": Store(pooled, retry_after=0),
    }
    event.listen(variants["direct, prepare_threshold=None only"].engine, "do_connect",
                 lambda dialect, record, cargs, cparams: cparams.update(prepare_threshold=None))
    for store in variants.values():
        store.create_all()
        store_round(store, 300)  # warm: connections made, statements prepared where they are
    results: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(STORE_ROUNDS):
        for label, store in variants.items():
            results[label].append(store_round(store, STORE_OPS))
    for store in variants.values():
        store.close()
    base = results["direct, ?pooler=none (the default)"]
    print(f"  store operations, one thread, {STORE_ROUNDS} interleaved rounds of {STORE_OPS:,}; "
          "each round against the default's in the same round, the median and the range:")
    print(f"  {'':40} {'us/op':>7} {'vs default':>10}  range")
    for label, values in results.items():
        ratios = sorted(mine / theirs - 1 for mine, theirs in zip(values, base, strict=True))
        print(f"  {label:40} {statistics.median(values):7.0f} "
              f"{statistics.median(ratios):+10.1%}  {ratios[0]:+.0%} to {ratios[-1]:+.0%}")


# -- 2. webhooks per second ----------------------------------------------------------------------


def raw_request(path: str, params: dict[str, str], public: str, host: str,
                keep_alive: bool, token: str) -> bytes:
    body = urlencode(params).encode()
    signature = signed_headers(token, public + path, params)["X-Twilio-Signature"]
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        + ("" if keep_alive else "Connection: close\r\n")
        + "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
        f"I-Twilio-Idempotency-Token: {uuid.uuid4()}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def batch(public: str, host: str, keep_alive: bool, token: str, count: int) -> list[bytes]:
    """``count`` pre-signed requests, /voice, /sms and /voice/status in turn, each a new call or
    message."""
    made = []
    for path in itertools.islice(itertools.cycle(MIX), count):
        sid = uuid.uuid4().hex
        if path == "/sms":
            params = message("SM" + sid)
        elif path == "/voice/status":
            params = call("CA" + sid, CallStatus="completed", CallDuration="31", Duration="1",
                          SequenceNumber="3", CallbackSource="call-progress-events")
        else:
            params = call("CA" + sid)
        made.append(raw_request(path, params, public, host, keep_alive, token))
    return made


class Front:
    """Where the load goes: a host's gunicorn (a new connection per request: sync workers
    close each) or nginx (TLS, keep-alive), and the figures so far."""

    def __init__(self, label: str, port: int, *, tls: bool, token: str) -> None:
        self.label, self.port, self.tls, self.token = label, port, tls, token
        scheme = "https" if tls else "http"
        self.public = f"{scheme}://127.0.0.1:{port}"
        self.rates: list[float] = []
        self.p50: list[float] = []
        self.p99: list[float] = []
        self.bad = 0
        self.folder = Path(tempfile.gettempdir())

    def run(self, seconds: float, *, record: bool = True) -> None:
        requests = batch(self.public, f"127.0.0.1:{self.port}", self.tls, self.token,
                         int(seconds * REQUESTS_PER_SECOND) + 1)
        if WRK:
            seconds = max(1, round(seconds))
            done, bad, p50, p99 = self._wrk(seconds, requests)
        else:
            done, bad, p50, p99 = self._python(seconds, requests)
        if record:
            self.rates.append(done / seconds)
            self.p50.append(p50)
            self.p99.append(p99)
            self.bad += bad

    def _wrk(self, seconds: float, requests: list[bytes]) -> tuple[int, int, float, float]:
        import re

        path = self.folder / f"requests-{self.port}.bin"
        path.write_bytes(b"".join(b"%d\n%s" % (len(r), r) for r in requests))
        output = subprocess.run(
            [WRK, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(WRK_SCRIPT),
             self.public + "/", "--", str(path), "2"],
            capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
        path.unlink()
        done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        errors = re.search(r"Socket errors: connect (\d+), read \d+, write (\d+), timeout (\d+)",
                           output)
        failed = int(bad.group(1)) if bad else 0
        failed += sum(int(n) for n in errors.groups()) if errors else 0
        return done, failed, _wrk_ms(output, "50%"), _wrk_ms(output, "99%")

    def _python(self, seconds: float, requests: list[bytes]) -> tuple[int, int, float, float]:
        latencies: list[float] = []
        bad = [0]
        lock = threading.Lock()
        counter = itertools.count()
        stop_at = time.perf_counter() + seconds
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

        def connect() -> socket.socket:
            sock = socket.create_connection(("127.0.0.1", self.port))
            return context.wrap_socket(sock) if self.tls else sock

        def worker() -> None:
            sock = connect() if self.tls else None
            mine = []
            while (started := time.perf_counter()) < stop_at:
                request = requests[next(counter) % len(requests)]
                conn = sock or connect()
                conn.sendall(request)
                status = read_answer(conn)
                if sock is None:
                    conn.close()
                mine.append(time.perf_counter() - started)
                if status not in (b"200", b"204"):
                    with lock:
                        bad[0] += 1
            with lock:
                latencies.extend(mine)
            if sock is not None:
                sock.close()

        threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ordered = sorted(latencies)
        return (len(ordered), bad[0], ordered[len(ordered) // 2] * 1000,
                ordered[int(len(ordered) * 0.99)] * 1000)

    def figures(self) -> tuple[float, float, float]:
        return (statistics.median(self.rates), statistics.median(self.p50),
                statistics.median(self.p99))


def read_answer(sock: socket.socket) -> bytes:
    """Read one HTTP answer (headers and a Content-Length body); its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data[9:12]
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head[9:12]


def bench_webhooks(direct: str, bouncer: object, database: str, folder: Path) -> None:
    from tests.load.scale_out import AppHost, Nginx
    from tests.load.servers import TOKEN
    from tests.pgbouncer import PgBouncer

    assert isinstance(bouncer, PgBouncer)
    pooled = bouncer.url(database)
    quiet = {"GUNICORN_ACCESSLOG": ""}
    alone = AppHost(direct, folder / "direct.log", workers=WORKERS, env=quiet)
    unprepared = AppHost(sa.make_url(direct).update_query_dict({"pooler": "transaction"})
                         .render_as_string(hide_password=False), folder / "unprepared.log",
                         workers=WORKERS, env=quiet)
    through = AppHost(pooled, folder / "pooled.log", workers=WORKERS, env=quiet)
    three = [AppHost(pooled, folder / f"host{n}.log", workers=WORKERS, env=quiet)
             for n in range(3)]
    from tests.conftest import free_port

    for host in (alone, unprepared, through, *three):
        host.port = free_port()
    for host in (alone, unprepared, through):
        host.public_url, host.hosts = f"http://127.0.0.1:{host.port}", 1
    nginx_folder = folder / "nginx"
    nginx_folder.mkdir()
    front = Nginx(nginx_folder, [host.port for host in three])
    front.port = free_port()
    for host in three:
        host.public_url = f"https://127.0.0.1:{front.port}"
    hosts = [alone, unprepared, through, *three]
    try:
        for host in hosts:
            host.start(healthy=False)
        for host in hosts:
            host.wait_healthy()
        front.start()
        (nginx_folder / "nginx-access.log").unlink(missing_ok=True)
        targets = [
            Front("1 host, PostgreSQL direct", alone.port, tls=False, token=TOKEN),
            Front("1 host, direct, ?pooler=transaction", unprepared.port, tls=False,
                  token=TOKEN),
            Front("1 host, PgBouncer (transaction)", through.port, tls=False, token=TOKEN),
            Front("3 hosts, nginx (TLS), PgBouncer", front.port, tls=True, token=TOKEN),
        ]
        for target in targets:
            target.folder = folder
            target.run(0.5, record=False)
        for _ in range(ROUNDS):
            for target in targets:
                target.run(SLICE)
    finally:
        front.stop()
        for host in hosts:
            host.stop()
    generator = "wrk" if WRK else "a Python load generator"
    print(f"  webhooks (/voice, /sms, /voice/status in turn, each a new call or message), "
          f"{CONNECTIONS} connections from {generator}, {WORKERS} sync workers per host, "
          f"{ROUNDS} rounds of {SLICE:g} s, the median; {os.cpu_count()} cores shared by all:")
    base = targets[0].rates
    print(f"  {'':38} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'vs direct':>9}  range"
          "          errors")
    for target in targets:
        rate, p50, p99 = target.figures()
        ratios = sorted(mine / theirs - 1 for mine, theirs in zip(target.rates, base,
                                                                  strict=True))
        print(f"  {target.label:38} {rate:7.0f} {p50:7.1f} {p99:7.1f} "
              f"{statistics.median(ratios):+9.1%}  {ratios[0]:+.0%} to {ratios[-1]:+.0%}"
              f"  {target.bad:6}")
    print("  (one machine, CPU-bound: this is what the layers cost, not how the stack scales; "
          "across machines each host brings its own cores)")


def main() -> None:
    missing = [tool for tool in ("pgbouncer", "nginx", "openssl")
               if not (shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin"))]
    if missing:
        print(f"  skipped: {', '.join(missing)} not installed "
              "(apt-get install pgbouncer nginx-light openssl)")
        return
    from tests.pgbouncer import PgBouncer

    with postgres_server() as direct, tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        database = sa.make_url(direct).database or ""
        bouncer = PgBouncer(direct).start()
        try:
            bench_store(direct, bouncer.url(database))
            print()
            bench_webhooks(direct, bouncer, database, Path(tmp))
        finally:
            bouncer.stop()


if __name__ == "__main__":
    main()
