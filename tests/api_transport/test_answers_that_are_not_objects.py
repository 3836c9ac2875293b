"""Twilio's 404 is a ``ResourceNotFound``; an error body that is JSON but not an object is
reported as such."""

from __future__ import annotations

import pytest

from switchboard.api import (
    ResourceNotFound,
    TwilioClient,
    TwilioHTTPError,
    TwilioInvalidResponse,
    TwilioNotFound,
)
from tests.api_transport.conftest import ACCOUNT_SID, StubServer

CALL_SID = "CA" + "1" * 32
CALL_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}.json"
NOT_FOUND = {
    "code": 20404,
    "message": "The requested resource was not found",
    "more_info": "https://www.twilio.com/docs/errors/20404",
    "status": 404,
}


def test_a_404_is_a_resource_not_found_with_twilios_error(
    client: TwilioClient, stub: StubServer
) -> None:
    stub.reply(404, NOT_FOUND)
    with pytest.raises(ResourceNotFound) as caught:
        client.calls.get(CALL_SID)
    error = caught.value
    assert isinstance(error, TwilioNotFound)
    assert isinstance(error, TwilioHTTPError)
    assert isinstance(error, LookupError)
    assert (error.status, error.code, error.more_info) == (404, 20404, NOT_FOUND["more_info"])
    assert error.message == NOT_FOUND["message"]
    assert error.path == CALL_PATH


@pytest.mark.parametrize("status", [400, 401, 409, 500])
def test_other_statuses_are_not_resource_not_found(
    client: TwilioClient, stub: StubServer, status: int
) -> None:
    stub.reply(status, {"code": 20001, "message": "no", "status": status})
    with pytest.raises(TwilioHTTPError) as caught:
        client.request("POST", CALL_PATH, data={"Status": "completed"})
    assert not isinstance(caught.value, ResourceNotFound)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"busy"', b"null", b"42"])
def test_a_json_error_body_that_is_not_an_object_says_so(
    client: TwilioClient, stub: StubServer, body: bytes
) -> None:
    stub.reply(400, body=body)
    with pytest.raises(TwilioInvalidResponse) as caught:
        client.request("POST", CALL_PATH, data={"Status": "completed"})
    assert caught.value.status == 400
    assert "the body is JSON but not an object (application/json" in caught.value.message
    assert "not JSON (" not in caught.value.message


def test_a_non_json_error_body_is_still_not_json(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(502, body=b"<html>Bad Gateway</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(TwilioInvalidResponse, match=r"the body is not JSON \(text/html"):
        client.request("POST", CALL_PATH, data={"Status": "completed"})
