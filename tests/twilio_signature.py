"""Twilio's request signature written from Twilio's description alone, for the tests.

The server and the emulator share one computation (``callbacks/security.py``), so a bug in it
would sign and accept the same wrong requests end to end. This module is the check on it:
written from Twilio's security documentation, not from that code, and kept as small as the
description. Tests import it; nothing in the package does.

Twilio's description: ``X-Twilio-Signature`` is the base64 of the HMAC-SHA1, keyed by the
auth token, of the full URL Twilio requested (query string included, ``#`` fragment not),
followed by each POST parameter sorted by name, as the name and then the value, with no
separator; a name sent more than once adds each of its values, sorted. A request with a
JSON body has ``bodySHA256`` (the hex SHA-256 of the body) in its query instead, and the URL
alone is signed.

The official Python SDK (``twilio.request_validator``) drops a value repeated under the
same name before signing: ``drop_repeats=True`` builds that form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

Fields = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(fields: Fields | None) -> list[tuple[str, str]]:
    if fields is None:
        return []
    if isinstance(fields, Mapping):
        return list(fields.items())
    return list(fields)


def signed_string(url: str, fields: Fields | None = None, *, drop_repeats: bool = False) -> str:
    """What Twilio signs: the URL without its fragment, then ``name + value`` for each field
    in name order, the values of one name in order too."""
    text = url.split("#", 1)[0]
    by_name: dict[str, list[str]] = {}
    for name, value in _pairs(fields):
        by_name.setdefault(name, []).append(value)
    for name in sorted(by_name):
        values = set(by_name[name]) if drop_repeats else by_name[name]
        for value in sorted(values):
            text += name + value
    return text


def signature(token: str, url: str, fields: Fields | None = None, *,
              drop_repeats: bool = False) -> str:
    """The ``X-Twilio-Signature`` for a request to ``url`` with POST ``fields``."""
    data = signed_string(url, fields, drop_repeats=drop_repeats).encode("utf-8")
    return base64.b64encode(hmac.new(token.encode("utf-8"), data, hashlib.sha1).digest()).decode()


def body_hash(body: bytes) -> str:
    """``bodySHA256``: the hex SHA-256 of the raw body."""
    return hashlib.sha256(body).hexdigest()


def url_with_body_hash(url: str, body: bytes) -> str:
    """``url`` with ``bodySHA256`` for ``body`` appended to its query string."""
    url = url.split("#", 1)[0]
    return f"{url}{'&' if '?' in url else '?'}bodySHA256={body_hash(body)}"
