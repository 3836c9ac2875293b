"""Conversation state: voice sessions by CallSid, SMS sessions by (From, To) with idle expiry."""

from __future__ import annotations

import pytest

from switchboard.callbacks.store import Store

from .conftest import FakeClock


def test_voice_session_round_trip(store: Store) -> None:
    assert store.load_voice_session("CA1") == {}
    store.save_voice_session("CA1", {"attempts": 1, "menu": ["a", "é"]})
    store.save_voice_session("CA2", {"attempts": 9})
    assert store.load_voice_session("CA1") == {"attempts": 1, "menu": ["a", "é"]}
    store.save_voice_session("CA1", {"attempts": 2})
    assert store.load_voice_session("CA1") == {"attempts": 2}


def test_sms_session_round_trip_per_pair(store: Store) -> None:
    assert store.load_sms_session("+1500", "+1600") == {}
    store.save_sms_session("+1500", "+1600", {"step": "hours"})
    store.save_sms_session("+1600", "+1500", {"step": "other way"})
    assert store.load_sms_session("+1500", "+1600") == {"step": "hours"}
    assert store.load_sms_session("+1600", "+1500") == {"step": "other way"}


def test_sms_session_expires_after_four_idle_hours(store: Store, clock: FakeClock) -> None:
    store.save_sms_session("+1500", "+1600", {"step": 1})
    clock.advance(hours=3, minutes=59)
    assert store.load_sms_session("+1500", "+1600") == {"step": 1}
    store.save_sms_session("+1500", "+1600", {"step": 2})
    clock.advance(hours=3, minutes=59)
    assert store.load_sms_session("+1500", "+1600") == {"step": 2}
    clock.advance(minutes=2)
    assert store.load_sms_session("+1500", "+1600") == {}
    store.save_sms_session("+1500", "+1600", {"step": 3})
    assert store.load_sms_session("+1500", "+1600") == {"step": 3}


def test_purge_sms_sessions(store: Store, clock: FakeClock) -> None:
    store.save_sms_session("+1500", "+1600", {})
    clock.advance(hours=3)
    store.save_sms_session("+1700", "+1600", {})
    clock.advance(hours=2)
    assert store.purge_sms_sessions() == 1
    assert store.load_sms_session("+1700", "+1600") == {}
    clock.advance(hours=-1)
    assert store.purge_sms_sessions() == 0


def test_session_data_must_be_json(store: Store) -> None:
    with pytest.raises(TypeError):
        store.save_voice_session("CA1", {"when": object()})
