"""Log lines that are one line each, and carry no query string.

Much of what the server logs comes from whoever sent the request: the path, a SID, a
fallback's ``ErrorUrl``, an exception's message quoting a value. A newline among them, which
arrives percent-encoded in a path (``/voice/x%0Aanything``), would let an unsigned request write
log lines of its own. :class:`OneLine` escapes control characters in each record's message
(``\\n``, ``\\x00``...), which leaves a traceback appended by the formatter as it is.

Under gunicorn, :class:`switchboard.callbacks.production.GunicornLogger` puts it on the error and
access
logs, and :class:`NoQueryStrings` on the error log; :func:`one_line_logs` puts it on the app
logger's handlers otherwise (Flask's own, for the development server).
"""

from __future__ import annotations

import logging
import re

from flask import Flask

__all__ = ["NoQueryStrings", "OneLine", "add_filter", "escape_controls", "one_line_logs"]

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with control characters (and Unicode's line separators) written as escapes."""
    return _CONTROLS.sub(_escape, text) if _CONTROLS.search(text) else text


class OneLine(logging.Filter):
    """Escapes control characters in a record's message (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # formatted once here: the formatter then takes the message as it is
        record.msg, record.args = escape_controls(record.getMessage()), None
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


def one_line_logs(app: Flask) -> None:
    """Give :class:`OneLine` to the handlers of ``app``'s logger: Flask's own, unless logging
    was configured before (gunicorn's, through :class:`GunicornLogger`; or the user's)."""
    for handler in app.logger.handlers:
        add_filter(handler, OneLine)


def add_filter(target: logging.Filterer, kind: type[logging.Filter]) -> None:
    """Give ``target`` (a logger or a handler) a filter of ``kind`` unless it has one."""
    if not any(isinstance(existing, kind) for existing in target.filters):
        target.addFilter(kind())
