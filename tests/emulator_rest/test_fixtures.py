"""The pytest fixtures the plugin gives every project that installs Switchboard."""

from __future__ import annotations

import requests

from tests.emulator_rest.conftest import TIMEOUT


def test_twilio_emulator_fixture(twilio_emulator) -> None:
    response = requests.get(
        f"{twilio_emulator.url}/2010-04-01/Accounts/{twilio_emulator.account_sid}.json",
        auth=(twilio_emulator.account_sid, twilio_emulator.auth_token), timeout=TIMEOUT)
    assert response.status_code == 200
    assert twilio_emulator.phone is not None  # the caller side is there


def test_switchboard_stack_fixture(switchboard_stack) -> None:
    emu = switchboard_stack.emulator
    assert requests.get(f"{switchboard_stack.url}/healthz", timeout=TIMEOUT).status_code == 200
    settings = switchboard_stack.app.extensions["switchboard"].settings
    assert settings.account_sid == emu.account_sid
    assert settings.api_base_url == emu.url
    assert settings.public_url == switchboard_stack.url
    assert switchboard_stack.store is not None


def test_plugin_module_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, switchboard.emulator.pytest_plugin; "
            "print(any(m in sys.modules for m in "
            "('flask', 'switchboard.emulator.server', 'requests')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=30)
    assert out.stdout.strip() == "False"


def test_switchboard_stack_places_a_call_and_stores_its_callbacks(switchboard_stack) -> None:
    from switchboard.emulator.script import CallScript

    emu = switchboard_stack.emulator
    with switchboard_stack.client() as client:
        number = client.incoming_phone_numbers.create(
            area_code="415",
            voice_url=f"{switchboard_stack.url}/voice",
            status_callback=f"{switchboard_stack.url}/voice/status",
        )
    transcript = emu.phone.inbound_call(number["phone_number"], "+14155550199",
                                        script=CallScript(["1"]))
    assert switchboard_stack.wait_idle(10)
    assert transcript.said, transcript.render(verbose=True)
    assert all(r.response.ok for r in transcript.requests), transcript.render(verbose=True)
    assert transcript.error_codes == []
    call_sid = transcript.sid
    assert call_sid is not None
    stored = switchboard_stack.store.get_call(call_sid)
    assert stored is not None
    assert switchboard_stack.store.status_callbacks(call_sid)
