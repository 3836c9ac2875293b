"""200 simulated callers walk the bundled IVR at once, through gunicorn with 4 workers: every
transcript complete and right for its path, every status callback stored once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from switchboard.callbacks.store import Store
from switchboard.emulator import Emulator
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.transcript import Transcript
from tests.load.figures import report
from tests.load.servers import ACCOUNT_SID, TOKEN, Gunicorn, no_secrets, percentile

CALLERS = 200
NUMBER = "+15551230000"
OPERATOR = "+15557770000"
BUSINESS = {
    "SWITCHBOARD_BUSINESS_NAME": "Acme Plumbing",
    "SWITCHBOARD_BUSINESS_HOURS": "weekdays 9 to 5",
    "SWITCHBOARD_BUSINESS_ADDRESS": "1 Main Street",
    "SWITCHBOARD_FORWARD_NUMBER": OPERATOR,
}
GOODBYE_NO_HELP = "Sorry we could not help you. Thank you for calling Acme Plumbing. Goodbye."


def check_hours(t: Transcript) -> None:
    assert any("weekdays 9 to 5" in s and "1 Main Street" in s for s in t.said)
    assert t.said[-1] == GOODBYE_NO_HELP  # silence three times after the information


def check_voicemail(t: Transcript) -> None:
    assert "Please leave a message after the tone" in t.text
    assert t.said[-1] == "Thank you, your message has been recorded. Goodbye."
    assert len(t.events_of("record")) == 1


def check_operator(t: Transcript) -> None:
    assert "Please hold while we connect you." in t.said
    [dial] = t.events_of("dial")
    assert dial.detail["number"] == OPERATOR
    assert t.said[-1] == "Thank you for calling Acme Plumbing. Goodbye."


def check_busy(t: Transcript) -> None:
    [dial] = t.events_of("dial")
    assert dial.detail["status"] == "busy"
    assert "nobody could take your call" in t.text
    assert t.said[-1] == "Thank you, your message has been recorded. Goodbye."


def check_invalid(t: Transcript) -> None:
    assert "not one of the options" in t.text
    assert "I did not get that" in t.text
    assert t.said[-1] == GOODBYE_NO_HELP


PATHS: dict[str, tuple[Callable[[], CallScript], Callable[[Transcript], None]]] = {
    "hours": (lambda: CallScript("1"), check_hours),
    "voicemail": (lambda: CallScript("2", recording=RecordingTake(duration=9)), check_voicemail),
    "operator": (lambda: CallScript("3", dial_outcome="answered:60"), check_operator),
    "busy": (lambda: CallScript("3", dial={OPERATOR: "busy"}), check_busy),
    "invalid": (lambda: CallScript("9,,7"), check_invalid),
}


def test_200_callers_walk_the_ivr_at_once(load_database_url: str, tmp_path: Path) -> None:
    backend = load_database_url.split(":", 1)[0].split("+")[0]
    names = list(PATHS)
    log = tmp_path / "gunicorn.log"
    with (Emulator(account_sid=ACCOUNT_SID, auth_token=TOKEN) as emu,
          Gunicorn(load_database_url, log, env=BUSINESS) as server):
        emu.state.buy_number(
            emu.account_sid, NUMBER,
            voice_url=server.base + "/voice", voice_fallback_url=server.base + "/voice/fallback",
            status_callback=server.base + "/voice/status",
        )
        start = threading.Barrier(CALLERS)

        def call(n: int) -> tuple[str, Transcript, float]:
            name = names[n % len(names)]
            script = PATHS[name][0]()
            start.wait(60)
            began = time.perf_counter()
            transcript = emu.phone.inbound_call(NUMBER, f"+1555{n:07d}", script=script)
            return name, transcript, time.perf_counter() - began

        began = time.perf_counter()
        with ThreadPoolExecutor(CALLERS) as pool:
            results = list(pool.map(call, range(CALLERS)))
        elapsed = time.perf_counter() - began
        assert emu.phone.wait_idle(60)
        text = server.stop()

    requests = [r for _, t, _ in results for r in t.requests]
    report(
        f"IVR, {CALLERS} simulated callers at once, {backend}",
        f"{len(requests)} webhooks in {elapsed:.1f} s ({len(requests) / elapsed:.0f} req/s); "
        f"a whole call p50 {percentile([s for *_, s in results], 0.5):.2f} s, "
        f"p99 {percentile([s for *_, s in results], 0.99):.2f} s",
    )
    problems = []
    for name, transcript, _ in results:
        bad = [(r.purpose, r.response.status_code, r.response.error_message)
               for r in transcript.requests if r.response.status_code not in (200, 204)]
        try:
            assert transcript.status == "completed", transcript.status
            assert not transcript.error_codes, transcript.error_codes
            assert not bad, bad
            assert transcript.said[0] == "Thank you for calling Acme Plumbing."
            PATHS[name][1](transcript)
        except AssertionError as error:
            problems.append(f"{name} {transcript.sid}: {error}\n{transcript.render()}")
    assert not problems, f"{len(problems)} wrong transcripts; the first:\n{problems[0]}"

    store = Store(load_database_url)
    try:
        stored = Counter()
        for name, transcript, _ in results:
            callbacks = store.status_callbacks(transcript.sid)
            assert [c["status"] for c in callbacks] == ["completed"], (name, callbacks)
            assert store.get_call(transcript.sid)["status"] == "completed"
            for record in transcript.events_of("record"):
                recording = store.get_recording(record.detail["recording"]["sid"])
                assert recording is not None
                assert recording["call_sid"] == transcript.sid
                stored["recordings"] += 1
        assert stored["recordings"] == CALLERS * 2 // len(PATHS)
    finally:
        store.close()
    assert "Traceback" not in text, text[-3000:]
    assert not no_secrets(text, TOKEN)
