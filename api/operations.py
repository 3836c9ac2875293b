# ruff: noqa: E501
# (The attribute help is the connector reference's own text, kept whole on one line.)
"""The Mule Twilio connector's 50 operations, by the connector's own names.

Each :class:`Operation` lists its attributes as the connector named them (``isoCountryCode``)
with the CLI option (``--iso-country-code``), the name Twilio uses on the wire (``IsoCountryCode``
is part of the path; ``AreaCode`` is a query parameter), the type, whether it is required, and
the connector's own description; and it runs on a :class:`~api.TwilioClient` through the
resource groups::

    from switchboard.api.operations import OPERATIONS
    OPERATIONS["get-available-phone-numbers"](client, iso_country_code="US", area_code="415")

The mapping onto today's API (``../shared/connector-operations.md``): the retired SMS resource is
served by Messages; ``ifMachine`` (Continue or Hangup) becomes ``MachineDetection=Enable``, after
which Twilio tells the call's URL who answered (``AnsweredBy``) and its TwiML decides; the
Sandbox and deleting a Notification, which Twilio retired, are sent as the connector sent them
and Twilio's refusal is raised with a message naming the retirement. ``recordingType`` and
``transcriptionFormat`` default to ``json``, and their legacy ``xml`` means ``json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from switchboard.api import validation
from switchboard.api.errors import ValidationError
from switchboard.api.resources.calls import CALL_STATUSES, IF_MACHINE, STATUS_CALLBACK_EVENTS
from switchboard.api.resources.conferences import CONFERENCE_STATUSES

if TYPE_CHECKING:
    from switchboard.api.client import TwilioClient

__all__ = ["OPERATIONS", "Attribute", "Operation"]

KINDS = ("text", "int", "bool", "method", "choice", "date", "list")


@dataclass(frozen=True)
class Attribute:
    """One attribute of an operation.

    ``wire`` is Twilio's parameter name, or ``None`` when the value is part of the path.
    ``kind`` is one of :data:`KINDS`: ``method`` is GET or POST, ``choice`` one of
    ``choices``, ``date`` a day (YYYY-MM-DD) that may start with ``<=`` or ``>=`` for "on or
    before" / "on or after", ``list`` a value that may be given several times. ``arg`` is the
    name the resource method gives the value, when it differs from :attr:`param`.
    ``extra`` marks an attribute today's API offers beyond the connector's.
    """

    name: str
    help: str
    required: bool = False
    wire: str | None = None
    kind: str = "text"
    choices: tuple[str, ...] = ()
    default: str | None = None
    arg: str | None = None
    extra: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")

    @property
    def param(self) -> str:
        """The Python name: ``isoCountryCode`` -> ``iso_country_code``, ``from`` -> ``from_``."""
        snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", self.name).lower()
        return "from_" if snake == "from" else snake

    @property
    def option(self) -> str:
        """The CLI option: ``--iso-country-code``."""
        return "--" + self.param.rstrip("_").replace("_", "-")


@dataclass(frozen=True)
class Operation:
    """A connector operation: its name, what it does, the request it sends, its attributes,
    and the function that runs it on a client."""

    name: str
    summary: str
    method: str
    path: str
    attributes: tuple[Attribute, ...]
    run: Callable[..., Any]
    lists: bool = False

    def attribute(self, param: str) -> Attribute | None:
        """The attribute whose Python name, or resource argument, is ``param``."""
        for attribute in self.attributes:
            if param in (attribute.param, attribute.arg):
                return attribute
        for attribute in self.attributes:  # "start_time_before" belongs to startTime
            if attribute.kind == "date" and param.startswith(attribute.param + "_"):
                return attribute
        return None

    def __call__(self, client: TwilioClient, /, **values: Any) -> Any:
        """Run the operation: ``values`` by :attr:`Attribute.param` (``limit`` and
        ``page_size`` too, for a list). Returns the JSON answer, a lazy iterator for a
        list, ``None`` for a deletion, or a :class:`~api.resources.MediaStream` / text for
        media. Raises :class:`~api.errors.ValidationError` before any request."""
        known = {attribute.param: attribute for attribute in self.attributes}
        paging = {}
        if self.lists:
            paging = {key: values.pop(key, None) for key in ("limit", "page_size")}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TypeError(f"{self.name}: unexpected argument(s) {', '.join(unknown)}")
        arguments: dict[str, Any] = {}
        for param, attribute in known.items():
            value = values.get(param)
            if value in ((), []):
                value = None
            if value is None:
                value = attribute.default
            if value is None and attribute.required:
                raise ValidationError(param, f"is required ({attribute.option})")
            arguments[param] = value
        if self.lists:
            arguments.update(paging)
        return self.run(client, **arguments)


OPERATIONS: dict[str, Operation] = {}
"""The connector's operations by name, plus the correctly spelt alias
``get-available-phone-numbers-advanced-search``."""


def operation(
    name: str,
    summary: str,
    method: str,
    path: str,
    *attributes: Attribute,
    lists: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(run: Callable[..., Any]) -> Callable[..., Any]:
        OPERATIONS[name] = Operation(name, summary, method, path, attributes, run, lists)
        return run

    return register


def dated(param: str, value: str | None) -> dict[str, str]:
    """A connector date filter as resource arguments: ``"2024-05-01"`` -> ``{param: ...}``,
    ``"<=2024-05-01"`` -> ``{param_before: ...}``, ``">=2024-05-01"`` -> ``{param_after: ...}``
    (``<`` and ``>`` alone mean the same, as they do on Twilio's wire)."""
    if value is None:
        return {}
    for prefix, suffix in (("<=", "_before"), (">=", "_after"), ("<", "_before"), (">", "_after")):
        if value.startswith(prefix):
            return {param + suffix: value[len(prefix) :].strip()}
    return {param: value}


def _representation(param: str, value: str, allowed: tuple[str, ...]) -> str:
    kind = value.lower().lstrip(".")
    kind = "json" if kind == "xml" else kind
    if kind not in allowed:
        raise ValidationError(param, f"{value!r} is not one of: {', '.join(allowed)}")
    return kind


def _sid(name: str, help: str, *, arg: str = "sid") -> Attribute:
    """A required SID that is part of the path."""
    return Attribute(name, help, required=True, arg=arg)


ACCOUNT_SID = Attribute(
    "accountSid", "the account sid to use (default: the configured account)", arg="account_sid"
)


# Attributes that several operations share, as the connector describes them (``_WITH_DEFAULT``:
# the variant whose description also states Twilio's default).
ISO_COUNTRY_CODE = Attribute(
        "isoCountryCode",
        'a country code in ISO 3166-1 alpha-2 format (e.g. "US" for United States, "CA" for Canada).',
        required=True,
        arg="country_code",
    )

AREA_CODE = Attribute(
        "areaCode",
        "Find phone numbers in the specified Area Code. Only available for North American numbers.",
        wire="AreaCode",
    )

CONTAINS = Attribute(
        "contains",
        'A pattern to match phone numbers on. Valid characters are "*" and [0-9a-zA-Z]. The "*" character will match any single digit.',
        wire="Contains",
    )

IN_REGION = Attribute(
        "inRegion",
        "Limit results to a particular region (i.e. State/Province). Given a phone number, search within the same Region as that number.",
        wire="InRegion",
    )

IN_POSTAL_CODE = Attribute(
        "inPostalCode",
        "Limit results to a particular postal code. Given a phone number, search within the same postal code as that number.",
        wire="InPostalCode",
    )

VOICE_METHOD = Attribute(
        "voiceMethod",
        "The HTTP method that should be used to request the VoiceUrl. Either GET or POST.",
        wire="VoiceMethod",
        kind="method",
    )

VOICE_FALLBACK_URL = Attribute(
        "voiceFallbackUrl",
        "A URL that Twilio will request if an error occurs requesting or executing the TwiML defined by VoiceUrl.",
        wire="VoiceFallbackUrl",
    )

VOICE_FALLBACK_METHOD = Attribute(
        "voiceFallbackMethod",
        "The HTTP method that should be used to request the VoiceFallbackUrl. Either GET or POST.",
        wire="VoiceFallbackMethod",
        kind="method",
    )

STATUS_CALLBACK_METHOD = Attribute(
        "statusCallbackMethod",
        "The HTTP method Twilio will use to make requests to the StatusCallback URL. Either GET or POST.",
        wire="StatusCallbackMethod",
        kind="method",
    )

VOICE_CALLER_ID_LOOKUP = Attribute(
        "voiceCallerIdLookup",
        "Do a lookup of a caller's name from the CNAM database and post it to your app. Either true or false.",
        wire="VoiceCallerIdLookup",
        kind="bool",
    )

SMS_METHOD = Attribute(
        "smsMethod",
        "The HTTP method that should be used to request the SmsUrl. Either GET or POST.",
        wire="SmsMethod",
        kind="method",
    )

SMS_FALLBACK_URL = Attribute(
        "smsFallbackUrl",
        "A URL that Twilio will request if an error occurs requesting or executing the TwiML defined by SmsUrl.",
        wire="SmsFallbackUrl",
    )

SMS_FALLBACK_METHOD = Attribute(
        "smsFallbackMethod",
        "The HTTP method that should be used to request the SmsFallbackUrl. Either GET or POST.",
        wire="SmsFallbackMethod",
        kind="method",
    )

FRIENDLY_NAME = Attribute(
        "friendlyName",
        "A human readable description of the new incoming phone number. Maximum 64 characters. Defaults to a formatted version of the number.",
        wire="FriendlyName",
    )

VOICE_URL = Attribute(
        "voiceUrl",
        "The URL that Twilio should request when somebody dials the new phone number.",
        wire="VoiceUrl",
    )

VOICE_METHOD_WITH_DEFAULT = Attribute(
        "voiceMethod",
        "The HTTP method that should be used to request the VoiceUrl. Must be either GET or POST. Defaults to POST.",
        wire="VoiceMethod",
        kind="method",
    )

VOICE_FALLBACK_URL_WITH_DEFAULT = Attribute(
        "voiceFallbackUrl",
        "A URL that Twilio will request if an error occurs requesting or executing the TwiML at Url.",
        wire="VoiceFallbackUrl",
    )

VOICE_FALLBACK_METHOD_WITH_DEFAULT = Attribute(
        "voiceFallbackMethod",
        "The HTTP method that should be used to request the VoiceFallbackUrl. Either GET or POST. Defaults to POST.",
        wire="VoiceFallbackMethod",
        kind="method",
    )

STATUS_CALLBACK = Attribute(
        "statusCallback",
        "The URL that Twilio will request to pass status parameters (such as call ended) to your application.",
        wire="StatusCallback",
    )

STATUS_CALLBACK_METHOD_WITH_DEFAULT = Attribute(
        "statusCallbackMethod",
        "The HTTP method Twilio will use to make requests to the StatusCallback URL. Either GET or POST. Defaults to POST.",
        wire="StatusCallbackMethod",
        kind="method",
    )

VOICE_CALLER_ID_LOOKUP_WITH_DEFAULT = Attribute(
        "voiceCallerIdLookup",
        "Do a lookup of a caller's name from the CNAM database and post it to your app. Either true or false. Defaults to false.",
        wire="VoiceCallerIdLookup",
        kind="bool",
    )

VOICE_APPLICATION_SID = Attribute(
        "voiceApplicationSid",
        "The 34 character sid of the application Twilio should use to handle phone calls to the new number. If a VoiceApplicationSid is present, Twilio will ignore all of the voice urls above and use those set on the application.",
        wire="VoiceApplicationSid",
    )

SMS_URL = Attribute(
        "smsUrl",
        "The URL that Twilio should request when somebody sends an SMS to the phone number.",
        wire="SmsUrl",
    )

SMS_METHOD_WITH_DEFAULT = Attribute(
        "smsMethod",
        "The HTTP method that should be used to request the SmsUrl. Must be either GET or POST. Defaults to POST.",
        wire="SmsMethod",
        kind="method",
    )

SMS_FALLBACK_METHOD_WITH_DEFAULT = Attribute(
        "smsFallbackMethod",
        "The HTTP method that should be used to request the SmsFallbackUrl. Must be either GET or POST. Defaults to POST.",
        wire="SmsFallbackMethod",
        kind="method",
    )

SMS_APPLICATION_SID = Attribute(
        "smsApplicationSid",
        "The 34 character sid of the application Twilio should use to handle SMSs sent to the new number. If a SmsApplicationSid is present, Twilio will ignore all of the SMS urls above and use those set on the application.",
        wire="SmsApplicationSid",
    )

APPLICATION_SMS_URL = Attribute(
        "smsUrl",
        "The URL that Twilio should request when somebody sends an SMS to a phone number assigned to this application.",
        wire="SmsUrl",
    )

SMS_STATUS_CALLBACK = Attribute(
        "smsStatusCallback",
        "Twilio will make a POST request to this URL to pass status parameters (such as sent or failed) to your application if you specify this application's Sid as the ApplicationSid on an outgoing SMS request.",
        wire="SmsStatusCallback",
    )

CONFERENCE_SID = Attribute("conferenceSid", "the conference sid to use in the query", required=True)

CALL_SID = Attribute("callSid", "the call sid to use in the query", required=True)

PARTICIPANT_CONFERENCE_SID = Attribute("conferenceSid", "the conference sid to use", required=True)

PARTICIPANT_CALL_SID = Attribute("callSid", "the call sid to use", required=True)

LOG = Attribute(
        "log",
        "An integer log level corresponding to the type of notification: 0 is ERROR, 1 is WARNING.",
        wire="Log",
        kind="int",
    )

MESSAGE_DATE = Attribute(
        "messageDate",
        "Only show notifications for this date. Should be formatted as YYYY-MM-DD. You can also specify inequality, such as MessageDate<=YYYY-MM-DD for messages logged at or before midnight on a date, and MessageDate>=YYYY-MM-DD for messages logged at or after midnight on a date.",
        wire="MessageDate",
        kind="date",
    )


#: The connector's search of local numbers; the advanced search adds to it.
LOCAL_NUMBER_SEARCH = (
    ACCOUNT_SID,
    ISO_COUNTRY_CODE,
    AREA_CODE,
    CONTAINS,
    IN_REGION,
    IN_POSTAL_CODE,
)

#: What a newly bought number can be given, after the number itself or its area code.
NEW_NUMBER_SETTINGS = (
    FRIENDLY_NAME,
    VOICE_URL,
    VOICE_METHOD_WITH_DEFAULT,
    VOICE_FALLBACK_URL_WITH_DEFAULT,
    VOICE_FALLBACK_METHOD_WITH_DEFAULT,
    STATUS_CALLBACK,
    STATUS_CALLBACK_METHOD_WITH_DEFAULT,
    VOICE_CALLER_ID_LOOKUP_WITH_DEFAULT,
    VOICE_APPLICATION_SID,
    SMS_URL,
    SMS_METHOD_WITH_DEFAULT,
    SMS_FALLBACK_URL,
    SMS_FALLBACK_METHOD_WITH_DEFAULT,
    SMS_APPLICATION_SID,
)


@operation(
    "get-account-details",
    "Get an account (default: the configured one).",
    "GET",
    "/Accounts/{AccountSid}.json",
    Attribute(
        "accountSid",
        "the account sid for which to get the details (default: the configured account)",
    ),
)
def get_account_details(client: TwilioClient, *, account_sid: str | None) -> Any:
    return client.accounts.get(account_sid)


@operation(
    "get-all-accounts-details",
    "List the account and its subaccounts.",
    "GET",
    "/Accounts.json",
    Attribute(
        "accountStatus",
        "Only return Account resources with the given status. Can be closed, suspended or active.",
        wire="Status",
        kind="choice",
        choices=("active", "suspended", "closed"),
        arg="status",
    ),
    Attribute(
        "friendlyName",
        "Only return the Account resources with friendly names that exactly match this name.",
        wire="FriendlyName",
    ),
    lists=True,
)
def get_all_accounts_details(
    client: TwilioClient, *, account_status: str | None, friendly_name: str | None, **paging: Any
) -> Any:
    return client.accounts.list(status=account_status, friendly_name=friendly_name, **paging)


@operation(
    "update-account",
    "Rename, suspend, reactivate or close an account.",
    "POST",
    "/Accounts/{AccountSid}.json",
    ACCOUNT_SID,
    Attribute(
        "accountStatus",
        "Alter the status of this account: use closed to irreversibly close this account, suspended to temporarily suspend it, or active to reactivate it.",
        wire="Status",
        kind="choice",
        choices=("active", "suspended", "closed"),
        arg="status",
    ),
    Attribute(
        "friendlyName",
        "Update the human-readable description of this account.",
        wire="FriendlyName",
    ),
)
def update_account(
    client: TwilioClient,
    *,
    account_sid: str | None,
    account_status: str | None,
    friendly_name: str | None,
) -> Any:
    return client.accounts.update(account_sid, status=account_status, friendly_name=friendly_name)


@operation(
    "create-sub-account",
    "Create a subaccount.",
    "POST",
    "/Accounts.json",
    Attribute(
        "friendlyName",
        'A human readable description of the new subaccount, up to 64 characters. Defaults to "SubAccount Created at {YYYY-MM-DD HH:MM meridiam}".',
        wire="FriendlyName",
    ),
)
def create_sub_account(client: TwilioClient, *, friendly_name: str | None) -> Any:
    return client.accounts.create(friendly_name=friendly_name)


@operation(
    "get-sub-account-by-account-sid",
    "Get a subaccount by its SID.",
    "GET",
    "/Accounts/{AccountSid}.json",
    Attribute("accountSid", "the account sid to use in the query", required=True),
)
def get_sub_account_by_account_sid(client: TwilioClient, *, account_sid: str) -> Any:
    return client.accounts.get(account_sid)


@operation(
    "get-sub-account-by-friendly-name",
    "Get the first account with this exact friendly name.",
    "GET",
    "/Accounts.json?FriendlyName=",
    Attribute(
        "friendlyName", "the friendly name to use in the query", required=True, wire="FriendlyName"
    ),
)
def get_sub_account_by_friendly_name(client: TwilioClient, *, friendly_name: str) -> Any:
    return client.accounts.find_by_friendly_name(friendly_name)


@operation(
    "exchange-phone-numbers-between-subaccounts",
    "Move a phone number from one (sub)account to another.",
    "POST",
    "/Accounts/{accountSidFrom}/IncomingPhoneNumbers/{Sid}.json",
    Attribute(
        "accountSidFrom",
        "the account sid from where to get the number (default: the configured account)",
        arg="account_sid",
    ),
    Attribute(
        "incomingPhoneNumberSid",
        "the incoming phone number sid to transfer",
        required=True,
        arg="sid",
    ),
    Attribute(
        "accountSidTo",
        "the account sid where to transfer the phone number.",
        required=True,
        wire="AccountSid",
        arg="to_account_sid",
    ),
)
def exchange_phone_numbers_between_subaccounts(
    client: TwilioClient,
    *,
    account_sid_from: str | None,
    incoming_phone_number_sid: str,
    account_sid_to: str,
) -> Any:
    return client.incoming_phone_numbers.transfer(
        incoming_phone_number_sid, account_sid_to, from_account_sid=account_sid_from
    )


@operation(
    "get-available-phone-numbers",
    "Search local numbers available to buy.",
    "GET",
    "/AvailablePhoneNumbers/{IsoCountryCode}/Local.json",
    *LOCAL_NUMBER_SEARCH,
    lists=True,
)
def get_available_phone_numbers(
    client: TwilioClient, *, account_sid: str | None, iso_country_code: str, **filters: Any
) -> Any:
    return client.available_phone_numbers.local(
        iso_country_code, account_sid=account_sid, **filters
    )


@operation(
    "get-available-phone-numbers-advanced-seach",
    "Search local numbers to buy, near a place or number.",
    "GET",
    "/AvailablePhoneNumbers/{IsoCountryCode}/Local.json",
    *LOCAL_NUMBER_SEARCH,
    Attribute(
        "nearLatLong",
        "Given a latitude/longitude pair lat,long find geographically close numbers within Distance miles.",
        wire="NearLatLong",
    ),
    Attribute(
        "nearPhoneNumber",
        "Given a phone number, find a geographically close number within Distance miles. Distance defaults to 25 miles.",
        wire="NearNumber",
        arg="near_number",
    ),
    Attribute(
        "inLata",
        "Limit results to a specific Local access and transport area (LATA). Given a phone number, search within the same LATA as that number.",
        wire="InLata",
    ),
    Attribute(
        "inRateCenter",
        "Limit results to a specific rate center, or given a phone number search within the same rate center as that number. Requires InLata to be set as well.",
        wire="InRateCenter",
    ),
    Attribute(
        "distance",
        "Specifies the search radius for a Near- query in miles. If not specified this defaults to 25 miles.",
        wire="Distance",
        kind="int",
    ),
    lists=True,
)
def get_available_phone_numbers_advanced_search(
    client: TwilioClient,
    *,
    account_sid: str | None,
    iso_country_code: str,
    near_phone_number: str | None,
    **filters: Any,
) -> Any:
    return client.available_phone_numbers.local(
        iso_country_code, account_sid=account_sid, near_number=near_phone_number, **filters
    )


@operation(
    "get-available-toll-free-numbers",
    "Search toll-free numbers available to buy.",
    "GET",
    "/AvailablePhoneNumbers/{IsoCountryCode}/TollFree.json",
    ACCOUNT_SID,
    ISO_COUNTRY_CODE,
    CONTAINS,
    lists=True,
)
def get_available_toll_free_numbers(
    client: TwilioClient, *, account_sid: str | None, iso_country_code: str, **filters: Any
) -> Any:
    return client.available_phone_numbers.toll_free(
        iso_country_code, account_sid=account_sid, **filters
    )


@operation(
    "get-outgoing-caller-id-by-outgoing-caller-id-sid",
    "Get a verified caller ID.",
    "GET",
    "/OutgoingCallerIds/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "outgoingCallerIdSid",
        "the outgoing caller id sid to use in the query",
        required=True,
        arg="sid",
    ),
)
def get_outgoing_caller_id(
    client: TwilioClient, *, account_sid: str | None, outgoing_caller_id_sid: str
) -> Any:
    return client.outgoing_caller_ids.get(outgoing_caller_id_sid, account_sid=account_sid)


