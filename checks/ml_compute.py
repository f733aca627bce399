"""Azure ML compute checks (MLW-MLCMP-*): local auth, VNet placement, public IPs, SSH, OS image.

Computes are not in Resource Graph: the collector lists `workspaces/{ws}/computes` per workspace
(source `ml_computes`), so every check here reports `unknown` when that source was not read.
Rules are keyed on `properties.computeType`; type-specific fields sit under
`properties.properties.*`. Attached Kubernetes computes are judged by the AKS rules instead.
"""

from __future__ import annotations

from checks.ml_workspace import failed_unless_managed_network
from scanner import inventory, kinds, props
from scanner.estate import Estate
from scanner.models import Resource
from scanner.registry import Verdict, check, failed, not_applicable, passed, unknown

_COMPUTE = (kinds.ML_COMPUTE,)
_NEEDS = (inventory.ML_COMPUTES,)
_DOCS = "https://learn.microsoft.com/azure/machine-learning"
_TYPE = "properties.computeType"
_INSTANCE = "computeinstance"
_CLUSTER = "amlcompute"
_MANAGED_VMS = (_INSTANCE, _CLUSTER)
_KUBERNETES = ("kubernetes", "aks")


def compute_type(resource: Resource) -> str:
    """Lower-cased computeType, "" when absent."""
    return (props.text(resource, _TYPE) or "").lower()


def _not_managed_vm(resource: Resource, rule: str) -> Verdict | None:
    """not_applicable for computes other than compute instances and clusters (None when it applies)."""
    kind = compute_type(resource)
    if kind in _MANAGED_VMS:
        return None
    name = props.text(resource, _TYPE) or "an unknown type"
    return not_applicable(f"{rule} applies to compute instances and clusters, not {name}", *props.read(resource, _TYPE))


@check(
    id="MLW-MLCMP-01",
    title="ML compute has local authentication disabled",
    kinds=_COMPUTE,
    severity="high",
    tags=("local-auth",),
    pillar="identity",
    rationale=(
        "With disableLocalAuth true, users reach the compute only with Entra ID; otherwise SSH keys "
        "and local credentials work outside RBAC and audit. Absent means false (the default) and "
        "fails. PSRule and Azure Policy e96a9a5f apply to every compute type; mlwarden judges attached "
        "Kubernetes computes through the cluster's own local-account rule (MLW-AKS-03) and marks them "
        "not applicable here."
    ),
    remediation="Recreate the compute with local authentication disabled.",
    az_cli="az ml compute create -g <rg> -w <workspace> -n <name> --type ComputeInstance --disable-local-auth true",
    azure_policy=("e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f",),
    references=(f"{_DOCS}/how-to-integrate-azure-policy",),
    needs=_NEEDS,
)
def compute_local_auth(resource: Resource, estate: Estate) -> Verdict:
    evidence = props.read(resource, _TYPE, "properties.disableLocalAuth")
    if compute_type(resource) in _KUBERNETES:
        return not_applicable("an attached Kubernetes compute's local accounts are judged by MLW-AKS-03", *evidence)
    if props.flag(resource, "properties.disableLocalAuth") is True:
        return passed("local authentication is disabled", *evidence)
    return failed("local authentication (SSH keys, local credentials) is enabled", *evidence)


@check(
    id="MLW-MLCMP-02",
    title="ML compute runs in a virtual network",
    kinds=_COMPUTE,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "A compute instance or cluster in the customer's subnet reaches storage, Key Vault and the "
        "registry over private endpoints. properties.properties.subnet.id absent fails. Computes in a "
        "workspace (or hub) with managed network isolation run in the Microsoft-managed VNet and have "
        "no subnet to set: they are exempt (not applicable), as PSRule's guidance suggests, while "
        "Azure Policy 7804b5c7 would flag them. Other compute types (attached clusters, VMs, Databricks) "
        "are not applicable, as 7804b5c7 (AmlCompute and ComputeInstance only) scores them; PSRule's "
        "Azure.ML.ComputeVnet, which tests every type, would fail them."
    ),
    remediation="Create the compute in a subnet, or move the workspace to a managed network.",
    az_cli="az ml compute create -g <rg> -w <workspace> -n <name> --type AmlCompute --vnet-name <vnet> --subnet <id>",
    azure_policy=("7804b5c7-01dc-4723-969b-ae300cc07ff1",),
    references=(f"{_DOCS}/how-to-secure-training-vnet",),
    needs=_NEEDS,
)
def compute_in_vnet(resource: Resource, estate: Estate) -> Verdict:
    if (skip := _not_managed_vm(resource, "VNet placement")) is not None:
        return skip
    evidence = props.read(resource, _TYPE, "properties.properties.subnet.id")
    if props.text(resource, "properties.properties.subnet.id"):
        return passed("the compute is placed in a customer subnet", *evidence)
    return failed_unless_managed_network(
        resource,
        estate,
        evidence,
        isolated="the workspace's managed network isolates the compute",
        exposed="the compute is not in a virtual network and the workspace has no managed network",
    )


