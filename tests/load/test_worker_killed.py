"""Gunicorn workers killed (SIGKILL) in the middle of a load of status callbacks: every
callback answered 204 is stored, the master replaces the workers, and once Twilio has sent
the unanswered ones again, every callback is stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from switchboard.callbacks.store import Store
from tests.load.figures import report
from tests.load.servers import TOKEN, Gunicorn, no_secrets, send_all
from tests.load.test_status_load import verify_store
from tests.load.workload import make_workload

TOTAL = 5_000
KILL_AT = (1_000, 2_500, 4_000)


def test_workers_killed_during_load(load_database_url: str, tmp_path: Path) -> None:
    backend = load_database_url.split(":", 1)[0].split("+")[0]
    work = make_workload(11, calls=500, messages=500, total=TOTAL, tag="d")
    requests = [(c.path, c.params, c.headers) for c in work.callbacks]
    rng = random.Random(3)
    killed: list[int] = []
    lock = threading.Lock()
    log = tmp_path / "gunicorn.log"
    with Gunicorn(load_database_url, log, workers=4) as server:

        def maybe_kill(done: int) -> None:
            if done in KILL_AT:
                with lock:
                    pid = rng.choice(server.worker_pids())
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

        answers, elapsed = send_all(server.port, requests, threads=16, on_progress=maybe_kill)
        server.wait_healthy()
        workers_after = server.worker_pids()
        store = Store(load_database_url)
        try:
            answered = [c for c, a in zip(work.callbacks, answers, strict=True) if a.status == 204]
            lost = [c for c in answered
                    if c.status not in [s["status"] for s in store.status_callbacks(c.sid)]]
            if store.dialect == "sqlite":
                with store.engine.connect() as conn:
                    integrity = conn.execute(sa.text("PRAGMA integrity_check")).scalar()
            else:
                integrity = "ok"
        finally:
            store.close()
        unanswered = [c for c, a in zip(work.callbacks, answers, strict=True) if a.status != 204]
        again, _ = send_all(server.port, [(c.path, c.params, c.headers) for c in unanswered],
                            threads=4)
        text = server.stop()

    outcomes = Counter(a.status if a.status is not None else a.error for a in answers)
    report(f"workers killed during load, {backend}",
           f"{len(killed)} of 4 workers SIGKILLed during {TOTAL} callbacks ({elapsed:.1f} s): "
           f"answers {dict(outcomes)}; {len(lost)} answered 204 but lost; "
           f"{len(unanswered)} sent again")
    assert len(killed) == len(KILL_AT)
    assert not set(killed) & set(workers_after)
    assert len(workers_after) == 4, "the master did not replace the killed workers"
    assert not [a for a in answers if a.status is not None and a.status >= 500]
    assert not lost, f"{len(lost)} callbacks answered 204 were lost: {lost[:3]}"
    assert integrity == "ok"
    assert [a.status for a in again] == [204] * len(unanswered)
    verify_store(load_database_url, work)
    assert not no_secrets(text, TOKEN)
