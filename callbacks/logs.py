"""Log lines that are one line each, of a sane length, with no secret and no query string.

Much of what the server logs comes from whoever sent the request: the path, a SID, a
fallback's ``ErrorUrl``, a flow or widget name, an exception's message quoting a value. A
newline among them, which arrives percent-encoded in a path (``/voice/x%0Aanything``), would
let an unsigned request write log lines of its own, and an ``ESC[`` sequence would restyle the
terminal showing the log. :class:`OneLine` makes each record safe to write:

- every value given to the message is cut to :data:`VALUE_LIMIT` characters, the message to
  :data:`MESSAGE_LIMIT`;
- the credentials :func:`switchboard.callbacks.secrets.hide_credentials` finds (the password
  of a ``user:password@`` URL or SIP URI, the value of a ``token=``, ``key=``, ``password=``...
  pair) and any value given to :func:`hide_in_logs` (the settings' secrets, as
  :func:`secrets_of` lists them; the console's password) are written ``***``;
- control characters are escaped (``\\n``, ``\\x1b``, ``\\u2028``...).

A traceback appended by the formatter keeps its own lines; the messages of its exceptions are
cut, cleaned and escaped the same way.

It sits on Switchboard's own loggers (:data:`LOGGERS`, :func:`filter_switchboard_loggers`), so
that their records are made safe where they are made, whatever handlers write them: Flask's
under ``flask run`` and ``switchboard run``, gunicorn's, logging's last resort, or those an app
sets up itself (``logging.basicConfig()``, a ``dictConfig``). Under gunicorn,
:class:`switchboard.callbacks.production.GunicornLogger` also puts it on the error and access
logs, and :class:`NoQueryStrings` on the error log; :func:`one_line_logs` puts it on the app
logger's handlers otherwise (Flask's own, for the development server).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from flask import Flask

from switchboard.callbacks.secrets import (
    HIDDEN,
    hide_credentials,
    hide_values,
    longest_first,
    revealed,
    secret_values,
)

__all__ = [
    "LOGGERS", "MESSAGE_LIMIT", "VALUE_LIMIT", "NoQueryStrings", "OneLine", "add_filter",
    "clean", "escape_controls", "filter_switchboard_loggers", "hidden_in_logs", "hide_in_logs",
    "hide_secrets", "one_line_logs", "secrets_of",
]

#: The most characters a log record shows of one value given to its message.
VALUE_LIMIT = 1000
#: The most characters a log record's message has (its traceback aside).
MESSAGE_LIMIT = 4000
#: The loggers Switchboard writes to. A logger's filters see only the records made on that
#: logger, not those its children pass up, so :class:`OneLine` goes on each one.
LOGGERS = (
    "switchboard",
    "switchboard.api",
    "switchboard.emulator",
    "switchboard.callbacks",
    "switchboard.callbacks.store",
    "switchboard.callbacks.studio",
    "switchboard.callbacks.studio.api",
)
#: The attribute :class:`OneLine` sets on a record it has made safe (a record may pass it twice:
#: on its logger, then on a handler).
_DONE = "_switchboard_one_line"

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_hidden: tuple[str, ...] = ()
_hidden_lock = threading.Lock()


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with control characters (and Unicode's line separators) written as escapes."""
    return _CONTROLS.sub(_escape, text) if _CONTROLS.search(text) else text


def hide_in_logs(*values: object) -> None:
    """Have :class:`OneLine` write each of ``values`` as ``***`` wherever a record shows it
    (a :class:`~switchboard.config.secret.Secret` is revealed for that; ``None``, empty and
    very short values are skipped)."""
    global _hidden
    found = [revealed(value) for value in values]
    with _hidden_lock:
        _hidden = longest_first((*_hidden, *found))


def hidden_in_logs() -> tuple[str, ...]:
    """The values given to :func:`hide_in_logs` so far, the longest first."""
    return _hidden


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} more characters]"


