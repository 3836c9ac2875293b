"""Ending an execution through the Studio API (``Status=ended``) while the call its Make
Outgoing Call placed is in progress: Twilio documents nothing of the call then, and the call is
not ended here either. It goes on with the TwiML it was given; its next request to the flow
(a Gather's keys) finds no active execution and is answered with the apology, which hangs up.
(A call still ringing: tests/studio_api/test_api_started_executions.py.)"""

from __future__ import annotations

from typing import Any

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.emulator.script import CallScript, GatherInput
from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, House
from tests.studio_api.test_outgoing_call import CALLBACK


class EndedAtTheGather(CallScript):
    """Presses 1 at the first Gather, once ``end()`` has ended the execution."""

    def __init__(self, end: Any) -> None:
        super().__init__(digits=["1"])
        self.end = end

    def gather(self, *, dtmf: bool = True, speech: bool = False,
               prompt: str = "") -> GatherInput:
        self.end()
        return super().gather(dtmf=dtmf, speech=speech, prompt=prompt)


def test_a_call_in_progress_goes_on_and_its_next_step_gets_the_apology(house: House) -> None:
    flow = house.studio.studio.v2.flows.create(friendly_name="Call back", status="published",
                                               definition=CALLBACK)
    house.number(flow.webhook_url)
    executions = house.studio.studio.v2.flows(flow.sid).executions
    ended: list[str] = []

    def end() -> None:
        for execution in executions.list(status="active"):
            assert executions(execution.sid).update(status="ended").status == "ended"
            ended.append(execution.sid)

    house.emulator.phone.outbound_scripts[CONTACT] = EndedAtTheGather(end)
    started = executions.create(to=CONTACT, from_=FLOW_NUMBER, parameters={"name": "Ada"})
    assert house.stack.wait_idle(20)

    assert ended == [started.sid]
    execution = executions(started.sid)
    call_sid = execution.execution_context().fetch().context["widgets"]["call"]["CallSid"]
    transcript = house.emulator.phone.transcript(call_sid)
    assert transcript is not None
    assert transcript.error_codes == []
    assert [event.text for event in transcript.events if event.kind == "say"] == [
        "Hello Ada. Press 1 to confirm your appointment.", VOICE_APOLOGY]
    assert house.emulator.state.get("calls", call_sid)["status"] == "completed"
    assert execution.fetch().status == "ended"
    assert [(s.transitioned_from, s.name) for s in reversed(execution.steps.list())] == [
        ("Trigger", "incomingRequest"), ("call", "answered")]
