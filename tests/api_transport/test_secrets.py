"""The auth token never shows: not in logs (ours or urllib3's), errors, or reprs."""

from __future__ import annotations

import base64
import logging
import traceback

import pytest

from switchboard.api import TwilioClient, TwilioError
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, StubServer, fast_retries
from tests.conftest import free_port

HEADER = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()


def assert_clean(text: str) -> None:
    assert AUTH_TOKEN not in text
    assert HEADER not in text
    assert "Basic " not in text


def test_logs_at_debug_name_the_request_and_never_the_secret(
    client: TwilioClient, stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    stub.reply(503, {"message": "busy"})
    stub.reply(200, {"sid": "CA1"})
    stub.reply(401, {"code": 20003, "message": "Authenticate"})
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    client.request("GET", path, params={"To": "+14155550100"})
    with pytest.raises(TwilioError):
        client.request("POST", path, data={"To": "+14155550100"})
    lines = [record.getMessage() for record in caplog.records]
    ours = [r.getMessage() for r in caplog.records if r.name == "switchboard.api"]
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert len(ours) == 2
    assert ours[0].startswith(f"GET {path} -> 200 in ")
    assert ours[0].endswith(" ms")
    assert ours[1].startswith(f"POST {path} -> 401 in ")
    for line in lines:
        assert_clean(line)


def test_transport_failures_are_logged_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}"
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=url, retries=fast_retries(1)) as c,
        pytest.raises(TwilioError) as info,
    ):
        c.request("POST", "/2010-04-01/x.json", data={"A": "1"})
    ours = [r.getMessage() for r in caplog.records if r.name == "switchboard.api"]
    assert ours[0].startswith("POST /2010-04-01/x.json failed: could not reach 127.0.0.1:")
    for record in caplog.records:
        assert_clean(record.getMessage())
    err = info.value
    assert_clean("".join(traceback.format_exception(err)))
    assert err.__context__ is None
    assert err.__cause__ is None


@pytest.mark.parametrize("status", [400, 401, 500])
def test_http_errors_hold_no_secret(client: TwilioClient, stub: StubServer, status: int) -> None:
    stub.reply(status, {"code": 20003, "message": "Authenticate"})
    with pytest.raises(TwilioError) as info:
        client.request("POST", "/2010-04-01/x.json", data={"A": "1"})
    err = info.value
    assert_clean(str(err) + repr(err) + repr(vars(err)))
    assert_clean("".join(traceback.format_exception(err)))


def test_reprs_hold_no_secret(client: TwilioClient) -> None:
    assert_clean(repr(client))
    assert_clean(repr(vars(client)))
    assert_clean(repr(client._session.auth))
    assert repr(client).startswith(f"<TwilioClient {ACCOUNT_SID} at http://127.0.0.1:")


def test_a_config_secret_is_accepted_and_stays_masked(stub: StubServer) -> None:
    from switchboard.config import Secret

    with TwilioClient(ACCOUNT_SID, Secret(AUTH_TOKEN), base_url=stub.url) as c:
        c.request("GET", "/2010-04-01/x.json")
        assert_clean(repr(vars(c)))
    assert stub.received[0].headers["Authorization"] == f"Basic {HEADER}"