@operation(
    "update-outgoing-caller-id-by-outgoing-caller-id-sid",
    "Rename a verified caller ID.",
    "POST",
    "/OutgoingCallerIds/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "outgoingCallerIdSid", "the outgoing caller id sid to update", required=True, arg="sid"
    ),
    Attribute(
        "friendlyName",
        "A human readable description of a Caller ID, with maximum length of 64 characters. Defaults to a nicely formatted version of the phone number.",
        required=True,
        wire="FriendlyName",
    ),
)
def update_outgoing_caller_id(
    client: TwilioClient,
    *,
    account_sid: str | None,
    outgoing_caller_id_sid: str,
    friendly_name: str,
) -> Any:
    return client.outgoing_caller_ids.update(
        outgoing_caller_id_sid, friendly_name=friendly_name, account_sid=account_sid
    )


@operation(
    "get-all-outgoing-caller-ids",
    "List the verified caller IDs.",
    "GET",
    "/OutgoingCallerIds.json",
    ACCOUNT_SID,
    Attribute(
        "phoneNumber",
        "Only show the caller id resource that exactly matches this phone number.",
        wire="PhoneNumber",
    ),
    Attribute(
        "friendlyName",
        "Only show the caller id resource that exactly matches this name.",
        wire="FriendlyName",
    ),
    lists=True,
)
def get_all_outgoing_caller_ids(client: TwilioClient, **arguments: Any) -> Any:
    return client.outgoing_caller_ids.list(**arguments)


