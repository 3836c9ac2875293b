"""What the gunicorn tests serve: the production app plus the broken handlers of
``test_error_policy`` (``gunicorn -c deploy/gunicorn.conf.py tests.server.gunicorn_app:app``)."""

import gc

from flask import jsonify

from switchboard.callbacks.production import production_app
from tests.server.broken import broken_blueprint

app = production_app()
app.register_blueprint(broken_blueprint(hang_for=1.5))


@app.get("/test-gc")
def garbage_collector():  # type: ignore[no-untyped-def]
    """What the worker's garbage collector looks like (deploy/gunicorn.conf.py freezes it)."""
    return jsonify(frozen=gc.get_freeze_count())
