"""What counting costs: ``/voice`` under gunicorn (2 sync workers) with metrics on against the
same app with metrics off, in the same run: ``python -m tests.bench metrics``.

Both servers run ``tests.metrics.gunicorn_app:app`` with ``tests/metrics/gunicorn_conf.py``
(deploy/gunicorn.conf.py and the metrics hooks); the one with metrics on has
``SWITCHBOARD_METRICS_TOKEN`` and a ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode, as in production), and is scraped after every round, its count checked
against the requests it answered. The load is bench_server's (16 connections of pre-signed
requests for new calls, wrk when installed, else a Python generator). In each round both
servers are loaded at the same time, so that whatever else runs on the machine slows both
alike (``BENCH_MODE=interleaved``: one after the other, each first in half the rounds).

Prints requests per second, p50 and p99, CPU microseconds per request, and the ratio of the
two rates (requests answered in all rounds; interleaved: the median of the rounds' ratios).
Goal: >= 0.95. The rates move with whatever
else runs on the machine; the workers' CPU time per request, also printed as a ratio, moves
less, and the cost of the counting itself, timed in a process of its own (the
``after_request`` hook, best of five), is steadier still.
"""

from __future__ import annotations

import http.client
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tests.bench.bench_server import (
    CONNECTIONS,
    REQUESTS_PER_SECOND,
    ROOT,
    TOKEN,
    WARMUP,
    WRK,
    Target,
    database_url,
    free_port,
    requests_for,
    wait_ready,
    worker_cpu,
)

CONFIG = ROOT / "tests" / "metrics" / "gunicorn_conf.py"
APP = "tests.metrics.gunicorn_app:app"
METRICS_TOKEN = "bench-metrics-token-0f9e8d7c6b5a"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 10))
SLICE = float(os.environ.get("BENCH_SLICE", 1.5))
GOAL = 0.95
#: Both servers loaded at the same time in each round (the default), or one after the other
#: (BENCH_MODE=interleaved).
TOGETHER = os.environ.get("BENCH_MODE", "together") != "interleaved"