@operation(
    "add-new-caller-id",
    "Start verifying a caller ID (returns the validation code).",
    "POST",
    "/OutgoingCallerIds.json",
    ACCOUNT_SID,
    Attribute(
        "phoneNumber",
        'The phone number to verify. Should be formatted with a "+" and country code e.g., +16175551212 (E.164 format). Twilio will also accept unformatted US numbers e.g., (415) 555-1212, 415-555-1212.',
        required=True,
        wire="PhoneNumber",
    ),
    Attribute(
        "friendlyName",
        "A human readable description for the new caller ID with maximum length 64 characters. Defaults to a nicely formatted version of the number.",
        wire="FriendlyName",
    ),
    Attribute(
        "callDelay",
        "The number of seconds, between 0 and 60, to delay before initiating the validation call. Defaults to 0.",
        wire="CallDelay",
        kind="int",
    ),
    Attribute(
        "extension", "Digits to dial after connecting the validation call.", wire="Extension"
    ),
)
def add_new_caller_id(client: TwilioClient, *, phone_number: str, **arguments: Any) -> Any:
    return client.outgoing_caller_ids.create(phone_number, **arguments)


@operation(
    "delete-outgoing-caller-id",
    "Delete a verified caller ID.",
    "DELETE",
    "/OutgoingCallerIds/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "outgoingCallerIdSid", "the outgoing caller id sid to delete", required=True, arg="sid"
    ),
)
def delete_outgoing_caller_id(
    client: TwilioClient, *, account_sid: str | None, outgoing_caller_id_sid: str
) -> Any:
    return client.outgoing_caller_ids.delete(outgoing_caller_id_sid, account_sid=account_sid)


