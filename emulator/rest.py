"""The emulator's REST API: a Flask app serving Twilio's API 2010-04-01.

Blueprints hold the resources (:mod:`switchboard.emulator.rest_numbers`,
:mod:`switchboard.emulator.rest_voice`, :mod:`switchboard.emulator.rest_messaging`); every view
but recording media needs HTTP Basic credentials (account SID and auth token, or API key SID and
secret). Errors are answered in Twilio's shape.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from switchboard.emulator.faults import FaultInjector, FaultMiddleware
from switchboard.emulator.params import MAX_REQUEST_BYTES, APIError, not_found
from switchboard.emulator.resources import API_ROOT, new_sid
from switchboard.emulator.restkit import EmulatorContext, context
from switchboard.emulator.state import EmulatorState


class SidConverter(BaseConverter):
    """A SID: two letters and 32 hex digits."""

    regex = r"[A-Za-z]{2}[0-9a-fA-F]{32}"


CONTEXT_KEY = "switchboard.emulator"


def create_app() -> Flask:
    """The REST app. It serves whichever emulator the request belongs to: the
    :class:`EmulatorContext` in ``environ["switchboard.emulator"]`` (set by
    :class:`EmulatorApp`), so one app (its URL map is costly to build) serves every emulator of
    the process."""
    from switchboard.emulator import rest_messaging, rest_numbers, rest_voice
    from switchboard.emulator.caller import simulator_blueprint

    app = Flask("emulator")
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.converters["sid"] = SidConverter
    app.url_map.strict_slashes = False

    for blueprint in (rest_numbers.bp, rest_voice.bp, rest_messaging.bp):
        app.register_blueprint(blueprint, url_prefix=API_ROOT)
    app.register_blueprint(rest_voice.media_bp, url_prefix=API_ROOT)
    app.register_blueprint(simulator_blueprint(), url_prefix=API_ROOT)

    @app.before_request
    def body_size() -> None:
        """A body announced over the limit is refused before anything reads it (werkzeug
        refuses one that turns out longer, chunked, as it reads)."""
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise RequestEntityTooLarge()

    @app.after_request
    def request_id(response: Response) -> Response:
        response.headers["Twilio-Request-Id"] = new_sid("RQ")
        return response

    @app.errorhandler(APIError)
    def api_error(error: APIError) -> ResponseReturnValue:
        return jsonify(error.body()), error.status, error.headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        if error.code == 404:
            return api_error(not_found(request.path))
        if error.code == 405:
            headers = dict(error.get_headers())
            allow = {"Allow": headers["Allow"]} if "Allow" in headers else {}
            return api_error(APIError(405, 20004, "Method not allowed", allow))
        if error.code == 413:
            return api_error(APIError(413, 20001, "The request body is larger than "
                                      f"{MAX_REQUEST_BYTES:,} bytes: send fewer or shorter "
                                      "parameters."))
        if error.code is None or error.code >= 500:
            return api_error(APIError(500, 20500, "Internal Server Error"))
        return api_error(APIError(error.code, 20001, error.description or error.name))

    @app.get("/")
    def index() -> ResponseReturnValue:
        return jsonify({
            "name": "Switchboard Twilio emulator",
            "api": API_ROOT,
            "account_sid": context().state.main_account_sid,
        })

    return app


@functools.cache
def shared_app() -> Flask:
    return create_app()


class EmulatorApp:
    """The WSGI application of one emulator: fault injection in front of the shared REST app,
    with this emulator's state, faults and phone bound to each request."""

    def __init__(self, state: EmulatorState, faults: FaultInjector | None = None,
                 phone: Any = None) -> None:
        self.context = EmulatorContext(state, faults or FaultInjector(), phone)
        self.flask_app = shared_app()
        self._app = FaultMiddleware(self.flask_app, self.context.faults)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ[CONTEXT_KEY] = self.context
        return self._app(environ, start_response)
