"""The engine: runs a flow's widgets for one webhook, from where the execution stood to the
next place it must wait, and writes its progress.

How a call moves: the number's Voice URL is ``/flows/NAME``. The first request creates the
execution (trigger ``incomingCall``, ``trigger.call`` = the request's fields) and runs widget
after widget. Widgets that only compute (Split, Set Variables, HTTP requests...) run at once;
Say/Play adds its ``<Say>`` to the answer and goes on; a widget that needs the caller (Gather,
Record, Dial, Enqueue, TwiML Redirect) adds its verb, whose ``action`` (and a ``<Redirect>``
for the way out that has no action) leads back to ``/flows/NAME/step/WIDGET/SOURCE``, and the
execution waits there. That request resumes the widget with Twilio's fields (``Digits``,
``RecordingUrl``, ``DialCallStatus``) and the run goes on. The execution ends when the flow
does (the document ends and Twilio hangs up) or when the call does
(:func:`~switchboard.callbacks.studio.executions.end_call_executions`).

How a conversation moves: an incoming message with no active execution for its sender starts
one (``incomingMessage``); Send Message adds a ``<Message>`` to the answer; Send & Wait For
Reply adds its question and waits; the sender's next message to the flow resumes it
(``incomingMessage``, or ``timeout`` first when it came after the timeout, then the message
is taken as the new state of the execution allows). A TwiML Redirect ends the answer with a
``<Redirect>`` to other TwiML and waits; that TwiML hands the conversation back with a
``<Redirect>`` to the flow's URL with ``FlowEvent=return`` (or to
``/flows/NAME/step/WIDGET/return``), which Twilio requests with the message's fields
(:meth:`Runtime.message_return`). A reply or a return that does not come in time is taken as
``timeout`` by the timers (:func:`fire_due_timeouts`), the messages after it sent through the
REST API.

Studio's limits hold: 1,000 steps per execution, and no widget runs more than 10 times in a
row. An execution that cannot go on (a widget that cannot run, a missing widget, a limit)
ends with the reason logged, and a caller hears the apology.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from switchboard.callbacks import deadline as deadlines
from switchboard.callbacks.deadline import HandlerTimeout
from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions as store
from switchboard.callbacks.studio.context import fields, flow_sid, new_context
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.executions import (
    ACTIVE,
    CALL_ENDED,
    CALL_OVER,
    COMPLETED,
    ENDED,
    ENDED_STEP,
    FAILED,
    LIMIT,
    REPLACED,
    AlreadyActive,
    ClaimTimeout,
    Database,
    Execution,
    Step,
)
from switchboard.callbacks.studio.templates import TemplateError
from switchboard.callbacks.studio.widgets import TRIGGER, unknown, widgets
from switchboard.callbacks.studio.widgets.base import (
    MESSAGING,
    VOICE,
    Enter,
    Links,
    Output,
    Transition,
    Visit,
    Wait,
    Widget,
    WidgetError,
    url_segment,
)
from switchboard.callbacks.studio.widgets.logic import Unsupported
from switchboard.callbacks.twiml import TwiMLError

if TYPE_CHECKING:
    from switchboard.api import TwilioClient
    from switchboard.config import Settings

log = logging.getLogger("switchboard.callbacks.studio")

#: Studio's limits: steps per execution, runs of one widget in a row.
MAX_STEPS = 1000
MAX_REPEATS = 10
#: Subflows inside subflows, at most.
MAX_DEPTH = 10
#: Seconds kept back from the webhook's deadline to write the progress and answer.
ANSWER_MARGIN = 0.75
#: A webhook's claim on an execution outlives its deadline by this much (a process that died
#: holding it lets go then).
CLAIM_MARGIN = 5.0
#: Claim held while a timer or a status callback moves an execution (no webhook deadline).
BACKGROUND_CLAIM = 60.0

ClientFactory = Callable[["Settings"], "TwilioClient | None"]

#: ``waiting_for`` of an execution whose Make Outgoing Call widget placed a call (its
#: ``call_sid``) and waits for it to be answered or not.
OUTGOING_CALL = "outgoing-call"


class FlowLookup(Protocol):
    """Flows beyond a runtime's own (the Studio API's, in the database)."""

    def find(self, wanted: str) -> Flow | None:
        """The flow named or SID'd ``wanted`` (``FW...@N``: that revision)."""

    def for_contact(self, wanted: str, contact: str) -> Flow | None:
        """The flow ``wanted`` as it runs for ``contact`` (a draft runs for its test users)."""


