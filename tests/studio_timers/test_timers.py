"""The timers' thread on SQLite and PostgreSQL: due timeouts taken once, within a few seconds
of their time, by whichever of several timers gets each; a message sent once even when the
sender stops between Twilio's answer and the execution's write; start and stop."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.studio import executions, timers
from switchboard.callbacks.studio.executions import Database
from switchboard.callbacks.studio.timers import SENDING, SENT, Timers, purge_sends, sends
from switchboard.config import Settings
from tests.studio_timers import (
    LATE,
    FakeTwilio,
    ask_flow,
    contact,
    later,
    timeout_steps,
    waiting,
)

SETTINGS = Settings(account_sid="AC" + "1" * 32, public_url="https://example.com")
FLOW = ask_flow()
FLOWS = {FLOW.name: FLOW}


@pytest.fixture
def twilio() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
def db(store: Any) -> Database:
    return Database(store)


def make(store: Any, twilio: FakeTwilio, **options: Any) -> Timers:
    return Timers(store, FLOWS, SETTINGS, client_factory=twilio.factory, **options)


def test_tick_takes_the_due_timeouts_and_leaves_the_rest(store, db, twilio):
    due = [waiting(db, FLOW, contact(), later(-1)) for _ in range(3)]
    not_yet = waiting(db, FLOW, contact(), later(3600))
    timer = make(store, twilio, batch=2)
    assert timer.tick() == 3
    assert timer.tick() == 0
    for execution in due:
        assert twilio.to(execution.contact_channel_address) == [LATE]
        assert timeout_steps(store, execution.sid) == 1
        assert executions.get(db, execution.sid).status == "ended"
    assert twilio.to(not_yet.contact_channel_address) == []
    assert executions.get(db, not_yet.sid).waiting_for == "reply"


def test_the_thread_fires_a_timeout_within_seconds_of_its_time(store, db, twilio):
    execution = waiting(db, FLOW, contact(), later(1.5))
    timer = make(store, twilio, every=0.2).start()
    try:
        deadline = time.monotonic() + 10
        while not twilio.to(execution.contact_channel_address) and time.monotonic() < deadline:
            time.sleep(0.05)
        fired_at = time.monotonic()
    finally:
        timer.stop()
    assert twilio.to(execution.contact_channel_address) == [LATE]
    assert fired_at < deadline
    assert not timer.running


def test_what_fell_due_while_no_process_ran_goes_at_the_start(store, db, twilio):
    execution = waiting(db, FLOW, contact(), later(-600))
    timer = make(store, twilio, every=5.0).start()
    try:
        started = time.monotonic()
        while not twilio.to(execution.contact_channel_address) and time.monotonic() < started + 5:
            time.sleep(0.02)
        assert time.monotonic() - started < 2.5
    finally:
        timer.stop()


def test_several_timers_at_once_take_each_timeout_once(store, db, twilio):
    made = [waiting(db, FLOW, contact(), later(-1)) for _ in range(60)]
    group = [make(store, twilio, batch=5) for _ in range(4)]
    threads = [threading.Thread(target=timer.tick) for timer in group]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(timer.fired for timer in group) >= 60
    for execution in made:
        assert twilio.to(execution.contact_channel_address) == [LATE]
        assert timeout_steps(store, execution.sid) == 1


class Killed(BaseException):
    """The sender stops, as a process killed in the middle would (not an Exception: nothing
    catches it on the way)."""


def test_a_message_twilio_took_is_not_sent_again_by_the_next_taker(store, db, twilio):
    execution = waiting(db, FLOW, contact(), later(-1))

    def die(message: dict[str, Any]) -> None:
        raise Killed

    twilio.after_send = die
    with pytest.raises(Killed):
        make(store, twilio).tick()
    assert twilio.to(execution.contact_channel_address) == [LATE]
    assert executions.get(db, execution.sid).waiting_for == "reply"  # nothing written
    twilio.after_send = None
    make(store, twilio).tick()
    assert twilio.to(execution.contact_channel_address) == [LATE]
    assert timeout_steps(store, execution.sid) == 1
    assert executions.get(db, execution.sid).status == "ended"


def test_a_message_marked_sent_is_not_sent_again(store, db, twilio):
    execution = waiting(db, FLOW, contact(), later(-1))
    timer = make(store, twilio)
    with timer.once.scope():
        timer.once.moving(execution)
        client = timer.runtime.client_factory(SETTINGS)
        first = client.messages.create(execution.contact_channel_address, body=LATE,
                                       from_="+15005550006")
    assert twilio.to(execution.contact_channel_address) == [LATE]
    row = _row(store, f"{execution.sid}:1:0")
    assert (row["state"], row["sid"]) == (SENT, first["sid"])
    timer.tick()  # the same move again, from the same step: the message is there already
    assert twilio.to(execution.contact_channel_address) == [LATE]
    assert timeout_steps(store, execution.sid) == 1


def test_a_send_left_unmarked_and_not_at_twilio_is_sent(store, db, twilio):
    execution = waiting(db, FLOW, contact(), later(-1))
    key = f"{execution.sid}:1:0"
    with store.engine.begin() as conn:
        conn.execute(sa.insert(sends).values(
            key=key, owner=execution.sid, to=execution.contact_channel_address,
            sender="+15005550006", digest=timers._digest(
                "messages", execution.contact_channel_address, "+15005550006", LATE, None),
            state=SENDING, created_at=later(-5)))
    make(store, twilio).tick()
    assert twilio.to(execution.contact_channel_address) == [LATE]
    assert _row(store, key)["state"] == SENT


def test_sends_of_webhooks_and_scripts_go_straight_through(store, twilio):
    timer = make(store, twilio)
    client = timer.runtime.client_factory(SETTINGS)
    number = contact()
    client.messages.create(number, body="one", from_="+15005550006")
    client.messages.create(number, body="one", from_="+15005550006")
    assert twilio.to(number) == ["one", "one"]


def test_purge_sends_deletes_the_old_keys(store, db, twilio):
    execution = waiting(db, FLOW, contact(), later(-1))
    make(store, twilio).tick()
    key = f"{execution.sid}:1:0"
    assert _row(store, key) is not None
    assert purge_sends(store, older_than=timedelta(hours=1)) == 0
    assert purge_sends(store, older_than=timedelta(seconds=-1)) >= 1
    assert _row(store, key) is None


def test_a_database_down_is_said_once_and_the_thread_goes_on(store, twilio, caplog):
    from switchboard.callbacks.store import StoreUnavailable

    timer = make(store, twilio, every=0.05)
    calls = []

    def failing() -> int:
        calls.append(1)
        if len(calls) < 4:
            raise StoreUnavailable("the database at sqlite:///x is unavailable: gone")
        return 0

    timer.tick = failing  # type: ignore[method-assign]
    with caplog.at_level("WARNING", logger="switchboard.callbacks.studio"):
        timer.start()
        deadline = time.monotonic() + 5
        while len(calls) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        timer.stop()
    lines = [r.getMessage() for r in caplog.records if "Studio timers" in r.getMessage()]
    assert lines == [
        "Studio timers: due timeouts not taken: the database at sqlite:///x is unavailable: "
        "gone (tried again every 0.05 s)",
        "Studio timers: due timeouts are taken again",
    ]


def _row(store: Any, key: str) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sends).where(sends.c.key == key)).mappings().first()


class FakeCalls:
    """A client's ``calls``; ``die``: the caller stops once Twilio placed the call."""

    def __init__(self) -> None:
        self.placed: list[dict[str, Any]] = []
        self.die = False

    def create(self, to: str, from_: str, **fields: Any) -> dict[str, Any]:
        call = {"sid": f"CA{len(self.placed):032d}", "to": to, "from": from_,
                "date_created": format_datetime(later(0))}
        self.placed.append(call)
        if self.die:
            raise Killed
        return call

    def list(self, *, to: str, from_: str, limit: int) -> list[dict[str, Any]]:
        return [c for c in reversed(self.placed) if c["to"] == to and c["from"] == from_]


def test_a_call_placed_before_the_caller_stopped_is_not_placed_again(store, twilio):
    timer = make(store, twilio)
    calls = twilio.calls = FakeCalls()  # type: ignore[attr-defined]
    number, url = contact(), "https://example.com/a"
    with timer.once.scope():
        client = timer.runtime.client_factory(SETTINGS)
        timer.once.begin("work-1", "a test")
        calls.die = True
        with pytest.raises(Killed):
            client.calls.create(number, "+15005550006", url=url)
        calls.die = False
        timer.once.begin("work-1", "a test")  # the same work, done again
        again = client.calls.create(number, "+15005550006", url=url)
        timer.once.begin("work-2", "a test")
        other = client.calls.create(number, "+15005550006", url=url)
    assert [call["sid"] for call in calls.placed] == [again["sid"], other["sid"]]
