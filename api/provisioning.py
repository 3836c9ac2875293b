"""Point a Twilio number, an application or the sandbox at this server.

The server's URLs hang off ``SWITCHBOARD_PUBLIC_URL``: ``/voice``, ``/voice/fallback``,
``/voice/status``, ``/sms``, ``/sms/fallback`` (and ``/sms/status`` for an application's
messages), all requested with POST; with a Studio flow (``flow=NAME``), the voice and SMS
URLs are the flow's, ``/flows/NAME``, and the fallbacks and status callbacks stay the
server's. :func:`resolve_target` reads what Twilio has now, :func:`plan` lists the changes;
:func:`apply` writes them (:func:`write`), reads the resource back and checks every field
(:func:`verify`)::

    target = resolve_target(client, number="+14155550100")
    changes = plan(client, target, check_public_url(settings.public_url), flow="ivr")
    print("\\n".join(changes.diff()))
    apply(client, changes)
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from switchboard.api import validation
from switchboard.api.errors import ProvisioningError, ValidationError
from switchboard.config.errors import ConfigError
from switchboard.config.validation import base_url, redact_url

if TYPE_CHECKING:
    from switchboard.api.client import TwilioClient

__all__ = [
    "Change",
    "Plan",
    "ProvisioningError",
    "Target",
    "apply",
    "check_flow_name",
    "check_public_url",
    "check_target",
    "flow_url",
    "plan",
    "resolve_target",
    "verify",
    "webhook_settings",
    "write",
]

PUBLIC_URL_SETTING = "SWITCHBOARD_PUBLIC_URL"


def tunnel_help(name: str = PUBLIC_URL_SETTING) -> str:
    """What to do about a public URL Twilio cannot reach, given as ``name``."""
    give = f"set {name} to" if name == PUBLIC_URL_SETTING else f"give {name}"
    return (
        "Twilio must reach this server from the internet over HTTPS: start a tunnel to it "
        "(for example `ngrok http 5000` or `cloudflared tunnel --url http://localhost:5000`) "
        f"and {give} the https:// address it prints; "
        "use --allow-insecure only with the local emulator"
    )


def check_public_url(
    public_url: str | None, *, allow_insecure: bool = False, name: str = PUBLIC_URL_SETTING
) -> str:
    """``public_url`` without a trailing slash, if Twilio can reach it.

    The URL is checked as ``SWITCHBOARD_PUBLIC_URL`` is when settings are loaded (http or
    https, a host, no ``?query``, no ``#fragment``, no spaces: nothing that would break the
    URLs made from it); a missing URL is refused; so is a plain-http one or one on this
    machine or a private network, unless ``allow_insecure`` (for the emulator, which runs on
    127.0.0.1). Messages call the URL ``name`` (the setting, or the option that gave it) and
    never show a password in it.
    """
    if not public_url:
        missing = "is not set" if public_url is None else "is empty"
        raise ProvisioningError(f"{name} {missing}. {tunnel_help(name)}")
    try:
        public_url = base_url(name, public_url)
    except ConfigError as error:
        raise ProvisioningError(str(error)) from None
    parts = urlsplit(public_url)
    shown = redact_url(public_url)
    if not allow_insecure and parts.hostname:
        if _is_local(parts.hostname):
            raise ProvisioningError(
                f"{name} {shown} is on this machine or a private network, "
                f"where Twilio cannot reach it. {tunnel_help(name)}"
            )
        if parts.scheme != "https":
            raise ProvisioningError(f"{name} {shown} is not https. {tunnel_help(name)}")
    return public_url


#: Carrier-grade NAT (RFC 6598), where Tailscale and mobile networks put hosts; not
#: ``is_private`` to :mod:`ipaddress`, and no more reachable from Twilio.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _is_local(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the short forms the resolver reads as IPv4: 127.1, 2130706433, 0x7f.0.0.1
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
        or address in _SHARED
    )


_WHAT = {"number": "a phone number", "application": "an application", "sandbox": "the sandbox"}


@dataclass(frozen=True)
class Target:
    """What to provision: ``kind`` is ``number``, ``application`` or ``sandbox``."""

    kind: str
    sid: str | None
    label: str
    current: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def check_target(
    number: str | None = None, application: str | None = None, sandbox: bool = False
) -> None:
    """Check, before any request, that exactly one target is named and that it is well
    formed: raises :class:`~api.errors.ValidationError` naming the argument."""
    given = [name for name, v in (("number", number), ("application", application)) if v]
    if sandbox:
        given.append("sandbox")
    if len(given) != 1:
        raise ValidationError(
            given[1] if len(given) > 1 else "number",
            "name exactly one of a number, an application, the sandbox",
        )
    if number and number.startswith("PN"):
        validation.sid("number", number, "PN")
    elif number:
        try:
            validation.e164("number", number)
        except ValidationError:
            raise ValidationError(
                "number",
                f"{validation.show(number)} is neither an E.164 number (like +14155550100) "
                "nor a phone number SID (PN followed by 32 hex digits)",
            ) from None
    if application:
        validation.sid("application", application, "AP")


def resolve_target(
    client: TwilioClient,
    *,
    number: str | None = None,
    application: str | None = None,
    sandbox: bool = False,
) -> Target:
    """The one target named: a number by PN SID or E.164 (looked up among the account's
    numbers), an application by AP SID, or the sandbox. Reads its current settings.

    Raises :class:`~api.errors.ValidationError` (see :func:`check_target`) before any
    request, and :class:`~api.errors.TwilioUnexpectedAnswer` when Twilio's answer is not the
    resource asked for.
    """
    check_target(number, application, sandbox)
    if number:
        if number.startswith("PN"):
            found = client.incoming_phone_numbers.get(number)
        else:
            found = _find_number(client, number)
        current = validation.resource("a phone number", found, "PN")
        label = f"number {current.get('phone_number', number)} ({current['sid']})"
        return Target("number", current["sid"], label, current)
    if application:
        current = validation.resource(
            "an application", client.applications.get(application), "AP"
        )
        name = current.get("friendly_name")
        label = f"application {name!r} ({application})" if name else f"application {application}"
        return Target("application", application, label, current)
    current = validation.resource("the sandbox", client.sandbox.get())
    label = f"sandbox {current.get('phone_number', '')}".rstrip()
    return Target("sandbox", None, label, current)


def _find_number(client: TwilioClient, number: str) -> dict[str, Any]:
    """The account's number ``number`` (E.164), each listed item checked to be a number."""
    for item in client.incoming_phone_numbers.list(phone_number=number):
        if validation.resource("a phone number", item, "PN").get("phone_number") == number:
            return item
    raise ProvisioningError(f"{number} is not one of this account's numbers")


