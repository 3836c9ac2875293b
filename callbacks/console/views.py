"""The console's pages: overview (and its live JSON), calls, a call, voicemails, conversations,
flow executions."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from flask import Response, abort, jsonify, redirect, render_template, request, url_for

from switchboard.callbacks.console import queries
from switchboard.callbacks.console.blueprint import (
    PAGE_SIZE,
    _as_is,
    _shown,
    bp,
    console,
    conversation_url,
    local_day,
)
from switchboard.callbacks.console.lines import Line
from switchboard.callbacks.store.schema import ALL_SENDERS

#: The overview's parts the live endpoint sends again: (element name, template).
LIVE_SECTIONS = {
    "live": "console/_live_calls.html",
    "recent-calls": "console/_recent_calls.html",
    "failures": "console/_failures.html",
    "voicemails": "console/_voicemails_short.html",
}


def _overview() -> queries.Overview:
    state = console()
    now = state.now()
    with state.reading() as conn:
        return queries.overview(conn, now=now, day_start=state.day_start(now))


def _counts(data: queries.Overview) -> dict[str, int]:
    return {
        "calls-today": data.calls_today,
        "messages-today": data.messages_today,
        "live": data.live_count,
        "unheard": data.unheard,
    }


@bp.get("/")
def overview() -> str:
    data = _overview()
    return render_template("console/overview.html", data=data, counts=_counts(data),
                           sections=LIVE_SECTIONS)


@bp.get("/overview.json")
def overview_live() -> Response:
    """The overview's counts and parts, for the page to refresh itself."""
    data = _overview()
    sections = {name: render_template(template, data=data)
                for name, template in LIVE_SECTIONS.items()}
    return jsonify(counts=_counts(data), sections=sections,
                   updated=console().now().astimezone(console().options.timezone)
                   .strftime("%H:%M:%S"))


# -- calls -------------------------------------------------------------------------------------


def _cursors() -> tuple[queries.Cursor | None, queries.Cursor | None]:
    return (queries.Cursor.parse(request.args.get("before")),
            queries.Cursor.parse(request.args.get("after")))


@bp.get("/calls")
def calls() -> str:
    args = request.args
    status = args.get("status") or None
    if status not in queries.CALL_STATUSES:
        status = None
    since_text, until_text = args.get("since", ""), args.get("until", "")
    filters = queries.CallFilters(
        number=queries.normalise_number(args.get("number")),
        status=status,
        since=local_day(since_text),
        until=local_day(until_text, end=True),
    )
    before, after = _cursors()
    with console().reading() as conn:
        page = queries.list_calls(conn, filters, before=before, after=after, size=PAGE_SIZE)
    kept = {"number": args.get("number", "").strip(), "status": status or "",
            "since": since_text if filters.since else "",
            "until": until_text if filters.until else ""}
    return render_template(
        "console/calls.html", page=page, filters=kept, statuses=queries.CALL_STATUSES,
        links=_page_links(partial(url_for, "console.calls",
                                  **{k: v for k, v in kept.items() if v}), page),
    )


def _page_links(url: Callable[..., str], page: queries.Page) -> dict[str, str]:
    """The pager's links: ``url`` called with the cursor of each page next to ``page``."""
    links = {}
    if page.newer is not None:
        links["newest"] = url()
        links["newer"] = url(after=page.newer.encode())
    if page.older is not None:
        links["older"] = url(before=page.older.encode())
    return links


@bp.get("/calls/<sid>")
def call(sid: str) -> str:
    with console().reading() as conn:
        detail = queries.call_detail(conn, sid, own_hosts=_own_hosts())
        executions = queries.call_executions(conn, sid) if detail is not None else []
    if detail is None:
        abort(404, Line.of("No call {} in the database.", sid))
    retention = console().switchboard.settings.exchanges_retention_days
    return render_template("console/call.html", detail=detail, call=detail.call,
                           executions=executions, retention_days=f"{retention:g}")


def _own_hosts() -> tuple[str, ...]:
    """The hosts of this server, whose URLs in an answer are shown by their path: the one the
    console was reached by, and that of ``SWITCHBOARD_PUBLIC_URL``."""
    hosts = [request.host]
    public_url = console().switchboard.settings.public_url
    if public_url:
        hosts.append(urlsplit(public_url).netloc)
    return tuple(hosts)


# -- voicemails --------------------------------------------------------------------------------


@bp.get("/voicemails")
def voicemails() -> str:
    unheard_only = request.args.get("show") == "unheard"
    before, after = _cursors()
    with console().reading() as conn:
        page = queries.voicemails(conn, unheard_only=unheard_only, before=before, after=after,
                                  size=PAGE_SIZE)
        unheard = queries.unheard_count(conn)
    params = {"show": "unheard"} if unheard_only else {}
    return render_template("console/voicemails.html", page=page, unheard_only=unheard_only,
                           unheard=unheard,
                           links=_page_links(partial(url_for, "console.voicemails", **params),
                                             page))


@bp.get("/voicemails/<sid>")
def voicemail(sid: str) -> Response:
    """The link of a voicemail notice: the page of its call, where it plays."""
    with console().reading() as conn:
        recording = queries.recording(conn, sid)
    if recording is None:
        abort(404, Line.of("No recording {} in the database.", sid))
    if not recording.get("call_sid"):
        return redirect(url_for("console.voicemails"), code=303)
    return redirect(url_for("console.call", sid=recording["call_sid"]) + f"#{sid}", code=303)


