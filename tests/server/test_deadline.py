"""The handler deadline: a SIGALRM timer in the main thread, worker threads elsewhere."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from switchboard.callbacks.deadline import Deadline, HandlerTimeout, abandoned, shielded
from switchboard.callbacks.store import Store

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no setitimer here")


def test_the_main_thread_runs_the_handler_itself() -> None:
    seen = []
    assert Deadline(5).run(lambda: seen.append(threading.current_thread()) or 7) == 7
    assert seen == [threading.main_thread()]


def test_a_hanging_handler_is_interrupted_at_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(HandlerTimeout, match=r"longer than 0\.1 s"):
        Deadline(0.1).run(lambda: time.sleep(5))
    assert 0.09 < time.monotonic() - started < 1


def test_a_handler_waiting_on_a_lock_is_interrupted() -> None:
    gate = threading.Event()
    with pytest.raises(HandlerTimeout):
        Deadline(0.1).run(lambda: gate.wait(5))


def test_no_signal_is_left_behind() -> None:
    Deadline(0.05).run(lambda: None)
    with pytest.raises(HandlerTimeout):
        Deadline(0.05).run(lambda: time.sleep(1))
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.15)  # a stray SIGALRM would raise here


def test_a_swallowed_timeout_comes_back() -> None:
    caught = []

    def stubborn() -> None:
        while len(caught) < 3:
            try:
                time.sleep(1)
            except HandlerTimeout as timeout:
                caught.append(timeout)
        raise RuntimeError("gave up")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="gave up"):
        Deadline(0.1).run(stubborn)
    assert len(caught) == 3
    assert time.monotonic() - started < 1


def test_a_shielded_section_finishes_before_the_timeout_is_raised() -> None:
    steps = []

    def handler() -> None:
        with shielded():
            time.sleep(0.2)  # the deadline passes in here
            steps.append("inside")
        steps.append("after")  # never reached

    with pytest.raises(HandlerTimeout):
        Deadline(0.05).run(handler)
    assert steps == ["inside"]


def test_abandoned_tells_late_work_after_the_deadline() -> None:
    seen = []

    def handler() -> None:
        seen.append(abandoned())
        try:
            time.sleep(1)
        except HandlerTimeout:
            seen.append(abandoned())
            raise

    with pytest.raises(HandlerTimeout):
        Deadline(0.05).run(handler)
    assert seen == [False, True]
    assert not abandoned()


def test_other_threads_use_worker_threads() -> None:
    outcome: dict[str, object] = {}

    def request_thread() -> None:
        deadline = Deadline(0.1)
        outcome["ran in"] = deadline.run(threading.current_thread)
        try:
            deadline.run(lambda: time.sleep(0.5))
        except HandlerTimeout as timeout:
            outcome["timeout"] = timeout

    thread = threading.Thread(target=request_thread)
    thread.start()
    thread.join(5)
    assert outcome["ran in"] is not thread
    assert outcome["ran in"].name.startswith("switchboard-handler")  # type: ignore[union-attr]
    assert isinstance(outcome["timeout"], HandlerTimeout)


def test_someone_elses_sigalrm_handler_is_left_alone() -> None:
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    try:
        deadline = Deadline(0.1)
        assert deadline.run(threading.current_thread) is not threading.main_thread()
        with pytest.raises(HandlerTimeout):
            deadline.run(lambda: time.sleep(0.5))
        assert fired == []
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_use_alarm_false_always_uses_threads() -> None:
    assert Deadline(1, use_alarm=False).run(threading.current_thread) is not (
        threading.main_thread()
    )


def test_a_store_transaction_finishes_before_the_timeout_is_raised(tmp_path: Path) -> None:

    store = Store(f"sqlite:///{tmp_path / 'deadline.sqlite3'}")
    try:
        store.create_all()
        started = time.monotonic()
        with pytest.raises(HandlerTimeout):
            Deadline(0.05).run(lambda: store._run_sql(lambda cursor: time.sleep(0.2)))
        assert time.monotonic() - started >= 0.2  # the transaction ran to its end
        store.record_call({"CallSid": "CA" + "1" * 32, "CallStatus": "ringing"})  # lock free
        assert store.get_call("CA" + "1" * 32)["status"] == "ringing"
    finally:
        store.close()


@pytest.mark.parametrize("use_alarm", [True, False])
def test_started_leaves_the_callable_what_is_left(use_alarm: bool) -> None:
    deadline = Deadline(0.3, use_alarm=use_alarm)
    began = time.monotonic() - 0.2  # the request's body took 0.2 s
    with pytest.raises(HandlerTimeout, match=r"longer than 0\.3 s"):
        deadline.run(lambda: time.sleep(1), started=began)
    assert time.monotonic() - began < 0.45
    with pytest.raises(HandlerTimeout):  # nothing left: not even started
        deadline.run(lambda: pytest.fail("ran past the deadline"), started=began - 1)
    assert deadline.run(lambda: 7, started=time.monotonic()) == 7


def test_interrupts_says_where_a_blocking_read_is_cut_short() -> None:
    assert Deadline(1).interrupts()
    assert not Deadline(0).interrupts()
    assert not Deadline(1, use_alarm=False).interrupts()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(Deadline(1).interrupts()))
    thread.start()
    thread.join(5)
    assert seen == [False]
    assert Deadline(1).run(lambda: Deadline(1).interrupts()) is False  # one alarm at a time
