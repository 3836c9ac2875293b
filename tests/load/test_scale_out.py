"""Many hosts, one PostgreSQL: the stack of ``deploy/scale-out/`` run as shipped.

Three app hosts (gunicorn with ``deploy/gunicorn.conf.py``, 2 sync workers each, on their own
ports) behind a real nginx running ``deploy/scale-out/nginx-switchboard.conf`` (round robin,
TLS), on PostgreSQL through a real PgBouncer running ``deploy/scale-out/pgbouncer.ini``
(transaction mode, ``?pooler=transaction``). The emulator walks 100 callers through the bundled
IVR and texts 50 conversations (with the SMS bot, and with a Studio flow that asks and waits
for the reply), spread over a few seconds, so that each call's and conversation's webhooks land
on different hosts. Midway one host is SIGKILLed (master and workers at once) and started
again.

What must hold:

- every call and conversation none of whose webhooks died with the killed host goes exactly
  as on one host (the same transcript as the same script against a single gunicorn): its
  session (the IVR's attempts), its opt-outs (STOP on one host, the next text on another),
  its Studio execution (started on one host, taken up by the reply on another, ended once),
  its status callbacks (stored once, a repeat recognised on another host);
- the webhooks that were in the killed host when it died are answered 502 by nginx, which
  sends a POST that reached a host nowhere else (or, for an answer the host had begun, cut
  short); they are all from that host and that moment, and Twilio does what its rules say:
  the fallback URL for a call's or text's webhook (the apology, on a live host), a retry
  with the same idempotency token for the status callbacks, whose URL asks for it
  (``#rc=3&rp=ct,5xx``), stored once;
- requests that reach the dead host's port meanwhile are passed to another host by nginx
  (a refused connection), and the restarted host serves again;
- no host answers a 5xx; every callback answered 204 is stored, once; every message row is
  written but those the killed host handed to its write-behind in its last moments
  (``SWITCHBOARD_RECORD_DELAY``), counted.

nginx, openssl, PgBouncer and PostgreSQL must be installed: without them this skips, and
fails under CI (``CI=true``).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa

from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.emulator import Emulator
from switchboard.emulator.transcript import Transcript
from switchboard.emulator.webhooks import Exchange
from tests.conftest import free_port
from tests.load.conftest import PostgresServer
from tests.load.figures import report
from tests.load.scale_out import AppHost, Nginx
from tests.load.servers import ACCOUNT_SID, TOKEN, Gunicorn, no_secrets, percentile
from tests.load.test_ivr_load import BUSINESS, OPERATOR, PATHS
from tests.pgbouncer import PgBouncer
from tests.studio_timers import ask_definition

pytestmark = pytest.mark.slow

HOSTS = 3
WORKERS = 2
CALLS = 100
CONVERSATIONS = 50
#: The numbers called and texted (the bundled IVR and SMS bot; a Studio flow), and the same
#: for the single gunicorn that gives the reference transcripts.
NUMBERS = ("+15551230000", "+15551230001")
REFERENCES = ("+15551239999", "+15551239998")
NUMBER = NUMBERS[0]
#: What the texters send, in turn: opt-out and opt-in on whichever host, seen by the next;
#: and a Studio flow's question and its answer (an execution claimed, saved and taken up again
#: on whichever host).
SCRIPTS = {
    "stop-start": ["HELP", "STOP", "HOURS", "START", "HOURS"],
    "stopall": ["HOURS", "STOPALL", "HELP"],
    "studio": ["hi", "YES"],
}
#: Twilio's connection overrides on the status callback URL: sent again (same idempotency
#: token) after a 5xx or a failed connection, three times at most.
STATUS_RETRIES = "#rc=3&rp=ct,5xx"
#: Seconds over which the calls and conversations start, and when the host is killed: BURST
#: of them start together just before, so that the host dies with webhooks inside it.
SPREAD = 14.0
KILL_AT = 5.0
BURST = 36
#: The webhooks of an inbound text: the bundled bot's, and the Studio flow's of the other
#: number (:func:`buy`).
INBOUND_TEXTS = ("/sms", "/flows/ask")
#: A message row lost with the killed host was answered at most this long before it died.
LOST_WINDOW = 0.25
#: An answer the host sent before it died reaches the emulator up to this much later (nginx,
#: TLS, the emulator's threads on a busy machine).
RELAY = 0.1
KILLED = 1  # the second host


@dataclass
class Job:
    kind: str  # a path of PATHS, or a script of SCRIPTS
    caller: str
    transcripts: list[Transcript] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def call(self) -> bool:
        return self.kind in PATHS


# -- what a transcript says, without what changes from one run to the next ----------------------

_SID = re.compile(r"\b(RE|CA|SM|MM)[0-9a-f]{32}\b")
_URL = re.compile(r"https?://[^/\s]+")


def shape(transcript: Transcript, caller: str, number: str) -> list[tuple[str, str]]:
    """The events of ``transcript`` (what was said, pressed, recorded, dialled, texted...) and
    its requests' purposes and answers, with SIDs, hosts, the caller and our number taken out."""
    def plain(text: str) -> str:
        text = _URL.sub("", _SID.sub(r"\1…", text))
        return text.replace(caller, "{caller}").replace(number, "{us}")

    events = [(e.kind, plain(e.text)) for e in transcript.events]
    requests = [(f"request {r.purpose}", f"{r.response.status_code} x{len(r.response.exchanges)}")
                for r in transcript.requests]
    return events + requests


