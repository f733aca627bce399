"""App Service checks against site rows, appserviceresources config rows, publishing policies and setting facts."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from scanner import inventory, secrets
from scanner.estate import Estate
from scanner.inventory import ALL_SOURCES, AppSettingFact, AppSettingsFacts
from scanner.models import Resource, Status
from scanner.registry import load_checks
from scanner.runner import run_checks
from tests.helpers import estate, resource, rid, run, status

SITE_TYPE = "Microsoft.Web/sites"
PLAN_ID = rid("Microsoft.Web/serverfarms", "plan-inference")
SUBNET_ID = rid("Microsoft.Network/virtualNetworks", "vnet-ml") + "/subnets/snet-apps"
ASE_ID = rid("Microsoft.Web/hostingEnvironments", "ase-ml")

HARDENED_SITE: dict[str, Any] = {
    "state": "Running",
    "enabled": True,
    "defaultHostName": "app-inference.azurewebsites.net",
    "hostNames": ["app-inference.azurewebsites.net"],
    "serverFarmId": PLAN_ID,
    "reserved": True,
    "sku": "PremiumV3",
    "httpsOnly": True,
    "publicNetworkAccess": "Disabled",
    "clientCertEnabled": True,
    "clientCertMode": "Required",
    "endToEndEncryptionEnabled": True,
    "virtualNetworkSubnetId": SUBNET_ID,
    "vnetRouteAllEnabled": True,
    "keyVaultReferenceIdentity": "SystemAssigned",
    "hostingEnvironmentProfile": None,
    "siteConfig": {"minTlsVersion": None, "ftpsState": None, "linuxFxVersion": None},
    "siteProperties": {"properties": [{"name": "LinuxFxVersion", "value": "DOCKER|acrml.azurecr.io/score:1.4"}]},
}

HARDENED_CONFIG: dict[str, Any] = {
    "MinTlsVersion": "1.2",
    "ScmMinTlsVersion": "1.2",
    "FtpsState": "Disabled",
    "RemoteDebuggingEnabled": False,
    "RemoteDebuggingVersion": "VS2022",
    "Http20Enabled": True,
    "VnetRouteAllEnabled": True,
    "Cors": {"AllowedOrigins": ["https://portal.contoso.com"], "SupportCredentials": False},
    "LinuxFxVersion": "DOCKER|acrml.azurecr.io/score:1.4",
}

AUTH_V2: dict[str, Any] = {
    "platform": {"enabled": True, "runtimeVersion": "~1"},
    "globalValidation": {"requireAuthentication": True, "unauthenticatedClientAction": "Return401"},
    "identityProviders": {"azureActiveDirectory": {"enabled": True}},
}

SAFE_SETTINGS = {
    "WEBSITES_PORT": "8080",
    "AZURE_CLIENT_ID": "5d3c1b2a-8f7e-4d6c-9b5a-1e2f3a4b5c6d",
    "MODEL_NAME": "triage-classifier",
    "DB_PASSWORD": "@Microsoft.KeyVault(SecretUri=https://kv-ml.vault.azure.net/secrets/db-password/)",
    "OPENAI_API_KEY": "@Microsoft.KeyVault(VaultName=kv-ml;SecretName=openai-key)",
}

# Fake credentials shaped like the real thing; never real.
ACCOUNT_KEY_CONNECTION = (
    "DefaultEndpointsProtocol=https;AccountName=stfuncml;"
    "AccountKey=Q2FuYXJ5LW5vdC1hLXJlYWwta2V5LTAxMjM0NTY3ODlhYmNkZWY=;EndpointSuffix=core.windows.net"
)
PLAINTEXT_PASSWORD = "Sup3r-S3cret-canary-9f8e7d"


def site(
    kind: str = "app,linux,container",
    name: str = "app-inference",
    identity: Mapping[str, Any] | None = None,
    **changes: Any,
) -> Resource:
    """A site row from the hardened shape; `changes` replace properties (None deletes)."""
    properties = copy.deepcopy(HARDENED_SITE)
    for key, value in changes.items():
        if value is None:
            properties.pop(key, None)
        else:
            properties[key] = value
    return resource(
        SITE_TYPE,
        name,
        properties,
        kind=kind,
        identity=dict(identity) if identity is not None else {"type": "SystemAssigned", "principalId": "p"},
    )


def function_app(**changes: Any) -> Resource:
    return site(kind="functionapp,linux", name="func-scoring", **changes)


def slot(parent: Resource, name: str = "staging", **changes: Any) -> Resource:
    """A deployment slot row of `parent`: the same shape and kind, under `{parent}/slots/{name}`."""
    row = site(kind=parent.kind or "app", name=parent.name, **changes)
    return resource(
        "Microsoft.Web/sites/slots",
        f"{parent.name}/{name}",
        row.properties,
        id=f"{parent.id}/slots/{name}",
        kind=row.kind,
        identity=row.identity,
    )


def config(target: Resource, name: str = "web", properties: Mapping[str, Any] | None = None) -> Resource:
    """A `sites/config` (or a slot's `sites/slots/config`) row as `appserviceresources` returns it."""
    return resource(
        f"{target.type}/config",
        f"{target.name}/{name}",
        dict(properties) if properties is not None else HARDENED_CONFIG,
        id=f"{target.id}/config/{name}",
    )


def publishing(target: Resource, name: str, allow: bool | None) -> Resource:
    return resource(
        f"{target.type}/basicPublishingCredentialsPolicies",
        f"{target.name}/{name}",
        {} if allow is None else {"allow": allow},
        id=f"{target.id}/basicPublishingCredentialsPolicies/{name}",
    )


def private_endpoint(target: Resource, state: str = "Approved") -> Resource:
    connection = {
        "name": "pe-app-conn",
        "properties": {
            "privateLinkServiceId": target.id,
            "groupIds": ["sites"],
            "privateLinkServiceConnectionState": {"status": state, "description": "", "actionsRequired": "None"},
        },
    }
    return resource(
        "Microsoft.Network/privateEndpoints",
        f"pe-{target.name}",
        {"subnet": {"id": SUBNET_ID}, "privateLinkServiceConnections": [connection]},
    )


def settings_of(
    target: Resource, values: Mapping[str, Any], connection_strings: Mapping[str, Any] | None = None
) -> AppSettingsFacts:
    """Facts as the collector keeps them: values classified through `scanner.secrets`, then dropped."""
    facts = secrets.facts_from_map(values, "app_setting") + secrets.facts_from_map(
        connection_strings, "connection_string"
    )
    return AppSettingsFacts(resource_id=target.id, settings=facts)


def full_estate(
    target: Resource,
    *,
    config_props: Mapping[str, Any] | None = None,
    extra: tuple[Resource, ...] = (),
    settings: Mapping[str, Any] | None = None,
    collected: tuple[str, ...] = ALL_SOURCES,
) -> Estate:
    """The target with its config/web, authsettingsV2, ftp/scm policies, private endpoint and setting facts."""
    rows = [
        target,
        config(target, properties=config_props),
        config(target, "authsettingsV2", AUTH_V2),
        publishing(target, "ftp", False),
        publishing(target, "scm", False),
        private_endpoint(target),
        *extra,
    ]
    facts = settings_of(target, SAFE_SETTINGS if settings is None else settings)
    return estate(rows, app_settings=[facts], collected=collected)


def without(properties: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in properties.items() if k not in keys}


SITE_IDS = [f"MLW-APP-{n:02d}" for n in range(1, 9)]
CONFIG_IDS = [*(f"MLW-CFG-{n:02d}" for n in range(1, 7)), "MLW-CFG-50"]
ALL_IDS = SITE_IDS + CONFIG_IDS


@pytest.mark.parametrize("make", [site, function_app], ids=["webapp", "functionapp"])
@pytest.mark.parametrize("check_id", ALL_IDS)
def test_hardened_app_passes(check_id: str, make: Any) -> None:
    target = make()
    assert status(check_id, target, full_estate(target)) is Status.PASS


# -- failing resources, one per rule ---------------------------------------------------------------

SITE_FAILURES: list[tuple[str, dict[str, Any]]] = [
    ("MLW-APP-01", {"httpsOnly": False}),
    ("MLW-APP-02", {"publicNetworkAccess": "Enabled"}),
    ("MLW-APP-04", {"identity": {"type": "None"}}),
    ("MLW-APP-06", {"vnetRouteAllEnabled": False}),
    ("MLW-APP-07", {"clientCertEnabled": False}),
    ("MLW-APP-08", {"endToEndEncryptionEnabled": False}),
]


@pytest.mark.parametrize(("check_id", "changes"), SITE_FAILURES, ids=[c for c, _ in SITE_FAILURES])
def test_misconfigured_site_fails(check_id: str, changes: dict[str, Any]) -> None:
    target = site(**changes)
    config_props = without(HARDENED_CONFIG, "VnetRouteAllEnabled")
    assert status(check_id, target, full_estate(target, config_props=config_props)) is Status.FAIL


CONFIG_FAILURES: list[tuple[str, dict[str, Any]]] = [
    ("MLW-CFG-01", {"MinTlsVersion": "1.0"}),
    ("MLW-CFG-02", {"FtpsState": "AllAllowed"}),
    ("MLW-CFG-03", {"RemoteDebuggingEnabled": True}),
    ("MLW-CFG-04", {"Cors": {"AllowedOrigins": ["https://portal.contoso.com", "*"]}}),
    ("MLW-CFG-50", {"ScmMinTlsVersion": "1.0"}),
]


@pytest.mark.parametrize(("check_id", "changes"), CONFIG_FAILURES, ids=[c for c, _ in CONFIG_FAILURES])
def test_misconfigured_config_fails(check_id: str, changes: dict[str, Any]) -> None:
    target = site()
    assert status(check_id, target, full_estate(target, config_props={**HARDENED_CONFIG, **changes})) is Status.FAIL


def test_app_without_private_endpoint_fails() -> None:
    target = site()
    est = estate([target, config(target)])
    assert status("MLW-APP-03", target, est) is Status.FAIL


def test_pending_private_endpoint_does_not_count() -> None:
    target = site()
    (finding,) = run("MLW-APP-03", target, estate([target, private_endpoint(target, "Pending")]))
    assert finding.status is Status.FAIL
    assert "not approved" in finding.message


@pytest.mark.parametrize("kind_changes", [{}, {"kind": "functionapp,linux", "name": "func-scoring"}])
def test_scm_basic_auth_allowed_fails_and_names_it(kind_changes: dict[str, Any]) -> None:
    target = site(**kind_changes)
    est = estate([target, publishing(target, "ftp", False), publishing(target, "scm", True)])
    (finding,) = run("MLW-APP-05", target, est)
    assert finding.status is Status.FAIL
    assert "SCM" in finding.message and "FTP" not in finding.message


def test_auth_settings_off_fails() -> None:
    target = site()
    auth = {**AUTH_V2, "platform": {"enabled": False}}
    est = estate([target, config(target), config(target, "authsettingsV2", auth)])
    assert status("MLW-CFG-05", target, est) is Status.FAIL


# -- absent properties: each decided on purpose -------------------------------------------------------

BARE_SITE: dict[str, Any] = {
    "state": "Running",
    "defaultHostName": "app-bare.azurewebsites.net",
    "serverFarmId": PLAN_ID,
    "sku": "Standard",
}

SITE_ABSENT = {
    "MLW-APP-01": Status.FAIL,
    "MLW-APP-02": Status.FAIL,
    "MLW-APP-03": Status.FAIL,
    "MLW-APP-04": Status.FAIL,
    "MLW-APP-06": Status.FAIL,
    "MLW-APP-07": Status.FAIL,
    "MLW-APP-08": Status.FAIL,
}


@pytest.mark.parametrize(("check_id", "expected"), SITE_ABSENT.items())
def test_absent_site_properties_score_as_the_service_default(check_id: str, expected: Status) -> None:
    target = resource(SITE_TYPE, "app-bare", BARE_SITE, kind="app")
    assert status(check_id, target, estate([target])) is expected


CONFIG_ABSENT = {
    "MLW-CFG-01": ("MinTlsVersion", Status.PASS),
    "MLW-CFG-02": ("FtpsState", Status.FAIL),
    "MLW-CFG-03": ("RemoteDebuggingEnabled", Status.PASS),
    "MLW-CFG-04": ("Cors", Status.PASS),
    "MLW-CFG-50": ("ScmMinTlsVersion", Status.PASS),
}


@pytest.mark.parametrize(("check_id", "absent"), CONFIG_ABSENT.items())
def test_absent_config_property_scores_as_the_service_default(check_id: str, absent: tuple[str, Status]) -> None:
    key, expected = absent
    target = site()
    assert status(check_id, target, full_estate(target, config_props=without(HARDENED_CONFIG, key))) is expected


def test_publishing_policy_without_allow_means_allowed() -> None:
    target = site()
    est = estate([target, publishing(target, "ftp", None), publishing(target, "scm", False)])
    assert status("MLW-APP-05", target, est) is Status.FAIL


def test_auth_settings_without_enabled_fails() -> None:
    target = site()
    est = estate([target, config(target, "authsettingsV2", {"platform": {}})])
    assert status("MLW-CFG-05", target, est) is Status.FAIL


def test_legacy_auth_settings_record_is_read() -> None:
    target = site()
    est = estate([target, config(target, "authsettings", {"Enabled": True, "UnauthenticatedClientAction": 1})])
    assert status("MLW-CFG-05", target, est) is Status.PASS


def test_settings_without_secret_like_values_pass() -> None:
    target = site()
    est = full_estate(target, settings={"WEBSITES_PORT": "8080", "MODEL_NAME": "triage"})
    assert status("MLW-CFG-06", target, est) is Status.PASS


# -- coverage: a source not read, or read without this app's record, is unknown -------------------

NEEDS = {
    "MLW-APP-05": inventory.PUBLISHING_CREDENTIALS,
    "MLW-CFG-01": inventory.APPSERVICE_CONFIG,
    "MLW-CFG-02": inventory.APPSERVICE_CONFIG,
    "MLW-CFG-03": inventory.APPSERVICE_CONFIG,
    "MLW-CFG-04": inventory.APPSERVICE_CONFIG,
    "MLW-CFG-05": inventory.APPSERVICE_CONFIG,
    "MLW-CFG-06": inventory.APP_SETTINGS,
    "MLW-CFG-50": inventory.APPSERVICE_CONFIG,
}


@pytest.mark.parametrize(("check_id", "source"), NEEDS.items())
def test_source_not_collected_is_unknown(check_id: str, source: str) -> None:
    target = site()
    collected = tuple(s for s in ALL_SOURCES if s != source)
    assert status(check_id, target, full_estate(target, collected=collected)) is Status.UNKNOWN


@pytest.mark.parametrize("check_id", NEEDS)
def test_collected_source_without_this_apps_record_is_unknown(check_id: str) -> None:
    target = site()
    other = site(name="app-other")
    rows = [target, other, config(other), publishing(other, "ftp", False), publishing(other, "scm", False)]
    est = estate(rows, app_settings=[settings_of(other, SAFE_SETTINGS)])
    assert status(check_id, target, est) is Status.UNKNOWN


def test_one_missing_publishing_policy_is_unknown_not_pass() -> None:
    target = site()
    assert status("MLW-APP-05", target, estate([target, publishing(target, "ftp", False)])) is Status.UNKNOWN


# -- divergences and decisions ------------------------------------------------------------------------


def test_divergence_min_tls_1_3_passes() -> None:
    target = site()
    est = full_estate(target, config_props={**HARDENED_CONFIG, "MinTlsVersion": "1.3"})
    assert status("MLW-CFG-01", target, est) is Status.PASS


def test_divergence_absent_min_tls_passes_as_service_default_unlike_azure_policy() -> None:
    target = site()
    (finding,) = run("MLW-CFG-01", target, full_estate(target, config_props=without(HARDENED_CONFIG, "MinTlsVersion")))
    assert finding.status is Status.PASS
    assert "default" in finding.message


@pytest.mark.parametrize("version", ["1.1", "TLS1_2", ""])
def test_older_or_unrecognised_tls_versions_fail(version: str) -> None:
    target = site()
    est = full_estate(target, config_props={**HARDENED_CONFIG, "MinTlsVersion": version})
    expected = Status.PASS if version == "" else Status.FAIL
    assert status("MLW-CFG-01", target, est) is expected


def test_config_properties_are_read_in_any_casing() -> None:
    target = site()
    camel = {"minTlsVersion": "1.0", "ftpsState": "ftpsonly", "remoteDebuggingEnabled": True}
    est = full_estate(target, config_props=camel)
    assert status("MLW-CFG-01", target, est) is Status.FAIL
    assert status("MLW-CFG-02", target, est) is Status.PASS
    assert status("MLW-CFG-03", target, est) is Status.FAIL


def test_config_evidence_names_the_config_record() -> None:
    target = site()
    (finding,) = run("MLW-CFG-02", target, full_estate(target))
    assert finding.evidence[0].path == "config/web.properties.ftpsState"
    assert finding.evidence[0].value == "Disabled"


def test_divergence_ftps_rule_judges_function_apps_too() -> None:
    target = function_app()
    est = full_estate(target, config_props={**HARDENED_CONFIG, "FtpsState": "AllAllowed"})
    assert status("MLW-CFG-02", target, est) is Status.FAIL


def test_divergence_absent_public_network_access_fails_even_with_private_endpoint() -> None:
    target = site(publicNetworkAccess=None)
    (finding,) = run("MLW-APP-02", target, full_estate(target))
    assert finding.status is Status.FAIL
    assert "absent" in finding.message


def test_divergence_app_in_ase_without_setting_is_not_applicable() -> None:
    target = site(publicNetworkAccess=None, hostingEnvironmentProfile={"id": ASE_ID, "name": "ase-ml"})
    assert status("MLW-APP-02", target, full_estate(target)) is Status.NOT_APPLICABLE


def test_app_in_ase_with_public_access_disabled_still_passes() -> None:
    target = site(hostingEnvironmentProfile={"id": ASE_ID, "name": "ase-ml"})
    assert status("MLW-APP-02", target, full_estate(target)) is Status.PASS


def test_identity_type_set_with_both_kinds_passes() -> None:
    target = site(identity={"type": "SystemAssigned, UserAssigned"})
    assert status("MLW-APP-04", target, full_estate(target)) is Status.PASS


def test_consumption_plan_cannot_have_private_endpoint_or_vnet_integration() -> None:
    target = function_app(sku="Dynamic", virtualNetworkSubnetId=None)
    est = estate([target])
    assert status("MLW-APP-03", target, est) is Status.NOT_APPLICABLE
    assert status("MLW-APP-06", target, est) is Status.NOT_APPLICABLE


def test_route_all_from_config_web_counts() -> None:
    target = site(vnetRouteAllEnabled=None)
    assert status("MLW-APP-06", target, full_estate(target)) is Status.PASS


def test_outbound_vnet_routing_all_traffic_counts() -> None:
    target = site(vnetRouteAllEnabled=None, outboundVnetRouting={"allTraffic": True})
    assert status("MLW-APP-06", target, estate([target])) is Status.PASS


def test_no_vnet_integration_fails() -> None:
    target = site(virtualNetworkSubnetId=None)
    assert status("MLW-APP-06", target, full_estate(target)) is Status.FAIL


def test_divergence_optional_client_certificates_fail() -> None:
    target = site(clientCertMode="Optional")
    (finding,) = run("MLW-APP-07", target, estate([target]))
    assert finding.status is Status.FAIL
    assert "Optional" in finding.message


def test_client_certificates_enabled_without_mode_means_required() -> None:
    target = site(clientCertMode=None)
    assert status("MLW-APP-07", target, estate([target])) is Status.PASS


# -- secrets in app settings --------------------------------------------------------------------------


def test_plaintext_secret_fails_naming_the_setting_never_the_value() -> None:
    target = site()
    settings = {**SAFE_SETTINGS, "SCORING_DB_PASSWORD": PLAINTEXT_PASSWORD}
    (finding,) = run("MLW-CFG-06", target, full_estate(target, settings=settings))
    assert finding.status is Status.FAIL
    assert "SCORING_DB_PASSWORD" in finding.message
    assert [e.path for e in finding.evidence[1:]] == ["app_setting:SCORING_DB_PASSWORD"]
    assert PLAINTEXT_PASSWORD not in finding.model_dump_json()


def test_connection_string_with_account_key_fails() -> None:
    target = site()
    facts = settings_of(target, SAFE_SETTINGS, {"TrainingData": ACCOUNT_KEY_CONNECTION})
    est = estate([target], app_settings=[facts])
    (finding,) = run("MLW-CFG-06", target, est)
    assert finding.status is Status.FAIL
    assert "connection string TrainingData (account-key)" in finding.message
    assert "AccountKey" not in finding.model_dump_json()


def test_function_host_storage_with_account_key_fails() -> None:
    target = function_app()
    settings = {"AzureWebJobsStorage": ACCOUNT_KEY_CONNECTION, "FUNCTIONS_WORKER_RUNTIME": "python"}
    (finding,) = run("MLW-CFG-06", target, full_estate(target, settings=settings))
    assert finding.status is Status.FAIL
    assert "AzureWebJobsStorage" in finding.message
    assert "AzureWebJobsStorage__accountName" in finding.message
    assert "Q2FuYXJ5" not in finding.model_dump_json()


def test_function_host_storage_by_identity_passes() -> None:
    target = function_app()
    settings = {"AzureWebJobsStorage__accountName": "stfuncml", "FUNCTIONS_WORKER_RUNTIME": "python"}
    (finding,) = run("MLW-CFG-06", target, full_estate(target, settings=settings))
    assert finding.status is Status.PASS
    assert "managed identity" in finding.message


def test_key_vault_reference_passes_whatever_its_name() -> None:
    target = site()
    reference = AppSettingFact(name="STORAGE_ACCOUNT_KEY", key_vault_reference=True, classification="account-key")
    est = estate([target], app_settings=[AppSettingsFacts(resource_id=target.id, settings=(reference,))])
    assert status("MLW-CFG-06", target, est) is Status.PASS


def test_facts_match_the_app_id_case_insensitively() -> None:
    target = site()
    facts = AppSettingsFacts(
        resource_id=target.id.upper(), settings=secrets.facts_from_map({"PORT": "80"}, "app_setting")
    )
    assert status("MLW-CFG-06", target, estate([target], app_settings=[facts])) is Status.PASS


def test_every_verdict_carries_evidence_and_a_message() -> None:
    for make in (site, function_app):
        target = make()
        for check_id in ALL_IDS:
            (finding,) = run(check_id, target, full_estate(target))
            assert finding.evidence, check_id
            assert finding.message.strip(), check_id


def test_scm_tls_is_judged_apart_from_the_app_tls() -> None:
    target = site()
    est = full_estate(target, config_props={**HARDENED_CONFIG, "MinTlsVersion": "1.3", "ScmMinTlsVersion": "1.1"})
    assert status("MLW-CFG-01", target, est) is Status.PASS
    (finding,) = run("MLW-CFG-50", target, est)
    assert finding.status is Status.FAIL
    assert finding.message == "SCM minimum TLS version is 1.1"


# -- deployment slots: judged on their own records, reported against their own id ----------------


@pytest.mark.parametrize("make", [site, function_app], ids=["webapp", "functionapp"])
@pytest.mark.parametrize("check_id", ALL_IDS)
def test_hardened_slot_passes_on_its_own_records(check_id: str, make: Any) -> None:
    staging = slot(make())
    assert status(check_id, staging, full_estate(staging)) is Status.PASS


def test_open_staging_slot_fails_while_its_hardened_site_passes() -> None:
    production = site()
    staging = slot(production, publicNetworkAccess="Enabled")
    est = full_estate(
        production,
        extra=(
            staging,
            config(staging, properties={**HARDENED_CONFIG, "MinTlsVersion": "1.0"}),
            publishing(staging, "ftp", False),
            publishing(staging, "scm", False),
        ),
    )
    for check_id in ("MLW-APP-02", "MLW-CFG-01"):
        assert status(check_id, production, est) is Status.PASS, check_id
        (finding,) = run(check_id, staging, est)
        assert finding.status is Status.FAIL, check_id
        assert finding.resource_id == staging.id
    assert status("MLW-APP-05", staging, est) is Status.PASS


def test_slot_does_not_borrow_its_sites_records() -> None:
    production = site()
    staging = slot(production)
    est = full_estate(production, extra=(staging,))
    for check_id in ("MLW-CFG-01", "MLW-CFG-05", "MLW-APP-05", "MLW-CFG-06"):
        assert status(check_id, production, est) is Status.PASS, check_id
        assert status(check_id, staging, est) is Status.UNKNOWN, check_id


def test_function_app_slot_keeps_the_function_host_storage_rule() -> None:
    staging = slot(function_app())
    facts = settings_of(staging, {"AzureWebJobsStorage": ACCOUNT_KEY_CONNECTION})
    (finding,) = run("MLW-CFG-06", staging, estate([staging], app_settings=[facts]))
    assert finding.status is Status.FAIL
    assert "AzureWebJobsStorage__accountName" in finding.message and ACCOUNT_KEY_CONNECTION not in finding.message


def test_runner_reports_each_app_check_on_the_slot_too() -> None:
    production = site()
    staging = slot(production, httpsOnly=False)
    est = full_estate(production, extra=(staging,))
    results = run_checks(est, load_checks(plugins=False))
    by_resource = {(f.check_id, f.resource_id.lower()): f.status for f in results}
    assert {check_id for check_id, resource_id in by_resource if resource_id == staging.id_key} >= set(ALL_IDS)
    assert by_resource[("MLW-APP-01", staging.id_key)] is Status.FAIL
    assert by_resource[("MLW-APP-01", production.id_key)] is Status.PASS


def _corpus_cases(passwordless: bool) -> list[Any]:
    from tests.secrets_corpus import CORPUS

    if passwordless:
        return [c for c in CORPUS if c.passwordless]
    return [c for c in CORPUS if c.expected != "none" and not c.known_limit]


@pytest.mark.parametrize("case", _corpus_cases(passwordless=True), ids=lambda c: f"{c.service}-{c.name}")
def test_documented_passwordless_settings_pass_cfg06(case: Any) -> None:
    """What the remediation recommends (identity-based, Entra, App Insights) must not fail as a secret."""
    target = site()
    est = estate([target], app_settings=[settings_of(target, {case.name: case.value})])
    [finding] = run("MLW-CFG-06", target, est)
    assert finding.status is Status.PASS, finding.message


@pytest.mark.parametrize("case", _corpus_cases(passwordless=False), ids=lambda c: f"{c.service}-{c.name}")
def test_credential_carrying_settings_fail_cfg06_naming_only_the_setting(case: Any) -> None:
    target = site()
    est = estate([target], app_settings=[settings_of(target, {}, {case.name: case.value})])
    [finding] = run("MLW-CFG-06", target, est)
    assert finding.status is Status.FAIL
    assert f"connection string {case.name} ({case.expected})" in finding.message
    assert case.value not in finding.model_dump_json()


_ACA_KIND = "functionapp,linux,container,azurecontainerapps"
_HOST_IDS = [i for i in ALL_IDS if i not in ("MLW-APP-04", "MLW-CFG-06")]


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_function_app_on_container_apps_is_judged_only_on_identity_and_settings(check_id: str) -> None:
    """Kind azurecontainerapps: the Container Apps environment sets ingress, network and TLS, and Azure
    Policy's function-app definitions skip it; identity and app settings stay the app's own."""
    target = site(kind=_ACA_KIND, name="func-aca", httpsOnly=None, publicNetworkAccess=None)
    finding = status(check_id, target, full_estate(target, config_props={"ftpsState": "AllAllowed"}))
    assert finding is (Status.NOT_APPLICABLE if check_id in _HOST_IDS else Status.PASS)


def test_function_app_on_container_apps_still_fails_on_a_plaintext_secret() -> None:
    target = site(kind=_ACA_KIND, name="func-aca")
    settings = {"DB_PASSWORD": PLAINTEXT_PASSWORD}
    assert status("MLW-CFG-06", target, full_estate(target, settings=settings)) is Status.FAIL
