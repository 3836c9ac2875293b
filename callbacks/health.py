"""``/healthz``: is the app up and can it reach its database? For load balancers and systemd."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify

from callbacks.store import StoreUnavailable

log = logging.getLogger("callbacks")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 ``{"status": "ok"}`` when the database answers with every table and takes writes
    (:meth:`Store.check <callbacks.store.Store.check>`), else 503 ``{"status": "unavailable"}``.

    No signature check: it tells nothing but whether the database can be used.
    """
    switchboard = current_app.extensions["switchboard"]

    def check() -> None:
        switchboard.store.check()
        switchboard.schema_ready = True

    try:
        switchboard.deadline.run(check)
    except StoreUnavailable as error:
        log.warning("health check failed: %s", error)
        return jsonify(status="unavailable"), 503
    except Exception as error:
        log.warning("health check failed: %s", type(error).__name__)
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok"), 200
