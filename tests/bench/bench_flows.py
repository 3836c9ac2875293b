"""A Studio flow's menu step against the bundled Python IVR's, under gunicorn (2 sync workers,
or ``BENCH_WORKERS``; deploy/gunicorn.conf.py) on 127.0.0.1: ``python -m tests.bench flows``.

The flow (written to a flows folder of the run) loops: Gather Input On Call (``menu``) ->
Split Based On its ``Digits`` (``route``) -> Say/Play (``one`` or ``two``) -> back to the
Gather. Each measured request is the Gather's action, ``/flows/bench_loop/step/menu/gather``
with ``Digits``, for a call whose execution waits at the Gather: the step reads the execution
by its call, runs the split and the say, runs the Gather again (the answer: a ``<Say>`` and
the ``<Gather>``), and writes the execution back in one statement (no claim: every widget of
the step is local), its three new steps just after the answer. The executions are made
first, one per call (``CALLS`` of them), by posting each call to ``/flows/bench_loop``; the
requests then take the calls in turn, so that no two requests for one call are ever in
flight together (a call comes back after ``CALLS`` requests, and at most ``CONNECTIONS`` are
in flight).

The baseline, in the same run on the same server, is the bundled IVR's menu step:
``/voice/menu`` with ``Digits=1`` for calls that ``/voice`` answered first (the opening hours,
then the menu again: a ``<Say>`` and the ``<Gather>``, the call's session read).

As ``bench_server``: 16 connections (``BENCH_CONNECTIONS``), wrk when installed (else the
Python load generator; ``BENCH_LOADGEN=python`` forces it), pre-signed requests on a fresh
connection each, ``BENCH_ROUNDS`` interleaved rounds of ``BENCH_SLICE`` seconds per target;
requests per second, p50 and p99 latency, and the CPU time the workers spent per request.
Goals: the flow's step at most 1.3x the menu step's worker CPU per request, p99 under 20 ms.
After the run, the executions' steps are counted: three per request that was answered, or
some requests did not find their execution waiting (an apology, answered 200 all the same).
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.bench.bench_server import (
    CONFIG,
    CONNECTIONS,
    REQUESTS_PER_SECOND,
    ROOT,
    ROUNDS,
    SLICE,
    TOKEN,
    WARMUP,
    WRK,
    Target,
    call,
    database_url,
    exchange,
    free_port,
    post,
    wait_ready,
    worker_cpu,
)

#: Calls (executions) the requests take in turn: far more than the connections, so that a
#: call's next request is sent long after its last one was answered.
CALLS = int(os.environ.get("BENCH_CALLS", 1000))
WORKERS = int(os.environ.get("BENCH_WORKERS", 2))
FLOW = "bench_loop"
GOAL_CPU = 1.3
#: Seconds for the requests in flight when a run stops to be answered, before the workers'
#: CPU time is read.
SETTLE = 0.25
GOAL_P99_MS = 20.0


def _state(name: str, kind: str, properties: dict[str, Any], *transitions: dict[str, Any]
           ) -> dict[str, Any]:
    return {"name": name, "type": kind, "properties": properties,
            "transitions": list(transitions)}


def _equal(value: str, to: str) -> dict[str, Any]:
    return {"event": "match", "next": to, "conditions": [{
        "friendly_name": f"If value equal_to {value}", "arguments": ["{{widgets.menu.Digits}}"],
        "type": "equal_to", "value": value}]}


SAY = {"voice": "Polly.Joanna", "language": "en-US", "loop": 1}
LOOP = {
    "description": "benchmark: a menu that loops",
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
    "states": [
        _state("Trigger", "trigger", {},
               {"event": "incomingCall", "next": "menu"}, {"event": "incomingMessage"},
               {"event": "incomingRequest"}),
        _state("menu", "gather-input-on-call", {
            **SAY, "say": "For our opening hours press 1. For our address press 2.",
            "number_of_digits": 1, "timeout": 5, "stop_gather": True},
            {"event": "keypress", "next": "route"}, {"event": "speech", "next": "route"},
            {"event": "timeout", "next": "menu"}),
        _state("route", "split-based-on", {"input": "{{widgets.menu.Digits}}"},
               {"event": "noMatch", "next": "other"}, _equal("1", "one"), _equal("2", "two")),
        _state("one", "say-play", {**SAY, "say": "We are open weekdays from 9 to 5."},
               {"event": "audioComplete", "next": "menu"}),
        _state("two", "say-play", {**SAY, "say": "We are at 1 Main Street."},
               {"event": "audioComplete", "next": "menu"}),
        _state("other", "say-play", {**SAY, "say": "That is not one of the options."},
               {"event": "audioComplete", "next": "menu"}),
    ],
}

STEP = f"/flows/{FLOW}/step/menu/gather"


def call_sids() -> list[str]:
    """``CALLS`` new call SIDs (new in every run: a database given by ``BENCH_DATABASE_URL``
    keeps the executions of earlier runs)."""
    run = uuid.uuid4().hex[:8]
    return [f"CA{run}{n:024x}" for n in range(CALLS)]


class Step(Target):
    """A target whose requests are the menu step of ``calls``, taken in turn (see the module
    docstring), carrying on where its previous run stopped."""

    def __init__(self, label: str, port: int, path: str, calls: list[str]) -> None:
        super().__init__(label, port, path, None)
        self.calls = calls
        self.sent = 0
        #: Requests the server answered in the measured runs, from its access log: those
        #: wrk counted, and those in flight when it stopped, whose CPU is counted too.
        self.served = 0
        self.logged = 0

    def batch(self, count: int) -> list[bytes]:
        made = []
        for n in range(self.sent, self.sent + count):
            sid = self.calls[n % len(self.calls)]
            digits = "1" if (n // len(self.calls)) % 2 == 0 else "2"
            made.append(post(self.port, self.path, call(
                sid, CallStatus="in-progress", Digits=digits, FinishedOnKey="",
                msg="Gather End")))
        self.sent += count
        return made

    def run(self, seconds: float, *, record: bool = True) -> None:
        if WRK:
            seconds = max(1, round(seconds))
        batch = self.batch(math.ceil(seconds * REQUESTS_PER_SECOND))
        before = worker_cpu(self.master)
        if WRK:
            self._run_wrk(seconds, batch, record)
        else:
            self._run_python(seconds, batch, record)
        time.sleep(SETTLE)  # the requests in flight when the run stopped: this run's CPU
        logged = self.answered()
        if record:
            self.cpu += worker_cpu(self.master) - before
            self.served += logged - self.logged
        self.logged = logged

    def answered(self) -> int:
        """The requests to this target's path in the access log so far."""
        log = self.folder / f"access-{self.port}.log"
        mark = f'"POST {self.path} '.encode()
        return log.read_bytes().count(mark) if log.exists() else 0


