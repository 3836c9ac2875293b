"""``/healthz``: is the app up and can it reach its database? For load balancers and systemd."""

from __future__ import annotations

import logging
from functools import partial

from flask import Blueprint, Response, current_app, jsonify

from switchboard.callbacks.deadline import Deadline, HandlerTimeout
from switchboard.callbacks.store import StoreUnavailable

log = logging.getLogger("switchboard.callbacks")

bp = Blueprint("health", __name__)

WAIT = 0.7
"""Seconds ``/healthz`` waits for the database check: it answers within a second whatever the
database does (a hung server, a lock held for minutes)."""

CREATE_WITHIN = 10.0
"""Seconds the check may take to create the tables it finds missing (see :meth:`Store.check
<callbacks.store.Store.check>`), in its thread, past the answer: the next checks say that
it has not finished until it has."""


def health_deadline() -> Deadline:
    """The deadline of the checks: in a thread of their own, one at a time per process, so that
    the answer never waits longer than :data:`WAIT` (a check of a hung database ends by itself
    later, its waits bounded by the store)."""
    return Deadline(WAIT, max_workers=1, use_alarm=False)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 ``{"status": "ok"}`` when the database answers with every table and takes writes
    and no call or message row waits for it (:meth:`Store.check
    <callbacks.store.Store.check>`), else 503 ``{"status": "unavailable", "reason": ...}``,
    within :data:`WAIT` seconds.

    The reason is one line: the driver's (``OperationalError: database or disk is full``,
    passwords masked) without the database's URL, which only the log names. No signature
    check: it tells nothing but whether the database can be used.
    """
    switchboard = current_app.extensions["switchboard"]
    store = switchboard.store
    try:
        switchboard.health_deadline.run(partial(store.check, create_within=CREATE_WITHIN))
    except StoreUnavailable as error:
        log.warning("health check failed: %s", error)
        return _unavailable(error.reason)
    except HandlerTimeout as error:
        busy = "busy" in str(error)
        said = (f"the database did not answer within {WAIT:g} s" if not busy else
                "the previous check of the database has not finished")
        breaker = store.breaker
        failure = breaker.open if breaker is not None else None
        if failure is not None:
            said += f" (last failure: {failure.reason})"
        log.warning("health check failed: %s", said)
        return _unavailable(said)
    except Exception as error:
        log.warning("health check failed: %s", type(error).__name__)
        return _unavailable(f"the check failed ({type(error).__name__})")
    return jsonify(status="ok"), 200


def _unavailable(reason: str) -> tuple[Response, int]:
    return jsonify(status="unavailable", reason=" ".join(reason.split())), 503
