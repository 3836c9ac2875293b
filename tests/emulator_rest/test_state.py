"""EmulatorState: the API the caller side builds on, consistent and thread-safe."""

from __future__ import annotations

import re
import threading

import pytest

from switchboard.emulator.state import EmulatorState


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState()


def test_made_up_and_given_credentials() -> None:
    made_up = EmulatorState()
    assert re.fullmatch(r"AC[0-9a-f]{32}", made_up.main_account_sid)
    assert re.fullmatch(r"[0-9a-f]{32}", made_up.auth_token_for(made_up.main_account_sid))
    given = EmulatorState("AC" + "2" * 32, "t" * 32)
    assert given.main_account_sid == "AC" + "2" * 32
    assert given.auth_token_for("AC" + "2" * 32) == "t" * 32
    assert given.authenticate("AC" + "2" * 32, "t" * 32) == "AC" + "2" * 32
    assert given.authenticate("AC" + "2" * 32, "wrong") is None


def test_find_number_and_copies(state: EmulatorState) -> None:
    account = state.main_account_sid
    number = state.buy_number(account, "+14155550100", voice_url="https://e.com/v")
    found = state.find_number("+14155550100")
    assert found == number
    found["voice_url"] = "changed by the reader"
    assert state.find_number("+14155550100")["voice_url"] == "https://e.com/v"
    assert state.find_number("+14155550199") is None
    with pytest.raises(ValueError, match="already owned"):
        state.buy_number(account, "+14155550100")


def test_call_lifecycle_sets_times(state: EmulatorState) -> None:
    call = state.create_call(state.main_account_sid, to="+14155550111", from_="+14155550100",
                             direction="inbound", status="ringing")
    assert call["from"] == "+14155550100"
    assert call["start_time"] is None
    answered = state.update_call(call["sid"], status="in-progress")
    assert answered["start_time"] is not None
    ended = state.update_call(call["sid"], status="completed")
    assert ended["end_time"] is not None
    assert ended["duration"] == "0"
    assert state.get("calls", call["sid"])["status"] == "completed"
    with pytest.raises(KeyError):
        state.update_call("CA" + "0" * 32, status="completed")


def test_message_date_sent_set_once(state: EmulatorState) -> None:
    message = state.create_message(state.main_account_sid, to="+1415", from_="+1416", body="hi")
    assert message["date_sent"] is None
    sent = state.update_message(message["sid"], status="sent")
    delivered = state.update_message(message["sid"], status="delivered")
    assert sent["date_sent"] == delivered["date_sent"] is not None
    inbound = state.create_message(state.main_account_sid, to="+1", from_="+2", body="x",
                                   status="received", direction="inbound")
    assert inbound["date_sent"] is not None


def test_recording_media_url_uses_base_url(state: EmulatorState) -> None:
    state.base_url = "http://127.0.0.1:9999"
    recording = state.create_recording(state.main_account_sid, "CA" + "1" * 32, duration=7)
    assert recording["duration"] == "7"
    assert recording["media_url"] == (
        f"http://127.0.0.1:9999/2010-04-01/Accounts/{state.main_account_sid}/Recordings/"
        f"{recording['sid']}")


def test_conference_lifecycle(state: EmulatorState) -> None:
    account = state.main_account_sid
    room = state.create_conference(account, "room")
    assert state.create_conference(account, "room")["sid"] == room["sid"]
    state.add_participant(room["sid"], "CA" + "1" * 32)
    assert state.get("conferences", room["sid"])["status"] == "in-progress"
    assert state.remove_participant(room["sid"], "CA" + "1" * 32)
    assert not state.remove_participant(room["sid"], "CA" + "1" * 32)
    assert state.get("conferences", room["sid"])["status"] == "completed"
    assert state.find_conference(account, "room") is None
    assert state.create_conference(account, "room")["sid"] != room["sid"]


def test_created_counts(state: EmulatorState) -> None:
    state.create_call(state.main_account_sid, to="+1", from_="+2")
    state.create_message(state.main_account_sid, to="+1", from_="+2", body="x")
    state.create_message(state.main_account_sid, to="+1", from_="+2", body="y")
    assert state.created_count("calls") == 1
    assert state.created_count("messages") == 2
    assert state.created_count() == 3  # the main account is not counted


def test_concurrent_writers_lose_nothing(state: EmulatorState) -> None:
    account = state.main_account_sid
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(50):
            call = state.create_call(account, to=f"+1415555{n:02d}{i:02d}", from_="+2")
            state.update_call(call["sid"], status="in-progress")
            state.create_message(account, to="+1", from_="+2", body=str(i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert state.created_count("calls") == 400
    assert len(state.list("calls")) == 400
    assert len(state.list("messages", where=lambda m: m["body"] == "0")) == 8
    assert all(c["status"] == "in-progress" for c in state.list("calls"))


def test_unknown_kind_is_a_clear_error(state: EmulatorState) -> None:
    with pytest.raises(ValueError, match="participants: get_participant"):
        state.get("participants", "CA" + "0" * 32)