@bp.post("/voicemails/<sid>/heard")
def voicemail_heard(sid: str) -> Response:
    state = console()
    with state.reading() as conn:
        if queries.recording(conn, sid) is None:
            abort(404, Line.of("No recording {} in the database.", sid))
    with state.writing() as conn:
        queries.set_heard(conn, sid, request.form.get("heard", "1") != "0", state.now())
    return redirect(_back(url_for("console.voicemails")), code=303)


def _back(default: str) -> str:
    """The console page a form came from (its ``next`` field), else ``default``."""
    from switchboard.callbacks.console.auth import safe_next

    target = request.form.get("next")
    return safe_next(target) if target else default


# -- conversations -----------------------------------------------------------------------------


@bp.get("/conversations")
def conversations() -> str:
    number = queries.normalise_number(request.args.get("number"))
    before = queries.Cursor.parse(request.args.get("before"))
    with console().reading() as conn:
        page = queries.conversations(conn, number=number, before=before, size=PAGE_SIZE)
    params = {"number": request.args.get("number", "").strip()} if number else {}
    links = {}
    if before is not None:
        links["newest"] = url_for("console.conversations", **params)
    if page.older is not None:
        links["older"] = url_for("console.conversations", before=page.older.encode(), **params)
    return render_template("console/conversations.html", page=page,
                           number=params.get("number", ""), links=links)


@bp.get("/conversations/<path:contact>")
def conversation(contact: str) -> str:
    """A contact's conversation, at its own path (:func:`conversation_url`)."""
    return _conversation(contact)


@bp.get("/conversation")
def conversation_of() -> str:
    """A contact's conversation, the contact named in the query (``?contact=``): for one
    that a path cannot carry (:func:`conversation_url`)."""
    return _conversation(_contact_in_query())


def _contact_in_query() -> str:
    contact = request.args.get("contact", "")
    if not contact:
        abort(400, "The address names no contact: add ?contact= and the contact's number.")
    return contact


def _conversation(contact: str) -> str:
    before, after = _cursors()
    with console().reading() as conn:
        page = queries.thread(conn, contact, before=before, after=after, size=PAGE_SIZE)
        opted = queries.opted_out(conn, [contact]).get(contact, [])
    ours = sorted({m["to"] if m["direction"] == "inbound" else m["from"]
                   for m in page.rows} - {None})
    # the pages around it are linked by the contact, which a masked one is not put in
    links = _page_links(partial(conversation_url, contact), page) if _as_is(contact) else {}
    return render_template(
        "console/conversation.html", contact=contact, page=page, messages=page.rows[::-1],
        opted_out=opted, ours=ours, all_senders=ALL_SENDERS, links=links,
    )


@bp.post("/conversations/<path:contact>/opt-out")
def conversation_opt_out(contact: str) -> Response:
    """Opt ``contact`` out of one of our numbers (``sender``) or of all (``*``), or back in."""
    return _opt_out(contact)


@bp.post("/conversation/opt-out")
def conversation_of_opt_out() -> Response:
    """:func:`conversation_opt_out` for a contact named in the query (``?contact=``)."""
    return _opt_out(_contact_in_query())


def _opt_out(contact: str) -> Response:
    store = console().store
    sender = (request.form.get("sender") or "").strip() or ALL_SENDERS
    if request.form.get("action") == "in":
        store.opt_in(contact, None if sender == ALL_SENDERS else sender)
    else:
        store.opt_out(contact, None if sender == ALL_SENDERS else sender)
    return redirect(conversation_url(contact), code=303)


# -- flow executions ---------------------------------------------------------------------------


@bp.get("/executions")
def executions() -> str:
    args = request.args
    status = args.get("status") or None
    if status not in queries.EXECUTION_STATUSES:
        status = None
    flow = (args.get("flow") or "").strip()[:200] or None
    filters = queries.ExecutionFilters(
        flow=flow, contact=queries.normalise_number(args.get("contact")), status=status,
    )
    before, after = _cursors()
    with console().reading() as conn:
        page = queries.list_executions(conn, filters, before=before, after=after,
                                       size=PAGE_SIZE)
        flows = queries.flow_names(conn)
    kept = {"flow": flow or "", "contact": args.get("contact", "").strip(),
            "status": status or ""}
    return render_template(
        "console/executions.html", page=page, filters=kept, flows=flows,
        statuses=queries.EXECUTION_STATUSES,
        links=_page_links(partial(url_for, "console.executions",
                                  **{k: v for k, v in kept.items() if v}), page),
    )


@bp.get("/executions/<sid>")
def execution(sid: str) -> str:
    with console().reading() as conn:
        detail = queries.execution_detail(conn, sid)
    if detail is None:
        abort(404, Line.of("No flow execution {} in the database.", sid))
    steps = [{**step, "context": _pretty(step["context"])} for step in detail.steps]
    return render_template("console/execution.html", execution=detail.execution,
                           context=_pretty(detail.execution["context"]), steps=steps)


def _pretty(value: Any) -> str:
    """A stored context as indented JSON, every key and text in it as the console shows stored
    values (a token or password masked, a URL's password left out)."""
    return _shown(json.dumps(_masked(value), indent=2, ensure_ascii=False, default=str))


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {_shown(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, str):
        return _shown(value)
    return value


@bp.route("/<path:rest>", methods=["GET", "POST"])
def not_found(rest: str) -> Response:
    abort(404, "There is no such page in the console.")
