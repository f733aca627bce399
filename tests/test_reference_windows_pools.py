"""MLW-AKS-19 (no SSH with local keys) on clusters with Windows Server node pools, decided on purpose.

The AKS guide "Manage SSH for secure access to AKS nodes" (azure-aks-docs, 2024-08-29) says the Disable SSH
feature "isn't supported ... on node pools running the Windows Server operating system", and the agent-pool
API's sshAccess ('LocalUser', 'Disabled', 'EntraId') is the switch for Linux nodes. A Windows pool therefore
cannot reach the passing state, and failing the cluster for it would be a finding nobody can fix (the
documented mitigation is network security group rules on the node subnet, which the cluster row does not hold).

Decision: Windows pools (osType Windows, compared case-insensitively; absent is Linux, the API default) are
not judged by MLW-AKS-19; the Linux pools decide the verdict and the message names the Windows pools left
out. A row whose pools all run Windows is not applicable. Before: any Windows pool without sshAccess failed
the cluster (a Linux-only cluster's verdict is unchanged). Azure Policy 28257686 still counts every
agentPoolProfiles[*] entry; that divergence is in the check's rationale.

Pools come from the cluster's agentPoolProfiles in a snapshot, and in a template also from
Microsoft.ContainerService/managedClusters/agentPools resources declared on their own (the template reader
merges them into the cluster, as live ARM lists them). Records are our own, in the shape of the
managedClusters 2024-09-01 GET example with a Windows user pool added as the AKS Windows quickstart creates one.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.reference_scan import as_template, record, scan_snapshot, scan_template, status

Found = dict[tuple[str, str], list[dict[str, Any]]]
PASS, FAIL, NA = "pass", "fail", "not_applicable"
AKS = "Microsoft.ContainerService/managedClusters"
POOLS = f"{AKS}/agentPools"
API = "2024-09-01"


def _pool(name: str, os_type: str | None, ssh: str | None, mode: str = "User") -> dict[str, Any]:
    """One agent pool profile as GET returns it; `os_type` None leaves osType out (the API default, Linux)."""
    pool: dict[str, Any] = {
        "name": name,
        "count": 2,
        "vmSize": "Standard_D4s_v5",
        "mode": mode,
        "type": "VirtualMachineScaleSets",
        "orchestratorVersion": "1.30.3",
        "maxPods": 30,
        "osDiskSizeGB": 128,
        "enableNodePublicIP": False,
    }
    if os_type is not None:
        pool["osType"] = os_type
        pool["osSKU"] = "Windows2022" if os_type.lower() == "windows" else "AzureLinux"
    if ssh is not None:
        pool["securityProfile"] = {"sshAccess": ssh}
    return pool


def _system(ssh: str | None) -> dict[str, Any]:
    return _pool("system", "Linux", ssh, mode="System")


def _cluster(name: str, *pools: dict[str, Any]) -> dict[str, Any]:
    body = {
        "kubernetesVersion": "1.30.3",
        "dnsPrefix": name,
        "agentPoolProfiles": list(pools),
        "windowsProfile": {"adminUsername": "azureuser", "enableCSIProxy": True},
        "networkProfile": {"networkPlugin": "azure", "networkPolicy": "azure"},
    }
    return record(AKS, name, body, identity={"type": "SystemAssigned"})


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "Linux pools with SSH disabled and a Windows pool that cannot disable it: judged on the Linux pools",
        _cluster("aks-win-mixed", _system("Disabled"), _pool("npwin", "Windows", None)),
        PASS,
        "npwin",
    ),
    (
        "a Windows pool stating LocalUser is still not judged",
        _cluster("aks-win-localuser", _system("EntraId"), _pool("npwin", "Windows", "LocalUser")),
        PASS,
        "npwin",
    ),
    (
        "osType compared case-insensitively",
        _cluster("aks-win-lower", _system("Disabled"), _pool("npwin", "windows", None)),
        PASS,
        "npwin",
    ),
    (
        "a Linux pool with local-key SSH still fails, named alone",
        _cluster("aks-win-linuxopen", _system("LocalUser"), _pool("npwin", "Windows", None)),
        FAIL,
        "system",
    ),
    (
        "a pool without osType is Linux (the API default) and is judged",
        _cluster("aks-win-unstated", _system("Disabled"), _pool("gpu", None, None), _pool("npwin", "Windows", None)),
        FAIL,
        "gpu",
    ),
    (
        "Linux only: unchanged",
        _cluster("aks-linux-only", _system("Disabled"), _pool("gpu", "Linux", "Disabled")),
        PASS,
        "2 pools",
    ),
]


@pytest.fixture(scope="module")
def snapshot_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_snapshot(tmp_path_factory.mktemp("win-pools"), *(body for _, body, _, _ in CASES))


@pytest.fixture(scope="module")
def template_findings(tmp_path_factory: pytest.TempPathFactory) -> Found:
    return scan_template(tmp_path_factory.mktemp("win-pools-tpl"), *(as_template(b, API) for _, b, _, _ in CASES))


@pytest.mark.parametrize(("source", "body", "want", "named"), CASES, ids=[c[1]["name"] for c in CASES])
@pytest.mark.parametrize("scanned", ["snapshot_findings", "template_findings"])
def test_windows_pools_are_not_judged_for_ssh(
    request: pytest.FixtureRequest, scanned: str, source: str, body: dict[str, Any], want: str, named: str
) -> None:
    found: Found = request.getfixturevalue(scanned)
    [finding] = found[("MLW-AKS-19", body["name"])]
    assert (finding["status"], named in finding["message"]) == (want, True), (source, finding["message"])


def test_failure_names_only_linux_pools_and_says_which_were_left_out(snapshot_findings: Found) -> None:
    [finding] = snapshot_findings[("MLW-AKS-19", "aks-win-linuxopen")]
    assert finding["message"] == (
        "node pools accept SSH with local keys: system; Windows pools not judged "
        "(AKS cannot turn SSH off on Windows Server node pools): npwin"
    )
    assert {"path": "properties.agentPoolProfiles[npwin].osType", "value": "Windows"} in finding["evidence"]


def test_pass_counts_the_linux_pools_judged(snapshot_findings: Found) -> None:
    [finding] = snapshot_findings[("MLW-AKS-19", "aks-win-mixed")]
    assert finding["message"].startswith("no node pool accepts SSH with local keys (1 Linux pool); ")


def test_a_row_listing_only_windows_pools_is_not_applicable(tmp_path_factory: pytest.TempPathFactory) -> None:
    """AKS requires a Linux system pool, so a live cluster always has one; a row that lists only Windows
    pools (a partial projection) has nothing this rule can judge."""
    body = _cluster("aks-win-only", _pool("npwin", "Windows", None), _pool("npwin2", "Windows", "LocalUser"))
    found = scan_snapshot(tmp_path_factory.mktemp("win-only"), body)
    [finding] = found[("MLW-AKS-19", "aks-win-only")]
    assert finding["status"] == NA and "every node pool runs Windows Server" in finding["message"]


def _separate(cluster: str, pool: dict[str, Any]) -> dict[str, Any]:
    """`managedClusters/agentPools` declared on its own, as Bicep and the AKS Windows quickstart templates do."""
    properties = {k: v for k, v in pool.items() if k != "name"}
    declared = as_template(record(POOLS, f"{cluster}/{pool['name']}", properties), API)
    return {**declared, "dependsOn": [f"[resourceId('{AKS}', '{cluster}')]"]}


@pytest.mark.parametrize(
    ("separate", "want"),
    [
        (_pool("npwin", "Windows", None), PASS),
        (_pool("nplinux", "Linux", None), FAIL),
    ],
    ids=["windows-pool-resource", "linux-pool-resource"],
)
def test_pools_declared_as_their_own_resources(
    tmp_path_factory: pytest.TempPathFactory, separate: dict[str, Any], want: str
) -> None:
    """A pool declared as a managedClusters/agentPools resource is judged with its cluster: a Windows one
    is left out, a Linux one without sshAccess fails the cluster."""
    cluster = as_template(_cluster("aks-tpl-pools", _system("Disabled")), API)
    found = scan_template(tmp_path_factory.mktemp("separate-pools"), cluster, _separate("aks-tpl-pools", separate))
    assert status(found, "MLW-AKS-19", "aks-tpl-pools") == want
