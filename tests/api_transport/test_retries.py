"""The retry policy on the wire: what is sent again and what never is."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
import requests.adapters
from urllib3 import PoolManager
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Retry

from switchboard.api import (
    TwilioClient,
    TwilioConnectionError,
    TwilioHTTPError,
    TwilioRetry,
    connections,
    retry_policy,
)
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, StubServer, fast_retries
from tests.conftest import free_port

CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
ERROR = {"code": 20500, "message": "An internal server error has occurred"}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_retried_on_retryable_statuses(
    client: TwilioClient, stub: StubServer, status: int
) -> None:
    stub.reply(status, ERROR)
    stub.reply(200, {"calls": []})
    assert client.request("GET", CALLS) == {"calls": []}
    assert [r.method for r in stub.received] == ["GET", "GET"]


def test_delete_retried_on_503(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(503, ERROR)
    stub.reply(204)
    assert client.request("DELETE", CALLS) is None
    assert len(stub.received) == 2


def test_get_gives_up_with_the_last_error_body(client: TwilioClient, stub: StubServer) -> None:
    for _ in range(3):
        stub.reply(503, {"code": 20503, "message": "Service unavailable"})
    with pytest.raises(TwilioHTTPError) as info:
        client.request("GET", CALLS)
    assert (info.value.status, info.value.code) == (503, 20503)
    assert len(stub.received) == 3  # the first try and 2 retries


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_answered_with_a_server_error_is_not_repeated(
    client: TwilioClient, stub: StubServer, status: int
) -> None:
    stub.reply(status, ERROR)
    with pytest.raises(TwilioHTTPError) as info:
        client.request("POST", CALLS, data={"To": "+14155550100"})
    assert info.value.status == status
    assert len(stub.received) == 1


def test_post_retried_on_429(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(429, {"code": 20429, "message": "Too Many Requests"})
    stub.reply(201, {"sid": "CA" + "2" * 32})
    assert client.request("POST", CALLS, data={"To": "+14155550100"})["sid"].startswith("CA")
    assert [r.form for r in stub.received] == [{"To": ["+14155550100"]}] * 2


def test_post_whose_connection_drops_is_not_repeated(
    client: TwilioClient, stub: StubServer
) -> None:
    stub.reply(drop=True)
    with pytest.raises(TwilioConnectionError):
        client.request("POST", CALLS, data={"To": "+14155550100"})
    assert len(stub.received) == 1


def test_get_whose_connection_drops_is_retried(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(drop=True)
    stub.reply(200, {"ok": True})
    assert client.request("GET", CALLS) == {"ok": True}
    assert len(stub.received) == 2


def test_post_read_timeout_is_not_repeated(stub: StubServer) -> None:
    stub.reply(201, {}, delay=5)
    with (
        TwilioClient(
            ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, timeout=(1, 0.1), retries=fast_retries()
        ) as c,
        pytest.raises(Exception, match="timed out"),
    ):
        c.request("POST", CALLS, data={"To": "+14155550100"})
    assert len(stub.received) == 1


def test_retry_after_is_honoured(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(429, {"code": 20429, "message": "Too Many Requests"}, headers={"Retry-After": "1"})
    stub.reply(201, {"sid": "CA" + "3" * 32})
    started = time.monotonic()
    client.request("POST", CALLS, data={"To": "+14155550100"})
    waited = time.monotonic() - started
    assert len(stub.received) == 2
    assert 0.9 <= waited < 3


def test_decimal_retry_after_is_honoured(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(429, {"code": 20429, "message": "Too Many Requests"}, headers={"Retry-After": "0.3"})
    stub.reply(200, {"calls": []})
    started = time.monotonic()
    assert client.request("GET", CALLS) == {"calls": []}
    assert len(stub.received) == 2
    assert 0.25 <= time.monotonic() - started < 2


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_unreadable_retry_after_is_refused(value: str) -> None:
    from urllib3.exceptions import InvalidHeader

    with pytest.raises(InvalidHeader):
        retry_policy().parse_retry_after(value)


def test_retry_after_is_capped(stub: StubServer) -> None:
    stub.reply(503, ERROR, headers={"Retry-After": "3600"})
    stub.reply(200, {})
    with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=fast_retries(retry_after_max=0.05)
    ) as c:
        started = time.monotonic()
        c.request("GET", CALLS)
        assert time.monotonic() - started < 1


def test_connection_refused_is_retried_for_post(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=url, retries=fast_retries(2)) as c,
        pytest.raises(TwilioConnectionError) as info,
    ):
        c.request("POST", CALLS, data={"To": "+14155550100"})
    assert str(info.value).endswith("Connection refused (retries exhausted)")
    retried = [r for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(retried) == 2


def test_retries_zero_sends_once(stub: StubServer) -> None:
    stub.reply(503, ERROR)
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=0) as c,
        pytest.raises(TwilioHTTPError),
    ):
        c.request("GET", CALLS)
    assert len(stub.received) == 1


def test_a_urllib3_retry_is_used_as_given(stub: StubServer) -> None:
    from urllib3.util import Retry

    for _ in range(3):
        stub.reply(500, ERROR)
    policy = Retry(total=1, status_forcelist=[500], backoff_factor=0)
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=policy) as c,
        pytest.raises(TwilioHTTPError) as info,  # not urllib3's MaxRetryError
    ):
        c.request("GET", CALLS)
    assert info.value.status == 500
    assert len(stub.received) == 2


def test_default_policy() -> None:
    policy = retry_policy()
    assert isinstance(policy, TwilioRetry)
    assert (policy.total, policy.connect, policy.read, policy.status) == (3, 3, 3, 3)
    assert policy.raise_on_status is False
    assert policy.respect_retry_after_header is True
    assert policy.backoff_jitter > 0
    assert policy.is_retry("POST", 429)
    assert not policy.is_retry("POST", 503)
    assert policy.is_retry("GET", 503)
    assert not policy.is_retry("GET", 400)
    assert policy.increment("GET", "/x").retry_after_max == policy.retry_after_max


def test_backoff_grows_and_is_capped() -> None:
    policy = retry_policy(10, backoff_factor=0.5, backoff_max=3, backoff_jitter=0)
    waits = []
    for _ in range(6):
        policy = policy.increment("GET", "/x")
        waits.append(policy.get_backoff_time())
    assert waits == [0, 1.0, 2.0, 3, 3, 3]


def test_connect_timeout_is_retried_for_post(
    unanswered_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from switchboard.api import TwilioTimeout

    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    with (
        TwilioClient(
            ACCOUNT_SID,
            AUTH_TOKEN,
            base_url=unanswered_url,
            timeout=(0.1, 1),
            retries=fast_retries(2),
        ) as c,
        pytest.raises(TwilioTimeout) as info,
    ):
        c.request("POST", CALLS, data={"To": "+14155550100"})
    assert info.value.phase == "connect"
    assert str(info.value).startswith("timed out after 0.1 s connecting to 127.0.0.1:")
    retried = [r for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(retried) == 2


# -- a keep-alive connection the server closed as the request went out ----------------------


class KeepAliveServer:
    """A keep-alive server on 127.0.0.1 whose connections expire after ``idle`` seconds
    without a request. It notices the expiry only when the next request arrives, as a client
    does when the server's FIN is still on the way: that request is then never read (the
    socket is closed with it unread, and the kernel answers with a reset)."""

    def __init__(self, idle: float) -> None:
        self.idle = idle
        self.connections = 0
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            last = None
            while data := conn.recv(65536):
                if last is not None and time.monotonic() - last > self.idle:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # expired: the request is not read
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head.split(b" ")[0].decode())
                answer = b'{"sid": "SM' + b"0" * 32 + b'"}'
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
                last = time.monotonic()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def keep_alive(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeepAliveServer]:
    """A server with a 0.3 s keep-alive timeout; the client's limit scaled down to 0.15 s."""
    monkeypatch.setattr(connections, "WRITE_IDLE_LIMIT", 0.15)
    server = KeepAliveServer(idle=0.3)
    yield server
    server.close()


