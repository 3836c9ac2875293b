"""The error code Twilio logs for each way a webhook can fail to connect: 11202 for a refused
connection, 11201 for a connect timeout, 11203 when the total time runs out, 11220 and
11235-11237 for a TLS handshake or certificate Twilio refuses; 11205 for what is left (a read
timeout within the total time). The code is what the request, the transcript, the debugger's
notification and the fallback URL's ``ErrorCode`` carry."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from switchboard.emulator.webhooks import (
    CERTIFICATE_DOMAIN_MISMATCH,
    CERTIFICATE_EXPIRED,
    CERTIFICATE_UNTRUSTED,
    HTTP_CONNECTION_FAILURE,
    HTTP_TOTAL_TIMEOUT,
    TCP_CONNECT_TIMEOUT,
    TCP_CONNECTION_REFUSED,
    TLS_HANDSHAKE_ERROR,
    WebhookClient,
)
from tests.conftest import free_port
from tests.emulator_caller.conftest import CALLER, NUMBER, twiml

PARAMS = {"CallSid": "CA1234567890ABCDE", "From": "+12349013030", "To": "+18005551212"}


@pytest.fixture
def silent(hooks) -> Iterator[str]:
    """The URL of a hook that answers nothing until the test is over."""
    release = threading.Event()
    hooks.on("/silent", lambda _request: release.wait(10) and twiml())
    yield hooks.url("/silent")
    release.set()


def test_a_refused_connection_is_11202_after_the_retry() -> None:
    result = WebhookClient().fetch(f"http://127.0.0.1:{free_port()}/voice", PARAMS,
                                   auth_token="t")
    assert result.error_code == TCP_CONNECTION_REFUSED
    assert result.error_message.startswith("TCP connection refused")
    assert len(result.exchanges) == 2  # rp=ct: Twilio tries to connect twice


def test_no_answer_within_the_total_time_is_11203(silent) -> None:
    result = WebhookClient().fetch(silent + "#tt=300", PARAMS, auth_token="t")
    assert result.error_code == HTTP_TOTAL_TIMEOUT
    assert result.error_message.startswith("HTTP communication total time out triggered")


def test_no_answer_within_the_emulators_own_limit_is_11203(silent) -> None:
    result = WebhookClient(max_total=0.3).fetch(silent, PARAMS, auth_token="t")
    assert result.error_code == HTTP_TOTAL_TIMEOUT


def test_retries_stopped_by_the_total_time_are_11203(silent) -> None:
    result = WebhookClient().fetch(silent + "#rt=200&tt=500&rc=5&rp=rt", PARAMS, auth_token="t")
    assert result.error_code == HTTP_TOTAL_TIMEOUT
    assert 1 < len(result.exchanges) < 6


def test_a_read_timeout_within_the_total_time_stays_11205(silent) -> None:
    result = WebhookClient().fetch(silent + "#rt=200", PARAMS, auth_token="t")
    assert result.error_code == HTTP_CONNECTION_FAILURE


@pytest.fixture
def unreachable() -> Iterator[str]:
    """A listening port whose backlog is full: the kernel drops new connection attempts, so a
    connect times out instead of being refused."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    waiting: list[socket.socket] = []
    try:
        for _ in range(4):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            waiting.append(client)
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
        except TimeoutError:
            pass
        else:
            pytest.skip("this system accepts connections past a full backlog")
        finally:
            probe.close()
        yield f"http://127.0.0.1:{port}/voice"
    finally:
        for client in waiting:
            client.close()
        listener.close()


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs at a full "
                    "backlog")
def test_a_connect_timeout_is_11201(unreachable) -> None:
    result = WebhookClient().fetch(unreachable + "#ct=200", PARAMS, auth_token="t")
    assert result.error_code == TCP_CONNECT_TIMEOUT
    assert len(result.exchanges) == 2  # a connect timeout is retried once, as a refusal is


# -- in a call and a text: the transcript, the debugger and the fallback URL -------------------


