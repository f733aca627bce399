"""ML online endpoint and deployment checks against Resource Graph-shaped rows."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from scanner import secrets
from scanner.estate import Estate
from scanner.inventory import AppSettingFact, AppSettingsFacts
from scanner.models import Resource, Severity, Status
from tests.helpers import estate, resource, rid, run, status

WS_TYPE = "Microsoft.MachineLearningServices/workspaces"
EP_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEP_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
WS_ID = rid(WS_TYPE, "mlw-claims")
EP_ID = f"{WS_ID}/onlineEndpoints/claims-scorer"
DEP_ID = f"{EP_ID}/deployments/blue"

ENDPOINT: dict[str, Any] = {
    "authMode": "AADToken",
    "publicNetworkAccess": "Disabled",
    "provisioningState": "Succeeded",
    "scoringUri": "https://claims-scorer.westeurope.inference.ml.azure.com/score",
    "swaggerUri": "https://claims-scorer.westeurope.inference.ml.azure.com/swagger.json",
    "traffic": {"blue": 100},
    "keys": None,
}
DEPLOYMENT: dict[str, Any] = {
    "endpointComputeType": "Managed",
    "model": "azureml://registries/azureml/models/claims-classifier/versions/3",
    "instanceType": "Standard_DS3_v2",
    "egressPublicNetworkAccess": "Disabled",
    "appInsightsEnabled": True,
    "environmentId": "azureml://registries/azureml/environments/sklearn-1.5/versions/4",
    "provisioningState": "Succeeded",
    "environmentVariables": {"WORKER_COUNT": "4", "LOG_LEVEL": "info"},
}
# Built at run time so no secret-looking literal sits in the repository.
CANARY_KEY = "AccountKey=" + "Zm9vYmFy" * 8 + "=="


def endpoint(**updates: Any) -> Resource:
    body = copy.deepcopy(ENDPOINT)
    identity = updates.pop("identity", {"type": "SystemAssigned", "principalId": "p", "tenantId": "t"})
    for key, value in updates.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return resource(EP_TYPE, "mlw-claims/claims-scorer", body, id=EP_ID, kind="Managed", identity=identity)


def deployment(**updates: Any) -> Resource:
    body = copy.deepcopy(DEPLOYMENT)
    for key, value in updates.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return resource(
        DEP_TYPE,
        "mlw-claims/claims-scorer/blue",
        body,
        id=DEP_ID,
        kind="Managed",
        sku={"name": "Default", "tier": "Standard", "capacity": 1},
    )


def workspace(isolation: str | None) -> Resource:
    body: dict[str, Any] = {"publicNetworkAccess": "Disabled"}
    if isolation is not None:
        body["managedNetwork"] = {"isolationMode": isolation}
    return resource(WS_TYPE, "mlw-claims", body, id=WS_ID, kind="Default")


def scope(isolation: str | None, target: Resource) -> Estate:
    """The deployment with its endpoint and workspace, as Resource Graph returns them together."""
    return estate([workspace(isolation), endpoint(), target])


# -- MLW-MLEP-01 auth mode -------------------------------------------------------------------------


def test_aad_token_auth_passes() -> None:
    assert status("MLW-MLEP-01", endpoint()) is Status.PASS


@pytest.mark.parametrize("mode", ["Key", "key"])
def test_key_auth_fails_at_high(mode: str) -> None:
    [finding] = run("MLW-MLEP-01", endpoint(authMode=mode))
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.HIGH)


def test_aml_token_fails_at_medium_instead_of_warning() -> None:
    """Decision: the catalog's 'warn' becomes a medium-severity fail, below the usual High CI gate."""
    [finding] = run("MLW-MLEP-01", endpoint(authMode="AMLToken"))
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.MEDIUM)


def test_auth_mode_absent_fails() -> None:
    [finding] = run("MLW-MLEP-01", endpoint(authMode=None))
    assert finding.status is Status.FAIL
    assert "default" in finding.message


# -- MLW-MLEP-02 public access ---------------------------------------------------------------------


def test_endpoint_public_access_disabled_passes() -> None:
    assert status("MLW-MLEP-02", endpoint()) is Status.PASS


