"""Defender for Cloud: plans through `azure-mgmt-security` (fallback to Resource Graph), contacts over ARM.

`SecurityCenter` requires a subscription id even for scoped calls, so there is one client per
subscription. Rows keep the service's raw JSON so checks read the same casing as Resource Graph,
and every field the service sent: contacts are listed as plain ARM JSON because the SDK's model
for them (2020-01-01-preview) would drop the newer `isEnabled` and `notificationsSources`.
"""

from __future__ import annotations

import json
from typing import Any

from azure.core.exceptions import DecodeError, DeserializationError, HttpResponseError
from azure.mgmt.security import SecurityCenter

from scanner import props
from scanner.azure.arm import ArmClient, as_row, supported_version
from scanner.azure.limits import Gate
from scanner.azure.options import CollectOptions
from scanner.azure.pipeline import read_only_policies
from scanner.azure.throttle import Quota, retry_policy
from scanner.models import Resource

PRICING_TYPE = "microsoft.security/pricings"
CONTACT_TYPE = "microsoft.security/securitycontacts"
PRICINGS_API = "2024-01-01"
"""What azure-mgmt-security's default profile asks for pricings."""
ASSESSMENT_TYPE = "microsoft.security/assessments"
ASSESSMENTS_API = "2021-06-01"
"""What azure-mgmt-security's default profile asks for assessments (Assessments - List)."""
CONTACTS_API = "2020-01-01-preview"
"""What azure-mgmt-security's default profile asks for; the newer shape is read too when a service sends it."""


def has_tier(plan: Any) -> bool:
    """A plan (raw JSON or a row) that says its tier; without one, "off" would be a guess."""
    return props.text(plan, "properties.pricingTier") is not None


def _raw(pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
    """`cls` hook: keep the response body as the service sent it, not the SDK model."""
    return json.loads(pipeline_response.http_response.text())


class Defender:
    def __init__(
        self, options: CollectOptions, credential: Any, quota: Quota, arm: ArmClient, gate: Gate | None = None
    ) -> None:
        self._options = options
        self._arm = arm
        self._credential = credential
        self._quota = quota
        self._gate = gate
        self.requests = 0

    def _client(self, subscription_id: str) -> SecurityCenter:
        options = self._options
        retry = retry_policy(self._quota, options.retry_backoff, options.max_retries, self._gate)
        return SecurityCenter(
            self._credential,
            subscription_id,
            base_url=options.arm_url,
            credential_scopes=[options.scope],
            policies=read_only_policies(options, self._credential, retry),
            **options.transport_kwargs(),
        )

    def pricings(self, subscription_id: str) -> list[Resource]:
        """Every Defender plan of a subscription (one non-paged GET)."""
        self.requests += 1
        path = f"/subscriptions/{subscription_id}/providers/Microsoft.Security/pricings"
        try:
            with self._client(subscription_id) as client:
                body = client.pricings.list(scope_id=f"subscriptions/{subscription_id}", cls=_raw)
        except DeserializationError:
            # The SDK's model refused a field mlwarden never reads from it (a date or an extension list in
            # another shape): the same GET as plain JSON, which is all the plans are kept as.
            self.requests += 1
            body = self._arm.get(path, PRICINGS_API)
        except HttpResponseError as exc:
            served = supported_version(exc)
            if served is None:
                raise
            # The service does not serve the SDK's api-version (2024-01-01) and names those it does: the
            # same GET at the newest of them (the plans are kept as the plain JSON it sends).
            self.requests += 1
            body = self._arm.get(path, served)
        items = body.get("value") if isinstance(body, dict) else None
        if not isinstance(items, list):  # no plans would read as "Defender off": say it was not read
            raise DecodeError("pricings: no 'value' list")
        plans = [item for item in items if isinstance(item, dict)]
        if not all(has_tier(item) for item in plans):  # a plan without a tier would read as off
            raise DecodeError("pricings: a plan without a pricing tier")
        # A plan's id is the pricings path and its name: a reply that leaves it out still names the plan.
        return [
            as_row(item if item.get("id") else {**item, "id": f"{path}/{item.get('name')}"}, PRICING_TYPE)
            for item in plans
        ]

    def assessments(self, subscription_id: str) -> list[Resource]:
        """Assessments - List at the subscription (every resource below it), `nextLink` paging: what
        Resource Graph's `securityresources` holds, for a service or cloud that will not run that query."""
        path = f"/subscriptions/{subscription_id}/providers/Microsoft.Security/assessments"
        rows = [as_row(item, ASSESSMENT_TYPE) for item in self._arm.list(path, ASSESSMENTS_API)]
        return [row for row in rows if row.type_key == ASSESSMENT_TYPE]

    def contacts(self, subscription_id: str) -> list[Resource]:
        """Security contacts (who Defender alerts), as the service sent them; `nextLink` paging."""
        path = f"/subscriptions/{subscription_id}/providers/Microsoft.Security/securityContacts"
        return [as_row(item, CONTACT_TYPE) for item in self._arm.list(path, CONTACTS_API)]
