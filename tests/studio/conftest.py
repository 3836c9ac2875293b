"""Fixtures of the flows' tests: an app's database on SQLite and PostgreSQL, Twilio sending it
webhooks, its store (a module defines ``app``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.conftest import _fresh_postgres_url, _postgres_base_url
from tests.server.conftest import Twilio


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database for a module's app: an SQLite file, then a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('studio') / 'switchboard.sqlite3'}"
    else:
        yield from _fresh_postgres_url(_postgres_base_url())


@pytest.fixture
def twilio(app: Flask) -> Twilio:
    return Twilio(app.test_client())


@pytest.fixture
def store(app: Flask) -> Any:
    return app.extensions["switchboard"].store
