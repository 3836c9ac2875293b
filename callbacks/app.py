"""The app factory: settings, the store, the signature guard, the bundled flows."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import IO, TYPE_CHECKING, Any

import click
from flask import Flask, Request, current_app
from flask.cli import NoAppException
from werkzeug.middleware.proxy_fix import ProxyFix

from switchboard.callbacks.deadline import Deadline
from switchboard.callbacks.devlog import hide_query_strings
from switchboard.callbacks.errors import register_error_handlers
from switchboard.callbacks.logs import filter_switchboard_loggers, one_line_logs, secrets_of
from switchboard.callbacks.security import RequestValidator, refusal
from switchboard.callbacks.studio.definition import FlowError
from switchboard.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from switchboard.callbacks.store import Store

log = logging.getLogger("switchboard.callbacks")

__all__ = [
    "FlowsRefused", "SettingsError", "Switchboard", "create_app", "get_settings", "get_store",
    "init_app",
]

#: Keys of create_app()'s ``config`` that are settings (by environment variable name); the rest
#: go to ``app.config``, where Switchboard reads ``BUNDLED_FLOWS`` (mount the bundled IVR, SMS
#: bot, status and fallback routes; default True) and ``STUDIO_FLOWS`` (serve the Studio flows
#: of the flows folder at ``/flows/NAME``; default True).
_SETTINGS_PREFIXES = ("TWILIO_", "SWITCHBOARD_")

#: Twilio sends small forms (an SMS body is at most 1,600 characters).
MAX_CONTENT_LENGTH = 1024 * 1024


class _NotLoaded(NoAppException):
    """An app Flask's command line could not load, shown as ``Error: ...`` alone: the
    command was typed right, so no usage follows."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.ClickException.show(self, file)