class Unclaimed(Exception):
    """A run without a claim met a widget that acts outside the database (``kind``): it must
    run again under a claim, so that it acts once."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Stop(Exception):
    """The execution cannot go on. ``quiet``: not an error (the call was over); ``fatal``:
    a limit of the whole execution, not a failure a subflow's parent could take."""

    def __init__(self, reason: str, *, quiet: bool = False, fatal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.quiet = quiet
        self.fatal = fatal


@dataclass
class Frame:
    """A flow running in the execution: the one it started in, or a subflow (``widget``: the
    parent's Run Subflow widget waiting for it)."""

    flow: Flow
    context: dict[str, Any]
    widget: str | None = None


def rest_client(settings: Settings) -> TwilioClient | None:
    """A REST client for the app's account, or None when none is configured."""
    from switchboard.api import TwilioClient
    from switchboard.api.errors import ValidationError
    from switchboard.config import ConfigError

    if not settings.account_sid:
        return None
    try:
        return TwilioClient.from_settings(settings=settings, retries=1)
    except (ConfigError, ValidationError) as error:
        log.warning("no REST client for Studio's messages: %s", error)
        return None


class Runner:
    """Moves one execution for one webhook (or one timer): widgets run until it waits or ends;
    ``steps`` are the steps taken, ``output`` the answer."""

    def __init__(
        self,
        runtime: Runtime,
        execution: Execution,
        output: Output,
        *,
        settings: Settings,
        links: Links,
        deadline: float | None,
        call_ended: bool = False,
        unclaimed: bool = False,
        db: Database | None = None,
    ) -> None:
        self.runtime = runtime
        #: Where the execution is kept, whose clock times its waits.
        self.db = db
        #: Run without a claim (:meth:`Runtime.step`): a widget not in :data:`LOCAL` raises
        #: :class:`Unclaimed` before it runs.
        self.unclaimed = unclaimed
        self.execution = execution
        self.output = output
        self.settings = settings
        self.links = links
        self.deadline = (
            deadline if deadline is not None else time.monotonic() + BACKGROUND_CLAIM / 2
        )
        self.call_ended = call_ended
        self.steps: list[Step] = []
        self.error: str | None = None
        #: What a run without a claim has to log, held until its progress is written: a run
        #: that loses the race runs again under a claim, which logs it then (once). What it
        #: counts, the write of its progress counts (:func:`~.executions.save_unclaimed`).
        self._held: list[Callable[[], None]] | None = [] if unclaimed else None
        root = runtime.flow(execution.flow_name)
        if root is None:
            raise Stop(f"flow {execution.flow_name!r} is no longer in the flows folder")
        self.frames = [Frame(root, execution.context)]
        for frame in execution.frames:
            flow = runtime.flow(frame["flow"])
            if flow is None:
                raise Stop(f"subflow {frame['flow']!r} is no longer in the flows folder")
            self.frames.append(Frame(flow, frame["context"], frame["widget"]))

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def remaining(self) -> float:
        """Seconds a widget may still spend before the webhook must answer (a run without a
        webhook: before its claim runs out)."""
        return self.deadline - time.monotonic() - ANSWER_MARGIN

    # -- entry points ----------------------------------------------------------------------

    def start(self, event: str) -> None:
        """Leave the trigger on ``event`` (``incomingCall``, ``incomingMessage``)."""
        self._guarded(lambda: self._advance(self._from_trigger(self.frame, event)))

    def resume(self, source: str, params: Mapping[str, str]) -> None:
        """Resume the widget the execution waits at with what came back from ``source``."""
        self._guarded(lambda: self._resume(source, params))

    def end(self, reason: str) -> None:
        """End the execution here, for a new one to take its place (``reason`` is logged)."""
        self._log(logging.INFO, "execution %s of flow %s ends: %s", self.execution.sid,
                  self.execution.flow_name, reason)
        self._end(REPLACED)

    def release_logs(self) -> None:
        """Log what a run without a claim held back (its progress is written)."""
        held, self._held = self._held or [], None
        for deferred in held:
            deferred()

    def _log(self, level: int, message: str, *args: Any,
             exc_info: BaseException | None = None) -> None:
        self._now_or_held(functools.partial(log.log, level, message, *args, exc_info=exc_info))

    def _now_or_held(self, action: Callable[[], None]) -> None:
        """Do ``action`` (a log, a count) now, or once a run without a claim is written."""
        if self._held is not None:
            self._held.append(action)
        else:
            action()

    def _widget_failed(self, frame: Frame, kind: str) -> None:
        """A widget of ``kind`` failed in ``frame``'s flow: counted by the write of this run's
        progress (:func:`~.executions.save`), so that a run done again counts it once."""
        self.execution.failed_widgets.append((frame.flow.name, kind))

    # -- the run ---------------------------------------------------------------------------

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except Stop as stop:
            self._stopped(stop)
        self.execution.frames = [
            {"flow": frame.flow.name, "widget": frame.widget, "context": frame.context}
            for frame in self.frames[1:]
        ]

    def _from_trigger(self, frame: Frame, event: str) -> str | None:
        flow = frame.flow
        first = flow.initial_state
        if first not in flow.states:
            raise Stop(f"flow {flow.name!r} has no initial state {first!r}")
        if flow.widget(first).get("type") != TRIGGER:
            return first
        following = flow.next_state(first, event)
        self._step(frame, event, first, following, TRIGGER, {})
        return following

    def _resume(self, source: str, params: Mapping[str, str]) -> None:
        execution, frame = self.execution, self.frame
        name = execution.widget
        if name is None or name not in frame.flow.states:
            raise Stop(f"the execution waits at no widget of flow {frame.flow.name!r}")
        kind = frame.flow.widget(name).get("type", "")
        if self.unclaimed and kind not in LOCAL:
            raise Unclaimed(kind)
        visit = self._visit(frame, name, kind, resuming=True)
        execution.widget = execution.waiting_for = None
        execution.wait_until = None
        widget = self._widget(kind)
        try:
            transition = widget.resume(visit, source, params)
        except HandlerTimeout:
            raise
        except Exception as error:
            self._advance(self._failed(frame, name, kind, error))
            return
        if fails(kind, widget, transition.event):
            self._widget_failed(frame, kind)
        self._advance(self._leave(frame, name, kind, transition))

    def _advance(self, name: str | None) -> None:
        while True:
            frame = self.frame
            if name is None:
                if len(self.frames) == 1:
                    self._end(COMPLETED)
                    return
                name = self._return(Transition("completed", frame.context["flow"]["variables"]))
                continue
            if name not in frame.flow.states:
                raise Stop(f"flow {frame.flow.name!r} has no widget {name!r}")
            kind = frame.flow.widget(name).get("type", "")
            if kind == TRIGGER:
                raise Stop(f"a transition of flow {frame.flow.name!r} leads back to its trigger")
            if self.unclaimed and kind not in LOCAL:
                raise Unclaimed(kind)
            self._count_run(frame, name)
            if self.remaining() <= 0:
                raise Stop(f"no time left before the webhook's deadline, at widget {name}")
            frame.context["widgets"][name] = {}
            visit = self._visit(frame, name, kind)
            widget = self._widget(kind)
            try:
                result = self._run(visit, widget)
            except HandlerTimeout:
                raise
            except Exception as error:
                name = self._failed(frame, name, kind, error)
                continue
            if isinstance(result, Wait):
                self._wait(frame, name, result)
                return
            if isinstance(result, Enter):
                name = self._enter(frame, name, result)
                continue
            if fails(kind, widget, result.event):
                self._widget_failed(frame, kind)
            name = self._leave(frame, name, kind, result)

    def _run(self, visit: Visit, widget: Widget) -> Transition | Wait | Enter:
        """Run the widget on a copy of the answer so far, which becomes the answer only when
        it succeeded: a widget that fails half-way leaves nothing half-built behind. (A copy
        of a document still being built is a copy of its recorded calls: no lxml tree is
        made, and the answer is serialised on the builder's fast path.)"""
        output = self.output
        if visit.channel != VOICE or visit.type in WRITES_NO_TWIML:
            return widget.run(visit)
        answer = output.voice
        output.voice = copy.deepcopy(answer)
        try:
            return widget.run(visit)
        except BaseException:
            output.voice = answer
            raise

    def _wait(self, frame: Frame, name: str, wait: Wait) -> None:
        frame.context["widgets"][name].update(wait.variables or {})
        execution = self.execution
        execution.widget, execution.waiting_for = name, wait.waiting_for
        if wait.waiting_for == OUTGOING_CALL:
            execution.call_sid = (wait.variables or {}).get("CallSid") or execution.call_sid
        execution.wait_until = None
        if wait.timeout is not None:
            execution.wait_until = self.runtime.now(self.db) + timedelta(seconds=wait.timeout)

    def _leave(self, frame: Frame, name: str, kind: str, transition: Transition) -> str | None:
        variables = frame.context["widgets"].setdefault(name, {})
        variables.update(transition.variables or {})
        following = (
            transition.to if transition.direct else frame.flow.next_state(name, transition.event)
        )
        self._step(frame, transition.event, name, following, kind, variables)
        return following

    def _step(self, frame: Frame, event: str, source: str, target: str | None, kind: str,
              variables: Mapping[str, Any]) -> None:
        execution = self.execution
        if execution.step_count >= MAX_STEPS:
            raise Stop(f"the execution reached Studio's limit of {MAX_STEPS} steps", fatal=True)
        execution.step_count += 1
        self.steps.append(Step(
            name=event, transitioned_from=source, transitioned_to=target or ENDED_STEP,
            flow_sid=flow_sid(frame.flow), type=kind, context=dict(variables),
        ))

    def _count_run(self, frame: Frame, name: str) -> None:
        execution = self.execution
        key = f"{len(self.frames)}:{frame.flow.name}:{name}"
        if execution.last_widget == key:
            execution.repeats += 1
        else:
            execution.last_widget, execution.repeats = key, 1
        if execution.repeats > MAX_REPEATS:
            raise Stop(f"widget {name} ran {MAX_REPEATS} times in a row (Studio's limit)",
                       fatal=True)

    def _enter(self, frame: Frame, name: str, enter: Enter) -> str | None:
        if len(self.frames) > MAX_DEPTH:
            self._widget_failed(frame, "run-subflow")
            return self._leave(frame, name, "run-subflow", Transition(
                "failed", {"error": f"more than {MAX_DEPTH} subflows inside one another"}))
        execution = self.execution
        parent = {
            "parameters": dict(enter.parameters),
            "flow_sid": flow_sid(frame.flow),
            "execution_sid": execution.sid,
        }
        context = new_context(
            enter.flow, execution_sid=execution.sid, trigger={"parent": parent},
            contact=execution.contact_channel_address,
            channel_address=execution.channel_address, data=enter.parameters,
        )
        sub = Frame(enter.flow, context, name)
        self.frames.append(sub)
        execution.subflows_entered.append(enter.flow.name)  # counted as it is written
        return self._from_trigger(sub, "incomingParent")

    def _return(self, transition: Transition) -> str | None:
        """Back from the subflow on top to its parent's Run Subflow widget."""
        sub = self.frames.pop()
        parent = self.frame
        assert sub.widget is not None
        return self._leave(parent, sub.widget, "run-subflow", transition)

    def _failed(self, frame: Frame, name: str, kind: str, error: Exception) -> str | None:
        """A widget raised: its subflow's parent takes ``failed`` (the failure counted once,
        under the subflow); in the flow the execution started in, the execution ends.
        Anything but a widget's own error is a bug or a definition Switchboard did not
        expect: logged with its traceback."""
        self._widget_failed(frame, kind)
        if not isinstance(error, WidgetError | TemplateError | TwiMLError):
            self._log(logging.ERROR, "execution %s, flow %s, widget %s (%s) raised",
                      self.execution.sid, frame.flow.name, name, kind, exc_info=error)
            error = WidgetError(f"{type(error).__name__}: {error}")
        reason = f"widget {name} ({kind or 'no type'}): {error}"
        if len(self.frames) == 1:
            raise Stop(reason)
        self._log(logging.ERROR, "execution %s, subflow %s: %s; its parent takes 'failed'",
                  self.execution.sid, frame.flow.name, reason)
        return self._return(Transition("failed", {"error": reason}))

    def _stopped(self, stop: Stop) -> None:
        execution = self.execution
        where = f"execution {execution.sid} of flow {execution.flow_name}"
        if stop.quiet:
            self._log(logging.INFO, "%s ends: %s", where, stop.reason)
        else:
            self._log(logging.ERROR, "%s ends: %s", where, stop.reason)
            self.error = stop.reason
            if self.output.channel == VOICE and self.output.webhook:
                self.output.apologise = True
        del self.frames[1:]
        self._end(CALL_ENDED if stop.quiet else LIMIT if stop.fatal else FAILED)

    def _end(self, reason: str) -> None:
        """End the execution (``reason``: :data:`~.executions.COMPLETED`...)."""
        execution = self.execution
        execution.end_reason = reason
        execution.status = ENDED
        execution.widget = execution.waiting_for = None
        execution.wait_until = None

    def _widget(self, kind: str) -> Widget:
        return self.runtime.widgets.get(kind) or unknown(kind)

    def _visit(self, frame: Frame, name: str, kind: str, *, resuming: bool = False) -> Visit:
        if self.call_ended and kind in VOICE_ONLY and not resuming:
            raise Stop(f"the call is over: widget {name} ({kind}) cannot run", quiet=True)
        return Visit(
            name=name,
            type=kind,
            properties=frame.flow.properties(name),
            flow=frame.flow,
            context=frame.context,
            output=self.output,
            settings=self.settings,
            links=self.links,
            execution_sid=self.execution.sid,
            remaining=self.remaining,
            rest_client=lambda: self.runtime.client_factory(self.settings),
            call_ended=self.call_ended,
        )


#: Widgets that need the call to be there.
VOICE_ONLY = frozenset({
    "say-play", "gather-input-on-call", "record-voicemail", "connect-call-to", "record-call",
    "enqueue-call", "add-twiml-redirect",
})


#: The events that say a widget failed, by type: a widget leaving on one of them is counted
#: as failed (``switchboard_flow_widget_errors_total``) whether or not the flow leads it
#: anywhere; so is a widget that raised, and one Switchboard cannot run taking its failure
#: transition (:data:`~.widgets.logic.UNSUPPORTED`).
WIDGET_FAILURES: dict[str, frozenset[str]] = {
    "send-message": frozenset({"failed"}),
    "send-and-wait-for-reply": frozenset({"deliveryFailure"}),
    "make-http-request": frozenset({"failed"}),
    "run-function": frozenset({"fail"}),
    "run-subflow": frozenset({"failed"}),
    "add-twiml-redirect": frozenset({"fail"}),
    "record-call": frozenset({"failed"}),
    "make-outgoing-call-v2": frozenset({"failed"}),
    "enqueue-call": frozenset({"failedToEnqueue", "callFailure"}),
}


def fails(kind: str, widget: Widget, event: str) -> bool:
    """Whether a widget of ``kind`` leaving on ``event`` failed."""
    if isinstance(widget, Unsupported):
        return event in widget.events
    return event in WIDGET_FAILURES.get(kind, ())


#: Widgets that add nothing to a call's answer: run without a copy of it.
WRITES_NO_TWIML = frozenset({"split-based-on", "set-variables"})

#: Widgets that act on nothing but the execution and the answer: a run made of them alone may
#: run twice (the first run's result thrown away), so it needs no claim (:meth:`Runtime.step`).
LOCAL = frozenset({
    "split-based-on", "set-variables", "run-subflow", "say-play", "gather-input-on-call",
    "record-voicemail", "connect-call-to", "enqueue-call", "add-twiml-redirect",
})


class Runtime:
    """The flows of a folder, run for Twilio's webhooks.

    ``client_factory(settings)`` gives the REST client for messages that cannot be a reply
    (default: :func:`rest_client`); ``clock`` the current time (tests); ``lookup`` the flows
    beyond ``flows`` (the Studio API's, by SID).
    """

    def __init__(
        self,
        flows: Mapping[str, Flow],
        *,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], Any] | None = None,
        lookup: FlowLookup | None = None,
    ) -> None:
        from switchboard.callbacks.studio.outbound import MakeOutgoingCall  # it imports this

        self.flows = dict(flows)
        self.by_sid = {flow_sid(flow): flow for flow in self.flows.values()}
        self.client_factory: ClientFactory = client_factory or rest_client
        self.clock = clock
        self.lookup = lookup
        self.widgets = widgets(self.flow)
        self.widgets["make-outgoing-call-v2"] = MakeOutgoingCall()

    def flow(self, wanted: str) -> Flow | None:
        """A flow of the folder by name or SID, else of ``lookup``."""
        found = self.flows.get(wanted) or self.by_sid.get(wanted)
        if found is None and self.lookup is not None:
            return self.lookup.find(wanted)
        return found

    def flow_for(self, wanted: str, contact: str) -> Flow | None:
        """The flow ``wanted`` as it runs for ``contact``, who is starting or continuing an
        execution: a flow of the folder, else the revision ``lookup`` gives them."""
        found = self.flows.get(wanted) or self.by_sid.get(wanted)
        if found is None and self.lookup is not None:
            return self.lookup.for_contact(wanted, contact)
        return found

    def now(self, db: Database | None = None) -> Any:
        """The current time: ``db``'s (:meth:`Database.now`: the database server's, which every
        host shares), else ``clock``'s or this host's."""
        if db is not None:
            return db.now()
        return self.clock() if self.clock is not None else store.utcnow()

    def database(self, store_or_engine: Any) -> Database:
        return Database(store_or_engine, clock=self.clock)

    # -- calls -----------------------------------------------------------------------------

    def call(self, flow: Flow, params: Mapping[str, str], *, db: Database, settings: Settings,
             links: Links) -> Output:
        """The Voice URL of the flow: a new call, or TwiML Redirect's ``FlowEvent=return``."""
        output = Output(VOICE)
        values = fields(params)
        call_sid = values.get("CallSid") or ""
        contact, address = _parties(values)
        concurrent = bool(flow.flags.get("allow_concurrent_calls", True))
        key = f"call:{call_sid}" if concurrent else "call"
        ends = _deadline(settings)

        def make() -> Execution:
            return self._new(flow, VOICE, contact, address, key, {"call": values}, call_sid)

        try:  # the usual case: the call's first request, one statement when none is active
            execution = store.create(db, make(), claim_for=_claim(settings))
        except AlreadyActive:
            pass
        else:
            self._move(db, execution, output, settings, links, ends,
                       lambda runner: runner.start("incomingCall"))
            return output
        found = store.find_active(db, flow_sid(flow), contact, key)
        if found is not None and found.call_sid != call_sid:
            log.warning("flow %s does not allow concurrent calls, and %s has one going (call "
                        "%s): call %s refused", flow.name, contact, found.call_sid, call_sid)
            output.voice.reject(reason="busy")
            return output
        if found is not None:
            execution = store.claim_waiting(db, found, claim_for=_claim(settings),
                                            until=ends - ANSWER_MARGIN)
            if execution is not None and execution.waiting_for == "return":
                source = "timeout" if _late(self, execution, db) else "return"
                self._move(db, execution, output, settings, links, ends,
                           lambda runner: runner.resume(source, values))
                return output
            if execution is not None:
                self._move(db, execution, output, settings, links, ends, lambda runner: runner.end(
                    "the call requested the flow's URL again: a new execution starts"))
        execution = self._acquire(db, flow, contact, key, settings, ends, make)
        if execution.new:
            self._move(db, execution, output, settings, links, ends,
                       lambda runner: runner.start("incomingCall"))
        else:
            store.release(db, execution)
            log.warning("flow %s: call %s requested the flow's URL twice at once", flow.name,
                        call_sid or "-")
            output.apologise = True
        return output

    def step(self, flow: Flow, params: Mapping[str, str], widget: str, source: str, *,
             db: Database, settings: Settings, links: Links) -> Output:
        """A verb's action (or the Redirect after it) for the widget the call waits at."""
        output = Output(VOICE)
        values = fields(params)
        call_sid = values.get("CallSid") or ""
        ends = _deadline(settings)
        if not call_sid:
            return self._lost(flow, None, output, call_sid, widget, source)
        # the usual case: read, run, and written if nobody moved it meanwhile
        found = store.find_call(db, call_sid, flow_sid(flow))
        if found is None or (found.widget != widget and store.unclaimed(found, db.now())):
            return self._lost(flow, found, output, call_sid, widget, source)
        if store.unclaimed(found, db.now()):
            done = self._step_unclaimed(db, found, source, values, settings, links, ends)
            if done is not None:
                return done
        # under a claim: found and claimed in one statement, unless another request holds it
        execution = store.claim_call(db, call_sid, flow_sid(flow), claim_for=_claim(settings))
        if execution is None:
            found = store.find_call(db, call_sid, flow_sid(flow))
            if found is not None:
                execution = store.claim_waiting(db, found, claim_for=_claim(settings),
                                                until=ends - ANSWER_MARGIN)
        if execution is not None and execution.widget != widget:
            store.release(db, execution)
        if execution is None or execution.widget != widget:
            return self._lost(flow, execution, output, call_sid, widget, source)
        if source == "return" and _late(self, execution, db):
            source = "timeout"
        ended = values.get("CallStatus") in CALL_OVER
        self._move(db, execution, output, settings, links, ends,
                   lambda runner: runner.resume(source, values), call_ended=ended)
        return output

    def _step_unclaimed(self, db: Database, execution: Execution, source: str,
                        values: Mapping[str, str], settings: Settings, links: Links,
                        ends: float) -> Output | None:
        """:meth:`step` without a claim: the widgets run on the execution as read, and their
        progress is written in one statement if it still stands as read. None when it must run
        under a claim: a widget that acts outside the database came up, or another request
        moved the execution meanwhile."""
        if source == "return" and _late(self, execution, db):
            source = "timeout"
        seen = (execution.step_count, execution.date_updated)
        output = Output(VOICE)
        try:
            runner = Runner(self, execution, output, settings=settings, links=links,
                            deadline=ends, call_ended=values.get("CallStatus") in CALL_OVER,
                            unclaimed=True, db=db)
            runner.resume(source, values)
        except (Unclaimed, Stop):  # Stop: the flow is gone, which the claimed run says
            return None
        if deadlines.abandoned():
            runner.release_logs()
            return output
        store.stamp(execution, output)
        if not store.save_unclaimed(db, execution, runner.steps, seen):
            return None  # run again under a claim, which logs what this run held back
        runner.release_logs()
        return output

    def _lost(self, flow: Flow, execution: Execution | None, output: Output, call_sid: str,
              widget: str, source: str) -> Output:
        """The apology for a step that found no execution waiting at ``widget``."""
        if execution is None:
            log.warning("flow %s: no active execution for call %s (step %s/%s)",
                        flow.name, call_sid or "-", widget, source)
        else:
            log.warning("flow %s, execution %s: Twilio came back for widget %s/%s, but the "
                        "execution waits at %s", flow.name, execution.sid, widget, source,
                        execution.widget or "no widget")
        output.apologise = True
        return output

    # -- messages --------------------------------------------------------------------------

    def message(self, flow: Flow, params: Mapping[str, str], *, db: Database,
                settings: Settings, links: Links) -> Output:
        """An incoming message: a new execution, or the reply an execution waits for."""
        output = Output(MESSAGING)
        values = fields(params)
        contact, address = values.get("From") or "", values.get("To") or ""
        if not contact:
            log.warning("flow %s: a message without From: not answered", flow.name)
            return output
        if values.get("FlowEvent") == "return":
            return self.message_return(flow, params, db=db, settings=settings, links=links)
        ends = _deadline(settings)
        for _round in range(3):
            execution = self._acquire(
                db, flow, contact, MESSAGING, settings, ends,
                lambda: self._new(flow, MESSAGING, contact, address, MESSAGING,
                                  {"message": values}),
            )
            if execution.new:
                self._move(db, execution, output, settings, links, ends,
                           lambda runner: runner.start("incomingMessage"))
                return output
            if execution.waiting_for in ("reply", "return") and _late(self, execution, db):
                self._move(db, execution, output, settings, links, ends,
                           lambda runner: runner.resume("timeout", {}))
                if output.redirect is not None:
                    return output  # a TwiML Redirect after the timeout took the message
                continue  # the message itself: for what the timeout left
            if execution.waiting_for == "reply":
                self._move(db, execution, output, settings, links, ends,
                           lambda runner: runner.resume("reply", values))
                return output
            reason = (f"it waited for {execution.waiting_for or 'nothing'}, not a message; "
                      "the message starts a new execution")
            self._move(db, execution, output, settings, links, ends,
                       lambda runner, reason=reason: runner.end(reason))
        log.error("flow %s: the message from %s found no execution to take it", flow.name,
                  contact)
        return output

    def message_return(self, flow: Flow, params: Mapping[str, str], widget: str | None = None,
                       *, db: Database, settings: Settings, links: Links) -> Output:
        """A TwiML Redirect handing the conversation back: the message's fields, requested at
        the flow's URL with ``FlowEvent=return``, or at ``/step/WIDGET/return`` (``widget``).
        The sender's execution waiting at that TwiML Redirect takes ``return`` (``timeout``
        when it came back late); a return that finds none is logged and answered with nothing
        (it starts no execution)."""
        output = Output(MESSAGING)
        values = fields(params)
        contact = values.get("From") or ""
        key, sid = MESSAGING, flow_sid(flow)
        ends = _deadline(settings)
        execution: Execution | None = None
        found: Execution | None = None
        if contact:  # the usual case: the execution, free, found and claimed in one statement
            execution = store.claim_active(db, sid, contact, key, claim_for=_claim(settings))
        if execution is None and contact:
            found = store.find_active(db, sid, contact, key)
            if _returns_to(found, widget):
                execution = store.claim_waiting(db, found, claim_for=_claim(settings),
                                                until=ends - ANSWER_MARGIN)
        if execution is None or not _returns_to(execution, widget):
            if execution is not None:
                store.release(db, execution)
            seen = execution or found
            why = (f"its execution waits at {seen.widget} for {seen.waiting_for}"
                   if seen is not None and seen.waiting_for
                   else "no execution of its sender waits for it")
            log.warning("flow %s: the return of a TwiML Redirect (%s) from %s is not taken: %s",
                        flow.name, f"/step/{widget}/return" if widget else "FlowEvent=return",
                        contact or "no sender", why)
            return output
        source = "timeout" if _late(self, execution, db) else "return"
        self._move(db, execution, output, settings, links, ends,
                   lambda runner: runner.resume(source, values))
        return output

    def message_status(self, flow: Flow, params: Mapping[str, str], execution_sid: str,
                       widget: str, *, db: Database, settings: Settings, links: Links) -> None:
        """The status of a question Send & Wait For Reply sent: ``deliveryFailure`` when it
        failed or was not delivered, if the execution still waits for its reply."""
        values = fields(params)
        if values.get("MessageStatus") not in ("failed", "undelivered"):
            return
        found = store.get(db, execution_sid)
        if found is None or found.widget != widget or found.waiting_for != "reply":
            return
        ends = _deadline(settings)
        execution = store.claim_waiting(db, found, claim_for=_claim(settings),
                                        until=ends - ANSWER_MARGIN)
        if execution is None or execution.widget != widget:
            if execution is not None:
                store.release(db, execution)
            return
        self._move(db, execution, Output(MESSAGING, webhook=False), settings, links, ends,
                   lambda runner: runner.resume("deliveryFailure", values))

    def fire_due_timeouts(self, db: Database, *, settings: Settings,
                          links: Callable[[Execution], Links], limit: int = 50) -> int:
        """Take ``timeout`` for the executions whose reply (or, in a conversation, TwiML
        Redirect's return) did not come in time; how many. An execution that cannot be moved
        (a bug, or a state its flow no longer fits) is ended, so that it does not hold up the
        others round after round; the database failing stops the round, giving back its
        claims not yet used."""
        done = 0
        claimed = store.claim_due(db, claim_for=BACKGROUND_CLAIM, limit=limit)
        for index, execution in enumerate(claimed):
            output = Output(MESSAGING if execution.channel == MESSAGING else VOICE,
                            webhook=False)
            try:
                self._move(db, execution, output, settings, links(execution), None,
                           lambda runner: runner.resume("timeout", {}))
            except store.StoreUnavailable:
                for rest in claimed[index:]:
                    with contextlib.suppress(Exception):
                        store.release(db, rest)
                raise
            except Exception as error:
                log.error("execution %s of flow %s ends: its timeout could not be taken "
                          "(%s: %s)", execution.sid, execution.flow_name,
                          type(error).__name__, error, exc_info=error)
                with contextlib.suppress(Exception):
                    if store.claim(db, execution, claim_for=BACKGROUND_CLAIM):
                        execution.status = ENDED
                        store.save(db, execution, [])
            done += 1
        return done

    # -- plumbing --------------------------------------------------------------------------

    def _new(self, flow: Flow, channel: str, contact: str, address: str, key: str,
             trigger: Mapping[str, Any], call_sid: str | None = None) -> Execution:
        sid = store.new_sid("FN")
        execution = Execution(
            sid=sid, flow_sid=flow_sid(flow), flow_name=flow.name,
            contact_channel_address=contact, channel_address=address or None,
            channel=channel, call_sid=call_sid or None, status=ACTIVE, active_key=key,
        )
        execution.context = new_context(
            flow, execution_sid=sid, trigger=trigger, contact=contact, channel_address=address,
        )
        return execution

    def _acquire(self, db: Database, flow: Flow, contact: str, key: str, settings: Settings,
                 ends: float, make: Callable[[], Execution]) -> Execution:
        """The flow's active execution for the contact, claimed; a new one (``new``) when it
        had none. Two requests at once for one contact: one creates, the other waits for it."""
        claim_for = _claim(settings)
        sid = flow_sid(flow)
        # the usual case: the execution, free, found and claimed in one statement
        claimed = store.claim_active(db, sid, contact, key, claim_for=claim_for)
        if claimed is not None:
            return claimed
        try:  # none, or another request holds it: a new one is made only if there is none
            return store.create(db, make(), claim_for=claim_for)
        except AlreadyActive:
            pass
        for _attempt in range(20):
            found = store.find_active(db, sid, contact, key)
            if found is None:
                try:
                    return store.create(db, make(), claim_for=claim_for)
                except AlreadyActive:
                    continue
            claimed = store.claim_waiting(db, found, claim_for=claim_for,
                                          until=ends - ANSWER_MARGIN)
            if claimed is not None:
                return claimed
        raise ClaimTimeout(f"no execution of flow {flow.name} could be taken for {contact}")

    def _move(self, db: Database, execution: Execution, output: Output, settings: Settings,
              links: Links, ends: float | None, work: Callable[[Runner], None], *,
              call_ended: bool = False) -> Runner | None:
        """Run ``work`` on the claimed ``execution``, then write its progress (or, when the
        webhook's deadline passed meanwhile, only give the claim back)."""
        try:
            try:
                runner = Runner(self, execution, output, settings=settings, links=links,
                                deadline=ends, call_ended=call_ended, db=db)
            except Stop as stop:
                log.error("execution %s ends: %s", execution.sid, stop.reason)
                execution.status = ENDED
                output.apologise = output.channel == VOICE and output.webhook
                store.stamp(execution, output)
                store.save(db, execution, [])
                return None
            work(runner)
        except BaseException:
            with contextlib.suppress(Exception):
                store.release(db, execution)
            raise
        if deadlines.abandoned():
            store.release(db, execution)
            return runner
        store.stamp(execution, output)
        if not store.save(db, execution, runner.steps):
            log.error("execution %s: its progress was not written (another request took it "
                      "over after %.0f s)", execution.sid, _claim(settings))
        return runner


