"""The notice of a voicemail is in the database before Twilio gets its answer: a process
killed right after answering (SIGKILL, before its thread claimed the notice) leaves a row that
another process sends, once; a row the database cannot take gets the callback a 503, so that
Twilio sends it again."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from switchboard.callbacks.notices import voicemail_notices
from switchboard.callbacks.security import signed_headers
from switchboard.emulator import Emulator

from . import notices_refused
from .conftest import (
    CALLER,
    NUMBER,
    OPERATOR,
    PUBLIC_URL,
    app_settings,
    make_app,
    notices_of,
    post,
    recording_params,
    sid,
    texts_about,
)

ROOT = Path(__file__).resolve().parents[2]

#: A process of the app that answers one recording status callback, says the answer's status
#: on its stdout and waits to be killed. Its notices' thread never runs, so that the kill falls
#: where one can in production: after the answer, before the thread's claim.
ANSWER_AND_WAIT = textwrap.dedent("""
    import json, sys, threading
    from switchboard.callbacks import create_app
    from switchboard.callbacks.notices import NOTICES_EXTENSION

    settings, url, params, headers = json.loads(sys.argv[1])
    app = create_app(settings)
    notices = app.extensions[NOTICES_EXTENSION]
    notices._run = threading.Event().wait
    answer = app.test_client().post(url, data=params, headers=headers)
    print(answer.status_code, flush=True)
    threading.Event().wait()
""")


def answered_then_killed(emulator: Emulator, database_url: str, params: dict[str, str]) -> int:
    """Run :data:`ANSWER_AND_WAIT` for ``params`` in a new process, kill it with SIGKILL once
    it has answered; the status it answered."""
    url = PUBLIC_URL + "/voice/recording-status"
    settings = app_settings(emulator, database_url)
    headers = signed_headers(emulator.auth_token, url, params)
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-c", ANSWER_AND_WAIT, json.dumps([settings, url, params, headers])],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=errors,
        )
        assert child.stdout is not None
        try:
            ready, _, _ = select.select([child.stdout], [], [], 60)
            line = child.stdout.readline() if ready else b""
            if not line:
                child.kill()
                child.wait(10)
                errors.seek(0)
                pytest.fail("the app's process did not answer: "
                            + errors.read().decode(errors="replace")[-2000:])
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
            child.stdout.close()
    return int(line)


def notice_rows(app: Flask) -> list[dict]:
    with app.extensions["switchboard"].store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(voicemail_notices)).mappings()]


def test_a_process_killed_after_answering_leaves_a_notice_another_process_sends_once(
    emulator: Emulator, database_url: str,
) -> None:
    call = emulator.state.create_call(emulator.account_sid, to=NUMBER, **{"from": CALLER})
    recording_sid = sid("RE")
    params = recording_params(call["sid"], recording_sid, duration=23)
    assert answered_then_killed(emulator, database_url, params) == 204

    second, third = make_app(emulator, database_url), make_app(emulator, database_url)
    rows = notice_rows(second)
    assert len(rows) == 1, "the process killed after its answer left no row of the notice"
    [row] = rows
    assert row["recording_sid"] == recording_sid
    assert row["finished_at"] is None
    notices = [notices_of(second), notices_of(third)]
    # queued a moment ago: left to the thread of the process that queued it, for a while
    assert [each.recover() for each in notices] == [0, 0]

    store = second.extensions["switchboard"].store
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(voicemail_notices)
            .where(voicemail_notices.c.recording_sid == recording_sid)
            .values(claimed_at=row["claimed_at"] - timedelta(seconds=notices[0].unclaimed_after))
        )
    taken: list[int] = []
    looks = [threading.Thread(target=lambda each=each: taken.append(each.recover()))
             for each in notices]
    for look in looks:
        look.start()
    for look in looks:
        look.join(30)
    assert sorted(taken) == [0, 1]
    assert [each.recover() for each in notices] == [0, 0]

    [text] = texts_about(emulator, recording_sid)
    assert text["to"] == OPERATOR
    assert text["from"] == NUMBER
    assert text["body"] == (f"New voicemail from {CALLER} (23 s): "
                            f"{PUBLIC_URL}/console/voicemails/{recording_sid}")
    assert sum(each.counts["recording", "recovered"] for each in notices) == 1
    [row] = notice_rows(second)
    assert row["finished_at"] is not None
    assert row["texts_sent"] == 1
    for app in (second, third):
        app.extensions["switchboard"].store.close()




def test_a_notice_the_database_does_not_take_gets_the_callback_a_503_and_goes_out_once(
    emulator: Emulator, database_url: str,
) -> None:
    """The recording's status is stored, its notice's row refused: Twilio is answered 503, so
    that it sends the callback again, rather than 204 with a notice no row keeps. The thread
    tries the claim all the same: once the database takes rows again, one text goes out,
    whether or not Twilio's retry comes."""
    call = emulator.state.create_call(emulator.account_sid, to=NUMBER, **{"from": CALLER})
    app = make_app(emulator, database_url)
    notices = notices_of(app, claim_backoff=(0.2, 0.5, 1.0, 2.0))
    store = app.extensions["switchboard"].store
    client = app.test_client()
    recording_sid = sid("RE")
    callback = recording_params(call["sid"], recording_sid)
    with notices_refused(store):
        answer = post(client, emulator.auth_token, "/voice/recording-status", callback)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
    assert notices.wait_idle(10)
    assert len(texts_about(emulator, recording_sid)) == 1
    assert post(client, emulator.auth_token, "/voice/recording-status", callback).status_code \
        == 204
    assert notices.wait_idle(10)
    assert len(texts_about(emulator, recording_sid)) == 1
    assert notices.counts["recording", "duplicate"] == 1
    [row] = notice_rows(app)
    assert row["texts_sent"] == 1
    store.close()