def cut(exchange: Exchange) -> bool:
    """Whether the answer stopped partway: its host died while nginx was passing it on (nginx
    had sent the status line already, so it cannot answer 502 or ask another host)."""
    return exchange.status_code is None and exchange.error == "ChunkedEncodingError"


def died(transcript: Transcript) -> bool:
    """Whether one of the transcript's webhooks died with its host: nginx's 502 (the host had
    not answered) or an answer cut short."""
    return any(x.status_code == 502 or cut(x)
               for r in transcript.requests for x in r.response.exchanges)


def number_of(job: Job, numbers: tuple[str, str]) -> str:
    return numbers[1] if job.kind == "studio" else numbers[0]


def run_job(phone: Any, numbers: tuple[str, str], job: Job) -> None:
    number = number_of(job, numbers)
    started = time.perf_counter()
    if job.call:
        job.transcripts.append(phone.inbound_call(number, job.caller, script=PATHS[job.kind][0]()))
    else:
        for body in SCRIPTS[job.kind]:
            job.transcripts.append(phone.inbound_sms(number, job.caller, body))
    job.seconds = time.perf_counter() - started


def buy(emu: Emulator, numbers: tuple[str, str], base: str) -> None:
    for number, sms in zip(numbers, INBOUND_TEXTS, strict=True):
        emu.state.buy_number(
            emu.account_sid, number,
            voice_url=base + "/voice", voice_fallback_url=base + "/voice/fallback",
            status_callback=base + "/voice/status" + STATUS_RETRIES,
            sms_url=base + sms, sms_fallback_url=base + "/sms/fallback",
        )


def flows_folder(tmp_path: Path) -> Path:
    """A flows folder with the Studio flow ``ask`` (it asks, then thanks the reply)."""
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "ask.json").write_text(json.dumps(ask_definition(3600)))
    return folder


def references(emu: Emulator, tmp_path: Path, env: dict[str, str]
               ) -> dict[str, list[list[tuple[str, str]]]]:
    """Each path and script once against one gunicorn (one worker, SQLite): the transcripts a
    call or conversation must have on the three hosts."""
    found: dict[str, list[list[tuple[str, str]]]] = {}
    with Gunicorn(f"sqlite:///{tmp_path / 'reference.sqlite3'}", tmp_path / "reference.log",
                  workers=1, env=env) as server:
        buy(emu, REFERENCES, server.base)
        for n, kind in enumerate([*PATHS, *SCRIPTS]):
            job = Job(kind, f"+1555800{n:04d}")
            run_job(emu.phone, REFERENCES, job)
            assert emu.phone.wait_idle(30)
            found[kind] = [shape(t, job.caller, number_of(job, REFERENCES))
                           for t in job.transcripts]
    return found