@operation(
    "get-incoming-phone-numbers-by-incoming-phone-number-sid",
    "Get one of your phone numbers.",
    "GET",
    "/IncomingPhoneNumbers/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "incomingPhoneNumberSid",
        "the incoming phone number sid to use in the query",
        required=True,
        arg="sid",
    ),
)
def get_incoming_phone_number(
    client: TwilioClient, *, account_sid: str | None, incoming_phone_number_sid: str
) -> Any:
    return client.incoming_phone_numbers.get(incoming_phone_number_sid, account_sid=account_sid)


@operation(
    "update-incoming-phone-numbers",
    "Change a phone number's URLs, methods and applications.",
    "POST",
    "/IncomingPhoneNumbers/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "incomingPhoneNumberSid", "the incoming phone number sid to use", required=True, arg="sid"
    ),
    Attribute(
        "friendlyName",
        "A human readable description of the new incoming phone number resource, with maximum length 64 characters.",
        wire="FriendlyName",
    ),
    Attribute(
        "apiVersion",
        "Calls to this phone number will start a new TwiML session with this API version. Either 2010-04-01 or 2008-08-01.",
        wire="ApiVersion",
        kind="choice",
        choices=("2010-04-01", "2008-08-01"),
    ),
    Attribute(
        "voiceUrl",
        "The URL that Twilio should request when somebody dials the phone number.",
        wire="VoiceUrl",
    ),
    VOICE_METHOD,
    VOICE_FALLBACK_URL,
    VOICE_FALLBACK_METHOD,
    Attribute(
        "statusCallback",
        "The URL that Twilio will request to pass status parameters (such as call ended) to your application",
        wire="StatusCallback",
    ),
    STATUS_CALLBACK_METHOD,
    VOICE_CALLER_ID_LOOKUP,
    Attribute(
        "voiceApplicationSid",
        "The 34 character sid of the application Twilio should use to handle phone calls to this number. If a VoiceApplicationSid is present, Twilio will ignore all of the voice urls above and use those set on the application instead.",
        wire="VoiceApplicationSid",
    ),
    Attribute(
        "smsUrl",
        "The URL that Twilio should request when somebody sends an SMS to the new phone number.",
        wire="SmsUrl",
    ),
    SMS_METHOD,
    SMS_FALLBACK_URL,
    SMS_FALLBACK_METHOD,
    Attribute(
        "smsApplicationSid",
        "The 34 character sid of the application Twilio should use to handle SMSs sent to this number. If a SmsApplicationSid is present, Twilio will ignore all of the SMS urls above and use those set on the application instead.",
        wire="SmsApplicationSid",
    ),
    Attribute(
        "accountSidDestination",
        "The unique 34 character id of the account to which you wish to transfer this phone number.",
        wire="AccountSid",
        arg="destination_account_sid",
    ),
)
def update_incoming_phone_numbers(
    client: TwilioClient,
    *,
    account_sid: str | None,
    incoming_phone_number_sid: str,
    account_sid_destination: str | None,
    **settings: Any,
) -> Any:
    return client.incoming_phone_numbers.update(
        incoming_phone_number_sid,
        account_sid=account_sid,
        destination_account_sid=account_sid_destination,
        **settings,
    )


