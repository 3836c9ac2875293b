"""A success answer whose body is JSON but not an object (Twilio's JSON answers always are
objects) is a :class:`TwilioInvalidResponse` at the answer, naming the request and what came
back, never a value that fails later in code that reads its fields; so is a list whose items
are not objects."""

from __future__ import annotations

import pytest

from switchboard.api import TwilioClient, TwilioInvalidResponse
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
CALL = f"{A}/Calls/{sid('CA')}.json"


@pytest.mark.parametrize(
    ("body", "shown"),
    [(b"[]", "'[]'"), (b"null", "'null'"), (b'"x"', """'"x"'"""), (b"3", "'3'")],
)
def test_a_success_body_that_is_not_an_object_is_refused_at_the_answer(
    client: TwilioClient, stub: TwilioStub, body: bytes, shown: str
) -> None:
    stub.answer("GET", CALL, body=body)
    with pytest.raises(TwilioInvalidResponse) as caught:
        client.request("GET", CALL)
    error = caught.value
    assert (error.status, error.method, error.path) == (200, "GET", CALL)
    assert str(error) == (
        f"HTTP 200 from GET {CALL}: the body is JSON but not an object "
        f"(application/json, {len(body)} bytes): {shown}"
    )
    assert AUTH_TOKEN not in repr(error)
    assert AUTH_TOKEN not in str(error)


def test_a_create_answered_with_an_array_raises_it_too(
    client: TwilioClient, stub: TwilioStub
) -> None:
    stub.answer("POST", f"{A}/Calls.json", [{"sid": sid("CA")}], status=201)
    with pytest.raises(TwilioInvalidResponse, match=r"^HTTP 201 from POST .*/Calls\.json: "):
        client.calls.create("+14155550100", "+14155550199", url="https://example.com/voice")


def test_an_empty_success_body_is_still_none(client: TwilioClient, stub: TwilioStub) -> None:
    stub.answer("POST", CALL, body=b"")
    assert client.request("POST", CALL, data={"Status": "completed"}) is None
    assert client.request("DELETE", CALL) is None  # the stub's 204


def test_a_list_item_that_is_not_an_object_is_refused_before_any_is_yielded(
    client: TwilioClient, stub: TwilioStub
) -> None:
    number = "+14155550100"
    stub.answer(
        "GET",
        f"{A}/IncomingPhoneNumbers.json",
        {"incoming_phone_numbers": [{"phone_number": "+14155550111"}, "PN1"],
         "next_page_uri": None},
    )  # fmt: skip
    with pytest.raises(TwilioInvalidResponse) as caught:
        client.incoming_phone_numbers.find(number)
    assert str(caught.value) == (
        f"HTTP 200 from GET {A}/IncomingPhoneNumbers.json: item 1 of its list under "
        """'incoming_phone_numbers' is JSON but not an object: "PN1\""""
    )
