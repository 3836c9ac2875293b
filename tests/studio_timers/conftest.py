from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.callbacks.store import Store


@pytest.fixture(scope="module")
def store(module_database_url: str) -> Iterator[Any]:
    made = Store(module_database_url)
    made.create_all()
    yield made
    made.close()