def test_a_call_to_a_refused_url_logs_11202_and_tells_the_fallback(hooks, phone, state) -> None:
    closed = f"http://127.0.0.1:{free_port()}/voice"
    state.buy_number(state.main_account_sid, NUMBER, voice_url=closed,
                     voice_fallback_url=hooks.url("/fallback"))
    hooks.on("/fallback", twiml("<Say>Sorry</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.error_codes == [TCP_CONNECTION_REFUSED]
    [fallback] = hooks.requests_to("/fallback")
    assert fallback.signature_valid
    assert fallback.params["ErrorCode"] == "11202"
    assert fallback.params["ErrorUrl"] == closed
    [note] = state.list("notifications")
    assert note["error_code"] == "11202"
    assert note["call_sid"] == transcript.sid
    assert phone.report(transcript)[-1] == "Errors (as Twilio's debugger would log them): 11202"


def test_a_call_to_a_server_that_does_not_answer_logs_11203(hooks, phone, state, silent
                                                            ) -> None:
    state.buy_number(state.main_account_sid, NUMBER, voice_url=silent + "#tt=300",
                     voice_fallback_url=hooks.url("/fallback"))
    hooks.on("/fallback", twiml("<Say>Sorry</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.error_codes == [HTTP_TOTAL_TIMEOUT]
    assert hooks.requests_to("/fallback")[0].params["ErrorCode"] == "11203"
    assert [n["error_code"] for n in state.list("notifications")] == ["11203"]
    assert transcript.said == ["Sorry"]


def test_a_text_to_a_refused_url_logs_11202(phone, state) -> None:
    state.buy_number(state.main_account_sid, NUMBER,
                     sms_url=f"http://127.0.0.1:{free_port()}/sms")
    transcript = phone.inbound_sms(NUMBER, CALLER, "hello")
    assert transcript.error_codes == [TCP_CONNECTION_REFUSED]
    assert [n["error_code"] for n in state.list("notifications")] == ["11202"]
    assert transcript.messages == []


# -- TLS ---------------------------------------------------------------------------------------


class _NoContent(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _certificate(directory: Path, *, expired: bool = False) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (valid for a day, or expired yesterday)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key, request = directory / "cert.pem", directory / "key.pem", directory / "cert.csr"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    if expired:
        subprocess.run([openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", *subject,
                        "-keyout", str(key), "-out", str(request)],
                       check=True, capture_output=True)
        subprocess.run([openssl, "x509", "-req", "-in", str(request), "-signkey", str(key),
                        "-days", "-1", "-copy_extensions", "copy", "-out", str(cert)],
                       check=True, capture_output=True)
    else:
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        *subject, "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    return str(cert), str(key)


def _serve(server: http.server.ThreadingHTTPServer) -> Iterator[int]:
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def _https_server(cert: str, key: str) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoContent)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


@pytest.fixture(autouse=True)
def _verify_as_told(monkeypatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would win over verify=cert
        monkeypatch.delenv(name, raising=False)


def _trusting(cert: str) -> WebhookClient:
    session = requests.Session()
    session.verify = cert
    return WebhookClient(session)


def test_a_certificate_from_an_unknown_authority_is_11237(tmp_path) -> None:
    cert, key = _certificate(tmp_path)
    for port in _https_server(cert, key):
        result = WebhookClient().fetch(f"https://127.0.0.1:{port}/voice", PARAMS,
                                       auth_token="t")
        assert result.error_code == CERTIFICATE_UNTRUSTED
        assert _trusting(cert).fetch(f"https://127.0.0.1:{port}/voice", PARAMS,
                                     auth_token="t").ok


def test_a_certificate_for_another_host_is_11235(tmp_path) -> None:
    cert, key = _certificate(tmp_path)
    for port in _https_server(cert, key):
        result = _trusting(cert).fetch(f"https://localhost:{port}/voice", PARAMS,
                                       auth_token="t")
        assert result.error_code == CERTIFICATE_DOMAIN_MISMATCH


def test_an_expired_certificate_is_11236(tmp_path) -> None:
    cert, key = _certificate(tmp_path, expired=True)
    for port in _https_server(cert, key):
        result = _trusting(cert).fetch(f"https://127.0.0.1:{port}/voice", PARAMS,
                                       auth_token="t")
        assert result.error_code == CERTIFICATE_EXPIRED


def test_https_to_a_plain_http_server_is_a_tls_handshake_error_11220() -> None:
    for port in _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoContent)):
        result = WebhookClient().fetch(f"https://127.0.0.1:{port}/voice", PARAMS,
                                       auth_token="t")
        assert result.error_code == TLS_HANDSHAKE_ERROR
