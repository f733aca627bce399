"""Property-based: every check, fed arbitrary JSON shapes for its resource kind, returns verdicts and never raises.

Keys are drawn mostly from the property names the check modules read (so the fuzz reaches deep
into each check's logic) with the casing randomised, values from any JSON type.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import kinds
from scanner.inventory import AppSettingFact, AppSettingsFacts, KeyMetadata, LifetimeAction, RotationPolicy
from scanner.models import Resource, Status
from scanner.registry import load_checks
from scanner.runner import _verdicts
from tests.helpers import estate, rid

CHECKS = load_checks(plugins=False)
_CHECK_SOURCES = " ".join(p.read_text() for p in (Path(__file__).resolve().parents[1] / "checks").glob("*.py"))
_BASE_KEYS = {
    "properties",
    "publicNetworkAccess",
    "encryption",
    "keyVaultProperties",
    "keyIdentifier",
    "status",
    "privateEndpointConnections",
    "privateLinkServiceConnectionState",
    "identity",
    "type",
    "computeType",
    "agentPoolProfiles",
    "addonProfiles",
    "enabled",
    "networkAcls",
    "defaultAction",
    "logs",
    "category",
    "resourceDetails",
    "Id",
    "pricingTier",
    "environmentVariables",
    "MinTlsVersion",
    "allow",
    "sku",
    "name",
}
_VOCAB = sorted(
    _BASE_KEYS
    | {part for path in re.findall(r'"([A-Za-z][\w.]+)"', _CHECK_SOURCES) for part in path.split(".") if len(part) > 2}
)

KEYS = st.sampled_from(_VOCAB).flatmap(lambda k: st.sampled_from([k, k.lower(), k.upper()])) | st.text(max_size=6)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**10)
    | st.sampled_from(
        [
            "Enabled",
            "Disabled",
            "enabled",
            "Approved",
            "Deny",
            "Allow",
            "SystemAssigned, UserAssigned",
            "1.2",
            "TLS1_0",
            "Microsoft.Keyvault",
            "Standard",
            "Free",
            "Unhealthy",
            "High",
            "ComputeInstance",
            "AmlCompute",
            "Kubernetes",
            "AADToken",
            "Key",
            "https://kv.vault.azure.net/keys/k/1",
            "",
            "<redacted>",
        ]
    )
    | st.text(max_size=10)
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)

_TYPES = {
    kinds.AKS: ("Microsoft.ContainerService/managedClusters", None),
    kinds.WEB_APP: ("Microsoft.Web/sites", "app,linux"),
    kinds.FUNCTION_APP: ("Microsoft.Web/sites", "functionapp,linux"),
    kinds.ML_WORKSPACE: ("Microsoft.MachineLearningServices/workspaces", "Default"),
    kinds.ML_ONLINE_ENDPOINT: ("Microsoft.MachineLearningServices/workspaces/onlineEndpoints", None),
    kinds.ML_ONLINE_DEPLOYMENT: ("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments", "Managed"),
    kinds.ML_COMPUTE: ("Microsoft.MachineLearningServices/workspaces/computes", None),
    kinds.KEY_VAULT: ("Microsoft.KeyVault/vaults", None),
    kinds.MANAGED_HSM: ("Microsoft.KeyVault/managedHSMs", None),
    kinds.STORAGE: ("Microsoft.Storage/storageAccounts", "StorageV2"),
    kinds.REGISTRY: ("Microsoft.ContainerRegistry/registries", None),
    kinds.COGNITIVE: ("Microsoft.CognitiveServices/accounts", "OpenAI"),
    kinds.SUBSCRIPTION: ("Microsoft.Resources/subscriptions", None),
    kinds.DEFENDER_ASSESSMENT: ("Microsoft.Security/assessments", None),
}

CASES = sorted((check_id, kind) for check_id, item in CHECKS.items() for kind in item.meta.kinds)


def _row(kind: str, properties: Any, identity: Any, sku: Any, kind_value: str | None) -> Resource:
    arm_type, default_kind = _TYPES[kind]
    workspace = rid("Microsoft.MachineLearningServices/workspaces", "w")
    ids = {
        kinds.ML_ONLINE_ENDPOINT: f"{workspace}/onlineEndpoints/e",
        kinds.ML_ONLINE_DEPLOYMENT: f"{workspace}/onlineEndpoints/e/deployments/d",
        kinds.ML_COMPUTE: f"{workspace}/computes/c",
        kinds.SUBSCRIPTION: "/subscriptions/00000000-0000-0000-0000-0000000000a1",
    }
    return Resource.model_validate(
        {
            "id": ids.get(kind, rid(arm_type, "fuzz")),
            "name": "fuzz",
            "type": arm_type.lower(),
            "kind": kind_value if kind_value is not None else default_kind,
            "subscriptionId": "00000000-0000-0000-0000-0000000000a1",
            "properties": properties,
            "identity": identity if isinstance(identity, dict) else None,
            "sku": sku if isinstance(sku, dict) else None,
        }
    )


def test_every_kind_has_a_fuzz_shape() -> None:
    assert {kind for _, kind in CASES} <= set(_TYPES)


@pytest.mark.parametrize(("check_id", "kind"), CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    properties=JSON | st.dictionaries(KEYS, JSON, max_size=8),
    identity=JSON,
    sku=JSON,
    kind_value=st.none() | st.sampled_from(["app", "functionapp,linux", "Project", "Hub", "FileStorage", "OpenAI"]),
    key_exp=st.none() | st.integers(0, 2**40),
    actions=st.lists(st.sampled_from(["Rotate", "Notify", "rotate", ""]), max_size=2),
    setting_class=st.sampled_from(["none", "password", "account-key", "secret"]),
)
def test_check_never_raises_on_arbitrary_shapes(
    check_id: str,
    kind: str,
    properties: Any,
    identity: Any,
    sku: Any,
    kind_value: str | None,
    key_exp: int | None,
    actions: list[str],
    setting_class: str,
) -> None:
    target = _row(kind, properties, identity, sku, kind_value)
    vault_id = rid("Microsoft.KeyVault/vaults", "fuzz")
    key = KeyMetadata(
        vault_id=vault_id,
        vault_uri="https://kv.vault.azure.net/",
        name="k",
        kid="https://kv.vault.azure.net/keys/k",
        expires=key_exp,
        rotation_policy=RotationPolicy(lifetime_actions=tuple(LifetimeAction(action=a) for a in actions)),
    )
    facts = AppSettingsFacts(
        resource_id=target.id,
        settings=(AppSettingFact.model_validate({"name": "X", "classification": setting_class}),),
    )
    est = estate([target], keys=[key], app_settings=[facts])
    verdicts = _verdicts(CHECKS[check_id], target, est)
    assert verdicts
    for verdict in verdicts:
        assert verdict.status is not Status.ERROR, verdict.message
        assert verdict.message
