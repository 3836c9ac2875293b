"""gunicorn settings for Switchboard: ``gunicorn -c deploy/gunicorn.conf.py``.

Every value can be overridden from the environment (``GUNICORN_BIND``, ``GUNICORN_WORKERS``,
``GUNICORN_TIMEOUT``...) or on the command line. The app is ``switchboard.callbacks.wsgi:app``,
which
refuses to start without ``TWILIO_AUTH_TOKEN``. A setting that cannot start the server (no
auth token, a bad value) exits with status 78 (``EX_CONFIG``) and one line saying what is
wrong; the systemd unit does not restart on it.
"""

import os
import sys

#: sysexits.h's EX_CONFIG: restarting will not help (RestartPreventExitStatus in the unit).
EX_CONFIG = 78


def _number(name, default, *, minimum):
    """The whole number in environment variable ``name`` (``default`` when unset or empty);
    anything else stops gunicorn with one line."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        print(f"{name}: {raw!r} is not a whole number of at least {minimum}", file=sys.stderr)
        raise SystemExit(EX_CONFIG)
    return value


def _cores():
    """The cores this process may run on (a cpuset, taskset or systemd's CPUAffinity), not
    all the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


wsgi_app = "switchboard.callbacks.wsgi:app"

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: one request at a time each; 2 x cores + 1, capped so that a large machine does
# not open more database connections than it needs.
workers = _number("GUNICORN_WORKERS", min(2 * _cores() + 1, 12), minimum=1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = _number("GUNICORN_THREADS", 1, minimum=1)

# Twilio gives up on a webhook after 15 seconds; a worker stuck for 12 is killed and replaced
# (handlers themselves get SWITCHBOARD_HANDLER_TIMEOUT, 10 s by default, then the safe answer).
# on_starting warns when an override breaks that order.
timeout = _number("GUNICORN_TIMEOUT", 12, minimum=1)
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 20, minimum=1)
# Idle keep-alive connections (gthread workers; sync workers close each one). nginx's upstream
# keepalive_timeout (4 s in deploy/nginx-switchboard.conf) stays below it, so that nginx never
# sends a request on a connection gunicorn is closing (a 502 for a POST, which it won't retry).
keepalive = _number("GUNICORN_KEEPALIVE", 5, minimum=0)

# Recycle workers now and then (with jitter so they do not all restart together).
max_requests = _number("GUNICORN_MAX_REQUESTS", 10000, minimum=0)
max_requests_jitter = _number("GUNICORN_MAX_REQUESTS_JITTER", 1000, minimum=0)

# gunicorn itself takes no forwarded header from anyone (X-Forwarded-Proto, a SCRIPT_NAME
# header...): the app rebuilds the URL Twilio signed from SWITCHBOARD_PUBLIC_URL, or from the
# X-Forwarded-* headers of SWITCHBOARD_TRUSTED_PROXIES proxies (werkzeug's ProxyFix). gunicorn's
# own default trusts 127.0.0.1, where a tunnel's agent or any local process connects from.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "")

# The access log carries the path without its query string and no headers: nothing that could
# hold a secret (signatures, basic-auth credentials, tokens in query strings). An empty
# GUNICORN_ACCESSLOG turns it off (nginx, say, logs the requests already).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERRORLOG", "") or "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# Every line one line (control characters in a path or a value escaped), no query string in
# the request targets gunicorn quotes in its error log, and the app's own lines in the error
# log with the time, pid and level (callbacks.production.GunicornLogger).
logger_class = "switchboard.callbacks.production.GunicornLogger"

proc_name = "switchboard"

# gunicorn 25.1 and later open a control socket for gunicornc (resize, reload, stop) at one path
# per user ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl), which a second gunicorn
# of the same user takes over. Off unless GUNICORN_CONTROL_SOCKET names a path of its own.
# (Older gunicorns ignore both names.)
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


def on_starting(server):
    """Refuse to start without an auth token or with bad settings (status 78); create the
    database tables once, in the master, before the workers start; warn about a worker
    timeout that would let Twilio or gunicorn give up before the handler deadline does.
    With SWITCHBOARD_METRICS_TOKEN set, the workers share one prometheus-client folder
    (PROMETHEUS_MULTIPROC_DIR, made here unless given), prepared before anything imports the
    app."""
    from switchboard.callbacks.metrics import prepare_multiprocess_dir
    from switchboard.callbacks.production import MissingAuthToken, prepare
    from switchboard.callbacks.studio.definition import FlowError
    from switchboard.config import ConfigError, load_settings
    from switchboard.config.fields import TWILIO_WEBHOOK_DEADLINE

    try:
        prepare_multiprocess_dir()
        prepare()
    except (MissingAuthToken, ConfigError) as error:
        server.log.error("%s", error)
        raise SystemExit(EX_CONFIG) from None
    except FlowError as error:  # one line per problem of the flows folder
        for line in error.lines:
            server.log.error("%s", line)
        raise SystemExit(EX_CONFIG) from None
    if server.cfg.worker_class_str != "sync":
        return  # threaded workers: the timeout is not a limit on a request
    for address in getattr(server.cfg, "address", ()):
        if _reachable_from_outside(address):
            server.log.warning(
                "gunicorn listens on %s:%s with sync workers: a client that sends its request "
                "slowly holds a worker until the worker timeout, and a few hold them all; put "
                "a proxy that reads whole requests in front (nginx, see docs/deploy.md) and "
                "bind gunicorn to 127.0.0.1", *address[:2],
            )
    worker_timeout, deadline = server.cfg.timeout, load_settings().handler_timeout
    if worker_timeout >= TWILIO_WEBHOOK_DEADLINE:
        server.log.warning(
            "the worker timeout (%s s) is not under Twilio's %g s: Twilio gives "
            "up on a stuck request before gunicorn replaces its worker",
            worker_timeout, TWILIO_WEBHOOK_DEADLINE,
        )
    if worker_timeout <= deadline:
        server.log.warning(
            "the worker timeout (%s s) is not above SWITCHBOARD_HANDLER_TIMEOUT "
            "(%g s): a slow handler's worker is killed before it can answer Twilio",
            worker_timeout, deadline,
        )


def _reachable_from_outside(address):
    """Whether gunicorn's listening ``address`` (host, port) is more than the loopback (a unix
    socket, a string, is not)."""
    import ipaddress

    if not isinstance(address, tuple):
        return False
    host = address[0]
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return True


def post_worker_init(worker):
    """The worker has loaded the app: set everything made so far (modules, routes, compiled
    statements) outside the garbage collector's full collections with ``gc.freeze()``. A full
    collection otherwise walks all of it in the middle of some request: about 190 ms on the
    development machine, against under 1 ms once frozen."""
    import gc

    gc.freeze()


def child_exit(server, worker):
    """A worker ended: its gauges leave /metrics, its counts go to the folder's archive."""
    from switchboard.callbacks.metrics import worker_exited

    worker_exited(worker.pid)


def on_exit(server):
    """gunicorn stops: the metrics folder it made goes."""
    from switchboard.callbacks.metrics import remove_multiprocess_dir

    remove_multiprocess_dir()
