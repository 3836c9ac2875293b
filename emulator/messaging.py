"""Messages: an inbound SMS posted to a number's SMS URL, and outbound delivery statuses.

Delivery outcomes are scriptable by the destination number (``Phone.message_outcomes``); a
few magic numbers fail out of the box, in the spirit of Twilio's test numbers:

================  ============  ==========  ===================================
To                final status  ErrorCode   meaning
================  ============  ==========  ===================================
+15005550010      undelivered   30003       unreachable destination handset
+15005550011      undelivered   30005       unknown destination handset
+15005550012      failed        30008       unknown error
+15005550013      undelivered   30007       message filtered (carrier violation)
anything else     delivered
================  ============  ==========  ===================================

The callbacks of the statuses a carrier's delivery receipt decides (delivered, undelivered) carry
its done date, ``RawDlrDoneDate``, as Twilio's do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from switchboard.emulator.resources import API_VERSION, now
from switchboard.emulator.transcript import Event, Transcript
from switchboard.emulator.twiml_runner import (
    ERROR_LOG,
    INVALID_BODY,
    MESSAGING_VERBS,
    WARNING_LOG,
    TwiMLProblem,
    create_outbound_message,
    geography,
    interpret,
    message_content,
    message_problem,
)
from switchboard.emulator.webhooks import WebhookClient, WebhookResponse

if TYPE_CHECKING:
    from switchboard.emulator.caller import Phone

#: Twilio's error for an account that is not active (suspended or closed).
INACTIVE_ACCOUNT = 10001

MAGIC_MESSAGE_OUTCOMES: dict[str, tuple[str, int]] = {
    "+15005550010": ("undelivered", 30003),
    "+15005550011": ("undelivered", 30005),
    "+15005550012": ("failed", 30008),
    "+15005550013": ("undelivered", 30007),
}
ERROR_TEXTS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30007: "Message filtered",
    30008: "Unknown error",
}
#: The statuses a carrier's delivery receipt decides: their callbacks carry ``RawDlrDoneDate``.
DELIVERY_RECEIPT_STATUSES = frozenset({"delivered", "undelivered"})
#: Documents one incoming message runs at most (its webhook's, then each ``<Redirect>``'s or
#: ``<Message action>``'s): the next one past it is not requested.
MAX_MESSAGING_DOCUMENTS = 10
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                              "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
OPTED_OUT = 21610
OPT_OUT_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from this "
    "number. Reply START to resubscribe."
)
OPT_IN_REPLY = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for "
    "help. Reply STOP to unsubscribe."
)


def raw_dlr_done_date(when: datetime | None = None) -> str:
    """The done date of a delivery receipt as Twilio passes it on: ``YYMMDDhhmm``, to the
    minute, with no time zone (the emulator's carrier keeps UTC)."""
    return (when or now()).strftime("%y%m%d%H%M")


def guess_content_type(url: str) -> str:
    lowered = url.lower().split("?")[0]
    for suffix, ctype in ((".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".png", "image/png"),
                          (".gif", "image/gif"), (".mp3", "audio/mpeg"), (".pdf",
                          "application/pdf"), (".vcf", "text/vcard"), (".mp4", "video/mp4")):
        if lowered.endswith(suffix):
            return ctype
    return "image/jpeg"


class Messaging:
    """The messaging half of the phone: inbound SMS and delivery of outbound messages."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self._clients: dict[tuple[str, str], WebhookClient] = {}
        self._lock = threading.Lock()

    def _client_for(self, from_: str, to: str) -> WebhookClient:
        """One client (cookie jar) per conversation, as Twilio keeps SMS cookies per pair."""
        with self._lock:
            client = self._clients.get((from_, to))
            if client is None:
                client = self._clients[(from_, to)] = self.phone.new_client()
            return client

    def inbound_sms(
        self,
        to: str,
        from_: str,
        body: str,
        media_urls: Iterable[str] = (),
        *,
        on_event: Callable[[Event], None] | None = None,
    ) -> Transcript:
        """Deliver an SMS from ``from_`` to the number ``to``; the transcript of the exchange."""
        state = self.phone.state
        transcript = Transcript("message", on_event=on_event)
        number = state.find_number(to) or state.find_number(to.removeprefix("whatsapp:"))
        if number is None:
            transcript.add("error", f"{to} is not a number of this emulator")
            transcript.status = "failed"
            transcript.done.set()
            return transcript
        account_sid = number["account_sid"]
        if not self.phone.account_active(account_sid):
            transcript.add("error", f"{to} belongs to an account that is not active: the text "
                           f"is not delivered (error {INACTIVE_ACCOUNT})", code=INACTIVE_ACCOUNT)
            transcript.error_codes.append(INACTIVE_ACCOUNT)
            transcript.status = "failed"
            transcript.done.set()
            return transcript
        config = self.phone.sms_config(number)
        media = list(media_urls)
        message = state.create_message(
            account_sid, to=to, from_=from_, body=body, direction="inbound", status="received",
            media_url=media, application_sid=number.get("sms_application_sid"),
        )
        transcript.sid = message["sid"]
        self.phone.remember(message["sid"], transcript)
        transcript.add("received", f"from {from_}: {body}", message=message)
        keyword = body.strip().upper()
        if keyword in OPT_OUT_KEYWORDS:
            state.opt_out(from_, to)
            transcript.add("opt-out", f"{from_} opted out of messages from {to}; Twilio "
                           f"replies: {OPT_OUT_REPLY}")
        elif keyword in OPT_IN_KEYWORDS:
            state.opt_in(from_, to)
            transcript.add("opt-in", f"{from_} opted back in; Twilio replies: {OPT_IN_REPLY}")
        params = {
            "AccountSid": account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            **geography(("From",), from_),
            "MessageSid": message["sid"],
            "NumMedia": str(len(media)),
            "NumSegments": str(message.get("num_segments") or "1"),
            "SmsMessageSid": message["sid"],
            "SmsSid": message["sid"],
            "SmsStatus": "received",
            "To": to,
            **geography(("To",), to),
        }
        if from_.startswith("whatsapp:"):
            params.update(ProfileName=self.phone.caller_names.get(from_, "WhatsApp User"),
                          WaId=from_.removeprefix("whatsapp:").lstrip("+"))
        for index, url in enumerate(media):
            params[f"MediaUrl{index}"] = url
            params[f"MediaContentType{index}"] = guess_content_type(url)
        if not config["url"]:
            transcript.add("error", f"{to} has no SMS URL: the message is stored, not answered")
            transcript.status = "received"
            transcript.done.set()
            return transcript
        client = self._client_for(from_, to)
        token = state.auth_token_for(account_sid)
        url, method, purpose = config["url"], config["method"], "sms"
        for _ in range(MAX_MESSAGING_DOCUMENTS):
            response = client.fetch(url, params, auth_token=token, method=method)
            transcript.add_request(purpose, response)
            root = self._runnable(response, transcript, account_sid, message["sid"])
            if root is None and config["fallback_url"]:
                fallback = client.fetch(
                    config["fallback_url"],
                    {**params, "ErrorCode": str(response.error_code), "ErrorUrl": response.url},
                    auth_token=token, method=config["fallback_method"],
                )
                transcript.add_request("sms-fallback", fallback)
                root = self._runnable(fallback, transcript, account_sid, message["sid"])
                if root is not None:
                    response = fallback
            if root is None:
                transcript.add("error", f"error {transcript.error_codes[-1]}: no reply sent "
                               "(logged in the debugger)")
                break
            doc_url = response.final_url or response.url
            follow = self._run_reply(root, doc_url, account_sid, to, from_, config, transcript)
            if follow is None:
                break
            url, method, extra = follow
            params = {**params, **extra}
            purpose = "sms-redirect"
        else:
            transcript.add("error", "the message's TwiML went on for more than "
                           f"{MAX_MESSAGING_DOCUMENTS} documents: {url} is not requested")
        transcript.status = "received"
        transcript.done.set()
        return transcript

    def _runnable(self, response: WebhookResponse, transcript: Transcript, account_sid: str,
                  message_sid: str) -> Any:
        problem: TwiMLProblem | None = None
        if not response.ok:
            problem = TwiMLProblem(response.error_code or 11200, response.error_message)
        else:
            warnings: list[TwiMLProblem] = []
            try:
                root = interpret(response, MESSAGING_VERBS, warnings)
            except TwiMLProblem as exc:
                problem = exc
                response.error_code = exc.code
                response.error_message = str(exc)
                transcript.error_codes.append(exc.code)
            else:
                for warning in warnings:  # logged, and the reply is sent all the same
                    transcript.error_codes.append(warning.code)
                    transcript.add("warning", f"warning {warning.code}: {warning}",
                                   code=warning.code)
                    self._notify(warning, response, account_sid, message_sid, WARNING_LOG)
                return root
        self._notify(problem, response, account_sid, message_sid, ERROR_LOG)
        return None

    def _notify(self, problem: TwiMLProblem, response: WebhookResponse, account_sid: str,
                message_sid: str, log: str) -> None:
        self.phone.state.create_notification(
            account_sid, None, error_code=str(problem.code), log=log,
            message_text=f"{problem} (message {message_sid})", request_url=response.url,
            request_method=response.method,
        )

    def _run_reply(self, root: Any, doc_url: str, account_sid: str, to: str, from_: str,
                   config: dict[str, Any], transcript: Transcript
                   ) -> tuple[str, str, dict[str, str]] | None:
        """Send the document's ``<Message>`` replies; the next URL when it redirects."""
        for verb in root:
            if not isinstance(verb.tag, str):
                continue
            if verb.tag == "Redirect":
                target = urljoin(doc_url, (verb.text or "").strip())
                transcript.add("redirect", target)
                return target, verb.get("method", "POST"), {}
            body, media = message_content(verb)
            problem = message_problem(body, media)
            if problem:
                transcript.add("error", f"<{verb.tag}> not sent: {problem}", code=INVALID_BODY)
                transcript.error_codes.append(INVALID_BODY)
                continue
            callback = verb.get("statusCallback")
            message = create_outbound_message(
                self.phone.state, account_sid,
                to=verb.get("to") or from_, from_=verb.get("from") or to, body=body,
                media=[urljoin(doc_url, m) for m in media], direction="outbound-reply",
                status_callback=urljoin(doc_url, callback) if callback
                else config.get("status_callback"),
            )
            if self.phone.state.is_opted_out(message["to"], message["from"]):
                message = self.phone.state.update_message(
                    message["sid"], status="failed", error_code=OPTED_OUT,
                    error_message="Attempt to send to unsubscribed recipient",
                )
                transcript.add("blocked", f"to {message['to']}: {body} (not sent: error "
                               f"{OPTED_OUT}, the recipient opted out)", message=message)
            else:
                transcript.add("message", f"to {message['to']}: {body}", message=message)
                self.phone.deliver_outbound_message(message)
            if verb.get("action"):
                target = urljoin(doc_url, verb.get("action"))
                extra = {"MessageStatus": "sending", "SmsStatus": "sending",
                         "MessageSid": message["sid"], "SmsSid": message["sid"]}
                return target, verb.get("method", "POST"), extra
        return None

    # -- delivery of outbound messages ------------------------------------------------------

    def deliver(self, message: dict[str, Any]) -> Transcript:
        """Move an outbound message through sent/delivered (or a failure), with callbacks."""
        state = self.phone.state
        sid = message["sid"]
        transcript = self.phone.transcript(sid) or Transcript("message", sid=sid)
        self.phone.remember(sid, transcript)
        current = state.get("messages", sid) or message
        if current.get("status") in {"canceled", "scheduled"}:
            transcript.done.set()
            return transcript
        to = current.get("to") or ""
        outcome = self.phone.message_outcomes.get(to)
        account_sid = current["account_sid"]
        callback = current.get("status_callback") or self._application_callback(current)
        method = current.get("status_callback_method") or "POST"
        steps: list[tuple[str, int | None]]
        if outcome is None:
            steps = [("sent", None), ("delivered", None)]
        elif outcome[0] == "failed":
            steps = [("failed", outcome[1])]
        else:
            steps = [("sent", None), (outcome[0], outcome[1])]
        state.update_message(sid, status="sending")
        client = self.phone.new_client()
        token = state.auth_token_for(account_sid)
        try:
            for status, error_code in steps:
                fields: dict[str, Any] = {"status": status}
                if error_code is not None:
                    fields.update(error_code=error_code,
                                  error_message=ERROR_TEXTS.get(error_code, "Delivery failed"))
                updated = state.update_message(sid, **fields)
                transcript.add("status", f"message {status}"
                               + (f" (error {error_code})" if error_code else ""))
                if not callback:
                    continue
                params = {
                    "AccountSid": account_sid,
                    "ApiVersion": API_VERSION,
                    "From": updated.get("from") or "",
                    "MessageSid": sid,
                    "MessageStatus": status,
                    "SmsSid": sid,
                    "SmsStatus": status,
                    "To": to,
                }
                if updated.get("messaging_service_sid"):
                    params["MessagingServiceSid"] = updated["messaging_service_sid"]
                if error_code is not None:
                    params["ErrorCode"] = str(error_code)
                if status in DELIVERY_RECEIPT_STATUSES:
                    params["RawDlrDoneDate"] = raw_dlr_done_date()
                response = client.fetch(callback, params, auth_token=token, method=method)
                transcript.add_request("message-status", response)
        finally:
            client.close()
        transcript.status = steps[-1][0]
        transcript.done.set()
        return transcript

    def _application_callback(self, message: dict[str, Any]) -> str | None:
        app_sid = message.get("application_sid")
        if not app_sid:
            return None
        app = self.phone.state.get("applications", app_sid) or {}
        return app.get("message_status_callback") or app.get("sms_status_callback")