def test_endpoint_public_access_enabled_fails() -> None:
    assert status("MLW-MLEP-02", endpoint(publicNetworkAccess="Enabled")) is Status.FAIL


def test_endpoint_public_access_absent_fails() -> None:
    assert status("MLW-MLEP-02", endpoint(publicNetworkAccess=None)) is Status.FAIL


_ATTACHED = f"{EP_ID.rsplit('/onlineEndpoints/', 1)[0]}/computes/aks-attached"


@pytest.mark.parametrize("flag", ["Disabled", "disabled", "Enabled", None])
def test_kubernetes_endpoint_is_not_applicable_whatever_the_flag(flag: str | None) -> None:
    """The flag is for managed endpoints only (CLI YAML reference; azure-ai-ml's KubernetesOnlineEndpoint
    has no public_network_access): on a Kubernetes endpoint Disabled closes nothing, so it cannot pass."""
    [finding] = run("MLW-MLEP-02", endpoint(compute=_ATTACHED, publicNetworkAccess=flag))
    assert finding.status is Status.NOT_APPLICABLE
    assert "inference router" in finding.message


# -- MLW-MLEP-03 identity --------------------------------------------------------------------------


def test_endpoint_identity_passes() -> None:
    assert status("MLW-MLEP-03", endpoint()) is Status.PASS


def test_endpoint_identity_none_fails() -> None:
    assert status("MLW-MLEP-03", endpoint(identity={"type": "None"})) is Status.FAIL


def test_endpoint_identity_absent_fails() -> None:
    assert status("MLW-MLEP-03", endpoint(identity=None)) is Status.FAIL


# -- MLW-MLDEP-01 environment-variable secrets -----------------------------------------------------


def facts(*settings: AppSettingFact) -> AppSettingsFacts:
    return AppSettingsFacts(resource_id=DEP_ID, settings=settings)


def env_fact(name: str, classification: str = "none", *, reference: bool = False) -> AppSettingFact:
    return AppSettingFact.model_validate(
        {
            "name": name,
            "source": "environment_variable",
            "classification": classification,
            "key_vault_reference": reference,
        }
    )


def redacted_deployment(*names: str) -> Resource:
    return deployment(environmentVariables={name: secrets.REDACTED for name in names})


def test_collector_facts_without_secrets_pass() -> None:
    target = redacted_deployment("WORKER_COUNT", "LOG_LEVEL")
    est = estate([target], app_settings=[facts(env_fact("WORKER_COUNT"), env_fact("LOG_LEVEL"))])
    assert status("MLW-MLDEP-01", target, est) is Status.PASS


def test_collector_facts_with_account_key_fail_naming_the_variable() -> None:
    target = redacted_deployment("STORAGE_CONN", "LOG_LEVEL")
    est = estate([target], app_settings=[facts(env_fact("STORAGE_CONN", "account-key"), env_fact("LOG_LEVEL"))])
    [finding] = run("MLW-MLDEP-01", target, est)
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.CRITICAL)
    assert "STORAGE_CONN (account-key)" in finding.message


def test_key_vault_reference_counts_as_safe() -> None:
    target = redacted_deployment("DB_PASSWORD")
    est = estate([target], app_settings=[facts(env_fact("DB_PASSWORD", "none", reference=True))])
    assert status("MLW-MLDEP-01", target, est) is Status.PASS


def test_redacted_values_without_facts_are_unknown() -> None:
    [finding] = run("MLW-MLDEP-01", redacted_deployment("OPENAI_API_KEY"))
    assert finding.status is Status.UNKNOWN
    assert "OPENAI_API_KEY" in finding.message


def test_no_environment_variables_passes() -> None:
    assert status("MLW-MLDEP-01", deployment(environmentVariables=None)) is Status.PASS


def test_foreign_snapshot_values_are_classified_in_memory_and_never_reported() -> None:
    target = deployment(environmentVariables={"STORAGE_CONNECTION": CANARY_KEY, "LOG_LEVEL": "info"})
    [finding] = run("MLW-MLDEP-01", target)
    assert finding.status is Status.FAIL
    assert "STORAGE_CONNECTION" in finding.message
    dumped = json.dumps(finding.model_dump(mode="json"))
    assert CANARY_KEY not in dumped
    assert "Zm9vYmFy" not in dumped


