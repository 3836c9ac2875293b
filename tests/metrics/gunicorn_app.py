"""What the metrics' gunicorn tests and benchmark serve: the production app with
``register_metrics`` (on when SWITCHBOARD_METRICS_TOKEN is set), until ``create_app`` calls it
itself: ``gunicorn -c tests/metrics/gunicorn_conf.py tests.metrics.gunicorn_app:app``."""

from switchboard.callbacks.metrics import register_metrics
from switchboard.callbacks.production import production_app

app = production_app()
register_metrics(app)
