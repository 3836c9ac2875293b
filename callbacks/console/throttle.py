"""Wrong passwords slow down the client that sends them, without holding a worker.

Per client address (an IPv6 address counts by its /64, which one host usually holds whole),
in the database so that it holds across worker processes and hosts. Each attempt is counted
*before* the password is checked, by a compare-and-set on the count, so that attempts sent at
once cannot all pass under the limit: the first :data:`FREE_ATTEMPTS` failures cost nothing;
after that each one makes the address wait twice as long as the last (2 s, 4 s, 8 s ... at most
:data:`MAX_DELAY`), and an attempt during the wait is refused with 429 and ``Retry-After``
without its password being looked at. A right password clears the count; a count left alone
for :data:`FORGET_AFTER` starts again from nothing.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta

import sqlalchemy as sa

from switchboard.callbacks.console.tables import insert_ignoring, login_failures

FREE_ATTEMPTS = 3
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)


def client_key(address: str | None) -> str:
    """The address the count is kept under: IPv4 as is, IPv6 by its /64 network."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def delay_after(failures: int) -> timedelta:
    """How long an address waits after ``failures`` wrong passwords in a row."""
    if failures < FREE_ATTEMPTS:
        return timedelta(0)
    seconds = 2 ** min(failures - FREE_ATTEMPTS + 1, 20)
    return min(timedelta(seconds=seconds), MAX_DELAY)


def retry_after(until: datetime, now: datetime) -> int:
    """Whole seconds to wait until ``until`` (at least 1)."""
    return max(1, math.ceil((until - now).total_seconds()))


def take_attempt(conn: sa.Connection, key: str, now: datetime) -> int | None:
    """Count an attempt of ``key`` as a failure before its password is checked: None when it
    may go ahead, else the seconds it must wait (``Retry-After``)."""
    table = login_failures
    row = conn.execute(
        sa.select(table.c.failures, table.c.last_failed_at, table.c.blocked_until)
        .where(table.c.address == key)
    ).first()
    if row is None:
        added = conn.execute(insert_ignoring(conn, table).values(
            address=key, failures=1, last_failed_at=now, blocked_until=now + delay_after(1),
        ).returning(table.c.address)).first()
        return None if added is not None else 1  # another attempt of the address, at once
    failures, last_failed_at, blocked_until = row
    if blocked_until > now:
        return retry_after(blocked_until, now)
    count = 1 if now - last_failed_at > FORGET_AFTER else failures + 1
    changed = conn.execute(
        sa.update(table)
        .where(table.c.address == key, table.c.failures == failures,
               table.c.last_failed_at == last_failed_at)
        .values(failures=count, last_failed_at=now, blocked_until=now + delay_after(count))
        .returning(table.c.address)
    ).first()
    return None if changed is not None else 1


def succeeded(conn: sa.Connection, key: str, now: datetime) -> None:
    """A right password: the address starts again from nothing (and old counts are dropped)."""
    table = login_failures
    conn.execute(sa.delete(table).where(
        sa.or_(table.c.address == key, table.c.last_failed_at < now - FORGET_AFTER)
    ))
