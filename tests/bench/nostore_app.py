"""The production app with its database calls replaced by no-ops, for ``bench_server``: the
difference from the real run is what the database costs, the rest is the server's own path."""

from __future__ import annotations

from typing import Any

from switchboard.callbacks.flows import status as status_routes
from switchboard.callbacks.production import production_app


class NullStore:
    """Answers every store call at once: nothing stored, nothing opted out, empty sessions."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("record_") and name.endswith("_status"):
            return lambda *args, **kwargs: True
        if name.startswith("load_"):
            return lambda *args, **kwargs: {}
        if name == "is_opted_out":
            return lambda *args, **kwargs: False
        if name == "run":  # a statement of its own (the exchanges' purge): no rows
            return lambda *args, **kwargs: 0
        return lambda *args, **kwargs: None


app = production_app()
app.extensions["switchboard"].store = NullStore()
# a call's status callback also ends its Studio executions, in the database
status_routes.end_call_executions = lambda *args, **kwargs: 0
