"""Fixtures of the flows' tests: Twilio sending webhooks to a module's app (made on the
suite's ``module_database_url``, SQLite and PostgreSQL), its store. They are the server
tests' own ``twilio`` and ``store``, on the ``app`` each test module makes."""

from __future__ import annotations

from tests.server.conftest import store, twilio

__all__ = ["store", "twilio"]
