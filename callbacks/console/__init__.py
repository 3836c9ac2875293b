"""The console: what happened, in a browser, under ``/console`` (see docs/console.md).

Server-rendered pages (Flask's Jinja templates), a little plain CSS and JavaScript of its own
served from its static folder, nothing fetched from elsewhere. Off unless a console password
is set (``SWITCHBOARD_CONSOLE_PASSWORD`` or ``SWITCHBOARD_CONSOLE_PASSWORD_HASH``).

Its modules: ``options`` (settings), ``blueprint`` (the blueprint, its state, headers and
error pages), ``auth`` (login, session, CSRF), ``throttle`` (wrong passwords), ``views`` (the
pages), ``audio`` (recordings streamed from Twilio), ``queries`` (what the pages read),
``answers`` (what a webhook was answered, a line per verb), ``tables`` (the console's own
tables, on the store's MetaData).
"""

from __future__ import annotations

from flask import Flask

from switchboard.callbacks.console import tables
from switchboard.callbacks.console.blueprint import EXTENSION, Console, add_security_headers, bp
from switchboard.callbacks.console.options import ConsoleOptions, read_options

__all__ = ["Console", "ConsoleOptions", "register_console", "tables"]


def register_console(app: Flask) -> Console | None:
    """Mount the console on ``app`` (made by :func:`switchboard.callbacks.create_app`) if a
    console password is set; return its state, or None when it stays off.

    Settings come from ``app.config``, then the app's settings. Registering twice is
    harmless. Raises
    :class:`~switchboard.config.ConfigError` for a bad console setting.
    """
    existing = app.extensions.get(EXTENSION)
    if existing is not None:
        return existing
    switchboard = app.extensions.get("switchboard")
    if switchboard is None:
        raise RuntimeError("register_console needs an app made by create_app()")
    options = read_options(app.config, switchboard.settings)
    if options is None:
        return None
    from switchboard.callbacks.console import audio, auth, views  # noqa: F401  (their routes)

    state = Console(options, switchboard)
    app.extensions[EXTENSION] = state
    app.register_blueprint(bp)
    app.after_request(add_security_headers)
    try:  # the tables of the console, if the store made its own without them
        state.ensure_tables()
    except Exception as error:  # the database is down: the first page tries again
        app.logger.warning("console: its tables are not made yet (%s)", type(error).__name__)
    return state
