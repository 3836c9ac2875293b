"""``flows run --contacts``'s parts: the contacts file checked row by row before anything is
sent, the token bucket's pace, and the keyed rows that let a run stop anywhere and go on
without a second execution for anyone (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from switchboard.callbacks.studio import campaigns, executions
from switchboard.callbacks.studio.campaigns import (
    STARTED,
    STARTING,
    CampaignRows,
    Contact,
    ContactsError,
    TokenBucket,
    campaign_id,
    campaign_rows,
    read_contacts,
    run_campaign,
)
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.executions import AlreadyActive, Database
from switchboard.callbacks.studio.outbound import start_execution
from switchboard.config import Settings
from tests.campaign import HELLO, write_contacts
from tests.studio_timers import NUMBER, FakeTwilio, ask_flow, contact

SETTINGS = Settings(account_sid="AC" + "1" * 32, handler_timeout=3.0)
QUESTION = "Hello {name}, reply YES."

# -- the file ------------------------------------------------------------------------------------


def csv_file(tmp_path: Path, text: str | bytes, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_the_to_column_and_the_others_as_parameters(tmp_path):
    path = csv_file(tmp_path, "\ufeffName,TO,order\nAda,+14155550100,7\n\nBo,+14155550101,\n")
    read = read_contacts(path)
    assert [(c.row, c.to, c.parameters) for c in read.rows] == [
        (2, "+14155550100", {"Name": "Ada", "order": "7"}),
        (4, "+14155550101", {"Name": "Bo", "order": ""}),
    ]
    assert len(read.digest) == 64


def test_quoted_fields_may_hold_commas_and_lines(tmp_path):
    path = csv_file(tmp_path, 'to,note\n+14155550100,"one, two\nthree"\n+14155550101,x\n')
    rows = read_contacts(path).rows
    assert rows[0].parameters == {"note": "one, two\nthree"}
    assert rows[1].row == 3


@pytest.mark.parametrize(("text", "problem"), [
    ("", "contacts.csv: empty; its first row names the columns, one of them 'to'"),
    ("to,name\n", "contacts.csv: no contacts, only the header row"),
    ("to,name\r\n\r\n\n", "contacts.csv: no contacts, only the header row"),
    ("\nto\n+14155550100\n", "contacts.csv: row 1: empty; the first row names the columns, "
                            "one of them 'to'"),
    ("to\n+1" + "5" * 5000 + "\n", "contacts.csv: row 2: '+1555555555555555555555555555555555...' "
                                  "in column 'to' is not a phone number in E.164 form (+ and "
                                  "the country code, like +14155550123)"),
    ("name,phone\nAda,+14155550100\n",
     "contacts.csv: row 1: no 'to' column for the numbers (columns: name, phone)"),
    ("to,,x\n+14155550100,a,b\n", "contacts.csv: row 1: column 2 has no name"),
    ("to,name,Name\n+14155550100,a,b\n", "contacts.csv: row 1: two columns named 'name'"),
    ("to,name\n+14155550100,Ada\n+14155550101\n",
     "contacts.csv: row 3: 1 fields, but the header names 2 columns"),
    ("to,name\n+14155550100,Ada\n415-555-0101,Bo\n",
     "contacts.csv: row 3: '415-555-0101' in column 'to' is not a phone number in E.164 form "
     "(+ and the country code, like +14155550123)"),
    ("name,to\nAda,\n", "contacts.csv: row 2: nothing in column 'to' is not a phone number in "
                        "E.164 form (+ and the country code, like +14155550123)"),
    ("to\n+14155550100\n+14155550101\n+14155550100\n",
     "contacts.csv: row 4: +14155550100 is on row 2 already; a contact gets one execution of "
     "the flow"),
    ('to,name\n+14155550100,"Ada\n', "contacts.csv: row 2: not CSV: unexpected end of data"),
])
def test_a_file_that_cannot_be_used_is_one_line_naming_the_row(tmp_path, monkeypatch, text,
                                                                problem):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ContactsError) as caught:
        read_contacts(Path(csv_file(tmp_path, text).name))
    assert str(caught.value) == problem


def test_a_file_that_is_not_utf8_or_not_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv_file(tmp_path, b"to,name\n+14155550100,Jos\xe9\n")
    with pytest.raises(ContactsError, match=r"^contacts\.csv: line 2: not UTF-8 text; save the "
                                            "file as CSV UTF-8$"):
        read_contacts(Path("contacts.csv"))
    with pytest.raises(ContactsError, match=r"^gone\.csv: cannot be read: No such file"):
        read_contacts(Path("gone.csv"))


def test_the_campaign_is_the_flow_and_the_files_content(tmp_path):
    one = read_contacts(csv_file(tmp_path, "to\n+14155550100\n", "a.csv"))
    same = read_contacts(csv_file(tmp_path, "to\n+14155550100\n", "b.csv"))
    other = read_contacts(csv_file(tmp_path, "to\n+14155550101\n", "c.csv"))
    flow = ask_flow()
    assert campaign_id(flow, one) == campaign_id(flow, same) == f"ask-{one.digest[:12]}"
    assert campaign_id(flow, other) != campaign_id(flow, one)
    assert campaign_id(ask_flow(name="other"), one) != campaign_id(flow, one)


# -- the pace ------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_bucket_spaces_takes_evenly_at_its_rate():
    time = FakeTime()
    bucket = TokenBucket(20, clock=time.clock, sleep=time.sleep)
    taken = []
    for _ in range(101):
        bucket.take()
        taken.append(time.now)
    assert taken[0] == 100.0
    assert taken[-1] - taken[0] == pytest.approx(5.0, abs=1e-3)
    gaps = [b - a for a, b in itertools.pairwise(taken)]
    assert min(gaps) >= 0.05
    assert max(sum(1 for t in taken if start <= t < start + 1) for start in taken) == 20


def test_the_bucket_lets_a_pause_pass_without_a_burst_beyond_its_size():
    time = FakeTime()
    bucket = TokenBucket(10, burst=3, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        assert bucket.take() == 0
    assert bucket.take() == pytest.approx(0.1, abs=1e-4)
    time.now += 60  # idle a minute: no more than 3 at once after it
    for _ in range(3):
        assert bucket.take() == 0
    assert bucket.take() > 0


def test_a_rate_must_be_above_zero():
    with pytest.raises(ValueError, match="above 0"):
        TokenBucket(0)


# -- the keyed rows ------------------------------------------------------------------------------


@pytest.fixture
def twilio() -> FakeTwilio:
    return FakeTwilio()


def rows_of(tmp_path: Path, count: int) -> Any:
    numbers = [contact() for _ in range(count)]
    return read_contacts(write_contacts(tmp_path / "contacts.csv", numbers))


def run(store: Any, twilio: FakeTwilio, contacts: Any, **options: Any) -> Any:
    options.setdefault("rate", 1000)
    return run_campaign(store, ask_flow(), contacts.rows, campaign=options.pop("campaign", "c"
                        + contacts.digest[:8]), from_=NUMBER, settings=SETTINGS,
                        client_factory=twilio.factory, **options)


def executions_for(store: Any, number: str) -> list[executions.Execution]:
    return [e for e in executions.list_executions(store) if e.contact_channel_address == number]


def test_each_row_gets_one_execution_and_a_second_run_starts_none(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 5)
    summary = run(store, twilio, contacts)
    assert (summary.started, summary.already, summary.failed) == (5, 0, 0)
    again = run(store, twilio, contacts)
    assert (again.started, again.already, again.failed) == (0, 5, 0)
    for index, row in enumerate(contacts.rows):
        assert len(executions_for(store, row.to)) == 1
        assert twilio.to(row.to) == [QUESTION.format(name=f"P{index}")]


def test_opted_out_numbers_are_skipped_and_tried_again_next_time(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 3)
    out = contacts.rows[1].to
    store.opt_out(out, NUMBER)
    summary = run(store, twilio, contacts, campaign="optout")
    assert (summary.started, summary.opted_out) == (2, 1)
    assert twilio.to(out) == []
    store.opt_in(out, NUMBER)
    again = run(store, twilio, contacts, campaign="optout")
    assert (again.started, again.already) == (1, 2)
    assert len(twilio.to(out)) == 1


def test_a_contact_with_an_active_execution_fails_and_the_rest_go_on(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 3)
    busy = contacts.rows[0].to
    start_execution(store, ask_flow(), to=busy, from_=NUMBER, parameters={},
                    settings=SETTINGS, client_factory=twilio.factory)
    summary = run(store, twilio, contacts)
    assert (summary.started, summary.failed) == (2, 1)
    assert summary.failures == [(2, busy, f"{busy} has an active execution of flow ask "
                                          "already")]


def test_a_row_left_starting_with_its_execution_there_is_marked_started(store, twilio,
                                                                        tmp_path):
    contacts = rows_of(tmp_path, 2)
    first = contacts.rows[0]

    def stop_after_the_start(*args: Any, **kwargs: Any) -> Any:
        start_execution(*args, **kwargs)
        raise KeyboardInterrupt  # the run dies before the row is marked started

    with pytest.raises(KeyboardInterrupt):
        run(store, twilio, contacts, campaign="left", start=stop_after_the_start)
    assert state_of(store, "left", first.to) == STARTING
    summary = run(store, twilio, contacts, campaign="left")
    assert (summary.started, summary.already) == (1, 1)
    assert state_of(store, "left", first.to) == STARTED
    assert len(executions_for(store, first.to)) == 1
    assert len(twilio.to(first.to)) == 1


def test_a_row_left_starting_without_an_execution_is_started_once_its_lease_is_over(
        store, twilio, tmp_path, monkeypatch):
    monkeypatch.setattr(campaigns, "STARTING_LEASE", 0.3)
    contacts = rows_of(tmp_path, 1)

    def die(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # after the key, before the execution

    with pytest.raises(KeyboardInterrupt):
        run(store, twilio, contacts, campaign="nothing", start=die)
    summary = run(store, twilio, contacts, campaign="nothing")
    assert summary.started == 1
    assert len(executions_for(store, contacts.rows[0].to)) == 1


def test_two_runs_at_once_start_each_contact_once(store, tmp_path, monkeypatch):
    """A second run of the same file, begun while the first has keyed a row and not yet made
    its execution, leaves that row to the first (until its lease is over): with a flow that
    ends at once (nothing active to refuse a second start), each contact still gets one
    execution and one message."""
    monkeypatch.setattr(campaigns, "STARTING_LEASE", 1.0)
    flow = Flow("hello", HELLO, "hello.json")
    contacts = rows_of(tmp_path, 4)
    twilio = FakeTwilio()
    keyed, go = threading.Event(), threading.Event()

    def slow_start(*args: Any, **kwargs: Any) -> Any:
        if kwargs["to"] == contacts.rows[1].to and not keyed.is_set():
            keyed.set()  # the row is keyed starting; its execution is not made yet
            go.wait(10)
        return start_execution(*args, **kwargs)

    def campaign(**options: Any) -> campaigns.Summary:
        return run_campaign(store, flow, contacts.rows, campaign="twice", from_=NUMBER,
                            settings=SETTINGS, client_factory=twilio.factory, rate=1000,
                            **options)

    first: list[campaigns.Summary] = []
    thread = threading.Thread(target=lambda: first.append(campaign(start=slow_start)))
    thread.start()
    assert keyed.wait(10)
    second = campaign(progress=lambda row: go.set() if row == contacts.rows[1] else None)
    thread.join(10)
    for row in contacts.rows:
        assert len(twilio.to(row.to)) == 1, row
        assert len(executions_for(store, row.to)) == 1, row
    assert first[0].started + second.started == 4
    assert first[0].failed == second.failed == 0
    assert {state_of(store, "twice", row.to) for row in contacts.rows} == {STARTED}


class Killed(BaseException):
    pass


def die_after_the_first_send(store: Any, twilio: FakeTwilio, contacts: Any, campaign: str
                             ) -> None:
    """Run ``campaign`` and die once Twilio has taken its first message: that row's execution
    is written, its progress is not."""

    def die(message: dict[str, Any]) -> None:
        raise Killed

    twilio.after_send = die
    with pytest.raises(Killed):
        run(store, twilio, contacts, campaign=campaign)
    twilio.after_send = None


def test_an_execution_made_but_never_run_is_run_and_its_message_sent_once(store, twilio,
                                                                         tmp_path):
    """The run died after the execution's row was written and Twilio took its message, but
    before its progress was written: the next run finds the execution at its start and runs
    it, and the message is not sent again."""
    contacts = rows_of(tmp_path, 1)
    number = contacts.rows[0].to
    die_after_the_first_send(store, twilio, contacts, campaign="half")
    (execution,) = executions_for(store, number)
    assert execution.step_count == 0
    release_claim(store, execution.sid)  # as its expiry would
    summary = run(store, twilio, contacts, campaign="half")
    assert summary.started == 1
    (execution,) = executions_for(store, number)
    assert execution.waiting_for == "reply"
    assert twilio.to(number) == [QUESTION.format(name="P0")]


def test_the_rows_of_two_campaigns_are_apart(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 2)
    run(store, twilio, contacts, campaign="one")
    keyed = CampaignRows(store, "two", ask_flow()).states()
    assert keyed == {}
    assert set(CampaignRows(store, "one", ask_flow()).states()) == {
        (row.row, row.to) for row in contacts.rows}


def test_a_stop_between_rows_ends_the_run_interrupted(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 4)
    done: list[str] = []
    summary = run(store, twilio, contacts, campaign="stop",
                  progress=lambda row: done.append(row.to), stopping=lambda: len(done) >= 2)
    assert summary.interrupted
    assert (summary.started, summary.done) == (2, 2)
    rest = run(store, twilio, contacts, campaign="stop")
    assert (rest.started, rest.already) == (2, 2)


def test_another_failure_fails_the_row_which_the_next_run_tries_again(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 1)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no\nthanks")

    failed = run(store, twilio, contacts, campaign="retry", start=refuse)
    assert failed.failures == [(2, contacts.rows[0].to, "RuntimeError: no thanks")]
    again = run(store, twilio, contacts, campaign="retry")
    assert again.started == 1


def test_a_send_that_fails_fails_the_row_which_the_next_run_sends(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 2)
    first, second = contacts.rows

    class Refusing(FakeTwilio):
        def create(self, to: str, **fields: Any) -> dict[str, Any]:
            if to == first.to:
                raise RuntimeError("HTTP 500")
            return super().create(to, **fields)

    refusing = Refusing()
    summary = run(store, refusing, contacts, campaign="sends")
    assert (summary.started, summary.already, summary.failed) == (1, 0, 1)
    ((row, number, reason),) = summary.failures
    assert (row, number) == (2, first.to)
    assert reason.startswith("execution FN")
    assert reason.endswith("not sent: RuntimeError: HTTP 500")
    assert state_of(store, "sends", first.to) == "failed"
    again = run(store, twilio, contacts, campaign="sends")
    assert (again.started, again.already, again.failed) == (1, 1, 0)
    assert twilio.to(first.to) == [QUESTION.format(name="P0")]
    assert twilio.to(second.to) == []


def test_no_account_fails_every_row_that_sends(store, tmp_path):
    contacts = rows_of(tmp_path, 2)
    summary = run_campaign(store, ask_flow(), contacts.rows, campaign="none", from_=NUMBER,
                           settings=SETTINGS, client_factory=lambda settings: None, rate=1000)
    assert (summary.started, summary.failed) == (0, 2)
    assert all(reason.endswith("not sent: no Twilio account is configured "
                               "(TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)")
               for _row, _number, reason in summary.failures)


def test_a_start_refused_as_already_active_names_it(store, twilio, tmp_path):
    contacts = rows_of(tmp_path, 1)

    def active(*args: Any, **kwargs: Any) -> Any:
        raise AlreadyActive("messaging")

    summary = run(store, twilio, contacts, campaign="active", start=active)
    assert summary.failed == 1


def state_of(store: Any, campaign: str, number: str) -> str:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(campaign_rows.c.state).where(
            campaign_rows.c.campaign == campaign, campaign_rows.c.to == number)).scalar_one()


def release_claim(store: Any, sid: str) -> None:
    table = executions.executions
    Database(store).run(lambda conn: conn.execute(
        sa.update(table).where(table.c.sid == sid).values(claim=None, claimed_until=None)))


def test_the_parameters_go_with_every_row_under_its_own_columns(store, twilio, tmp_path):
    contacts = read_contacts(csv_file(tmp_path, f"to,name\n{contact()},Ada\n"))
    run(store, twilio, contacts, campaign="params", parameters={"name": "X", "shop": "Main"})
    (execution,) = executions_for(store, contacts.rows[0].to)
    assert execution.context["flow"]["data"] == {"name": "Ada", "shop": "Main"}
    assert json.dumps(execution.context["trigger"]["request"]["parameters"]) == json.dumps(
        {"name": "Ada", "shop": "Main"})


def test_a_row_whose_parameters_cannot_be_carried_fails_in_one_line_and_the_rest_go_on(
        store, twilio):
    bad, good = Contact(2, contact(), {"name": "Ad\ud800"}), Contact(3, contact(), {"name": "Bo"})
    summary = run_campaign(store, ask_flow(), [bad, good], campaign="surrogate", from_=NUMBER,
                           settings=SETTINGS, client_factory=twilio.factory, rate=1000)
    assert (summary.started, summary.failed) == (1, 1)
    assert summary.failures == [(2, bad.to, "ParametersError: parameters holds a lone UTF-16 "
                                            "surrogate at name; send text as UTF-8, or escape "
                                            "it as a surrogate pair")]
    assert executions_for(store, bad.to) == []
    assert twilio.to(bad.to) == []
    assert twilio.to(good.to) == [QUESTION.format(name="Bo")]


def test_a_row_whose_execution_the_dead_run_still_holds_waits_for_the_end(store, twilio,
                                                                         tmp_path):
    """The run died inside the first row's start; its claim on that execution runs on: the
    next run starts the other rows first, then takes that one once the claim expires."""
    contacts = rows_of(tmp_path, 3)
    first = contacts.rows[0].to
    die_after_the_first_send(store, twilio, contacts, campaign="held")
    (execution,) = executions_for(store, first)
    hold_claim(store, execution.sid, seconds=1.5)  # as the dead run's claim would be held
    summary = run(store, twilio, contacts, campaign="held")
    assert (summary.started, summary.failed) == (3, 0)
    made = sorted(executions.list_executions(store), key=lambda e: e.date_updated)
    assert [e.contact_channel_address for e in made if e.contact_channel_address in {
        row.to for row in contacts.rows}][-1] == first
    assert len(twilio.to(first)) == 1


def hold_claim(store: Any, sid: str, seconds: float) -> None:
    from datetime import UTC, datetime, timedelta

    table = executions.executions
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    Database(store).run(lambda conn: conn.execute(
        sa.update(table).where(table.c.sid == sid).values(claim="dead", claimed_until=until)))


def test_a_row_another_run_started_is_not_marked_starting_again(store):
    """A run that gave up waiting for another's claim writes its row back to starting, unless
    the other run has started it meanwhile."""
    rows = CampaignRows(store, "given-up", ask_flow())
    row = Contact(2, contact(), {})
    assert rows.key(row) is not None
    rows.mark(row, STARTED, execution_sid="FN" + "1" * 32)
    rows.mark(row, STARTING, error="ClaimTimeout: busy with another request")
    assert rows.current(row).state == STARTED
    other = Contact(3, contact(), {})
    rows.key(other)
    rows.mark(other, STARTING, error="ClaimTimeout: busy with another request")
    assert rows.current(other).state == STARTING
