"""Arguments checked before any request, each error naming the argument."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.api import ValidationError
from switchboard.api.validation import date, e164, enum, http_method, positive_int, sid, url


@pytest.mark.parametrize("number", ["+14155550100", "+12", "+442071838750", "+" + "9" * 15])
def test_e164_accepts(number: str) -> None:
    assert e164("to", number) == number


@pytest.mark.parametrize(
    "number",
    ["14155550100", "+", "+1", "+0123", "+" + "1" * 16, "+1 415 555", "+1-415", "", None, 1415],
)
def test_e164_rejects(number: object) -> None:
    with pytest.raises(ValidationError) as info:
        e164("to", number)
    assert info.value.argument == "to"
    assert str(info.value).startswith(f"to: {number!r} is not an E.164 number")


@settings(max_examples=50, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True))
def test_e164_property(number: str) -> None:
    assert e164("to", number) == number


def test_sid() -> None:
    call = "CA" + "a1" * 16
    assert sid("call_sid", call, "CA") == call
    assert sid("sid", call.upper()) == call.upper()
    assert sid("message_sid", "MM" + "0" * 32, "SM", "MM")
    with pytest.raises(
        ValidationError, match=r"^call_sid: 'PN0+' is a PN SID; expected one starting with CA$"
    ):
        sid("call_sid", "PN" + "0" * 32, "CA")
    with pytest.raises(
        ValidationError, match=r"^call_sid: 'CA123' is not a SID \(CA followed by 32"
    ):
        sid("call_sid", "CA123", "CA")
    with pytest.raises(ValidationError, match=r"not a SID"):
        sid("call_sid", "CA" + "g" * 32, "CA")
    with pytest.raises(ValidationError, match=r"not a SID"):
        sid("call_sid", None)


def test_enum_is_case_sensitive() -> None:
    assert enum("status", "completed", {"completed", "canceled"}) == "completed"
    with pytest.raises(
        ValidationError, match=r"^status: 'Completed' is not one of: canceled, completed$"
    ):
        enum("status", "Completed", {"completed", "canceled"})
    with pytest.raises(ValidationError, match=r"is not one of: b, a$"):
        enum("x", "c", ("b", "a"))


def test_url() -> None:
    assert url("voice_url", "https://example.com/voice") == "https://example.com/voice"
    assert url("voice_url", "http://127.0.0.1:5000/voice?x=1")
    for bad in ["example.com/voice", "ftp://example.com", "https://", "https://a b.com/", "", 5]:
        with pytest.raises(
            ValidationError, match=r"^voice_url: .* is not an absolute http\(s\) URL"
        ):
            url("voice_url", bad)


def test_http_method() -> None:
    assert http_method("voice_method", "POST") == "POST"
    assert http_method("voice_method", "get") == "GET"
    with pytest.raises(ValidationError, match=r"^voice_method: 'PUT' is not an HTTP method"):
        http_method("voice_method", "PUT")


def test_date() -> None:
    assert date("start_time", "2024-02-29") == "2024-02-29"
    assert date("start_time", dt.date(2024, 1, 2)) == "2024-01-02"
    assert date("start_time", dt.datetime(2024, 1, 2, 3, 4)) == "2024-01-02"
    for bad in ["2023-02-29", "2024-1-2", "02/01/2024", "2024-01-02T00:00", None]:
        with pytest.raises(ValidationError, match=r"^start_time: .* is not a date \(YYYY-MM-DD\)$"):
            date("start_time", bad)


def test_positive_int() -> None:
    assert positive_int("limit", 3) == 3
    assert positive_int("limit", "20") == 20
    for bad in [0, -1, True, 1.5, "3.0", "-2", "", None]:
        with pytest.raises(ValidationError, match=r"^limit: "):
            positive_int("limit", bad)
    with pytest.raises(ValidationError, match=r"^page_size: 1001 is more than 1000$"):
        positive_int("page_size", 1001, maximum=1000)


def test_long_values_are_shortened() -> None:
    with pytest.raises(ValidationError) as info:
        e164("to", "x" * 500)
    assert len(str(info.value)) < 200
