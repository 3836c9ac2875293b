"""What the gunicorn tests serve: the production app plus the broken handlers of
``test_error_policy`` (``gunicorn -c deploy/gunicorn.conf.py tests.server.gunicorn_app:app``)."""

from callbacks.production import production_app
from tests.server.broken import broken_blueprint

app = production_app()
app.register_blueprint(broken_blueprint(hang_for=1.5))