@check(
    id="MLW-MLCMP-03",
    title="ML compute nodes have no public IP address",
    kinds=_COMPUTE,
    severity="medium",
    tags=("private-network",),
    pillar="private-network",
    rationale=(
        "enableNodePublicIp false keeps compute nodes off the internet (no inbound public address). "
        "Absent means true (the service default) and fails."
    ),
    remediation="Recreate the compute with no public IP (requires a subnet or a managed network).",
    az_cli="az ml compute create -g <rg> -w <workspace> -n <name> --type AmlCompute --enable-node-public-ip false",
    references=(f"{_DOCS}/how-to-secure-training-vnet",),
    needs=_NEEDS,
)
def compute_no_public_ip(resource: Resource, estate: Estate) -> Verdict:
    if (skip := _not_managed_vm(resource, "node public IP")) is not None:
        return skip
    evidence = props.read(resource, _TYPE, "properties.properties.enableNodePublicIp")
    flag = props.flag(resource, "properties.properties.enableNodePublicIp")
    if flag is False:
        return passed("compute nodes have no public IP address", *evidence)
    if flag is None:
        return failed("enableNodePublicIp is not set, so nodes get public IPs (the default)", *evidence)
    return failed("compute nodes have public IP addresses", *evidence)


def _cluster_ssh(resource: Resource) -> Verdict:
    paths = (
        "properties.properties.remoteLoginPortPublicAccess",
        "properties.properties.subnet.id",
        "properties.properties.enableNodePublicIp",
    )
    evidence = props.read(resource, _TYPE, *paths)
    mode = props.text(resource, paths[0])
    if props.equals(resource, paths[0], "Disabled"):
        return passed("the SSH port is closed to public access", *evidence)
    if props.flag(resource, paths[2]) is False:
        return passed("nodes have no public IP, so the SSH port is unreachable from the internet", *evidence)
    if props.equals(resource, paths[0], "Enabled"):
        return failed("the SSH port is open to public access on every node", *evidence)
    # NotSpecified (the default, also when absent): closed when the cluster has a subnet, else open.
    if props.text(resource, paths[1]):
        return passed(f"remote login is {mode or 'not specified'} and the cluster is in a subnet (closed)", *evidence)
    return failed(f"remote login is {mode or 'not specified'} and the cluster has no subnet, so SSH is open", *evidence)


def _instance_ssh(resource: Resource) -> Verdict:
    path = "properties.properties.sshSettings.sshPublicAccess"
    evidence = props.read(resource, _TYPE, path)
    if props.equals(resource, path, "Enabled"):
        return failed("SSH to the compute instance is open to public access", *evidence)
    if props.text(resource, path) is None:
        return passed("SSH public access is not set; compute instances default to Disabled", *evidence)
    return passed(f"SSH public access is {props.text(resource, path)}", *evidence)


@check(
    id="MLW-MLCMP-04",
    title="ML compute has no publicly reachable SSH port",
    kinds=_COMPUTE,
    severity="medium",
    tags=("private-network", "access-control"),
    pillar="private-network",
    rationale=(
        "A public SSH port invites brute force against the nodes that hold training data. Clusters "
        "(AmlCompute): remoteLoginPortPublicAccess Disabled passes, Enabled fails, NotSpecified or "
        "absent means closed only when the cluster is in a subnet; nodes without a public IP pass. "
        "Compute instances: sshSettings.sshPublicAccess Enabled fails; absent passes because the "
        "instance default is Disabled. Other compute types are not applicable."
    ),
    remediation="Disable public SSH (remote login port) on clusters and SSH public access on instances.",
    az_cli="az ml compute update -g <rg> -w <workspace> -n <cluster> --set remote_login_port_public_access=Disabled",
    references=(f"{_DOCS}/how-to-create-attach-compute-cluster",),
    needs=_NEEDS,
)
def compute_ssh_exposure(resource: Resource, estate: Estate) -> Verdict:
    if (skip := _not_managed_vm(resource, "SSH exposure")) is not None:
        return skip
    return _instance_ssh(resource) if compute_type(resource) == _INSTANCE else _cluster_ssh(resource)


@check(
    id="MLW-MLCMP-05",
    title="ML compute instance runs the latest OS image",
    kinds=_COMPUTE,
    severity="low",
    tags=("vulnerability-management",),
    pillar="monitoring",
    rationale=(
        "Compute instances do not patch their OS image in place; an outdated image keeps known "
        "vulnerabilities until the instance is recreated. osImageMetadata.isLatestOsImageVersion false "
        "fails; absent is unknown because the service did not report it. Clusters get new images on "
        "scale-out, and other types are not applicable. Filed under the monitoring pillar, beside "
        "Defender's vulnerability findings."
    ),
    remediation="Recreate the compute instance to pick up the latest OS image.",
    az_cli="az ml compute delete ... && az ml compute create -g <rg> -w <workspace> -n <name> --type ComputeInstance",
    azure_policy=("f110a506-2dcb-422e-bcea-d533fc8c35e2",),
    references=(f"{_DOCS}/concept-vulnerability-management",),
    needs=_NEEDS,
)
def compute_latest_image(resource: Resource, estate: Estate) -> Verdict:
    path = "properties.properties.osImageMetadata.isLatestOsImageVersion"
    evidence = props.read(resource, _TYPE, path, "properties.properties.osImageMetadata.currentImageVersion")
    if compute_type(resource) != _INSTANCE:
        return not_applicable("only compute instances keep their OS image until recreated", *evidence[:1])
    flag = props.flag(resource, path)
    if flag is True:
        return passed("the compute instance runs the latest OS image", *evidence)
    if flag is False:
        return failed("the compute instance runs an outdated OS image", *evidence)
    return unknown("the service did not report whether the OS image is the latest", *evidence)
