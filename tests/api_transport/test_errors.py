"""Each way a request can fail, and how it reads."""

from __future__ import annotations

import pytest

from switchboard.api import (
    TwilioClient,
    TwilioConnectionError,
    TwilioError,
    TwilioHTTPError,
    TwilioInvalidResponse,
    TwilioTimeout,
    ValidationError,
)
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, StubServer
from tests.conftest import free_port

CALL_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/CA{'1' * 32}.json"


def test_twilio_error_body(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(
        404,
        {
            "code": 20404,
            "message": "The requested resource was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": 404,
        },
        headers={"Twilio-Request-Id": "RQ123"},
    )
    with pytest.raises(TwilioHTTPError) as info:
        client.request("GET", CALL_PATH)
    err = info.value
    assert (err.status, err.code, err.method) == (404, 20404, "GET")
    assert err.message == "The requested resource was not found"
    assert err.more_info == "https://www.twilio.com/docs/errors/20404"
    assert err.url == stub.url + CALL_PATH
    assert err.request_id == "RQ123"
    assert str(err) == (
        f"HTTP 404 from GET {CALL_PATH}: The requested resource was not found "
        "(Twilio error 20404, https://www.twilio.com/docs/errors/20404)"
    )
    assert isinstance(err, TwilioError)


def test_error_without_a_twilio_body_uses_the_reason(
    client: TwilioClient, stub: StubServer
) -> None:
    stub.reply(400, {"status": 400})
    with pytest.raises(TwilioHTTPError) as info:
        client.request("POST", "/2010-04-01/x.json", data={"A": "b"})
    assert info.value.code is None
    assert str(info.value) == "HTTP 400 from POST /2010-04-01/x.json: Bad Request"


def test_non_json_error_body(client: TwilioClient, stub: StubServer) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>" + b" " * 5000
    stub.reply(502, body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    stub.reply(502, body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    stub.reply(502, body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    with pytest.raises(TwilioInvalidResponse) as info:
        client.request("GET", "/2010-04-01/x.json")
    err = info.value
    assert err.status == 502
    assert isinstance(err, TwilioHTTPError)
    assert err.snippet.startswith("<html><body><h1>502 Bad Gateway</h1> <p>nginx</p>")
    assert len(err.snippet) <= 200
    text = str(err)
    assert text.startswith("HTTP 502 from GET /2010-04-01/x.json: the body is not JSON (text/html,")
    assert len(text) < 400


def test_non_json_success_body(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(200, body=b"<Response/>", headers={"Content-Type": "application/xml"})
    with pytest.raises(TwilioInvalidResponse, match=r"not JSON \(application/xml, 11 bytes\)"):
        client.request("GET", "/2010-04-01/x.json")


def test_read_timeout(stub: StubServer) -> None:
    stub.reply(200, {}, delay=5)
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, timeout=(1, 0.2), retries=0) as c,
        pytest.raises(TwilioTimeout) as info,
    ):
        c.request("POST", "/2010-04-01/x.json", data={"A": "1"})
    assert info.value.phase == "read"
    assert str(info.value).startswith(
        "timed out after 0.2 s waiting for the answer to POST /2010-04-01/x.json from 127.0.0.1:"
    )


def test_read_timeout_after_retries_is_still_a_timeout(stub: StubServer) -> None:
    for _ in range(3):
        stub.reply(200, {}, delay=5)
    retries = __import__("api").retry_policy(1, backoff_factor=0, backoff_jitter=0)
    with (
        TwilioClient(
            ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, timeout=(1, 0.1), retries=retries
        ) as c,
        pytest.raises(TwilioTimeout),
    ):
        c.request("GET", "/2010-04-01/x.json")
    assert len(stub.received) == 2


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=url, retries=0) as c,
        pytest.raises(TwilioConnectionError) as info,
    ):
        c.request("GET", "/2010-04-01/x.json")
    err = info.value
    assert err.host == url.removeprefix("http://")
    assert str(err) == (
        f"could not reach {err.host} for GET /2010-04-01/x.json: Connection refused"
    )


def test_dropped_connection(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(drop=True)
    with pytest.raises(TwilioConnectionError, match="RemoteDisconnected"):
        client.request("POST", "/2010-04-01/x.json", data={"A": "1"})


def test_validation_error_is_a_value_error_and_a_twilio_error() -> None:
    err = ValidationError("to", "'+1' is not an E.164 number")
    assert isinstance(err, ValueError)
    assert isinstance(err, TwilioError)
    assert str(err) == "to: '+1' is not an E.164 number"
    assert err.argument == "to"


def test_errors_survive_pickling() -> None:
    import pickle

    errors = [
        TwilioHTTPError(404, 20404, "Not found", "https://x", "GET", "https://h/2010-04-01/a.json"),
        TwilioInvalidResponse(
            502, "GET", "https://h/a.json", body=b"<html>", content_type="text/html"
        ),
        TwilioTimeout("POST", "https://h/a.json", phase="read", seconds=30.0),
        TwilioConnectionError("POST", "https://h/a.json", reason="Connection refused"),
        ValidationError("to", "'+1' is not an E.164 number"),
    ]
    for err in errors:
        copy = pickle.loads(pickle.dumps(err))  # noqa: S301 (our own bytes)
        assert type(copy) is type(err)
        assert str(copy) == str(err)
        assert vars(copy) == vars(err)


def test_urls_in_errors_lose_any_user_info() -> None:
    err = TwilioHTTPError(401, 20003, "Authenticate", None, "GET", "https://AC1:tok@h/a.json")
    assert err.url == "https://h/a.json"
    assert "tok" not in repr(err)
