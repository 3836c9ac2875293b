"""The URLs the API answers with: its resources' (``url``, ``links``, paging) and the flows'
webhooks, below ``SWITCHBOARD_PUBLIC_URL`` when set, else the URL the request came to."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, request

from switchboard.config import Settings

PREFIX = "/v2"
"""Where the API is mounted on the app: Studio's version, as at ``https://studio.twilio.com``."""


def settings() -> Settings:
    return current_app.extensions["switchboard"].settings


def base() -> str:
    """This server's root URL, without a trailing slash."""
    public = settings().public_url
    return public.rstrip("/") if public else request.url_root.rstrip("/")


def api(path: str) -> str:
    """The URL of ``path`` below ``/v2`` (``/Flows/FW...``)."""
    return f"{base()}{PREFIX}{path}"


def resource_path() -> str:
    """The request's path below :data:`PREFIX` (``/Flows/FW...``), as Twilio's errors name it."""
    return request.path.removeprefix(PREFIX) or "/"


def flow(sid: str) -> str:
    return api(f"/Flows/{sid}")


def execution(flow_sid: str, sid: str) -> str:
    return api(f"/Flows/{flow_sid}/Executions/{sid}")


def step(flow_sid: str, execution_sid: str, sid: str) -> str:
    return api(f"/Flows/{flow_sid}/Executions/{execution_sid}/Steps/{sid}")


def date(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, as Studio's API writes dates: ``2024-05-01T12:00:00Z``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