@operation(
    "delete-incoming-phone-number",
    "Release a phone number.",
    "DELETE",
    "/IncomingPhoneNumbers/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "incomingPhoneNumberSid",
        "the incoming phone number sid to delete",
        required=True,
        arg="sid",
    ),
)
def delete_incoming_phone_number(
    client: TwilioClient, *, account_sid: str | None, incoming_phone_number_sid: str
) -> Any:
    return client.incoming_phone_numbers.delete(incoming_phone_number_sid, account_sid=account_sid)


@operation(
    "get-incoming-phone-numbers",
    "List your phone numbers.",
    "GET",
    "/IncomingPhoneNumbers.json",
    ACCOUNT_SID,
    Attribute(
        "phoneNumber",
        'Only show the incoming phone number resources that match this pattern. You can specify partial numbers and use "*" as a wildcard for any digit.',
        wire="PhoneNumber",
    ),
    Attribute(
        "friendlyName",
        "Only show the incoming phone number resources with friendly names that exactly match this name.",
        wire="FriendlyName",
    ),
    lists=True,
)
def get_incoming_phone_numbers(client: TwilioClient, **arguments: Any) -> Any:
    return client.incoming_phone_numbers.list(**arguments)


@operation(
    "add-incoming-phone-number-by-phone-number",
    "Buy a given phone number.",
    "POST",
    "/IncomingPhoneNumbers.json",
    ACCOUNT_SID,
    Attribute(
        "phoneNumber",
        'The phone number you want to purchase. The number should be formated starting with a "+" followed by the country code and the number in E.164 format e.g., "+15105555555".',
        required=True,
        wire="PhoneNumber",
    ),
    *NEW_NUMBER_SETTINGS,
)
def add_incoming_phone_number_by_phone_number(client: TwilioClient, **arguments: Any) -> Any:
    return client.incoming_phone_numbers.create(**arguments)


@operation(
    "add-incoming-phone-number-by-area-code",
    "Buy a phone number in a US area code.",
    "POST",
    "/IncomingPhoneNumbers.json",
    ACCOUNT_SID,
    Attribute(
        "areaCode",
        "The area code in which you'd like a new incoming phone number. Any three digit, US area code is valid. Twilio will provision a random phone number within this area code for you.",
        required=True,
        wire="AreaCode",
    ),
    *NEW_NUMBER_SETTINGS,
)
def add_incoming_phone_number_by_area_code(client: TwilioClient, **arguments: Any) -> Any:
    return client.incoming_phone_numbers.create(**arguments)


@operation(
    "get-application",
    "Get an application.",
    "GET",
    "/Applications/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "applicationSid", "the application sid to use in the query", required=True, arg="sid"
    ),
)
def get_application(client: TwilioClient, *, account_sid: str | None, application_sid: str) -> Any:
    return client.applications.get(application_sid, account_sid=account_sid)


@operation(
    "update-application",
    "Change an application's URLs and methods.",
    "POST",
    "/Applications/{Sid}.json",
    ACCOUNT_SID,
    Attribute("applicationSid", "the application sid to update", required=True, arg="sid"),
    Attribute(
        "friendlyName",
        "A human readable description of the application, with maximum length 64 characters.",
        wire="FriendlyName",
    ),
    Attribute(
        "apiVersion",
        "Requests to this application's URLs will start a new TwiML session with this API version. Either 2010-04-01 or 2008-08-01.",
        wire="ApiVersion",
        kind="choice",
        choices=("2010-04-01", "2008-08-01"),
    ),
    Attribute(
        "voiceUrl",
        "The URL that Twilio should request when somebody dials a phone number assigned to this application.",
        wire="VoiceUrl",
    ),
    VOICE_METHOD,
    VOICE_FALLBACK_URL,
    VOICE_FALLBACK_METHOD,
    STATUS_CALLBACK,
    STATUS_CALLBACK_METHOD,
    VOICE_CALLER_ID_LOOKUP,
    APPLICATION_SMS_URL,
    SMS_METHOD,
    SMS_FALLBACK_URL,
    SMS_FALLBACK_METHOD,
    SMS_STATUS_CALLBACK,
)
def update_application(
    client: TwilioClient, *, account_sid: str | None, application_sid: str, **settings: Any
) -> Any:
    return client.applications.update(application_sid, account_sid=account_sid, **settings)


@operation(
    "delete-application",
    "Delete an application.",
    "DELETE",
    "/Applications/{Sid}.json",
    ACCOUNT_SID,
    Attribute("applicationSid", "the application sid to use", required=True, arg="sid"),
)
def delete_application(
    client: TwilioClient, *, account_sid: str | None, application_sid: str
) -> Any:
    return client.applications.delete(application_sid, account_sid=account_sid)


@operation(
    "get-all-applications",
    "List the applications.",
    "GET",
    "/Applications.json",
    ACCOUNT_SID,
    Attribute(
        "friendlyName",
        "Only return the Application resources with friendly names that exactly match this name.",
        wire="FriendlyName",
    ),
    lists=True,
)
def get_all_applications(client: TwilioClient, **arguments: Any) -> Any:
    return client.applications.list(**arguments)


@operation(
    "create-application",
    "Create an application.",
    "POST",
    "/Applications.json",
    ACCOUNT_SID,
    Attribute(
        "friendlyName",
        "A human readable description of the new application. Maximum 64 characters.",
        required=True,
        wire="FriendlyName",
    ),
    Attribute(
        "apiVersion",
        "Requests to this application's URLs will start a new TwiML session with this API version. Either 2010-04-01 or 2008-08-01. Defaults to your account's default API version.",
        wire="ApiVersion",
        kind="choice",
        choices=("2010-04-01", "2008-08-01"),
    ),
    Attribute(
        "voiceUrl",
        "The URL that Twilio should request when somebody dials a phone number assigned to this application",
        wire="VoiceUrl",
    ),
    VOICE_METHOD_WITH_DEFAULT,
    VOICE_FALLBACK_URL_WITH_DEFAULT,
    VOICE_FALLBACK_METHOD_WITH_DEFAULT,
    STATUS_CALLBACK,
    STATUS_CALLBACK_METHOD_WITH_DEFAULT,
    VOICE_CALLER_ID_LOOKUP_WITH_DEFAULT,
    APPLICATION_SMS_URL,
    SMS_METHOD_WITH_DEFAULT,
    SMS_FALLBACK_URL,
    SMS_FALLBACK_METHOD_WITH_DEFAULT,
    SMS_STATUS_CALLBACK,
)
def create_application(client: TwilioClient, *, friendly_name: str, **settings: Any) -> Any:
    return client.applications.create(friendly_name, **settings)


@operation(
    "get-call",
    "Get a call.",
    "GET",
    "/Calls/{Sid}.json",
    ACCOUNT_SID,
    Attribute("callSid", "the call sid to use in the query", required=True, arg="sid"),
)
def get_call(client: TwilioClient, *, account_sid: str | None, call_sid: str) -> Any:
    return client.calls.get(call_sid, account_sid=account_sid)