def hide_secrets(text: str) -> str:
    """``text`` with the secrets :class:`OneLine` hides written ``***``."""
    return hide_credentials(hide_values(text, _hidden, HIDDEN))


def clean(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` as a log line may show it: cut to ``limit`` characters, with no secret (see
    the module docstring) and its control characters escaped."""
    return escape_controls(_cut(hide_secrets(text), limit))


def _value(arg: object) -> object:
    if isinstance(arg, str):
        return _cut(arg, VALUE_LIMIT)
    if isinstance(arg, BaseException):
        return _cut(_safe_str(arg), VALUE_LIMIT)
    return arg


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return f"<{type(error).__name__}>"


def _traceback(record: logging.LogRecord) -> str:
    """The formatted traceback of ``record``, its exceptions' messages cleaned."""
    text = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
    error, seen = record.exc_info[1], set()  # type: ignore[index]
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        message = _safe_str(error)
        if message and message != (shown := clean(message, VALUE_LIMIT)):
            text = text.replace(message, shown)
        error = error.__cause__ or error.__context__
    text = hide_secrets(text)
    return _CONTROLS_BUT_NEWLINE.sub(_escape, text) if _CONTROLS_BUT_NEWLINE.search(text) else text


class OneLine(logging.Filter):
    """Makes a record's message one line of a sane length with no secret (see the module
    docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        try:
            if isinstance(record.args, tuple):
                record.args = tuple(map(_value, record.args))
            message = record.getMessage()
        except Exception:  # a bad format: the handler reports it as logging does
            return True
        # formatted once here: the formatter then takes the message as it is
        record.msg, record.args = clean(message), None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = _traceback(record)
        setattr(record, _DONE, True)
        return True


#: A request target quoted in a message: a path, or an absolute URL, and its query string.
_QUERY = re.compile(r"""((?:^|[\s'"])(?:[a-zA-Z][\w+.-]*://[^\s/?'"]*)?/[^\s?'"]*)\?[^\s'"]*""")


class NoQueryStrings(logging.Filter):
    """Drops the ``?query`` of request targets quoted in a message (``/voice?x=1`` ->
    ``/voice?…``): a webhook URL's query string may carry what its owner put there."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub(r"\1?…", message), None
        return True


def one_line_logs(app: Flask, hidden: Iterable[object] = ()) -> None:
    """Give :class:`OneLine` to Switchboard's loggers (:func:`filter_switchboard_loggers`) and
    to the handlers of ``app``'s logger: Flask's own, unless logging was configured before
    (gunicorn's, through :class:`GunicornLogger`; or the user's); and have it hide ``hidden``
    (see :func:`hide_in_logs`)."""
    filter_switchboard_loggers(hidden)
    for handler in app.logger.handlers:
        add_filter(handler, OneLine)


def filter_switchboard_loggers(hidden: Iterable[object] = ()) -> None:
    """Give :class:`OneLine` to each of Switchboard's loggers (:data:`LOGGERS`, and any other
    ``switchboard.*`` logger made so far), however logging is set up, and have it hide
    ``hidden`` (see :func:`hide_in_logs`). A logger named before its module makes it is the
    one the module gets, filter included. Handlers are left as they are: the app's own keep
    writing its own records unchanged."""
    hide_in_logs(*hidden)
    made = [name for name in list(logging.Logger.manager.loggerDict)
            if name.startswith("switchboard.")]
    for name in dict.fromkeys((*LOGGERS, *made)):
        add_filter(logging.getLogger(name), OneLine)


def secrets_of(settings: object) -> list[object]:
    """The values of ``settings`` no log may show, as the console masks them too
    (:func:`switchboard.callbacks.secrets.secret_values`): its secret fields, the
    credentials of its URLs (the database's, the SMTP server's)."""
    return list(secret_values(settings))


def add_filter(target: logging.Filterer, kind: type[logging.Filter]) -> None:
    """Give ``target`` (a logger or a handler) a filter of ``kind`` unless it has one."""
    if not any(isinstance(existing, kind) for existing in target.filters):
        target.addFilter(kind())
