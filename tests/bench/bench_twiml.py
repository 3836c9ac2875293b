"""TwiML builder against xml.etree.ElementTree: build and serialise a typical IVR response.

The document has ten elements (a menu Gather with Say and Play, a Say, a Dial with a Number, a
voicemail Say and Record, a Hangup). Every response differs from the one before, as a server's
do: the greeting names the caller (from a rotating list) and counts the call, and the menu's
action URL carries the call's number in its query string, so no response is ever the same
text twice. The baseline builds the very same document with the standard library's
ElementTree, attribute names and values written out by hand, and serialises it with the same
XML declaration; both outputs are checked to be the same document (canonical XML) before
timing. The only difference is ElementTree's ``<Hangup />`` for lxml's ``<Hangup/>``.

For scale it also times the same document written directly against lxml (``SubElement`` with
literal attributes, no builder): what making lxml elements one by one costs on this machine,
and, also for scale, both builds of one fixed response repeated (a menu that never changes),
where the builder has no text or value to update. The goal is judged on the changing ones.

Run: ``.venv/bin/python -m tests.bench twiml``
"""

from __future__ import annotations

import itertools
import time
import timeit
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from lxml import etree

from switchboard.callbacks.twiml import DECLARATION, VoiceResponse

GOAL = 2.0
MENU = "Press 1 for sales, 2 for support, or stay on the line."
CALLERS = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret"]


def greeting(call: int) -> str:
    """The menu's spoken text for call number ``call``: different for every call."""
    return f"Hello {CALLERS[call % len(CALLERS)]}, you are caller {call}. {MENU}"


def menu_url(call: int) -> str:
    return f"/voice/menu?call={call}"


def build_switchboard(call: int) -> str:
    r = VoiceResponse()
    with r.gather(
        num_digits=1, action=menu_url(call), method="POST", timeout=5, input=["dtmf", "speech"]
    ) as g:
        g.say(greeting(call), voice="Polly.Joanna", language="en-US")
        g.play("https://example.com/audio/menu-music.mp3")
    r.say("Connecting you to the front desk.", voice="Polly.Joanna")
    with r.dial(
        timeout=20, caller_id="+15550001111", action="/voice/dial-result", answer_on_bridge=True
    ) as d:
        d.number(
            "+15551234567",
            status_callback="/voice/status",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
    r.say("Nobody is free. Please leave a message after the beep.", voice="Polly.Joanna")
    r.record(
        max_length=120,
        play_beep=True,
        action="/voice/recorded",
        recording_status_callback="/voice/recording-status",
    )
    r.hangup()
    return str(r)


def build_by_hand(api: Any, call: int) -> Any:
    """The document written out by hand with ``api`` (ElementTree or lxml.etree)."""
    sub = api.SubElement
    root = api.Element("Response")
    gather = sub(
        root,
        "Gather",
        {
            "numDigits": "1",
            "action": menu_url(call),
            "method": "POST",
            "timeout": "5",
            "input": "dtmf speech",
        },
    )
    sub(gather, "Say", {"voice": "Polly.Joanna", "language": "en-US"}).text = greeting(call)
    sub(gather, "Play").text = "https://example.com/audio/menu-music.mp3"
    sub(root, "Say", {"voice": "Polly.Joanna"}).text = "Connecting you to the front desk."
    dial = sub(
        root,
        "Dial",
        {
            "timeout": "20",
            "callerId": "+15550001111",
            "action": "/voice/dial-result",
            "answerOnBridge": "true",
        },
    )
    sub(
        dial,
        "Number",
        {
            "statusCallback": "/voice/status",
            "statusCallbackEvent": "initiated ringing answered completed",
        },
    ).text = "+15551234567"
    sub(
        root, "Say", {"voice": "Polly.Joanna"}
    ).text = "Nobody is free. Please leave a message after the beep."
    sub(
        root,
        "Record",
        {
            "maxLength": "120",
            "playBeep": "true",
            "action": "/voice/recorded",
            "recordingStatusCallback": "/voice/recording-status",
        },
    )
    sub(root, "Hangup")
    return root


def build_etree(call: int) -> str:
    root = build_by_hand(ET, call)
    return DECLARATION + ET.tostring(root, encoding="unicode", short_empty_elements=True)


def build_lxml_by_hand(call: int) -> str:
    return DECLARATION + etree.tostring(build_by_hand(etree, call), encoding="unicode")


def measure(
    functions: dict[str, Callable[[int], str]], rounds: int = 60, number: int = 400
) -> dict[str, float]:
    """Best microseconds per call of each function, timed in alternating rounds.

    Each function is given the next call number every time, so every response differs.
    Alternating keeps a busy machine from favouring whichever runs first, the clock is this
    process's CPU time (time spent waiting for a core does not count), and the best round is
    the one least disturbed by other processes.
    """
    best = dict.fromkeys(functions, float("inf"))
    calls = itertools.count(1)
    for _ in range(rounds):
        for name, function in functions.items():
            timer = timeit.Timer(lambda f=function: f(next(calls)), timer=time.process_time)
            best[name] = min(best[name], timer.timeit(number=number) / number * 1e6)
    return best


def main() -> None:
    for call in (1, 2, 99):
        ours, theirs = build_switchboard(call), build_etree(call)
        if ET.canonicalize(ours) != ET.canonicalize(theirs) or ours != build_lxml_by_hand(call):
            raise SystemExit(f"documents differ:\n  lxml:  {ours}\n  etree: {theirs}")
    print(f"document: {len(ours)} characters, 10 elements, 20 attributes, new text every call")
    best = measure(
        {"builder": build_switchboard, "etree": build_etree, "by hand": build_lxml_by_hand}
    )
    ratio = best["etree"] / best["builder"]
    print(f"callbacks.twiml builder (lxml): {best['builder']:7.2f} us per response")
    print(f"xml.etree.ElementTree:          {best['etree']:7.2f} us per response")
    print(
        f"lxml by hand, no builder:       {best['by hand']:7.2f} us per response"
        f" ({best['etree'] / best['by hand']:.2f}x etree)"
    )
    verdict = "meets" if ratio >= GOAL else "MISSES"
    print(f"ratio: builder {ratio:.2f}x faster than etree ({verdict} the {GOAL:.0f}x goal)")
    fixed = measure(
        {"builder": lambda _: build_switchboard(1), "etree": lambda _: build_etree(1)}, rounds=30
    )
    print(
        f"for scale, the very same response every call (a fixed menu): builder"
        f" {fixed['builder']:.2f} us, etree {fixed['etree']:.2f} us,"
        f" {fixed['etree'] / fixed['builder']:.2f}x"
    )


if __name__ == "__main__":
    main()