class PathLinks:
    """Links made without a request (a timer): below ``public_url``
    (``SWITCHBOARD_PUBLIC_URL``); without one, no status callback can be given."""

    def __init__(self, public_url: str | None, flow_name: str) -> None:
        self.base = (public_url or "").rstrip("/")
        self.flow = quote(flow_name, safe="")

    def step(self, widget: str, source: str) -> str:
        return f"{self.base}/flows/{self.flow}/step/{url_segment(widget)}/{quote(source)}"

    def message_status(self, execution_sid: str, widget: str) -> str | None:
        if not self.base:
            return None
        return (f"{self.base}/flows/{self.flow}/message-status/{quote(execution_sid)}/"
                f"{url_segment(widget)}")

    def outgoing_call(self, execution_sid: str, widget: str) -> str | None:
        """The URL of a call Make Outgoing Call places (None without a public URL)."""
        if not self.base:
            return None
        return (f"{self.base}/flows/{self.flow}/outgoing-call/{quote(execution_sid)}/"
                f"{url_segment(widget)}")

    def outgoing_call_status(self, execution_sid: str, widget: str) -> str | None:
        url = self.outgoing_call(execution_sid, widget)
        return url + "/status" if url else None

    def recording_status(self, widget: str) -> str | None:
        """A Record Voicemail's recording status callback (None without a public URL)."""
        if not self.base:
            return None
        return f"{self.base}/flows/{self.flow}/recording-status/{url_segment(widget)}"


