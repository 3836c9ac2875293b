"""gunicorn settings for Switchboard: ``gunicorn -c deploy/gunicorn.conf.py``.

Every value can be overridden from the environment (``GUNICORN_BIND``, ``GUNICORN_WORKERS``,
``GUNICORN_TIMEOUT``...) or on the command line. The app is ``callbacks.wsgi:app``, which
refuses to start without ``TWILIO_AUTH_TOKEN``.
"""

import os

wsgi_app = "callbacks.wsgi:app"

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: one request at a time each; 2 x cores + 1, capped so that a large machine does
# not open more database connections than it needs.
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 12)))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", 1))

# Twilio gives up on a webhook after 15 seconds; a worker stuck for 12 is killed and replaced
# (handlers themselves get SWITCHBOARD_HANDLER_TIMEOUT, 10 s by default, then the safe answer).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 12))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 20))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))

# Recycle workers now and then (with jitter so they do not all restart together).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 10000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 1000))

# gunicorn itself takes no forwarded header from anyone (X-Forwarded-Proto, a SCRIPT_NAME
# header...): the app rebuilds the URL Twilio signed from SWITCHBOARD_PUBLIC_URL, or from the
# X-Forwarded-* headers of SWITCHBOARD_TRUSTED_PROXIES proxies (werkzeug's ProxyFix). gunicorn's
# own default trusts 127.0.0.1, where a tunnel's agent or any local process connects from.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "")

# The access log carries the path without its query string and no headers: nothing that could
# hold a secret (signatures, basic-auth credentials, tokens in query strings).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# Every line one line (control characters in a path or a value escaped), no query string in
# the request targets gunicorn quotes in its error log, and the app's own lines in the error
# log with the time, pid and level (callbacks.production.GunicornLogger).
logger_class = "callbacks.production.GunicornLogger"

proc_name = "switchboard"


def on_starting(server):
    """Refuse to start without an auth token; create the database tables once, in the master,
    before the workers start."""
    from callbacks.production import MissingAuthToken, prepare
    from config import ConfigError

    try:
        prepare()
    except (MissingAuthToken, ConfigError) as error:
        server.log.error("%s", error)
        raise SystemExit(1) from None


def post_worker_init(worker):
    """The worker has loaded the app: set everything made so far (modules, routes, compiled
    statements) outside the garbage collector's full collections with ``gc.freeze()``. A full
    collection otherwise walks all of it in the middle of some request: about 190 ms on the
    development machine, against under 1 ms once frozen."""
    import gc

    gc.freeze()
