"""Twilio's paging: ``PageSize``, ``Page`` and the ``PageToken`` of ``next_page_url``; the
SDK's lists follow the pages to the end."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.studio_api.conftest import REMINDER, House, flow_body


def test_the_sdk_follows_the_pages_of_flows_and_revisions(house: House) -> None:
    for number in range(5):
        house.raw("POST", "/v2/Flows", data=flow_body(f"flow {number}", REMINDER))
    flows = house.studio.studio.v2.flows
    names = [flow.friendly_name for flow in flows.list(page_size=2)]
    assert names == ["hello", "flow 0", "flow 1", "flow 2", "flow 3", "flow 4"]
    assert [f.friendly_name for f in flows.list(limit=3, page_size=2)] == names[:3]

    sid = flows.list(limit=2)[1].sid
    for _ in range(4):
        flows(sid).update(status="published")
    assert [r.revision for r in flows(sid).revisions.list(page_size=2)] == [5, 4, 3, 2, 1]


def test_the_meta_of_a_page(house: House) -> None:
    for number in range(3):
        house.raw("POST", "/v2/Flows", data=flow_body(f"flow {number}", REMINDER))
    first = house.raw("GET", "/v2/Flows?PageSize=2").json()
    meta = first["meta"]
    assert (meta["page"], meta["page_size"], meta["key"]) == (0, 2, "flows")
    assert meta["previous_page_url"] is None
    assert meta["first_page_url"] == f"{house.url}/v2/Flows?PageSize=2&Page=0"
    following = urlsplit(meta["next_page_url"])
    assert parse_qs(following.query) == {"PageSize": ["2"], "Page": ["1"], "PageToken": ["PT2"]}

    second = house.raw("GET", f"{following.path}?{following.query}").json()
    assert [f["friendly_name"] for f in second["flows"]] == ["flow 1", "flow 2"]
    assert second["meta"]["next_page_url"] is None
    assert second["meta"]["previous_page_url"].endswith("PageSize=2&Page=0&PageToken=PT0")


def test_bad_paging_is_a_400(house: House) -> None:
    for query in ("PageSize=0", "PageSize=ten", "PageSize=5_0", "PageSize=-" + "9" * 30,
                  "Page=-1", "Page=1.5", "PageToken=abc"):
        answer = house.raw("GET", f"/v2/Flows?{query}")
        assert (answer.status_code, answer.json()["code"]) == (400, 20001), query


def test_a_page_size_over_1000_is_twilios_page_size_too_large(house: House) -> None:
    for size in ("1001", "9" * 5000):
        answer = house.raw("GET", f"/v2/Flows?PageSize={size}").json()
        assert (answer["status"], answer["code"]) == (400, 20007)
        assert len(answer["message"]) < 120


def test_a_page_number_no_offset_can_reach_is_a_400_not_a_server_error(house: House) -> None:
    sid = house.raw("POST", "/v2/Flows", data=flow_body("flow", REMINDER)).json()["sid"]
    for path in ("/v2/Flows", f"/v2/Flows/{sid}/Revisions", f"/v2/Flows/{sid}/Executions"):
        answer = house.raw("GET", f"{path}?Page=99999999999999999999999")
        assert (answer.status_code, answer.json()["code"]) == (400, 20001), path
    assert house.raw("GET", "/v2/Flows?Page=20000000000&PageSize=50").status_code == 400
    assert house.raw("GET", "/v2/Flows?Page=19999999999&PageSize=50").json()["flows"] == []


def test_the_previous_page_of_a_token_page_is_never_a_negative_page(house: House) -> None:
    for number in range(3):
        house.raw("POST", "/v2/Flows", data=flow_body(f"flow {number}", REMINDER))
    page = house.raw("GET", "/v2/Flows?PageSize=2&PageToken=PT1").json()
    assert [f["friendly_name"] for f in page["flows"]] == ["flow 0", "flow 1"]
    previous = urlsplit(page["meta"]["previous_page_url"])
    assert parse_qs(previous.query) == {"PageSize": ["2"], "Page": ["0"], "PageToken": ["PT0"]}
    answer = house.raw("GET", f"{previous.path}?{previous.query}")
    assert [f["friendly_name"] for f in answer.json()["flows"]] == ["hello", "flow 0"]
