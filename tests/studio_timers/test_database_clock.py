"""Timers, claims and waits follow the database's clock, not each host's: a host whose clock
runs 5 minutes ahead or behind neither fires a timeout early (nor late), nor takes a claim
another host still holds, nor times a wait by its own clock; the offset is measured once,
again after its interval, and kept when a measurement fails. On SQLite every process runs on
the database's host and shares its clock: nothing is measured, the host's clock is used as
it is."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.store import Store, StoreUnavailable, clock
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.campaigns import CampaignDatabase
from switchboard.callbacks.studio.executions import Database
from switchboard.callbacks.studio.flows_store import FlowsDatabase
from switchboard.callbacks.studio.outbound import start_execution
from switchboard.callbacks.studio.timers import SendsDatabase, Timers
from switchboard.config import Settings
from tests.studio_timers import LATE, NUMBER, FakeTwilio, ask_flow, contact, waiting

SETTINGS = Settings(account_sid="AC" + "1" * 32, public_url="https://example.com")
FLOW = ask_flow()
FLOWS = {FLOW.name: FLOW}
AHEAD, BEHIND = 300.0, -300.0
#: How far a time read here may be from the database's: the round trips of a test.
CLOSE = timedelta(seconds=2)


class HostClocks:
    """This host's clock as :func:`clock.host_now` reads it: the real time, moved by ``skew``
    seconds while the skewed host acts (:meth:`skewed`). On SQLite every process runs on the
    database's host and reads its one clock: the skew is then the whole host's."""

    def __init__(self, skew: float, *, shared: bool) -> None:
        self.skew = skew
        self.shared = shared
        self._acting = False

    def now(self) -> datetime:
        moved = self.shared or self._acting
        return datetime.now(UTC) + timedelta(seconds=self.skew if moved else 0.0)

    @contextlib.contextmanager
    def skewed(self) -> Iterator[None]:
        self._acting = True
        try:
            yield
        finally:
            self._acting = False

    def database_time(self, store: Store) -> datetime:
        """The database's time: its server's clock, or on SQLite the host's."""
        if store.dialect == "sqlite":
            return self.now()
        with store.engine.connect() as conn:
            found = conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
        return found.astimezone(UTC)  # type: ignore[no-any-return]


@pytest.fixture(params=[AHEAD, BEHIND], ids=["ahead", "behind"])
def skew(request: pytest.FixtureRequest) -> float:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def clocks(store: Store, skew: float, monkeypatch: pytest.MonkeyPatch) -> HostClocks:
    made = HostClocks(skew, shared=store.dialect == "sqlite")
    monkeypatch.setattr(clock, "host_now", made.now)
    return made


@pytest.fixture
def other(module_database_url: str) -> Iterator[Store]:
    """Another host's store on the same database, with a clock of its own."""
    made = Store(module_database_url)
    yield made
    made.close()


@pytest.fixture
def twilio() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
def clock_reads(other: Store) -> list[str]:
    """The statements that read the server's clock on ``other``'s connections."""
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "clock_timestamp" in statement:
            seen.append(statement)

    sa.event.listen(other.engine, "before_cursor_execute", listen)
    return seen


def test_a_skewed_host_takes_no_live_claim_and_holds_its_own(store, other, clocks):
    here, there = Database(store), Database(other)
    held_here = waiting(here, FLOW, contact(), clocks.database_time(store) + timedelta(hours=1))
    assert executions.claim(here, held_here, claim_for=60)
    held_there = waiting(here, FLOW, contact(), clocks.database_time(store) + timedelta(hours=1))
    with clocks.skewed():
        assert not executions.claim(there, executions.get(there, held_here.sid), claim_for=60)
        assert executions.claim(there, held_there, claim_for=60)
    assert not executions.claim(here, executions.get(here, held_there.sid), claim_for=60)
    assert abs(held_there.claimed_until - clocks.database_time(store)
               - timedelta(seconds=60)) < CLOSE


def test_a_skewed_host_fires_a_timeout_when_the_database_time_comes(store, other, clocks,
                                                                    twilio):
    here = Database(store)
    due = waiting(here, FLOW, contact(), clocks.database_time(store) - timedelta(seconds=1))
    soon = waiting(here, FLOW, contact(), clocks.database_time(store) + timedelta(seconds=2))
    timers = Timers(other, FLOWS, SETTINGS, client_factory=twilio.factory)
    with clocks.skewed():
        timers.tick()
    assert twilio.to(due.contact_channel_address) == [LATE]
    assert twilio.to(soon.contact_channel_address) == []
    assert executions.get(here, soon.sid).waiting_for == "reply"
    time.sleep(max(0.0, (soon.wait_until - clocks.database_time(store)).total_seconds()) + 0.1)
    with clocks.skewed():
        timers.tick()
    assert twilio.to(soon.contact_channel_address) == [LATE]


