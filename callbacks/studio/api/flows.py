"""``/v2/Flows`` and ``/v2/Flows/{Sid}``: create, fetch, update, list and delete flows. Every
update is a new revision; a flow of the flows folder can be read, not changed."""

from __future__ import annotations

from typing import Any

from flask import Response

from switchboard.callbacks.studio import flows_store
from switchboard.callbacks.studio.api import catalog, forms, urls
from switchboard.callbacks.studio.api.errors import ApiError, not_found, read_only
from switchboard.callbacks.studio.api.paging import page_body, page_request
from switchboard.callbacks.studio.flows_store import FlowInvalid


def invalid(error: FlowInvalid) -> ApiError:
    """Twilio's 81022 for a definition that cannot run, with each problem in ``details``."""
    first = error.errors[0]["message"] if error.errors else "invalid"
    more = f" (and {len(error.errors) - 1} more)" if len(error.errors) > 1 else ""
    return ApiError(400, 81022, f"Invalid Flow Definition: {first}{more}",
                    details={"errors": error.errors, "warnings": error.warnings})


def webhook_url(entry: catalog.Entry) -> str:
    """Where a number's Voice or Messaging URL points to run the flow: ``/flows/NAME`` for a
    flow of the folder, ``/flows/FW...`` for a flow of the API."""
    name = entry.file.name if entry.file is not None else entry.sid
    return f"{urls.base()}/flows/{name}"


def resource(entry: catalog.Entry, *, listed: bool = False) -> dict[str, Any]:
    """The flow as fetched, or, ``listed``, as a list shows it: with a null ``definition``, as
    Studio's list has it (fetch the flow for its definition)."""
    url = urls.flow(entry.sid)
    latest = entry.latest
    return {
        "sid": entry.sid,
        "account_sid": urls.settings().account_sid,
        "author_sid": None,
        "friendly_name": entry.friendly_name,
        "definition": None if listed else latest.definition,
        "status": entry.status,
        "revision": entry.revision,
        "commit_message": latest.commit_message,
        "valid": latest.valid,
        "errors": latest.errors,
        "warnings": latest.warnings,
        "date_created": urls.date(entry.date_created),
        "date_updated": urls.date(entry.date_updated),
        "webhook_url": webhook_url(entry),
        "url": url,
        "links": {
            "test_users": f"{url}/TestUsers",
            "revisions": f"{url}/Revisions",
            "executions": f"{url}/Executions",
        },
    }


def create() -> tuple[dict[str, Any], int]:
    friendly_name = forms.required("FriendlyName")
    status = forms.status()
    definition = forms.json_value("Definition", needed=True)
    try:
        stored = flows_store.create_flow(
            catalog.store(), friendly_name=friendly_name, status=status, definition=definition,
            commit_message=forms.optional("CommitMessage"))
    except FlowInvalid as error:
        raise invalid(error) from None
    return resource(catalog.stored_entry(stored)), 201


def fetch(sid: str) -> dict[str, Any]:
    return resource(catalog.find_or_404(sid))


def update(sid: str) -> dict[str, Any]:
    entry = catalog.find_or_404(sid)
    if entry.file is not None:
        raise read_only(sid, entry.file.source)
    status = forms.status()
    try:
        stored = flows_store.update_flow(
            catalog.store(), sid, status=status, friendly_name=forms.optional("FriendlyName"),
            definition=forms.json_value("Definition", needed=False),
            commit_message=forms.optional("CommitMessage"))
    except FlowInvalid as error:
        raise invalid(error) from None
    if stored is None:
        raise not_found()
    return resource(catalog.stored_entry(stored))


def list_() -> dict[str, Any]:
    page = page_request()
    entries, more = catalog.page(page.offset, page.size)
    flows = [resource(entry, listed=True) for entry in entries]
    return page_body("flows", flows, page, more=more, path="/Flows")


def delete(sid: str) -> Response:
    entry = catalog.find_or_404(sid)
    if entry.file is not None:
        raise read_only(sid, entry.file.source)
    if not flows_store.delete_flow(catalog.store(), sid):
        raise not_found()
    return Response(status=204)
