"""What a webhook was answered, as the console shows it: a line per TwiML verb, and the
document itself with the credentials and query strings of its URLs left out.

The stored answer (``webhook_exchanges.answer``) is the start of the body as it was sent: it
is parsed here, when a page shows it, never on the request path. It may be cut short (at
:data:`~switchboard.callbacks.exchanges.ANSWER_LIMIT` bytes), or be whatever a handler wrote,
so the parser recovers what it can and reads no DTD, entity or network resource. Every line
is text (a :class:`~switchboard.callbacks.console.lines.Line`, whose values, the words said
or texted, numbers, URLs, a page isolates each on its own): the templates escape it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from lxml import etree

from switchboard.callbacks.console.lines import Line
from switchboard.callbacks.exchanges import shown_url
from switchboard.callbacks.secrets import hide_credentials
from switchboard.callbacks.text import shortened

#: Characters of spoken or texted words shown in a line.
TEXT_SHOWN = 60
#: Lines shown for one answer at most (a document of many verbs ends with "...").
LINES_SHOWN = 12

_local = threading.local()
_QUERY = re.compile(r"(\bhttps?://[^\s<>\"'?]*)\?[^\s<>\"']*")


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            recover=True, resolve_entities=False, no_network=True, load_dtd=False,
            huge_tree=False, remove_comments=True, remove_pis=True,
        )
    return parser


def safe_text(answer: str) -> str:
    """``answer`` with the credentials in it masked as a log line hides them
    (:func:`~switchboard.callbacks.secrets.hide_credentials`: the password of every
    ``user:password@`` URL and SIP URI, every ``token=``... pair), and every query string of
    an absolute URL left out (a URL's owner may carry a token there)."""
    return _QUERY.sub(r"\1?…", hide_credentials(answer))


def verbs(answer: str | None, own_hosts: Iterable[str] = ()) -> list[Line]:
    """One line per verb of the TwiML ``answer``: ``Say "We are open…"``,
    ``Gather (Say "Press 1…") → /voice/menu``, ``Hangup``. A URL on this server's own hosts
    (``own_hosts``) is shown by its path. Empty for no answer or one that is not TwiML."""
    if not answer or "<" not in answer:
        return []
    try:
        root = etree.fromstring(answer.lstrip().encode("utf-8"), _parser())
    except (etree.XMLSyntaxError, ValueError):
        return []
    if root is None or root.tag != "Response":
        return []
    hosts = {host.lower() for host in own_hosts if host}
    lines = [_line(verb, hosts) for verb in root if isinstance(verb.tag, str)]
    if len(lines) > LINES_SHOWN:
        lines = [*lines[:LINES_SHOWN - 1], Line(f"... {len(lines) - LINES_SHOWN + 1} more")]
    return lines


def _line(verb: etree._Element, hosts: set[str]) -> Line:
    describe = _VERBS.get(verb.tag, _other)
    return describe(verb, hosts)


def _quoted(text: str | None) -> Line:
    return Line.of('"{}"', shortened(" ".join((text or "").split()), TEXT_SHOWN))


def _url(url: str | None, hosts: set[str]) -> str:
    """A URL as a line shows it: its path when it is on this server, else without its
    password and query string."""
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return shown_url(url)
    if not parts.scheme:  # relative: on this server
        return parts.path + ("?…" if parts.query else "")
    if (parts.hostname or "").lower() in hosts or parts.netloc.lower() in hosts:
        return (parts.path or "/") + ("?…" if parts.query else "")
    return shown_url(url)


def _then(verb: etree._Element, hosts: set[str], attribute: str = "action") -> Line:
    target = _url(verb.get(attribute), hosts)
    return Line.of(" → {}", target) if target else Line()


def _say(verb: etree._Element, hosts: set[str]) -> Line:
    return "Say " + _quoted("".join(verb.itertext()))


def _play(verb: etree._Element, hosts: set[str]) -> Line:
    if verb.get("digits"):
        return Line.of("Play digits {}", verb.get("digits"))
    target = _url(verb.text, hosts)
    return Line.of("Play {}", target) if target else Line("Play (nothing)")


def _pause(verb: etree._Element, hosts: set[str]) -> Line:
    return Line.of("Pause {} s", verb.get("length") or "1")


def _gather(verb: etree._Element, hosts: set[str]) -> Line:
    inside = [_line(child, hosts) for child in verb if isinstance(child.tag, str)]
    asks = Line.of(" ({})", Line("; ").join(inside)) if inside else ""
    return "Gather" + asks + _then(verb, hosts)


def _record(verb: etree._Element, hosts: set[str]) -> Line:
    longest = Line.of(" (at most {} s)", verb.get("maxLength")) if verb.get("maxLength") else ""
    return "Record" + longest + _then(verb, hosts)


def _dial(verb: etree._Element, hosts: set[str]) -> Line:
    nouns = []
    for noun in verb:
        if not isinstance(noun.tag, str):
            continue
        text = " ".join((noun.text or "").split())
        if noun.tag == "Sip":
            text = safe_text(text)
        nouns.append(Line.of("{} {}", noun.tag, text) if text else Line.of("{}", noun.tag))
    if not nouns and verb.text and verb.text.strip():
        nouns.append(Line.of("{}", verb.text.strip()))
    who = " " + Line(", ").join(nouns) if nouns else ""
    return "Dial" + who + _then(verb, hosts)


def _redirect(verb: etree._Element, hosts: set[str]) -> Line:
    target = _url(verb.text, hosts)
    return Line.of("Redirect → {}", target) if target else Line("Redirect")


def _reject(verb: etree._Element, hosts: set[str]) -> Line:
    return Line.of("Reject ({})", verb.get("reason")) if verb.get("reason") else Line("Reject")


def _enqueue(verb: etree._Element, hosts: set[str]) -> Line:
    name = " ".join((verb.text or "").split())
    queue = Line.of(" {}", name) if name else ""
    return "Enqueue" + queue + _then(verb, hosts)


def _message(verb: etree._Element, hosts: set[str]) -> Line:
    body = verb.find("Body")
    text = "".join(body.itertext()) if body is not None else verb.text
    media = len(verb.findall("Media"))
    extra = f" (+{media} media)" if media else ""
    to = Line.of(" to {}", verb.get("to")) if verb.get("to") else ""
    return "Message" + to + " " + _quoted(text) + extra


def _other(verb: etree._Element, hosts: set[str]) -> Line:
    inside = [Line.of("{}", child.tag) for child in verb if isinstance(child.tag, str)]
    nested = Line.of(" ({})", Line(", ").join(inside)) if inside else ""
    return Line.of("{}", verb.tag) + nested + _then(verb, hosts)


_VERBS: dict[str, Callable[[etree._Element, set[str]], Line]] = {
    "Say": _say,
    "Play": _play,
    "Pause": _pause,
    "Gather": _gather,
    "Record": _record,
    "Dial": _dial,
    "Redirect": _redirect,
    "Reject": _reject,
    "Enqueue": _enqueue,
    "Message": _message,
}
