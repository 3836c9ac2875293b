"""Fixtures of the flows' tests: Twilio sending webhooks to a module's app (made on the
suite's ``module_database_url``, SQLite and PostgreSQL), its store."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.server.conftest import Twilio


@pytest.fixture
def twilio(app: Flask) -> Twilio:
    return Twilio(app.test_client())


@pytest.fixture
def store(app: Flask) -> Any:
    return app.extensions["switchboard"].store
