"""docs/emulator.md's fixture example (*In your own tests*), as written there."""

from switchboard.emulator.script import CallScript, RecordingTake


def test_voicemail(switchboard_stack):
    state = switchboard_stack.emulator.state
    state.buy_number(state.main_account_sid, "+15551230000",
                     voice_url=switchboard_stack.url + "/voice",
                     status_callback=switchboard_stack.url + "/voice/status")

    call = switchboard_stack.emulator.phone.inbound_call(
        "+15551230000", "+15555550100",
        script=CallScript("2", recording=RecordingTake(duration=14)),
    )
    switchboard_stack.wait_idle()

    assert "Please leave a message" in call.text
    assert call.status == "completed"
    [stored] = switchboard_stack.store.status_callbacks(call.sid)
    assert stored["status"] == "completed"