def _send(client: TwilioClient) -> dict:
    return client.messages.create("+14155550100", from_="+14155550101", body="hi")


def test_a_post_after_the_keep_alive_timeout_goes_on_a_new_connection(
    keep_alive: KeepAliveServer,
) -> None:
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=keep_alive.url) as client:
        client.accounts.get()
        time.sleep(0.5)  # the server's keep-alive timer has fired; its close is not seen yet
        assert _send(client)["sid"].startswith("SM")
    assert keep_alive.requests == ["GET", "POST"]
    assert keep_alive.connections == 2


def test_requests_in_quick_succession_share_a_connection(keep_alive: KeepAliveServer) -> None:
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=keep_alive.url) as client:
        for _ in range(5):
            _send(client)
        client.accounts.get()
    assert keep_alive.requests == ["POST"] * 5 + ["GET"]
    assert keep_alive.connections == 1


def test_a_get_on_an_expired_connection_is_sent_again(keep_alive: KeepAliveServer) -> None:
    """A GET keeps its connection, and is retried when the server had closed it."""
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=keep_alive.url,
                      retries=fast_retries()) as client:
        client.accounts.get()
        time.sleep(0.5)
        client.accounts.get()
    assert keep_alive.requests == ["GET", "GET"]
    assert keep_alive.connections == 2


