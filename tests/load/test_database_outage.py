"""The database goes away in the middle of a run and comes back, under gunicorn with 4 workers:
voice and SMS webhooks keep getting valid TwiML, status callbacks get 503 (Twilio retries),
nothing answered 204 is missing, and the same server recovers without a restart.

PostgreSQL: a server of the suite's own (``dedicated_postgres``), stopped and started with
pg_ctl. SQLite: the database's folder swapped for a plain file (root ignores permissions)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.store import Store
from switchboard.callbacks.twiml import parse_twiml
from tests.load.conftest import PostgresServer, SQLiteOutage
from tests.load.figures import report
from tests.load.servers import TOKEN, Gunicorn, Sender, no_secrets
from tests.load.twilio_traffic import Sent, Traffic

#: Answers to collect before, during and after the outage.
PER_PHASE = 300


@dataclass
class Outage:
    backend: str
    url: str
    take_away: Callable[[], None]
    give_back: Callable[[], None]


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "sqlite":
        folder = tmp_path / "data"
        folder.mkdir()
        url = f"sqlite:///{folder / 'switchboard.sqlite3'}"
        sqlite = SQLiteOutage(url)
        yield Outage("sqlite", url, sqlite.take_away, sqlite.give_back)
        return
    server: PostgresServer = request.getfixturevalue("dedicated_postgres")
    name = f"outage_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()

    def give_back() -> None:
        server.start()
        server.wait_ready()

    yield Outage("postgresql", sa.make_url(server.url).set(database=name).render_as_string(False),
                 lambda: server.stop("fast"), give_back)


def stored_once(store: Store, sent: Sent) -> int:
    sid = sent.params.get("CallSid") or sent.params["MessageSid"]
    return len(store.status_callbacks(sid))


def test_the_database_goes_away_and_comes_back(outage: Outage, tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    with Gunicorn(outage.url, log, workers=4) as server:
        workers_before = server.worker_pids()
        traffic = Traffic(server.port).start()
        try:
            traffic.wait_for(PER_PHASE)
            traffic.set_database_up(False)
            down_at = time.monotonic()
            outage.take_away()
            traffic.wait_for(PER_PHASE)
            health_down = server.health()
            outage.give_back()
            traffic.set_database_up(True)
            up_at = time.monotonic()
            deadline = time.monotonic() + 30
            while server.health() != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            recovered_in = time.monotonic() - up_at
            traffic.wait_for(PER_PHASE)
        finally:
            sent = traffic.stop()
        assert server.health() == 200, "the server did not recover by itself"
        assert server.worker_pids() == workers_before, "workers died or were replaced"

        answers = Counter((s.kind, s.answer.status) for s in sent)
        statuses = [s for s in sent if s.kind.endswith("-status")]
        retried = [s for s in statuses if s.answer.status != 204]
        store = Store(outage.url)
        try:
            # Nothing answered 204 is missing; a 503 may (rarely) have been stored all the
            # same when the database died between its commit and its answer.
            missing = [s for s in statuses if s.answer.status == 204 and stored_once(store, s) != 1]
            stored_anyway = sum(stored_once(store, s) for s in retried)
            # Twilio sends the refused callbacks again: now they are all taken, once each.
            sender = Sender(server.port)
            again = [sender.post(s.path, s.params, s.headers).status for s in retried]
            sender.close()
            doubled = [s for s in statuses if stored_once(store, s) != 1]
        finally:
            store.close()
        text = server.stop()  # a graceful stop: the workers write the rows they still hold

    # The call or message row of every voice and SMS webhook, those answered during the
    # outage included, is in the database: they waited in the workers for it to come back.
    webhooks = [s for s in sent if not s.kind.endswith("-status")]
    store = Store(outage.url)
    try:
        unrecorded = [
            s for s in webhooks
            if (store.get_message(s.params["MessageSid"]) if s.kind == "sms"
                else store.get_call(s.params["CallSid"])) is None
        ]
    finally:
        store.close()
    during = sum(1 for s in webhooks if not s.database_up)

    report(
        f"database outage, {outage.backend}",
        f"{len(sent)} webhooks; outage {up_at - down_at:.1f} s; healthy again "
        f"{recovered_in:.2f} s after the database returned; answers "
        + ", ".join(f"{k} {v}: {n}" for (k, v), n in sorted(answers.items(), key=str))
        + f"; {len(retried)} callbacks refused then retried ({stored_anyway} already stored)"
        + f"; {len(webhooks) - len(unrecorded)} of {len(webhooks)} call and message rows "
        f"stored ({during} of those webhooks answered during the outage)",
    )
    assert not unrecorded, f"{len(unrecorded)} call or message rows never written"
    assert health_down == 503
    assert not [s for s in sent if s.answer.status is None], "a request got no answer"
    for s in sent:
        if s.kind.endswith("-status"):
            assert s.answer.status in (204, 503), (s.kind, s.answer.status, s.answer.body)
        else:
            assert s.answer.status == 200, (s.kind, s.answer.status, s.answer.body)
            parse_twiml(s.answer.body)
    assert retried, "no callback was refused: the database never went away"
    apologies = [s for s in sent if s.kind == "menu" and VOICE_APOLOGY.encode() in s.answer.body]
    assert apologies, "no voice webhook met the outage"
    assert all(s.answer.status == 204 for s in statuses[-20:]), "not recovered at the end"
    assert not missing, f"{len(missing)} callbacks answered 204 but not stored: {missing[:3]}"
    assert again == [204] * len(retried)
    assert not doubled, f"{len(doubled)} callbacks stored more or less than once"
    assert "Traceback" not in text, text[-3000:]
    assert not no_secrets(text, TOKEN, PostgresServer.password)
    assert "could not be reached" in text or "unavailable" in text
