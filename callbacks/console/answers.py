"""What a webhook was answered, as the console shows it: a line per TwiML verb, and the
document itself with the credentials and query strings of its URLs left out.

The stored answer (``webhook_exchanges.answer``) is the start of the body as it was sent: it
is parsed here, when a page shows it, never on the request path. It may be cut short (at
:data:`~switchboard.callbacks.exchanges.ANSWER_LIMIT` bytes), or be whatever a handler wrote,
so the parser recovers what it can and reads no DTD, entity or network resource. Every line
is plain text: the templates escape it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from lxml import etree

from switchboard.callbacks.exchanges import shown_url

#: Characters of spoken or texted words shown in a line.
TEXT_SHOWN = 60
#: Lines shown for one answer at most (a document of many verbs ends with "...").
LINES_SHOWN = 12

_local = threading.local()
_CREDENTIALS = re.compile(r"(://[^/\s:@<>\"']+):[^@/\s<>\"']*@")
_SIP_CREDENTIALS = re.compile(r"\b(sips?:[^:@\s<>\"']+):[^@\s<>\"']*@")
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
    """``answer`` with the password of every ``user:password@`` URL (SIP URIs too) and every
    query string masked (a URL's owner may carry a token there)."""
    answer = _SIP_CREDENTIALS.sub(r"\1:***@", _CREDENTIALS.sub(r"\1:***@", answer))
    return _QUERY.sub(r"\1?…", answer)


def verbs(answer: str | None, own_hosts: Iterable[str] = ()) -> list[str]:
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
        lines = [*lines[:LINES_SHOWN - 1], f"... {len(lines) - LINES_SHOWN + 1} more"]
    return lines


def _line(verb: etree._Element, hosts: set[str]) -> str:
    describe = _VERBS.get(verb.tag, _other)
    return describe(verb, hosts)


def _quoted(text: str | None) -> str:
    words = " ".join((text or "").split())
    if len(words) > TEXT_SHOWN:
        words = words[:TEXT_SHOWN - 1].rstrip() + "…"
    return f'"{words}"'


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


def _then(verb: etree._Element, hosts: set[str], attribute: str = "action") -> str:
    target = _url(verb.get(attribute), hosts)
    return f" → {target}" if target else ""


def _say(verb: etree._Element, hosts: set[str]) -> str:
    return f"Say {_quoted(''.join(verb.itertext()))}"


def _play(verb: etree._Element, hosts: set[str]) -> str:
    if verb.get("digits"):
        return f"Play digits {verb.get('digits')}"
    return f"Play {_url(verb.text, hosts) or '(nothing)'}"


def _pause(verb: etree._Element, hosts: set[str]) -> str:
    return f"Pause {verb.get('length') or '1'} s"


def _gather(verb: etree._Element, hosts: set[str]) -> str:
    inside = [_line(child, hosts) for child in verb if isinstance(child.tag, str)]
    asks = f" ({'; '.join(inside)})" if inside else ""
    return f"Gather{asks}{_then(verb, hosts)}"


def _record(verb: etree._Element, hosts: set[str]) -> str:
    longest = f" (at most {verb.get('maxLength')} s)" if verb.get("maxLength") else ""
    return f"Record{longest}{_then(verb, hosts)}"


def _dial(verb: etree._Element, hosts: set[str]) -> str:
    nouns = []
    for noun in verb:
        if not isinstance(noun.tag, str):
            continue
        text = " ".join((noun.text or "").split())
        if noun.tag == "Sip":
            text = safe_text(text)
        nouns.append(f"{noun.tag} {text}".strip())
    if not nouns and verb.text and verb.text.strip():
        nouns.append(verb.text.strip())
    who = f" {', '.join(nouns)}" if nouns else ""
    return f"Dial{who}{_then(verb, hosts)}"


def _redirect(verb: etree._Element, hosts: set[str]) -> str:
    target = _url(verb.text, hosts)
    return f"Redirect → {target}" if target else "Redirect"


def _reject(verb: etree._Element, hosts: set[str]) -> str:
    return f"Reject ({verb.get('reason')})" if verb.get("reason") else "Reject"


def _enqueue(verb: etree._Element, hosts: set[str]) -> str:
    name = " ".join((verb.text or "").split())
    queue = f" {name}" if name else ""
    return f"Enqueue{queue}{_then(verb, hosts)}"


def _message(verb: etree._Element, hosts: set[str]) -> str:
    body = verb.find("Body")
    text = "".join(body.itertext()) if body is not None else verb.text
    media = len(verb.findall("Media"))
    extra = f" (+{media} media)" if media else ""
    to = f" to {verb.get('to')}" if verb.get("to") else ""
    return f"Message{to} {_quoted(text)}{extra}"


def _other(verb: etree._Element, hosts: set[str]) -> str:
    inside = [child.tag for child in verb if isinstance(child.tag, str)]
    nested = f" ({', '.join(inside)})" if inside else ""
    return f"{verb.tag}{nested}{_then(verb, hosts)}"


_VERBS: dict[str, Callable[[etree._Element, set[str]], str]] = {
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
