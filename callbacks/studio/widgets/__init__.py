"""The widgets of Studio's widget library, by their ``type`` in a flow definition.

- :mod:`.base`: what a widget is given (:class:`~.base.Visit`) and gives back;
- :mod:`.voice`: Say/Play, Gather, Record Voicemail, Connect Call To, Call Recording,
  Enqueue Call, TwiML Redirect;
- :mod:`.messaging`: Send Message, Send & Wait For Reply;
- :mod:`.logic`: Split Based On (its conditions in :mod:`.conditions`), Set Variables, Run
  Subflow, and the widgets Switchboard cannot run by itself;
- :mod:`.http`: Make HTTP Request, Run Function.
"""

from __future__ import annotations

from collections.abc import Callable

from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.widgets import http, logic, messaging, voice
from switchboard.callbacks.studio.widgets.base import Widget

__all__ = ["TRIGGER", "widgets"]

#: The widget every flow starts at; the runtime takes its transitions itself.
TRIGGER = "trigger"


def widgets(find_flow: Callable[[str], Flow | None]) -> dict[str, Widget]:
    """Every widget type the runtime runs, by ``type``; ``find_flow`` looks up a subflow by
    its SID or name."""
    table: dict[str, Widget] = {
        "say-play": voice.SayPlay(),
        "gather-input-on-call": voice.GatherInputOnCall(),
        "record-voicemail": voice.RecordVoicemail(),
        "connect-call-to": voice.ConnectCallTo(),
        "record-call": voice.RecordCall(),
        "enqueue-call": voice.EnqueueCall(),
        "add-twiml-redirect": voice.AddTwimlRedirect(),
        "send-message": messaging.SendMessage(),
        "send-and-wait-for-reply": messaging.SendAndWaitForReply(),
        "split-based-on": logic.SplitBasedOn(),
        "set-variables": logic.SetVariables(),
        "run-subflow": logic.RunSubflow(find_flow),
        "make-http-request": http.MakeHttpRequest(),
        "run-function": http.RunFunction(),
    }
    for kind, events in logic.UNSUPPORTED.items():
        table[kind] = logic.Unsupported(events)
    return table


def unknown(kind: str) -> Widget:
    """A widget of a type Studio's library has that Switchboard does not know."""
    return logic.Unsupported(logic.FAILURE_EVENTS)