# -- the stack ----------------------------------------------------------------------------------


@pytest.fixture
def database(dedicated_postgres: PostgresServer) -> Iterator[str]:
    """A fresh database on the suite's own PostgreSQL server: its name."""
    name = f"sb_scale_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(dedicated_postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


GUNICORN_LINE = re.compile(r'"[A-Z]+ (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')


def answered(log: str) -> Counter[str]:
    """The statuses of a gunicorn access log."""
    return Counter(m["status"] for m in map(GUNICORN_LINE.search, log.splitlines()) if m)


def test_three_hosts_behind_nginx_through_pgbouncer_one_killed(
    dedicated_postgres: PostgresServer, database: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    kinds = [list(PATHS)[n % len(PATHS)] for n in range(CALLS)]
    kinds += [list(SCRIPTS)[n % len(SCRIPTS)] for n in range(CONVERSATIONS)]
    rng.shuffle(kinds)
    jobs = [Job(kind, f"+1555{n:07d}") for n, kind in enumerate(kinds)]

    with Emulator(account_sid=ACCOUNT_SID, auth_token=TOKEN) as emu:
        env = {**BUSINESS, "TWILIO_API_BASE_URL": emu.url,  # voicemail notices: texts
               "SWITCHBOARD_FLOWS_DIR": str(flows_folder(tmp_path))}
        expected = references(emu, tmp_path, env)
        said = [text for transcript in expected["studio"] for _kind, text in transcript]
        assert any("reply YES." in text for text in said), expected["studio"]
        assert any(text.endswith("Thanks.") for text in said), expected["studio"]
        bouncer = PgBouncer(dedicated_postgres.url).start()
        front_folder = tmp_path / "nginx"
        front_folder.mkdir()
        hosts = [AppHost(bouncer.url(database), tmp_path / f"host{n + 1}.log", workers=WORKERS,
                         env=env) for n in range(HOSTS)]
        for host in hosts:
            host.port = free_port()
        front = Nginx(front_folder, [host.port for host in hosts])
        front.port = free_port()
        for host in hosts:
            host.public_url = f"https://127.0.0.1:{front.port}"
        try:
            for host in hosts:  # all three boot at once
                host.start(healthy=False)
            for host in hosts:
                host.wait_healthy()
            front.start()
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(front.cafile))
            buy(emu, NUMBERS, front.base)
            outcome = drive(emu, jobs, hosts[KILLED], tmp_path)
            assert emu.phone.wait_idle(60)
            outcome.notices = settled(lambda: [m["body"] for m in emu.state.list(
                "messages", where=lambda m: m["to"] == OPERATOR and m["from"] == NUMBER)])
        finally:
            front.stop()
            logs = [host.stop() for host in hosts]
            bouncer.stop()
        check(jobs, expected, hosts, logs, front.log_lines(), outcome, dedicated_postgres,
              database)


