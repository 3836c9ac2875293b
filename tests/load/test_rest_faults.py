"""The REST client against the emulator's fault injection: 429 with Retry-After, 500, 503, slow
answers and dropped connections. Every read succeeds within its retry budget, no call or
message is ever created twice, and a budget that runs out raises the clear error."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from switchboard.api import (
    TwilioClient,
    TwilioConnectionError,
    TwilioError,
    TwilioHTTPError,
    TwilioTimeout,
)
from switchboard.api.retry import retry_policy
from switchboard.emulator import Emulator
from tests.load.figures import report

NUMBER = "+15005550006"
SEEDED = 40
RETRIES = 8
READ_TIMEOUT = 1.0


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(caller=False, seed=20261127) as emulator:
        emulator.state.buy_number(emulator.account_sid, NUMBER)
        yield emulator


def make_client(emu: Emulator, retries: int = RETRIES) -> TwilioClient:
    policy = retry_policy(retries, backoff_factor=0.01, backoff_max=0.1, backoff_jitter=0.0,
                          retry_after_max=2)
    return TwilioClient(emu.account_sid, emu.auth_token, base_url=emu.url,
                        timeout=(2.0, READ_TIMEOUT), retries=policy, pool_maxsize=16)


def one_line(error: BaseException, *secrets: str) -> str:
    text = str(error)
    assert "\n" not in text
    for secret in secrets:
        assert secret not in text
        assert secret not in repr(error)
    return text


def test_reads_succeed_within_their_retry_budget(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(emu)
    calls = [client.calls.create(f"+1415555{n:04d}", NUMBER, url="http://127.0.0.1:9/voice")
             for n in range(SEEDED)]
    messages = [client.messages.create(f"+1415555{n:04d}", from_=NUMBER, body=f"seed {n}")
                for n in range(SEEDED)]
    faults = emu.faults
    faults.add("429", rate=0.06, retry_after=0, methods=["GET"])
    faults.add("429", count=2, retry_after=1, methods=["GET"])  # Retry-After honoured: 2 s
    faults.add("500", rate=0.06, methods=["GET"])
    faults.add("503", rate=0.06, retry_after=0, methods=["GET"])
    faults.add("drop", rate=0.05, methods=["GET"])
    faults.add("slow", rate=0.05, delay=0.1, methods=["GET"])
    faults.add("slow", count=2, delay=READ_TIMEOUT + 0.5, methods=["GET"])  # read timeouts
    served_before = faults.requests_served

    def read(n: int) -> bool:
        call, message = calls[n % SEEDED], messages[n % SEEDED]
        assert client.calls.get(call["sid"])["to"] == call["to"]
        assert client.messages.get(message["sid"])["body"] == message["body"]
        listed = list(client.calls.list(to=call["to"], page_size=5))
        assert [c["sid"] for c in listed] == [call["sid"]]
        return True

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(read, range(200)))
    elapsed = time.perf_counter() - started
    client.close()
    injected = dict(faults.injected)
    served = faults.requests_served - served_before
    report("REST reads under faults",
           f"{len(done) * 3} reads ({served} requests) from 8 threads in {elapsed:.1f} s, "
           f"{sum(injected.values())} faults injected {injected}, none failed")
    assert all(done)
    assert set(injected) == {"429", "500", "503", "drop", "slow"}
    assert emu.auth_token not in caplog.text


def test_no_call_or_message_is_created_twice(emu: Emulator) -> None:
    client = make_client(emu)
    faults = emu.faults
    faults.add("429", rate=0.15, retry_after=0, methods=["POST"])
    faults.add("500", rate=0.1, methods=["POST"])
    faults.add("503", rate=0.1, retry_after=0, methods=["POST"])
    faults.add("drop", rate=0.1, methods=["POST"])
    faults.add("drop", rate=0.1, after=True, delay=0, methods=["POST"])
    faults.add("slow", rate=0.05, after=True, delay=READ_TIMEOUT + 0.3, methods=["POST"])

    def create(n: int) -> tuple[str, str, dict | TwilioError]:
        to = f"+1628555{n:04d}"
        try:
            if n % 2:
                return "calls", to, client.calls.create(to, NUMBER, url="http://127.0.0.1:9/v")
            return "messages", to, client.messages.create(to, from_=NUMBER, body=f"once {n}")
        except TwilioError as error:
            one_line(error, emu.auth_token)
            return ("calls" if n % 2 else "messages"), to, error

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(create, range(200)))
    client.close()

    created = Counter()
    for kind in ("calls", "messages"):
        for resource in emu.state.list(kind):
            created[(kind, resource["to"])] += 1
    kinds = Counter(type(r).__name__ if isinstance(r, Exception) else "created"
                    for *_, r in outcomes)
    unseen = sum(1 for kind, to, r in outcomes if isinstance(r, Exception)
                 and created[(kind, to)] == 1)
    report("REST creates under faults",
           f"200 creates: {dict(kinds)}; {unseen} failed on the client but created "
           f"(answer lost), {sum(created.values())} created in all, none twice; "
           f"faults {dict(faults.injected)}")
    assert max(created.values()) == 1, [k for k, v in created.items() if v > 1]
    for kind, to, result in outcomes:
        if isinstance(result, dict):
            assert created[(kind, to)] == 1
            assert emu.state.get(kind, result["sid"]) is not None
        elif isinstance(result, TwilioHTTPError):
            assert created[(kind, to)] == 0, (kind, to, result)
        else:
            assert isinstance(result, TwilioConnectionError | TwilioTimeout), result
    assert emu.state.created_count("calls") + emu.state.created_count("messages") == sum(
        created.values()
    )
    assert kinds["created"] >= 100
    assert kinds["TwilioHTTPError"]
    assert kinds["TwilioConnectionError"]


def test_an_exhausted_budget_raises_the_clear_error(emu: Emulator) -> None:
    client = make_client(emu, retries=3)
    sid = "CA" + "0" * 32
    path = f"/2010-04-01/Accounts/{emu.account_sid}/Calls/{sid}.json"

    emu.faults.add("503", rate=1.0, retry_after=0)
    before = emu.faults.requests_served
    with pytest.raises(TwilioHTTPError) as http_error:
        client.calls.get(sid)
    assert emu.faults.requests_served - before == 4  # the first try and 3 retries
    assert one_line(http_error.value, emu.auth_token) == (
        f"HTTP 503 from GET {path}: Service Unavailable "
        "(Twilio error 20503, https://www.twilio.com/docs/errors/20503)"
    )

    emu.faults.clear()
    emu.faults.add("drop", rate=1.0)
    with pytest.raises(TwilioConnectionError) as dropped:
        client.calls.get(sid)
    text = one_line(dropped.value, emu.auth_token)
    assert text.startswith(f"could not reach {emu.url.removeprefix('http://')} for GET {path}: ")
    assert text.endswith("(retries exhausted)")

    emu.faults.clear()
    emu.faults.add("429", rate=1.0, retry_after=1)
    started = time.monotonic()
    with pytest.raises(TwilioHTTPError) as limited:
        make_client(emu, retries=2).calls.get(sid)
    assert time.monotonic() - started >= 2  # waited Retry-After before each retry
    assert limited.value.status == 429

    emu.faults.clear()
    emu.faults.add("slow", rate=1.0, delay=READ_TIMEOUT + 0.5)
    with pytest.raises(TwilioTimeout) as slow:
        make_client(emu, retries=1).calls.get(sid)
    assert "timed out after 1 s waiting for the answer to GET" in one_line(slow.value)
    client.close()