class SettingsError(_NotLoaded, ConfigError):
    """A setting the app cannot start with, raised by :func:`create_app` and :func:`init_app`.

    To Python it is a :class:`~switchboard.config.ConfigError`; to Flask's command line
    (``flask --app switchboard.callbacks routes``, a ``flask`` command loading an app that
    calls :func:`init_app`) it is an app that could not be loaded, reported in one line,
    ``Error: ...``, with exit status 2, as the ``switchboard`` command does. Any other
    exception keeps its traceback.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class FlowsRefused(_NotLoaded, FlowError):
    """Studio flows :func:`create_app` cannot start with: to Python the
    :class:`~switchboard.callbacks.studio.definition.FlowError` it was (``problems``, one
    line per problem), to Flask's command line an app that could not be loaded, reported as
    ``Error: `` and its lines, exit status 2, without a traceback."""

    def __init__(self, error: FlowError) -> None:
        FlowError.__init__(self, error.problems)
        self.message = str(error)
        self.show_color = None
        self.ctx = self.cmd = None

    def __str__(self) -> str:
        return self.message


@contextmanager
def _settings_errors() -> Iterator[None]:
    """A :class:`ConfigError` raised inside raised again as a :class:`SettingsError`, a
    :class:`FlowError` as :class:`FlowsRefused`."""
    try:
        yield
    except (SettingsError, FlowsRefused):
        raise
    except ConfigError as error:
        raise SettingsError(str(error)) from None
    except FlowError as error:
        raise FlowsRefused(error) from None


class Switchboard:
    """What :func:`create_app` keeps in ``app.extensions["switchboard"]``."""

    def __init__(self, settings: Settings, store: Store, *, max_workers: int = 32) -> None:
        from switchboard.callbacks.exchanges import Purger
        from switchboard.callbacks.health import health_deadline

        self.settings = settings
        self.store = store
        self.deadline = Deadline(settings.handler_timeout, max_workers=max_workers)
        #: ``/healthz``'s: its check in a thread, answered within a second.
        self.health_deadline = health_deadline()
        token = settings.auth_token
        self.validator = RequestValidator(token) if token else None
        #: URLs made by :func:`switchboard.callbacks.handlers.external_url`, by endpoint and origin.
        self.external_urls: dict[tuple[str | None, ...], str] = {}
        #: Deletes the webhook exchanges older than ``SWITCHBOARD_EXCHANGES_RETENTION_DAYS``
        #: now and then (:mod:`switchboard.callbacks.exchanges`).
        self.exchange_purger = Purger(timedelta(days=settings.exchanges_retention_days))
        #: Whether each webhook leaves its exchange (a retention of 0 days keeps none).
        self.records_exchanges = settings.exchanges_retention_days > 0

    @property
    def schema_ready(self) -> bool:
        """False while the tables could not be created (the database was down at start-up)."""
        return self.store.schema_ready

    def ensure_schema(self) -> None:
        """Create the tables if start-up could not, once per process; raises StoreUnavailable
        while it still can't (at once while the store's breaker is open)."""
        self.store.ensure_schema()

    def verify(self, request: Request, form: Mapping[str, str] | None = None) -> bool:
        """Whether ``request`` carries a valid ``X-Twilio-Signature`` (or checks are off).

        ``form``: the POST fields, when the caller parsed them already (else ``request.form``),
        from the raw body it kept first (:func:`~switchboard.callbacks.security.refusal`: any
        field a handler can read must be covered). Refusals are logged without detail of the
        signature; the client learns nothing.
        """
        if not self.settings.validate_signatures:
            log.warning(
                "signature checks are OFF (SWITCHBOARD_VALIDATE_SIGNATURES=false): %s %s "
                "accepted unchecked; never run like this in production",
                request.method, request.path,
            )
            return True
        if self.validator is None:
            log.warning(
                "refused %s %s with 403: TWILIO_AUTH_TOKEN is not set, so no webhook can be "
                "verified", request.method, request.path,
            )
            return False
        refused = refusal(request, self.validator, self.settings.public_url, form)
        if refused is None:
            return True
        log.warning("refused %s %s with 403: %s", request.method, request.path, refused)
        return False


class TrustedProxies(ProxyFix):
    """Werkzeug's ``ProxyFix``, reading the forwarded scheme as the case-insensitive name it
    is: a proxy's ``X-Forwarded-Proto: HTTPS`` is ``https``, the scheme Twilio signed."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if proto:
            environ["HTTP_X_FORWARDED_PROTO"] = proto.lower()
        return super().__call__(environ, start_response)


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Create the Switchboard app.

    ``config`` holds settings by their environment variable names (``TWILIO_AUTH_TOKEN``,
    ``SWITCHBOARD_DATABASE_URL``, ...), which win over the environment and ``.env``, and
    Flask config keys (``TESTING``, ``BUNDLED_FLOWS``, ``STUDIO_FLOWS``, ``QUIET_START``: no
    start-up warnings about the database or signature checks, for a command that uses only the
    store). With nothing configured the app serves the bundled flows, and the Studio flows of
    ``./flows`` when there is one, on an SQLite file in the instance folder. A Studio flow that
    cannot run raises :class:`~switchboard.callbacks.studio.definition.FlowError`, one line per
    problem (as :class:`FlowsRefused`); a setting it cannot start with, :class:`SettingsError`
    (a ``ConfigError``).
    """
    with _settings_errors():
        return _build(config)


def _build(config: Mapping[str, object] | None) -> Flask:
    config = dict(config or {})
    overrides = {k: v for k, v in config.items() if k.startswith(_SETTINGS_PREFIXES)}
    settings = load_settings(overrides=overrides or None)

    app = Flask("switchboard.callbacks", instance_relative_config=True, static_folder=None)
    # ``/voice//menu`` is a path no route has, not a redirect to ``/voice/menu`` (werkzeug's
    # default, a 308 before any signature check, to the host the request named).
    app.url_map.merge_slashes = False
    one_line_logs(app, hidden=secrets_of(settings))
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.config["BUNDLED_FLOWS"] = True
    app.config["STUDIO_FLOWS"] = True
    app.config.update({k: v for k, v in config.items() if k not in overrides})

    if settings.trusted_proxies > 0:
        hops = settings.trusted_proxies
        app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )

    _install(app, settings)
    _stop_dev_server_cleanly_on_sigterm()
    from switchboard.callbacks.health import bp as health_bp

    app.register_blueprint(health_bp)
    if app.config["BUNDLED_FLOWS"]:
        from switchboard.callbacks.flows import register_flows

        register_flows(app)
    from switchboard.callbacks.console import register_console
    from switchboard.callbacks.metrics import register_metrics
    from switchboard.callbacks.notices import register_notices

    register_metrics(app)
    register_notices(app)
    register_console(app)
    if app.config["STUDIO_FLOWS"]:
        from switchboard.callbacks.studio.api import register_studio_api
        from switchboard.callbacks.studio.blueprint import register_studio

        register_studio(app)
        register_studio_api(app)
    return app


def init_app(app: Flask, config: Mapping[str, object] | None = None) -> Switchboard:
    """Give a Flask app made elsewhere what Switchboard's webhook routes need: the settings
    (``config`` by environment variable name over the environment, as for
    :func:`create_app`), the store and its tables, the deadline and the signature check, and
    the safe answers for errors on Twilio routes (other routes keep their own error pages).

    :class:`~switchboard.callbacks.handlers.TwilioBlueprint` calls it when it is registered on
    an app that has none, so ``app.register_blueprint(bp)`` on your own ``Flask(__name__)``
    works. It adds no route of its own (``create_app`` adds ``/healthz`` and the flows). A
    setting it cannot start with raises :class:`SettingsError` (a ``ConfigError``).
    """
    existing = app.extensions.get("switchboard")
    if existing is not None:
        return existing
    with _settings_errors():
        settings = load_settings(overrides=dict(config) if config else None)
        filter_switchboard_loggers(hidden=secrets_of(settings))
        return _install(app, settings)


def _install(app: Flask, settings: Settings) -> Switchboard:
    switchboard = Switchboard(settings, _open_store(app, settings))
    app.extensions["switchboard"] = switchboard
    quiet = bool(app.config.get("QUIET_START"))
    try:
        switchboard.ensure_schema()
    except Exception as error:
        if not quiet:
            app.logger.error(
                "the database is unavailable at start-up (%s); webhooks get the safe answers "
                "until it returns", type(error).__name__,
            )
    if not quiet:
        _warn_about_signatures(app, settings)
    hide_query_strings()
    register_error_handlers(app)
    return switchboard


def _open_store(app: Flask, settings: Settings) -> Store:
    from switchboard.callbacks import exchanges, notices  # noqa: F401 (their tables: one schema)
    from switchboard.callbacks.console import tables  # noqa: F401
    from switchboard.callbacks.store import Store
    from switchboard.callbacks.studio import (  # noqa: F401
        campaigns,
        executions,
        flows_store,
        timers,
    )

    url = settings.database_url
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, "switchboard.sqlite3")
    return Store(
        url,
        record_delay=settings.record_delay,
        voice_session_idle=timedelta(hours=settings.voice_session_idle),
        retry_after=settings.database_retry_after,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        hosts=settings.hosts,
    )


def _stop_dev_server_cleanly_on_sigterm() -> None:
    """Under ``flask run`` / ``switchboard run``, SIGTERM stops the server as Ctrl-C (SIGINT)
    does: ``KeyboardInterrupt`` in the main thread, where werkzeug stops serving, lets the
    requests in progress finish and returns, so the interpreter ends normally and its exit
    hooks run, the store's among them, which writes the call and message rows still waiting
    (:mod:`switchboard.callbacks.store.behind`); SIGTERM's default action would end the process
    at once, and those rows would be lost. Nothing changes elsewhere: gunicorn's processes and
    any program that handles SIGTERM itself keep their handlers. (A command that serves the
    app as ``flask run`` does says so with a true ``dev_server`` attribute.)"""
    import click
    from flask.cli import run_command

    context = click.get_current_context(silent=True)
    if context is None or not (context.command is run_command
                               or getattr(context.command, "dev_server", False)):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _warn_about_signatures(app: Flask, settings: Settings) -> None:
    if not settings.validate_signatures:
        app.logger.warning(
            "SWITCHBOARD_VALIDATE_SIGNATURES=false: webhooks are accepted without checking "
            "X-Twilio-Signature; use this for local development only"
        )
    elif not settings.auth_token:
        app.logger.warning(
            "TWILIO_AUTH_TOKEN is not set: every webhook will be refused with 403 until it is "
            "(for local development without Twilio, SWITCHBOARD_VALIDATE_SIGNATURES=false "
            "switches the checks off)"
        )


def _switchboard() -> Switchboard:
    return current_app.extensions["switchboard"]


def get_store() -> Store:
    """The store of the current app (inside an app or request context)."""
    return _switchboard().store


def get_settings() -> Settings:
    """The settings of the current app (inside an app or request context)."""
    return _switchboard().settings
