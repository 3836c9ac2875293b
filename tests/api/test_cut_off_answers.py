"""An answer cut off mid-body, still cut off once the client's resends are spent: a
:class:`TwilioConnectionError` that says so (the host was reached and answered; its body
broke off after so many bytes), never that the host could not be reached. A body that stops
coming is a read timeout."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from switchboard.api import TwilioClient, TwilioConnectionError, TwilioTimeout
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.cutting_server import START, CuttingServer

CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


@pytest.fixture
def cutting() -> Iterator[CuttingServer]:
    with CuttingServer() as server:
        yield server


def client_for(server: CuttingServer, retries: int) -> TwilioClient:
    return TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=server.url, timeout=(2, 5), retries=retries
    )


def test_a_get_cut_off_every_time_says_after_how_many_bytes(cutting: CuttingServer) -> None:
    with client_for(cutting, 2) as client, pytest.raises(TwilioConnectionError) as caught:
        client.request("GET", CALLS)
    error = caught.value
    assert cutting.requests == 3
    assert (error.cut, error.connected, error.attempts) == (True, True, 3)
    assert (error.received, error.expected) == (len(START), 1000)
    assert str(error) == (
        f"the answer to GET {CALLS} from {cutting.host} was cut off after {len(START)} of 1000 "
        "bytes (3 attempts): the connection closed before the end of the body"
    )


def test_a_post_cut_off_is_sent_once_and_says_so(cutting: CuttingServer) -> None:
    with client_for(cutting, 2) as client, pytest.raises(TwilioConnectionError) as caught:
        client.request("POST", CALLS, data={"To": "+14155550100"})
    assert cutting.requests == 1
    assert str(caught.value) == (
        f"the answer to POST {CALLS} from {cutting.host} was cut off after {len(START)} of "
        "1000 bytes: the connection closed before the end of the body"
    )


def test_a_reset_mid_body_is_a_cut_off_answer(cutting: CuttingServer) -> None:
    cutting.reset = True
    with client_for(cutting, 0) as client, pytest.raises(TwilioConnectionError) as caught:
        client.request("GET", CALLS)
    error = caught.value
    assert error.cut
    assert str(error).startswith(f"the answer to GET {CALLS} from {cutting.host} was cut off")
    assert "could not reach" not in str(error)


def test_no_answer_at_all_still_could_not_reach() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=url, retries=0)
    with client, pytest.raises(TwilioConnectionError) as caught:
        client.request("GET", CALLS)
    assert (caught.value.cut, caught.value.connected) == (False, False)
    assert str(caught.value).startswith(f"could not reach 127.0.0.1:{url.rsplit(':', 1)[1]} ")


def test_a_body_that_stops_coming_is_a_read_timeout(cutting: CuttingServer) -> None:
    cutting.stall = 1.5
    client = TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=cutting.url, timeout=(2, 0.5), retries=0
    )
    with client, pytest.raises(TwilioTimeout) as caught:
        client.request("GET", CALLS)
    assert (caught.value.phase, caught.value.seconds) == ("read", 0.5)
    assert str(caught.value) == (
        f"timed out after 0.5 s waiting for the answer to GET {CALLS} from {cutting.host}; "
        "check the network or raise the client's timeout"
    )
