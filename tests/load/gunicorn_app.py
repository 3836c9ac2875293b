"""What the load suite's gunicorn serves besides the bundled flows: the broken handlers of
``tests/server/test_error_policy`` (hanging far past any handler timeout) and a small flow that
repeats what the caller said (``gunicorn -c deploy/gunicorn.conf.py tests.load.gunicorn_app:app``).
"""

from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.production import production_app
from switchboard.callbacks.twilio_request import CallRequest
from switchboard.callbacks.twiml import VoiceResponse
from tests.server.test_error_policy import broken_blueprint

#: Longer than any SWITCHBOARD_HANDLER_TIMEOUT the tests set, shorter than a test run.
HANG_FOR = 20

echo = TwilioBlueprint("echo", __name__, url_prefix="/echo")


@echo.voice("/ask")
def ask(call: CallRequest) -> VoiceResponse:
    response = VoiceResponse()
    with response.gather(input="speech", action="/echo/heard", method="POST") as gather:
        gather.say("Say something.")
    return response


@echo.voice("/heard")
def heard(call: CallRequest) -> VoiceResponse:
    response = VoiceResponse()
    response.say(f"You said: {call.speech_result or ''}")
    response.hangup()
    return response


app = production_app()
app.register_blueprint(broken_blueprint(hang_for=HANG_FOR))
app.register_blueprint(echo)