def contact_of(values: Mapping[str, str]) -> str:
    """The contact of a call's webhook: the caller, or whom the account called."""
    return _parties(values)[0]


def _parties(values: Mapping[str, str]) -> tuple[str, str]:
    """(contact, the flow's own number) of a call: the caller and the number called, or the
    other way round for a call the account placed."""
    from_, to = values.get("From") or "", values.get("To") or ""
    if (values.get("Direction") or "").startswith("outbound"):
        return to, from_
    return from_, to


def _returns_to(execution: Execution | None, widget: str | None) -> bool:
    """Whether ``execution`` waits for a TwiML Redirect's return (at ``widget``, if given)."""
    return (execution is not None and execution.waiting_for == "return"
            and (widget is None or execution.widget == widget))


def _late(runtime: Runtime, execution: Execution, db: Database) -> bool:
    return execution.wait_until is not None and runtime.now(db) >= execution.wait_until


def _deadline(settings: Settings) -> float:
    """When (``time.monotonic()``) this webhook must be answered."""
    own = time.monotonic() + float(settings.handler_timeout)
    ends = getattr(deadlines, "ends", None)
    known = ends() if ends is not None else None
    return min(own, known) if known is not None else own


def _claim(settings: Settings) -> float:
    return float(settings.handler_timeout) + CLAIM_MARGIN


