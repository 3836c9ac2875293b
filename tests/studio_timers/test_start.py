"""Where :func:`start_timers` starts the thread: where the app serves, once per process; in
each gunicorn worker but never in a master that preloads the app; not in the reloader's
watcher, nor for a command's or a test's app unless asked."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask
from flask.cli import run_command

from switchboard.callbacks.studio.blueprint import studio_blueprint
from switchboard.callbacks.studio.timers import TIMERS_EXTENSION, start_timers
from tests.forking import child_report
from tests.server.conftest import clean_app
from tests.studio_timers import FakeTwilio, ask_flow

FLOWS = {"ask": ask_flow()}


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    made: list[Flask] = []

    def make(flows: dict[str, Any] | None = None, **config: Any) -> Flask:
        app = clean_app(f"sqlite:///{tmp_path / 'switchboard.sqlite3'}", BUNDLED_FLOWS=False,
                        STUDIO_FLOWS=False, **config)
        app.register_blueprint(studio_blueprint(FLOWS if flows is None else flows,
                                                client_factory=FakeTwilio().factory))
        made.append(app)
        return app

    yield make
    for app in made:
        timers = app.extensions.get(TIMERS_EXTENSION)
        if timers is not None:
            timers.stop()
        app.extensions["switchboard"].store.close()


def test_a_tests_app_gets_timers_that_do_not_run(make_app):
    app = make_app()
    timers = start_timers(app)
    assert timers is not None
    assert not timers.running
    assert start_timers(app) is timers
    assert timers.runtime.flows.keys() == FLOWS.keys()


def test_studio_timers_true_starts_them_and_false_turns_them_off(make_app):
    started = start_timers(make_app(STUDIO_TIMERS=True))
    assert started is not None
    assert started.running
    started.stop()
    assert not started.running
    assert start_timers(make_app(STUDIO_TIMERS=False)) is None


def test_no_flows_in_the_folder_still_timers_for_the_studio_apis(make_app):
    timers = start_timers(make_app({}, STUDIO_TIMERS=True))
    assert timers is not None
    assert timers.running


def test_a_serving_app_starts_them_at_once(make_app):
    app = make_app(TESTING=False)
    timers = start_timers(app)
    assert timers is not None
    assert timers.running


def test_a_command_app_does_not(make_app):
    timers = start_timers(make_app(TESTING=False, QUIET_START=True))
    assert timers is not None
    assert not timers.running


def in_module(name: str, work: Any) -> Any:
    """``work()`` called from a frame of the module ``name`` (gunicorn's, say)."""
    module = types.ModuleType(name)

    def call(inner: Any) -> Any:
        return inner()

    return types.FunctionType(call.__code__, module.__dict__)(work)


@pytest.fixture
def gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gunicorn.arbiter", types.ModuleType("gunicorn.arbiter"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_gunicorn_master_preloading_the_app_leaves_them_to_its_workers(make_app, gunicorn):
    timers = in_module("gunicorn.app.base", lambda: start_timers(make_app(TESTING=False)))
    assert timers is not None
    assert timers.in_children
    assert not timers.running
    assert forked_child_runs(timers)
    assert not timers.running  # still not in the master


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_an_app_gunicorns_master_makes_to_check_the_settings_gets_none(make_app, gunicorn):
    timers = start_timers(make_app(TESTING=False))  # on_starting: no gunicorn.app frame
    assert timers is not None
    assert not timers.in_children
    assert not timers.running
    assert not forked_child_runs(timers)


def test_a_gunicorn_worker_loading_the_app_starts_them(make_app, gunicorn):
    timers = in_module("gunicorn.workers.sync", lambda: in_module(
        "gunicorn.app.base", lambda: start_timers(make_app(TESTING=False))))
    assert timers is not None
    assert timers.running
    assert not timers.in_children


def test_the_first_request_starts_them_where_nothing_else_did(make_app, gunicorn):
    app = make_app(TESTING=False)
    timers = start_timers(app)
    assert timers is not None
    assert not timers.running
    app.test_client().get("/healthz")
    assert timers.running
    timers.stop()
    app.test_client().get("/healthz")
    assert not timers.running  # stopped for good (the process is ending)


def forked_child_runs(timers: Any) -> bool:
    """Whether a process forked now runs the timers."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answers, and exits at once (its thread, if any, with it)
        try:
            os.write(write, b"1" if timers.running else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer, code = child_report(pid, read)
    assert code == 0, f"the child failed (exit {code})"
    assert answer in (b"0", b"1"), f"the child answered {answer!r}"
    return answer == b"1"


@pytest.mark.parametrize(("reload", "run_main", "runs"), [
    (True, None, False), (True, "true", True), (False, None, True),
])
def test_the_reloaders_watcher_gets_none(make_app, monkeypatch, reload, run_main, runs):
    if run_main:
        monkeypatch.setenv("WERKZEUG_RUN_MAIN", run_main)
    else:
        monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    app = make_app(TESTING=False)
    with click.Context(run_command) as context:
        context.params = {"reload": reload}
        timers = start_timers(app)
    assert timers is not None
    assert timers.running is runs


def test_an_app_made_for_another_command_gets_none(make_app):
    app = make_app(TESTING=False)
    with click.Context(click.Command("run")):  # `switchboard flows run`: not the server
        timers = start_timers(app)
    assert timers is not None
    assert not timers.running
