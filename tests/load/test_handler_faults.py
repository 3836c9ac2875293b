"""Handlers that raise, hang past SWITCHBOARD_HANDLER_TIMEOUT or return garbage, many at once
under gunicorn with 4 workers: every caller still gets valid TwiML (status callbacks a 503)
well inside Twilio's 15-second window.

With sync workers a hanging handler holds its worker until the handler timeout, so the hangs
a server absorbs at once are about workers x 15 s / timeout; with threads (gthread) each worker
waits on several at a time."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.twiml import parse_twiml
from tests.load.figures import report
from tests.load.servers import TOKEN, Answer, Gunicorn, Sender, no_secrets, percentile
from tests.load.twilio_traffic import webhook

HANDLER_TIMEOUT = 3.0
TWILIO_WINDOW = 15.0
VOICE = ["raise", "garbage", "bad-xml", "messaging", "session-then-raise", "fallback-raise"]
SMS = ["sms-raise", "sms-garbage"]


def params_for(path: str, n: int) -> dict[str, str]:
    kind = "sms" if "sms" in path else "voice"
    if "status" in path:
        kind = "call-status"
    for m in range(n * 5, n * 5 + 5):
        got_kind, _, params, _ = webhook(m)
        if got_kind == kind:
            return params
    raise AssertionError(kind)


@pytest.mark.parametrize(("worker_class", "threads", "hangs"),
                         [("sync", 1, 8), ("gthread", 8, 24)])
def test_failing_handlers_answer_in_time(
    worker_class: str, threads: int, hangs: int, sqlite_url: str, tmp_path: Path
) -> None:
    paths = [f"/broken/{p}" for p in VOICE * 10 + SMS * 10 + ["status-raise"] * 10]
    paths += ["/broken/hang", "/broken/sms-hang", "/broken/status-hang"] * (hangs // 3)
    paths += ["/broken/hang"] * (hangs % 3)
    env = {"SWITCHBOARD_HANDLER_TIMEOUT": str(HANDLER_TIMEOUT),
           "GUNICORN_WORKER_CLASS": worker_class, "GUNICORN_THREADS": str(threads)}
    log = tmp_path / "gunicorn.log"
    with Gunicorn(sqlite_url, log, app="tests.load.gunicorn_app:app", env=env) as server:

        def send(item: tuple[int, str]) -> tuple[str, Answer]:
            n, path = item
            sender = Sender(server.port, timeout=60)
            try:
                return path, sender.post(path, params_for(path, n))
            finally:
                sender.close()

        started = time.perf_counter()
        with ThreadPoolExecutor(len(paths)) as pool:
            answers = list(pool.map(send, enumerate(paths)))
        elapsed = time.perf_counter() - started
        text = server.stop()

    slowest = max(a.seconds for _, a in answers)
    hang_times = [a.seconds for p, a in answers if p.endswith("hang")]
    report(f"failing handlers, gunicorn 4 {worker_class} workers x {threads} threads",
           f"{len(paths)} at once ({hangs} hanging past the {HANDLER_TIMEOUT:g} s limit) in "
           f"{elapsed:.1f} s; slowest answer {slowest:.1f} s, hanging ones p50 "
           f"{percentile(hang_times, 0.5):.1f} s; answers "
           f"{dict(Counter(a.status for _, a in answers))}")
    for path, answer in answers:
        assert answer.status is not None, (path, answer.error)
        assert answer.seconds < TWILIO_WINDOW, (path, answer.seconds)
        if "status" in path:
            assert answer.status == 503, (path, answer.status)
            continue
        assert answer.status == 200, (path, answer.status, answer.body)
        root = parse_twiml(answer.body)
        if "sms" in path:
            assert len(root) == 0, answer.body
        else:
            said = " ".join(" ".join(e.itertext()) for e in root.iter("Say"))
            assert said == VOICE_APOLOGY, answer.body
    for seconds in hang_times:
        assert seconds >= HANDLER_TIMEOUT - 0.1
    assert not no_secrets(text, TOKEN)
