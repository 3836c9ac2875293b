"""``/v2/Flows/{Sid}/Revisions``: every revision of a flow, newest first; one by number, or
``LatestPublished`` / ``LatestRevision``. A flow of the folder has one revision."""

from __future__ import annotations

from typing import Any

from switchboard.callbacks.studio import flows_store
from switchboard.callbacks.studio.api import catalog, urls
from switchboard.callbacks.studio.api.errors import ApiError, not_found
from switchboard.callbacks.studio.api.paging import page_body, page_request
from switchboard.callbacks.studio.flows_store import LATEST_PUBLISHED, LATEST_REVISION, Revision


def resource(revision: Revision) -> dict[str, Any]:
    return {
        "sid": revision.flow_sid,
        "account_sid": urls.settings().account_sid,
        "author_sid": None,
        "friendly_name": revision.friendly_name,
        "definition": revision.definition,
        "status": revision.status,
        "revision": revision.revision,
        "commit_message": revision.commit_message,
        "valid": revision.valid,
        "errors": revision.errors,
        "date_created": urls.date(revision.date_created),
        "date_updated": urls.date(revision.date_updated),
        "url": urls.flow(revision.flow_sid) + f"/Revisions/{revision.revision}",
    }


def list_(sid: str) -> dict[str, Any]:
    entry = catalog.find_or_404(sid)
    page = page_request()
    if entry.file is not None:
        found = [entry.latest][page.offset:page.offset + page.size + 1]
    else:
        found = flows_store.list_revisions(catalog.store(), sid, offset=page.offset,
                                           limit=page.size + 1)
    return page_body("revisions", [resource(item) for item in found[:page.size]], page,
                     more=len(found) > page.size, path=f"/Flows/{sid}/Revisions")


def fetch(sid: str, revision: str) -> dict[str, Any]:
    entry = catalog.find_or_404(sid)
    wanted: int | str
    if revision in (LATEST_PUBLISHED, LATEST_REVISION):
        wanted = revision
    elif revision.isascii() and revision.isdigit():
        if len(revision) > 9:  # more revisions than a flow has
            raise not_found()
        wanted = int(revision)
    else:
        raise ApiError(400, 81021, f"Flow revision must be a number, {LATEST_PUBLISHED} or "
                       f"{LATEST_REVISION}, not {revision[:40]!r}")
    if entry.file is not None:
        if wanted not in (1, LATEST_PUBLISHED, LATEST_REVISION):
            raise not_found()
        return resource(entry.latest)
    found = flows_store.get_revision(catalog.store(), sid, wanted)
    if found is None:
        raise not_found()
    return resource(found)
