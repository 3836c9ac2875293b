from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.callbacks.store import Store
from tests.conftest import _fresh_postgres_url, _postgres_base_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_url(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite, then a fresh PostgreSQL database, one per module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('timers') / 'switchboard.sqlite3'}"
    else:
        yield from _fresh_postgres_url(_postgres_base_url())


@pytest.fixture(scope="module")
def store(module_url: str) -> Iterator[Any]:
    made = Store(module_url)
    made.create_all()
    yield made
    made.close()
