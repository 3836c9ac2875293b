"""What the production entry point (:mod:`switchboard.callbacks.wsgi`, under gunicorn) adds to
``create_app``.

Unlike ``flask run``, it refuses to start without ``TWILIO_AUTH_TOKEN``: a production server
that cannot verify Twilio's signatures would refuse every webhook (or, with the checks off,
accept anyone's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask
from gunicorn import glogging
from gunicorn.config import Config

from switchboard.callbacks.app import create_app
from switchboard.callbacks.logs import NoQueryStrings, OneLine, add_filter
from switchboard.config import load_settings

__all__ = [
    "GunicornLogger", "MissingAuthToken", "prepare", "production_app", "require_auth_token",
]


class MissingAuthToken(RuntimeError):
    """No auth token is configured, so the production server will not start."""


def require_auth_token(config: Mapping[str, object] | None = None) -> None:
    """Raise :class:`MissingAuthToken` unless the settings hold an auth token."""
    if not load_settings(overrides=config).auth_token:
        raise MissingAuthToken(
            "TWILIO_AUTH_TOKEN is not set: the production server will not start without it "
            "(set it in the environment, or in the service's EnvironmentFile)"
        )


def production_app(config: Mapping[str, object] | None = None) -> Flask:
    """``create_app(config)`` once :func:`require_auth_token` is satisfied."""
    require_auth_token(config)
    return create_app(config)


def prepare(config: Mapping[str, object] | None = None) -> None:
    """Check the settings and create the tables, then let go of the database (gunicorn's
    master calls this once before it starts the workers)."""
    app_ = production_app(config)
    app_.extensions["switchboard"].store.close()


class GunicornLogger(glogging.Logger):
    """gunicorn's logger (``logger_class`` in ``deploy/gunicorn.conf.py``): every line of the
    error and access logs one line (:class:`~callbacks.logs.OneLine`), no query string in the
    request targets gunicorn quotes in its error log (an unparsable request line, a request
    that failed), and Switchboard's loggers (the app's, the REST client's, the store's)
    writing to the error log through the same filters, so that their lines carry the time, the
    worker's pid and the level as gunicorn's do."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        add_filter(self.error_log, NoQueryStrings)
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            add_filter(handler, OneLine)
        app_log = logging.getLogger("switchboard")
        loggers = (app_log, logging.getLogger("switchboard.callbacks"))
        if all(getattr(h, "_gunicorn", False) for log in loggers for h in log.handlers):
            # none of their own (from logconfig_dict, say): gunicorn's, made again on a reload
            loggers[1].handlers[:] = []
            app_log.handlers[:] = self.error_log.handlers
            app_log.setLevel(self.error_log.level)
            app_log.propagate = False
