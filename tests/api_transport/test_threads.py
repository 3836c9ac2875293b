"""One client shared by several threads."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from switchboard.api import TwilioClient
from tests.api_transport.conftest import Received, Reply, StubServer


def test_concurrent_requests_get_their_own_answers(client: TwilioClient, stub: StubServer) -> None:
    def echo(received: Received) -> Reply:
        return Reply(body=json.dumps({"n": received.form["N"][0]}).encode())

    stub.responder = echo

    def call(n: int) -> str:
        return client.request("POST", "/2010-04-01/x.json", data={"N": n})["n"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, range(200)))
    assert answers == [str(n) for n in range(200)]
    assert len(stub.received) == 200


def test_concurrent_pagination(client: TwilioClient, stub: StubServer) -> None:
    def pages(received: Received) -> Reply:
        page = int(received.query.get("Page", ["0"])[0])
        nxt = f"/2010-04-01/x.json?Page={page + 1}" if page < 4 else None
        return Reply(body=json.dumps({"items": [{"page": page}], "next_page_uri": nxt}).encode())

    stub.responder = pages

    def walk(_: int) -> list[int]:
        return [item["page"] for item in client.paginate("/2010-04-01/x.json", key="items")]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(walk, range(12)))
    assert results == [[0, 1, 2, 3, 4]] * 12
