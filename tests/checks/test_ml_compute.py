"""ML compute checks against `workspaces/{ws}/computes` ARM rows (not in Resource Graph)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scanner.estate import Estate
from scanner.inventory import ML_COMPUTES, RESOURCES
from scanner.models import Gap, Resource, Status
from tests.helpers import estate, resource, rid, run, status

WS_TYPE = "Microsoft.MachineLearningServices/workspaces"
COMPUTE_TYPE = "Microsoft.MachineLearningServices/workspaces/computes"
WS_ID = rid(WS_TYPE, "mlw-claims")
SUBNET = rid("Microsoft.Network/virtualNetworks", "vnet-ml/subnets/compute")

INSTANCE: dict[str, Any] = {
    "computeType": "ComputeInstance",
    "computeLocation": "westeurope",
    "provisioningState": "Succeeded",
    "disableLocalAuth": True,
    "isAttachedCompute": False,
    "properties": {
        "vmSize": "STANDARD_DS3_V2",
        "subnet": {"id": SUBNET},
        "enableNodePublicIp": False,
        "applicationSharingPolicy": "Personal",
        "sshSettings": {"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 50000},
        "osImageMetadata": {
            "currentImageVersion": "24.09.23",
            "latestImageVersion": "24.09.23",
            "isLatestOsImageVersion": True,
        },
        "state": "Running",
    },
}
CLUSTER: dict[str, Any] = {
    "computeType": "AmlCompute",
    "computeLocation": "westeurope",
    "provisioningState": "Succeeded",
    "disableLocalAuth": True,
    "isAttachedCompute": False,
    "properties": {
        "vmSize": "STANDARD_NC6S_V3",
        "vmPriority": "Dedicated",
        "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT120S"},
        "subnet": {"id": SUBNET},
        "enableNodePublicIp": False,
        "remoteLoginPortPublicAccess": "Disabled",
        "osType": "Linux",
    },
}
KUBERNETES: dict[str, Any] = {
    "computeType": "Kubernetes",
    "resourceId": rid("Microsoft.ContainerService/managedClusters", "aks-inference"),
    "provisioningState": "Succeeded",
    "isAttachedCompute": True,
    "properties": {"namespace": "azureml", "defaultInstanceType": "defaultinstancetype"},
}


def compute(name: str, body: dict[str, Any], **inner: Any) -> Resource:
    """A compute row; `inner` replaces keys of properties.properties (None removes one)."""
    body = copy.deepcopy(body)
    for key, value in inner.items():
        if value is None:
            body["properties"].pop(key, None)
        else:
            body["properties"][key] = value
    return resource(COMPUTE_TYPE, f"mlw-claims/{name}", body, id=f"{WS_ID}/computes/{name}")


def instance(**inner: Any) -> Resource:
    return compute("ci-analyst", INSTANCE, **inner)


def cluster(**inner: Any) -> Resource:
    return compute("cpu-cluster", CLUSTER, **inner)


def kubernetes() -> Resource:
    return compute("aks-attached", KUBERNETES)


def in_workspace(target: Resource, isolation: str | None = None) -> Estate:
    body: dict[str, Any] = {"publicNetworkAccess": "Disabled"}
    if isolation is not None:
        body["managedNetwork"] = {"isolationMode": isolation}
    workspace = resource(WS_TYPE, "mlw-claims", body, id=WS_ID, kind="Default")
    return estate([workspace, target])


# -- coverage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("check_id", [f"MLW-MLCMP-0{n}" for n in range(1, 6)])
def test_computes_not_collected_is_unknown(check_id: str) -> None:
    target = instance()
    assert status(check_id, target, estate([target], collected=[RESOURCES])) is Status.UNKNOWN


def test_compute_listing_forbidden_for_workspace_is_unknown() -> None:
    target = instance(enableNodePublicIp=True)
    gap = Gap(source=ML_COMPUTES, scope=WS_ID, reason="403 listing computes")
    [finding] = run("MLW-MLCMP-03", target, estate([target], gaps=[gap]))
    assert finding.status is Status.UNKNOWN
    assert "403" in finding.message


# -- MLW-MLCMP-01 local auth -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [instance, cluster])
def test_local_auth_disabled_passes(make: Any) -> None:
    assert status("MLW-MLCMP-01", make()) is Status.PASS


def test_local_auth_enabled_fails() -> None:
    body = {**CLUSTER, "disableLocalAuth": False}
    assert status("MLW-MLCMP-01", compute("cpu-cluster", body)) is Status.FAIL


def test_local_auth_absent_fails() -> None:
    body = {k: v for k, v in INSTANCE.items() if k != "disableLocalAuth"}
    assert status("MLW-MLCMP-01", compute("ci-analyst", body)) is Status.FAIL


def test_local_auth_on_attached_kubernetes_defers_to_aks_rule() -> None:
    [finding] = run("MLW-MLCMP-01", kubernetes())
    assert finding.status is Status.NOT_APPLICABLE
    assert "MLW-AKS-03" in finding.message


# -- MLW-MLCMP-02 VNet -----------------------------------------------------------------------------


def test_compute_in_subnet_passes() -> None:
    target = cluster()
    assert status("MLW-MLCMP-02", target, in_workspace(target)) is Status.PASS


def test_compute_without_subnet_fails() -> None:
    target = cluster(subnet=None)
    assert status("MLW-MLCMP-02", target, in_workspace(target, "Disabled")) is Status.FAIL


def test_compute_with_null_subnet_fails() -> None:
    body = copy.deepcopy(INSTANCE)
    body["properties"]["subnet"] = None
    target = compute("ci-analyst", body)
    assert status("MLW-MLCMP-02", target, in_workspace(target)) is Status.FAIL


@pytest.mark.parametrize("mode", ["AllowOnlyApprovedOutbound", "AllowInternetOutbound"])
def test_compute_under_managed_network_is_exempt(mode: str) -> None:
    target = instance(subnet=None)
    assert status("MLW-MLCMP-02", target, in_workspace(target, mode)) is Status.NOT_APPLICABLE


def test_vnet_rule_not_applicable_to_kubernetes() -> None:
    assert status("MLW-MLCMP-02", kubernetes()) is Status.NOT_APPLICABLE


# -- MLW-MLCMP-03 public IP ------------------------------------------------------------------------


def test_no_public_ip_passes() -> None:
    assert status("MLW-MLCMP-03", cluster()) is Status.PASS


def test_public_ip_fails() -> None:
    assert status("MLW-MLCMP-03", instance(enableNodePublicIp=True)) is Status.FAIL


def test_public_ip_absent_fails_as_service_default() -> None:
    [finding] = run("MLW-MLCMP-03", cluster(enableNodePublicIp=None))
    assert finding.status is Status.FAIL
    assert "default" in finding.message


def test_public_ip_not_applicable_to_kubernetes() -> None:
    assert status("MLW-MLCMP-03", kubernetes()) is Status.NOT_APPLICABLE


# -- MLW-MLCMP-04 SSH ------------------------------------------------------------------------------


def test_cluster_remote_login_disabled_passes() -> None:
    assert status("MLW-MLCMP-04", cluster(enableNodePublicIp=True)) is Status.PASS


def test_cluster_remote_login_enabled_with_public_ip_fails() -> None:
    target = cluster(remoteLoginPortPublicAccess="Enabled", enableNodePublicIp=True)
    assert status("MLW-MLCMP-04", target) is Status.FAIL


def test_cluster_remote_login_not_specified_without_subnet_fails() -> None:
    target = cluster(remoteLoginPortPublicAccess="NotSpecified", subnet=None, enableNodePublicIp=True)
    assert status("MLW-MLCMP-04", target) is Status.FAIL


def test_cluster_remote_login_absent_in_subnet_passes() -> None:
    target = cluster(remoteLoginPortPublicAccess=None, enableNodePublicIp=True)
    assert status("MLW-MLCMP-04", target) is Status.PASS


def test_cluster_without_public_ip_cannot_expose_ssh() -> None:
    target = cluster(remoteLoginPortPublicAccess="Enabled", enableNodePublicIp=False)
    assert status("MLW-MLCMP-04", target) is Status.PASS


def test_instance_ssh_disabled_passes() -> None:
    assert status("MLW-MLCMP-04", instance()) is Status.PASS


def test_instance_ssh_enabled_fails() -> None:
    target = instance(sshSettings={"sshPublicAccess": "Enabled", "adminUserName": "azureuser", "sshPort": 50000})
    assert status("MLW-MLCMP-04", target) is Status.FAIL


def test_instance_ssh_absent_passes_as_instance_default() -> None:
    assert status("MLW-MLCMP-04", instance(sshSettings=None)) is Status.PASS


def test_ssh_not_applicable_to_kubernetes() -> None:
    assert status("MLW-MLCMP-04", kubernetes()) is Status.NOT_APPLICABLE


# -- MLW-MLCMP-05 OS image -------------------------------------------------------------------------


def test_latest_image_passes() -> None:
    assert status("MLW-MLCMP-05", instance()) is Status.PASS


def test_outdated_image_fails() -> None:
    metadata = {"currentImageVersion": "23.11.02", "latestImageVersion": "24.09.23", "isLatestOsImageVersion": False}
    assert status("MLW-MLCMP-05", instance(osImageMetadata=metadata)) is Status.FAIL


def test_image_metadata_absent_is_unknown() -> None:
    assert status("MLW-MLCMP-05", instance(osImageMetadata=None)) is Status.UNKNOWN


def test_image_rule_not_applicable_to_clusters() -> None:
    assert status("MLW-MLCMP-05", cluster()) is Status.NOT_APPLICABLE


def test_compute_type_compared_case_insensitively() -> None:
    body = copy.deepcopy(CLUSTER)
    body["computeType"] = "amlcompute"
    body["properties"]["enableNodePublicIp"] = True
    assert status("MLW-MLCMP-03", compute("cpu-cluster", body)) is Status.FAIL


def test_attached_virtual_machine_local_auth_judged_like_psrule_and_policy() -> None:
    body = {
        "computeType": "VirtualMachine",
        "resourceId": rid("Microsoft.Compute/virtualMachines", "dsvm-01"),
        "isAttachedCompute": True,
        "properties": {"virtualMachineSize": "Standard_D4s_v5", "sshPort": 22, "address": "10.0.2.4"},
    }
    target = compute("dsvm-attached", body)
    assert status("MLW-MLCMP-01", target) is Status.FAIL
    assert status("MLW-MLCMP-03", target) is Status.NOT_APPLICABLE
