"""``/v2/Flows/{Sid}/TestUsers``: the contacts who run a flow's latest draft before it is
published (everyone else runs its latest published revision)."""

from __future__ import annotations

from typing import Any

from flask import request

from switchboard.callbacks.studio import flows_store
from switchboard.callbacks.studio.api import catalog, urls
from switchboard.callbacks.studio.api.errors import missing, not_found, read_only


def resource(sid: str, users: list[str]) -> dict[str, Any]:
    return {"sid": sid, "test_users": users, "url": urls.flow(sid) + "/TestUsers"}


def fetch(sid: str) -> dict[str, Any]:
    entry = catalog.find_or_404(sid)
    if entry.file is not None:
        return resource(sid, [])
    return resource(sid, flows_store.get_test_users(catalog.store(), sid))


def update(sid: str) -> dict[str, Any]:
    entry = catalog.find_or_404(sid)
    if entry.file is not None:
        raise read_only(sid, entry.file.source)
    users = [user.strip() for user in request.form.getlist("TestUsers") if user.strip()]
    if not users:
        raise missing("TestUsers")
    saved = flows_store.set_test_users(catalog.store(), sid, users)
    if saved is None:
        raise not_found()
    return resource(sid, saved)
