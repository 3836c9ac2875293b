"""The flows the API serves: the flows folder's (read-only, each with a SID made from its
name, as the runtime gives it) and the flows made through the API (in the database).

A flow of the folder is shown as Studio would show a published flow at its first revision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from switchboard.callbacks.studio import flows_store
from switchboard.callbacks.studio.api.errors import not_found
from switchboard.callbacks.studio.context import flow_sid
from switchboard.callbacks.studio.definition import Flow
from switchboard.callbacks.studio.flows_store import PUBLISHED, Revision, StoredFlow
from switchboard.callbacks.studio.runtime import Runtime


@dataclass(frozen=True)
class Entry:
    """One flow as the API shows it, from the folder (``file``) or the database (``stored``)."""

    sid: str
    friendly_name: str
    status: str
    revision: int
    date_created: datetime
    date_updated: datetime
    latest: Revision = field(repr=False)
    file: Flow | None = field(default=None, repr=False)
    stored: StoredFlow | None = field(default=None, repr=False)

    @property
    def read_only(self) -> bool:
        return self.file is not None


def store() -> Any:
    return current_app.extensions["switchboard"].store


def studio_runtime() -> Runtime | None:
    """The runtime of the app's ``/flows`` blueprint, when it has one."""
    blueprint = current_app.blueprints.get("studio")
    return getattr(blueprint, "runtime", None)


def file_flows() -> list[Flow]:
    runtime = studio_runtime()
    return sorted(runtime.flows.values(), key=lambda flow: flow.name) if runtime else []


#: Each flow of the folder as shown, by the flow's id (the runtime keeps its flows for good).
_FILE_ENTRIES: dict[int, tuple[Flow, Entry]] = {}


def _file_entry(flow: Flow) -> Entry:
    kept = _FILE_ENTRIES.get(id(flow))
    if kept is not None and kept[0] is flow:
        return kept[1]
    entry = _make_file_entry(flow)
    if len(_FILE_ENTRIES) > 1024:
        _FILE_ENTRIES.clear()
    _FILE_ENTRIES[id(flow)] = (flow, entry)
    return entry


def _make_file_entry(flow: Flow) -> Entry:
    sid = flow_sid(flow)
    errors, warnings = flows_store.problems(flow.definition, flow.source)
    try:
        when = datetime.fromtimestamp(os.stat(flow.source).st_mtime, UTC)
    except OSError:
        when = datetime.now(UTC)
    revision = Revision(
        flow_sid=sid, revision=1, friendly_name=flow.name, status=PUBLISHED,
        definition=flow.definition, commit_message=None, errors=errors, warnings=warnings,
        valid=not errors, date_created=when, date_updated=when,
    )
    return Entry(sid, flow.name, PUBLISHED, 1, when, when, revision, flow)


def stored_entry(stored: StoredFlow) -> Entry:
    return Entry(stored.sid, stored.friendly_name, stored.status, stored.revision,
                 stored.date_created, stored.date_updated, stored.latest, stored=stored)


def find(sid: str) -> Entry | None:
    for flow in file_flows():
        if flow_sid(flow) == sid:
            return _file_entry(flow)
    if not flows_store.FLOW_SID.fullmatch(sid):
        return None
    stored = flows_store.get_flow(store(), sid)
    return stored_entry(stored) if stored is not None else None


def find_or_404(sid: str) -> Entry:
    entry = find(sid)
    if entry is None:
        raise not_found()
    return entry


def page(offset: int, limit: int) -> tuple[list[Entry], bool]:
    """``limit`` flows from ``offset`` (the folder's first, by name, then the API's, oldest
    first), and whether more follow."""
    files = [_file_entry(flow) for flow in file_flows()]
    shown = files[offset:offset + limit]
    wanted = limit - len(shown) + 1
    stored = flows_store.list_flows(store(), offset=max(offset - len(files), 0), limit=wanted)
    shown += [stored_entry(flow) for flow in stored]
    return shown[:limit], len(shown) > limit


def runnable(entry: Entry, contact: str) -> Flow | None:
    """The flow (revision) that runs for ``contact``: a flow of the folder; a published
    revision, or the latest for a test user; None when none may run for them."""
    if entry.file is not None:
        return entry.file
    runtime = studio_runtime()
    lookup = runtime.lookup if runtime is not None and runtime.lookup is not None else (
        flows_store.DatabaseFlows(store()))
    if isinstance(lookup, flows_store.DatabaseFlows):
        return lookup.for_contact(entry.sid, contact, known=entry.stored)
    return lookup.for_contact(entry.sid, contact)
