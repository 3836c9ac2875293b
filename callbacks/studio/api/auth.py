"""HTTP basic authentication as Twilio's API has it: the account SID and auth token, or an API
key's SID and secret (``TWILIO_API_KEY_SID``, ``TWILIO_API_KEY_SECRET``), compared in constant
time. Anything else is a 401 with Twilio's 20003 body."""

from __future__ import annotations

import hmac
import logging

from flask import current_app, request

from switchboard.callbacks.studio.api.errors import unauthorized
from switchboard.config import Settings

log = logging.getLogger("switchboard.callbacks.studio.api")


def credentials(settings: Settings) -> list[tuple[str, str]]:
    """The username and password pairs that may use the API."""
    pairs = []
    if settings.account_sid and settings.auth_token:
        pairs.append((settings.account_sid, settings.auth_token.reveal()))
    if settings.api_key_sid and settings.api_key_secret:
        pairs.append((settings.api_key_sid, settings.api_key_secret.reveal()))
    return pairs


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))


def allowed(settings: Settings, username: str, password: str) -> bool:
    """Whether ``username``/``password`` are one of :func:`credentials` (every pair compared,
    so the time taken says nothing about which part was wrong)."""
    ok = False
    for user, secret in credentials(settings):
        ok |= _same(username, user) & _same(password, secret)
    return ok


def require_credentials() -> None:
    """``before_request``: refuse a request without valid credentials."""
    settings: Settings = current_app.extensions["switchboard"].settings
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise unauthorized()
    if not credentials(settings):
        log.warning("refused %s %s with 401: no TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or "
                    "API key) is configured, so no request to the Studio API can be "
                    "authenticated", request.method, request.path)
        raise unauthorized()
    if not allowed(settings, auth.username, auth.password or ""):
        raise unauthorized()
