"""Everything the emulated Twilio knows: accounts, numbers, calls, messages, recordings...

One :class:`EmulatorState` is shared by the REST side and the caller side. Resources are plain
dicts in Twilio's JSON shape (snake_case keys: ``sid``, ``voice_url``, ``from``...), plus a few
internal keys the emulator acts on (see :func:`switchboard.emulator.resources.defaults`). Every
method takes
the state's lock and hands out copies, so callers may read and keep what they get.
"""

from __future__ import annotations

import copy
import hmac
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from switchboard.emulator.resources import (
    API_VERSION,
    SID_PREFIXES,
    defaults,
    formatted_number,
    new_sid,
    new_token,
    now,
    num_segments,
    parse_rfc2822,
    refresh_uris,
    rfc2822,
)

KINDS = (
    "accounts",
    "incoming_phone_numbers",
    "outgoing_caller_ids",
    "applications",
    "calls",
    "conferences",
    "messages",
    "recordings",
    "transcriptions",
    "notifications",
)

TERMINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
SENT_MESSAGE_STATUSES = frozenset({"sent", "delivered", "undelivered", "read"})

Resource = dict[str, Any]


def _fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments as resource keys: ``from_`` is ``from``."""
    if "from_" in fields:
        fields = dict(fields)
        fields["from"] = fields.pop("from_")
    return fields


def _same_secret(expected: str, given: str) -> bool:
    """A constant-time comparison that also takes non-ASCII text (as UTF-8 bytes)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"),
                               given.encode("utf-8", "surrogatepass"))


