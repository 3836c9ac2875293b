"""The ``/v2`` blueprint: each of Studio's paths with the methods Twilio's description gives it,
behind HTTP basic auth; any other method (``TRACE`` and made-up ones included) is a 405 and any
other path a 404, in Twilio's shape. ``OPTIONS`` and a 405 say the path's methods in ``Allow``;
a ``204`` has no body, so no ``Content-Type``. Every answer, an error's too, carries
``Twilio-Request-Id`` (:mod:`.request_ids`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

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
from switchboard.callbacks.studio.api.request_ids import add_request_id
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


def _route_any_method() -> None:
    """``before_app_request``: a method no route of the app takes (``TRACE``, ``FOO``) fails
    URL matching before any blueprint is known, so it would get the app's own error answer.
    Below ``/v2`` the request goes to its path's view all the same, behind the same auth, and
    is answered as any method the path does not take: Twilio's 405 with ``Allow``."""
    unserved = isinstance(request.routing_exception, MethodNotAllowed)
    if not unserved or not request.path.startswith(f"{PREFIX}/"):
        return
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return
    try:
        rule, variables = adapter.match(method="OPTIONS", return_rule=True)
    except HTTPException:
        return
    if not rule.endpoint.startswith(f"{NAME}."):
        return
    request.url_rule, request.view_args = rule, variables
    request.routing_exception = None
    require_credentials()


def _without_content_type(response: Response) -> Response:
    """``after_request``: a ``204`` has no body to describe, so no ``Content-Type`` (werkzeug
    gives every response one)."""
    if response.status_code == 204:
        del response.headers["Content-Type"]
    return response


def studio_api_blueprint() -> Blueprint:
    """Studio's REST API v2 at ``/v2``."""
    bp = Blueprint(NAME, __name__, url_prefix=PREFIX)
    bp.before_request(require_credentials)
    bp.before_app_request(_route_any_method)
    bp.after_request(_without_content_type)
    bp.after_request(add_request_id)
    errors.register(bp)
    for number, (rule, handlers) in enumerate(ROUTES.items()):
        bp.add_url_rule(rule, f"route{number}", _dispatch(handlers), methods=METHODS,
                        provide_automatic_options=False)
    bp.add_url_rule("/", "nowhere", _nowhere, methods=METHODS, provide_automatic_options=False)
    bp.add_url_rule("/<path:rest>", "elsewhere", _nowhere, methods=METHODS,
                    provide_automatic_options=False)
    return bp
