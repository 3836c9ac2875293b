"""What no log line and no console page shows: the secret values of the settings, and the
credentials that text carries in a URL or a ``name=value`` pair.

The log filter (:mod:`switchboard.callbacks.logs`) and the console
(:mod:`switchboard.callbacks.console`) both hide what this module names, each in its own
words (``***`` in a log line, ``********`` on a page):

- :func:`secret_values`: the value of every setting marked secret in
  :data:`switchboard.config.fields.FIELDS` (the auth token, the API key secret, the SMTP
  server's password, the metrics token, the console's password and its hash, the secret key),
  and the credentials of every URL setting (the database's password, also one given as
  ``?password=``);
- :func:`hide_credentials`: the password of a ``scheme://user:password@`` URL or a
  ``sip:user:password@`` URI, the value of a ``token=``, ``api_key=``, ``password=``,
  ``AuthToken=``, ``sig=``... pair, and that of a quoted ``password="..."`` (``<Sip>``'s
  attribute), wherever text holds them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus, unquote, urlsplit

from switchboard.config.fields import FIELDS
from switchboard.config.validation import redact_url

__all__ = [
    "HIDDEN", "MIN_LENGTH", "hide_credentials", "hide_values", "longest_first", "revealed",
    "secret_values",
]

#: What a credential in text is written as.
HIDDEN = "***"
#: Values shorter than this are not hidden as they are: they would mask ordinary text.
MIN_LENGTH = 6

#: A name that says its value is a credential (``token``, ``api_key``, ``AuthToken``,
#: ``sig``...).
_CREDENTIAL_NAME = (
    r"\w*(?:token|key|secret|password|passwd|pwd|signature|sig|auth|authorization"
    r"|credentials?|session)"
)
_CREDENTIAL_NAMED = re.compile(rf"{_CREDENTIAL_NAME}\Z", re.IGNORECASE)
#: ``name=value`` where the name is a credential's; the value ends where a closing tag starts
#: (``token=abc</Say>``, as TwiML shows it), and only there: a ``</`` followed by anything but
#: a tag's name and its ``>`` is the value's own (``token=ab</cd`` is hidden whole).
_CREDENTIAL_PAIR = re.compile(
    rf"(\b{_CREDENTIAL_NAME}=)(?:[^\s&;,'\"#<]|<(?!/[A-Za-z_][\w.:-]*\s*>))+", re.IGNORECASE
)
#: ``name="value"`` (an XML attribute: ``<Sip password="...">``) where the name is that of a
#: password, a secret or a token (not a ``key``: ``finishOnKey="#"`` is no credential).
_QUOTED_CREDENTIAL = re.compile(
    r"""(\b\w*(?:password|passwd|pwd|secret|token)=(["']))(?:(?!\2).)+(?=\2)""",
    re.IGNORECASE,
)
#: ``scheme://user:password@``: the password, up to the last ``@`` before the path.
_URL_PASSWORD = re.compile(r"(://[^\s/?#@:'\"]*:)[^\s/?#'\"]*@")
#: ``scheme://user:password@``: the password, up to the first ``@`` (one holding ``?`` or
#: ``#``, which the rule above leaves).
_URL_PASSWORD_TO_FIRST_AT = re.compile(r"(://[^/\s:@<>\"']+:)[^@/\s<>\"']*@")
#: ``sip:user:password@host``: the password.
_SIP_PASSWORD = re.compile(r"\b(sips?:[^:@\s<>\"']+:)[^@\s<>\"']*@", re.IGNORECASE)


def revealed(value: object) -> str | None:
    """``value`` as text: a :class:`~switchboard.config.secret.Secret` revealed, an SMTP
    server's password (:class:`~switchboard.config.notify.SmtpServer`) taken out; None for
    anything that holds no text."""
    value = getattr(value, "password", value)
    reveal = getattr(value, "reveal", None)
    if callable(reveal):
        value = reveal()
    return value if isinstance(value, str) else None


def secret_values(settings: object, *more: object) -> tuple[str, ...]:
    """The values of ``settings`` that nothing may show (see the module docstring), and
    those of ``more`` (a :class:`~switchboard.config.secret.Secret` is revealed), each also
    as a URL writes it (``%20`` for a space) and as a form does (``+``): each once, the
    longest first (so that one holding another is hidden whole); ``None``, empty and short
    values (under :data:`MIN_LENGTH` characters) left out."""
    found: list[str | None] = []
    secrets = list(map(revealed, more))
    for field in FIELDS.values():
        value = getattr(settings, field.name, None)
        if field.secret:
            secrets.append(revealed(value))
        if isinstance(value, str) and "://" in value:
            found.extend(_url_credentials(value))
    for secret in filter(None, secrets):
        found += [secret, quote(secret, safe=""), quote_plus(secret, safe="")]
    return longest_first(found)


def longest_first(values: Iterable[str | None]) -> tuple[str, ...]:
    """``values`` that can be hidden (``None``, empty and short ones left out), each once,
    the longest first: the order :func:`hide_values` wants them in."""
    kept = dict.fromkeys(value for value in values if value and len(value) >= MIN_LENGTH)
    return tuple(sorted(kept, key=len, reverse=True))


def _url_credentials(url: str) -> Iterator[str]:
    """The password of ``url`` and the values of its query's credential names (``password``,
    ``sslpassword``, ``token``...), each as written and decoded."""
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        if parts.password:
            yield parts.password
            yield unquote(parts.password)
        for pair in parts.query.split("&"):
            name, _, value = pair.partition("=")
            if value and _CREDENTIAL_NAMED.match(unquote(name)):
                yield value
                yield unquote(value.replace("+", " "))


def hide_values(text: str, values: Iterable[str], mask: str = HIDDEN) -> str:
    """``text`` with each of ``values`` in it written ``mask`` (give them longest first:
    :func:`longest_first`)."""
    for value in values:
        if value in text:
            text = text.replace(value, mask)
    return text


def hide_credentials(text: str) -> str:
    """``text`` with the credentials it carries written :data:`HIDDEN`: the password of every
    ``scheme://user:password@`` URL (of the whole text, when it is one such URL, as
    :func:`~switchboard.config.validation.redact_url` finds it: a password holding a space or
    a ``/`` too) and of every ``sip:user:password@`` URI, the value of every ``name=value``
    pair whose name is a credential's (``token=``, ``api_key=``, ``password=``, ``sig=``...),
    and that of every quoted ``password="..."``, ``secret='...'`` or ``token="..."``."""
    if "@" in text:
        if text.startswith(("http://", "https://")):
            text = redact_url(text)
        if "://" in text:
            text = _URL_PASSWORD.sub(rf"\1{HIDDEN}@", text)
            text = _URL_PASSWORD_TO_FIRST_AT.sub(rf"\1{HIDDEN}@", text)
        text = _SIP_PASSWORD.sub(rf"\1{HIDDEN}@", text)
    if "=" in text:
        text = _CREDENTIAL_PAIR.sub(rf"\1{HIDDEN}", text)
        text = _QUOTED_CREDENTIAL.sub(rf"\1{HIDDEN}", text)
    return text