@dataclass
class Outcome:
    killed_at: float = 0.0  # time.time()
    back_at: float = 0.0
    elapsed: float = 0.0
    #: When (time.time()) each text's webhook was answered 200, by MessageSid, and each
    #: recording status callback 204, by RecordingSid.
    answered: dict[str, float] = field(default_factory=dict)
    #: The voicemail notices texted to the operator.
    notices: list[str] = field(default_factory=list)

    def session(self) -> requests.Session:
        """A session for the emulator's webhooks that notes when each text was answered."""
        made = requests.Session()
        made.hooks["response"].append(self._note)
        return made

    def _note(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.request.body or ""
        fields = parse_qs(body.decode() if isinstance(body, bytes) else body)
        path = urlsplit(response.url).path
        if response.status_code == 200 and path in INBOUND_TEXTS:
            self.answered[fields["MessageSid"][0]] = time.time()
        elif response.status_code == 204 and path == "/voice/recording-status":
            self.answered[fields["RecordingSid"][0]] = time.time()


def settled(count: Callable[[], list[str]], quiet: float = 2.0, limit: float = 30.0
            ) -> list[str]:
    """``count()`` once it has not changed for ``quiet`` seconds (``limit`` at most)."""
    deadline = time.monotonic() + limit
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    return last


def drive(emu: Emulator, jobs: list[Job], victim: AppHost, tmp_path: Path) -> Outcome:
    """Start the jobs over SPREAD seconds, BURST of them together just before KILL_AT, when
    ``victim`` is killed and started again (its log in a new file)."""
    outcome = Outcome()
    emu.phone.session_factory = outcome.session
    begin = time.monotonic()

    def killer() -> None:
        time.sleep(max(0.0, begin + KILL_AT - time.monotonic()))
        outcome.killed_at = victim.kill()
        victim.log = tmp_path / "host2-restarted.log"
        victim.start()
        outcome.back_at = time.time()

    before = (len(jobs) - BURST) * KILL_AT // SPREAD
    starts = [KILL_AT * n / before if n < before
              else KILL_AT - 0.2 if n < before + BURST
              else KILL_AT + 0.5 + (SPREAD - KILL_AT - 0.5) * (n - before - BURST) / (
                  len(jobs) - before - BURST)
              for n in range(len(jobs))]

    def one(index: int) -> None:
        time.sleep(max(0.0, begin + starts[index] - time.monotonic()))
        run_job(emu.phone, NUMBERS, jobs[index])

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    with ThreadPoolExecutor(BURST + 24) as pool:
        list(pool.map(one, range(len(jobs))))
    thread.join(60)
    outcome.elapsed = time.monotonic() - begin
    assert outcome.back_at, "the killed host was not started again"
    return outcome


def check(jobs: list[Job], expected: dict[str, list[list[tuple[str, str]]]],
          hosts: list[AppHost], logs: list[str], nginx_lines: list[dict[str, str]],
          outcome: Outcome, postgres: PostgresServer, database: str) -> None:
    victim = f"127.0.0.1:{hosts[KILLED].port}"
    transcripts = [t for job in jobs for t in job.transcripts]
    requests = [r for t in transcripts for r in t.requests]
    exchanges = [x for r in requests for x in r.response.exchanges]

    # nginx: a 5xx only for what was inside the killed host when it died
    failed = [line for line in nginx_lines if line["status"].startswith("5")]
    for line in failed:
        assert line["status"] == "502", line
        assert line["upstream"] == victim, line
        assert outcome.killed_at - 0.5 <= float(line["msec"]) <= outcome.killed_at + 2, (
            line, outcome.killed_at)
    passed_on = [line for line in nginx_lines
                 if "," in line["upstream"] and line["upstream"].startswith(victim)]
    assert all(line["status"] in ("200", "204") for line in passed_on), passed_on
    # the status callbacks of the replies a flow sent travel in the replies' own transcripts,
    # not the conversation's; Twilio does not send a message's status callback again
    replies = [line for line in failed if "/message-status/" in line["path"]]
    assert sum(1 for x in exchanges if x.status_code == 502) == len(failed) - len(replies)
    assert not [x for x in exchanges if x.status_code and x.status_code >= 500
                and x.status_code != 502]
    # an answer cut short: only the killed host's, as it died (nginx logs the status it sent)
    cut_short = [x for x in exchanges if cut(x)]
    at_the_kill = [line for line in nginx_lines if line["upstream"] == victim
                   and line["status"] in ("200", "204")
                   and outcome.killed_at - 0.5 <= float(line["msec"]) <= outcome.killed_at + 2]
    assert len(cut_short) <= len(at_the_kill), (cut_short, at_the_kill)

    # the hosts: no 5xx of their own, no traceback, no prepared statement, the math logged
    statuses = Counter[str]()
    for text in [*logs, hosts[KILLED].runs[0].read_text(errors="replace")]:
        statuses.update(answered(text))
        assert "Traceback" not in text, text[-3000:]
        assert "prepared statement" not in text, text[-3000:]
        assert "unavailable at start-up" not in text, text[-3000:]
        assert not no_secrets(text, TOKEN)
    assert not [s for s in statuses if s.startswith("5")], statuses
    restarted = hosts[KILLED].runs[-1].read_text(errors="replace")
    assert answered(restarted)["200"] > 0, "the restarted host served no webhook"
    assert "3 hosts x 2 workers x 15 connections (pool size + overflow) = 90 client " \
           "connections to the pooler" in logs[0], logs[0][-3000:]

    # every call and conversation as on one host, unless a webhook of its died with the host
    affected = [job for job in jobs if any(died(t) for t in job.transcripts)]
    wrong = []
    for job in jobs:
        if job in affected:
            continue
        got = [shape(t, job.caller, number_of(job, NUMBERS)) for t in job.transcripts]
        if got != expected[job.kind]:
            wrong.append(f"{job.kind} {job.caller}:\n" + "\n".join(
                t.render(verbose=True) for t in job.transcripts))
    assert not wrong, f"{len(wrong)} not as on one host; the first:\n{wrong[0]}"
    for job in affected:
        for transcript in job.transcripts:
            for request in transcript.requests:
                codes = [x.status_code for x in request.response.exchanges]
                if 502 not in codes:
                    continue
                if request.purpose == "status":  # retried, as its URL asks
                    assert codes[-1] == 204, codes
                elif request.purpose != "recording-status":  # Twilio's fallback, on a live host
                    fallback = [r for r in transcript.requests
                                if r.purpose in ("fallback", "sms-fallback")]
                    assert fallback, transcript.render(verbose=True)
                    assert fallback[-1].response.status_code == 200, (
                        transcript.render(verbose=True))
            if job.call:
                assert transcript.status == "completed", transcript.render(verbose=True)

    # the database: every callback answered 204 stored once, every row but the last moments'
    store = Store(sa.make_url(postgres.url).set(database=database))
    lost: list[float] = []  # seconds before the kill each lost row's text was answered
    recordings: list[str] = []
    try:
        for job in jobs:
            for transcript in job.transcripts:
                if job.call:
                    callbacks = store.status_callbacks(transcript.sid)
                    answered_204 = [r for r in transcript.requests_for("status")
                                    if r.response.status_code == 204]
                    assert [c["status"] for c in callbacks] == ["completed"] * len(
                        answered_204), (job.kind, callbacks)
                    assert store.get_call(transcript.sid) is not None
                    for request in transcript.requests_for("recording-status"):
                        if request.response.status_code == 204:
                            sid = request.params["RecordingSid"]
                            recording = store.get_recording(sid)
                            assert recording is not None, sid
                            assert recording["call_sid"] == transcript.sid
                            assert len(store.status_callbacks(sid)) == 1
                            recordings.append(sid)
                elif transcript.requests[0].response.status_code == 200 and (
                        store.get_message(transcript.sid) is None):
                    lost.append(outcome.killed_at - outcome.answered[transcript.sid])
            if job.kind in ("stop-start", "stopall") and job not in affected:
                opted_out = store.is_opted_out(job.caller, NUMBER)
                assert opted_out == (job.kind == "stopall"), job
        studio = [job for job in jobs if job.kind == "studio" and job not in affected]
        made = Counter((e.contact_channel_address, e.status)
                       for e in executions.list_executions(store))
        for job in studio:  # one execution, taken up by whichever host got the reply, ended
            assert made[job.caller, "ended"] == 1, (job.caller, made)
    finally:
        store.close()
    # only rows the killed host had taken in its last moments: handed to its write-behind
    # (SWITCHBOARD_RECORD_DELAY, 20 ms) or in the batch it was writing
    assert all(-RELAY <= before <= LOST_WINDOW for before in lost), lost
    # a voicemail notice per recording, once, whichever host got its callback; none lost but
    # those claimed by the killed host in its last moments (docs/metrics.md)
    texts = Counter(sid for body in outcome.notices for sid in recordings if sid in body)
    assert max(texts.values(), default=1) == 1, texts
    unsent = [outcome.killed_at - outcome.answered[sid] for sid in recordings
              if sid not in texts]
    assert all(-RELAY <= before <= LOST_WINDOW for before in unsent), unsent
    retried = [r for r in requests if r.purpose == "status" and len(r.response.exchanges) > 1]
    fallbacks = [r for r in requests if r.purpose in ("fallback", "sms-fallback")]
    unretried = [r for r in requests if r.purpose == "recording-status"
                 and r.response.status_code == 502]

    calls = [job for job in jobs if job.call]
    text = (f"{HOSTS} hosts x {WORKERS} workers behind nginx, PgBouncer (transaction mode); "
            f"{len(calls)} calls + {len(jobs) - len(calls)} conversations, {len(requests)} "
            f"webhooks in {outcome.elapsed:.1f} s; host 2 SIGKILLed at {KILL_AT:g} s, serving "
            f"again {outcome.back_at - outcome.killed_at:.1f} s later: {len(failed)} webhooks "
            f"died with it (nginx 502: {len(fallbacks)} fallbacks, {len(retried)} status "
            f"callbacks sent again and stored once, {len(unretried)} recording callbacks not "
            f"sent again, {len(replies)} status callbacks of a flow's replies not sent again), "
            f"{len(cut_short)} answers cut short as it died, "
            f"{len(passed_on)} passed on by nginx "
            f"(connection refused), {len(affected)} calls or conversations affected, "
            f"{len(jobs) - len(affected)} exactly as on one host; message rows lost: "
            f"{len(lost)}" + (f" (answered {-max(lost) * 1000:+.0f} to {-min(lost) * 1000:+.0f} "
                              "ms from the kill, as the emulator saw it)" if lost else "")
            + f"; voicemail notices {len(texts)} of {len(recordings)}, none twice"
            + f"; a call p50 {percentile([j.seconds for j in calls], 0.5):.2f} s")
    print(text)
    report("test_scale_out", text)


# -- the shipped files, read against each other ----------------------------------------------------


def directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"\s*([a-z_0-9]+)\s+([^;#]+);", line)
        if match:
            found.setdefault(match.group(1), []).append(match.group(2).strip())
    return found


def test_the_scale_out_site_protects_as_the_single_host_site() -> None:
    from tests.load.scale_out import SHIPPED_HOSTS, SITE

    single, many = directives(SITE.parents[1] / "nginx-switchboard.conf"), directives(SITE)
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout",
                 "client_max_body_size", "client_body_buffer_size", "reset_timedout_connection",
                 "proxy_request_buffering", "proxy_buffering", "proxy_read_timeout",
                 "keepalive_timeout", "proxy_http_version"):
        assert many.get(name) == single.get(name) is not None, name
    for header in ("For", "Proto", "Host", "Port", "Prefix"):
        assert any(v.startswith(f"X-Forwarded-{header} ") for v in many["proxy_set_header"])
    # another host only for a connection that failed: never a POST that reached one
    assert many["proxy_next_upstream"] == ["error timeout"]
    assert int(many["proxy_connect_timeout"][0].removesuffix("s")) <= 5
    assert int(many["proxy_read_timeout"][0].removesuffix("s")) < 15
    servers = [v.split()[0] for v in many["server"]]
    assert servers == list(SHIPPED_HOSTS)
