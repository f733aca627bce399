"""The SDK clients' pipeline without the one policy that writes: ARM's automatic provider registration.

azure-mgmt-core puts `ARMAutoResourceProviderRegistrationPolicy` in every management client. On
a 409 `MissingSubscriptionRegistration` it POSTs `.../providers/{rp}/register` (a write a
read-only scanner must never send) and then polls every 10 s until the provider says
`Registered`, which a service that never says it would make endless. Without it, that 409 is
an ordinary refusal: a coverage gap for the scope that answered it.
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline import policies
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

from scanner.azure.options import CollectOptions


def read_only_policies(options: CollectOptions, credential: Any, retry: policies.RetryPolicy[Any, Any]) -> list[Any]:
    """The generated clients' default order (request id ... logging), less the registration policy."""
    return [
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        policies.UserAgentPolicy(sdk_moniker="mlwarden"),
        policies.ProxyPolicy(),
        policies.ContentDecodePolicy(),
        policies.RedirectPolicy(),
        retry,
        ARMChallengeAuthenticationPolicy(credential, options.scope),
        policies.CustomHookPolicy(),
        policies.NetworkTraceLoggingPolicy(),
        policies.DistributedTracingPolicy(),
        policies.SensitiveHeaderCleanupPolicy(),
        ARMHttpLoggingPolicy(),
    ]
