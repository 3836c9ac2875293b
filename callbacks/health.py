"""``/healthz``: is the app up and can it reach its database? For load balancers and systemd."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify

log = logging.getLogger("callbacks")

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 ``{"status": "ok"}`` when the database answers, else 503 ``{"status": "unavailable"}``.

    No signature check: it tells nothing but whether the database is reachable.
    """
    switchboard = current_app.extensions["switchboard"]

    def check() -> None:
        switchboard.ensure_schema()
        switchboard.store.ping()

    try:
        switchboard.deadline.run(check)
    except Exception as error:
        log.warning("health check failed: %s", type(error).__name__)
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok"), 200
