"""Timers: the timeouts of waiting widgets (Send & Wait For Reply's ``timeout``, a
conversation's TwiML Redirect's) taken on time by the server itself, with no other service to
run, after a restart too, once across processes and hosts.

Each server process runs one daemon thread (:class:`Timers`) that asks the database every
second or so (with jitter, so that processes started together drift apart) for executions
whose wait is over, and moves them along their ``timeout`` transition
(:meth:`~switchboard.callbacks.studio.runtime.Runtime.fire_due_timeouts`). The wait's end is a
column of the execution (``wait_until``), so nothing is lost when every process stops: the
first one up takes what fell due meanwhile. Each execution is claimed before it moves (on
PostgreSQL picked ``FOR NO KEY UPDATE SKIP LOCKED``, so processes on any number of hosts share the
work without waiting on each other; on SQLite the claim is one write transaction, one process
at a time), and its progress is written only under its claim: a timeout step is written once.
A process that dies holding claims leaves them to expire
(:data:`~switchboard.callbacks.studio.runtime.BACKGROUND_CLAIM`, 60 s) and another process
takes those executions then. The times compared (the wait's end, a claim's expiry) are the
database server's (:meth:`~switchboard.callbacks.studio.executions.Database.now`), which every
host shares: a host whose clock is wrong fires nothing early or late.

**A message is sent once, also across that death.** What a timer sends (messages, and the
calls of Make Outgoing Call) goes through the REST API: there is no webhook to answer. A
process killed after Twilio took a message but before the execution's progress was written
would have the next process send it again; so each create is keyed first (:data:`sends`: the
execution, the step it moves from, the create's rank in the move) and marked made with its
SID after. A key found marked is not made again; a key left unmarked (the process died in
between) is looked up at Twilio (its last messages or calls to that number from that sender,
since the key was written) and made only when Twilio has none.
:class:`SendOnce` does the same for ``switchboard flows run``
(:mod:`~switchboard.callbacks.studio.campaigns`), keyed by the campaign's row.

Where it runs: :func:`start_timers` (called by ``register_studio``) starts the thread in the
process that serves: the development server (not the reloader's watching process), each
gunicorn worker (with ``preload_app``, in each worker once forked, never in the master), any
other WSGI server at once, and in any case at the first request a process serves; not in a
throw-away app (the one gunicorn's ``on_starting`` makes to check the settings). An app made
for a command other than ``run`` (``flows run``, ``call``...) or for a test (``TESTING``) gets
none unless ``STUDIO_TIMERS`` is true; ``STUDIO_TIMERS = False`` turns them off. The thread
stops at the process's normal exit, finishing the execution it is moving.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import random
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from switchboard.callbacks.store.schema import UTCDateTime, metadata
from switchboard.callbacks.studio.executions import Database, Execution
from switchboard.callbacks.studio.runtime import (
    ClientFactory,
    PathLinks,
    Runtime,
    rest_client,
)

if TYPE_CHECKING:
    from flask import Flask

    from switchboard.callbacks.studio.definition import Flow
    from switchboard.config import Settings

#: Jitter of its own, leaving the random module's shared state alone.
_random = random.Random()
log = logging.getLogger("switchboard.callbacks.studio")

__all__ = ["TIMERS_EXTENSION", "Timers", "purge_sends", "sends", "start_timers"]

#: Seconds between two looks for due timeouts in a process, and the share of it drawn at
#: random each time (so that processes started together do not ask together).
POLL_EVERY = 1.0
JITTER = 0.25
#: Executions claimed at a time (a process that dies holds at most this many claims).
BATCH = 10
#: How long a send's key is kept: far longer than a claim can last.
SENDS_KEPT = timedelta(days=1)
#: Seconds between two purges of old send keys in a process.
PURGE_EVERY = 600.0
#: Seconds the thread is given at exit to finish the execution it is moving.
STOP_WAIT = 10.0
#: Twilio's clock and ours may differ by this much when a send is looked up.
CLOCK_SKEW = timedelta(seconds=30)
#: Messages looked at (newest first) when a send is looked up at Twilio.
LOOKUP_LIMIT = 50

#: ``app.extensions`` key of the app's :class:`Timers`.
TIMERS_EXTENSION = "switchboard.studio_timers"

SENDING, SENT = "sending", "sent"

sends = sa.Table(
    "studio_sends",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("owner", sa.String, nullable=False),
    sa.Column("to", sa.String, nullable=False),
    sa.Column("sender", sa.String, nullable=False),
    sa.Column("digest", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("sid", sa.String),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)


class SendsDatabase(Database):
    """The store's transactions (:class:`~switchboard.callbacks.studio.executions.Database`)
    for the :data:`sends` table, made on first use."""

    _ready: weakref.WeakSet[Any] = weakref.WeakSet()
    _ready_lock = threading.Lock()
    tables = (sends,)


def _insert_new(dialect: str) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(sends).on_conflict_do_nothing().returning(sends.c.key)


def _digest(kind: str, to: str, sender: str, what: str | None, media: Any) -> str:
    text = "\x1f".join([kind, to, sender, what or "", repr(media or "")])
    return hashlib.sha256(text.encode()).hexdigest()


class SendOnce:
    """Keys each REST send made in a scope, so that a message is sent once although the work
    that sends it may run twice (its process died before writing that it was done).

    :meth:`moving` (a timer's move of an execution) or :meth:`begin` (any work with a key of
    its own: a campaign's row) name the work of this thread; :meth:`wrap` makes a client
    factory whose clients' ``messages.create`` go through :meth:`create`. Outside a scope, a
    send goes straight through."""

    def __init__(self, db: SendsDatabase) -> None:
        self.db = db
        self._scope = threading.local()

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        try:
            yield
        finally:
            self._scope.base = None

    def moving(self, execution: Execution) -> None:
        """The next sends of this thread are the move of ``execution`` from where it stands."""
        self.begin(f"{execution.sid}:{execution.step_count}", execution.sid)

    def begin(self, key: str, owner: str) -> None:
        """The next sends of this thread are the work ``key`` (of ``owner``: an execution's
        SID, a campaign's row), the same key each time that work is done again."""
        self._scope.base = key
        self._scope.owner = owner
        self._scope.rank = 0

    def wrap(self, factory: ClientFactory) -> ClientFactory:
        def guarded(settings: Settings) -> Any:
            client = factory(settings)
            return None if client is None else CreatesWrapped(
                client, lambda wrapped, kind: _Guarded(wrapped, kind, self))

        return guarded

    def _next_key(self) -> tuple[str, str] | None:
        base = getattr(self._scope, "base", None)
        if base is None:
            return None
        rank = self._scope.rank
        self._scope.rank = rank + 1
        return f"{base}:{rank}", self._scope.owner

    def create(self, client: Any, kind: str, to: str, fields: Mapping[str, Any]) -> Any:
        """``client.<kind>.create(to, **fields)`` (``kind``: ``messages`` or ``calls``) once
        for this key: skipped when the key is marked sent, looked up at Twilio when a create
        under it may have gone."""
        keyed = self._next_key()
        if keyed is None:
            return getattr(client, kind).create(to, **fields)
        key, owner = keyed
        sender = str(fields.get("from_") or fields.get("messaging_service_sid") or "")
        what = fields.get("url") if kind == "calls" else fields.get("body")
        digest = _digest(kind, to, sender, what, fields.get("media_url"))
        row = {"key": key, "owner": owner, "to": to, "sender": sender,
               "digest": digest, "state": SENDING, "sid": None, "created_at": self.db.now()}
        insert = _insert_new(self.db.dialect)
        if self.db.run(lambda conn: conn.execute(insert, row).first()) is None:
            found = self.db.run(lambda conn: conn.execute(
                sa.select(sends).where(sends.c.key == key)).mappings().one(), write=False)
            if found["digest"] != digest:
                log.warning("%s: the %s under key %s is not the one first made under it; "
                            "making it", owner, kind[:-1], key)
            elif found["state"] == SENT:
                log.info("%s: %s was made before this process took the work over; not made "
                         "again", owner, found["sid"])
                return {"sid": found["sid"], "to": to, "status": "queued"}
            else:  # the process making it stopped before it could say whether it went
                since = found["created_at"] - CLOCK_SKEW
                earlier = (_look_up_call(client, to, sender, since) if kind == "calls"
                           else _look_up_message(client, to, sender, what, since))
                if earlier is not None:
                    log.info("%s: %s reached Twilio before the process making it stopped; "
                             "not made again", owner, earlier.get("sid"))
                    self._sent(key, digest, earlier.get("sid"))
                    return earlier
        answer = getattr(client, kind).create(to, **fields)
        sid = answer.get("sid") if isinstance(answer, Mapping) else None
        self._sent(key, digest, sid)
        return answer

    def _sent(self, key: str, digest: str, sid: str | None) -> None:
        self.db.run(lambda conn: conn.execute(
            sa.update(sends).where(sends.c.key == key).values(state=SENT, sid=sid,
                                                             digest=digest)))


def _look_up_message(client: Any, to: str, sender: str, body: str | None,
                     since: datetime) -> dict[str, Any] | None:
    """The message to ``to`` from ``sender`` (a number or a Messaging Service) with ``body``
    that Twilio created since ``since``, if any."""
    by_service = sender.startswith("MG")
    listed = client.messages.list(to=to, from_=None if by_service else sender,
                                  limit=LOOKUP_LIMIT)
    for message in _since(listed, since):
        if by_service and message.get("messaging_service_sid") != sender:
            continue
        text = message.get("body") or ""
        if text == (body or "") or (body and text.endswith(body)):  # a trial account's prefix
            return dict(message)
    return None


def _look_up_call(client: Any, to: str, sender: str, since: datetime) -> dict[str, Any] | None:
    """The call to ``to`` from ``sender`` that Twilio created since ``since``, if any."""
    for call in _since(client.calls.list(to=to, from_=sender, limit=LOOKUP_LIMIT), since):
        return dict(call)
    return None


def _since(listed: Iterable[Mapping[str, Any]], since: datetime) -> Iterator[Mapping[str, Any]]:
    """The resources of a list (newest first) created since ``since``."""
    for resource in listed:
        created = _when(resource.get("date_created"))
        if created is not None and created < since:
            return
        yield resource


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value)).astimezone(UTC)
    except (TypeError, ValueError):
        return None