def test_a_skewed_host_times_a_wait_by_the_database_clock(store, other, clocks, twilio):
    with clocks.skewed():
        execution = start_execution(other, FLOW, to=contact(), from_=NUMBER,
                                    parameters={"name": "Ann"}, settings=SETTINGS,
                                    client_factory=twilio.factory)
    expected = clocks.database_time(store) + timedelta(seconds=60)
    assert execution.waiting_for == "reply"
    assert abs(executions.get(Database(store), execution.sid).wait_until - expected) < CLOSE


@pytest.mark.parametrize("kind", [Database, SendsDatabase, CampaignDatabase, FlowsDatabase])
def test_every_studio_table_keeps_the_database_time(store, other, clocks, kind):
    with clocks.skewed():
        now = kind(other).now()
    assert abs(now - clocks.database_time(store)) < CLOSE


@pytest.mark.parametrize("skew", [AHEAD])
def test_the_offset_is_measured_once_then_again_after_its_interval(
        store, other, clocks, clock_reads, monkeypatch):
    monkeypatch.setattr(clock, "REFRESH_EVERY", 0.5)
    with clocks.skewed():
        for _ in range(5):
            assert abs(Database(other).now() - clocks.database_time(store)) < CLOSE
    measured = 0 if store.dialect == "sqlite" else 1
    assert len(clock_reads) == measured
    clocks.skew += 600  # the host's clock jumps on
    if store.dialect == "postgresql":
        with clocks.skewed():  # until the next measurement, the offset measured before
            assert Database(other).now() - clocks.database_time(store) > timedelta(minutes=9)
        assert len(clock_reads) == 1
    time.sleep(0.6)
    with clocks.skewed():
        assert abs(Database(other).now() - clocks.database_time(store)) < CLOSE
        assert abs(Database(other).now() - clocks.database_time(store)) < CLOSE
    assert len(clock_reads) == 2 * measured


@pytest.mark.parametrize("skew", [AHEAD])
def test_a_failed_measurement_keeps_the_last_offset(store, other, clocks, clock_reads,
                                                    monkeypatch, caplog):
    monkeypatch.setattr(clock, "REFRESH_EVERY", 0.2)
    monkeypatch.setattr(clock, "RETRY_EVERY", 0.2)
    with clocks.skewed():
        Database(other).now()
    measured = clock.database_clock(other).offset
    run, failing = other.run, [True]

    def down(*args: Any, **kwargs: Any) -> Any:
        if failing:
            raise StoreUnavailable("database unavailable (postgresql://127.0.0.1/x): refused")
        return run(*args, **kwargs)

    monkeypatch.setattr(other, "run", down)
    caplog.set_level(logging.INFO, logger="switchboard.callbacks.store")
    for _ in range(3):
        time.sleep(0.25)
        with clocks.skewed():
            assert abs(Database(other).now() - clocks.database_time(store)) < CLOSE
    assert clock.database_clock(other).offset == measured
    failures = [r for r in caplog.records if "could not be read" in r.getMessage()]
    if store.dialect == "sqlite":
        assert measured == timedelta(0)
        assert failures == []
        return
    assert abs(measured + timedelta(seconds=AHEAD)) < CLOSE
    (failure,) = failures  # one line for the run of failures, not one a try
    assert failure.levelno == logging.WARNING
    assert "\n" not in failure.getMessage()
    assert failure.exc_info is None
    failing.clear()
    time.sleep(0.25)
    with clocks.skewed():
        assert abs(Database(other).now() - clocks.database_time(store)) < CLOSE
    assert any("read again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("skew", [AHEAD])
def test_a_first_measurement_that_fails_leaves_the_host_clock(store, other, clocks,
                                                              monkeypatch, caplog):
    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("database unavailable (postgresql://127.0.0.1/x): refused")

    monkeypatch.setattr(other, "run", down)
    with clocks.skewed():
        now = Database(other).now()
        assert abs(now - clocks.now()) < CLOSE
    assert clock.database_clock(other).offset == timedelta(0)
    failures = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(failures) == (0 if store.dialect == "sqlite" else 1)


@pytest.mark.parametrize("skew", [2 * 86400.0])
def test_an_absurd_offset_is_used_and_logged_once(store, other, clocks, caplog, monkeypatch):
    monkeypatch.setattr(clock, "REFRESH_EVERY", 0.2)
    caplog.set_level(logging.WARNING, logger="switchboard.callbacks.store")
    with clocks.skewed():
        assert abs(Database(other).now() - clocks.database_time(store)) < CLOSE
        time.sleep(0.25)
        assert abs(Database(other).now() - clocks.database_time(store)) < CLOSE
    warned = [r for r in caplog.records if "one of them is wrong" in r.getMessage()]
    assert len(warned) == (0 if store.dialect == "sqlite" else 1)
    if warned:
        assert "ahead of" in warned[0].getMessage()
