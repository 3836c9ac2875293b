"""The REST API's resource groups, mixed into :class:`api.TwilioClient`."""

from __future__ import annotations


class ResourceGroups:
    """Resource groups as attributes of the client (``client.calls``, ``client.messages``...)."""