class CreatesWrapped:
    """A REST client whose ``messages`` and ``calls`` are ``wrap(client, kind)`` (an object
    with their ``create``, :class:`_Guarded` say); everything else is the client's own."""

    def __init__(self, client: Any, wrap: Callable[[Any, str], Any]) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "messages", wrap(client, "messages"))
        object.__setattr__(self, "calls", wrap(client, "calls"))

    def __enter__(self) -> CreatesWrapped:
        self._client.__enter__()
        return self

    def __exit__(self, *details: object) -> Any:
        return self._client.__exit__(*details)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)


class _Guarded:
    """``client.messages`` or ``client.calls``, whose ``create`` is keyed."""

    def __init__(self, client: Any, kind: str, once: SendOnce) -> None:
        self._client = client
        self._kind = kind
        self._once = once

    def create(self, to: str, *args: Any, **fields: Any) -> Any:
        if args:  # calls.create(to, from_, ...)
            fields = {"from_": args[0], **fields}
        return self._once.create(self._client, self._kind, to, fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(getattr(self._client, self._kind), name)


def purge_sends(store_or_engine: Any, older_than: timedelta = SENDS_KEPT) -> int:
    """Delete the send keys older than ``older_than``, 500 at a time; how many."""
    db = SendsDatabase(store_or_engine)
    cutoff = db.now() - older_than
    deleted = 0
    while True:
        def work(conn: sa.Connection) -> int:
            picked = sa.select(sends.c.key).where(sends.c.created_at < cutoff).limit(500)
            if db.dialect == "postgresql":
                picked = picked.with_for_update(skip_locked=True)
            keys = conn.execute(picked).scalars().all()
            if not keys:
                return 0
            return conn.execute(sa.delete(sends).where(sends.c.key.in_(keys))).rowcount

        count = db.run(work)
        deleted += count
        if count < 500:
            return deleted


class Timers:
    """The thread of one process that takes the due timeouts of the executions in ``store``
    (of ``flows``, and of the Studio API's flows in the database): :meth:`start`,
    :meth:`stop`; :meth:`tick` is one round (tests, scripts).

    ``client_factory(settings)`` gives the REST client for what the flows send (default: the
    app's account); ``clock`` the current time (tests). ``every`` seconds between rounds
    (with ``jitter`` of it at random), ``batch`` executions claimed at a time."""

    def __init__(
        self,
        store: Any,
        flows: Mapping[str, Flow],
        settings: Settings,
        *,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], Any] | None = None,
        every: float = POLL_EVERY,
        jitter: float = JITTER,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.settings = settings
        self.every = every
        self.jitter = jitter
        self.batch = batch
        from switchboard.callbacks.studio.flows_store import DatabaseFlows

        self.once = SendOnce(SendsDatabase(store, clock=clock))
        self.runtime = Runtime(flows, client_factory=self.once.wrap(client_factory or rest_client),
                               clock=clock, lookup=DatabaseFlows(store))
        self.db = self.runtime.database(store)
        #: Executions moved by this process since it started.
        self.fired = 0
        #: Start in a process forked from this one (a gunicorn master with ``preload_app``).
        self.in_children = False
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forked(ref))
        atexit.register(_stop_at_exit, ref)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failing: str | None = None
        self._purged = 0.0

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> Timers:
        """Start this process's thread (once; a no-op while it runs)."""
        self._closed = False
        with self._lock:
            if self.running:
                return self
            self._stopping = threading.Event()
            self._thread = threading.Thread(target=self._run, name="switchboard-studio-timers",
                                            daemon=True)
            try:
                self._thread.start()
            except RuntimeError:  # the interpreter is ending
                self._thread = None
        return self

    def serving(self) -> None:
        """A request came to the app in this process: the thread runs, unless stopped (a
        ``before_request`` hook, for servers that make the app some other way)."""
        if not self._closed and not self.running:
            self.start()

    def stop(self, timeout: float | None = STOP_WAIT) -> None:
        """Stop the thread once the execution it is moving is written (waiting ``timeout``
        seconds at most: a process that ends meanwhile leaves its claims to expire)."""
        self._closed = True
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def tick(self) -> int:
        """Take every due timeout now, :attr:`batch` executions at a time; how many moved."""
        moved = 0
        with self.once.scope():
            while True:
                count = self.runtime.fire_due_timeouts(
                    self.db, settings=self.settings, links=self._links, limit=self.batch)
                moved += count
                if count < self.batch or self._stopping.is_set():
                    break
        self.fired += moved
        return moved

    def _links(self, execution: Execution) -> PathLinks:
        from switchboard.callbacks.studio.outbound import url_name

        self.once.moving(execution)
        flow = self.runtime.flow(execution.flow_name)
        name = url_name(flow) if flow is not None else execution.flow_name
        return PathLinks(self.settings.public_url, name)

    def _run(self) -> None:
        stopping = self._stopping
        # a first look soon after the start: what fell due while no process ran goes now
        if stopping.wait(_random.uniform(0.0, self.every * self.jitter)):
            return
        while not stopping.is_set():
            try:
                self.tick()
                self._purge()
            except Exception as error:
                self._failed(error)
            else:
                self._recovered()
            pause = self.every * (1 + _random.uniform(-self.jitter, self.jitter))
            stopping.wait(max(pause, 0.05))

    def _purge(self) -> None:
        now = time.monotonic()
        if now - self._purged < PURGE_EVERY:
            return
        self._purged = now
        purge_sends(self.store)

    def _failed(self, error: Exception) -> None:
        """Said once per run of failures (the thread tries again every round)."""
        from switchboard.callbacks.store import StoreUnavailable

        text = " ".join(str(error).split())
        if self._failing is None:
            if isinstance(error, StoreUnavailable):
                log.warning("Studio timers: due timeouts not taken: %s (tried again every "
                            "%g s)", text, self.every)
            else:
                log.error("Studio timers: due timeouts not taken", exc_info=error)
        self._failing = text

    def _recovered(self) -> None:
        if self._failing is not None:
            log.warning("Studio timers: due timeouts are taken again")
            self._failing = None


