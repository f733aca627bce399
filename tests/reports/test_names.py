"""Names people can tell apart: derived from ARM ids, shared by every renderer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from reports import names
from scanner.models import Dependency, DeploymentPosture, Finding, Severity, Status
from tests.reports.conftest import DEPLOYMENT, SUB, VAULT, WEBAPP, WORKSPACE


def _finding(resource_id: str, detail_key: str | None = None, **extra: object) -> Finding:
    return Finding(
        check_id="MLW-X-01",
        resource_id=resource_id,
        resource_type=str(extra.pop("resource_type", "microsoft.keyvault/vaults")),
        resource_name=str(extra.pop("resource_name", resource_id.rsplit("/", 1)[-1])),
        status=Status.FAIL,
        severity=Severity.HIGH,
        title="t",
        message="m",
        detail_key=detail_key,
    )


def test_child_resources_carry_their_parents() -> None:
    assert names.path_name(DEPLOYMENT) == "mlw-claims/ep-triage/blue"
    assert names.path_name(f"{WEBAPP}/slots/staging") == "app-claims-portal/staging"
    assert names.path_name(WORKSPACE) == "mlw-claims"
    assert names.path_name(f"/subscriptions/{SUB}") == SUB


def test_per_item_findings_append_the_item_but_not_an_assessment_guid() -> None:
    assert names.display_name(_finding(VAULT, "cmk-storage")) == "kv-claims/cmk-storage"
    guid = "24009cfe-68c8-559e-bc12-bac9a48aa622"
    assert names.display_name(_finding(VAULT, guid)) == "kv-claims"


def test_a_subscription_reads_as_its_display_name() -> None:
    finding = _finding(f"/subscriptions/{SUB}", resource_type="microsoft.resources/subscriptions", resource_name="Prod")
    assert names.display_name(finding) == "Prod"
    assert names.subscription_label(SUB.upper(), {SUB: "Clinical Production"}) == f"Clinical Production ({SUB.upper()})"
    assert names.subscription_label(SUB, {}) == SUB


def test_resource_group_and_subscription_come_from_the_id() -> None:
    assert names.resource_group_of(WORKSPACE) == "rg-ml-prod"
    assert names.subscription_of(WORKSPACE) == SUB
    assert names.resource_group_of(f"/subscriptions/{SUB}") is None


def test_framework_labels_never_say_a_word_twice() -> None:
    label = names.framework_label("General Data Protection Regulation", "Regulation (EU) 2016/679")
    assert label == "General Data Protection Regulation (EU) 2016/679"
    assert names.framework_label("NIST SP 800-53 Rev. 5", "Rev. 5") == "NIST SP 800-53 Rev. 5"
    assert names.framework_label("HIPAA Security Rule", "45 CFR 164") == "HIPAA Security Rule, 45 CFR 164"


def test_times_are_utc_to_the_second() -> None:
    moment = datetime(2026, 11, 24, 10, 12, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert names.when(moment) == "2026-11-24 09:12:05 UTC"
    assert names.when(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05 UTC"
    assert names.when(None) == "unknown"


def test_deployments_of_a_finding_respect_item_scoped_dependencies() -> None:
    posture = DeploymentPosture(
        deployment_id=DEPLOYMENT,
        name="blue",
        kind="ml-online-deployment",
        dependencies=(
            Dependency(role="self", resource_id=DEPLOYMENT),
            Dependency(role="cmk-vault", resource_id=VAULT.upper(), item="cmk-ws"),
        ),
    )
    index = names.DeploymentIndex((posture,))
    assert index.of(_finding(VAULT, "cmk-ws")) == ("mlw-claims/ep-triage/blue",)
    assert index.of(_finding(VAULT)) == ("mlw-claims/ep-triage/blue",)  # the vault as a whole
    assert index.of(_finding(VAULT, "other-key")) == ()
    assert index.of(_finding(WEBAPP)) == ()


def test_path_name_cut_by_position_agrees_with_the_segment_walk() -> None:
    """The fast path (one rfind) against the plain walk over segments, on odd and random ids."""
    import random

    from reports.names import _path_name_slow, path_name

    ids = [
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app",
        "/subscriptions/s/providers/Microsoft.Security/pricings/VirtualMachines",
        "/a/providers/ns/t/n/providers/ns2/t2/n2",
        "//providers//ns//t//n",
        "/a/PROVIDERS/ns/t/n",
        "/a/providers",
        "/a/providers/",
        "providers/a/b/c",
        "/a/providersx/ns/t/n",
        "/a/İ/providers/ns/t/n",
        "",
        "/",
    ]
    pieces = ["/", "providers", "PROVIDERS", "a", "ns", "t", "n", "", "İ"]
    generator = random.Random(7)
    ids += ["".join(generator.choice(pieces) for _ in range(generator.randint(0, 12))) for _ in range(20_000)]
    assert [path_name(i) for i in ids] == [_path_name_slow(i) for i in ids]
