"""A JSON answer cut short mid-body: an idempotent request is sent again as the retry policy
allows for a broken read; a ``POST`` never is."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from switchboard.api import TwilioClient, TwilioConnectionError
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, fast_retries

CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
WHOLE = b'{"calls": [], "next_page_uri": null}'


class CuttingServer:
    """Answers the first ``cuts`` requests with part of a JSON body then a closed
    connection, the rest with the whole body; counts the requests."""

    def __init__(self, cuts: int) -> None:
        self.cuts = cuts
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                self.requests += 1
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                if self.requests <= self.cuts:
                    conn.sendall(head + b"Content-Length: 1000\r\n\r\n" + WHOLE[:10])
                else:
                    conn.sendall(head + f"Content-Length: {len(WHOLE)}\r\n\r\n".encode() + WHOLE)


@pytest.fixture
def cutting() -> Iterator[CuttingServer]:
    server = CuttingServer(cuts=1)
    server.thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.thread.join(5)
        server.listener.close()


def client_for(server: CuttingServer, retries: int) -> TwilioClient:
    return TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=server.url, timeout=(1, 2), retries=fast_retries(retries)
    )


def test_a_get_cut_short_is_sent_again(cutting: CuttingServer) -> None:
    with client_for(cutting, 2) as client:
        assert client.request("GET", CALLS) == {"calls": [], "next_page_uri": None}
    assert cutting.requests == 2


def test_a_get_cut_short_every_time_is_a_connection_error(cutting: CuttingServer) -> None:
    cutting.cuts = 10
    with client_for(cutting, 2) as client, pytest.raises(TwilioConnectionError) as caught:
        client.request("GET", CALLS)
    assert cutting.requests == 3
    assert caught.value.connected


def test_a_get_cut_short_without_retries_is_sent_once(cutting: CuttingServer) -> None:
    with client_for(cutting, 0) as client, pytest.raises(TwilioConnectionError):
        client.request("GET", CALLS)
    assert cutting.requests == 1


def test_a_post_cut_short_is_not_sent_again(cutting: CuttingServer) -> None:
    with client_for(cutting, 2) as client, pytest.raises(TwilioConnectionError):
        client.request("POST", CALLS, data={"To": "+14155550100"})
    assert cutting.requests == 1
