"""The console's flow executions: the list with its filters and pages, an execution with its
steps and context (escaped, secrets masked), a call's executions, and the login they need; on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks.studio import executions
from switchboard.config.secret import MASK
from tests.console.conftest import CALLER, NUMBER, TOKEN, add_call, log_in

FLOW_SID = "FW" + "a" * 32
OTHER_FLOW_SID = "FW" + "b" * 32


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC) - timedelta(hours=1)

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


def run_execution(
    store: Any, clock: Clock, *, flow: str = "Support", flow_sid: str = FLOW_SID,
    contact: str = CALLER, channel: str = "messaging", call_sid: str | None = None,
    context: dict[str, Any] | None = None, steps: int = 2, end: bool = False,
) -> str:
    """An execution made and moved as the runtime does: created, then saved with its steps."""
    db = executions.Database(store, clock=clock)
    execution = executions.Execution(
        sid=executions.new_sid("FN"), flow_sid=flow_sid, flow_name=flow,
        contact_channel_address=contact, channel_address=NUMBER, channel=channel,
        call_sid=call_sid, context=context or {"flow": {"data": {}}},
    )
    executions.create(db, execution, claim_for=30)
    made = []
    for seq in range(steps):
        made.append(executions.Step(
            name="incomingMessage" if seq == 0 else "audioComplete",
            transitioned_from="Trigger" if seq == 0 else f"widget_{seq}",
            transitioned_to=f"widget_{seq + 1}", flow_sid=flow_sid, type="say-play",
            context={"seq": seq, "note": f"step {seq}"},
        ))
    execution.step_count = steps
    assert executions.save(db, execution, made)
    if end:
        executions.end_execution(store, execution.sid)
    return execution.sid


def rows(html: str) -> int:
    return html.count("<tr>") - 1  # the header's


def test_the_list_its_filters_and_an_execution(db_client: FlaskClient, db_store: Any) -> None:
    clock = Clock()
    call_sid = add_call(db_store)
    first = run_execution(db_store, clock, channel="voice", call_sid=call_sid, steps=3,
                          context={"flow": {"data": {"note": "<script>alert(1)</script>",
                                                     "token": TOKEN}}})
    second = run_execution(db_store, clock, flow="Sales", flow_sid=OTHER_FLOW_SID,
                           contact="+15555550199", end=True)
    third = run_execution(db_store, clock)

    page = db_client.get("/console/executions").text
    assert rows(page) == 3
    assert page.index(third) < page.index(second) < page.index(first)  # newest first
    assert 'href="/console/executions"' in page
    assert ">Flow executions<" in page
    assert '<option value="Sales">Sales</option>' in page

    by_flow = db_client.get("/console/executions?flow=Sales").text
    assert rows(by_flow) == 1
    assert second in by_flow
    assert '<option value="Sales" selected>' in by_flow
    by_contact = db_client.get("/console/executions?contact=%2B1%20(555)%20555-0100").text
    assert rows(by_contact) == 2
    assert second not in by_contact
    assert 'value="+1 (555) 555-0100"' in by_contact
    ended = db_client.get("/console/executions?status=ended").text
    assert rows(ended) == 1
    assert second in ended
    active = db_client.get("/console/executions?status=active&flow=Support").text
    assert rows(active) == 2
    assert rows(db_client.get("/console/executions?status=bogus&before=junk").text) == 3
    assert "No flow execution matches." in db_client.get("/console/executions?flow=None").text

    detail = db_client.get(f"/console/executions/{first}")
    assert detail.status_code == 200
    html = detail.text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert TOKEN not in html
    assert MASK in html
    assert f'href="/console/calls/{call_sid}"' in html
    assert html.count("<details>") == 3
    assert [int(n) for n in re.findall(r"<strong>#(\d+) ", html)] == [1, 2, 3]
    assert "Trigger <span class=\"arrow\" aria-label=\"to\">&rarr;</span> widget_1" in html
    assert "&#34;note&#34;: &#34;step 2&#34;" in html  # each step's context, indented JSON
    assert '&#34;flow&#34;: {\n' in html

    call_page = db_client.get(f"/console/calls/{call_sid}").text
    assert f'href="/console/executions/{first}"' in call_page
    assert second not in call_page
    assert "Flow executions" in call_page

    missing = db_client.get("/console/executions/FN-not-here")
    assert missing.status_code == 404
    assert "No flow execution FN-not-here in the database." in missing.text


def test_the_list_is_paged_by_key_with_its_filters(db_client: FlaskClient,
                                                   db_store: Any) -> None:
    clock = Clock()
    made = [run_execution(db_store, clock, steps=0) for _ in range(53)]
    run_execution(db_store, clock, flow="Sales", flow_sid=OTHER_FLOW_SID, steps=0)
    page = db_client.get("/console/executions?flow=Support").text
    assert rows(page) == 50
    assert made[-1] in page
    assert made[2] not in page
    older = re.search(r'href="([^"]+)" rel="next"', page)
    assert older is not None
    link = older.group(1).replace("&amp;", "&")
    assert "flow=Support" in link
    assert "before=" in link
    rest = db_client.get(link).text
    assert rows(rest) == 3
    assert all(sid in rest for sid in made[:3])
    assert 'rel="next"' not in rest
    newer = re.search(r'href="([^"]+)" rel="prev"', rest)
    assert newer is not None
    back = db_client.get(newer.group(1).replace("&amp;", "&")).text
    assert rows(back) == 50
    assert made[-1] in back


def test_the_pages_need_a_login(app: Flask, store: Any) -> None:
    sid = run_execution(store, Clock())
    client = app.test_client()
    for path in ("/console/executions", f"/console/executions/{sid}"):
        response = client.get(path)
        assert response.status_code in (302, 303)
        assert "/console/login" in response.headers["Location"]
    assert log_in(client).status_code == 303
    assert sid in client.get("/console/executions").text