def apologise(output: Output, settings: Settings) -> None:
    """Add the apology and a hang-up to the call's answer (after what it already holds)."""
    voice = output.voice
    attributes = {"voice": settings.voice, "language": settings.language}
    voice.say(VOICE_APOLOGY, **{name: value for name, value in attributes.items() if value})
    voice.hangup()


def fire_due_timeouts(
    store_or_engine: Any,
    flows: Mapping[str, Flow],
    *,
    settings: Settings | None = None,
    client_factory: ClientFactory | None = None,
    limit: int = 50,
) -> int:
    """Take the ``timeout`` of every Send & Wait For Reply whose reply did not come in time
    (and of every TwiML Redirect of a conversation not handed back in time), as a timer
    would, sending what the flow says next through the REST API; how many executions moved.
    Several processes may run it at once (``FOR NO KEY UPDATE SKIP LOCKED``). Executions of
    the Studio API's flows (in the database) move too."""
    from switchboard.callbacks.studio.flows_store import DatabaseFlows
    from switchboard.config import load_settings

    settings = settings or load_settings()
    runtime = Runtime(flows, client_factory=client_factory,
                      lookup=DatabaseFlows(store_or_engine))
    db = runtime.database(store_or_engine)
    return runtime.fire_due_timeouts(
        db, settings=settings,
        links=lambda execution: PathLinks(settings.public_url, execution.flow_name),
        limit=limit,
    )
