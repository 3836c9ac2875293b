"""The loop with the production server: gunicorn (``deploy/gunicorn.conf.py``, two workers,
``switchboard.callbacks.wsgi:app``) started as tests/server starts it, the emulator in this
process. Calls
arrive at once, so their webhooks and callbacks are answered by both workers, writing to one
store."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from switchboard.api import TwilioClient
from switchboard.callbacks.store import Store
from switchboard.cli import cli
from switchboard.emulator import Emulator
from switchboard.emulator.script import CallScript, RecordingTake
from tests.conftest import free_port
from tests.e2e.checks import assert_callbacks_stored_once, statuses
from tests.e2e.conftest import BUSINESS, CALLER
from tests.server.test_gunicorn import gunicorn, server_env, stop, wait_healthy

pytestmark = pytest.mark.slow


def scripts() -> dict[str, CallScript]:
    """What each caller does (fresh each time: a script is used up as the call goes)."""
    return {
        "hours": CallScript("1,0"),
        "voicemail": CallScript("2", recording=RecordingTake(duration=9)),
        "operator busy": CallScript("3", dial={"*": "busy"}),
        "three misses": CallScript("7,8,9"),
    }


@pytest.fixture
def production(database_url: str, tmp_path: Path) -> Iterator[tuple[Emulator, str, Store]]:
    """The emulator, gunicorn's URL, and the store gunicorn writes to."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    with Emulator() as emu:
        env = server_env(
            TWILIO_ACCOUNT_SID=emu.account_sid, TWILIO_AUTH_TOKEN=emu.auth_token,
            TWILIO_API_BASE_URL=emu.url, SWITCHBOARD_PUBLIC_URL=base,
            SWITCHBOARD_DATABASE_URL=database_url, GUNICORN_BIND=f"127.0.0.1:{port}",
            **BUSINESS,
        )
        process = gunicorn(env=env, log=log)
        store = Store(database_url)
        try:
            wait_healthy(base, process, log)
            yield emu, base, store
            assert emu.phone.wait_idle(20)
        finally:
            stop(process)
            store.close()
    assert emu.auth_token not in log.read_text()


def test_calls_at_once_under_gunicorn(production: tuple[Emulator, str, Store]) -> None:
    emu, base, store = production
    with TwilioClient(emu.account_sid, emu.auth_token, base_url=emu.url) as client:
        number = client.incoming_phone_numbers.create(area_code="415")["phone_number"]
        env = {"TWILIO_ACCOUNT_SID": emu.account_sid, "TWILIO_AUTH_TOKEN": emu.auth_token,
               "TWILIO_API_BASE_URL": emu.url, "SWITCHBOARD_PUBLIC_URL": base}
        result = CliRunner().invoke(cli, ["provision", "--allow-insecure", "--number", number],
                                    env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        emu.phone.outbound_scripts["+15556667777"] = CallScript("1,0")
        outbound = client.calls.create(
            "+15556667777", number, url=base + "/voice", status_callback=base + "/voice/status",
            status_callback_event=["initiated", "ringing", "answered", "completed"])
        callers = scripts()
        with ThreadPoolExecutor(len(callers)) as pool:
            calls = dict(zip(callers, pool.map(
                lambda script: emu.phone.inbound_call(number, CALLER, script=script),
                callers.values()), strict=True))
        assert emu.phone.wait_idle(20)

    assert "is open weekdays 9 to 5" in calls["hours"].said[2]
    assert calls["voicemail"].said[-1] == "Thank you, your message has been recorded. Goodbye."
    assert "nobody could take your call" in calls["operator busy"].text
    assert "Sorry we could not help you" in calls["three misses"].said[-1]
    for name, transcript in calls.items():
        assert transcript.status == "completed", (name, transcript.render())
        for request in transcript.requests:
            assert request.response.ok, (name, request.purpose, request.response.error_message)
        assert store.get_call(transcript.sid)["status"] == "completed"
        rows = assert_callbacks_stored_once(store, transcript)
        assert statuses([row for row in rows if row["kind"] == "call"]) == [("completed", 0)]
    [record] = calls["voicemail"].events_of("record")
    assert store.get_recording(record.detail["recording"]["sid"])["duration"] == 9

    transcript = emu.phone.transcript(outbound["sid"])
    assert statuses(assert_callbacks_stored_once(store, transcript)) == [
        ("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3)]
    assert store.get_call(outbound["sid"])["status"] == "completed"