def start_gunicorn(port: int, folder: Path, flows: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    env.update(
        TWILIO_AUTH_TOKEN=TOKEN,
        SWITCHBOARD_DOTENV="0",
        SWITCHBOARD_DATABASE_URL=database_url(folder),
        SWITCHBOARD_FLOWS_DIR=str(flows),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=str(WORKERS),
        GUNICORN_ACCESSLOG=str(folder / f"access-{port}.log"),
        GUNICORN_ERRORLOG=str(folder / f"error-{port}.log"),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "switchboard.callbacks.wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def start_calls(port: int, path: str, sids: list[str]) -> None:
    """Answer each call at ``path`` (the flow's URL, or ``/voice``), ``CONNECTIONS`` at once."""
    def one(sid: str) -> bytes:
        return exchange(port, post(port, path, call(sid)))

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        statuses = list(pool.map(one, sids))
    bad = len([status for status in statuses if status != b"200"])
    if bad:
        raise SystemExit(f"{bad} of {len(sids)} calls to {path} were not answered 200")


def flow_steps(url: str) -> tuple[int, int, int]:
    """(executions, of them waiting at the menu, steps written) of the benchmark's flow."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text(
                "SELECT count(*), sum(CASE WHEN status = 'active' AND widget = 'menu' "
                "THEN 1 ELSE 0 END) FROM studio_executions WHERE flow_name = :flow"),
                {"flow": FLOW}).one()
            steps = conn.execute(sa.text(
                "SELECT count(*) FROM studio_steps s JOIN studio_executions e "
                "ON e.sid = s.execution_sid WHERE e.flow_name = :flow"), {"flow": FLOW}).scalar()
    finally:
        engine.dispose()
    return int(runs[0]), int(runs[1] or 0), int(steps or 0)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-flows-") as tmp:
        folder = Path(tmp)
        flows = folder / "flows"
        flows.mkdir()
        (flows / f"{FLOW}.json").write_text(json.dumps(LOOP, indent=1))
        port = free_port()
        process = start_gunicorn(port, folder, flows)
        try:
            wait_ready(port, process)
            flow_calls, ivr_calls = call_sids(), call_sids()
            started = time.perf_counter()
            start_calls(port, f"/flows/{FLOW}", flow_calls)
            start_calls(port, "/voice", ivr_calls)
            made = time.perf_counter() - started
            menu = Step("/voice/menu (bundled IVR)", port, "/voice/menu", ivr_calls)
            step = Step("flow: gather->split->say", port, STEP, flow_calls)
            targets = [menu, step]
            for target in targets:
                target.folder = folder
                target.master = process.pid
            generator = "wrk" if WRK else "a Python load generator"
            print(f"gunicorn, {WORKERS} sync workers, {CONNECTIONS} connections from {generator}, "
                  f"{ROUNDS} rounds of {SLICE:g} s per target, interleaved; {os.cpu_count()} "
                  f"cores shared with the load generator; {CALLS} calls of each kind started "
                  f"first ({made:.1f} s), each waiting at its menu")
            for target in targets:
                target.run(WARMUP, record=False)
            before = flow_steps(database_url(folder))
            for _ in range(ROUNDS):
                for target in targets:
                    target.run(SLICE)
            after = flow_steps(database_url(folder))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        log = folder / f"error-{port}.log"
        lost = [line for line in log.read_text(errors="replace").splitlines()
                if "no active execution" in line or "but the execution waits at" in line
                or "ClaimTimeout" in line] if log.exists() else []
    print(f"{'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu us':>7} {'x menu':>7}"
          "  errors")
    base_cpu = menu.cpu / menu.served if menu.served else float("nan")
    for target in targets:
        rate, p50, p99 = target.figures()
        cpu = target.cpu / target.served if target.served else float("nan")
        ratio = cpu / base_cpu if base_cpu else float("nan")
        missed = target is step and (ratio > GOAL_CPU or p99 >= GOAL_P99_MS)
        print(f"{target.label:28} {rate:8.0f} {p50:8.2f} {p99:8.2f} {cpu * 1e6:7.0f} "
              f"{ratio:7.2f}  {target.bad}{'  MISSED' if missed else ''}")
    rates = [mine / theirs for mine, theirs in zip(step.round_rates, menu.round_rates,
                                                   strict=True)]
    print(f"goal: the flow's step at most {GOAL_CPU}x the menu step's worker CPU per request, "
          f"p99 < {GOAL_P99_MS:g} ms; its rate {statistics.median(rates):.2f}x the menu's "
          "(median of the rounds)")
    runs, waiting, steps = after
    written = steps - before[2]
    print(f"flow executions: {runs}, {waiting} waiting at the menu after the run; "
          f"{written} steps written in the measured runs for {step.served} requests answered "
          f"({written / 3 / step.served if step.served else 0:.2f} x 3 steps a request); "
          f"{len(lost)} requests found no execution waiting")
