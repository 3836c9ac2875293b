"""``/metrics`` in Prometheus' text format: what the webhooks, the store, the REST client, the
Studio flows and the voicemail notices did.

Off unless ``SWITCHBOARD_METRICS_TOKEN`` is set; then every scrape must carry that token,
``Authorization: Bearer <token>`` (or HTTP basic auth with the token as the password), compared
in constant time, else it is answered 401 with an empty body. ``register_metrics(app)`` turns
it on for an app made by :func:`~switchboard.callbacks.app.create_app`.

What is counted (every name starts with ``switchboard_``):

- ``webhooks_total{endpoint,kind,status}`` and ``webhook_seconds{endpoint}``: each request to
  a :class:`~switchboard.callbacks.handlers.TwilioBlueprint` route, by Flask endpoint
  (``ivr.welcome``) and answer status, and the time from the request reaching the app to the
  answer;
- ``signature_refusals_total{endpoint}``, ``handler_timeouts_total{endpoint}``,
  ``safe_answers_total{kind,reason}`` (the error policy's answers: ``timeout``, ``database``,
  ``bad_result``, ``exception``, ``http_404``...), ``fallbacks_total{kind,error_code}``
  (requests to a fallback URL: Twilio could not use the main URL's answer);
- ``database_errors_total{during}``: a webhook's store operation that failed (``record``,
  ``session``, ``schema``, ``handler``); ``database_unavailable``: 1 while the store's breaker
  is open or the write-behind waits for the database; ``write_behind_rows_waiting`` and
  ``write_behind_rows_dropped_total{table}``, read from the store at scrape time (and every
  few seconds in each gunicorn worker);
- ``twilio_api_requests_total{method,status}``, ``twilio_api_request_seconds{method}``,
  ``twilio_api_retries_total{method,reason}``, ``twilio_api_errors_total{method,status}``:
  every :class:`~switchboard.api.TwilioClient` of the process, through
  :mod:`switchboard.api.observers` (the client itself knows nothing of Prometheus);
- ``flow_executions_started_total{flow,trigger}``, ``flow_executions_ended_total{flow,reason}``,
  ``flow_widget_errors_total{flow,widget}``: the Studio executions of the process, counted by
  :mod:`switchboard.callbacks.studio` through :func:`flow_started`, :func:`flow_ended` and
  :func:`widget_failed` (nothing per step) as the database takes the progress that started
  them, ended them or saw a widget fail (a widget's failure: its failure event taken,
  whether or not it leads anywhere, or an error raised; see docs/metrics.md);
- ``voicemail_notices_total{channel,outcome}``: :mod:`switchboard.callbacks.notices`.

Labels hold route names, statuses and reasons from short fixed lists, and the flows deployed
(a flow of the Studio API by its SID, ``FW...``, whatever its revision) and their widget
types: never a URL, a number, a call's, message's or execution's SID, an error's text or
anything a caller sent.

Under gunicorn each worker counts in files of its own in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode, chosen when prometheus-client is first imported), and
a scrape, whichever worker answers it, adds them all up. ``deploy/gunicorn.conf.py`` calls
:func:`prepare_multiprocess_dir` when the master starts, :func:`worker_exited` when a worker
ends (its gauges leave, its counts are folded into one archive file so that recycled workers
do not pile up files) and :func:`remove_multiprocess_dir` when the master exits.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import hmac
import logging
import os
import re
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from switchboard.api import observers
from switchboard.callbacks.deadline import HandlerTimeout
from switchboard.callbacks.errors import METRICS_EXTENSION, BadHandlerResult
from switchboard.callbacks.twiml import TwiMLError
from switchboard.config import ConfigError, Secret, load_settings
from switchboard.config.notify import metrics_token

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    from switchboard.config import Settings

__all__ = [
    "METRICS_PATH",
    "MetricsConfig",
    "WebhookMetrics",
    "flow_ended",
    "flow_started",
    "metrics_token",
    "prepare_multiprocess_dir",
    "register_metrics",
    "remove_multiprocess_dir",
    "widget_failed",
    "worker_exited",
]

log = logging.getLogger("switchboard.callbacks")

METRICS_PATH = "/metrics"
TOKEN_VARIABLE = "SWITCHBOARD_METRICS_TOKEN"  # noqa: S105 - the name, not a value
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds between two readings of the store in a gunicorn worker (multiprocess mode).
SAMPLE_EVERY = 5.0

WEBHOOK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                   15.0)
API_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: The ``ErrorCode`` values Twilio sends a fallback URL; any other is counted as ``other``.
FALLBACK_ERROR_CODES = frozenset({
    "11200", "11201", "11202", "11203", "11205", "11206", "11210", "11215", "11217", "11220",
    "11235", "11236", "11237", "11240", "11242", "11243", "11750", "12100", "12200", "12300",
})
#: ``status`` of a REST request that got no answer, by the client's error.
_NO_ANSWER = {
    "TwilioTimeout": "timeout",
    "TwilioConnectionError": "connection",
    "TwilioClientClosed": "closed",
}
#: A Studio API flow's name in the runtime, one per revision (``FW...@N``): counted under the
#: flow's SID, so that a new revision adds no series.
_REVISION = re.compile(r"(FW[0-9a-fA-F]{32})@[0-9]+")
_STARTED = "switchboard.started"
_LOCK_FILE = ".switchboard-metrics.lock"
_ARCHIVED_TYPES = ("counter", "histogram")


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricsConfig:
    """What ``/metrics`` needs: the token a scrape must carry."""

    token: Secret

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> MetricsConfig | None:
        """The configuration from ``settings.metrics_token`` (``SWITCHBOARD_METRICS_TOKEN``;
        default: the settings :func:`~switchboard.config.load_settings` reads); None (metrics
        off) when it is unset."""
        if settings is None:
            settings = load_settings()
        token = settings.metrics_token
        return None if token is None else cls(metrics_token(TOKEN_VARIABLE, token))


# -- the instruments: one set per process ------------------------------------------------------


class _Instruments:
    """Every metric, created once per process (prometheus-client's values are per process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.values import ValueClass

        #: Whether the values live in ``PROMETHEUS_MULTIPROC_DIR`` (decided at first import).
        self.multiprocess: bool = bool(getattr(ValueClass, "_multiprocess", False))
        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks: Counter = Counter(
            "switchboard_webhooks", "Webhooks answered, by Flask endpoint, kind and HTTP status.",
            ["endpoint", "kind", "status"], registry=r)
        self.webhook_seconds: Histogram = Histogram(
            "switchboard_webhook_seconds",
            "Seconds from a webhook reaching the app to its answer, by Flask endpoint.",
            ["endpoint"], buckets=WEBHOOK_BUCKETS, registry=r)
        self.signature_refusals: Counter = Counter(
            "switchboard_signature_refusals",
            "Webhooks refused with 403: X-Twilio-Signature missing or wrong.",
            ["endpoint"], registry=r)
        self.handler_timeouts: Counter = Counter(
            "switchboard_handler_timeouts",
            "Handlers still running at SWITCHBOARD_HANDLER_TIMEOUT: the safe answer went out.",
            ["endpoint"], registry=r)
        self.safe_answers: Counter = Counter(
            "switchboard_safe_answers",
            "Answers of the error policy (apology, empty Response, 503), by kind and reason.",
            ["kind", "reason"], registry=r)
        self.fallbacks: Counter = Counter(
            "switchboard_fallbacks",
            "Requests to a fallback URL: Twilio could not use the main URL's answer.",
            ["kind", "error_code"], registry=r)
        self.database_errors: Counter = Counter(
            "switchboard_database_errors",
            "Store operations of webhooks that failed because of the database.",
            ["during"], registry=r)
        self.database_unavailable: Gauge = Gauge(
            "switchboard_database_unavailable",
            "1 while the store's breaker is open or rows wait for the database.",
            registry=r, multiprocess_mode="livemax")
        self.rows_waiting: Gauge = Gauge(
            "switchboard_write_behind_rows_waiting",
            "Call and message rows handed over and not yet written.",
            registry=r, multiprocess_mode="livesum")
        self.rows_dropped: Counter = Counter(
            "switchboard_write_behind_rows_dropped",
            "Webhook rows never written, by table: dropped beyond the bound (webhook "
            "exchanges first), or lost at exit.",
            ["table"], registry=r)
        self.api_requests: Counter = Counter(
            "switchboard_twilio_api_requests",
            "REST API requests, by method and answer status (or timeout, connection).",
            ["method", "status"], registry=r)
        self.api_seconds: Histogram = Histogram(
            "switchboard_twilio_api_request_seconds",
            "Seconds a REST API request took, retries included.",
            ["method"], buckets=API_BUCKETS, registry=r)
        self.api_retries: Counter = Counter(
            "switchboard_twilio_api_retries",
            "REST API requests sent again, by method and what was retried.",
            ["method", "reason"], registry=r)
        self.api_errors: Counter = Counter(
            "switchboard_twilio_api_errors",
            "REST API requests that raised, by method and status (or timeout, connection).",
            ["method", "status"], registry=r)
        self.notices: Counter = Counter(
            "switchboard_voicemail_notices",
            "Voicemail notices, by channel (text, email, recording) and outcome.",
            ["channel", "outcome"], registry=r)
        self.flows_started: Counter = Counter(
            "switchboard_flow_executions_started",
            "Studio executions started, by flow and trigger (incomingCall, incomingMessage, "
            "incomingRequest; incomingParent: a subflow entered).",
            ["flow", "trigger"], registry=r)
        self.flows_ended: Counter = Counter(
            "switchboard_flow_executions_ended",
            "Studio executions ended, by flow and reason (completed, failed, limit, "
            "call_ended, replaced, api, expired).",
            ["flow", "reason"], registry=r)
        self.widget_errors: Counter = Counter(
            "switchboard_flow_widget_errors",
            "Studio widgets that failed (took their failure transition, whether or not it "
            "leads anywhere, or raised), by flow and widget type.",
            ["flow", "widget"], registry=r)


_instruments_lock = threading.Lock()
_instruments_made: _Instruments | None = None


def _instruments() -> _Instruments:
    global _instruments_made
    with _instruments_lock:
        if _instruments_made is None:
            try:
                _instruments_made = _Instruments()
            except OSError as error:
                raise _folder_error(os.environ.get(MULTIPROC_VARIABLE, ""), error) from None
            if os.environ.get(MULTIPROC_VARIABLE) and not _instruments_made.multiprocess:
                log.warning(
                    "%s is set but prometheus-client was imported before it was: each gunicorn "
                    "worker reports only its own counts", MULTIPROC_VARIABLE,
                )
        return _instruments_made


# -- per app: the hooks the webhooks call, and the scrape ---------------------------------------


class _Route:
    """The instruments of one Flask endpoint, looked up once."""

    __slots__ = ("endpoint", "kind", "seconds", "statuses")

    def __init__(self, endpoint: str, kind: str, seconds: Any) -> None:
        self.endpoint = endpoint
        self.kind = kind
        self.seconds = seconds
        self.statuses: dict[int, Any] = {}


class _Started:
    """WSGI middleware: the moment a request reached the app, in its environ."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[_STARTED] = time.perf_counter()
        return self.app(environ, start_response)


class WebhookMetrics:
    """What :func:`register_metrics` keeps in ``app.extensions["switchboard.metrics"]``: the
    hooks :mod:`~switchboard.callbacks.handlers` and :mod:`~switchboard.callbacks.errors` call,
    and the ``/metrics`` view."""

    def __init__(self, app: Flask, config: MetricsConfig) -> None:
        self.app = app
        self.instruments = _instruments()
        self._token_digest = hashlib.sha256(config.token.reveal().encode()).digest()
        self._routes: dict[str | None, _Route | None] = {}
        self._warned_single_process = False
        self._warned_count_failed = False

    # the webhooks' hooks

    def after_request(self, response: Response) -> Response:
        """Count a Twilio route's answer and its time (a Flask ``after_request`` function)."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        endpoint = req.endpoint
        try:
            try:
                route = self._routes[endpoint]
            except KeyError:
                route = self._route(endpoint)
            if route is None:
                return response
            status = response.status_code
            counter = route.statuses.get(status)
            if counter is None:
                counter = route.statuses[status] = self.instruments.webhooks.labels(
                    route.endpoint, route.kind, str(status)
                )
            counter.inc()
            started = req.environ.get(_STARTED)
            if started is not None:
                route.seconds.observe(time.perf_counter() - started)
        except OSError as error:  # the multiprocess folder went away: the answer still goes
            self._count_failed(error)
            return response
        if not _SAMPLER.running:
            _SAMPLER.start(self.instruments)
        return response

    def _count_failed(self, error: OSError) -> None:
        if not self._warned_count_failed:
            self._warned_count_failed = True
            log.error("metrics not counted: %s", _folder_error(
                os.environ.get(MULTIPROC_VARIABLE, ""), error))

    def _route(self, endpoint: str | None) -> _Route | None:
        view = self.app.view_functions.get(endpoint or "")
        kind = getattr(view, "twilio_kind", None)
        route = None
        if endpoint is not None and kind is not None:
            route = _Route(endpoint, kind, self.instruments.webhook_seconds.labels(endpoint))
        self._routes[endpoint] = route
        return route

    @contextlib.contextmanager
    def _counting(self) -> Iterator[None]:
        """Count, or log once that counting fails: a webhook's answer never depends on it."""
        try:
            yield
        except OSError as error:
            self._count_failed(error)

    def signature_refused(self, endpoint: str | None) -> None:
        with self._counting():
            self.instruments.signature_refusals.labels(endpoint or "-").inc()

    def handler_failed(self, kind: str, endpoint: str | None, error: BaseException) -> None:
        """A handler's failure, answered by the error policy."""
        if isinstance(error, HandlerTimeout):
            with self._counting():
                self.instruments.handler_timeouts.labels(endpoint or "-").inc()
            reason = "timeout"
        elif _is_store_error(error):
            self.database_error("handler")
            reason = "database"
        elif isinstance(error, BadHandlerResult | TwiMLError):
            reason = "bad_result"
        else:
            reason = "exception"
        self.safe_answer(kind, reason)

    def safe_answer(self, kind: str, reason: str) -> None:
        with self._counting():
            self.instruments.safe_answers.labels(kind, reason).inc()

    def database_error(self, during: str) -> None:
        with self._counting():
            self.instruments.database_errors.labels(during).inc()

    def fallback(self, kind: str, error_code: str | None) -> None:
        code = error_code if error_code in FALLBACK_ERROR_CODES else (
            "none" if not error_code else "other"
        )
        with self._counting():
            self.instruments.fallbacks.labels(kind, code).inc()

    # the scrape

    def scrape(self) -> Response:
        """``GET /metrics``: 401 without the token, else every metric of every process."""
        if not self.authorized(request.headers.get("Authorization", "")):
            log.warning("refused %s %s with 401: no valid metrics token", request.method,
                        request.path)
            return Response(
                status=401, headers={"WWW-Authenticate": 'Bearer realm="switchboard metrics"'}
            )
        from prometheus_client.exposition import choose_encoder

        instruments = self.instruments
        self._warn_if_one_of_many(instruments)
        _SAMPLER.sample(instruments)
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        if instruments.multiprocess:
            try:
                body = _multiprocess_exposition(encode)
            except (OSError, ValueError) as error:  # the folder is gone or unreadable
                log.error("/metrics answered 503: %s", _folder_error(
                    os.environ.get(MULTIPROC_VARIABLE, ""), error))
                return Response(status=503, headers={"Cache-Control": "no-store",
                                                     "Retry-After": "10"})
        else:
            body = encode(instruments.registry)
        return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})

    def authorized(self, header: str) -> bool:
        """Whether an ``Authorization`` header carries the token (bearer, or basic's password)."""
        scheme, _, credentials = header.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if scheme == "bearer":
            given = credentials.encode("utf-8", "replace")
        elif scheme == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True)
            except ValueError:
                return False
            given = decoded.partition(b":")[2]
        else:
            return False
        return hmac.compare_digest(hashlib.sha256(given).digest(), self._token_digest)

    def _warn_if_one_of_many(self, instruments: _Instruments) -> None:
        if instruments.multiprocess or self._warned_single_process:
            return
        if request.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
            self._warned_single_process = True
            log.warning(
                "/metrics under gunicorn without %s: each scrape sees the counts of the one "
                "worker that answers it (see docs/metrics.md)", MULTIPROC_VARIABLE,
            )


