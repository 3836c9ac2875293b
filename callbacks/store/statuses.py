"""Where each Twilio status stands in the life of a call, message or recording.

A status may only replace one that ranks lower, so callbacks that arrive out of order never
move a resource back. Terminal statuses share a rank: the first one stored wins.
"""

from __future__ import annotations

from typing import Final

NO_STATUS: Final = -1
"""Rank of a request that carried no status: it never changes the stored one."""

UNKNOWN_STATUS: Final = 0
"""Rank of a status this table does not know (Twilio adds some): any known status wins."""

CALL_STATUS_RANK: Final[dict[str, int]] = {
    "queued": 1,
    "initiated": 2,
    "ringing": 3,
    "in-progress": 4,
    "answered": 4,
    "completed": 5,
    "busy": 5,
    "failed": 5,
    "no-answer": 5,
    "canceled": 5,
}

MESSAGE_STATUS_RANK: Final[dict[str, int]] = {
    "accepted": 1,
    "scheduled": 2,
    "queued": 3,
    "sending": 4,
    "receiving": 4,
    "sent": 5,
    "received": 5,
    "delivered": 6,
    "undelivered": 6,
    "failed": 6,
    "canceled": 6,
    "partially_delivered": 6,
    "read": 7,
}

RECORDING_STATUS_RANK: Final[dict[str, int]] = {
    "in-progress": 1,
    "paused": 1,
    "stopped": 2,
    "processing": 2,
    "completed": 3,
    "absent": 3,
    "failed": 3,
    "deleted": 4,
}

RANKS: Final[dict[str, dict[str, int]]] = {
    "call": CALL_STATUS_RANK,
    "message": MESSAGE_STATUS_RANK,
    "recording": RECORDING_STATUS_RANK,
}


def status_rank(kind: str, status: str | None) -> int:
    """The rank of ``status`` for a resource of ``kind`` ("call", "message", "recording")."""
    if not status:
        return NO_STATUS
    return RANKS[kind].get(status.lower(), UNKNOWN_STATUS)
