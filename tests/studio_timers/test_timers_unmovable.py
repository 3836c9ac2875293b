"""Due timeouts the timers cannot take as usual, on SQLite and PostgreSQL: an execution whose
flow is gone or whose stored state no longer fits it is ended with one clear line and holds
up no other; the database failing in the middle of a round gives back the claims not used."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from switchboard.callbacks.store import StoreUnavailable
from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.executions import Database
from switchboard.callbacks.studio.timers import Timers
from switchboard.config import Settings
from tests.studio_timers import LATE, FakeTwilio, ask_flow, contact, later, waiting

SETTINGS = Settings(account_sid="AC" + "1" * 32, public_url="https://example.com")
FLOW = ask_flow()


@pytest.fixture
def db(store: Any) -> Database:
    return Database(store)


def make(store: Any, twilio: FakeTwilio, **options: Any) -> Timers:
    return Timers(store, {FLOW.name: FLOW}, SETTINGS, client_factory=twilio.factory, **options)


def unfit(db: Database) -> executions.Execution:
    """A due execution whose stored subflow frame names no flow: it cannot be read back."""
    execution = waiting(db, FLOW, contact(), later(-60))
    assert executions.claim(db, execution, claim_for=60)
    execution.frames = [{"widget": "question"}]
    executions.save(db, execution, [])
    return execution


def test_an_execution_that_cannot_move_is_ended_and_holds_up_no_other(store, db, caplog):
    twilio = FakeTwilio()
    broken = unfit(db)
    others = [waiting(db, FLOW, contact(), later(-1)) for _ in range(3)]
    timer = make(store, twilio, batch=2)
    with caplog.at_level(logging.ERROR, logger="switchboard.callbacks.studio"):
        assert timer.tick() == 4
        assert timer.tick() == 0
    for execution in others:
        assert twilio.to(execution.contact_channel_address) == [LATE]
    stored = executions.get(db, broken.sid)
    assert (stored.status, stored.claim, stored.waiting_for) == ("ended", None, None)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [f"execution {broken.sid} of flow ask ends: its timeout could not be "
                     "taken (KeyError: 'flow')"]


def test_an_execution_of_a_flow_no_longer_there_is_ended(store, db, caplog):
    twilio = FakeTwilio()
    gone = waiting(db, ask_flow(name="gone"), contact(), later(-60))
    other = waiting(db, FLOW, contact(), later(-1))
    with caplog.at_level(logging.INFO, logger="switchboard.callbacks.studio"):
        assert make(store, twilio).tick() == 2
    assert executions.get(db, gone.sid).status == "ended"
    assert twilio.to(gone.contact_channel_address) == []
    assert twilio.to(other.contact_channel_address) == [LATE]
    assert [r.getMessage() for r in caplog.records if gone.sid in r.getMessage()] == [
        f"execution {gone.sid} ends: flow 'gone' is no longer in the flows folder"]


def test_the_database_failing_mid_round_gives_back_the_claims_not_used(store, db,
                                                                        monkeypatch):
    twilio = FakeTwilio()
    due = [waiting(db, FLOW, contact(), later(-10 + n)) for n in range(3)]
    save = executions.save

    def failing(*args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailable("the database is unavailable: gone")

    monkeypatch.setattr(executions, "save", failing)
    timer = make(store, twilio, batch=3)
    with pytest.raises(StoreUnavailable):
        timer.tick()
    monkeypatch.setattr(executions, "save", save)
    for execution in due:
        stored = executions.get(db, execution.sid)
        assert (stored.status, stored.claim) == ("active", None)
    assert timer.tick() == 3
    for execution in due:
        assert twilio.to(execution.contact_channel_address) == [LATE]
