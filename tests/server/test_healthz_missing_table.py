"""``/healthz`` finding a table gone: it creates it again and keeps the pool's connections."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from switchboard.callbacks.store import schema
from tests.conftest import serving
from tests.server.conftest import make_app


@pytest.fixture
def db_app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    yield app
    app.extensions["switchboard"].store.close()


def _drop_from_elsewhere(url: sa.URL, table: sa.Table) -> None:
    """Drop ``table`` as another process would: on an engine of its own."""
    other = sa.create_engine(url)
    try:
        with other.begin() as conn:
            table.drop(conn)
    finally:
        other.dispose()


def _healthy(base: str) -> int:
    end = time.monotonic() + 10
    while (status := requests.get(base + "/healthz", timeout=5).status_code) != 200:
        if time.monotonic() > end:
            break
        time.sleep(0.1)
    return status


def test_a_table_found_missing_keeps_the_pools_connections(db_app: Flask) -> None:
    """A missing table says nothing of the connections: the idle ones stay in the pool, open,
    and one another thread holds meanwhile goes back to the same pool."""
    store = db_app.extensions["switchboard"].store
    pool = store.engine.pool
    held = store.engine.raw_connection()  # checked out by "another thread" across the check
    held_dbapi = held.dbapi_connection
    idle = [store.engine.raw_connection() for _ in range(2)]
    idle_dbapi = [fairy.dbapi_connection for fairy in idle]
    for fairy in idle:
        fairy.close()

    with serving(db_app) as base:
        assert _healthy(base) == 200
        _drop_from_elsewhere(store.url, schema.metadata.tables["voice_sessions"])
        assert _healthy(base) == 200

    with store.engine.connect() as conn:
        assert "voice_sessions" in sa.inspect(conn).get_table_names()
    assert store.engine.pool is pool
    held.close()
    assert pool.checkedin() >= 3
    again: list[Any] = [store.engine.raw_connection() for _ in range(pool.checkedin())]
    try:
        dbapi = [fairy.dbapi_connection for fairy in again]
        for kept in [*idle_dbapi, held_dbapi]:
            assert any(kept is connection for connection in dbapi)
        cursor = again[0].cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
        cursor.close()
    finally:
        for fairy in again:
            fairy.close()
