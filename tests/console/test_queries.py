"""What the console's pages read, on SQLite and PostgreSQL: paging by key, the filters, today's
counts in the console's time zone, live calls, failures, voicemails heard and not, and
conversations threaded by contact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from switchboard.callbacks.console import queries, tables
from switchboard.callbacks.store import Store, schema
from tests.console.conftest import CALLER, NUMBER, Clock, add_call, add_message, add_voicemail, sid

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clocked(database_url: str) -> Iterator[tuple[Store, Clock]]:
    assert all(t.metadata is schema.metadata for t in tables.TABLES)  # made by create_all
    clock = Clock(START)
    store = Store(database_url, clock=clock)
    store.create_all()
    try:
        yield store, clock
    finally:
        store.close()


def read(store: Store) -> Any:
    return store.engine.connect()


def test_calls_are_paged_newest_first_without_gaps_or_repeats(
    clocked: tuple[Store, Clock],
) -> None:
    store, clock = clocked
    made = []
    for n in range(23):
        if n % 4:  # some calls share their second: the SID orders them
            clock.advance(1)
        made.append(add_call(store, status="completed"))
    expected = [row["sid"] for row in _all_calls(store)]
    seen: list[str] = []
    with read(store) as conn:
        page = queries.list_calls(conn, queries.CallFilters(), size=5)
        assert page.newer is None
        pages = [page]
        while page.older is not None:
            page = queries.list_calls(conn, queries.CallFilters(), before=page.older, size=5)
            pages.append(page)
        for page in pages:
            seen += [row["sid"] for row in page.rows]
        assert seen == expected
        assert sorted(seen) == sorted(made)
        # Back from the last page to the first, by the newer cursors.
        back = pages[-1]
        walked = [back.rows]
        while back.newer is not None:
            back = queries.list_calls(conn, queries.CallFilters(), after=back.newer, size=5)
            walked.append(back.rows)
        assert [row["sid"] for rows in reversed(walked) for row in rows] == expected
        assert [len(p.rows) for p in pages] == [5, 5, 5, 5, 3]


def _all_calls(store: Store) -> list[dict[str, Any]]:
    from switchboard.callbacks.store.schema import calls

    with read(store) as conn:
        stmt = sa.select(calls.c.sid, calls.c.created_at).order_by(
            calls.c.created_at.desc(), calls.c.sid.desc())
        return [dict(row) for row in conn.execute(stmt).mappings()]


def test_a_cursor_survives_its_url_and_junk_is_no_cursor() -> None:
    cursor = queries.Cursor(START + timedelta(microseconds=5), "CA123")
    assert queries.Cursor.parse(cursor.encode()) == cursor
    for junk in (None, "", "CA123", "2026~", "nonsense~CA1", "20260310T120000.000000~"):
        assert queries.Cursor.parse(junk) is None


def test_calls_filtered_by_number_status_and_days(clocked: tuple[Store, Clock]) -> None:
    store, clock = clocked
    other = "+15555550177"
    ours_out = add_call(store, status="busy", from_=NUMBER, to=CALLER)
    clock.advance(3600)
    theirs = add_call(store, status="completed", from_=CALLER, to=NUMBER)
    clock.advance(86400)
    stranger = add_call(store, status="no-answer", from_=other, to=NUMBER)
    with read(store) as conn:
        def sids(**filters: Any) -> list[str]:
            page = queries.list_calls(conn, queries.CallFilters(**filters))
            return [row["sid"] for row in page.rows]

        assert sids(number=CALLER) == [theirs, ours_out]
        assert sids(number=NUMBER) == [stranger, theirs, ours_out]
        assert sids(number=NUMBER, status="busy") == [ours_out]
        assert sids(status="no-answer") == [stranger]
        assert sids(since=START + timedelta(days=1)) == [stranger]
        assert sids(until=START + timedelta(minutes=30)) == [ours_out]
        assert sids(number=CALLER, since=START + timedelta(minutes=30),
                    until=START + timedelta(days=1)) == [theirs]
        page = queries.list_calls(conn, queries.CallFilters(number=NUMBER), size=2)
        assert [row["sid"] for row in page.rows] == [stranger, theirs]
        rest = queries.list_calls(conn, queries.CallFilters(number=NUMBER), before=page.older,
                                  size=2)
        assert [row["sid"] for row in rest.rows] == [ours_out]
        assert rest.older is None


@pytest.mark.parametrize(
    ("typed", "number"),
    [("(555) 555-0100", "+5555550100"), ("+1 555 555 0100", "+15555550100"),
     ("15555550100", "+15555550100"), ("client:alice", "client:alice"),
     ("whatsapp:+15555550100", "whatsapp:+15555550100"), ("  ", None)],
)
def test_a_number_is_taken_as_typed_or_as_digits(typed: str, number: str | None) -> None:
    assert queries.normalise_number(typed) == number


def test_today_is_counted_from_midnight_in_the_console_zone(
    clocked: tuple[Store, Clock],
) -> None:
    store, clock = clocked
    zone = ZoneInfo("America/Los_Angeles")
    clock.now = datetime(2026, 3, 10, 23, 30, tzinfo=zone)  # yesterday there
    add_call(store)
    add_message(store, "late")
    clock.now = datetime(2026, 3, 11, 0, 30, tzinfo=zone)
    add_call(store)
    add_call(store, status="ringing")  # no final callback yet: live
    add_message(store, "early")
    midnight = datetime(2026, 3, 11, tzinfo=zone)
    with read(store) as conn:
        seen = queries.overview(conn, now=clock.now, day_start=midnight)
    assert (seen.calls_today, seen.messages_today, seen.live_count) == (2, 1, 1)
    assert [call["status"] for call in seen.live] == ["ringing"]
    assert len(seen.recent_calls) == 3
    later = clock.now + queries.LIVE_WINDOW + timedelta(minutes=1)
    with read(store) as conn:
        stale = queries.overview(conn, now=later, day_start=midnight)
    assert stale.live_count == 0  # a call that never said it ended is not live forever


def test_failures_are_the_latest_of_every_kind_newest_first(
    clocked: tuple[Store, Clock],
) -> None:
    store, clock = clocked
    expected = []
    for n in range(14):
        clock.advance(10)
        status = ["busy", "no-answer", "failed", "completed"][n % 4]
        call_sid = add_call(store, status=status)
        if status != "completed":
            expected.append((call_sid, status))
    clock.advance(10)
    message_sid = sid("SM")
    store.record_message_status({"MessageSid": message_sid, "MessageStatus": "undelivered",
                                 "ErrorCode": "30003", "From": NUMBER, "To": CALLER}, None)
    expected.append((message_sid, "undelivered"))
    with read(store) as conn:
        found = queries.failures(conn, size=5)
    assert [(row["resource_sid"], row["status"]) for row in found] == expected[::-1][:5]
    assert found[0]["error_code"] == "30003"
    assert found[0]["to"] == CALLER


def test_voicemails_heard_and_unheard(clocked: tuple[Store, Clock]) -> None:
    store, clock = clocked
    first = add_voicemail(store, add_call(store))
    clock.advance(60)
    second = add_voicemail(store, add_call(store, from_="+15555550177"))
    clock.advance(60)
    dialled = sid("RE")  # a <Dial record> recording: not a voicemail
    store.record_recording_status({"RecordingSid": dialled, "CallSid": add_call(store),
                                   "RecordingStatus": "completed", "RecordingSource": "DialVerb",
                                   "RecordingDuration": "30"}, None)
    with store.engine.connect() as conn:
        page = queries.voicemails(conn)
        assert [row["sid"] for row in page.rows] == [second, first]
        assert page.rows[0]["caller"] == "+15555550177"
        assert queries.unheard_count(conn) == 2
    with store.engine.begin() as conn:
        queries.set_heard(conn, second, True, clock.now)
        queries.set_heard(conn, second, True, clock.now + timedelta(hours=1))  # once
    with read(store) as conn:
        assert queries.unheard_count(conn) == 1
        assert [row["sid"] for row in queries.voicemails(conn, unheard_only=True).rows] == [first]
        heard_at = queries.recording(conn, second)["heard_at"]  # type: ignore[index]
        assert heard_at == clock.now
    with store.engine.begin() as conn:
        queries.set_heard(conn, second, False, clock.now)
    with read(store) as conn:
        assert queries.unheard_count(conn) == 2


def test_conversations_are_threaded_by_contact(clocked: tuple[Store, Clock]) -> None:
    store, clock = clocked
    other = "+15555550177"
    add_message(store, "first from the caller")
    clock.advance(60)
    add_message(store, "hello from another", from_=other)
    clock.advance(60)
    reply = sid("SM")
    store.record_message_status({"MessageSid": reply, "MessageStatus": "delivered",
                                 "From": NUMBER, "To": CALLER, "Body": "our reply"}, None)
    store.opt_out(other, NUMBER)
    with read(store) as conn:
        found = queries.conversations(conn)
        assert [row["contact"] for row in found.rows] == [CALLER, other]
        assert [row["count"] for row in found.rows] == [2, 1]
        assert found.rows[0]["latest"]["sid"] == reply
        assert found.rows[1]["opted_out"] == [NUMBER]
        assert found.older is None
        only = queries.conversations(conn, number=other)
        assert [row["contact"] for row in only.rows] == [other]
        paged = queries.conversations(conn, size=1)
        assert [row["contact"] for row in paged.rows] == [CALLER]
        assert paged.older is not None
        second = queries.conversations(conn, size=1, before=paged.older)
        assert [row["contact"] for row in second.rows] == [other]
        assert second.older is None
        thread = queries.thread(conn, CALLER)
        assert next(row["sid"] for row in thread.rows) == reply
        assert len(thread.rows) == 2


def test_conversation_pages_never_repeat_a_contact(clocked: tuple[Store, Clock]) -> None:
    store, clock = clocked
    contacts = [f"+1555000{n:04d}" for n in range(12)]
    for n in range(60):  # contacts text again and again, in an order that keeps changing
        clock.advance(1 + n % 3)
        add_message(store, f"text {n}", from_=contacts[(n * 7) % 12 if n % 5 else n % 12])
    with read(store) as conn:
        expected = [row["contact"] for row in queries.conversations(conn, size=100).rows]
        seen: list[str] = []
        page = queries.conversations(conn, size=5)
        while True:
            seen += [row["contact"] for row in page.rows]
            if page.older is None:
                break
            page = queries.conversations(conn, size=5, before=page.older)
        ours = queries.conversations(conn, number=NUMBER, size=100)
    assert seen == expected
    assert sorted(seen) == sorted(set(seen)) == sorted(contacts)
    assert [row["contact"] for row in ours.rows] == expected


def test_a_call_s_timeline_holds_what_the_store_knows(clocked: tuple[Store, Clock]) -> None:
    store, clock = clocked
    call_sid = add_call(store, status="ringing", FromCity="SPRINGFIELD")
    store.save_voice_session(call_sid, {"attempts": 2})
    clock.advance(5)
    child = sid("CA")
    store.record_call({"CallSid": child, "ParentCallSid": call_sid, "From": NUMBER,
                       "To": "+15557770000", "CallStatus": "busy", "Direction": "outbound-dial"})
    clock.advance(5)
    recording = add_voicemail(store, call_sid)
    clock.advance(5)
    store.record_call_status({"CallSid": call_sid, "CallStatus": "completed",
                              "SequenceNumber": "3", "CallDuration": "40"}, None)
    with read(store) as conn:
        detail = queries.call_detail(conn, call_sid)
        assert queries.call_detail(conn, "CA-none") is None
    assert detail is not None
    titles = [event.title for event in detail.events]
    assert titles[0] == "Inbound call from +15555550100 to +15551230000"
    assert detail.events[0].fields["FromCity"] == "SPRINGFIELD"
    assert "Dialled +15557770000: busy" in titles
    assert f"Recording {recording} (RecordVerb, 7 s)" in titles
    assert "Recording status: completed" in titles
    assert "Call status: completed (#3)" in titles
    status = next(e for e in detail.events if e.title.startswith("Call status"))
    assert status.answer == "204: stored"
    assert status.fields["CallDuration"] == "40"
    assert [e.at for e in detail.events] == sorted(e.at for e in detail.events)
    session = next(e for e in detail.events if e.kind == "session")
    assert session.fields == {"attempts": 2}
    assert [c["sid"] for c in detail.children] == [child]


def test_a_timeline_source_can_be_added(clocked: tuple[Store, Clock],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = clocked
    call_sid = add_call(store)

    def executions(conn: Any, call: dict[str, Any], detail: Any) -> list[Any]:
        return [queries.TimelineEvent(call["created_at"], "flow", "Flow ran")]

    monkeypatch.setattr(queries, "TIMELINE_SOURCES", [*queries.TIMELINE_SOURCES, executions])
    with read(store) as conn:
        detail = queries.call_detail(conn, call_sid)
    assert detail is not None
    assert "Flow ran" in [e.title for e in detail.events]
