"""A JSON answer cut short mid-body: an idempotent request is sent again as the retry policy
allows for a broken read; a ``POST`` never is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard.api import TwilioClient, TwilioConnectionError
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, fast_retries
from tests.cutting_server import CuttingServer

CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


@pytest.fixture
def cutting() -> Iterator[CuttingServer]:
    with CuttingServer(cuts=1) as server:
        yield server


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
