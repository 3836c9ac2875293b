"""Dates given straight to ``client.request`` go as the typed resources send them: a
``datetime.date`` as ``YYYY-MM-DD``, a ``datetime`` as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (one
without a time zone taken as UTC), never Python's ``isoformat()`` with its offset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from switchboard.api import TwilioClient
from switchboard.api.resources.base import date_time
from switchboard.emulator import Emulator
from switchboard.emulator.resources import rfc2822
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN, TwilioStub

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
#: 22:30 on May 1st in New York's summer time is 02:30 on May 2nd in UTC.
NEW_YORK = dt.timezone(dt.timedelta(hours=-4))
EVENING = dt.datetime(2024, 5, 1, 22, 30, 15, 250000, tzinfo=NEW_YORK)


def test_dates_in_the_query_and_the_form_go_as_the_typed_resources_send_them(
    client: TwilioClient, stub: TwilioStub
) -> None:
    client.request(
        "GET",
        f"{A}/Messages.json",
        params={
            "DateSent>": EVENING,
            "DateSent<": dt.datetime(2024, 5, 3, 8, 0, 0, 999999),  # naive: UTC
            "DateSent": dt.date(2024, 5, 2),
        },
    )
    assert stub.last.query == {
        "DateSent>": ["2024-05-02T02:30:15Z"],
        "DateSent<": ["2024-05-03T08:00:00Z"],
        "DateSent": ["2024-05-02"],
    }
    assert stub.last.query["DateSent>"] == [date_time("date_sent_after", EVENING)]
    client.request("POST", f"{A}/Messages.json", data={"SendAt": [EVENING]})
    assert stub.last.form == {"SendAt": ["2024-05-02T02:30:15Z"]}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(ACCOUNT_SID, AUTH_TOKEN, caller=False) as running:
        for day in (1, 2):
            running.state.create_message(
                ACCOUNT_SID, to="+14155550100", from_="+14155550199", body=f"May {day}",
                status="received", date_sent=rfc2822(dt.datetime(2024, 5, day, 12, tzinfo=dt.UTC)),
            )
        yield running


def test_a_datetime_filter_is_the_same_moment_in_utc_on_the_emulator(emulator: Emulator) -> None:
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=emulator.url, retries=0) as client:
        sent = client.request("GET", f"{A}/Messages.json", params={"DateSent>": EVENING})
        typed = list(client.messages.list(date_sent_after=EVENING))
    assert [message["body"] for message in sent["messages"]] == ["May 2"]
    assert [message["body"] for message in typed] == ["May 2"]
