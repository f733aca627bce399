"""Deployment posture: a failing dependency counts against every deployment that uses it."""

from __future__ import annotations

from scanner.estate import Estate
from scanner.inventory import KeyMetadata
from scanner.models import Dependency, Finding, Severity, Status
from scanner.posture import _Memo, dependencies, postures
from tests.helpers import estate, resource, rid

WS = rid("Microsoft.MachineLearningServices/workspaces", "mlw")
ACR = rid("Microsoft.ContainerRegistry/registries", "acrpublic")
KV = rid("Microsoft.KeyVault/vaults", "kv")
CMK_KV = rid("Microsoft.KeyVault/vaults", "kv-cmk")
AKS = rid("Microsoft.ContainerService/managedClusters", "aks")


def _estate() -> Estate:
    return estate(
        [
            resource(
                "Microsoft.MachineLearningServices/workspaces",
                "mlw",
                {
                    "keyVault": KV,
                    "containerRegistry": ACR,
                    "encryption": {
                        "status": "Enabled",
                        "keyVaultProperties": {
                            "keyVaultArmId": CMK_KV,
                            "keyIdentifier": "https://kv-cmk.vault.azure.net/keys/cmk/1",
                        },
                    },
                },
            ),
            resource(
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "ep",
                {"compute": f"{WS}/computes/k8s"},
                id=f"{WS}/onlineEndpoints/ep",
            ),
            resource(
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
                "blue",
                {},
                id=f"{WS}/onlineEndpoints/ep/deployments/blue",
            ),
            resource(
                "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
                "green",
                {},
                id=f"{WS}/onlineEndpoints/ep/deployments/green",
            ),
            resource(
                "Microsoft.MachineLearningServices/workspaces/computes",
                "k8s",
                {"computeType": "Kubernetes", "resourceId": AKS},
                id=f"{WS}/computes/k8s",
            ),
            resource("Microsoft.ContainerRegistry/registries", "acrpublic"),
            resource("Microsoft.KeyVault/vaults", "kv", {"vaultUri": "https://kv.vault.azure.net/"}),
            resource("Microsoft.KeyVault/vaults", "kv-cmk", {"vaultUri": "https://kv-cmk.vault.azure.net/"}),
            resource("Microsoft.ContainerService/managedClusters", "aks"),
        ]
    )


def _finding(check_id: str, resource_id: str, name: str, pillar: str, status: Status) -> Finding:
    return Finding(
        check_id=check_id,
        resource_id=resource_id,
        resource_type="t",
        resource_name=name,
        status=status,
        severity=Severity.HIGH,
        title="Public network access disabled",
        message="public network access is Enabled",
        pillar=pillar,
        fingerprint=Finding.make_fingerprint(check_id, resource_id),
    )


def test_dependencies_of_an_online_deployment() -> None:
    est = _estate()
    deployment = est.get(f"{WS}/onlineEndpoints/ep/deployments/blue")
    assert deployment is not None
    roles = {d.role: d.resource_id for d in dependencies(deployment, "ml-online-deployment", est)}
    assert roles["endpoint"] == f"{WS}/onlineEndpoints/ep"
    assert roles["workspace"] == WS
    assert roles["workspace registry"] == ACR
    assert roles["workspace key-vault"] == KV
    assert roles["aks cluster"] == AKS
    assert roles["cmk-vault (workspace)"] == CMK_KV


def test_failing_registry_fails_every_deployment_that_uses_it() -> None:
    est = _estate()
    findings = [
        _finding("MLW-ACR-03", ACR, "acrpublic", "private-network", Status.FAIL),
        _finding("MLW-KV-01", KV, "kv", "secrets", Status.PASS),
        _finding("MLW-MLWS-03", WS, "mlw", "encryption", Status.PASS),
        _finding("MLW-MLEP-01", f"{WS}/onlineEndpoints/ep", "ep", "identity", Status.UNKNOWN),
    ]
    result = {p.name: p for p in postures(est, findings) if p.kind == "ml-online-deployment"}
    assert set(result) == {"blue", "green"}
    for posture in result.values():
        pillars = {p.pillar: p for p in posture.pillars}
        assert pillars["private-network"].status == "fail"
        assert pillars["private-network"].reasons == (
            "its workspace registry acrpublic: Public network access disabled: public network access is Enabled",
        )
        assert pillars["encryption"].status == "pass"
        assert pillars["secrets"].status == "pass"
        assert pillars["identity"].status == "unknown"


