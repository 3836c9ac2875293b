"""The retry policy on the wire: what is sent again and what never is."""

from __future__ import annotations

import logging
import time

import pytest

from api import TwilioClient, TwilioConnectionError, TwilioHTTPError, TwilioRetry, retry_policy
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
    from api import TwilioTimeout

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
