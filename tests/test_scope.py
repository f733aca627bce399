"""Scope filters on a snapshot or the demo: children follow their resource, subscription rows their subscription."""

from __future__ import annotations

from click.testing import CliRunner

from scanner.cli import cli
from scanner.inventory import AppSettingFact, AppSettingsFacts, Inventory, KeyMetadata
from scanner.scope import narrow
from tests.helpers import SUB, estate, resource, rid

OTHER = "00000000-0000-0000-0000-0000000000b2"


def _inventory() -> Inventory:
    vault = resource("Microsoft.KeyVault/vaults", "kv", tags={"app": "triage"})
    site = resource(
        "Microsoft.Web/sites",
        "app",
        kind="app,linux",
        tags={"App": "Triage"},
        resourceGroup="rg-apps",
        id=rid("Microsoft.Web/sites", "app", rg="rg-apps"),
    )
    config = resource(
        "Microsoft.Web/sites/config",
        "app/web",
        {"MinTlsVersion": "1.2"},
        id=f"{site.id}/config/web",
        resourceGroup="rg-apps",
    )
    storage = resource("Microsoft.Storage/storageAccounts", "st", tags={"app": "billing"})
    foreign = resource(
        "Microsoft.Storage/storageAccounts",
        "st2",
        subscriptionId=OTHER,
        id=rid("Microsoft.Storage/storageAccounts", "st2", sub=OTHER),
    )
    plan = resource(
        "Microsoft.Security/pricings",
        "Containers",
        {"pricingTier": "Standard"},
        resourceGroup=None,
        id=f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/Containers",
    )
    rows = [vault, site, config, storage, foreign, plan]
    return Inventory(
        header=estate(rows).header,
        resources=rows,
        keys=[
            KeyMetadata(
                vault_id=vault.id,
                vault_uri="https://kv.vault.azure.net/",
                name="k",
                kid="https://kv.vault.azure.net/keys/k",
            )
        ],
        app_settings=[AppSettingsFacts(resource_id=site.id, settings=(AppSettingFact(name="X"),))],
    )


def names(inventory: Inventory) -> set[str]:
    return {r.name for r in inventory.resources}


def test_no_filter_is_the_same_inventory() -> None:
    inventory = _inventory()
    assert narrow(inventory) is inventory


def test_subscription_keeps_its_subscription_level_rows() -> None:
    narrowed = narrow(_inventory(), subscriptions=[SUB.upper()])
    assert names(narrowed) == {"kv", "app", "app/web", "st", "Containers"}
    assert narrowed.header.scope.description.endswith(f"narrowed to subscriptions {SUB.upper()}")


def test_resource_group_keeps_children_and_their_facts() -> None:
    narrowed = narrow(_inventory(), resource_groups=["RG-APPS"])
    assert names(narrowed) == {"app", "app/web", "Containers"}
    assert len(narrowed.app_settings) == 1 and narrowed.keys == []


def test_tags_match_case_insensitively_and_keys_follow_their_vault() -> None:
    narrowed = narrow(_inventory(), tags={"app": "triage"})
    assert names(narrowed) == {"kv", "app", "app/web", "Containers"}
    assert [k.name for k in narrowed.keys] == ["k"]


def test_cli_filters_offline_scans_and_rejects_what_a_snapshot_cannot_answer() -> None:
    runner = CliRunner()
    unmatched = runner.invoke(cli, ["scan", "--demo", "--resource-group", "rg-nowhere"])
    assert unmatched.exit_code == 2 and "match no resource" in unmatched.stderr
    groups = runner.invoke(cli, ["scan", "--demo", "--management-group", "mg-health"])
    assert groups.exit_code == 2 and "needs a live scan" in groups.stderr
    bad_tag = runner.invoke(cli, ["scan", "--demo", "--tag", "novalue"])
    assert bad_tag.exit_code == 2 and "expected KEY=VALUE" in bad_tag.stderr
    # Every --tag must match and a resource holds one value per tag: a second value for the same
    # key (in any casing) would silently replace the first, so it is refused.
    twice = runner.invoke(cli, ["scan", "--demo", "--tag", "env=prod", "--tag", "Env=dev"])
    assert twice.exit_code == 2 and "given twice" in twice.stderr and twice.stdout == ""
