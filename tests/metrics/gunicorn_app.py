"""What the metrics' gunicorn tests and benchmark serve:
``gunicorn -c tests/metrics/gunicorn_conf.py tests.metrics.gunicorn_app:app``.

The production app as it is: ``/metrics`` when SWITCHBOARD_METRICS_TOKEN is set
(``create_app`` registers it), and the Studio flows of SWITCHBOARD_FLOWS_DIR, which
``test_flow_metrics_gunicorn`` sets to a folder of its own."""

from switchboard.callbacks.production import production_app

app = production_app()
