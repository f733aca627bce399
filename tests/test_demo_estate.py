"""The bundled demo estate: regenerable, realistic in size and shape, secret-free, and a showcase
in which every registered check both passes and fails somewhere."""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import orjson
import pytest

from benchmarks.estate_gen import generate
from scanner import inventory as sources
from scanner import props, secrets
from scanner.azure.queries import RESOURCE_TYPES
from scanner.estate import Estate, parent_id
from scanner.inventory import Inventory
from scanner.models import Finding, Status
from scanner.registry import load_checks
from scanner.runner import run_checks
from scanner.snapshot import encode_records, read_demo
from tests.fixtures.demo_estate import COLLECTED_AT, SNAPSHOT_PATH, build

EXEMPT: dict[str, str] = {}
"""Check id -> why it cannot both pass and fail on a realistic estate. Empty: every check can."""


@cache
def demo() -> Inventory:
    return read_demo()


@cache
def demo_findings() -> tuple[Finding, ...]:
    return tuple(run_checks(Estate(demo()), load_checks(plugins=False)))


def test_committed_snapshot_is_the_builders_output() -> None:
    expected = b"".join(encode_records(build()))
    assert SNAPSHOT_PATH.read_bytes() == expected, "regenerate with: python -m tests.fixtures.demo_estate"


def test_two_subscriptions_and_at_least_forty_top_level_resources() -> None:
    """Counted without child rows (endpoints, computes, config, secrets) and Defender or subscription rows."""
    inventory = demo()
    graph_rows = [r for r in inventory.resources if r.type_key in RESOURCE_TYPES and parent_id(r.id) is None]
    subscription_rows = {
        r.subscription_id for r in inventory.resources if r.type_key == "microsoft.resources/subscriptions"
    }
    assert len(graph_rows) >= 40
    assert len(inventory.resources) >= 60
    assert len(inventory.header.scope.subscriptions) == 2
    assert subscription_rows == set(inventory.header.scope.subscriptions)
    assert {r.subscription_id for r in graph_rows} == subscription_rows


def test_header_is_fixed_and_counts_every_source() -> None:
    header = demo().header
    assert header.collected_at == COLLECTED_AT
    coverage = {source.name: source for source in header.sources}
    assert list(coverage) == [*sources.ALL_SOURCES, sources.RESOURCE_CHANGES]
    assert all(source.collected and not source.gaps for source in coverage.values())
    assert coverage[sources.KEY_METADATA].records == len(demo().keys)
    assert coverage[sources.APP_SETTINGS].records == len(demo().app_settings)
    assert sum(source.records for source in coverage.values()) == (
        len(demo().resources) + len(demo().keys) + len(demo().app_settings) + len(demo().changes)
    )
    assert all(source.records > 0 for source in coverage.values())


def test_every_check_passes_somewhere_and_fails_somewhere() -> None:
    seen: dict[str, set[Status]] = defaultdict(set)
    for finding in demo_findings():
        seen[finding.check_id].add(finding.status)
    missing = {
        check_id: sorted(s.value for s in {Status.PASS, Status.FAIL} - seen[check_id])
        for check_id in load_checks(plugins=False)
        if check_id not in EXEMPT and not {Status.PASS, Status.FAIL} <= seen[check_id]
    }
    assert not missing, f"checks never seen both ways on the demo (status missing): {missing}"


def test_no_check_errors_on_the_demo() -> None:
    errors = [(f.check_id, f.resource_name, f.message) for f in demo_findings() if f.status is Status.ERROR]
    assert errors == []


def test_no_secret_value_anywhere_in_the_snapshot() -> None:
    flagged = []
    for number, line in enumerate(SNAPSHOT_PATH.read_bytes().splitlines(), start=1):
        for path, value in props.walk_strings(orjson.loads(line)):
            if secrets.classify(path.rsplit(".", 1)[-1], value) != "none":
                flagged.append((number, path))
    assert flagged == []


def test_deployment_secrets_survive_only_as_facts() -> None:
    estate = Estate(demo())
    deployments = estate.of_kind("ml-online-deployment")
    variables = [value for d in deployments for value in props.mapping(d, "properties.environmentVariables").values()]
    assert variables and set(variables) == {secrets.REDACTED}
    plaintext = [
        (facts.resource_id.rsplit("/", 1)[-1], fact.name)
        for d in deployments
        if (facts := estate.settings_of(d)) is not None
        for fact in facts.settings
        if fact.source == "environment_variable" and fact.classification != "none"
    ]
    assert plaintext == [("main", "DB_PASSWORD")]


def test_relations_resolve_inside_the_estate() -> None:
    """Workspace dependencies, hubs, attached clusters, private links and CMK keys point at rows that exist."""
    estate = Estate(demo())
    dangling = []
    for workspace in estate.of_kind("ml-workspace"):
        for role, target in estate.workspace_dependencies(workspace).items():
            if role != "app-insights" and estate.get(target) is None:
                dangling.append((workspace.name, role))
        hub = props.text(workspace, "properties.hubResourceId")
        if hub and estate.get(hub) is None:
            dangling.append((workspace.name, "hub"))
    for compute in estate.of_kind("ml-compute"):
        cluster = props.text(compute, "properties.resourceId")
        if cluster and estate.get(cluster) is None:
            dangling.append((compute.name, "attached cluster"))
    for endpoint in estate.by_type["microsoft.network/privateendpoints"]:
        for conn in props.items(endpoint, "properties.privateLinkServiceConnections"):
            linked = estate.get(props.text(conn, "properties.privateLinkServiceId"))
            if linked is None or not estate.has_approved_private_endpoint(linked):
                dangling.append((endpoint.name, "private link"))
    for resource in estate.resources:
        key_id = estate.cmk_key_id(resource)
        if key_id and estate.key(key_id) is None:
            dangling.append((resource.name, "cmk key"))
    assert dangling == []
    attached = {cluster.name for cluster in estate.of_kind("aks") if estate.aks_attachments(cluster)}
    assert attached == {"aks-lh-clinical-inference", "aks-lh-research"}


@pytest.mark.parametrize("seed", [0, 7])
def test_generated_estate_is_deterministic_sized_and_scannable(seed: int) -> None:
    first, second = generate(1500, seed), generate(1500, seed)
    assert b"".join(encode_records(first)) == b"".join(encode_records(second))
    assert len(first.resources) == 1500
    assert len({r.id_key for r in first.resources}) == 1500
    assert len(first.header.scope.subscriptions) > 10
    findings = run_checks(Estate(first), load_checks(plugins=False))
    assert not [f for f in findings if f.status is Status.ERROR]
    assert {Status.PASS, Status.FAIL} <= {f.status for f in findings}


def test_generated_estates_differ_by_seed() -> None:
    assert {r.id for r in generate(300, 1).resources}.isdisjoint(r.id for r in generate(300, 2).resources)
