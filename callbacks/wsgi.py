"""The production entry point: ``gunicorn callbacks.wsgi:app`` (see ``deploy/gunicorn.conf.py``).

It refuses to start without ``TWILIO_AUTH_TOKEN`` (see :mod:`switchboard.callbacks.production`).
"""

from switchboard.callbacks.production import production_app

app = production_app()