@operation(
    "get-calls",
    "List calls, filtered by number, status and start time.",
    "GET",
    "/Calls.json",
    ACCOUNT_SID,
    Attribute("to", "Only show calls to this phone number.", wire="To"),
    Attribute("from", "Only show calls from this phone number.", wire="From"),
    Attribute(
        "status",
        "Only show calls currently in this status. May be queued, ringing, in-progress, completed, failed, busy, or no-answer.",
        wire="Status",
        kind="choice",
        choices=CALL_STATUSES,
    ),
    Attribute(
        "startTime",
        "Only show calls that started on this date, given as YYYY-MM-DD. Also supports inequalities, such as StartTime<=YYYY-MM-DD for calls that started at or before midnight on a date, and StartTime>=YYYY-MM-DD for calls that started at or after midnight on a date.",
        wire="StartTime",
        kind="date",
    ),
    lists=True,
)
def get_calls(
    client: TwilioClient, *, from_: str | None, start_time: str | None, **arguments: Any
) -> Any:
    return client.calls.list(from_=from_, **dated("start_time", start_time), **arguments)


@operation(
    "make-call",
    "Place a call.",
    "POST",
    "/Calls.json",
    ACCOUNT_SID,
    Attribute(
        "from",
        'The phone number to use as the caller id. Format with a "+" and country code e.g., +16175551212 (E.164 format). Must be a Twilio number or a valid outgoing caller id for your account.',
        required=True,
        wire="From",
    ),
    Attribute(
        "to",
        'The number to call formatted with a "+" and country code e.g., +16175551212 (E.164 format). Twilio will also accept unformatted US numbers e.g., (415) 555-1212, 415-555-1212.',
        required=True,
        wire="To",
    ),
    Attribute(
        "url",
        "The fully qualified URL that should be consulted when the call connects. Just like when you set a URL on a phone number for handling inbound calls.",
        wire="Url",
    ),
    Attribute(
        "applicationSid",
        "The 34 character sid of the application Twilio should use to handle this phone call. If this parameter is present, Twilio will ignore all of the voice URLs passed and use the URLs set on the application.",
        wire="ApplicationSid",
    ),
    Attribute(
        "method",
        "The HTTP method Twilio should use when making its request to the above Url parameter's value. Defaults to POST. If an ApplicationSid parameter is present, this parameter is ignored.",
        wire="Method",
        kind="method",
    ),
    Attribute(
        "fallbackUrl",
        "A URL that Twilio will request if an error occurs requesting or executing the TwiML at Url. If an ApplicationSid parameter is present, this parameter is ignored.",
        wire="FallbackUrl",
    ),
    Attribute(
        "fallbackMethod",
        "The HTTP method that Twilio should use to request the FallbackUrl. Must be either GET or POST. Defaults to POST. If an ApplicationSid parameter is present, this parameter is ignored.",
        wire="FallbackMethod",
        kind="method",
    ),
    Attribute(
        "statusCallback",
        "A URL that Twilio will request when the call ends to notify your app. If an ApplicationSid parameter is present, this parameter is ignored.",
        wire="StatusCallback",
    ),
    Attribute(
        "statusCallbackMethod",
        "The HTTP method Twilio should use when requesting the above URL. Defaults to POST. If an ApplicationSid parameter is present, this parameter is ignored.",
        wire="StatusCallbackMethod",
        kind="method",
    ),
    Attribute(
        "sendDigits",
        'A string of keys to dial after connecting to the number. Valid digits in the string include: any digit (0-9), "#" and "*". For example, if you connected to a company phone number, and wanted to dial extension 1234 and then the pound key, use SendDigits=1234#. Remember to URL-encode this string, since the "#" character has special meaning in a URL.',
        wire="SendDigits",
    ),
    Attribute(
        "ifMachine",
        "Tell Twilio to try and determine if a machine (like voicemail) or a human has answered the call. Possible values are Continue and Hangup.",
        wire="MachineDetection",
        kind="choice",
        choices=IF_MACHINE,
    ),
    Attribute(
        "timeout",
        "The integer number of seconds that Twilio should allow the phone to ring before assuming there is no answer. Default is 60 seconds, the maximum is 999 seconds. Note, you could set this to a low value, such as 15, to hangup before reaching an answering machine or voicemail.",
        wire="Timeout",
        kind="int",
    ),
    Attribute(
        "twiml",
        "TwiML to run when the call connects, instead of a url or an applicationSid.",
        wire="Twiml",
        extra=True,
    ),
    Attribute(
        "statusCallbackEvent",
        "A call progress event to report to statusCallback: initiated, ringing, answered or "
        "completed (give the option once per event; default: completed only).",
        wire="StatusCallbackEvent",
        kind="list",
        choices=STATUS_CALLBACK_EVENTS,
        extra=True,
    ),
    Attribute(
        "machineDetection",
        "Answering machine detection: Enable or DetectMessageEnd (ifMachine sends Enable).",
        wire="MachineDetection",
        kind="choice",
        choices=("Enable", "DetectMessageEnd"),
        extra=True,
    ),
    Attribute("record", "Record the call: true or false.", wire="Record", kind="bool", extra=True),
)
def make_call(client: TwilioClient, *, to: str, from_: str, **arguments: Any) -> Any:
    return client.calls.create(to, from_, **arguments)


@operation(
    "change-call-state",
    "Redirect a live call to new TwiML, or end it.",
    "POST",
    "/Calls/{Sid}.json",
    ACCOUNT_SID,
    Attribute("callSid", "the call sid to modify", required=True, arg="sid"),
    Attribute(
        "url",
        "A valid URL that returns TwiML. Twilio will immediately redirect the call to the new TwiML.",
        wire="Url",
    ),
    Attribute(
        "method",
        "The HTTP method Twilio should use when requesting the above URL. Defaults to POST.",
        wire="Method",
        kind="method",
    ),
    Attribute(
        "status",
        "Either canceled or completed. Specifying canceled will attempt to hangup calls that are queued or ringing but not affect calls already in progress. Specifying completed will attempt to hang up a call even if it's already in progress.",
        wire="Status",
        kind="choice",
        choices=("canceled", "completed"),
    ),
)
def change_call_state(
    client: TwilioClient, *, account_sid: str | None, call_sid: str, **changes: Any
) -> Any:
    return client.calls.update(call_sid, account_sid=account_sid, **changes)


@operation(
    "get-conference",
    "Get a conference.",
    "GET",
    "/Conferences/{Sid}.json",
    ACCOUNT_SID,
    Attribute("conferenceSid", "the conference sid to use in the query", required=True, arg="sid"),
)
def get_conference(client: TwilioClient, *, account_sid: str | None, conference_sid: str) -> Any:
    return client.conferences.get(conference_sid, account_sid=account_sid)


