"""The console in a real browser: headless Chromium (Playwright) against the real app on a real
socket, with the emulator placing the calls and sending the texts.

An operator logs in, sees a call placed through the emulator appear on the overview without
reloading it, opens the call, plays its voicemail (the audio element loads the recording the
emulator serves, through the server, and knows its length), marks it heard, opts the caller
out from the conversation's page and logs out; the pages are also looked at on a phone-sized
screen. Screenshots go to ``SWITCHBOARD_TEST_SCREENSHOTS`` when it names a folder (docs/console
is made that way), else to the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack
from tests.conftest import free_port
from tests.console.browser import browser_context
from tests.console.conftest import CALLER, NUMBER, PASSWORD

OTHER_CALLER = "+15555550177"
BUSY = "+15005550020"  # the emulator's busy line
FAILING = "+15005550012"  # the emulator's failing text, ErrorCode 30008
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Any]:
    yield from browser_context(tmp_path / "profile")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SWITCHBOARD_TEST_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def count(page: Any, name: str) -> str:
    return page.locator(f'[data-count="{name}"]').inner_text().strip()


def test_an_operator_sees_a_call_arrive_hears_its_voicemail_and_opts_the_caller_out(
    context: Any, shots: Path, stack: SwitchboardStack
) -> None:
    phone = stack.emulator.phone
    base = stack.url + "/console"
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(base + "/")
    assert page.url.startswith(base + "/login")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    assert count(page, "calls-today") == "0"
    page.evaluate("window.consoleTestMarker = 'not reloaded'")

    # Earlier in the day: someone asked for the hours and texted; a call out met a busy line,
    # another's URL was a host that was down (Twilio fetched its fallback URL) and a text out
    # failed.
    phone.inbound_call(NUMBER, OTHER_CALLER, script=CallScript("1,9,9,9"))
    phone.inbound_sms(NUMBER, OTHER_CALLER, "HOURS")
    client = stack.client()
    try:
        client.calls.create(BUSY, NUMBER, url=stack.url + "/voice",
                            status_callback=stack.url + "/voice/status")
        client.calls.create(OTHER_CALLER, NUMBER, url=f"http://127.0.0.1:{free_port()}/voice",
                            fallback_url=stack.url + "/voice/fallback",
                            status_callback=stack.url + "/voice/status")
        client.messages.create(FAILING, from_=NUMBER, body="Your appointment is tomorrow.",
                               status_callback=stack.url + "/sms/status")
    finally:
        client.close()
    # The call: press 2, leave a 6-second voicemail.
    call = phone.inbound_call(NUMBER, CALLER, script=CallScript("2", recording=RecordingTake(6)))
    assert stack.wait_idle(20)
    assert call.status == "completed", call.render()

    link = f'[data-section="recent-calls"] a[href="/console/calls/{call.sid}"]'
    page.wait_for_selector(link, timeout=15_000)
    page.wait_for_function(
        "document.querySelector('[data-count=\"unheard\"]').textContent.trim() === '1'",
        timeout=15_000,
    )
    assert page.evaluate("window.consoleTestMarker") == "not reloaded"
    assert count(page, "calls-today") == "4"
    failures = page.locator('[data-section="failures"]').inner_text()
    assert "busy" in failures
    assert "failed (30008)" in failures
    assert "/voice/fallback" in failures
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    page.click(link)
    page.wait_for_url(f"{base}/calls/{call.sid}")
    timeline = page.locator("ol.timeline").inner_text()
    assert "Call status: completed" in timeline
    assert "Recording RE" in timeline
    assert 'Say "Thank you for calling' in timeline  # what /voice was answered, verb by verb
    assert "→ /voice/menu" in timeline
    assert "Webhook /voice/menu · Digits 2" in timeline
    duration = page.evaluate(
        """async () => {
            const audio = document.querySelector('audio');
            await audio.play();
            if (!(audio.duration > 0 && Number.isFinite(audio.duration))) {
                await new Promise((resolve) =>
                    audio.addEventListener('durationchange', resolve, {once: true}));
            }
            audio.pause();
            return {duration: audio.duration, state: audio.readyState, error: audio.error};
        }"""
    )
    assert duration["error"] is None
    assert duration["state"] >= 1
    assert 5 <= duration["duration"] <= 7, duration
    page.screenshot(path=str(shots / "call.png"), full_page=True)

    page.click('nav a:text("Voicemails")')
    page.wait_for_url(base + "/voicemails")
    page.screenshot(path=str(shots / "voicemails.png"), full_page=True)
    page.click('[id^="RE"] >> button:text("Mark heard")')
    page.wait_for_selector('.recording .status.ok:text("heard")')
    assert "Unheard (0)" in page.locator(".tabs").inner_text()

    page.click('nav a:text("Calls")')
    page.wait_for_url(base + "/calls")
    assert page.locator("table.rows tbody tr").count() == 4
    page.screenshot(path=str(shots / "calls.png"), full_page=True)
    page.fill('input[name="number"]', "(555) 555-0100")
    page.click('.filters button[type="submit"]')
    page.wait_for_url("**/calls?number=*")
    assert page.locator("table.rows tbody tr").count() == 1

    phone.inbound_sms(NUMBER, CALLER, "Hello, are you open on Saturday?")
    assert stack.wait_idle(20)
    page.click('nav a:text("Conversations")')
    page.wait_for_url(base + "/conversations")
    page.screenshot(path=str(shots / "conversations.png"), full_page=True)
    page.click(f'a[href="/console/conversations/{CALLER}"]')
    page.wait_for_url(f"{base}/conversations/{CALLER}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f'button:text("Opt out of {NUMBER}")')
    page.wait_for_selector('.optouts .status.bad:text("opted out")')
    assert stack.store.is_opted_out(CALLER, sender=NUMBER)
    page.screenshot(path=str(shots / "conversation.png"), full_page=True)

    for html in (page.content(),):
        assert stack.emulator.auth_token not in html

    page.set_viewport_size(PHONE)
    page.goto(base + "/")
    page.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
    page.goto(base + "/calls")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the calls page scrolls sideways on a phone"
    page.screenshot(path=str(shots / "calls-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})

    page.click('button:text("Log out")')
    page.wait_for_url("**/console/login?out=1")
    page.goto(base + "/voicemails")
    assert page.url.startswith(base + "/login")
    assert not errors, errors