def _forked(ref: weakref.ref[Timers]) -> None:
    """In a new process: no thread yet; started when the parent left it to its children."""
    timers = ref()
    if timers is None:
        return
    timers._reset()
    if timers.in_children:
        timers.start()


def _stop_at_exit(ref: weakref.ref[Timers]) -> None:
    timers = ref()
    if timers is not None:
        timers.stop()


def start_timers(app: Flask, flows: Mapping[str, Flow] | None = None, *,
                 client_factory: ClientFactory | None = None,
                 clock: Callable[[], Any] | None = None) -> Timers | None:
    """The app's :class:`Timers` (``app.extensions[TIMERS_EXTENSION]``), made once and
    started where the app serves (see the module's text); None when ``STUDIO_TIMERS`` is
    false.

    ``flows`` default to those of the app's ``studio`` blueprint, ``client_factory`` and
    ``clock`` to its runtime's."""
    existing = app.extensions.get(TIMERS_EXTENSION)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    wanted = app.config.get("STUDIO_TIMERS")
    runtime = getattr(app.blueprints.get("studio"), "runtime", None)
    if flows is None:
        flows = runtime.flows if runtime is not None else {}
    if wanted is False:
        return None
    if runtime is not None:
        client_factory = client_factory or runtime.client_factory
        clock = clock or runtime.clock
    switchboard = app.extensions["switchboard"]
    timers = Timers(switchboard.store, flows, switchboard.settings,
                    client_factory=client_factory, clock=clock)
    app.extensions[TIMERS_EXTENSION] = timers
    if wanted is None and (app.testing or app.config.get("QUIET_START") or _a_command()):
        return timers
    phase = _gunicorn_phase()
    if phase == "preload":
        timers.in_children = True
    elif phase in (None, "worker") and not _reloader_watcher(app):
        timers.start()
    app.before_request(timers.serving)
    return timers