@operation(
    "get-conferences",
    "List conferences.",
    "GET",
    "/Conferences.json",
    ACCOUNT_SID,
    Attribute(
        "status",
        "Only show conferences currently in with this status. May be init, in-progress, or completed.",
        wire="Status",
        kind="choice",
        choices=CONFERENCE_STATUSES,
    ),
    Attribute(
        "friendlyName",
        "List conferences who's FriendlyName is the exact match of this string.",
        wire="FriendlyName",
    ),
    Attribute(
        "dateCreated",
        "Only show conferences that started on this date, given as YYYY-MM-DD. You can also specify inequality, such as DateCreated<=YYYY-MM-DD for conferences that started at or before midnight on a date, and DateCreated>=YYYY-MM-DD for conferences that started at or after midnight on a date.",
        wire="DateCreated",
        kind="date",
    ),
    Attribute(
        "dateUpdated",
        "Only show conferences that were last updated on this date, given as YYYY-MM-DD. You can also specify inequality, such as DateUpdated<=YYYY-MM-DD for conferences that were last updated at or before midnight on a date, and DateUpdated>=YYYY-MM-DD for conferences that were updated at or after midnight on a date.",
        wire="DateUpdated",
        kind="date",
    ),
    lists=True,
)
def get_conferences(
    client: TwilioClient, *, date_created: str | None, date_updated: str | None, **arguments: Any
) -> Any:
    return client.conferences.list(
        **dated("date_created", date_created), **dated("date_updated", date_updated), **arguments
    )


@operation(
    "get-participant",
    "Get a participant of a conference.",
    "GET",
    "/Conferences/{ConferenceSid}/Participants/{CallSid}.json",
    ACCOUNT_SID,
    CONFERENCE_SID,
    CALL_SID,
)
def get_participant(
    client: TwilioClient, *, account_sid: str | None, conference_sid: str, call_sid: str
) -> Any:
    return client.conferences.participants.get(conference_sid, call_sid, account_sid=account_sid)


@operation(
    "update-participant-status",
    "Mute or unmute a participant.",
    "POST",
    "/Conferences/{ConferenceSid}/Participants/{CallSid}.json",
    ACCOUNT_SID,
    PARTICIPANT_CONFERENCE_SID,
    PARTICIPANT_CALL_SID,
    Attribute(
        "muted",
        "Specifying true will mute the participant, while false will un-mute.",
        required=True,
        wire="Muted",
        kind="bool",
    ),
)
def update_participant_status(
    client: TwilioClient,
    *,
    account_sid: str | None,
    conference_sid: str,
    call_sid: str,
    muted: bool,
) -> Any:
    return client.conferences.participants.update(
        conference_sid, call_sid, muted=muted, account_sid=account_sid
    )


@operation(
    "delete-participant",
    "Remove a participant from a conference.",
    "DELETE",
    "/Conferences/{ConferenceSid}/Participants/{CallSid}.json",
    ACCOUNT_SID,
    PARTICIPANT_CONFERENCE_SID,
    PARTICIPANT_CALL_SID,
)
def delete_participant(
    client: TwilioClient, *, account_sid: str | None, conference_sid: str, call_sid: str
) -> Any:
    return client.conferences.participants.delete(conference_sid, call_sid, account_sid=account_sid)


@operation(
    "get-participants",
    "List the participants of a conference.",
    "GET",
    "/Conferences/{ConferenceSid}/Participants.json",
    ACCOUNT_SID,
    CONFERENCE_SID,
    Attribute(
        "muted",
        "Only show participants that are muted or unmuted. Either true or false.",
        wire="Muted",
        kind="bool",
    ),
    lists=True,
)
def get_participants(client: TwilioClient, *, conference_sid: str, **arguments: Any) -> Any:
    return client.conferences.participants.list(conference_sid, **arguments)


@operation(
    "get-sms-message",
    "Get a message (the retired SMS resource, now Messages).",
    "GET",
    "/Messages/{Sid}.json",
    ACCOUNT_SID,
    Attribute(
        "smsMessageSid", "the SMS message sid to use in the query.", required=True, arg="sid"
    ),
)
def get_sms_message(client: TwilioClient, *, account_sid: str | None, sms_message_sid: str) -> Any:
    return client.messages.get(sms_message_sid, account_sid=account_sid)


@operation(
    "get-all-sms-messages",
    "List messages, filtered by number and date sent.",
    "GET",
    "/Messages.json",
    ACCOUNT_SID,
    Attribute("to", "Only show SMS messages to this phone number.", wire="To"),
    Attribute("from", "Only show SMS messages from this phone number.", wire="From"),
    Attribute(
        "dateSent",
        "Only show SMS messages sent on this date, given as YYYY-MM-DD. Example: DateSent=2009-07-06. You can also specify inequality, such as DateSent<=YYYY-MM-DD for SMS messages that were sent on or before midnight on a date, and DateSent>=YYYY-MM-DD for SMS messages sent on or after midnight on a date.",
        wire="DateSent",
        kind="date",
    ),
    lists=True,
)
def get_all_sms_messages(
    client: TwilioClient, *, from_: str | None, date_sent: str | None, **arguments: Any
) -> Any:
    return client.messages.list(from_=from_, **dated("date_sent", date_sent), **arguments)


@operation(
    "send-sms-message",
    "Send a message (SMS, or MMS with --media-url).",
    "POST",
    "/Messages.json",
    ACCOUNT_SID,
    Attribute(
        "from",
        "A Twilio number enabled for SMS. Only phone numbers purchased from Twilio work here; you cannot (for example) spoof SMS messages from your own cell phone number."
        " (Optional when messagingServiceSid is given.)",
        wire="From",
    ),
    Attribute(
        "to",
        'The destination phone number. Format with a "+" and country code e.g., +16175551212 (E.164 format). Twilio will also accept unformatted US numbers e.g., (415) 555-1212, 415-555-1212.',
        required=True,
        wire="To",
    ),
    Attribute(
        "body",
        "The text of the message you want to send, limited to 160 characters"
        " (today: 1600; optional when mediaUrl is given).",
        wire="Body",
    ),
    Attribute(
        "statusCallback",
        "A URL that Twilio will POST to when your message is processed. Twilio will POST the SmsSid as well as SmsStatus=sent or SmsStatus=failed.",
        wire="StatusCallback",
    ),
    Attribute(
        "applicationSid",
        "Twilio will POST SmsSid as well as SmsStatus=sent or SmsStatus=failed to the URL in the SmsStatusCallback property of this Application. If the StatusCallback parameter above is also passed, the Application's SmsStatusCallback parameter will take precedence.",
        wire="ApplicationSid",
    ),
    Attribute(
        "mediaUrl",
        "The URL of an image, audio or video to send as MMS (give the option once per URL, "
        "up to 10).",
        wire="MediaUrl",
        kind="list",
        extra=True,
    ),
    Attribute(
        "messagingServiceSid",
        "Send through this Messaging Service (MG...) instead of, or as well as, from.",
        wire="MessagingServiceSid",
        extra=True,
    ),
)
def send_sms_message(
    client: TwilioClient, *, to: str, from_: str | None, media_url: Any, **arguments: Any
) -> Any:
    media = list(media_url) if media_url else None
    if arguments.get("body") is None and not media:
        raise ValidationError("body", "a message needs a body, media URLs or both")
    validation.message_content("body", arguments.get("body"), media=bool(media))
    return client.messages.create(to, from_=from_, media_url=media, **arguments)


