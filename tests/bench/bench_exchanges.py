"""What recording each webhook costs: ``/voice`` under gunicorn (2 sync workers) with the
webhook exchanges recorded against the same app with ``SWITCHBOARD_EXCHANGES_RETENTION_DAYS=0``
(none recorded), in the same run: ``python -m tests.bench exchanges``.

Both servers run ``switchboard.callbacks.wsgi:app`` with deploy/gunicorn.conf.py, each on a
database of its own: an SQLite file in a temporary folder, or with ``BENCH_DATABASE_URL`` (a
PostgreSQL database) a schema of its own in it, dropped at the end (a server that records none
purges every exchange of its database now and then, so the two cannot share one table). The
load is bench_server's (16 connections of pre-signed requests for new calls, wrk when
installed, else a Python generator), both servers loaded at the same time in each round as in
bench_metrics, so that whatever else runs on the machine slows both alike; ``BENCH_ROUNDS``
rounds (6) of ``BENCH_SLICE`` seconds (2).

Prints requests per second, p50 and p99, the workers' CPU microseconds per request, and the
ratio of the two rates (requests answered in all rounds) and of the CPU per request. Once the
servers have stopped (SIGTERM: each worker writes the rows still waiting), it checks that the
recording server's ``webhook_exchanges`` holds one ``/voice`` row per ``/voice`` request its
access log shows answered, and that the other's is empty. The row's own cost is then timed in
a process of its own (the app's store, which defers; best of five, CPU time of the thread
handing the rows over): building it (``exchange_row``) and handing it over
(``record_exchange``), as a webhook does before its answer goes, and the CPU the write-behind
then spends writing it. No goal: the price of the console's timelines.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from tests.bench.bench_metrics import together
from tests.bench.bench_server import (
    CONNECTIONS,
    ROOT,
    TOKEN,
    WARMUP,
    WRK,
    Target,
    database_url,
    free_port,
    start_gunicorn,
    wait_ready,
)

APP = "switchboard.callbacks.wsgi:app"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 6))
SLICE = float(os.environ.get("BENCH_SLICE", 2))
#: The servers: exchanges recorded (the default settings), and none recorded.
SETTINGS = {"recorded": {}, "not recorded": {"SWITCHBOARD_EXCHANGES_RETENTION_DAYS": "0"}}
#: Rows timed per run of :func:`time_row`: fewer than the write-behind holds (20,000), so that
#: none is dropped while its thread writes them.
ROWS = 10_000


def databases(folder: Path) -> dict[str, str]:
    """Each server's database URL: an SQLite file in a folder of its own, or a schema of its
    own in ``BENCH_DATABASE_URL``'s database (made here)."""
    if "BENCH_DATABASE_URL" not in os.environ:
        return {name: database_url(folder / _slug(name)) for name in SETTINGS}
    base = sa.make_url(os.environ["BENCH_DATABASE_URL"])
    urls = {}
    engine = sa.create_engine(base)
    try:
        with engine.begin() as conn:
            for name in SETTINGS:
                schema = f"bench_exchanges_{_slug(name)}_{os.getpid()}"
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
                urls[name] = base.update_query_dict(
                    {"options": f"-csearch_path={schema}"}
                ).render_as_string(hide_password=False)
    finally:
        engine.dispose()
    return urls


def drop_schemas(urls: dict[str, str]) -> None:
    """Drop the schemas :func:`databases` made in PostgreSQL."""
    if "BENCH_DATABASE_URL" not in os.environ:
        return
    engine = sa.create_engine(os.environ["BENCH_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            for url in urls.values():
                schema = sa.make_url(url).query["options"].partition("=")[2]
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        engine.dispose()


def stored(url: str) -> int:
    """The ``/voice`` rows in the database's ``webhook_exchanges``."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM webhook_exchanges WHERE path = '/voice'")).scalar_one()
    finally:
        engine.dispose()


def answered(folder: Path, port: int) -> int:
    """The ``/voice`` requests the server's access log shows answered (each status)."""
    log = folder / f"access-{port}.log"
    return log.read_bytes().count(b'"POST /voice HTTP/') if log.exists() else 0


def _slug(name: str) -> str:
    return name.replace(" ", "_")


def time_row() -> None:
    """Print the microseconds of thread CPU time one ``/voice`` webhook's exchange takes in
    this process, best of five: building the row, handing it over to the app's store (which
    defers), and, last, the write-behind's CPU per row written (SQLite)."""
    import time
    import timeit

    from flask import Response
    from werkzeug.datastructures import MultiDict

    from switchboard.callbacks import create_app
    from switchboard.callbacks.exchanges import exchange_row, record_exchange
    from switchboard.callbacks.security import signed_headers
    from tests.bench.bench_server import call

    folder = Path(tempfile.mkdtemp(prefix="bench-exchange-row-"))
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "QUIET_START": True,
                      "SWITCHBOARD_DATABASE_URL": f"sqlite:///{folder / 'row.sqlite3'}"})
    switchboard = app.extensions["switchboard"]
    store, purger = switchboard.store, switchboard.exchange_purger
    assert store.defers
    assert switchboard.records_exchanges
    params = call("CA" + "c" * 32)
    answer = app.test_client().post(
        "/voice", data=params, headers=signed_headers(TOKEN, "http://localhost/voice", params))
    assert answer.status_code == 200, answer.status_code
    response = Response(answer.get_data(), content_type="text/xml")
    form = MultiDict(list(params.items()))
    arrived, started = time.time(), time.perf_counter()  # taken by the view in any case

    def build() -> dict[str, object]:
        return exchange_row("voice", form, response, arrived=arrived, started=started,
                            endpoint="ivr.welcome", path="/voice")

    row = build()

    def hand_over() -> None:
        record_exchange(store, row, purger)

    def best(stmt: Callable[[], object]) -> float:
        # store.flush before each run, untimed: the rows of the last run written, none waiting
        runs = timeit.repeat(stmt, setup=store.flush, timer=time.thread_time, number=ROWS,
                             repeat=5)
        return min(runs) / ROWS * 1e6

    built, handed = best(build), best(hand_over)
    store.flush()
    process, thread = time.process_time(), time.thread_time()
    for _ in range(ROWS):
        hand_over()
    thread = time.thread_time() - thread
    store.flush()
    written = (time.process_time() - process - thread) / ROWS * 1e6
    assert store.rows_dropped == 0, store.rows_dropped
    print(f"{built:.2f} {handed:.2f} {written:.2f}")