#: A Studio flow's name as the server serves it at ``/flows/NAME``: one URL path segment
#: (the flows folder's rule), or a flow's SID (``FW`` and 32 hex digits), which is one too.
FLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")


def check_flow_name(flow: str) -> str:
    """``flow`` when it can be the ``NAME`` of ``/flows/NAME``; else
    :class:`~api.errors.ValidationError` naming the ``flow`` argument. Whether the server has
    such a flow is for the caller to check (the REST client knows nothing of the server)."""
    if not isinstance(flow, str) or not FLOW_NAME.fullmatch(flow):
        raise ValidationError(
            "flow",
            f"{flow!r} is not a flow name: the name of a NAME.json of the flows folder "
            "(letters, digits, '-', '_', '.' and '~', starting with a letter or a digit) or a "
            "flow's SID (FW...)",
        )
    return flow


def flow_url(public_url: str, flow: str) -> str:
    """The URL of the Studio flow ``flow`` on the server at ``public_url``: its voice and
    messaging URL alike."""
    return f"{public_url}/flows/{quote(check_flow_name(flow), safe='')}"


def webhook_settings(public_url: str, kind: str, flow: str | None = None) -> dict[str, str]:
    """The settings that point a ``kind`` of target at the server at ``public_url``, by the
    resource groups' argument names (which are also the keys of Twilio's JSON). With
    ``flow``, calls and messages go to that Studio flow (:func:`flow_url`); the fallbacks
    and status callbacks are the server's all the same."""
    voice_url = f"{public_url}/voice" if flow is None else flow_url(public_url, flow)
    sms_url = f"{public_url}/sms" if flow is None else flow_url(public_url, flow)
    if kind == "sandbox":
        return {
            "voice_url": voice_url,
            "voice_method": "POST",
            "sms_url": sms_url,
            "sms_method": "POST",
        }
    settings = {
        "voice_url": voice_url,
        "voice_method": "POST",
        "voice_fallback_url": f"{public_url}/voice/fallback",
        "voice_fallback_method": "POST",
        "sms_url": sms_url,
        "sms_method": "POST",
        "sms_fallback_url": f"{public_url}/sms/fallback",
        "sms_fallback_method": "POST",
        "status_callback": f"{public_url}/voice/status",
        "status_callback_method": "POST",
    }
    if kind == "application":
        settings["sms_status_callback"] = f"{public_url}/sms/status"
    return settings


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.old)} -> {_show(self.new)}"


