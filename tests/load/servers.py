"""A real gunicorn (``deploy/gunicorn.conf.py``) on a free 127.0.0.1 port, and what the load
and fault tests need around it: its worker pids, its log, signed requests on keep-alive
``http.client`` connections."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

from switchboard.callbacks.security import signed_headers
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
TOKEN = "load-auth-token-5f0c8e2a9b7d4613"
ACCOUNT_SID = "AC" + "5" * 32
#: Gunicorn must answer /healthz within this after starting.
START_TIMEOUT = 60.0


def server_env(**extra: str) -> dict[str, str]:
    """The environment minus the developer's TWILIO_* / SWITCHBOARD_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    env.update(SWITCHBOARD_DOTENV="0", GUNICORN_GRACEFUL_TIMEOUT="5")
    env.update(extra)
    return env


@dataclass
class Gunicorn:
    """``gunicorn -c deploy/gunicorn.conf.py APP`` with ``workers`` sync workers.

    ``env`` adds to the server's environment (``SWITCHBOARD_DATABASE_URL``...). Its output
    (access log and error log) goes to ``log``.
    """

    database_url: str
    log: Path
    app: str = "switchboard.callbacks.wsgi:app"
    workers: int = 4
    token: str = TOKEN
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, healthy: bool = True) -> Gunicorn:
        """Start gunicorn and wait until /healthz answers 200 with every worker up, or with
        ``healthy=False`` (a database that is down) until it answers at all."""
        self.port = self.port or free_port()
        env = server_env(
            TWILIO_AUTH_TOKEN=self.token,
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            SWITCHBOARD_DATABASE_URL=self.database_url,
            SWITCHBOARD_PUBLIC_URL=f"http://127.0.0.1:{self.port}",
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            GUNICORN_WORKERS=str(self.workers),
            **self.env,
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), self.app],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        self.wait_healthy(answering=not healthy)
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT, *, answering: bool = False) -> None:
        """Wait until /healthz answers 200 (``answering``: anything) and every worker is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()}")
            health = self.health()
            if (health == 200 or (answering and health is not None)) and (
                len(self.worker_pids()) >= self.workers
            ):
                return
            time.sleep(0.05)
        pytest.fail(f"gunicorn did not become healthy in {timeout:g} s:\n{self.log_text()}")

    def health(self) -> int | None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/healthz")
                return conn.getresponse().status
            finally:
                conn.close()
        except OSError:
            return None

    def worker_pids(self) -> list[int]:
        """The pids of the master's live children (the workers), from /proc."""
        assert self.process is not None
        master = self.process.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == master and fields[0] not in ("Z", "X"):
                pids.append(int(entry.name))
        return sorted(pids)

    def stop(self) -> str:
        """Stop gunicorn (SIGTERM, then SIGKILL) and return its log."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return self.log_text()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Answer:
    status: int | None  # None: no answer (connection reset, timeout)
    body: bytes
    seconds: float
    error: str = ""


class Sender:
    """Signed requests to one server over one keep-alive ``http.client`` connection.

    Not thread-safe: one per thread. A connection the server closed (gunicorn's sync workers
    close after each answer) is reopened for the next request.
    """

    def __init__(self, port: int, token: str = TOKEN, timeout: float = 30.0) -> None:
        self.port = port
        self.token = token
        self.base = f"http://127.0.0.1:{port}"
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def prepare(self, path: str, params: dict[str, str],
                headers: dict[str, str] | None = None) -> tuple[str, bytes, dict[str, str]]:
        """A signed POST: (path, body, headers), ready for :meth:`send`."""
        all_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        all_headers.update(signed_headers(self.token, self.base + path, params))
        all_headers.update(headers or {})
        return path, urlencode(params).encode(), all_headers

    def post(self, path: str, params: dict[str, str],
             headers: dict[str, str] | None = None) -> Answer:
        return self.send(*self.prepare(path, params, headers))

    def send(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
            self.conn.request("POST", path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            if response.will_close:
                self.close()
            return Answer(response.status, data, time.perf_counter() - started)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Answer(None, b"", time.perf_counter() - started, type(error).__name__)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def percentile(values: list[float], share: float) -> float:
    """The ``share`` (0..1) percentile of ``values``, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def no_secrets(text: str, *secrets: str) -> list[str]:
    """The lines of ``text`` holding any of ``secrets`` (empty: none)."""
    return [line for line in text.splitlines() if any(s and s in line for s in secrets)]


