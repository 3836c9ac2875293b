"""The shared watchdog that holds every webhook request to its total deadline (15 s at most):
keep-alive connections, a deadline firing as an answer completes, trickling servers."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from switchboard.emulator import webhooks
from switchboard.emulator.webhooks import HTTP_TOTAL_TIMEOUT, WebhookClient

PARAMS = {"CallSid": "CA1234567890ABCDE", "From": "+12349013030", "To": "+18005551212"}


class KeepAlive(http.server.BaseHTTPRequestHandler):
    """Answers on persistent (HTTP/1.1) connections; ``/slow`` waits before answering."""

    protocol_version = "HTTP/1.1"
    arrived: threading.Event
    ports: list[tuple[str, int]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.ports.append((self.path, self.client_address[1]))
        if self.path.startswith("/slow"):
            self.arrived.set()
            time.sleep(0.5)
        body = b"<Response><Say>Hi</Say></Response>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def keep_alive() -> Iterator[http.server.ThreadingHTTPServer]:
    handler = type("Handler", (KeepAlive,), {"arrived": threading.Event(), "ports": []})
    yield from _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler))


def test_a_deadline_firing_as_an_answer_completes_spares_the_next_request(
    keep_alive, monkeypatch
) -> None:
    """The watchdog takes a request's socket and shuts it under one hold of its lock: shut after
    letting go, the socket may by then be back in the pool with its answer read, and the next
    request using it (another webhook of the call) would fail with 11205."""
    handler = keep_alive.RequestHandlerClass
    base = f"http://127.0.0.1:{keep_alive.server_port}"
    shut, release = webhooks._shut, webhooks._WATCHDOG.release
    late: list[bool] = []

    def slow_shut(sock) -> None:  # the watchdog thread, just after it let go of its lock
        handler.arrived.wait(3)
        shut(sock)

    def slow_release(watch) -> None:  # the first request finishes just after its deadline
        if watch is not None and not late:
            end = time.monotonic() + 3
            while not watch.cut and time.monotonic() < end:
                time.sleep(0.005)
            late.append(watch.cut)
        release(watch)

    monkeypatch.setattr(webhooks, "_shut", slow_shut)
    monkeypatch.setattr(webhooks._WATCHDOG, "release", slow_release)
    client = WebhookClient()
    first = client.fetch(base + "/voice#tt=400", PARAMS, auth_token="t")
    second = client.fetch(base + "/slow#rc=0", PARAMS, auth_token="t")
    assert late == [True]
    assert first.ok
    assert second.ok, second.error_message
    assert second.text == "<Response><Say>Hi</Say></Response>"
    [(_, one), (_, two)] = handler.ports
    assert one == two  # the kept-alive connection was reused, and not shut under it


class Trickle(http.server.BaseHTTPRequestHandler):
    """``/trickle`` sends its headers, then a byte every 0.1 s for ever; ``/silent`` never
    answers; anything else answers at once."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/silent"):
            time.sleep(3)
            return
        trickle = self.path.startswith("/trickle")
        body = b"<Response><Say>Hi</Say></Response>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", "100000" if trickle else str(len(body)))
        self.end_headers()
        try:
            if not trickle:
                self.wfile.write(body)
                return
            for _ in range(60):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


class Backlogged(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # 200 callers connect at once


def _serve(server: http.server.ThreadingHTTPServer) -> Iterator[http.server.ThreadingHTTPServer]:
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trickling() -> Iterator[http.server.ThreadingHTTPServer]:
    yield from _serve(Backlogged(("127.0.0.1", 0), Trickle))


@pytest.mark.parametrize("path", ["/trickle", "/silent"])
def test_a_slow_server_is_cut_at_the_deadline_and_the_client_goes_on(trickling, path) -> None:
    base = f"http://127.0.0.1:{trickling.server_port}"
    client = WebhookClient()
    started = time.monotonic()
    cut = client.fetch(base + path + "#tt=600&rc=0", PARAMS, auth_token="t")
    assert time.monotonic() - started < 2.5
    assert cut.error_code == HTTP_TOTAL_TIMEOUT
    after = client.fetch(base + "/voice#rc=0", PARAMS, auth_token="t")
    assert after.ok, after.error_message


def test_two_hundred_callers_share_one_daemon_watchdog(trickling) -> None:
    base = f"http://127.0.0.1:{trickling.server_port}"
    results: list[int | None] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        path = "/trickle#tt=1500" if index % 2 else "/voice#tt=10000"
        result = WebhookClient().fetch(f"{base}{path}&rc=0", PARAMS, auth_token="t")
        with lock:
            results.append(result.error_code)

    callers = [threading.Thread(target=call, args=(i,)) for i in range(200)]
    started = time.monotonic()
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(20)
    assert time.monotonic() - started < 15
    assert sorted(results, key=str) == [HTTP_TOTAL_TIMEOUT] * 100 + [None] * 100
    [watchdog] = [t for t in threading.enumerate() if t.name == "webhook-deadlines"]
    assert watchdog.daemon  # never holds the emulator's exit


def _certificate(tmp_path) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


def test_https_trickle_is_cut_and_the_kept_alive_connection_reused(tmp_path, monkeypatch
                                                                   ) -> None:
    cert, key = _certificate(tmp_path)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would win over verify=cert
        monkeypatch.delenv(name, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for running in _serve(server):
        session = requests.Session()
        session.verify = cert
        client = WebhookClient(session)
        base = f"https://127.0.0.1:{running.server_port}"
        assert client.fetch(base + "/voice#rc=0", PARAMS, auth_token="t").ok
        started = time.monotonic()
        cut = client.fetch(base + "/trickle#tt=600&rc=0", PARAMS, auth_token="t")
        assert time.monotonic() - started < 2.5
        assert cut.error_code == HTTP_TOTAL_TIMEOUT
        after = client.fetch(base + "/voice#rc=0", PARAMS, auth_token="t")
        assert after.ok, after.error_message