def test_foreign_snapshot_plain_values_pass() -> None:
    assert status("MLW-MLDEP-01", deployment()) is Status.PASS


def test_foreign_snapshot_key_vault_reference_passes() -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv-mlw.vault.azure.net/secrets/db-password/)"
    assert status("MLW-MLDEP-01", deployment(environmentVariables={"DB_PASSWORD": reference})) is Status.PASS


def test_mixed_redacted_and_plaintext_secret_fails() -> None:
    target = deployment(environmentVariables={"A_TOKEN": secrets.REDACTED, "STORAGE_CONNECTION": CANARY_KEY})
    assert status("MLW-MLDEP-01", target) is Status.FAIL


# -- MLW-MLDEP-02 egress ---------------------------------------------------------------------------


def test_egress_disabled_passes() -> None:
    target = deployment()
    assert status("MLW-MLDEP-02", target, scope(None, target)) is Status.PASS


def test_egress_enabled_without_managed_network_fails() -> None:
    target = deployment(egressPublicNetworkAccess="Enabled")
    assert status("MLW-MLDEP-02", target, scope("Disabled", target)) is Status.FAIL


def test_egress_absent_without_managed_network_fails() -> None:
    target = deployment(egressPublicNetworkAccess=None)
    assert status("MLW-MLDEP-02", target, scope(None, target)) is Status.FAIL


@pytest.mark.parametrize("mode", ["AllowOnlyApprovedOutbound", "AllowInternetOutbound"])
def test_egress_not_applicable_under_managed_network(mode: str) -> None:
    target = deployment(egressPublicNetworkAccess="Enabled")
    assert status("MLW-MLDEP-02", target, scope(mode, target)) is Status.NOT_APPLICABLE


def test_kubernetes_deployment_egress_not_applicable() -> None:
    target = deployment(endpointComputeType="Kubernetes", egressPublicNetworkAccess=None)
    [finding] = run("MLW-MLDEP-02", target, scope(None, target))
    assert finding.status is Status.NOT_APPLICABLE
    assert "AKS" in finding.message


def test_egress_enabled_with_workspace_outside_scan_is_unknown() -> None:
    assert status("MLW-MLDEP-02", deployment(egressPublicNetworkAccess="Enabled")) is Status.UNKNOWN


def test_project_deployment_exempt_when_hub_has_managed_network() -> None:
    hub_id = rid(WS_TYPE, "hub-claims")
    hub = resource(
        WS_TYPE, "hub-claims", {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}, kind="Hub"
    )
    project = resource(WS_TYPE, "mlw-claims", {"hubResourceId": hub_id}, id=WS_ID, kind="Project")
    target = deployment(egressPublicNetworkAccess="Enabled")
    est = estate([hub, project, endpoint(), target])
    assert status("MLW-MLDEP-02", target, est) is Status.NOT_APPLICABLE


def test_passwordless_env_values_from_another_tool_pass_and_credentials_fail_without_values() -> None:
    """Rows that still carry values (not collected by mlwarden) are classified in memory by the same rules."""
    insights = "InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=https://x.in.ai.azure.com/"
    quiet = deployment(
        environmentVariables={
            "APPLICATIONINSIGHTS_CONNECTION_STRING": insights,
            "SQL": "Server=tcp:x.database.windows.net;Authentication=Active Directory Managed Identity;",
            "AzureWebJobsStorage__accountName": "stclaims",
        }
    )
    assert status("MLW-MLDEP-01", quiet) is Status.PASS
    leaked = deployment(environmentVariables={"SQL": "Server=tcp:x.database.windows.net;Password=Fake-Passw0rd;"})
    [finding] = run("MLW-MLDEP-01", leaked)
    assert finding.status is Status.FAIL and "SQL (password)" in finding.message
    assert "Fake-Passw0rd" not in finding.model_dump_json()
