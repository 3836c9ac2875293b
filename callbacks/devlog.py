"""The development server's request log, without query strings.

``flask run`` and ``switchboard run`` log each request line through werkzeug's logger,
query string included, and a webhook URL's query string may carry what its owner put there
(a token, a customer's number). gunicorn's access log leaves it out already
(``deploy/gunicorn.conf.py``); this filter does the same for werkzeug's server.
"""

from __future__ import annotations

import logging

from switchboard.callbacks.logs import hide_secrets

__all__ = ["HideQueryStrings", "hide_query_strings"]


class HideQueryStrings(logging.Filter):
    """Drops the ``?query`` from werkzeug's ``"METHOD /path?query HTTP/1.1" status size``, and
    hides the secrets :class:`~switchboard.callbacks.logs.OneLine` hides in the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 3
            and isinstance(args[0], str)
            and '"%s" %s %s' in str(record.msg)
        ):
            line = args[0] if "?" not in args[0] else _without_query(args[0])
            record.args = (hide_secrets(line), *args[1:])
        return True


def _without_query(line: str) -> str:
    """``POST /voice?a=1 HTTP/1.1`` -> ``POST /voice?… HTTP/1.1`` (colour codes kept)."""
    method, _, rest = line.partition(" ")
    target, space, version = rest.rpartition(" ")
    if not space:  # no version: a bad request line, all of it target
        target, version = rest, ""
    path, mark, _ = target.partition("?")
    return f"{method} {path}{mark and '?…'}{space}{version}"


_FILTER = HideQueryStrings()


def hide_query_strings(logger_name: str = "werkzeug") -> None:
    """Install the filter on werkzeug's logger (once, however often it is called)."""
    logger = logging.getLogger(logger_name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