@operation(
    "get-recording",
    "Get a recording as JSON, or its audio as MP3 or WAV.",
    "GET",
    "/Recordings/{Sid}.{json|mp3|wav}",
    ACCOUNT_SID,
    Attribute("recordingSid", "the recording sid to use in the query", required=True, arg="sid"),
    Attribute(
        "recordingType",
        "the recording type to use: json (the default), mp3 or wav (xml, retired, means json)",
        kind="choice",
        choices=("json", "mp3", "wav", "xml"),
        default="json",
        arg="format",
    ),
)
def get_recording(
    client: TwilioClient, *, account_sid: str | None, recording_sid: str, recording_type: str
) -> Any:
    kind = _representation("recording_type", recording_type, ("json", "mp3", "wav"))
    if kind == "json":
        return client.recordings.get(recording_sid, account_sid=account_sid)
    return client.recordings.media(recording_sid, kind, account_sid=account_sid)


@operation(
    "delete-recording",
    "Delete a recording.",
    "DELETE",
    "/Recordings/{Sid}.json",
    ACCOUNT_SID,
    Attribute("recordingSid", "the recording sid to use.", required=True, arg="sid"),
)
def delete_recording(client: TwilioClient, *, account_sid: str | None, recording_sid: str) -> Any:
    return client.recordings.delete(recording_sid, account_sid=account_sid)


@operation(
    "get-recordings",
    "List recordings.",
    "GET",
    "/Recordings.json",
    ACCOUNT_SID,
    Attribute(
        "callSid", "Show only recordings made during the call given by this sid.", wire="CallSid"
    ),
    Attribute(
        "dateCreated",
        "Only show recordings created on the given date. Should be formatted as YYYY-MM-DD. You can also specify inequality, such as DateCreated<=YYYY-MM-DD for recordings generated at or before midnight on a date, and DateCreated>=YYYY-MM-DD for recordings generated at or after midnight on a date.",
        wire="DateCreated",
        kind="date",
    ),
    lists=True,
)
def get_recordings(client: TwilioClient, *, date_created: str | None, **arguments: Any) -> Any:
    return client.recordings.list(**dated("date_created", date_created), **arguments)


@operation(
    "get-transcription-by-transcription-sid",
    "Get a transcription as JSON or as plain text.",
    "GET",
    "/Transcriptions/{Sid}.{json|txt}",
    ACCOUNT_SID,
    Attribute(
        "transcriptionSid", "the transcription sid to use in the query.", required=True, arg="sid"
    ),
    Attribute(
        "transcriptionFormat",
        "the transcription format of the response: json (the default) or txt (xml, retired, means json)",
        kind="choice",
        choices=("json", "txt", "xml"),
        default="json",
    ),
)
def get_transcription(
    client: TwilioClient,
    *,
    account_sid: str | None,
    transcription_sid: str,
    transcription_format: str,
) -> Any:
    kind = _representation("transcription_format", transcription_format, ("json", "txt"))
    if kind == "json":
        return client.transcriptions.get(transcription_sid, account_sid=account_sid)
    return client.transcriptions.text(transcription_sid, account_sid=account_sid)


@operation(
    "get-transcriptions",
    "List transcriptions (of one recording or all).",
    "GET",
    "/Recordings/{RecordingSid}/Transcriptions.json or /Transcriptions.json",
    ACCOUNT_SID,
    Attribute("recordingSid", "the recording sid to use in the query"),
    Attribute(
        "transcriptionFormat",
        "the transcription format for the response: json (the default) or txt (xml, retired, means json)",
        kind="choice",
        choices=("json", "txt", "xml"),
        default="json",
    ),
    lists=True,
)
def get_transcriptions(client: TwilioClient, *, transcription_format: str, **arguments: Any) -> Any:
    kind = _representation("transcription_format", transcription_format, ("json", "txt"))
    transcriptions = client.transcriptions.list(**arguments)
    if kind == "json":
        return transcriptions
    return (transcription.get("transcription_text") for transcription in transcriptions)


@operation(
    "get-notification",
    "Get a notification (an error or warning Twilio logged).",
    "GET",
    "/Notifications/{Sid}.json",
    Attribute("accountSid", "the account sid to use in the query"),
    Attribute(
        "notificationSid", "the notification sid to use in the query", required=True, arg="sid"
    ),
)
def get_notification(
    client: TwilioClient, *, account_sid: str | None, notification_sid: str
) -> Any:
    return client.notifications.get(notification_sid, account_sid=account_sid)


@operation(
    "delete-notification",
    "Delete a notification (retired by Twilio).",
    "DELETE",
    "/Notifications/{Sid}.json",
    ACCOUNT_SID,
    Attribute("notificationSid", "the notification sid to use", required=True, arg="sid"),
)
def delete_notification(
    client: TwilioClient, *, account_sid: str | None, notification_sid: str
) -> Any:
    return client.notifications.delete(notification_sid, account_sid=account_sid)


@operation(
    "get-all-notifications",
    "List notifications.",
    "GET",
    "/Notifications.json",
    ACCOUNT_SID,
    LOG,
    MESSAGE_DATE,
    lists=True,
)
def get_all_notifications(
    client: TwilioClient, *, message_date: str | None, **arguments: Any
) -> Any:
    return client.notifications.list(**dated("message_date", message_date), **arguments)


@operation(
    "get-notifications-by-call-sid",
    "List the notifications of a call.",
    "GET",
    "/Calls/{CallSid}/Notifications.json",
    ACCOUNT_SID,
    CALL_SID,
    LOG,
    MESSAGE_DATE,
    lists=True,
)
def get_notifications_by_call_sid(
    client: TwilioClient, *, call_sid: str, message_date: str | None, **arguments: Any
) -> Any:
    return client.notifications.list(
        call_sid=call_sid, **dated("message_date", message_date), **arguments
    )


@operation(
    "get-sandbox",
    "Get the developer sandbox (retired by Twilio).",
    "GET",
    "/Sandbox.json",
    ACCOUNT_SID,
)
def get_sandbox(client: TwilioClient, *, account_sid: str | None) -> Any:
    return client.sandbox.get(account_sid=account_sid)


@operation(
    "update-sandbox",
    "Change the sandbox's voice and SMS URLs (retired by Twilio).",
    "POST",
    "/Sandbox.json",
    ACCOUNT_SID,
    Attribute(
        "voiceUrl",
        "The URL that Twilio should request when somebody calls this sandbox.",
        wire="VoiceUrl",
    ),
    Attribute(
        "voiceMethod",
        "The HTTP method that should be used to request the above URL. Must be either GET or POST. Defaults to POST.",
        wire="VoiceMethod",
        kind="method",
    ),
    Attribute(
        "smsUrl",
        "The URL that Twilio should request when somebody sends an SMS to the sandbox.",
        wire="SmsUrl",
    ),
    SMS_METHOD_WITH_DEFAULT,
)
def update_sandbox(client: TwilioClient, **arguments: Any) -> Any:
    return client.sandbox.update(**arguments)


OPERATIONS["get-available-phone-numbers-advanced-search"] = OPERATIONS[
    "get-available-phone-numbers-advanced-seach"
]
