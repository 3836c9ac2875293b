"""Twilio's error answers: ``{"code", "message", "more_info", "status"}`` (and ``details`` where
Twilio gives them, as for an invalid flow definition), with the HTTP status of the error."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from switchboard.callbacks.store import StoreUnavailable
from switchboard.callbacks.studio.api.urls import resource_path

log = logging.getLogger("switchboard.callbacks.studio.api")

#: Twilio's codes for the HTTP statuses a request can meet before any resource's own check.
HTTP_CODES = {400: 20001, 401: 20003, 403: 20403, 404: 20404, 405: 20004, 409: 20409,
              413: 20001, 415: 20001, 429: 20429, 500: 20500, 503: 20503}
AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="Twilio API"'}


class ApiError(Exception):
    """An error answer: HTTP ``status``, Twilio's ``code`` and a one-line ``message`` saying
    what was wrong and what to do."""

    def __init__(self, status: int, code: int, message: str, *,
                 details: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details) if details is not None else None
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    def response(self) -> Response:
        answer = jsonify(self.body())
        answer.status_code = self.status
        answer.headers.update(self.headers)
        return answer


def not_found() -> ApiError:
    return ApiError(404, 20404, f"The requested resource {resource_path()} was not found")


def bad_request(message: str, code: int = 20001, **details: Any) -> ApiError:
    return ApiError(400, code, message, details=details or None)


def missing(name: str) -> ApiError:
    return bad_request(f"Missing required parameter {name} in the post body")


def conflict(message: str) -> ApiError:
    return ApiError(409, 20409, message)


def unauthorized() -> ApiError:
    return ApiError(401, 20003, "Authenticate", headers=AUTHENTICATE)


def read_only(sid: str, source: str) -> ApiError:
    return ApiError(403, 20403, f"Flow {sid} is the file {source} of the flows folder and is "
                    "read-only through the API: edit the file (and restart the server), or "
                    "create a flow through the API")


def method_not_allowed(takes: Sequence[str], allow: str) -> ApiError:
    """A 405 for the request's method: ``takes`` the methods of the path's resource, ``allow``
    every method it answers (``Allow``)."""
    return ApiError(405, 20004, f"Method {request.method} is not allowed on {resource_path()}; "
                    f"it takes {' and '.join(takes)}", headers={"Allow": allow})


def register(bp: Blueprint) -> None:
    """Answer every error of ``bp``'s views in Twilio's shape."""

    @bp.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error.response()

    @bp.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = error.description or error.name
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if status == 413 and limit:
            message = (f"Request Entity Too Large: this server takes request bodies of up to "
                       f"{limit} bytes; send less (a smaller Parameters or Definition)")
        return ApiError(status, HTTP_CODES.get(status, 20001), message).response()

    @bp.errorhandler(StoreUnavailable)
    def store_down(error: StoreUnavailable) -> Response:
        log.error("%s %s: %s", request.method, request.path, error)
        return ApiError(503, 20503, "Service Unavailable: the database cannot be reached; "
                        "try again shortly", headers={"Retry-After": "1"}).response()

    @bp.errorhandler(Exception)
    def failed(error: Exception) -> Response:
        log.error("%s %s failed: %s", request.method, request.path, type(error).__name__,
                  exc_info=error)
        return ApiError(500, 20500, "Internal Server Error").response()
