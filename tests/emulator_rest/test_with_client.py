"""The project's own REST client against the emulator: operations, paging, and the faults a
client must survive without placing a call or sending a message twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard.api import TwilioClient, TwilioConnectionError, TwilioHTTPError
from switchboard.api.operations import OPERATIONS
from switchboard.api.retry import retry_policy
from switchboard.emulator import Emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[TwilioClient]:
    retries = retry_policy(3, backoff_factor=0, backoff_jitter=0)
    with TwilioClient(emu.account_sid, emu.auth_token, base_url=emu.url, retries=retries,
                      timeout=(2, 5)) as twilio:
        yield twilio


def test_connector_operations_round_trip(emu: Emulator, client: TwilioClient) -> None:
    available = OPERATIONS["get-available-phone-numbers"](client, iso_country_code="US",
                                                          area_code="415")
    numbers = available["available_phone_numbers"] if isinstance(available, dict) else available
    assert numbers
    bought = OPERATIONS["add-incoming-phone-number-by-area-code"](client, area_code="415")
    OPERATIONS["update-incoming-phone-numbers"](
        client, incoming_phone_number_sid=bought["sid"],
        voice_url="https://switchboard.example/voice")
    assert emu.state.find_number(bought["phone_number"])["voice_url"] == (
        "https://switchboard.example/voice")
    call = client.calls.create("+14155550111", bought["phone_number"],
                               url="https://switchboard.example/voice")
    assert call["status"] == "queued"
    message = client.messages.create("+14155550111", from_=bought["phone_number"], body="hi")
    assert message["status"] == "queued"
    assert [c["sid"] for c in emu.phone.calls] == [call["sid"]]
    assert [m["sid"] for m in emu.phone.messages] == [message["sid"]]


def test_lists_walk_every_page(emu: Emulator, client: TwilioClient) -> None:
    for n in range(7):
        emu.state.create_call(emu.account_sid, to=f"+1415555010{n}", from_="+14155550100")
    calls = list(client.calls.list(page_size=2))
    assert len(calls) == 7
    assert len({c["sid"] for c in calls}) == 7


def test_429_on_create_is_retried_and_creates_one_call(emu: Emulator,
                                                       client: TwilioClient) -> None:
    emu.faults.add("429", count=2, retry_after=0)
    call = client.calls.create("+14155550111", "+14155550100", url="https://e.com/voice")
    assert emu.faults.injected["429"] == 2
    assert emu.state.created_count("calls") == 1
    assert [c["sid"] for c in emu.phone.calls] == [call["sid"]]


def test_503_is_retried_for_reads_only(emu: Emulator, client: TwilioClient) -> None:
    emu.faults.add("503", count=2, retry_after=0, methods=["GET"])
    assert list(client.calls.list()) == []
    emu.faults.add("503", count=1, retry_after=0, methods=["POST"])
    with pytest.raises(TwilioHTTPError) as raised:
        client.messages.create("+14155550111", from_="+14155550100", body="hi")
    assert raised.value.status == 503
    assert raised.value.code == 20503
    assert emu.state.created_count("messages") == 0


def test_dropped_answer_to_a_create_is_not_retried_blindly(emu: Emulator,
                                                           client: TwilioClient) -> None:
    emu.faults.add("drop", after=True, methods=["POST"], delay=0)
    with pytest.raises(TwilioConnectionError):
        client.messages.create("+14155550111", from_="+14155550100", body="once")
    assert emu.state.created_count("messages") == 1
    assert len(emu.phone.messages) == 1
