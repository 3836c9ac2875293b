"""Studio's counters under a real gunicorn with two sync workers: the calls of a flows folder,
started, stepped and hung up on whichever worker takes each request, are summed in every
scrape, each execution counted once however often its status callback comes, and the counts
of a worker that ends stay. No label holds a call, an execution or a phone number."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.mmap_dict import MmapedDict

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.studio import executions
from switchboard.callbacks.twiml import parse_twiml
from tests.conftest import free_port, stop_process
from tests.load.servers import ACCOUNT_SID, Answer, send_all
from tests.server.conftest import NUMBER, spoken, verbs

from .scraping import Samples, bearer
from .test_flow_metrics import (
    DIVIDE_BY_ZERO,
    ENDED,
    STARTED,
    WIDGET_ERRORS,
    definition,
    gather,
    say,
    widget,
)
from .test_gunicorn_workers import Server

pytestmark = pytest.mark.slow

FLOW_COUNTERS = (STARTED, ENDED, WIDGET_ERRORS)


def flows(closed_port: int) -> dict[str, dict[str, Any]]:
    """The flows folder's definitions, by name."""
    return {
        "menu": definition(gather("menu", "thanks"), say("thanks", "Thank you.")),
        # never requested: the URL cannot be rendered (the port is closed besides)
        "fetch": definition(widget("fetch", "make-http-request", {
            "method": "GET", "url": f"http://127.0.0.1:{closed_port}/{DIVIDE_BY_ZERO}",
            "content_type": "application/x-www-form-urlencoded;charset=utf-8",
        }, success=None, failed=None)),
        "sorry": definition(gather("menu", "sorry"), say("sorry", DIVIDE_BY_ZERO)),
        # requested, refused, and no failed transition: the execution ends there
        "refused": definition(widget("fetch", "make-http-request", {
            "method": "GET", "url": f"http://127.0.0.1:{closed_port}/",
            "content_type": "application/x-www-form-urlencoded;charset=utf-8",
        }, success=None)),
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    folder = tmp_path / "flows"
    folder.mkdir()
    for name, body in flows(free_port()).items():
        (folder / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")
    running = Server(tmp_path, SWITCHBOARD_FLOWS_DIR=str(folder))
    try:
        running.wait_ready()
        yield running
    finally:
        stop_process(running.process)


def new_call() -> dict[str, str]:
    """The parameters of a new call to the number, from a caller of its own."""
    return {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + uuid.uuid4().hex,
            "From": "+1555" + str(uuid.uuid4().int)[:7], "To": NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}


@dataclass
class Calls:
    """Calls to the flows, as Twilio makes their requests: ``pressed`` to ``menu`` press a
    key and hear the end, ``hung_up`` to ``menu`` hang up at the question, ``fetch`` fail at
    their first widget and ``sorry`` at the widget after the question; ``refused``'s first
    widget fails with no transition to take, which ends the call's execution."""

    pressed: list[dict[str, str]]
    hung_up: list[dict[str, str]]
    fetch: list[dict[str, str]]
    sorry: list[dict[str, str]]
    refused: list[dict[str, str]]

    @classmethod
    def new(cls, pressed: int, hung_up: int, fetch: int, sorry: int, refused: int) -> Calls:
        return cls(*([new_call() for _ in range(count)]
                     for count in (pressed, hung_up, fetch, sorry, refused)))

    @property
    def every(self) -> list[tuple[str, dict[str, str]]]:
        """Each call with its flow."""
        return [*(("menu", call) for call in self.pressed + self.hung_up),
                *(("fetch", call) for call in self.fetch),
                *(("sorry", call) for call in self.sorry),
                *(("refused", call) for call in self.refused)]

    def run(self, port: int) -> None:
        """Each call's requests in the order Twilio sends them, the calls side by side."""
        answers = send(port, [(f"/flows/{flow}", call) for flow, call in self.every])
        assert Counter(heard(answer) for answer in answers) == {
            "Gather": len(self.pressed) + len(self.hung_up) + len(self.sorry),
            VOICE_APOLOGY: len(self.fetch),
            "": len(self.refused),
        }
        answers = send(port, [(f"/flows/{flow}/step/menu/gather", {**call, "Digits": "1"})
                              for flow, calls in (("menu", self.pressed), ("sorry", self.sorry))
                              for call in calls])
        assert Counter(heard(answer) for answer in answers) == {
            "Thank you.": len(self.pressed), VOICE_APOLOGY: len(self.sorry),
        }
        # every call's end, each sent twice in a row: the copies may reach both workers at once
        ends = [(f"/flows/{flow}/call-status",
                 {**call, "CallStatus": "completed", "CallDuration": "4", "SequenceNumber": "1"})
                for flow, call in self.every for _ in range(2)]
        assert [answer.status for answer in send(port, ends)] == [204] * len(ends)

    def counts(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The Studio samples these calls make, as :func:`flow_samples` reads them."""
        menu = len(self.pressed) + len(self.hung_up)
        expected = {
            (STARTED, "menu", "incomingCall"): menu,
            (STARTED, "fetch", "incomingCall"): len(self.fetch),
            (STARTED, "sorry", "incomingCall"): len(self.sorry),
            (STARTED, "refused", "incomingCall"): len(self.refused),
            (ENDED, "menu", "completed"): len(self.pressed),
            (ENDED, "menu", "call_ended"): len(self.hung_up),
            (ENDED, "fetch", "failed"): len(self.fetch),
            (ENDED, "sorry", "failed"): len(self.sorry),
            (ENDED, "refused", "completed"): len(self.refused),
            (WIDGET_ERRORS, "fetch", "make-http-request"): len(self.fetch),
            (WIDGET_ERRORS, "sorry", "say-play"): len(self.sorry),
            (WIDGET_ERRORS, "refused", "make-http-request"): len(self.refused),
        }
        second = {STARTED: "trigger", ENDED: "reason", WIDGET_ERRORS: "widget"}
        return {(name, (("flow", flow), (second[name], label))): count
                for (name, flow, label), count in expected.items() if count}

    def __add__(self, other: Calls) -> Calls:
        return Calls(self.pressed + other.pressed, self.hung_up + other.hung_up,
                     self.fetch + other.fetch, self.sorry + other.sorry,
                     self.refused + other.refused)


def send(port: int, requests: list[tuple[str, dict[str, str]]]) -> list[Answer]:
    answers, _ = send_all(port, [(path, params, {}) for path, params in requests], threads=4)
    return answers


def heard(answer: Answer) -> str:
    """What the caller hears, or the first verb when nothing is said before it."""
    assert answer.status == 200, answer
    root = parse_twiml(answer.body)
    return "Gather" if verbs(root)[:1] == ["Gather"] else spoken(root)


def flow_samples(samples: Samples) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The Studio counters' samples that counted something."""
    return {key: count for key, count in samples.items()
            if key[0] in FLOW_COUNTERS and count}


def starts_by_worker(folder: Path) -> dict[int, float]:
    """The executions each live worker's own file counts started."""
    started: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = path.stem.rpartition("_")[2]
        if not pid.isdigit():
            continue  # the archive of the workers that ended
        for key, count, _timestamp, _position in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[1] == STARTED:
                started[int(pid)] = started.get(int(pid), 0) + count
    return started


#: A SID (CA..., FN..., AC...) or a phone number.
IDENTIFYING = re.compile(r"[A-Z]{2}[0-9a-f]{32}|\+?\d{7,}")


def test_studio_counts_are_summed_across_two_workers_and_survive_one_ending(
        server: Server, tmp_path: Path) -> None:
    first = server.worker_pids()
    calls = Calls.new(pressed=12, hung_up=8, fetch=6, sorry=6, refused=4)
    calls.run(server.port)
    by_worker = starts_by_worker(server.folder)
    assert set(by_worker) == set(first), by_worker  # both workers started executions
    assert all(by_worker.values()), by_worker
    assert sum(by_worker.values()) == len(calls.every)
    for _ in range(4):  # each scrape answered by either worker: the same sums
        assert flow_samples(server.scrape()) == calls.counts()

    server.end_worker(first[0])
    assert not (server.folder / f"counter_{first[0]}.db").exists()
    assert flow_samples(server.scrape()) == calls.counts()

    more = Calls.new(pressed=2, hung_up=2, fetch=1, sorry=1, refused=1)
    more.run(server.port)
    samples = server.scrape()
    assert flow_samples(samples) == (calls + more).counts()

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}")
    try:
        stored = executions.list_executions(engine)
    finally:
        engine.dispose()
    every = (calls + more).every
    assert len(stored) == len(every)
    assert {execution.status for execution in stored} == {"ended"}
    text = server.get("/metrics", bearer())[1].decode()
    for identifying in (*(execution.sid for execution in stored),
                        *(call["CallSid"] for _, call in every),
                        *(call["From"] for _, call in every), NUMBER, ACCOUNT_SID):
        assert identifying not in text
    labels = {found for _name, pairs in samples for _label, found in pairs}
    assert not [label for label in labels if IDENTIFYING.search(label)]
