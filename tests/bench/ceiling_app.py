"""The benchmark's ceiling: a bare Flask app that answers any path with a constant TwiML string.

Served by the same gunicorn configuration as Switchboard, it measures what gunicorn, werkzeug
and Flask cost by themselves, so that the server's figures can be read as a ratio of it.
"""

from flask import Flask, Response

CONSTANT = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thank you for calling.</Say>'
    b"</Response>"
)

app = Flask(__name__)


@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def constant(path: str) -> Response:
    return Response(CONSTANT, content_type="text/xml; charset=utf-8")