class EmulatorState:
    """The emulated Twilio's resources, thread-safe.

    ``account_sid`` / ``auth_token`` name the main account (made up when None). ``base_url``
    (set by the server once it listens) makes absolute URLs such as a recording's
    ``media_url``.
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        base_url: str = "",
    ) -> None:
        self._lock = threading.RLock()
        self._resources: dict[str, dict[str, Resource]] = {kind: {} for kind in KINDS}
        self._participants: dict[str, dict[str, Resource]] = {}
        self._sandboxes: dict[str, Resource] = {}
        self._api_keys: dict[str, tuple[str, str]] = {}
        self._main_keys: set[str] = set()
        self._created: Counter[str] = Counter()
        self._opted_out: set[tuple[str, str]] = set()
        self.base_url = base_url
        #: When True, the REST side refuses a call ``From`` that is not one of the account's
        #: numbers or verified caller IDs (21210), and a message ``From`` that is not one of its
        #: numbers (21606), as Twilio does. Off by default: any well-formed sender is accepted.
        self.strict_senders = False
        main = self.create_account(
            "Switchboard emulator", sid=account_sid, auth_token=auth_token, count=False
        )
        self.main_account_sid: str = main["sid"]

    # -- generic ---------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The state's lock, for a caller that needs several steps to be atomic."""
        return self._lock

    def _table(self, kind: str) -> dict[str, Resource]:
        try:
            return self._resources[kind]
        except KeyError:
            raise ValueError(f"no resources of kind {kind!r}: kinds are {', '.join(KINDS)} "
                             "(participants: get_participant, sandbox: sandbox)") from None

    def get(self, kind: str, sid: str) -> Resource | None:
        """The resource ``sid`` of ``kind`` (``"calls"``, ``"messages"``...), or None."""
        with self._lock:
            resource = self._table(kind).get(sid)
            return copy.deepcopy(resource) if resource is not None else None

    def list(
        self,
        kind: str,
        *,
        account_sid: str | None = None,
        where: Callable[[Resource], bool] | None = None,
    ) -> list[Resource]:
        """Resources of ``kind``, newest first (as Twilio lists them), optionally filtered."""
        with self._lock:
            found = [
                copy.deepcopy(r)
                for r in reversed(self._table(kind).values())
                if (account_sid is None or r.get("account_sid", r["sid"]) == account_sid
                    or (kind == "accounts" and r.get("owner_account_sid") == account_sid))
                and (where is None or where(r))
            ]
        return found

    def update(self, kind: str, sid: str, **fields: Any) -> Resource:
        """Set ``fields`` on resource ``sid``; KeyError when there is none."""
        fields = _fields(fields)
        with self._lock:
            resource = self._table(kind)[sid]
            resource.update(fields)
            resource["date_updated"] = rfc2822()
            refresh_uris(kind, resource)
            return copy.deepcopy(resource)

    def delete(self, kind: str, sid: str) -> bool:
        """Remove resource ``sid``; False when there was none."""
        with self._lock:
            return self._table(kind).pop(sid, None) is not None

    def created_count(self, kind: str | None = None) -> int:
        """How many resources of ``kind`` (all kinds: None) were created since the start."""
        with self._lock:
            return self._created[kind] if kind else sum(self._created.values())

    def _add(self, kind: str, account_sid: str | None, fields: dict[str, Any], *,
             sid: str | None = None, count: bool = True) -> Resource:
        stamp = rfc2822()
        resource = defaults(kind)
        resource.update(
            sid=sid or new_sid(SID_PREFIXES[kind]), date_created=stamp, date_updated=stamp
        )
        if account_sid is not None:
            resource["account_sid"] = account_sid
        resource.update(_fields(fields))
        refresh_uris(kind, resource)
        with self._lock:
            self._resources[kind][resource["sid"]] = resource
            if count:
                self._created[kind] += 1
            return copy.deepcopy(resource)

    # -- accounts and credentials ------------------------------------------------------------

    def create_account(
        self,
        friendly_name: str | None = None,
        *,
        owner_account_sid: str | None = None,
        sid: str | None = None,
        auth_token: str | None = None,
        count: bool = True,
    ) -> Resource:
        """A new account (a subaccount when ``owner_account_sid`` is given) with its token."""
        with self._lock:
            account = self._add(
                "accounts",
                None,
                {
                    "friendly_name": friendly_name,
                    "owner_account_sid": owner_account_sid,
                    "auth_token": auth_token or new_token(),
                },
                sid=sid,
                count=count,
            )
            if account["owner_account_sid"] is None:
                self._resources["accounts"][account["sid"]]["owner_account_sid"] = account["sid"]
                account["owner_account_sid"] = account["sid"]
            if not friendly_name:
                name = f"SubAccount Created at {account['date_created']}"
                if account["sid"] == account["owner_account_sid"]:
                    name = f"{account['sid']}'s account"
                self._resources["accounts"][account["sid"]]["friendly_name"] = name
                account["friendly_name"] = name
            return account

    def auth_token_for(self, account_sid: str) -> str:
        """The auth token of ``account_sid`` (it signs the webhooks of that account's numbers)."""
        with self._lock:
            return self._resources["accounts"][account_sid]["auth_token"]

    def add_api_key(self, account_sid: str | None = None, *, key_sid: str | None = None,
                    secret: str | None = None, main: bool = False) -> tuple[str, str]:
        """An API key (SID, secret) for ``account_sid`` (default: the main account); made up
        unless ``key_sid`` / ``secret`` are given. A standard key (the default) cannot use the
        Accounts endpoints, as in Twilio; a ``main`` key can."""
        key_sid = key_sid or new_sid(SID_PREFIXES["keys"])
        secret = secret or new_token()
        with self._lock:
            self._api_keys[key_sid] = (account_sid or self.main_account_sid, secret)
            if main:
                self._main_keys.add(key_sid)
            else:
                self._main_keys.discard(key_sid)
        return key_sid, secret

    def is_standard_key(self, username: str) -> bool:
        """True when ``username`` is a standard API key's SID (not an account, not a main key)."""
        with self._lock:
            return username in self._api_keys and username not in self._main_keys

    def authenticate(self, username: str, password: str) -> str | None:
        """The account SID that HTTP Basic credentials stand for, or None when they are wrong.

        ``username`` is an account SID (password: its auth token) or an API key SID (password:
        its secret).
        """
        with self._lock:
            if username in self._api_keys:
                account_sid, secret = self._api_keys[username]
                owner = self._resources["accounts"].get(account_sid)
                if owner is None or owner["status"] == "closed":  # its keys went with it
                    return None
                return account_sid if _same_secret(secret, password) else None
            account = self._resources["accounts"].get(username)
            if account is None or account["status"] == "closed":
                return None
            if _same_secret(account["auth_token"], password):
                return account["sid"]
            return None

    def can_access(self, credential_account_sid: str, account_sid: str) -> bool:
        """True when credentials of one account may act on ``account_sid`` (itself or a child)."""
        with self._lock:
            account = self._resources["accounts"].get(account_sid)
            if account is None:
                return False
            return credential_account_sid in (account_sid, account["owner_account_sid"])

    # -- phone numbers -------------------------------------------------------------------------

    def find_number(self, phone_number: str) -> Resource | None:
        """The incoming phone number ``phone_number`` (E.164), in any account, or None."""
        with self._lock:
            for number in self._resources["incoming_phone_numbers"].values():
                if number["phone_number"] == phone_number:
                    return copy.deepcopy(number)
        return None

    def buy_number(self, account_sid: str, phone_number: str, **fields: Any) -> Resource:
        """Give ``phone_number`` to ``account_sid`` as an incoming number; ValueError if taken."""
        with self._lock:
            if self.find_number(phone_number) is not None:
                raise ValueError(f"{phone_number} is already owned")
            fields.setdefault("friendly_name", formatted_number(phone_number))
            return self._add(
                "incoming_phone_numbers", account_sid, {"phone_number": phone_number, **fields}
            )

    def sender_allowed(self, account_sid: str, sender: str, *, caller_ids: bool) -> bool:
        """Whether ``sender`` is one of the account's numbers (or, with ``caller_ids``, one of
        its verified caller IDs)."""
        with self._lock:
            number = self.find_number(sender)
            if number is not None and number["account_sid"] == account_sid:
                return True
            return caller_ids and any(
                c["account_sid"] == account_sid and c["phone_number"] == sender
                for c in self._resources["outgoing_caller_ids"].values()
            )

    def owned_numbers(self) -> set[str]:
        with self._lock:
            return {n["phone_number"] for n in self._resources["incoming_phone_numbers"].values()}

    def create_caller_id(self, account_sid: str, phone_number: str, **fields: Any) -> Resource:
        fields.setdefault("friendly_name", formatted_number(phone_number))
        return self._add("outgoing_caller_ids", account_sid, {"phone_number": phone_number,
                                                              **fields})

    def create_application(self, account_sid: str, **fields: Any) -> Resource:
        return self._add("applications", account_sid, fields)

    # -- calls ---------------------------------------------------------------------------------

    def create_call(self, account_sid: str, **fields: Any) -> Resource:
        """A call resource. ``fields`` are its JSON keys (``to``, ``from`` or ``from_``,
        ``status``, ``direction``...) and the internal ones the caller side acts on: ``url``,
        ``method``, ``fallback_url``, ``fallback_method``, ``status_callback``,
        ``status_callback_method``, ``status_callback_event`` (list of event names),
        ``application_sid``, ``twiml``, ``send_digits``, ``timeout`` (int seconds),
        ``machine_detection``, ``record``, ``recording_status_callback``...
        """
        fields = _fields(fields)
        fields.setdefault("to_formatted", formatted_number(fields.get("to")))
        fields.setdefault("from_formatted", formatted_number(fields.get("from")))
        if "phone_number_sid" not in fields:
            own = self.find_number(fields.get("from") or "") or self.find_number(
                fields.get("to") or ""
            )
            fields["phone_number_sid"] = own["sid"] if own else None
        return self._add("calls", account_sid, fields)

    def update_call(self, sid: str, **fields: Any) -> Resource:
        """Update call ``sid``. A status of ``in-progress`` sets ``start_time``; a final status
        (completed, busy, failed, no-answer, canceled) sets ``end_time`` and ``duration``, unless
        ``fields`` give them."""
        fields = _fields(fields)
        with self._lock:
            call = self._resources["calls"][sid]
            status = fields.get("status")
            stamp = now()
            if status == "in-progress" and not call.get("start_time"):
                fields.setdefault("start_time", rfc2822(stamp))
            if status in TERMINAL_CALL_STATUSES:
                fields.setdefault("end_time", rfc2822(stamp))
                started = parse_rfc2822(fields.get("start_time") or call.get("start_time"))
                seconds = int((stamp - started).total_seconds()) if started else 0
                fields.setdefault("duration", str(max(seconds, 0)))
            return self.update("calls", sid, **fields)

    # -- messages --------------------------------------------------------------------------

    def create_message(self, account_sid: str, **fields: Any) -> Resource:
        """A message resource: ``to``, ``from``/``from_``, ``body``, ``status``, ``direction``,
        and internally ``media_url`` (list), ``status_callback``, ``application_sid``."""
        fields = _fields(fields)
        body = fields.get("body") or ""
        fields.setdefault("num_segments", str(num_segments(body)))
        fields.setdefault("num_media", str(len(fields.get("media_url") or ())))
        if fields.get("status") in SENT_MESSAGE_STATUSES | {"received"}:
            fields.setdefault("date_sent", rfc2822())
        return self._add("messages", account_sid, fields)

    def update_message(self, sid: str, **fields: Any) -> Resource:
        """Update message ``sid``; a status of sent/delivered/... sets ``date_sent`` once."""
        with self._lock:
            message = self._resources["messages"][sid]
            if fields.get("status") in SENT_MESSAGE_STATUSES and not message.get("date_sent"):
                fields.setdefault("date_sent", rfc2822())
            return self.update("messages", sid, **fields)

    def opt_out(self, recipient: str, sender: str) -> None:
        """``recipient`` texted STOP to ``sender``: messages from it to them are refused (21610)
        until they text START."""
        with self._lock:
            self._opted_out.add((recipient, sender))

    def opt_in(self, recipient: str, sender: str) -> None:
        with self._lock:
            self._opted_out.discard((recipient, sender))

    def is_opted_out(self, recipient: str, sender: str) -> bool:
        with self._lock:
            return (recipient, sender) in self._opted_out

    # -- recordings, transcriptions, notifications ------------------------------------------

    def create_recording(self, account_sid: str, call_sid: str, **fields: Any) -> Resource:
        """A recording of ``call_sid``: ``duration`` (str seconds), ``source``, ``status``..."""
        if "duration" in fields:
            fields["duration"] = str(fields["duration"])
        fields.setdefault("start_time", rfc2822())
        resource = self._add("recordings", account_sid, {"call_sid": call_sid, **fields})
        return self.update(
            "recordings", resource["sid"], media_url=self.recording_media_url(resource)
        )

    def recording_media_url(self, recording: Resource) -> str:
        """The absolute URL of a recording's media, without extension (as Twilio gives it)."""
        return self.base_url + recording["uri"].removesuffix(".json")

    def create_transcription(self, account_sid: str, recording_sid: str, **fields: Any
                             ) -> Resource:
        return self._add("transcriptions", account_sid, {"recording_sid": recording_sid,
                                                         **fields})

    def create_notification(self, account_sid: str, call_sid: str | None = None,
                            **fields: Any) -> Resource:
        """A debugger notification (``error_code``, ``log`` "0" error / "1" warning,
        ``message_text``, ``request_url``, ``request_method``...)."""
        code = str(fields.get("error_code") or "11200")
        fields["error_code"] = code
        fields.setdefault("more_info", f"https://www.twilio.com/docs/errors/{code}")
        fields.setdefault("message_date", rfc2822())
        return self._add("notifications", account_sid, {"call_sid": call_sid, **fields})

    # -- conferences -------------------------------------------------------------------------

    def find_conference(self, account_sid: str, friendly_name: str) -> Resource | None:
        """The account's conference named ``friendly_name`` that has not ended, or None."""
        with self._lock:
            for conference in reversed(self._resources["conferences"].values()):
                if (conference["account_sid"] == account_sid
                        and conference["friendly_name"] == friendly_name
                        and conference["status"] != "completed"):
                    return copy.deepcopy(conference)
        return None

    def create_conference(self, account_sid: str, friendly_name: str, **fields: Any
                          ) -> Resource:
        """The running conference ``friendly_name``, created (status ``init``) if needed."""
        with self._lock:
            existing = self.find_conference(account_sid, friendly_name)
            if existing is not None:
                return existing
            conference = self._add(
                "conferences", account_sid, {"friendly_name": friendly_name, **fields}
            )
            self._participants[conference["sid"]] = {}
            return conference

    def add_participant(self, conference_sid: str, call_sid: str, **fields: Any) -> Resource:
        """Put ``call_sid`` in the conference; the conference is then ``in-progress``."""
        with self._lock:
            conference = self._resources["conferences"][conference_sid]
            stamp = rfc2822()
            participant = defaults("participants")
            participant.update(
                account_sid=conference["account_sid"],
                conference_sid=conference_sid,
                call_sid=call_sid,
                date_created=stamp,
                date_updated=stamp,
            )
            participant.update(fields)
            refresh_uris("participants", participant)
            self._participants.setdefault(conference_sid, {})[call_sid] = participant
            if conference["status"] == "init":
                self.update("conferences", conference_sid, status="in-progress")
            return copy.deepcopy(participant)

    def get_participant(self, conference_sid: str, call_sid: str) -> Resource | None:
        with self._lock:
            participant = self._participants.get(conference_sid, {}).get(call_sid)
            return copy.deepcopy(participant) if participant is not None else None

    def list_participants(self, conference_sid: str) -> list[Resource]:
        with self._lock:
            return [copy.deepcopy(p) for p in self._participants.get(conference_sid, {}).values()]

    def update_participant(self, conference_sid: str, call_sid: str, **fields: Any) -> Resource:
        """Set ``fields`` (``muted``, ``hold``...) on a participant; KeyError if absent."""
        with self._lock:
            participant = self._participants[conference_sid][call_sid]
            participant.update(fields)
            participant["date_updated"] = rfc2822()
            return copy.deepcopy(participant)

    def remove_participant(self, conference_sid: str, call_sid: str, *,
                           reason: str = "last-participant-left") -> bool:
        """Take ``call_sid`` out of the conference; the last one out completes it."""
        with self._lock:
            participants = self._participants.get(conference_sid, {})
            if participants.pop(call_sid, None) is None:
                return False
            if not participants:
                self.update(
                    "conferences",
                    conference_sid,
                    status="completed",
                    reason_conference_ended=reason,
                    call_sid_ending_conference=call_sid,
                )
            return True

    # -- the legacy sandbox -------------------------------------------------------------------

    def sandbox(self, account_sid: str) -> Resource:
        """The account's (legacy) sandbox, created on first use with a PIN and a number."""
        with self._lock:
            sandbox = self._sandboxes.get(account_sid)
            if sandbox is None:
                stamp = rfc2822()
                digits = int(account_sid[2:10], 16)
                sandbox = defaults("sandbox")
                sandbox.update(
                    sid=account_sid,
                    account_sid=account_sid,
                    pin=f"{digits % 10**8:08d}",
                    phone_number="+14155992671",
                    date_created=stamp,
                    date_updated=stamp,
                    api_version=API_VERSION,
                )
                refresh_uris("sandbox", sandbox)
                self._sandboxes[account_sid] = sandbox
            return copy.deepcopy(sandbox)

    def update_sandbox(self, account_sid: str, **fields: Any) -> Resource:
        with self._lock:
            self.sandbox(account_sid)
            sandbox = self._sandboxes[account_sid]
            sandbox.update(fields)
            sandbox["date_updated"] = rfc2822()
            return copy.deepcopy(sandbox)

    def snapshot(self, kinds: Iterable[str] = KINDS) -> dict[str, list[Resource]]:
        """Every resource of ``kinds``, oldest first: for tests and debugging."""
        with self._lock:
            return {kind: copy.deepcopy(list(self._resources[kind].values())) for kind in kinds}
