"""Fault injection: 429 with Retry-After, 500, 503, slow answers, dropped connections."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from switchboard.emulator.faults import FaultInjector, parse_fault
from tests.emulator_rest.conftest import TIMEOUT, Api

CALL = {"To": "+14155550111", "From": "+14155550100", "Url": "https://e.com/voice"}


def test_next_request_answers_429_with_retry_after(api: Api) -> None:
    api.emu.faults.add("429", retry_after=3)
    response = api.get("/Calls.json")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json() == {"code": 20429, "message": "Too Many Requests",
                               "more_info": "https://www.twilio.com/docs/errors/20429",
                               "status": 429}
    assert api.get("/Calls.json").status_code == 200  # count defaults to 1


@pytest.mark.parametrize(("kind", "code"), [("500", 20500), ("503", 20503)])
def test_server_errors(api: Api, kind: str, code: int) -> None:
    api.emu.faults.add(kind, count=2)
    answers = [api.get("/Calls.json") for _ in range(3)]
    assert [r.status_code for r in answers] == [int(kind), int(kind), 200]
    assert answers[0].json()["code"] == code


def test_a_failed_create_creates_nothing(api: Api) -> None:
    api.emu.faults.add("503", methods=["POST"])
    assert api.post("/Calls.json", CALL).status_code == 503
    assert api.emu.state.created_count("calls") == 0
    assert api.emu.phone.calls == []
    assert api.post("/Calls.json", CALL).status_code == 201
    assert api.emu.state.created_count("calls") == 1


def test_rules_match_methods_and_path_prefix(api: Api) -> None:
    prefix = f"/2010-04-01/Accounts/{api.emu.account_sid}/Messages"
    api.emu.faults.add("500", count=5, methods=["POST"], path_prefix=prefix)
    assert api.get("/Messages.json").status_code == 200
    assert api.post("/Calls.json", CALL).status_code == 201
    assert api.post("/Messages.json", {"To": "+14155550111", "From": "+14155550100",
                                       "Body": "x"}).status_code == 500


def test_rate_is_deterministic_for_a_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        injector = FaultInjector(seed)
        injector.add("503", rate=0.3)
        return [injector.pick("GET", "/2010-04-01/x") is not None for _ in range(200)]

    first = pattern(7)
    assert first == pattern(7)
    assert first != pattern(8)
    assert 40 <= sum(first) <= 80


def test_counters(api: Api) -> None:
    api.emu.faults.add("429", count=1)
    api.get("/Calls.json")
    api.get("/Calls.json")
    requests.get(api.emu.url + "/", timeout=TIMEOUT)  # outside the API: not counted
    assert api.emu.faults.requests_served == 2
    assert api.emu.faults.injected["429"] == 1


def test_slow_answers_late(api: Api) -> None:
    api.emu.faults.add("slow", delay=0.3)
    started = time.monotonic()
    assert api.get("/Calls.json").status_code == 200
    assert time.monotonic() - started >= 0.3
    api.emu.faults.add("slow", delay=1.0, after=True)
    with pytest.raises(requests.ReadTimeout):
        api.session.post(api.url("/Calls.json"), data=CALL, timeout=0.2)
    # the call was created even though the client gave up waiting
    deadline = time.monotonic() + 5
    while api.emu.state.created_count("calls") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert api.emu.state.created_count("calls") == 1


def raw_request(url: str, path: str, auth_header: str) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth_header}\r\n"
                     "Connection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def test_drop_closes_the_connection_without_an_answer(api: Api) -> None:
    auth = requests.auth._basic_auth_str(api.emu.account_sid, api.emu.auth_token)
    path = f"/2010-04-01/Accounts/{api.emu.account_sid}/Calls.json"
    api.emu.faults.add("drop")
    assert raw_request(api.emu.url, path, auth) == b""
    answer = raw_request(api.emu.url, path, auth)
    assert answer.startswith(b"HTTP/1.1 200")


def test_drop_after_running_the_request(api: Api) -> None:
    api.emu.faults.add("drop", after=True, methods=["POST"], delay=0)
    with pytest.raises(requests.ConnectionError):
        api.post("/Calls.json", CALL)
    assert api.emu.state.created_count("calls") == 1  # created, but the answer was lost
    assert len(api.emu.phone.calls) == 1


def test_clear_removes_rules(api: Api) -> None:
    api.emu.faults.add("503", rate=1.0)
    assert api.get("/Calls.json").status_code == 503
    api.emu.faults.clear()
    assert api.get("/Calls.json").status_code == 200


@pytest.mark.parametrize(("spec", "expected"), [
    ("503", {"kind": "503"}),
    ("503:rate=0.2", {"kind": "503", "rate": 0.2}),
    ("429:count=3,retry_after=2", {"kind": "429", "count": 3, "retry_after": 2.0}),
    ("slow:delay=1.5,methods=POST|GET", {"kind": "slow", "delay": 1.5,
                                         "methods": ["POST", "GET"]}),
    ("drop:after,path_prefix=/2010-04-01/Accounts", {"kind": "drop", "after": True,
                                                     "path_prefix": "/2010-04-01/Accounts"}),
])
def test_parse_fault(spec: str, expected: dict) -> None:
    assert parse_fault(spec) == expected


@pytest.mark.parametrize("spec", ["404", "503:rate=lots", "503:colour=red"])
def test_parse_fault_rejects_nonsense(spec: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        parse_fault(spec)


def test_add_rejects_bad_rules() -> None:
    injector = FaultInjector()
    with pytest.raises(ValueError, match="kind"):
        injector.add("418")
    with pytest.raises(ValueError, match="rate"):
        injector.add("503", rate=2)
