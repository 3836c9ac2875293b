"""``Twilio-Request-Id`` on every answer of the Studio API (a Request SID, new for each
request, an error's too), and ``initiated_by`` of an execution started through the API: the
Request SID of the ``POST`` that started it, read back through the Execution resource (with
requests and with Twilio's SDK). Executions started by a message or from Python keep theirs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from switchboard.callbacks.studio.api import blueprint
from switchboard.callbacks.studio.loader import load_flows
from switchboard.callbacks.studio.outbound import start_execution
from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, REMINDER, House, flow_body
from tests.studio_api.test_flows import HELLO_SID

REQUEST_SID = re.compile(r"RQ[0-9a-f]{32}")
HEADER = "Twilio-Request-Id"


def request_id(answer: requests.Response) -> str:
    """The answer's ``Twilio-Request-Id``, checked to be a Request SID."""
    sid = answer.headers.get(HEADER, "")
    assert REQUEST_SID.fullmatch(sid), (answer.request.method, answer.url, sid)
    return sid


def published(house: House) -> str:
    answer = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER))
    assert answer.status_code == 201
    house.number(answer.json()["webhook_url"])
    return str(answer.json()["sid"])


def unrecorded(house: House, method: str, path: str) -> requests.Response:
    """A request whose answer Twilio's description has no schema for (``HEAD``, ``OPTIONS``)."""
    return requests.request(method, house.url + path, auth=house.auth, timeout=20)


def start(house: House, flow: str, to: str = CONTACT) -> requests.Response:
    return house.raw("POST", f"/v2/Flows/{flow}/Executions",
                     data={"To": to, "From": FLOW_NUMBER,
                           "Parameters": json.dumps({"name": "Ada", "day": "Monday"})})


# -- the header -------------------------------------------------------------------------------


def test_every_successful_answer_names_its_own_request(house: House) -> None:
    flow = published(house)
    started = start(house, flow)
    execution = started.json()["sid"]
    answers = [
        started,
        house.raw("GET", "/v2/Flows"),
        house.raw("GET", f"/v2/Flows/{flow}"),
        unrecorded(house, "HEAD", f"/v2/Flows/{flow}"),
        house.raw("GET", f"/v2/Flows/{flow}/Revisions/LatestPublished"),
        house.raw("GET", f"/v2/Flows/{flow}/Executions"),
        house.raw("GET", f"/v2/Flows/{flow}/Executions/{execution}/Context"),
        house.raw("GET", f"/v2/Flows/{flow}/Executions/{execution}/Steps"),
        unrecorded(house, "OPTIONS", f"/v2/Flows/{flow}"),
        house.raw("DELETE", f"/v2/Flows/{flow}/Executions/{execution}"),
    ]
    assert [answer.status_code for answer in answers] == [
        201, 200, 200, 200, 200, 200, 200, 200, 204, 204]
    sids = [request_id(answer) for answer in answers]
    assert len(set(sids)) == len(sids)


def test_every_error_answer_names_its_request(house: House) -> None:
    flow = published(house)
    limit = house.stack.app.config["MAX_CONTENT_LENGTH"]  # type: ignore[union-attr]
    answers = [
        house.raw("POST", f"/v2/Flows/{flow}/Executions", data={"From": FLOW_NUMBER}),
        house.raw("GET", "/v2/Flows", auth=None),
        house.raw("GET", "/v2/Flows", auth=("AC" + "0" * 32, "wrong")),
        house.raw("TRACE", f"/v2/Flows/{flow}", auth=None),
        house.raw("POST", f"/v2/Flows/{HELLO_SID}", data={"Status": "draft"}),
        house.raw("PUT", f"/v2/Flows/{flow}"),
        house.raw("POST", "/v2/Flows/Validate", data={"Definition": "x" * (limit + 1)}),
    ]
    assert start(house, flow).status_code == 201
    answers.append(start(house, flow))
    assert [(answer.status_code, answer.json()["code"]) for answer in answers] == [
        (400, 20001), (401, 20003), (401, 20003), (401, 20003), (403, 20403), (405, 20004),
        (413, 20001), (409, 20409)]
    sids = [request_id(answer) for answer in answers]
    assert len(set(sids)) == len(sids)


