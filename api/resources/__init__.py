"""The REST API's resource groups, mixed into :class:`api.TwilioClient`.

Each group is a small class in its own module, made once per client on first use::

    client.calls.create(to="+14155550100", from_="+14155550199", url="https://example.com/voice")
    for message in client.messages.list(date_sent_after="2024-01-01", limit=20):
        ...
"""

from __future__ import annotations

from functools import cached_property

from switchboard.api.errors import ResourceNotFound, RetiredResource
from switchboard.api.resources.accounts import Accounts
from switchboard.api.resources.applications import Applications
from switchboard.api.resources.available_phone_numbers import AvailablePhoneNumbers
from switchboard.api.resources.base import Resource
from switchboard.api.resources.caller_ids import OutgoingCallerIds
from switchboard.api.resources.calls import Calls
from switchboard.api.resources.conferences import Conferences, Participants
from switchboard.api.resources.media import MediaStream
from switchboard.api.resources.messages import Messages
from switchboard.api.resources.notifications import Notifications
from switchboard.api.resources.phone_numbers import IncomingPhoneNumbers
from switchboard.api.resources.recordings import Recordings
from switchboard.api.resources.sandbox import Sandbox
from switchboard.api.resources.transcriptions import Transcriptions

__all__ = [
    "Accounts",
    "Applications",
    "AvailablePhoneNumbers",
    "Calls",
    "Conferences",
    "IncomingPhoneNumbers",
    "MediaStream",
    "Messages",
    "Notifications",
    "OutgoingCallerIds",
    "Participants",
    "Recordings",
    "Resource",
    "ResourceGroups",
    "ResourceNotFound",
    "RetiredResource",
    "Sandbox",
    "Transcriptions",
]


class ResourceGroups:
    """Resource groups as attributes of the client (``client.calls``, ``client.messages``...)."""

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self)

    @cached_property
    def available_phone_numbers(self) -> AvailablePhoneNumbers:
        return AvailablePhoneNumbers(self)

    @cached_property
    def outgoing_caller_ids(self) -> OutgoingCallerIds:
        return OutgoingCallerIds(self)

    @cached_property
    def incoming_phone_numbers(self) -> IncomingPhoneNumbers:
        return IncomingPhoneNumbers(self)

    @cached_property
    def applications(self) -> Applications:
        return Applications(self)

    @cached_property
    def calls(self) -> Calls:
        return Calls(self)

    @cached_property
    def conferences(self) -> Conferences:
        return Conferences(self)

    @cached_property
    def messages(self) -> Messages:
        return Messages(self)

    @cached_property
    def recordings(self) -> Recordings:
        return Recordings(self)

    @cached_property
    def transcriptions(self) -> Transcriptions:
        return Transcriptions(self)

    @cached_property
    def notifications(self) -> Notifications:
        return Notifications(self)

    @cached_property
    def sandbox(self) -> Sandbox:
        return Sandbox(self)
