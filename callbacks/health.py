"""``/healthz``: is the app up and can it reach its database? For load balancers and systemd."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify

from switchboard.callbacks.deadline import HandlerTimeout
from switchboard.callbacks.store import StoreUnavailable

log = logging.getLogger("switchboard.callbacks")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 ``{"status": "ok"}`` when the database answers with every table and takes writes
    and no call or message row waits for it (:meth:`Store.check
    <callbacks.store.Store.check>`), else 503 ``{"status": "unavailable", "reason": ...}``.

    The reason is one line: the driver's (``OperationalError: database or disk is full``,
    passwords masked) without the database's URL, which only the log names. No signature
    check: it tells nothing but whether the database can be used.
    """
    switchboard = current_app.extensions["switchboard"]

    def check() -> None:
        switchboard.store.check()
        switchboard.schema_ready = True

    try:
        switchboard.deadline.run(check)
    except StoreUnavailable as error:
        log.warning("health check failed: %s", error)
        return _unavailable(error.reason)
    except HandlerTimeout as error:
        log.warning("health check failed: %s", error)
        return _unavailable(f"the check did not finish: {error}")
    except Exception as error:
        log.warning("health check failed: %s", type(error).__name__)
        return _unavailable(f"the check failed ({type(error).__name__})")
    return jsonify(status="ok"), 200


def _unavailable(reason: str) -> tuple[Response, int]:
    return jsonify(status="unavailable", reason=" ".join(reason.split())), 503
