"""The connection pool's own log lines stay under SQLAlchemy's loggers, not the app's."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from switchboard.callbacks.store import Store


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def app_log_at_info() -> Iterator[Lines]:
    """The app's logger at INFO with a handler of its own and no propagation, as gunicorn's
    error log sets it up (``callbacks.production.GunicornLogger``)."""
    app_log = logging.getLogger("switchboard.callbacks")
    saved = app_log.level, app_log.handlers[:], app_log.propagate
    lines = Lines()
    app_log.handlers[:] = [lines]
    app_log.setLevel(logging.INFO)
    app_log.propagate = False
    yield lines
    app_log.setLevel(saved[0])
    app_log.handlers[:] = saved[1]
    app_log.propagate = saved[2]


def test_a_disposed_and_recreated_pool_writes_nothing_to_the_app_log(
    database_url: str, app_log_at_info: Lines, caplog: pytest.LogCaptureFixture
) -> None:
    """Every gunicorn worker disposes of the pool it inherited; SQLAlchemy's INFO lines about
    it ("Pool disposed", "Pool recreating") are its own, off unless its loggers are turned on,
    and are not the app's lines in the error log."""
    store = Store(database_url)
    store.create_all()
    with caplog.at_level(logging.INFO, logger="sqlalchemy.pool"):
        store.engine.dispose()
        store.ping()
    store.close()
    pool_lines = [line for line in app_log_at_info.lines if "Pool " in line]
    assert pool_lines == []
    assert "Pool disposed" in caplog.text  # where they go: sqlalchemy.pool, when asked for