def test_a_post_whose_connection_resets_is_still_not_repeated(
    keep_alive: KeepAliveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the limit above the server's timeout, the POST meets the expired connection: it
    fails, and is not sent again (the client cannot tell that it was never read)."""
    monkeypatch.setattr(connections, "WRITE_IDLE_LIMIT", 60.0)
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=keep_alive.url) as client:
        client.accounts.get()
        time.sleep(0.5)
        with pytest.raises(TwilioConnectionError):
            _send(client)
    assert keep_alive.requests == ["GET"]


def test_a_connection_error_says_whether_a_connection_was_made(stub: StubServer) -> None:
    """``connected`` is False only when nothing could have been sent (refused)."""
    url = f"http://127.0.0.1:{free_port()}"
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=url, retries=0) as client,
        pytest.raises(TwilioConnectionError) as refused,
    ):
        client.request("POST", CALLS, data={"To": "+14155550100"})
    assert refused.value.connected is False
    stub.reply(drop=True)
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, retries=0) as client,
        pytest.raises(TwilioConnectionError) as dropped,
    ):
        client.request("POST", CALLS, data={"To": "+14155550100"})
    assert dropped.value.connected is True


class _SocksPool(HTTPConnectionPool):
    """Stands for urllib3's SOCKS pool, whose connections go through the SOCKS proxy."""


class _SocksManager(PoolManager):
    """Stands for urllib3's SOCKSProxyManager (PySocks is not installed here)."""

    def __init__(self, proxy_url: str, username: str | None = None,
                 password: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.proxy_url = proxy_url
        self.pool_classes_by_scheme = {"http": _SocksPool, "https": _SocksPool}


def test_a_socks_proxy_keeps_its_own_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a SOCKS proxy the pools are still the SOCKS ones (which connect through the
    proxy), with the idle limit on top: plain pools would connect around the proxy."""
    monkeypatch.setattr(requests.adapters, "SOCKSProxyManager", _SocksManager)
    adapter = connections.PoolAdapter()
    manager = adapter.proxy_manager_for("socks5h://127.0.0.1:1080")
    for scheme in ("http", "https"):
        pool_class = manager.pool_classes_by_scheme[scheme]
        assert issubclass(pool_class, _SocksPool)
        assert issubclass(pool_class, connections.fresh_pool_class(_SocksPool))
    pool = manager.connection_from_url("http://127.0.0.1:9/")
    assert isinstance(pool, _SocksPool)
    adapter.close()


def test_direct_and_http_proxy_pools_limit_idle_writes() -> None:
    adapter = connections.PoolAdapter()
    assert adapter.poolmanager.pool_classes_by_scheme == connections.POOL_CLASSES
    proxy = adapter.proxy_manager_for("http://127.0.0.1:3128")
    assert proxy.pool_classes_by_scheme == connections.POOL_CLASSES
    assert issubclass(connections.POOL_CLASSES["https"], HTTPSConnectionPool)
    adapter.close()


def test_a_get_without_retries_does_not_meet_an_expired_connection(
    keep_alive: KeepAliveServer,
) -> None:
    """With retries off, a GET would not be sent again either: it gets a new connection."""
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=keep_alive.url, retries=0) as client:
        client.accounts.get()
        time.sleep(0.5)
        client.accounts.get()
    assert keep_alive.requests == ["GET", "GET"]
    assert keep_alive.connections == 2


def test_a_retried_get_does_not_meet_a_second_expired_connection(
    keep_alive: KeepAliveServer,
) -> None:
    """Two idle connections, one read retry: the first try meets one expired connection and
    is sent again, on a new connection (urllib3 puts the broken one back as an empty slot on
    top of its LIFO queue), not on the other expired one."""
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=keep_alive.url,
                      retries=fast_retries(1)) as client:
        with client.request("GET", CALLS, stream=True):  # holds its connection
            client.accounts.get()  # on a second one
        assert keep_alive.connections == 2
        time.sleep(0.5)
        client.accounts.get()
    assert keep_alive.requests == ["GET"] * 3
    assert keep_alive.connections == 3


def test_a_post_a_plain_retry_sends_again_keeps_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A urllib3 Retry that sends a POST again lets it use an idle connection."""
    monkeypatch.setattr(connections, "WRITE_IDLE_LIMIT", 0.15)
    server = KeepAliveServer(idle=60)
    retry = Retry(total=2, allowed_methods=None, backoff_factor=0)
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=server.url, retries=retry) as client:
        _send(client)
        time.sleep(0.3)
        _send(client)
    server.close()
    assert server.requests == ["POST", "POST"]
    assert server.connections == 1


@pytest.mark.parametrize(
    ("retry", "method", "resends"),
    [
        (retry_policy(), "GET", True),
        (retry_policy(), "post", False),
        (retry_policy(0), "GET", False),
        (Retry(False), "GET", False),
        (Retry(total=3, read=0), "GET", False),
        (Retry(total=None, read=None, allowed_methods=None), "POST", True),
        (Retry(total=0, read=5), "GET", False),
    ],
)
def test_which_requests_are_sent_again(retry: Retry, method: str, resends: bool) -> None:
    assert connections.resends_lost_requests(retry, method) is resends
