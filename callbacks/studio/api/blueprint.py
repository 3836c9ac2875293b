"""The ``/v2`` blueprint: each of Studio's paths with the methods Twilio's description gives it,
behind HTTP basic auth; any other method is a 405 and any other path a 404, in Twilio's shape.
``OPTIONS`` and a 405 say the path's methods in ``Allow``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from switchboard.callbacks.studio.api import (
    context,
    errors,
    executions,
    flows,
    revisions,
    steps,
    test_users,
    validate,
)
from switchboard.callbacks.studio.api.auth import require_credentials
from switchboard.callbacks.studio.api.urls import PREFIX

NAME = "studio_api"
EXECUTION = "/Flows/<flow_sid>/Executions/<execution_sid>"
ROUTES: dict[str, dict[str, Callable[..., Any]]] = {
    "/Flows": {"GET": flows.list_, "POST": flows.create},
    "/Flows/Validate": {"POST": validate.validate},
    "/Flows/<sid>": {"GET": flows.fetch, "POST": flows.update, "DELETE": flows.delete},
    "/Flows/<sid>/Revisions": {"GET": revisions.list_},
    "/Flows/<sid>/Revisions/<revision>": {"GET": revisions.fetch},
    "/Flows/<sid>/TestUsers": {"GET": test_users.fetch, "POST": test_users.update},
    "/Flows/<flow_sid>/Executions": {"GET": executions.list_, "POST": executions.create},
    "/Flows/<flow_sid>/Executions/<sid>": {
        "GET": executions.fetch, "POST": executions.update, "DELETE": executions.delete,
    },
    f"{EXECUTION}/Context": {"GET": context.execution},
    f"{EXECUTION}/Steps": {"GET": steps.list_},
    f"{EXECUTION}/Steps/<sid>": {"GET": steps.fetch},
    f"{EXECUTION}/Steps/<step_sid>/Context": {"GET": context.step},
}
"""Each path (below ``/v2``) and its handler by method; a handler takes the path's variables."""

METHODS = ["GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"]


def _dispatch(handlers: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    served = {*handlers, "OPTIONS", *(["HEAD"] if "GET" in handlers else [])}
    allow = ", ".join(method for method in METHODS if method in served)

    def view(**variables: str) -> Any:
        if request.method == "OPTIONS":
            return Response(status=204, headers={"Allow": allow})
        handler = handlers.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            raise errors.method_not_allowed(list(handlers), allow)
        return handler(**variables)

    return view


def _nowhere(**_variables: str) -> Any:
    raise errors.not_found()


def studio_api_blueprint() -> Blueprint:
    """Studio's REST API v2 at ``/v2``."""
    bp = Blueprint(NAME, __name__, url_prefix=PREFIX)
    bp.before_request(require_credentials)
    errors.register(bp)
    for number, (rule, handlers) in enumerate(ROUTES.items()):
        bp.add_url_rule(rule, f"route{number}", _dispatch(handlers), methods=METHODS,
                        provide_automatic_options=False)
    bp.add_url_rule("/", "nowhere", _nowhere, methods=METHODS, provide_automatic_options=False)
    bp.add_url_rule("/<path:rest>", "elsewhere", _nowhere, methods=METHODS,
                    provide_automatic_options=False)
    return bp