def row_cost() -> tuple[float, float, float]:
    """:func:`time_row` in a process of its own, with the default settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SWITCHBOARD_"))}
    env["SWITCHBOARD_DOTENV"] = "0"
    output = subprocess.run(
        [sys.executable, "-c", "import tests.bench.bench_exchanges as b; b.time_row()"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    built, handed, written = (float(n) for n in output.split()[-3:])
    return built, handed, written


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-exchanges-") as tmp:
        folder = Path(tmp)
        urls = databases(folder)
        try:
            ports = {name: free_port() for name in SETTINGS}
            folders = {name: folder / _slug(name) for name in SETTINGS}
            processes = {}
            for name, extra in SETTINGS.items():
                folders[name].mkdir()
                processes[name] = start_gunicorn(
                    APP, ports[name], folders[name],
                    {**extra, "SWITCHBOARD_DATABASE_URL": urls[name]})
            stopped = True
            try:
                for name, port in ports.items():
                    wait_ready(port, processes[name])
                targets = {name: Target(f"/voice, {name}", port, "/voice", None)
                           for name, port in ports.items()}
                for name, target in targets.items():
                    target.folder = folders[name]
                    target.master = processes[name].pid
                generator = "wrk" if WRK else "a Python load generator"
                seconds = max(1, round(SLICE)) if WRK else SLICE
                database = "PostgreSQL" if "BENCH_DATABASE_URL" in os.environ else "SQLite"
                print(f"gunicorn, 2 sync workers each, {CONNECTIONS} connections to each from "
                      f"{generator}, {ROUNDS} rounds of {seconds:g} s, both loaded at once; "
                      f"{os.cpu_count()} cores shared with the load generator; {database}")
                for target in targets.values():
                    target.run(WARMUP, record=False)
                for _ in range(ROUNDS):
                    together(targets, SLICE)
            finally:
                for process in processes.values():
                    process.send_signal(signal.SIGTERM)  # a graceful stop: rows written
                for process in processes.values():
                    try:
                        process.wait(40)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                        stopped = False
            logged = {name: answered(folders[name], port) for name, port in ports.items()}
            rows = {name: stored(url) for name, url in urls.items()}
        finally:
            drop_schemas(urls)
    print(f"{'':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu us':>7}  errors")
    for target in targets.values():
        rate, p50, p99 = target.figures()
        cpu = f"{target.cpu / target.done * 1e6:7.0f}" if target.cpu and target.done else " " * 7
        print(f"{target.label:24} {rate:8.0f} {p50:8.2f} {p99:8.2f} {cpu}  {target.bad}")
    on, off = targets["recorded"], targets["not recorded"]
    ratios = [a / b for a, b in zip(on.round_rates, off.round_rates, strict=True)]
    print(f"ratio recorded / not recorded: {on.done / off.done:.3f} (all rounds together; "
          f"median of the rounds {statistics.median(ratios):.3f}, rounds "
          + " ".join(f"{r:.2f}" for r in ratios) + ")")
    per_request = None
    if on.cpu and off.cpu and on.done and off.done:
        per_request = off.cpu / off.done * 1e6
        extra = on.cpu / on.done * 1e6 - per_request
        print(f"worker CPU per request: {extra:+.0f} us with exchanges recorded; as a ratio of "
              f"the rates it allows: {(off.cpu / off.done) / (on.cpu / on.done):.3f}")
    built, handed, written = row_cost()
    line = (f"the row alone, timed in one process: built {built:.1f} us, handed over "
            f"{handed:.1f} us: {built + handed:.1f} us per webhook before the answer")
    if per_request:
        line += f", {(built + handed) / per_request:.1%} of a request's worker CPU"
    print(line + f"; written after it: {written:.1f} us of the write-behind's CPU per row "
          "(SQLite)")
    recorded, other = rows["recorded"], rows["not recorded"]
    verdict = ("one per request" if recorded == logged["recorded"] and other == 0 and stopped
               else "MISMATCH")
    print(f"exchanges: {recorded} /voice rows for {logged['recorded']} /voice requests the "
          f"recording server answered (access log); {other} rows for the "
          f"{logged['not recorded']} the other answered: {verdict}"
          + ("" if stopped else " (a server did not stop gracefully: rows lost)"))
