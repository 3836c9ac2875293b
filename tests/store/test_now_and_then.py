"""Housekeeping rounds (:class:`NowAndThen`): at most one at a time, never in the caller's
thread, and afresh in a forked child."""

from __future__ import annotations

import os
import threading
from typing import Any

from switchboard.callbacks.now_and_then import NowAndThen
from tests.forking import wait_child


class Rounds(NowAndThen):
    what = "test rows"
    thread_name = "test-rounds"

    def __init__(self, every: float) -> None:
        super().__init__(every)
        self.ran = threading.Event()
        self.threads: list[str] = []

    def work(self, store: Any) -> None:
        self.threads.append(threading.current_thread().name)
        self.ran.set()


def test_a_round_runs_in_its_own_thread_then_not_again_within_the_interval() -> None:
    rounds = Rounds(every=3600)
    rounds(object())
    assert rounds.ran.wait(5), "the round never ran"
    while not rounds._lock.acquire(timeout=5):  # its thread is done
        pass
    rounds._lock.release()
    rounds.ran.clear()
    rounds(object())
    assert not rounds.ran.wait(0.2)
    assert rounds.threads == ["test-rounds"]


def test_a_child_forked_while_a_round_runs_runs_its_own() -> None:
    """The round's lock, held by a thread of the parent at the fork, is free in the child,
    and the parent's last round does not count there: the child's first call runs one."""
    rounds = Rounds(every=3600)
    rounds(object())
    assert rounds.ran.wait(5)
    assert rounds._lock.acquire(timeout=5)  # as if a round of the parent were running
    try:
        pid = os.fork()
        if pid == 0:  # the child answers by its exit code, and exits at once whatever happens
            code = 2
            try:
                rounds.ran.clear()
                rounds(object())
                code = 0 if rounds.ran.wait(10) else 1
            finally:
                os._exit(code)
        code = wait_child(pid)
    finally:
        rounds._lock.release()
    assert code != 1, "the child never ran a round: the parent's lock or interval held it"
    assert code == 0, f"the child failed (exit {code})"
