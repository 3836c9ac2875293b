"""Lists: lazy iteration over Twilio's pages, following next_page_uri."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from switchboard.api import TwilioClient, TwilioInvalidResponse, ValidationError
from tests.api_transport.conftest import ACCOUNT_SID, Received, Reply, StubServer

CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


def serve_list(stub: StubServer, total: int, key: str = "calls") -> None:
    """Answer GETs of CALLS like Twilio: ``total`` records in pages of PageSize (default 50)."""
    import json

    def respond(received: Received) -> Reply:
        query = {k: v[0] for k, v in received.query.items()}
        size = int(query.get("PageSize", 50))
        page = int(query.get("Page", 0))
        start = page * size
        items = [{"sid": f"CA{n:032x}", "n": n} for n in range(start, min(start + size, total))]
        nxt = None
        if start + size < total:
            nxt = CALLS + "?" + urlencode({"PageSize": size, "Page": page + 1, "PageToken": "PA1"})
        doc = {
            key: items,
            "page": page,
            "page_size": size,
            "uri": received.target,
            "first_page_uri": CALLS + f"?PageSize={size}&Page=0",
            "next_page_uri": nxt,
            "previous_page_uri": None,
            "start": start,
            "end": start + len(items) - 1,
        }
        return Reply(body=json.dumps(doc).encode())

    stub.responder = respond


def test_all_pages_are_followed(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 7)
    calls = list(client.paginate(CALLS, key="calls", page_size=3))
    assert [c["n"] for c in calls] == list(range(7))
    assert [r.query.get("Page", ["0"])[0] for r in stub.received] == ["0", "1", "2"]
    assert all(r.query["PageSize"] == ["3"] for r in stub.received)


def test_filters_go_on_the_first_page_only(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 4)
    list(client.paginate(CALLS, params={"Status": "completed"}, key="calls", page_size=2))
    assert stub.received[0].query == {"Status": ["completed"], "PageSize": ["2"]}
    assert "Status" not in stub.received[1].query  # next_page_uri carries what Twilio needs


def test_nothing_is_sent_until_iteration(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 5)
    calls = client.paginate(CALLS, key="calls", page_size=2)
    assert stub.received == []
    assert next(calls)["n"] == 0
    assert len(stub.received) == 1


def test_limit_stops_fetching(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 100)
    calls = list(client.paginate(CALLS, key="calls", limit=5, page_size=2))
    assert [c["n"] for c in calls] == [0, 1, 2, 3, 4]
    assert len(stub.received) == 3


def test_limit_sets_the_page_size(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 100)
    assert len(list(client.paginate(CALLS, key="calls", limit=20))) == 20
    assert len(stub.received) == 1
    assert stub.received[0].query["PageSize"] == ["20"]


def test_page_size_is_capped_at_1000(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 3)
    assert len(list(client.paginate(CALLS, key="calls", page_size=5000))) == 3
    assert stub.received[0].query["PageSize"] == ["1000"]
    list(client.paginate(CALLS, key="calls", limit=2500))
    assert stub.received[1].query["PageSize"] == ["1000"]


def test_default_page_size_is_twilios(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 120)
    assert len(list(client.paginate(CALLS, key="calls"))) == 120
    assert "PageSize" not in stub.received[0].query
    assert len(stub.received) == 3


def test_empty_list(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 0)
    assert list(client.paginate(CALLS, key="calls")) == []


@pytest.mark.parametrize(
    ("kwargs", "argument"), [({"limit": 0}, "limit"), ({"page_size": -1}, "page_size")]
)
def test_bad_limits(client: TwilioClient, kwargs: dict, argument: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.paginate(CALLS, key="calls", **kwargs)
    assert info.value.argument == argument


def test_a_page_without_the_key(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(200, {"messages": [], "next_page_uri": None})
    with pytest.raises(TwilioInvalidResponse, match="the page has no list under 'calls'"):
        list(client.paginate(CALLS, key="calls"))


def test_a_page_pointing_at_itself_ends_the_list(client: TwilioClient, stub: StubServer) -> None:
    loop = CALLS + "?Page=1"
    stub.reply(200, {"calls": [{"n": 0}], "next_page_uri": loop})
    stub.reply(200, {"calls": [{"n": 1}], "next_page_uri": loop})
    assert [c["n"] for c in client.paginate(CALLS, key="calls")] == [0, 1]
    assert len(stub.received) == 2


def test_meta_next_page_url(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(200, {"keys": [{"n": 0}], "meta": {"next_page_url": stub.url + "/v1/Keys?Page=1"}})
    stub.reply(200, {"keys": [{"n": 1}], "meta": {"next_page_url": None}})
    assert [k["n"] for k in client.paginate("/v1/Keys", key="keys")] == [0, 1]
    assert stub.received[1].target == "/v1/Keys?Page=1"


def test_filters_as_pairs_keep_repeated_names(client: TwilioClient, stub: StubServer) -> None:
    serve_list(stub, 1)
    params = [("Status", "completed"), ("Status", "busy"), ("PageSize", "7"), ("To", None)]
    list(client.paginate(CALLS, params=params, key="calls"))
    assert stub.received[0].query == {"Status": ["completed", "busy"], "PageSize": ["7"]}
    list(client.paginate(CALLS, params=params, key="calls", page_size=3))
    assert stub.received[1].query["PageSize"] == ["3"]
