"""What the production entry point (:mod:`callbacks.wsgi`, under gunicorn) adds to ``create_app``.

Unlike ``flask run``, it refuses to start without ``TWILIO_AUTH_TOKEN``: a production server
that cannot verify Twilio's signatures would refuse every webhook (or, with the checks off,
accept anyone's).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from callbacks.app import create_app
from config import load_settings

__all__ = ["MissingAuthToken", "prepare", "production_app", "require_auth_token"]


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

