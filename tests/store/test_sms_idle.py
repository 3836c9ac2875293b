"""An SMS conversation expires after 4 hours without a message, not 4 hours after its
session last changed: a flow that only reads its session (or never touches it) keeps the
conversation alive as long as messages keep coming. The 4 hours are elapsed time, whatever
the clock's zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from switchboard.callbacks.store import Store

from .conftest import FakeClock

ME, YOU = "+15005550006", "+15005550001"


def receive(store: Store, n: int) -> None:
    """An inbound message recorded, and read back (which writes what the write-behind holds)."""
    sid = f"SM{n:032x}"
    store.record_message({"MessageSid": sid, "From": YOU, "To": ME, "Body": "hours?"})
    assert store.get_message(sid) is not None


@pytest.fixture(params=[0, 30], ids=["written-at-once", "written-behind"])
def sms_store(
    request: pytest.FixtureRequest, database_url: str, clock: FakeClock
) -> Iterator[Store]:
    store = Store(database_url, clock=clock, record_delay=request.param)
    store.create_all()
    yield store
    store.close()


def test_messages_keep_a_conversation_alive(sms_store: Store, clock: FakeClock) -> None:
    sms_store.save_sms_session(YOU, ME, {"step": "menu"})
    for n in range(4):  # a message every 3 hours, the session only read
        clock.advance(hours=3)
        receive(sms_store, n)
        assert sms_store.load_sms_session(YOU, ME) == {"step": "menu"}, n
    clock.advance(hours=3, minutes=59)
    assert sms_store.load_sms_session(YOU, ME) == {"step": "menu"}
    clock.advance(minutes=2)
    assert sms_store.load_sms_session(YOU, ME) == {}


def test_a_message_after_the_expiry_does_not_bring_the_conversation_back(
    sms_store: Store, clock: FakeClock
) -> None:
    sms_store.save_sms_session(YOU, ME, {"step": "menu"})
    clock.advance(hours=4, minutes=1)
    receive(sms_store, 1)
    assert sms_store.load_sms_session(YOU, ME) == {}
    assert sms_store.purge_sms_sessions() == 1


def test_only_the_pair_of_the_message_is_kept_alive(sms_store: Store, clock: FakeClock) -> None:
    sms_store.save_sms_session(YOU, ME, {"step": "mine"})
    sms_store.save_sms_session(ME, YOU, {"step": "the other way"})
    clock.advance(hours=3)
    receive(sms_store, 1)
    clock.advance(hours=2)
    assert sms_store.load_sms_session(YOU, ME) == {"step": "mine"}
    assert sms_store.load_sms_session(ME, YOU) == {}


def test_a_later_save_is_not_moved_back(sms_store: Store, clock: FakeClock) -> None:
    received = clock.now
    clock.advance(hours=1)
    sms_store.save_sms_session(YOU, ME, {"step": "saved later"})
    saved = clock.now
    clock.now = received  # the message's row, received before the save, written after it
    receive(sms_store, 1)
    clock.now = saved + timedelta(hours=3, minutes=59)
    assert sms_store.load_sms_session(YOU, ME) == {"step": "saved later"}


def test_sms_sessions_expire_after_four_hours_of_elapsed_time_with_a_zoned_clock(
    database_url: str,
) -> None:
    """A clock in a zone with summer time: the 4 hours are elapsed time, not wall-clock
    arithmetic, which across the change would take a conversation 3.5 hours idle as expired."""
    zurich = ZoneInfo("Europe/Zurich")
    clock = FakeClock()
    clock.now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC).astimezone(zurich)
    store = Store(database_url, clock=clock)
    store.create_all()
    try:
        store.save_sms_session("+15005550006", "+15005550001", {"step": 2})
        clock.now = datetime(2026, 3, 29, 3, 0, tzinfo=UTC).astimezone(zurich)  # 3.5 h on
        assert store.load_sms_session("+15005550006", "+15005550001") == {"step": 2}
        assert store.purge_sms_sessions() == 0
        clock.now += timedelta(hours=1)  # 4.5 h idle
        assert store.load_sms_session("+15005550006", "+15005550001") == {}
        assert store.purge_sms_sessions() == 1
    finally:
        store.close()
