"""20,000 signed status callbacks from 24 connections at once to gunicorn with 4 workers, on
SQLite and on PostgreSQL: every one answered 204, every distinct callback stored once, every
call and message at its final status."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from switchboard.callbacks.store import Store
from tests.load.figures import report
from tests.load.servers import TOKEN, Gunicorn, no_secrets, rate_figures, send_all
from tests.load.workload import Workload, make_workload

CALLS = 2_000
MESSAGES = 2_000
TOTAL = 20_000
THREADS = 24
WORKERS = 4


def verify_store(url: str, work: Workload) -> None:
    """Every call and message at its final status; its distinct callbacks stored once each."""
    store = Store(url)
    try:
        wrong_status, wrong_callbacks = [], []
        for sid, final in work.final.items():
            row = store.get_call(sid) if sid.startswith("CA") else store.get_message(sid)
            if row is None or row["status"] != final:
                wrong_status.append((sid, final, row and row["status"]))
            stored = Counter(c["status"] for c in store.status_callbacks(sid))
            expected = Counter(work.statuses[sid])
            if stored != expected:
                wrong_callbacks.append((sid, dict(expected), dict(stored)))
        assert not wrong_status, f"{len(wrong_status)} wrong final statuses: {wrong_status[:5]}"
        assert not wrong_callbacks, (
            f"{len(wrong_callbacks)} resources with callbacks lost or doubled: "
            f"{wrong_callbacks[:5]}"
        )
    finally:
        store.close()


def test_20000_status_callbacks_under_4_workers(load_database_url: str, tmp_path: Path) -> None:
    backend = load_database_url.split(":", 1)[0].split("+")[0]
    work = make_workload(5, calls=CALLS, messages=MESSAGES, total=TOTAL)
    assert len(work.callbacks) == TOTAL
    requests = [(c.path, c.params, c.headers) for c in work.callbacks]
    log = tmp_path / "gunicorn.log"
    with Gunicorn(load_database_url, log, workers=WORKERS) as server:
        answers, elapsed = send_all(server.port, requests, threads=THREADS)
        worker_count = len(server.worker_pids())
    text = log.read_text(errors="replace")

    statuses = Counter(a.status for a in answers)
    failures = [(c.path, c.sid, c.status, a.status, a.error, a.body[:200])
                for c, a in zip(work.callbacks, answers, strict=True) if a.status != 204]
    report(
        f"status callbacks, gunicorn {WORKERS} workers, {backend}",
        f"{rate_figures(answers, elapsed)} ({work.distinct} distinct callbacks, {THREADS} "
        f"connections); answers {dict(statuses)}",
    )
    assert not [f for f in failures if f[3] is not None and f[3] >= 500], failures[:5]
    assert not failures, f"{len(failures)} callbacks not answered 204: {failures[:5]}"
    assert worker_count == WORKERS
    assert "database is locked" not in text
    assert "Traceback" not in text, text[-3000:]
    assert not no_secrets(text, TOKEN)
    verify_store(load_database_url, work)
    if backend == "sqlite":
        store = Store(load_database_url)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        store.close()


