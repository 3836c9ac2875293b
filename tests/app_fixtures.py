"""Fixtures on the ``app`` a test module (or its folder's conftest) makes: ``twilio``, signed
webhooks to it, and ``store``, its store.

A pytest plugin of the whole suite (``pytest_plugins`` in ``tests/conftest.py``): a module
that makes an ``app`` gets both without defining or importing them.
"""

from __future__ import annotations

import pytest
from flask import Flask

from switchboard.callbacks.store import Store
from tests.server.conftest import Twilio


@pytest.fixture
def twilio(app: Flask) -> Twilio:
    """Signed webhooks to ``app``."""
    return Twilio(app.test_client())


@pytest.fixture
def store(app: Flask) -> Store:
    """``app``'s store."""
    return app.extensions["switchboard"].store