def register_metrics(app: Flask, config: MetricsConfig | None = None) -> WebhookMetrics | None:
    """Serve ``/metrics`` and count what ``app`` does, when metrics are configured.

    ``config`` defaults to :meth:`MetricsConfig.from_settings` with the app's settings (None:
    metrics stay off and nothing is added). Registering twice is harmless.
    """
    existing = app.extensions.get(METRICS_EXTENSION)
    if existing is not None:
        return existing
    if config is None:
        switchboard = app.extensions.get("switchboard")
        config = MetricsConfig.from_settings(switchboard.settings if switchboard else None)
        if config is None:
            return None
    metrics = WebhookMetrics(app, config)
    app.extensions[METRICS_EXTENSION] = metrics
    app.wsgi_app = _Started(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(metrics.after_request)
    app.add_url_rule(METRICS_PATH, "switchboard_metrics", metrics.scrape, methods=["GET"])
    _SAMPLER.watch(app)
    observers.subscribe(_on_api_event)
    return metrics


def _is_store_error(error: BaseException) -> bool:
    from switchboard.callbacks.store import StoreUnavailable

    return isinstance(error, StoreUnavailable)


# -- the REST client -----------------------------------------------------------------------------


def _on_api_event(event: observers.Event) -> None:
    instruments = _instruments_made
    if instruments is None:
        return
    if isinstance(event, observers.RetryScheduled):
        instruments.api_retries.labels(event.method, event.reason).inc()
        return
    if event.status is not None:
        status = str(event.status)
    else:
        status = _NO_ANSWER.get(event.error or "", "error")
    instruments.api_requests.labels(event.method, status).inc()
    instruments.api_seconds.labels(event.method).observe(event.seconds)
    if event.error is not None:
        instruments.api_errors.labels(event.method, status).inc()


# -- Studio flows ------------------------------------------------------------------------------

_warned_flow_count_failed = False


def flow_started(flow: str, trigger: str) -> None:
    """An execution of ``flow`` (the runtime's name of it) started on ``trigger``
    (``incomingCall``, ``incomingMessage``, ``incomingRequest``), or the subflow ``flow``
    was entered (``incomingParent``). Counted when metrics are on in this process (an app
    registered them), as the REST client's requests are."""
    instruments = _instruments_made
    if instruments is not None:
        _count_flow(instruments.flows_started, flow, trigger)


def flow_ended(flow: str, reason: str, count: int = 1) -> None:
    """``count`` executions of ``flow`` went from active to ended, for ``reason``: one of
    :mod:`~switchboard.callbacks.studio.executions`' end reasons (``completed``, ``failed``,
    ``limit``, ``call_ended``, ``replaced``, ``api``, ``expired``)."""
    instruments = _instruments_made
    if instruments is not None:
        _count_flow(instruments.flows_ended, flow, reason, count)


def widget_failed(flow: str, widget: str) -> None:
    """A widget of the type ``widget`` failed in ``flow``: it left on its failure event
    (whether or not the flow leads it anywhere) or raised; counted once, by the write of
    the progress that saw it (:mod:`~switchboard.callbacks.studio.executions`)."""
    instruments = _instruments_made
    if instruments is not None:
        _count_flow(instruments.widget_errors, flow, widget or "-")


def _count_flow(counter: Counter, flow: str, label: str, count: int = 1) -> None:
    """Count, or log once that counting fails: an execution never depends on it."""
    global _warned_flow_count_failed
    pinned = _REVISION.fullmatch(flow)
    try:
        counter.labels(pinned.group(1) if pinned else flow, label).inc(count)
    except OSError as error:  # the multiprocess folder went away
        if not _warned_flow_count_failed:
            _warned_flow_count_failed = True
            log.error("metrics not counted: %s", _folder_error(
                os.environ.get(MULTIPROC_VARIABLE, ""), error))


# -- the store and the notices, read now and then -------------------------------------------------


class _Sampler:
    """Reads what the store and the voicemail notices of this process's apps hold into the
    instruments: at each scrape (the scraping process), and every :data:`SAMPLE_EVERY`
    seconds from a thread of each worker in multiprocess mode, so that a scrape answered by
    one worker shows the others' rows waiting."""

    def __init__(self) -> None:
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        self._seen: weakref.WeakKeyDictionary[Any, dict[Any, int]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self.running = False
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        """In a new worker: no thread yet, and the store and notices count from 0 again."""
        self._lock = threading.Lock()
        self.running = False
        self._seen = weakref.WeakKeyDictionary()

    def watch(self, app: Flask) -> None:
        self._apps.add(app)

    def start(self, instruments: _Instruments) -> None:
        """Start this process's thread (multiprocess mode only; a scrape reads the rest)."""
        with self._lock:
            if self.running:
                return
            self.running = True
        if not instruments.multiprocess:
            return
        thread = threading.Thread(
            target=self._run, args=(instruments,), name="switchboard-metrics", daemon=True
        )
        with contextlib.suppress(RuntimeError):  # the interpreter is ending
            thread.start()

    def _run(self, instruments: _Instruments) -> None:
        while True:
            time.sleep(SAMPLE_EVERY)
            try:
                self.sample(instruments)
            except Exception:
                log.exception("reading the store for /metrics failed")

    def sample(self, instruments: _Instruments) -> None:
        waiting = 0
        unavailable = False
        with self._lock:
            for app in list(self._apps):
                switchboard = app.extensions.get("switchboard")
                store = getattr(switchboard, "store", None)
                if store is not None:
                    rows, down = self._read_store(instruments, store)
                    waiting += rows
                    unavailable = unavailable or down
                notices = app.extensions.get("switchboard.notices")
                if notices is not None:
                    self._read_notices(instruments, notices)
        instruments.rows_waiting.set(waiting)
        instruments.database_unavailable.set(1 if unavailable else 0)

    def _read_store(self, instruments: _Instruments, store: Any) -> tuple[int, bool]:
        breaker = getattr(store, "breaker", None)
        down = breaker is not None and breaker.open is not None
        if not getattr(store, "defers", False):
            return 0, down
        seen = self._seen.setdefault(store, {})
        for table, dropped in store.rows_dropped_by_table.items():
            more = dropped - seen.get(("dropped", table), 0)
            if more > 0:
                instruments.rows_dropped.labels(table).inc(more)
            seen["dropped", table] = dropped
        return store.rows_waiting, down or store.rows_blocked

    def _read_notices(self, instruments: _Instruments, notices: Any) -> None:
        seen = self._seen.setdefault(notices, {})
        for key, count in list(notices.counts.items()):
            more = count - seen.get(key, 0)
            if more > 0:
                instruments.notices.labels(*key).inc(more)
            seen[key] = count


_SAMPLER = _Sampler()


# -- gunicorn: the multiprocess folder -----------------------------------------------------------

_created_dir: str | None = None


def prepare_multiprocess_dir(environ: dict[str, str] | None = None) -> str | None:
    """For gunicorn's ``on_starting``, before anything imports prometheus-client: empty
    ``PROMETHEUS_MULTIPROC_DIR`` of a previous run's files (creating it, mode 700, if need
    be), or when it is unset and ``SWITCHBOARD_METRICS_TOKEN`` is set, make a private
    temporary folder and set it for the workers. Returns the folder (None: metrics off)."""
    global _created_dir
    env = os.environ if environ is None else environ
    path = env.get(MULTIPROC_VARIABLE) or env.get(MULTIPROC_VARIABLE.lower())
    if not path:
        if not env.get(TOKEN_VARIABLE, "").strip():
            return None
        path = _created_dir = tempfile.mkdtemp(prefix="switchboard-metrics-")
        env[MULTIPROC_VARIABLE] = path
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        with _dir_lock(path, exclusive=True):
            for name in glob.glob(os.path.join(glob.escape(path), "*.db")):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(name)
        _check_writable(path)
    except OSError as error:
        raise _folder_error(path, error) from None
    return path


def _check_writable(path: str) -> None:
    """Raise the :class:`OSError` that writing a file in ``path`` meets (root ignores the
    mode bits, so ask by trying)."""
    with tempfile.NamedTemporaryFile(dir=path, prefix=".switchboard-write-check-"):
        pass


def _folder_error(path: str, error: BaseException) -> ConfigError:
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return ConfigError(f"{MULTIPROC_VARIABLE}: the folder {path!r} cannot hold the metrics "
                       f"({reason}): make it a folder the server can write, or unset it")


def worker_exited(pid: int, path: str | None = None) -> None:
    """For gunicorn's ``child_exit``: the worker ``pid`` is gone. Its live gauges leave the
    sums (``multiprocess.mark_process_dead``) and its counters and histograms are added to
    one archive file per type, so that the counts stay and the files do not pile up as
    ``max_requests`` recycles workers. Scrapes wait for this (a lock on the folder) so that
    none sees a count twice or not at all."""
    path = path or os.environ.get(MULTIPROC_VARIABLE)
    if not path or not os.path.isdir(path):
        return
    from prometheus_client import multiprocess

    with _dir_lock(path, exclusive=True):
        multiprocess.mark_process_dead(pid, path)
        for kind in _ARCHIVED_TYPES:
            try:
                _archive(path, kind, pid)
            except Exception as error:  # the files stay: the sums are still right
                log.warning("metrics of worker %s not archived: %s: %s", pid,
                            type(error).__name__, error)


def remove_multiprocess_dir() -> None:
    """For gunicorn's ``on_exit``: remove the folder :func:`prepare_multiprocess_dir` made
    (a folder given in ``PROMETHEUS_MULTIPROC_DIR`` is left as it is)."""
    global _created_dir
    path, _created_dir = _created_dir, None
    if path is None:
        return
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _archive(path: str, kind: str, pid: int) -> None:
    from prometheus_client.mmap_dict import MmapedDict

    source = os.path.join(path, f"{kind}_{pid}.db")
    if not os.path.exists(source):
        return
    archive = MmapedDict(os.path.join(path, f"{kind}_archive.db"))
    try:
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(source):
            current, _ = archive.read_value(key)
            archive.write_value(key, current + value, 0.0)
    finally:
        archive.close()
    os.remove(source)


def _multiprocess_exposition(encode: Any) -> bytes:
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    path = os.environ[MULTIPROC_VARIABLE]
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path)
    with _dir_lock(path, exclusive=False):
        return encode(registry)


@contextlib.contextmanager
def _dir_lock(path: str, *, exclusive: bool) -> Iterator[None]:
    """An ``flock`` on a file of the folder: shared for scrapes, exclusive for changes."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(os.path.join(path, _LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
