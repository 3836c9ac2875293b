"""``<Start><Recording>`` and ``<Stop><Recording name>``: a recording of the call from the
start to the stop of that name (or to the end of the call), with its status callbacks."""

from __future__ import annotations

from switchboard.emulator.script import CallScript, RecordingTake
from tests.emulator_caller.conftest import CALLER, NUMBER, twiml

START = ("<Start><Recording name='rec-1' channels='mono' recordingStatusCallback='/rs' "
         "recordingStatusCallbackEvent='in-progress completed'/></Start>")


def test_a_named_recording_runs_until_it_is_stopped_by_name(hooks, phone, number,
                                                            state) -> None:
    hooks.on("/voice", twiml(START, "<Pause length='7'/>",
                             "<Stop><Recording name='rec-1'/></Stop>",
                             "<Pause length='30'/>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert transcript.error_codes == []
    [recording] = state.list("recordings")
    assert recording["call_sid"] == transcript.sid
    assert (recording["status"], recording["duration"], recording["channels"]) == (
        "completed", "7", 1)
    assert recording["source"] == "StartCallRecordingAPI"
    assert [event.text for event in transcript.events_of("record")] == [
        f"call recording rec-1 started ({recording['sid']})",
        f"call recording rec-1 stopped: 7 s recorded ({recording['sid']})",
    ]
    statuses = hooks.requests_to("/rs")
    assert [(s.params["RecordingStatus"], s.params["RecordingDuration"]) for s in statuses] \
        == [("in-progress", "-1"), ("completed", "7")]
    assert all(s.signature_valid for s in statuses)
    assert statuses[1].params["RecordingSid"] == recording["sid"]
    assert statuses[1].params["RecordingChannels"] == "1"
    assert statuses[1].params["RecordingSource"] == "StartCallRecordingAPI"


def test_a_recording_goes_on_until_the_call_ends_when_nothing_stops_it(hooks, phone, number,
                                                                       state) -> None:
    hooks.on("/voice", twiml(START, "<Record action='/recorded'/>"))
    hooks.on("/recorded", twiml("<Stop><Recording name='other'/><Recording/></Stop>",
                                "<Pause length='5'/>"))
    transcript = phone.inbound_call(
        NUMBER, CALLER, script=CallScript(recording=RecordingTake(duration=10, digits="#")))
    call_recording = next(r for r in state.list("recordings")
                          if r["source"] == "StartCallRecordingAPI")
    assert (call_recording["status"], call_recording["duration"]) == ("completed", "15")
    texts = [event.text for event in transcript.events_of("record")]
    assert texts[2:4] == [
        "no call recording named other is going on; nothing stopped",
        "<Stop><Recording> without a name stops nothing (only a recording started with a "
        "name can be stopped by name)"]
    assert texts[-1] == (f"call recording rec-1 the call ended: 15 s recorded "
                         f"({call_recording['sid']})")
    assert [s.params["RecordingStatus"] for s in hooks.requests_to("/rs")] == [
        "in-progress", "completed"]
