"""Accounts and subaccounts: ``/2010-04-01/Accounts``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from switchboard.api.errors import ResourceNotFound
from switchboard.api.resources.base import (
    Field,
    Resource,
    changes,
    choice,
    form,
    nonempty,
    sid,
)

ACCOUNT_STATUSES = ("active", "suspended", "closed")

_FIELDS = {
    "friendly_name": Field("FriendlyName", nonempty),
    "status": Field("Status", choice(*ACCOUNT_STATUSES)),
}


class Accounts(Resource):
    """The account the client is configured with, and its subaccounts.

    Statuses are ``active``, ``suspended`` and ``closed`` (any case is accepted).
    """

    def _account(self, account_sid: str | None) -> str:
        if account_sid is None:
            return self._client.account_path(".json")
        sid("AC")("account_sid", account_sid)
        return self._client.account_path(".json", account_sid)

    def get(self, account_sid: str | None = None) -> dict[str, Any]:
        """The account ``account_sid`` (default: the configured account)."""
        return self._get(self._account(account_sid))

    def list(
        self,
        *,
        status: str | None = None,
        friendly_name: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The configured account and its subaccounts, filtered by status and friendly name."""
        params = form(_FIELDS, {"status": status, "friendly_name": friendly_name})
        return self._list("/2010-04-01/Accounts.json", "accounts", params, limit, page_size)

    def create(self, *, friendly_name: str | None = None) -> dict[str, Any]:
        """A new subaccount."""
        data = form(_FIELDS, {"friendly_name": friendly_name})
        return self._post("/2010-04-01/Accounts.json", data)

    def update(
        self,
        account_sid: str | None = None,
        *,
        status: str | None = None,
        friendly_name: str | None = None,
    ) -> dict[str, Any]:
        """Rename, suspend, reactivate or close (irreversibly) an account."""
        path = self._account(account_sid)
        data = changes(_FIELDS, {"status": status, "friendly_name": friendly_name})
        return self._post(path, data)

    def find_by_friendly_name(self, friendly_name: str) -> dict[str, Any]:
        """The first account whose friendly name is exactly ``friendly_name``.

        Raises :class:`ResourceNotFound` when there is none.
        """
        params = form(_FIELDS, {"friendly_name": friendly_name}, required=("friendly_name",))
        pages = self._list("/2010-04-01/Accounts.json", "accounts", params, 1, None)
        for account in pages:
            return account
        raise ResourceNotFound(f"no account has the friendly name {friendly_name!r}")