def _a_command() -> bool:
    """Whether the app was made for a ``switchboard``/``flask`` command other than ``run``
    (``flows run``, ``call``...), which serves nothing."""
    import click
    from flask.cli import run_command

    context = click.get_current_context(silent=True)
    return context is not None and context.command is not run_command


def _gunicorn_phase() -> str | None:
    """Where gunicorn is, making the app: None (no gunicorn), ``"worker"`` (a worker loads
    it), ``"preload"`` (the master loads it for its workers: ``preload_app``), ``"other"``
    (something else, in the master: ``deploy/gunicorn.conf.py``'s ``on_starting`` checking
    the settings with an app it throws away)."""
    if "gunicorn.arbiter" not in sys.modules:
        return None
    loading = False
    frame = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("gunicorn.workers"):
            return "worker"
        loading = loading or module.startswith("gunicorn.app")
        frame = frame.f_back  # type: ignore[assignment]
    return "preload" if loading else "other"


def _reloader_watcher(app: Flask) -> bool:
    """Whether this process is ``flask run --reload``'s watcher, which serves nothing (the
    child it starts does)."""
    import click
    from flask.cli import run_command

    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return False
    context = click.get_current_context(silent=True)
    if context is None or context.command is not run_command:
        return False
    reload = context.params.get("reload")
    return bool(app.debug if reload is None else reload)
