"""The production app with its database calls replaced by no-ops, for ``bench_server``: the
difference from the real run is what the database costs, the rest is the server's own path."""

from __future__ import annotations

from typing import Any

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
        return lambda *args, **kwargs: None


app = production_app()
app.extensions["switchboard"].store = NullStore()