def send_all(port: int, requests: list[tuple[str, dict[str, str], dict[str, str]]], *,
             threads: int = 24, token: str = TOKEN,
             on_progress: Callable[[int], None] | None = None) -> tuple[list[Answer], float]:
    """POST each (path, params, headers), signed, from ``threads`` keep-alive connections.

    Requests are signed before the clock starts. Returns the answers in the order of
    ``requests`` and the wall-clock seconds of the sending. ``on_progress(done)`` (if given)
    is called by the sending threads after each answer.
    """
    import threading

    signer = Sender(port, token)
    prepared = [signer.prepare(path, params, headers) for path, params, headers in requests]
    answers: list[Answer | None] = [None] * len(prepared)
    lock = threading.Lock()
    position = 0
    done = 0

    def work() -> None:
        nonlocal position, done
        sender = Sender(port, token)
        try:
            while True:
                with lock:
                    index = position
                    position += 1
                if index >= len(prepared):
                    return
                answers[index] = sender.send(*prepared[index])
                with lock:
                    done += 1
                    count = done
                if on_progress is not None:
                    on_progress(count)
        finally:
            sender.close()

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(600)
    elapsed = time.perf_counter() - started
    assert all(a is not None for a in answers), "a sending thread did not finish"
    return answers, elapsed  # type: ignore[return-value]


def send_at(port: int, schedule: list[float],
            requests: list[tuple[str, dict[str, str], dict[str, str]]], *,
            token: str = TOKEN) -> list[Answer]:
    """POST each (path, params, headers), signed, at its time in ``schedule`` (seconds from
    now), each from a thread and connection of its own, so that a slow answer holds back no
    other request. Returns the answers in the order of ``requests``."""
    answers: list[Answer | None] = [None] * len(requests)
    start = time.monotonic()

    def send(index: int) -> None:
        time.sleep(max(0.0, start + schedule[index] - time.monotonic()))
        path, params, headers = requests[index]
        sender = Sender(port, token, timeout=60)
        try:
            answers[index] = sender.post(path, params, headers)
        finally:
            sender.close()

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(schedule, default=0) + 120)
    assert all(answer is not None for answer in answers), "a sending thread did not finish"
    return answers  # type: ignore[return-value]


def rate_figures(answers: list[Answer], elapsed: float) -> str:
    """``N requests in S s: R req/s, p50 .. ms, p99 .. ms, max .. ms``."""
    latencies = [a.seconds * 1000 for a in answers]
    return (
        f"{len(answers)} requests in {elapsed:.1f} s: {len(answers) / elapsed:.0f} req/s, "
        f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.0f} ms"
    )


class HangingServer:
    """A TCP server on 127.0.0.1 that hangs: it accepts connections and never answers, as a
    database host that froze (or a firewall that drops what it lets in) does.

    With a ``target``, it forwards every connection there until :meth:`hang`; from then on
    what is sent either way is dropped, on the connections open and on new ones, until
    :meth:`resume` (new connections are forwarded again; those open when it hung stay dead).
    """

    def __init__(self, target: tuple[str, int] | None = None) -> None:
        self.target = target
        self.hung = target is None
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._dead: set[int] = set()  # ids of connections open when it hung
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> HangingServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def hang(self) -> None:
        with self._lock:
            self.hung = True

    def resume(self) -> None:
        with self._lock:
            self.hung = False

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
                hung = self.hung
            if hung or self.target is None:
                continue  # kept open, never read, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.append(upstream)
            link = id(client)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst, link), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, link: int) -> None:
        try:
            while data := src.recv(65536):
                with self._lock:
                    if self.hung:
                        self._dead.add(link)
                    dead = link in self._dead
                if not dead:
                    dst.sendall(data)
        except OSError:
            pass