def test_aks_cluster_is_a_deployment_with_its_attached_workspace() -> None:
    est = _estate()
    findings = [_finding("MLW-ACR-03", ACR, "acrpublic", "private-network", Status.FAIL)]
    (aks,) = [p for p in postures(est, findings) if p.kind == "aks"]
    assert {d.resource_id for d in aks.dependencies} >= {AKS, WS, ACR}
    assert {p.pillar: p.status for p in aks.pillars}["private-network"] == "fail"


def test_only_the_key_a_deployment_uses_counts_against_it() -> None:
    base = _estate()
    key = KeyMetadata(
        vault_id=CMK_KV,
        vault_uri="https://kv-cmk.vault.azure.net/",
        name="cmk",
        kid="https://kv-cmk.vault.azure.net/keys/cmk",
    )
    est = estate([r for r in base.resources if r.type_key != "microsoft.resources/subscriptions"], keys=[key])

    def key_finding(name: str) -> Finding:
        return Finding(
            check_id="MLW-KV-08",
            resource_id=CMK_KV,
            resource_type="microsoft.keyvault/vaults",
            resource_name="kv-cmk",
            status=Status.FAIL,
            severity=Severity.MEDIUM,
            title="Keys rotate",
            message=f"key {name} has no rotation",
            detail_key=name,
            pillar="secrets",
            fingerprint=Finding.make_fingerprint("MLW-KV-08", CMK_KV, name),
        )

    def secrets_status(findings: list[Finding]) -> str:
        blue = next(p for p in postures(est, findings) if p.name == "blue")
        return {p.pillar: p.status for p in blue.pillars}["secrets"]

    assert secrets_status([key_finding("someone-elses-key")]) == "unknown"
    assert secrets_status([key_finding("cmk")]) == "fail"


def _roles(deps: tuple[Dependency, ...]) -> list[tuple[str, str]]:
    return [(d.role, d.resource_id.rsplit("/", 1)[-1]) for d in deps]


def test_a_workspace_walk_is_shared_only_where_it_would_come_out_the_same() -> None:
    """Deployments of one workspace reuse its walk; when a row of it is already collected (here the
    AKS cluster's KMS vault is the workspace's CMK vault), the walk is redone so that row keeps its
    first role and nothing under it is added twice."""
    base = _estate()
    kms = resource(
        "Microsoft.ContainerService/managedClusters",
        "aks",
        {"securityProfile": {"azureKeyVaultKms": {"keyId": "https://kv-cmk.vault.azure.net/keys/k/1"}}},
    )
    rows = [r for r in base.resources if r.id_key != AKS.lower() and r.type_key != "microsoft.resources/subscriptions"]
    est = estate([*rows, kms])
    blue = est.get(f"{WS}/onlineEndpoints/ep/deployments/blue")
    green = est.get(f"{WS}/onlineEndpoints/ep/deployments/green")
    workspace = est.get(WS)
    assert blue is not None and green is not None and workspace is not None
    memo = _Memo(est)
    first = dependencies(blue, "ml-online-deployment", est, memo)
    second = dependencies(green, "ml-online-deployment", est, memo)
    assert _roles(first)[1:] == _roles(second)[1:]
    assert _roles(first) == [
        ("self", "blue"),
        ("endpoint", "ep"),
        ("kubernetes compute", "k8s"),
        ("aks cluster", "aks"),
        ("cmk-vault (aks cluster)", "kv-cmk"),
        ("workspace", "mlw"),
        ("workspace key-vault", "kv"),
        ("workspace registry", "acrpublic"),
    ]
    assert dependencies(blue, "ml-online-deployment", est) == first  # a fresh memo walks the same way
    # The cluster's own posture collects that vault first too: the workspace walk is redone, not replayed.
    cluster = est.get(AKS)
    assert cluster is not None
    assert _roles(dependencies(cluster, "aks", est, memo)) == [
        ("self", "aks"),
        ("cmk-vault (self)", "kv-cmk"),
        ("workspace", "mlw"),
        ("workspace key-vault", "kv"),
        ("workspace registry", "acrpublic"),
    ]
    # Without that overlap the walk is replayed whole, its CMK vault included.
    plain = _estate()
    cluster = plain.get(AKS)
    assert cluster is not None
    assert ("cmk-vault (workspace)", "kv-cmk") in _roles(dependencies(cluster, "aks", plain, _Memo(plain)))
