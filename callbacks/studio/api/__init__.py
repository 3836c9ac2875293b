"""Studio's REST API v2 on this server, at ``/v2``: Twilio's paths and JSON shapes for flows
(and their revisions, test users and validation), executions, steps and their contexts, with
Twilio's HTTP basic auth, error bodies and paging. See ``docs/studio-api.md``.

- :mod:`.blueprint`: the routes; :mod:`.auth`, :mod:`.errors`, :mod:`.paging`,
  :mod:`.forms`, :mod:`.urls`, :mod:`.request_ids`: what every resource shares;
- :mod:`.catalog`: the flows served (the flows folder's, read-only, and the API's, in the
  database: :mod:`switchboard.callbacks.studio.flows_store`);
- :mod:`.flows`, :mod:`.revisions`, :mod:`.validate`, :mod:`.test_users`,
  :mod:`.executions`, :mod:`.steps`, :mod:`.context`: the resources.
"""

from __future__ import annotations

from flask import Flask

from switchboard.callbacks.studio.api.blueprint import NAME, studio_api_blueprint

__all__ = ["register_studio_api", "studio_api_blueprint"]


def register_studio_api(app: Flask) -> None:
    """Serve the Studio API at ``/v2`` on ``app`` (:func:`~switchboard.callbacks.create_app`'s).
    Its flows run at ``/flows/FW...`` through the app's ``/flows`` blueprint; once is enough
    (a second call does nothing)."""
    if NAME in app.blueprints:
        return
    app.register_blueprint(studio_api_blueprint())
