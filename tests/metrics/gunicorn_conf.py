"""``deploy/gunicorn.conf.py`` as it is, for the tests and the benchmark:
``gunicorn -c tests/metrics/gunicorn_conf.py APP``."""

import runpy
from pathlib import Path

_DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"
globals().update(
    {k: v for k, v in runpy.run_path(str(_DEPLOY)).items() if not k.startswith("__")}
)
