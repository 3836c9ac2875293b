"""The REST client against a bare ``requests.Session``, on a local stub of Twilio.

Run: ``.venv/bin/python -m tests.bench api``.

A stub answering like Twilio (``POST /Calls.json`` -> a call; ``GET /Calls.json`` -> pages
with ``next_page_uri``) runs in a child process on 127.0.0.1, so the two sides do not share a
GIL. In the same run, the median of alternating batches:

- ``calls.create``: ``client.calls.create(...)`` (argument checks, form encoding, JSON decoding,
  error checks) against ``session.post(...)`` + ``raise_for_status()`` + ``json()``;
- a 10-page list: ``client.calls.list(page_size=50)`` iterated to the end against a loop of
  ``session.get`` following ``next_page_uri``;
- memory: tracemalloc's peak while iterating 10,000 and 20,000 calls (pages of 1,000) against
  the peak of fetching one page of 1,000, and against keeping the 10,000.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import time
import tracemalloc
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from switchboard.api import TwilioClient

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "bench-token-" + "x" * 20
CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
GOAL = 1.2
BATCHES = 20


def _call(n: int) -> dict[str, Any]:
    sid = f"CA{n:032x}"
    return {
        "account_sid": ACCOUNT_SID,
        "annotation": None,
        "answered_by": None,
        "api_version": "2010-04-01",
        "caller_name": None,
        "date_created": "Tue, 31 Aug 2010 20:36:28 +0000",
        "date_updated": "Tue, 31 Aug 2010 20:36:44 +0000",
        "direction": "outbound-api",
        "duration": "15",
        "end_time": "Tue, 31 Aug 2010 20:36:44 +0000",
        "forwarded_from": None,
        "from": "+14155550199",
        "from_formatted": "(415) 555-0199",
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": "PN" + "6" * 32,
        "price": "-0.03000",
        "price_unit": "USD",
        "sid": sid,
        "start_time": "Tue, 31 Aug 2010 20:36:29 +0000",
        "status": "completed",
        "subresource_uris": {
            "notifications": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}/Notifications.json",
            "recordings": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}/Recordings.json",
        },
        "to": "+14155550100",
        "to_formatted": "(415) 555-0100",
        "trunk_sid": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
        "queue_time": "0",
    }


def _page(total: int, size: int, page: int) -> bytes:
    start = page * size
    calls = [_call(n) for n in range(start, min(start + size, total))]
    query = {"PageSize": size, "Total": total}
    nxt = None
    if start + size < total:
        nxt = f"{CALLS}?{urlencode({**query, 'Page': page + 1, 'PageToken': f'PA{page + 1}'})}"
    return json.dumps(
        {
            "calls": calls,
            "end": start + len(calls) - 1,
            "first_page_uri": f"{CALLS}?{urlencode({**query, 'Page': 0})}",
            "next_page_uri": nxt,
            "page": page,
            "page_size": size,
            "previous_page_uri": None,
            "start": start,
            "uri": f"{CALLS}?{urlencode({**query, 'Page': page})}",
        }
    ).encode()


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    created = json.dumps(_call(0) | {"status": "queued", "duration": None}).encode()
    pages: dict[tuple[int, int, int], bytes] = {}

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(201, self.created)

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        key = (
            int(query.get("Total", 500)),
            int(query.get("PageSize", 50)),
            int(query.get("Page", 0)),
        )
        body = self.pages.get(key)
        if body is None:
            body = self.pages[key] = _page(*key)
        self._send(200, body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(port_queue: Any) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    httpd.daemon_threads = True
    port_queue.put(httpd.server_address[1])
    httpd.serve_forever()


def _batch(fn: Callable[[], None], n: int) -> tuple[float, float]:
    """(calls per second of wall time, milliseconds of this process's CPU per call)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - wall), (time.process_time() - cpu) * 1000 / n


def _compare(
    label: str, unit: str, subject: Callable[[], None], baseline: Callable[[], None], n: int
) -> float:
    """Alternate short batches of each and keep the best batch of each (the least disturbed
    by whatever else the machine runs): the wall-clock rate, and the CPU this process spends
    per call (the stub runs in another process, so that is the client side's own cost)."""
    subject()
    baseline()  # warm the pools
    client: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    for batch in range(BATCHES):
        pair = [(subject, client), (baseline, bare)]
        for fn, results in pair if batch % 2 == 0 else reversed(pair):
            results.append(_batch(fn, n))
    c_rate, b_rate = (max(r for r, _ in x) for x in (client, bare))
    c_cpu, b_cpu = (min(c for _, c in x) for x in (client, bare))
    ratio = c_cpu / b_cpu
    print(
        f"{label:<22} client {c_rate:5.0f} {unit}/s {c_cpu:6.2f} ms CPU   "
        f"bare {b_rate:5.0f} {unit}/s {b_cpu:6.2f} ms CPU   "
        f"cost {ratio:.2f}x CPU, {b_rate / c_rate:.2f}x wall "
        f"(goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'})"
    )
    return ratio


def _peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{ports.get(timeout=30)}"
        _run(base)
    finally:
        server.terminate()
        server.join(5)


def _run(base: str) -> None:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base)
    session = requests.Session()
    session.auth = (ACCOUNT_SID, AUTH_TOKEN)
    timeout = client.timeout
    form = {"To": "+14155550100", "From": "+14155550199", "Url": "https://example.com/voice"}

    def client_create() -> None:
        client.calls.create(
            to="+14155550100", from_="+14155550199", url="https://example.com/voice"
        )

    def bare_create() -> None:
        r = session.post(base + CALLS, data=form, timeout=timeout)
        r.raise_for_status()
        r.json()

    tuned = requests.Session()
    tuned.auth = (ACCOUNT_SID, AUTH_TOKEN)
    tuned.trust_env = False

    def tuned_create() -> None:
        r = tuned.post(base + CALLS, data=form, timeout=timeout)
        r.raise_for_status()
        r.json()

    def client_list() -> None:
        count = sum(1 for _ in client.calls.list(page_size=50))
        assert count == 500, count

    def bare_list(session: requests.Session = session) -> None:
        count = 0
        r = session.get(base + CALLS, params={"PageSize": 50}, timeout=timeout)
        while True:
            r.raise_for_status()
            page = r.json()
            count += len(page["calls"])
            if not page["next_page_uri"]:
                break
            r = session.get(base + page["next_page_uri"], timeout=timeout)
        assert count == 500, count

    def tuned_list() -> None:
        bare_list(tuned)

    print(f"stub: ThreadingHTTPServer in a child process at {base}")
    print(f"best of {BATCHES} alternating batches each; CPU per call is this process's")
    _compare("calls.create (POST)", "call", client_create, bare_create, 50)
    _compare("list, 10 pages of 50", "list", client_list, bare_list, 2)
    print("against a bare session that also reads the environment once (trust_env=False):")
    _compare("calls.create (POST)", "call", client_create, tuned_create, 50)
    _compare("list, 10 pages of 50", "list", client_list, tuned_list, 2)

    def iterate(total: int) -> Callable[[], None]:
        def run() -> None:
            count = 0
            for _ in client.paginate(CALLS, params={"Total": total}, key="calls", page_size=1000):
                count += 1
            assert count == total, count

        return run

    def one_page() -> None:
        page = client.request("GET", CALLS, params={"Total": 10_000, "PageSize": 1000})
        assert len(page["calls"]) == 1000

    def keep_all() -> None:
        kept = list(client.paginate(CALLS, params={"Total": 10_000}, key="calls", page_size=1000))
        assert len(kept) == 10_000

    iterate(10_000)()  # warm: the stub builds and caches its pages
    iterate(20_000)()
    mib = 1024 * 1024
    page = _peak(one_page)
    ten = _peak(iterate(10_000))
    twenty = _peak(iterate(20_000))
    kept = _peak(keep_all)
    print(
        f"memory (tracemalloc peak): one page of 1,000: {page / mib:.1f} MiB   "
        f"iterating 10,000: {ten / mib:.1f} MiB ({ten / page:.2f}x one page); "
        f"20,000: {twenty / mib:.1f} MiB ({twenty / page:.2f}x); "
        f"list() keeping 10,000: {kept / mib:.1f} MiB"
    )
    client.close()
    session.close()
    tuned.close()
