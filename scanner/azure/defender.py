"""Defender for Cloud through `azure-mgmt-security`: plans (fallback to Resource Graph) and contacts.

`SecurityCenter` requires a subscription id even for scoped calls, so there is one client per
subscription. Rows keep the service's raw JSON so checks read the same casing as Resource Graph.
"""

from __future__ import annotations

import json
from typing import Any

from azure.mgmt.security import SecurityCenter

from scanner.azure.arm import as_row
from scanner.azure.limits import Gate
from scanner.azure.options import CollectOptions
from scanner.azure.throttle import Quota, retry_policy
from scanner.models import Resource

PRICING_TYPE = "microsoft.security/pricings"
CONTACT_TYPE = "microsoft.security/securitycontacts"


def _raw(pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
    """`cls` hook: keep the response body as the service sent it, not the SDK model."""
    return json.loads(pipeline_response.http_response.text())


class Defender:
    def __init__(self, options: CollectOptions, credential: Any, quota: Quota, gate: Gate | None = None) -> None:
        self._options = options
        self._credential = credential
        self._quota = quota
        self._gate = gate
        self.requests = 0

    def _client(self, subscription_id: str) -> SecurityCenter:
        options = self._options
        return SecurityCenter(
            self._credential,
            subscription_id,
            base_url=options.arm_url,
            credential_scopes=[options.scope],
            retry_policy=retry_policy(self._quota, options.retry_backoff, options.max_retries, self._gate),
            **options.transport_kwargs(),
        )

    def pricings(self, subscription_id: str) -> list[Resource]:
        """Every Defender plan of a subscription (one non-paged GET)."""
        self.requests += 1
        with self._client(subscription_id) as client:
            body = client.pricings.list(scope_id=f"subscriptions/{subscription_id}", cls=_raw)
        items = body.get("value") if isinstance(body, dict) else None
        return [as_row(item, PRICING_TYPE) for item in items or [] if isinstance(item, dict)]

    def contacts(self, subscription_id: str) -> list[Resource]:
        """Security contacts (who Defender alerts); the SDK pages, models serialise back to REST shape."""
        self.requests += 1
        with self._client(subscription_id) as client:
            items = [contact.serialize(keep_readonly=True) for contact in client.security_contacts.list()]
        return [as_row(item, CONTACT_TYPE) for item in items]
