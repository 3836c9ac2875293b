"""``Twilio-Request-Id``: every answer of the API names the request it answers with a Request
SID (``RQ`` and 32 hex digits), new for each request, as Twilio's API does. An execution
started through the API keeps its request's SID as its ``initiated_by``."""

from __future__ import annotations

from flask import Response, request

from switchboard.callbacks.studio.executions import new_sid

HEADER = "Twilio-Request-Id"
_KEY = "switchboard.studio_request_sid"
"""Where the SID is kept on the request's WSGI environment (``g`` may outlive a request)."""


def request_sid() -> str:
    """The SID of the request being answered, made the first time it is asked for."""
    environ = request.environ
    sid = environ.get(_KEY)
    if sid is None:
        sid = environ[_KEY] = new_sid("RQ")
    return str(sid)


def add_request_id(response: Response) -> Response:
    """``after_request``: name the request in the answer, an error's as any other."""
    response.headers[HEADER] = request_sid()
    return response