@pytest.mark.parametrize("path", [
    "/v2/Flows/FW00000000000000000000000000000000",
    "/v2/Flows/FW00000000000000000000000000000000/Executions/FN00000000000000000000000000000000",
    "/v2/Flows/not-a-sid/Revisions/1",
    "/v2/Nowhere",
    "/v2/",
])
def test_a_404_names_its_request(house: House, path: str) -> None:
    first, second = house.raw("GET", path), house.raw("GET", path)
    for answer in (first, second):
        assert answer.status_code == 404
        assert answer.json()["code"] == 20404
    assert request_id(first) != request_id(second)


def test_an_unexpected_failure_names_its_request(house: House,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Any:
        raise RuntimeError("no flows today")

    monkeypatch.setitem(blueprint.ROUTES["/Flows"], "GET", broken)
    answer = house.raw("GET", "/v2/Flows")
    assert answer.status_code == 500
    assert answer.json() == {"code": 20500, "message": "Internal Server Error", "status": 500,
                             "more_info": "https://www.twilio.com/docs/errors/20500"}
    request_id(answer)


# -- initiated_by -----------------------------------------------------------------------------


def test_initiated_by_is_the_request_id_of_the_post_that_started_it(house: House) -> None:
    flow = published(house)
    started = start(house, flow)
    assert started.status_code == 201
    sid, execution = request_id(started), started.json()["sid"]
    assert started.json()["initiated_by"] == sid

    fetched = house.raw("GET", f"/v2/Flows/{flow}/Executions/{execution}")
    assert fetched.json()["initiated_by"] == sid
    assert request_id(fetched) != sid
    listed = house.raw("GET", f"/v2/Flows/{flow}/Executions").json()["executions"]
    assert [item["initiated_by"] for item in listed] == [sid]
    context = house.raw("GET", f"/v2/Flows/{flow}/Executions/{execution}/Context").json()
    assert context["context"]["trigger"]["request"] == {
        "parameters": {"name": "Ada", "day": "Monday"}, "RequestSid": sid}

    refused = start(house, flow)  # already active for the contact
    assert refused.status_code == 409
    other = start(house, flow, to="+15555550177")
    assert other.json()["initiated_by"] == request_id(other) not in (sid, request_id(refused))
    ended = house.raw("POST", f"/v2/Flows/{flow}/Executions/{execution}",
                      data={"Status": "ended"})
    assert ended.json()["status"] == "ended"
    assert ended.json()["initiated_by"] == sid


def test_initiated_by_read_back_with_twilios_sdk(house: House) -> None:
    flow = house.studio.studio.v2.flows.create(friendly_name="Reminder", status="published",
                                               definition=REMINDER)
    house.number(flow.webhook_url)
    executions = house.studio.studio.v2.flows(flow.sid).executions
    created = executions.create_with_http_info(to=CONTACT, from_=FLOW_NUMBER,
                                                parameters={"name": "Ada"})
    assert created.status_code == 201
    sid = created.headers[HEADER]
    assert REQUEST_SID.fullmatch(sid)
    assert created.data.initiated_by == sid

    fetched = executions(created.data.sid).fetch_with_http_info()
    assert fetched.data.initiated_by == sid
    assert REQUEST_SID.fullmatch(fetched.headers[HEADER])
    assert fetched.headers[HEADER] != sid
    assert [execution.initiated_by for execution in executions.list()] == [sid]


def test_only_an_execution_the_api_started_has_a_request_sid(house: House) -> None:
    """A message's execution shows its MessageSid, one started from Python (as by
    ``switchboard flows run``) none, next to the API's."""
    flow = published(house)
    transcript = house.reply("Hi", from_="+15555550155")
    flows = load_flows(house.flows_dir)
    settings = house.stack.app.extensions["switchboard"].settings  # type: ignore[union-attr]
    from_python = start_execution(house.stack.store, flows["hello"], to="+15555550166",
                                  from_=FLOW_NUMBER, parameters={"name": "Ada"},
                                  settings=settings, flows=flows)
    started = start(house, flow)

    by_message = house.raw("GET", f"/v2/Flows/{flow}/Executions").json()["executions"]
    assert sorted(item["initiated_by"] for item in by_message) == sorted(
        [transcript.sid, request_id(started)])
    python = house.raw("GET", f"/v2/Flows/{HELLO_SID}/Executions/{from_python.sid}").json()
    assert python["initiated_by"] is None
    assert python["context"]["trigger"] == {"request": {"parameters": {"name": "Ada"}}}
