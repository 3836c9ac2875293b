"""A notice claimed by a process that ended before sending it (killed, crashed) is sent by the
next process to serve a request, once, even with two processes looking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from switchboard.callbacks.notices import Voicemail, voicemail_notices
from switchboard.emulator import Emulator

from .conftest import CALLER, NUMBER, OPERATOR, PUBLIC_URL, make_app, notices_of, sid, texts_about


def left_claimed(app: Flask, recording_sid: str, call_sid: str, seconds_ago: float) -> None:
    """The row a process leaves when it ends between its claim and its sends."""
    store = app.extensions["switchboard"].store
    voicemail_notices.create(store.engine, checkfirst=True)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(voicemail_notices), {
            "recording_sid": recording_sid, "call_sid": call_sid,
            "claimed_at": datetime.now(UTC) - timedelta(seconds=seconds_ago),
            "claimed_by": "gone-host:4242", "texts_sent": 0, "emails_sent": 0,
            "duration": 9, "link": f"{PUBLIC_URL}/console/voicemails/{recording_sid}",
        })


def test_a_notice_claimed_and_never_sent_goes_out_from_the_next_processes_once(
    emulator: Emulator, database_url: str,
) -> None:
    call = emulator.state.create_call(emulator.account_sid, to=NUMBER, **{"from": CALLER})
    first, second = make_app(emulator, database_url), make_app(emulator, database_url)
    stale, recent = sid("RE"), sid("RE")
    left_claimed(first, stale, call["sid"], seconds_ago=120)
    left_claimed(first, recent, call["sid"], seconds_ago=1)  # its claimer may still be sending
    notices = [notices_of(first, stale_after=60), notices_of(second, stale_after=60)]
    for app in (first, second):
        assert app.test_client().get("/healthz").status_code in (200, 503)
    for each in notices:
        assert each.wait_idle(10)
    [text] = texts_about(emulator, stale)
    assert text["to"] == OPERATOR
    assert text["from"] == NUMBER
    assert text["body"] == (f"New voicemail from {CALLER} (9 s): "
                            f"{PUBLIC_URL}/console/voicemails/{stale}")
    assert texts_about(emulator, recent) == []
    assert sum(each.counts["recording", "recovered"] for each in notices) == 1
    store = first.extensions["switchboard"].store
    with store.engine.connect() as conn:
        rows = {row["recording_sid"]: row for row in
                conn.execute(sa.select(voicemail_notices)).mappings()}
    assert rows[stale]["finished_at"] is not None
    assert rows[stale]["texts_sent"] == 1
    assert rows[stale]["claimed_by"] != "gone-host:4242"
    assert rows[recent]["finished_at"] is None
    for app in (first, second):
        app.extensions["switchboard"].store.close()


def test_a_table_made_without_the_recordings_details_gets_them(
    emulator: Emulator, sqlite_url: str,
) -> None:
    app = make_app(emulator, sqlite_url)
    store = app.extensions["switchboard"].store
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE voicemail_notices")
        conn.exec_driver_sql(
            "CREATE TABLE voicemail_notices (recording_sid VARCHAR PRIMARY KEY, call_sid VARCHAR,"
            " claimed_at VARCHAR NOT NULL, claimed_by VARCHAR NOT NULL, finished_at VARCHAR,"
            " texts_sent INTEGER NOT NULL DEFAULT 0, emails_sent INTEGER NOT NULL DEFAULT 0,"
            " failure VARCHAR)")
    notices = notices_of(app)
    call = emulator.state.create_call(emulator.account_sid, to=NUMBER, **{"from": CALLER})
    recording_sid = sid("RE")
    notices.submit(Voicemail(recording_sid, call["sid"], 5, f"{PUBLIC_URL}/x/{recording_sid}"))
    assert notices.wait_idle(10)
    assert len(texts_about(emulator, recording_sid)) == 1
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("voicemail_notices")}
    assert {"duration", "link"} <= columns
    store.close()
