"""Shuffled, duplicated status callbacks, and the worker functions that send them.

Importable by spawned processes (``multiprocessing``), so it holds no fixtures.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from switchboard.callbacks.store import Store

CALL_PATHS = [
    ["initiated", "ringing", "in-progress", "completed"],
    ["initiated", "ringing", "busy"],
    ["initiated", "ringing", "no-answer"],
    ["initiated", "failed"],
]
MESSAGE_PATHS = [
    ["sent", "delivered"],
    ["sending", "sent", "delivered", "read"],
    ["sending", "sent", "undelivered"],
    ["failed"],
]

Callback = tuple[str, dict[str, str], str | None]  # kind, params, idempotency token


@dataclass
class Workload:
    callbacks: list[Callback] = field(default_factory=list)
    final_calls: dict[str, str] = field(default_factory=dict)
    final_messages: dict[str, str] = field(default_factory=dict)
    distinct: dict[str, int] = field(default_factory=dict)  # sid -> distinct callbacks

    def chunks(self, n: int) -> list[list[Callback]]:
        return [self.callbacks[i::n] for i in range(n)]


def make_workload(
    seed: int, *, calls: int, messages: int, duplicates: float = 0.3, prefix: str = ""
) -> Workload:
    rng = random.Random(seed)
    work = Workload()
    originals: list[Callback] = []
    for n in range(calls):
        sid = f"CA{prefix}{n:0{32 - len(prefix)}x}"
        path = rng.choice(CALL_PATHS)
        for sequence, status in enumerate(path):
            params = {
                "CallSid": sid,
                "CallStatus": status,
                "SequenceNumber": str(sequence),
                "From": "+15005550006",
                "To": "+15005550001",
                "Direction": "outbound-api",
            }
            if status == "completed":
                params["CallDuration"] = str(n)
            originals.append(("call", params, f"tok-{sid}-{sequence}"))
        work.final_calls[sid] = path[-1]
        work.distinct[sid] = len(path)
    for n in range(messages):
        sid = f"SM{prefix}{n:0{32 - len(prefix)}x}"
        path = rng.choice(MESSAGE_PATHS)
        for status in path:
            params = {
                "MessageSid": sid,
                "MessageStatus": status,
                "From": "+15005550001",
                "To": "+15005550006",
            }
            originals.append(("message", params, f"tok-{sid}-{status}"))
        work.final_messages[sid] = path[-1]
        work.distinct[sid] = len(path)
    repeats: list[Callback] = []
    for kind, params, token in rng.sample(originals, int(len(originals) * duplicates)):
        # Twilio's own retry (same token), or the same event delivered again (no/new token)
        repeat_token = rng.choice([token, None, f"{token}-again"])
        repeats.append((kind, dict(params), repeat_token))
    work.callbacks = originals + repeats
    rng.shuffle(work.callbacks)
    return work


def send(store: Store, callbacks: list[Callback]) -> int:
    """Record the callbacks; return how many the store took as new."""
    new = 0
    for kind, params, token in callbacks:
        record = store.record_call_status if kind == "call" else store.record_message_status
        new += record(params, token)
    return new


def send_in_process(url: str, callbacks: list[Callback]) -> int:
    store = Store(url)
    try:
        return send(store, callbacks)
    finally:
        store.close()


def create_tables_in_process(url: str, go: Any, results: Any) -> None:
    go.wait(60)  # a Barrier (every process ready) or an Event
    try:
        store = Store(url)
        store.create_all()
        store.record_call({"CallSid": f"CA{id(store):032x}"[:34], "CallStatus": "ringing"})
        store.close()
        results.put("ok")
    except Exception as error:  # reported to the test, which fails on it
        results.put(repr(error))
