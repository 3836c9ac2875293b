"""Waiting for a child that a test forked, never for ever.

Some tests check what a forked process inherits: the ``os.register_at_fork`` handlers of the
store, the write-behind queue and the Studio timers, state reset in the child, a lock a
thread of the parent held at the fork being free there. They fork the pytest process itself,
which runs other threads meanwhile (write-behind and purge threads, timers, watchdogs, left
by earlier tests and fixtures). A lock one of those threads held at the fork (a logging
handler's, the import lock, one of SQLite's mutexes, one of ours) stays held in the child,
which may then block for ever; a test waiting for that child would hang the whole run.

A child forked by a test answers through its exit code, or through a pipe, and always leaves
with ``os._exit``::

    pid = os.fork()
    if pid == 0:
        code = 2  # an error in the child
        try:
            code = 0 if what_is_checked() else 1
        finally:
            os._exit(code)
    assert wait_child(pid) == 0

The parent waits with :func:`wait_child` or :func:`child_report`: a child that has not exited
after :data:`CHILD_TIMEOUT` seconds is killed, and the test fails saying that it hung.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time

import pytest

#: Seconds a forked child has to answer and exit before it is killed.
CHILD_TIMEOUT = 30.0


def wait_child(pid: int, timeout: float = CHILD_TIMEOUT) -> int:
    """The exit code of the forked child ``pid`` (minus the signal's number if one ended it),
    once it has exited; fails the test, the child killed, when it is still running after
    ``timeout`` seconds."""
    return _wait_until(pid, time.monotonic() + timeout, timeout)


def child_report(pid: int, read: int, timeout: float = CHILD_TIMEOUT) -> tuple[bytes, int]:
    """What the forked child ``pid`` wrote to the pipe ``read`` until it exited, and its exit
    code (as :func:`wait_child`); ``read`` is closed. The pipe's write end must be closed in
    this process already. Fails the test, the child killed, when the child has not closed
    the pipe and exited after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    poll = select.poll()
    poll.register(read, select.POLLIN)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not poll.poll(left * 1000):
                continue
            chunk = os.read(read, 65536)
            if not chunk:  # every write end closed: the child is exiting
                break
            chunks.append(chunk)
    finally:
        os.close(read)
    return b"".join(chunks), _wait_until(pid, deadline, timeout)


def _wait_until(pid: int, deadline: float, timeout: float) -> int:
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(
        f"the forked child {pid} hung: still running after {timeout:g} s, killed (stuck on a "
        "lock a thread of the parent held at the fork?)",
        pytrace=False,
    )