def start(port: int, folder: Path, *, metrics: bool) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "SWITCHBOARD_", "PROMETHEUS_"))}
    env.update(
        TWILIO_AUTH_TOKEN=TOKEN,
        SWITCHBOARD_DOTENV="0",
        SWITCHBOARD_DATABASE_URL=database_url(folder / ("on" if metrics else "off")),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_ACCESSLOG="",
        GUNICORN_ERRORLOG=str(folder / f"error-{port}.log"),
    )
    if metrics:
        env.update(SWITCHBOARD_METRICS_TOKEN=METRICS_TOKEN,
                   PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"))
    (folder / ("on" if metrics else "off")).mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), APP],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def together(targets: dict[str, Target], seconds: float) -> None:
    """Load both servers at once for ``seconds``: whatever else runs on the machine then
    slows both alike, and the one that costs more per request answers fewer."""
    if WRK:
        seconds = max(1, round(seconds))
    count = math.ceil(seconds * REQUESTS_PER_SECOND)
    batches = {name: requests_for(t.path, t.port, count) for name, t in targets.items()}
    start = threading.Barrier(len(targets))

    def run(name: str) -> None:
        target = targets[name]
        start.wait()
        before = worker_cpu(target.master)
        if WRK:
            target._run_wrk(seconds, batches[name], True)
        else:
            target._run_python(seconds, batches[name], True)
        target.cpu += worker_cpu(target.master) - before

    threads = [threading.Thread(target=run, args=(name,)) for name in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def counted(port: int) -> float:
    """``switchboard_webhooks_total`` of /voice answered 200, from a scrape."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        answer = conn.getresponse()
        body = answer.read().decode()
    finally:
        conn.close()
    if answer.status != 200:
        raise SystemExit(f"/metrics answered {answer.status}")
    wanted = 'switchboard_webhooks_total{endpoint="ivr.welcome",kind="voice",status="200"} '
    for line in body.splitlines():
        if line.startswith(wanted):
            return float(line[len(wanted):])
    return 0.0


def time_hooks(calls: int = 50_000) -> None:
    """Print the microseconds one webhook's counting takes in this process (run with
    ``PROMETHEUS_MULTIPROC_DIR`` set): the ``after_request`` hook on a /voice answer, the best
    of five runs."""
    import timeit

    from flask import Response

    from switchboard.callbacks import create_app
    from switchboard.callbacks.metrics import MetricsConfig, register_metrics
    from switchboard.config import Secret

    folder = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "QUIET_START": True,
                      "SWITCHBOARD_DATABASE_URL": f"sqlite:///{folder / 'hooks.sqlite3'}"})
    metrics = register_metrics(app, MetricsConfig(Secret(METRICS_TOKEN)))
    assert metrics is not None
    assert metrics.instruments.multiprocess
    answer = Response(b"<Response/>", content_type="text/xml")
    environ = {"switchboard.started": 0.0}
    with app.test_request_context("/voice", method="POST", environ_base=environ) as context:
        context.match_request()
        best = min(timeit.repeat(lambda: metrics.after_request(answer), number=calls, repeat=5))
    print(f"{best / calls * 1e6:.2f}")


def hook_cost() -> float:
    """:func:`time_hooks` in a process of its own, in multiprocess mode."""
    env = {**os.environ, "SWITCHBOARD_DOTENV": "0"}
    with tempfile.TemporaryDirectory(prefix="bench-hooks-prom-") as folder:
        env["PROMETHEUS_MULTIPROC_DIR"] = folder
        output = subprocess.run(
            [sys.executable, "-c", "import tests.bench.bench_metrics as b; b.time_hooks()"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=300,
        ).stdout
    return float(output.split()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        folder = Path(tmp)
        ports = {"off": free_port(), "on": free_port()}
        processes = {name: start(port, folder, metrics=name == "on")
                     for name, port in ports.items()}
        try:
            for name, port in ports.items():
                wait_ready(port, processes[name])
            targets = {
                name: Target(f"/voice, metrics {name}", port, "/voice", None)
                for name, port in ports.items()
            }
            for name, target in targets.items():
                target.folder = folder
                target.master = processes[name].pid
            generator = "wrk" if WRK else "a Python load generator"
            how = "both loaded at once" if TOGETHER else "one after the other, interleaved"
            print(f"gunicorn, 2 sync workers each, {CONNECTIONS} connections to each from "
                  f"{generator}, {ROUNDS} rounds of {SLICE:g} s, {how}; {os.cpu_count()} "
                  "cores shared with the load generator")
            for target in targets.values():
                target.run(WARMUP, record=False)
            mismatches = []
            for round_ in range(ROUNDS):
                before = counted(ports["on"])
                answered_before = targets["on"].done
                if TOGETHER:
                    together(targets, SLICE)
                else:
                    order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
                    for name in order:  # each first in half the rounds: no bias from drift
                        targets[name].run(SLICE)
                difference = counted(ports["on"]) - before
                sent = targets["on"].done - answered_before
                if WRK is None and difference != sent:  # wrk's count includes cut requests
                    mismatches.append((sent, difference))
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    print(f"{'':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu us':>7}  errors")
    for target in targets.values():
        rate, p50, p99 = target.figures()
        cpu = f"{target.cpu / target.done * 1e6:7.0f}" if target.cpu and target.done else " " * 7
        print(f"{target.label:22} {rate:8.0f} {p50:8.2f} {p99:8.2f} {cpu}  {target.bad}")
    ratios = [on / off for on, off in zip(targets["on"].round_rates,
                                           targets["off"].round_rates, strict=True)]
    overall = targets["on"].done / targets["off"].done  # the same seconds for both
    ratio = overall if TOGETHER else statistics.median(ratios)
    print(f"ratio on/off: {ratio:.3f} ({'all rounds together' if TOGETHER else 'median'}; "
          f"all rounds {overall:.3f}, median {statistics.median(ratios):.3f}, rounds "
          + " ".join(f"{r:.2f}" for r in ratios)
          + f")   goal >= {GOAL:.2f}{'' if ratio >= GOAL else '  MISSED'}")
    on, off = targets["on"], targets["off"]
    if on.cpu and off.cpu and on.done and off.done:
        extra = (on.cpu / on.done - off.cpu / off.done) * 1e6
        print(f"worker CPU per request: {extra:+.0f} us with metrics on; as a ratio of the "
              f"rates it allows: {(off.cpu / off.done) / (on.cpu / on.done):.3f}")
    hooks = hook_cost()
    line = f"the counting alone, timed in one process: {hooks:.1f} us per webhook"
    if off.cpu and off.done:
        line += f", {hooks / (off.cpu / off.done * 1e6):.1%} of a request's worker CPU"
    print(line)
    if mismatches:
        print(f"MISCOUNTED: (answered, counted) per round: {mismatches}")
    else:
        print("counted: every /voice answered was in the next scrape")