def _show(value: Any) -> str:
    """A field's value for the diff: URLs with any ``user:password@`` password masked."""
    return "(none)" if value in (None, "") else redact_url(str(value))


@dataclass(frozen=True)
class Plan:
    """The changes that point ``target`` at the server; ``desired`` is every field's goal."""

    target: Target
    desired: dict[str, str]
    changes: tuple[Change, ...]

    def diff(self) -> list[str]:
        """One line per change (``field: old -> new``), under a line naming the target."""
        if not self.changes:
            return [f"{self.target.label}: already points at this server, nothing to change"]
        return [f"{self.target.label}:", *(f"  {change}" for change in self.changes)]


def plan(client: TwilioClient, target: Target, public_url: str, *,
         flow: str | None = None) -> Plan:
    """Compare what Twilio has for ``target`` with what points it at ``public_url`` (its
    calls and messages at the Studio flow ``flow``, when given: see :func:`webhook_settings`).

    A number attached to an application or to a SIP trunk ignores its own URLs, so
    provisioning a number also detaches it (``voice_application_sid`` /
    ``sms_application_sid`` / ``trunk_sid`` set to "").
    """
    desired = webhook_settings(public_url, target.kind, flow)
    if target.kind == "number":
        for name in ("voice_application_sid", "sms_application_sid", "trunk_sid"):
            if target.current.get(name):
                desired[name] = ""
    changes = tuple(
        Change(name, target.current.get(name), value)
        for name, value in desired.items()
        if (target.current.get(name) or "") != value
    )
    return Plan(target, desired, changes)


def apply(client: TwilioClient, plan: Plan) -> dict[str, Any]:
    """Write the plan's changes, read the target back and check every desired field:
    :func:`write`, then :func:`verify`.

    Returns the resource as read back; raises :class:`ProvisioningError` naming the fields
    Twilio did not keep.
    """
    write(client, plan)
    return verify(client, plan)


def write(client: TwilioClient, plan: Plan) -> None:
    """Send the plan's changes in one update request (none when there is nothing to change)."""
    target = plan.target
    changes = {change.field: change.new for change in plan.changes}
    if not changes:
        return
    if target.kind == "number":
        client.incoming_phone_numbers.update(target.sid, **changes)
    elif target.kind == "application":
        client.applications.update(target.sid, **changes)
    else:
        client.sandbox.update(**changes)


def verify(client: TwilioClient, plan: Plan) -> dict[str, Any]:
    """Read the plan's target back and check every desired field.

    Returns the resource as read back; raises :class:`ProvisioningError` naming the fields
    Twilio did not keep.
    """
    target = plan.target
    if target.kind == "number":
        after = client.incoming_phone_numbers.get(target.sid)
    elif target.kind == "application":
        after = client.applications.get(target.sid)
    else:
        after = client.sandbox.get()
    after = validation.resource(_WHAT[target.kind], after)
    wrong = [
        f"{name} is {_show(after.get(name))}, not {_show(value)}"
        for name, value in plan.desired.items()
        if (after.get(name) or "") != value
    ]
    if wrong:
        raise ProvisioningError(f"{target.label} did not keep the change: {'; '.join(wrong)}")
    return after
