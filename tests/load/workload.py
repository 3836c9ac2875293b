"""20,000 status callbacks for 2,000 calls and 2,000 messages: every status a call or message
goes through, then 10% of them again (Twilio's retries with the same idempotency token, and the
same event delivered again without one), all shuffled."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

CALL_PATHS = [
    ["initiated", "ringing", "in-progress", "completed"],
    ["queued", "initiated", "ringing", "busy"],
    ["queued", "initiated", "ringing", "no-answer"],
    ["queued", "initiated", "ringing", "failed"],
]
MESSAGE_PATHS = [
    ["accepted", "queued", "sending", "sent", "delivered"],
    ["queued", "sending", "sent", "delivered", "read"],
    ["accepted", "queued", "sending", "sent", "undelivered"],
    ["accepted", "queued", "sending", "sent", "failed"],
]
TOKEN_HEADER = "I-Twilio-Idempotency-Token"


@dataclass(frozen=True)
class Callback:
    path: str  # /voice/status or /sms/status
    sid: str
    status: str
    params: dict[str, str]
    token: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.sid, self.status)

    @property
    def headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.token} if self.token else {}


@dataclass
class Workload:
    callbacks: list[Callback] = field(default_factory=list)
    final: dict[str, str] = field(default_factory=dict)  # sid -> final status
    statuses: dict[str, list[str]] = field(default_factory=dict)  # sid -> distinct statuses

    @property
    def distinct(self) -> int:
        return sum(len(v) for v in self.statuses.values())


def make_workload(seed: int, *, calls: int, messages: int, total: int, tag: str = "") -> Workload:
    """``calls`` calls of 4 statuses and ``messages`` messages of 5, topped up with repeats of
    random ones to ``total`` callbacks, shuffled. ``tag`` (hex) keeps SIDs of runs apart."""
    rng = random.Random(seed)
    work = Workload()
    originals: list[Callback] = []
    account = "AC" + "5" * 32
    for n in range(calls):
        sid = f"CA{tag}{n:0{32 - len(tag)}x}"
        path = rng.choice(CALL_PATHS)
        for sequence, status in enumerate(path):
            params = {"CallSid": sid, "AccountSid": account, "CallStatus": status,
                      "SequenceNumber": str(sequence), "From": "+15005550006",
                      "To": "+15005550001", "Direction": "outbound-api",
                      "CallbackSource": "call-progress-events", "ApiVersion": "2010-04-01"}
            if status == "completed":
                params["CallDuration"] = str(n % 600)
            originals.append(Callback("/voice/status", sid, status, params, f"{sid}-{sequence}"))
        work.final[sid] = path[-1]
        work.statuses[sid] = path
    for n in range(messages):
        sid = f"SM{tag}{n:0{32 - len(tag)}x}"
        path = rng.choice(MESSAGE_PATHS)
        for status in path:
            params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": account,
                      "MessageStatus": status, "SmsStatus": status, "From": "+15005550001",
                      "To": "+15005550006", "ApiVersion": "2010-04-01"}
            originals.append(Callback("/sms/status", sid, status, params, f"{sid}-{status}"))
        work.final[sid] = path[-1]
        work.statuses[sid] = path
    assert len(work.final) == calls + messages, "SIDs must be distinct"
    repeats = []
    for original in rng.choices(originals, k=max(0, total - len(originals))):
        token = original.token if rng.random() < 0.7 else None  # a retry, or the event again
        repeats.append(Callback(original.path, original.sid, original.status,
                                dict(original.params), token))
    work.callbacks = originals + repeats
    rng.shuffle(work.callbacks)
    return work
