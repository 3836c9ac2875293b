"""What a simulated caller does: keys pressed, words spoken, how dialled parties answer.

A :class:`CallScript` answers the runner's questions in order: at each ``<Gather>`` the next
scripted input (digits, or speech when the Gather listens for speech), at each ``<Record>`` how
long the caller speaks and how the recording ends, at each ``<Dial>`` what the dialled number
does. With ``interactive=True`` it asks a person at a terminal instead (digits typed at each
Gather).
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TextIO

DIAL_OUTCOMES = ("answered", "completed", "busy", "no-answer", "failed", "canceled")
QUEUE_OUTCOMES = ("bridged", "wait", "hangup", "leave", "queue-full", "error")

#: Typed or scripted inputs that mean "the caller pressed nothing".
NO_INPUT = frozenset({"", "-", "none", "timeout"})

#: The keys a caller presses, as in Twilio's ``sendDigits``: 0-9, * and #; ``w`` and ``W``
#: pause (half a second, one second).
DTMF_KEYS = frozenset("0123456789*#wW")


@dataclass(frozen=True)
class GatherInput:
    """What the caller gave a Gather: ``digits`` (may include the finishOnKey) or speech."""

    digits: str = ""
    speech: str = ""
    confidence: float = 0.92

    def __bool__(self) -> bool:
        return bool(self.digits or self.speech)


@dataclass(frozen=True)
class RecordingTake:
    """How the caller behaves at a ``<Record>``: seconds spoken, then a key or ``hangup``."""

    duration: int = 5
    digits: str = "#"


@dataclass(frozen=True)
class DialOutcome:
    """What a dialled party does: one of :data:`DIAL_OUTCOMES`, and for how long they talk."""

    status: str = "answered"
    duration: int = 30

    @property
    def answered(self) -> bool:
        return self.status in {"answered", "completed"}


def parse_digits(text: str | None) -> list[str]:
    """``"1,2#,,3"`` -> ``["1", "2#", "", "3"]``: one entry per Gather (empty: no input)."""
    if not text:
        return []
    return [part.strip() for part in text.split(",")]


def check_digits(text: str | None) -> str | None:
    """``text`` when each of its entries (see :func:`parse_digits`) is keys of
    :data:`DTMF_KEYS` or no input; ValueError saying which entry is not."""
    for entry in parse_digits(text):
        if entry.lower() not in NO_INPUT and not set(entry) <= DTMF_KEYS:
            raise ValueError(
                f"{entry!r} is not keys of a phone (0-9, * and #; w or W to pause; entries "
                "comma-separated, an empty one for no input)"
            )
    return text


def parse_dial_outcome(text: str) -> DialOutcome:
    """``busy``, ``answered`` or ``answered:45`` (talk time in seconds)."""
    status, _, duration = text.strip().partition(":")
    status = status.strip().lower()
    if status not in DIAL_OUTCOMES:
        raise ValueError(f"dial outcome {status!r} is not one of {', '.join(DIAL_OUTCOMES)}")
    return DialOutcome(status, int(duration) if duration else 30)


class CallScript:
    """A scripted caller.

    ``digits``: one entry per Gather, in order (``"2#"`` presses 2 then #; ``""`` gives no
    input). ``speech``: what the caller says at Gathers that listen for speech. ``dial``: the
    outcome of each ``<Dial>`` by number dialled (``"*"`` for any), else ``dial_outcome``.
    ``recordings``: one :class:`RecordingTake` per Record, else ``recording``. ``queue_outcome``:
    what happens to the caller at ``<Enqueue>``: ``bridged`` (an agent picks up), ``hangup``,
    ``queue-full``..., or ``wait``: really wait, up to ``queue_wait`` seconds, for another call's
    ``<Dial><Queue>`` (then ``hangup``). ``conference_seconds``: time spent in a
    conference, once ``conference_participants`` are in it (the caller really waits for the
    others, up to ``conference_wait`` seconds). With nothing left to give, the caller stays
    silent at each Gather and listens until the application ends the call (the runner caps a
    call at 100 documents).
    """

    def __init__(
        self,
        digits: Iterable[str] | str | None = None,
        *,
        speech: Iterable[str] | None = None,
        dial: Mapping[str, DialOutcome | str] | None = None,
        dial_outcome: DialOutcome | str = "answered",
        recordings: Iterable[RecordingTake] | None = None,
        recording: RecordingTake | None = None,
        queue_outcome: str = "bridged",
        queue_wait: float = 10.0,
        conference_seconds: int = 60,
        conference_participants: int = 1,
        conference_wait: float = 10.0,
        interactive: bool = False,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        if isinstance(digits, str):
            digits = parse_digits(digits)
        self.digits: deque[str] = deque(digits or ())
        self.speech: deque[str] = deque(speech or ())
        self.dial = {k: _outcome(v) for k, v in (dial or {}).items()}
        self.dial_outcome = _outcome(dial_outcome)
        self.recordings: deque[RecordingTake] = deque(recordings or ())
        self.recording = recording or RecordingTake()
        if queue_outcome not in QUEUE_OUTCOMES:
            raise ValueError(f"queue outcome {queue_outcome!r} is not one of {QUEUE_OUTCOMES}")
        self.queue_outcome = queue_outcome
        self.queue_wait = queue_wait
        self.conference_seconds = conference_seconds
        self.conference_participants = conference_participants
        self.conference_wait = conference_wait
        self.interactive = interactive
        self.stdin = stdin
        self.stdout = stdout

    def gather(self, *, dtmf: bool = True, speech: bool = False, prompt: str = "") -> GatherInput:
        """The caller's answer to a Gather (empty when there is nothing left to give)."""
        if self.interactive:
            return self._ask(dtmf=dtmf, speech=speech, prompt=prompt)
        if dtmf and self.digits:
            entry = self.digits.popleft()
            return GatherInput(digits="" if entry.lower() in NO_INPUT else entry)
        if speech and self.speech:
            return GatherInput(speech=self.speech.popleft())
        return GatherInput()

    def take_recording(self) -> RecordingTake:
        return self.recordings.popleft() if self.recordings else self.recording

    def dial_for(self, number: str) -> DialOutcome:
        return self.dial.get(number) or self.dial.get("*") or self.dial_outcome

    def _ask(self, *, dtmf: bool, speech: bool, prompt: str) -> GatherInput:
        stdin = self.stdin or sys.stdin
        stdout = self.stdout or sys.stdout
        if dtmf and speech:
            question = "Press keys, or type words to say (Enter for no input): "
        elif speech:
            question = "Say (Enter for no input): "
        else:
            question = "Press keys (Enter for no input): "
        stdout.write(f"{prompt}{question}")
        stdout.flush()
        line = stdin.readline()
        if not getattr(stdin, "isatty", lambda: False)():  # piped: show what was "typed"
            stdout.write(line.rstrip("\n") + "\n")
            stdout.flush()
        if not line:  # end of input: the caller has nothing more to give
            return GatherInput()
        answer = line.strip()
        if answer.lower() in NO_INPUT:
            return GatherInput()
        if dtmf and set(answer) <= DTMF_KEYS:
            return GatherInput(digits=answer)
        if speech:
            return GatherInput(speech=answer)
        return GatherInput(digits="".join(ch for ch in answer if ch in "0123456789*#"))


def _outcome(value: DialOutcome | str) -> DialOutcome:
    return value if isinstance(value, DialOutcome) else parse_dial_outcome(value)
