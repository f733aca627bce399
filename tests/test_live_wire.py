"""Wire variants real Azure (or a fake written only from the docs) may send: the same estate must come back.

Each test switches one variation on in the fake (`fake.wire`, `fake.faults`) and collects through
the real SDK clients over HTTPS. A variation that carries the same data must give the same
inventory as the default shapes; one that loses data must say so (a gap or a one-line error).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner import inventory as sources
from scanner.azure.collect import collect
from scanner.azure.refill import API_VERSIONS
from scanner.errors import SourceError
from scanner.estate import Estate
from scanner.inventory import Inventory
from scanner.models import Status
from scanner.registry import load_checks
from scanner.runner import run_checks
from scanner.snapshot import write_snapshot
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import collected_shape, env, options, reference
from tests.azure_fake.sample import SUB_A, SUB_B, sample_inventory
from tests.azure_fake.silent import Silent


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=100, window=1.0) as server:
        yield server


def _same(fake: AzureFake, tmp_path: Path, **overrides: Any) -> Inventory:
    wanted = reference(tmp_path)
    inventory = collect(options(fake, tmp_path, **overrides))
    assert collected_shape(inventory) == wanted
    assert fake.counts["unknown"] == 0 and fake.counts["kv:unknown"] == 0
    return inventory


# -- Resource Graph ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["$skipToken", "skipToken"])
def test_graph_paging_token_under_either_key(fake: AzureFake, tmp_path: Path, key: str) -> None:
    fake.wire.graph_token_key = key
    fake.wire.graph_page_size = 2  # the sample has more rows than this in every table but one
    _same(fake, tmp_path)
    assert fake.counts["graph:resources"] > 1


@pytest.mark.parametrize("value", ["false", False, "False"], ids=["string", "bool", "capitalised"])
def test_graph_result_truncated_false_in_any_spelling(fake: AzureFake, tmp_path: Path, value: object) -> None:
    fake.wire.graph_truncated = value  # type: ignore[assignment]
    _same(fake, tmp_path)


def test_graph_first_page_empty_with_a_token(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.graph_empty_first_page = True
    fake.wire.graph_page_size = 3
    _same(fake, tmp_path)
    assert fake.counts["graph:resources"] == 1 + 4  # the empty page, then 10 rows at 3 a page


def test_graph_result_truncated_with_a_paging_token_is_paged_to_the_end(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.graph_truncated_with_token = True
    fake.wire.graph_page_size = 3
    _same(fake, tmp_path)


def test_graph_without_facets_at_all(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.graph_facets = None
    _same(fake, tmp_path)


@pytest.mark.parametrize("key", ["$skiptoken", "SkipToken"])
def test_graph_paging_token_in_another_case_is_followed(fake: AzureFake, tmp_path: Path, key: str) -> None:
    fake.wire.graph_token_key = key
    fake.wire.graph_page_size = 2
    _same(fake, tmp_path)


def test_graph_rows_far_short_of_the_count_with_no_token_known_is_an_error(fake: AzureFake, tmp_path: Path) -> None:
    """The token under a name no client reads (`nextToken`), and `totalRecords` counting far more rows than
    came: before, the first page was taken as the whole estate (no gap, exit 0 or 1 on a fraction of it)."""
    fake.wire.graph_token_key = "nextToken"
    fake.wire.graph_page_size = 2
    fake.wire.graph_total_offset = 20
    with pytest.raises(SourceError, match=r"Resource Graph \w+ query: 2 of \d+ rows read and no paging token"):
        collect(options(fake, tmp_path))


def test_graph_without_counts(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.graph_counts = False
    fake.wire.graph_page_size = 3
    _same(fake, tmp_path)


def test_graph_table_format_is_read_as_rows(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.graph_table = True
    fake.wire.graph_page_size = 3
    _same(fake, tmp_path)


@pytest.mark.parametrize("value", ["true", True], ids=["string", "bool"])
def test_graph_truncated_result_without_a_token_is_an_error(fake: AzureFake, tmp_path: Path, value: object) -> None:
    fake.wire.graph_truncate_without_token = True
    fake.wire.graph_truncated = value  # type: ignore[assignment]
    fake.wire.graph_page_size = 2
    with pytest.raises(SourceError, match="truncated") as caught:
        collect(options(fake, tmp_path))
    assert "\n" not in str(caught.value)


def test_gzip_encoded_replies_read_as_the_same_estate(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.gzip = True
    fake.faults.kv_busy = 1  # an error reply compressed too
    _same(fake, tmp_path)
    assert fake.counts["gzip"] >= fake.counts["graph"] + fake.counts["token"] + fake.counts["kv:list"]


def test_replies_that_start_with_a_byte_order_mark(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.bom = True
    _same(fake, tmp_path)


def test_graph_502_and_a_reset_connection_are_retried(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.graph_502 = 2
    fake.faults.graph_reset = 2
    _same(fake, tmp_path)
    assert fake.faults.graph_502 == fake.faults.graph_reset == 0


@pytest.mark.parametrize("style", ["date", "none", "garbled", "ms", "ms-plain"])
def test_graph_429_retry_after_as_a_date_or_absent(fake: AzureFake, tmp_path: Path, style: str) -> None:
    fake.wire.retry_after = style
    fake.faults.graph_429 = 2
    _same(fake, tmp_path)
    assert fake.faults.graph_429 == 0


@pytest.mark.parametrize("style", ["date", "ms", "ms-plain", "garbled"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_arm_429_retry_after_as_a_date_or_in_milliseconds(
    fake: AzureFake, tmp_path: Path, method: str, style: str
) -> None:
    fake.wire.retry_after = style
    fake.faults.arm_429 = 2
    fake.faults.arm_429_method = method
    _same(fake, tmp_path, max_concurrency=1)
    assert fake.faults.arm_429 == 0


def test_arm_429_asking_for_an_hour_is_a_gap_not_an_hour_long_wait(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.retry_after = "hour"
    fake.faults.arm_429 = 1
    fake.faults.arm_429_method = "POST"  # the first app-settings list
    inventory = collect(options(fake, tmp_path, max_concurrency=1))
    [gap] = [g for c in inventory.header.sources for g in c.gaps]
    assert gap.source == sources.APP_SETTINGS and gap.reason.startswith("HTTP 429")
    assert fake.faults.arm_429 == 0 and fake.counts["arm:appsettings"] == 2  # not retried; the other site read


# -- ARM lists ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["absolute", "relative", "port"])
def test_arm_lists_paged_by_next_link(fake: AzureFake, tmp_path: Path, link: str) -> None:
    fake.wire.arm_page_size = 1
    fake.wire.arm_next_link = link
    _same(fake, tmp_path)


def test_arm_next_link_to_another_host_is_a_gap_and_never_followed(fake: AzureFake, tmp_path: Path) -> None:
    """Every ARM request carries the ARM token: a link to another host is not followed with it."""
    with Silent() as elsewhere:
        fake.wire.arm_page_size = 1
        fake.wire.arm_next_link = "elsewhere"
        fake.wire.arm_next_host = elsewhere.url
        inventory = collect(options(fake, tmp_path))
        assert elsewhere.accepted == []
    reasons = {g.reason for c in inventory.header.sources for g in c.gaps}
    assert reasons == {"malformed response (nextLink to another host)"}


def test_arm_next_link_back_to_a_page_already_read_is_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.arm_page_size = 1
    fake.wire.arm_next_link = "loop"
    inventory = collect(options(fake, tmp_path))
    reasons = {g.reason for c in inventory.header.sources for g in c.gaps}
    # each list longer than a page (ends at the second link)
    assert reasons == {"malformed response (nextLink repeated)"}
    assert fake.total_requests < 200


@pytest.mark.parametrize("empty", ["missing", "null"])
def test_arm_collection_without_a_value_list_is_a_gap_not_an_empty_list(
    fake: AzureFake, tmp_path: Path, empty: str
) -> None:
    fake.wire.arm_empty_value = empty  # every empty list (computes, secrets, tokens, ...) comes back without `value`
    inventory = collect(options(fake, tmp_path))
    rows, keys, facts, _ = reference(tmp_path)
    assert collected_shape(inventory)[:3] == (rows, keys, facts)
    gaps = [g for c in inventory.header.sources for g in c.gaps]
    assert gaps and all(g.reason == "malformed response (no 'value' list)" for g in gaps)
    assert {g.source for g in gaps} >= {sources.DIAGNOSTIC_SETTINGS}


@pytest.mark.parametrize("body", [{}, []], ids=["no-value", "not-an-object"])
def test_pricings_without_a_value_list_is_a_gap_not_no_plans(fake: AzureFake, tmp_path: Path, body: object) -> None:
    fake.pricings_in_graph = False
    fake.wire.pricings_body = body
    inventory = collect(options(fake, tmp_path))
    coverage = {c.name: c for c in inventory.header.sources}
    gaps = {(g.scope, g.reason) for g in coverage[sources.DEFENDER_PLANS].gaps}
    said = "malformed response (pricings: no 'value' list)"
    assert gaps == {(f"/subscriptions/{sub}", said) for sub in (SUB_A, SUB_B)}


@pytest.mark.parametrize("properties", [None, {}, {"pricingTier": None}], ids=["null", "empty", "null-tier"])
def test_a_defender_plan_without_a_tier_is_a_gap_not_a_plan_turned_off(
    fake: AzureFake, tmp_path: Path, properties: object
) -> None:
    """Read as it came, a plan with `properties: null` (or no `pricingTier`) had no tier: "off", a false fail."""
    fake.pricings_in_graph = False
    fake.wire.pricings_body = {"value": [{"name": "VirtualMachines", "properties": properties}]}
    inventory = collect(options(fake, tmp_path))
    coverage = {c.name: c for c in inventory.header.sources}
    gaps = {(g.scope, g.reason) for g in coverage[sources.DEFENDER_PLANS].gaps}
    said = "malformed response (pricings: a plan without a pricing tier)"
    assert gaps == {(f"/subscriptions/{sub}", said) for sub in (SUB_A, SUB_B)}
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    on_plans = {f.status for f in findings if f.check_id == "MLW-DEF-01"}
    assert on_plans == {Status.UNKNOWN}


def test_one_plan_row_without_properties_has_its_subscription_read_from_defender(
    fake: AzureFake, tmp_path: Path
) -> None:
    """Only a subscription whose plan rows all lacked properties was read from Defender: one bare row among
    others was dropped, and its plan read as not there."""
    plan = next(r for r in fake.estate.tables["securityresources"] if r["type"].lower().endswith("/pricings"))
    second = {**plan, "id": str(plan["id"]).rsplit("/", 1)[0] + "/VirtualMachines", "name": "VirtualMachines"}
    second["properties"] = {"pricingTier": "Standard", "subPlan": "P2"}
    fake.estate.tables["securityresources"].append(second)
    fake.estate.pricings[str(plan["subscriptionId"]).lower()].append(second)
    wanted_rows, *wanted_rest = collected_shape(collect(options(fake, tmp_path)))
    fake.wire.graph_null_properties = {str(plan["id"]).lower()}
    rows, *rest = collected_shape(collect(options(fake, tmp_path)))
    assert fake.counts["arm:pricings"] == 1
    assert rest == wanted_rest and _without_location(rows) == _without_location(wanted_rows)
    fake.wire.graph_properties_as = {"subPlan": "P2"}  # properties, but no tier: the same
    rows, *rest = collected_shape(collect(options(fake, tmp_path)))
    assert fake.counts["arm:pricings"] == 2
    assert rest == wanted_rest and _without_location(rows) == _without_location(wanted_rows)


# -- identity and Key Vault ------------------------------------------------------------------------


@pytest.mark.parametrize("expiry", ["str", "on"])
def test_token_expiry_spellings(fake: AzureFake, tmp_path: Path, expiry: str) -> None:
    fake.wire.token_expiry = expiry
    _same(fake, tmp_path)


def test_key_vault_challenge_with_scope_and_small_pages(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.kv_challenge = "scope"
    fake.wire.kv_page_size = 1
    _same(fake, tmp_path)
    assert fake.counts["kv:challenge"] >= 1 and fake.counts["kv:list"] > 1


@pytest.mark.parametrize("style", ["legacy-authority", "compact"])
def test_key_vault_challenge_spellings(fake: AzureFake, tmp_path: Path, style: str) -> None:
    fake.wire.kv_challenge = style
    _same(fake, tmp_path)
    assert fake.counts["kv:challenge"] == 1


def test_key_vault_claims_challenge_mid_run_gets_a_fresh_token(fake: AzureFake, tmp_path: Path) -> None:
    """Continuous access evaluation: Key Vault refuses a token it accepted a moment ago, with claims."""
    fake.faults.kv_claims = 1
    _same(fake, tmp_path, max_concurrency=1)
    assert fake.counts["kv:claims"] == 1 and fake.token_scopes.count("https://vault.azure.net/.default") == 2


def test_key_vault_in_another_directory_is_a_gap_not_a_failed_sign_in(fake: AzureFake, tmp_path: Path) -> None:
    """A vault whose challenge names a tenant the credential may not sign in to: its keys come from ARM."""
    fake.wire.kv_challenge = "other-tenant"
    inventory = collect(options(fake, tmp_path))
    [gap] = [g for c in inventory.header.sources for g in c.gaps]
    assert gap.source == sources.KEY_METADATA and "data plane authentication failed" in gap.reason
    assert {k.source for k in inventory.keys} == {"arm"} and fake.counts["arm:vault-keys"] == 1


# -- CLI: a partial result then a failure ------------------------------------------------------------


@pytest.mark.parametrize("command", ["scan", "collect"])
def test_cli_failure_after_a_first_page_exits_3_and_writes_nothing(
    fake: AzureFake, tmp_path: Path, command: str
) -> None:
    from scanner.cli import cli

    fake.wire.graph_page_size = 2
    fake.faults.graph_fail_paged = 400
    target = tmp_path / ("reports" if command == "scan" else "estate.jsonl")
    args = [command, "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path)]
    result = CliRunner().invoke(cli, [*args, "--quiet", "--out", str(target)], env=env(fake, tmp_path))
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and "Resource Graph" in errors[0] and "HTTP 400" in errors[0], result.output
    assert "Traceback" not in result.output
    assert not target.exists() and not list(tmp_path.glob(".estate.jsonl.*"))


def test_security_contact_in_the_newer_shape_keeps_every_field(fake: AzureFake, tmp_path: Path) -> None:
    """2023-12-01-preview: `isEnabled` and `notificationsSources` instead of `alertNotifications`."""
    from scanner.estate import Estate
    from scanner.registry import load_checks
    from scanner.runner import run_checks

    newer = {"emails": "secops@example.org", "isEnabled": True, "notificationsSources": [{"sourceType": "Alert"}]}
    for contacts in fake.estate.contacts.values():
        for contact in contacts:
            contact["properties"] = newer
    inventory = collect(options(fake, tmp_path))
    contacts = [r for r in inventory.resources if r.type_key == "microsoft.security/securitycontacts"]
    assert contacts and all(r.properties == newer for r in contacts)
    verdicts = {
        f.status.value
        for f in run_checks(Estate(inventory), load_checks(plugins=False))
        if f.check_id == "MLW-DEF-07" and f.resource_id.lower() == f"/subscriptions/{SUB_B}".lower()
    }
    assert verdicts == {"pass"}


@pytest.mark.parametrize("scope", [[], ["--management-group", "mg-ml"]], ids=["tenant", "management-group"])
def test_cli_refused_scope_exits_3_with_one_line(fake: AzureFake, tmp_path: Path, scope: list[str]) -> None:
    """Resource Graph answers 403 when nothing in the scope is readable: no subscription to split off."""
    from scanner.cli import cli

    fake.faults.graph_forbidden = 403
    target = tmp_path / "reports"
    args = ["scan", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path)]
    result = CliRunner().invoke(cli, [*args, *scope, "--quiet", "--out", str(target)], env=env(fake, tmp_path))
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: Resource Graph refused the "), lines
    assert "HTTP 403 AuthorizationFailed" in lines[0] and (not scope or "mg-ml" in lines[0])
    assert not target.exists()


def test_unregistered_provider_is_a_gap_and_never_registered(fake: AzureFake, tmp_path: Path) -> None:
    """A 409 MissingSubscriptionRegistration must not make the SDK POST `providers/{rp}/register` (a write)."""
    fake.pricings_in_graph = False
    fake.faults.unregistered = {"pricings"}
    inventory = collect(options(fake, tmp_path))
    coverage = {c.name: c for c in inventory.header.sources}
    assert {g.reason for g in coverage[sources.DEFENDER_PLANS].gaps} == {"HTTP 409 MissingSubscriptionRegistration"}
    fake.faults.unregistered = {"graph"}
    with pytest.raises(SourceError, match="HTTP 409 MissingSubscriptionRegistration"):
        collect(options(fake, tmp_path))
    assert not [path for _, method, path in fake.requests if method != "GET" and "/register" in path.lower()]
    assert fake.counts["unknown"] == 0


@pytest.mark.parametrize("bundle", ["missing", "not-pem"])
def test_cli_unusable_ca_bundle_is_a_usage_error(fake: AzureFake, tmp_path: Path, bundle: str) -> None:
    """Not 'authority unreachable' or an OSError from the transport: the option is named."""
    from scanner.cli import cli

    path = tmp_path / f"{bundle}.pem"
    if bundle == "not-pem":
        path.write_text("not a certificate\n")
    args = ["collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(path)]
    result = CliRunner().invoke(cli, [*args, "--quiet", "--out", str(tmp_path / "e.jsonl")], env=env(fake, tmp_path))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mlwarden: error: --ca-bundle {path}: "), lines
    assert fake.counts["token"] == 0 and not (tmp_path / "e.jsonl").exists()


def test_public_cloud_layout_with_each_vault_at_its_own_host(tmp_path: Path) -> None:
    """No endpoint option at all: ARM, the authority and every vault at their real host names, reached
    through a proxy that tunnels them to the fake. Key Vault's challenge is verified as in Azure."""
    from urllib.parse import urlsplit

    from scanner.cli import cli
    from scanner.snapshot import read_snapshot
    from tests.azure_fake.proxy import RecordingProxy

    with AzureFake(sample_inventory(), quota=100, window=1.0) as fake:
        vaults = {str(urlsplit(str(r["properties"]["vaultUri"])).hostname) for r in fake.estate.vaults.values()}
        port = int(fake.url.rsplit(":", 1)[1])
        tunnel = dict.fromkeys({"management.azure.com", "login.microsoftonline.com", *vaults}, port)
        with RecordingProxy(tunnel) as proxy:
            environment: dict[str, str | None] = {**env(fake, tmp_path), "HTTPS_PROXY": proxy.url, "NO_PROXY": ""}
            environment["AZURE_AUTHORITY_HOST"] = None
            target = tmp_path / "estate.jsonl"
            args = ["collect", "--ca-bundle", str(fake.ca_path), "--quiet", "--out", str(target)]
            result = CliRunner().invoke(cli, args, env=environment)
            assert result.exit_code == 0, result.output
            assert set(proxy.hosts) == set(tunnel)
        assert fake.counts["kv:challenge"] >= 1 and fake.counts["kv:list"] >= 1 and fake.counts["kv:unknown"] == 0
    collected = read_snapshot(target)
    assert not any(c.gaps for c in collected.header.sources)
    assert {k.kid for k in collected.keys} == {k.kid for k in sample_inventory().keys}


@pytest.mark.parametrize("content_type", ["", "text/plain", "text/html; charset=utf-8"], ids=["none", "plain", "html"])
def test_json_replies_without_a_json_content_type(fake: AzureFake, tmp_path: Path, content_type: str) -> None:
    """azure-core reads a reply with no `Content-Type` as JSON, and hands one labelled `text/*` to
    the SDKs as a string their deserializers refuse (a Flask fake's default is `text/html`):
    `JsonReply` reads it as the JSON it is, in Resource Graph, Defender and Key Vault alike."""
    fake.wire.content_type = content_type
    _same(fake, tmp_path)


def test_managed_identity_on_app_service_signs_in_and_its_header_never_shows(
    fake: AzureFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service, Functions, Container Apps): GET with `resource=`."""
    from scanner.cli import cli
    from tests.azure_fake.routes import MSI_HEADER, MSI_PATH

    environment: dict[str, str | None] = dict.fromkeys(
        ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")
    )
    environment.update(
        AZURE_TOKEN_CREDENTIALS="managedidentitycredential",
        IDENTITY_ENDPOINT=fake.url + MSI_PATH,
        IDENTITY_HEADER=MSI_HEADER,
    )
    target = tmp_path / "estate.jsonl"
    args = [
        "collect",
        "--arm-endpoint",
        fake.url,
        "--ca-bundle",
        str(fake.ca_path),
        "--no-keyvault",
        "--out",
        str(target),
    ]
    result = CliRunner().invoke(cli, [*args, "--out", str(target)], env=environment)
    assert result.exit_code == 0, result.output
    assert fake.counts["msi"] >= 1 and fake.counts["token"] == 0
    assert set(fake.token_scopes) == {"https://management.azure.com/.default"}
    out, err = capsys.readouterr()
    assert MSI_HEADER not in result.output + out + err and MSI_HEADER not in target.read_text()


def test_graph_paging_token_that_repeats_is_an_error_not_a_hang(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.graph_stuck_token = True
    fake.wire.graph_page_size = 2
    with pytest.raises(SourceError, match="paging token repeated"):
        collect(options(fake, tmp_path))
    assert fake.counts["graph"] <= 4


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_arm_next_links_that_leave_out_the_endpoint_path_stay_below_it(
    fake: AzureFake, tmp_path: Path, link: str
) -> None:
    """ARM writes its `nextLink`s from its own paths; behind a gateway at `https://gw/arm` they lack `/arm`.
    Followed as given, the second page was the gateway's 404, which read as "the resource is gone": its
    computes, tokens, settings and keys left the inventory with no gap."""
    fake.wire.arm_prefix, fake.wire.arm_prefix_only = "/arm", True
    fake.wire.arm_page_size, fake.wire.arm_next_link = 1, link
    _same(fake, tmp_path, arm_endpoint=fake.url + "/arm")
    assert not [path for _, _, path in fake.requests if "/oauth2/" not in path and path.startswith("/subscriptions")]


@pytest.mark.parametrize("junk", [42, {"id": "x"}, ["a"]], ids=["number", "object", "list"])
def test_arm_items_whose_id_is_not_a_string_are_placed_by_their_name(
    fake: AzureFake, tmp_path: Path, junk: object
) -> None:
    """An id that is no string is no id: the item is the collection's path and its name, as one sent with
    none. Before, `str(42)` became a row of its own (a resource `42`, judged by every check of its type)."""
    fake.wire.arm_item_id_as = junk
    rows, *rest = collected_shape(collect(options(fake, tmp_path)))
    wanted_rows, *wanted_rest = reference(tmp_path)
    assert sorted(row.lower() for row in rows) == sorted(row.lower() for row in wanted_rows) and rest == wanted_rest


def test_arm_items_with_neither_a_string_id_nor_a_name_make_their_list_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.arm_item_id_as, fake.wire.arm_item_name_as = 42, 7
    inventory = collect(options(fake, tmp_path))
    ids = {r.id for r in inventory.resources}
    assert "42" not in ids and all(i.startswith("/subscriptions/") for i in ids)
    reasons = {g.reason for c in inventory.header.sources for g in c.gaps}
    assert "malformed response (an item whose id is not a string)" in " ".join(reasons), reasons


def test_arm_endpoint_below_a_path(fake: AzureFake, tmp_path: Path) -> None:
    """`--arm-endpoint https://host:port/arm`: every client keeps the path (Resource Graph, Defender, ARM)."""
    fake.wire.arm_prefix = "/arm"
    fake.pricings_in_graph = False  # so Defender's own client is used too
    inventory = collect(options(fake, tmp_path, arm_endpoint=fake.url + "/arm/"))
    assert not any(c.gaps for c in inventory.header.sources)
    api = [path for _, _, path in fake.requests if "/oauth2/" not in path and not path.startswith("/kv/")]
    assert api and not [path for path in api if not path.startswith("/arm/")]
    assert fake.counts["arm:pricings"] == 2


@pytest.mark.parametrize("empty", ["missing", "null"])
def test_empty_vault_listed_without_a_value_list(fake: AzureFake, tmp_path: Path, empty: str) -> None:
    """azure-keyvault-keys pages a reply without `value` as no keys (an empty vault: nothing there could
    fail a check); `"value": null` made its pager raise TypeError (exit 4): now the vault falls back to
    ARM, whose list is as malformed, so the vault is a gap."""
    fake.estate.keys.clear()
    fake.wire.arm_empty_value = empty
    inventory = collect(options(fake, tmp_path))
    gaps = [(g.scope, g.reason) for c in inventory.header.sources if c.name == sources.KEY_METADATA for g in c.gaps]
    vault = str(next(iter(fake.estate.vaults.values()))["id"])
    assert gaps == ([] if empty == "missing" else [(vault, "keys not readable: malformed response (no 'value' list)")])
    assert inventory.keys == []


def test_graph_rows_without_subscription_or_group_columns(fake: AzureFake, tmp_path: Path) -> None:
    """Null `subscriptionId`/`resourceGroup` are read from each row's id: the same estate comes back."""
    fake.wire.graph_sparse = True
    _same(fake, tmp_path)


@pytest.mark.parametrize("shape", ["key-without-key", "policy-not-an-object"])
def test_key_vault_reply_the_sdk_cannot_read_falls_back_to_arm(fake: AzureFake, tmp_path: Path, shape: str) -> None:
    """A key bundle without `key`, a rotation policy that is not an object: the SDK raised AttributeError,
    which escaped the vault read (exit 4). Now the vault is read from ARM and the gap says why."""
    if shape == "key-without-key":
        fake.wire.kv_key_without_key = True
    else:
        fake.wire.kv_policy_body = "not a policy"
    inventory = collect(options(fake, tmp_path))
    _read_from_arm_with_one_gap(inventory)
    assert fake.counts["arm:vault-keys"] == 1


def test_app_service_table_failing_is_read_per_site_instead(fake: AzureFake, tmp_path: Path) -> None:
    """`appserviceresources` refused (a fake or cloud without it): each site's config GET reads the same rows."""
    fake.faults.graph_table_refused = {"appserviceresources": 400}
    rows, keys, facts, gaps = reference(tmp_path)
    inventory = collect(options(fake, tmp_path))
    assert collected_shape(inventory)[1:] == (keys, facts, gaps)  # the rows differ only in ARM's own fields (location)
    assert {r.id.lower() for r in inventory.resources} == {json.loads(row)["id"].lower() for row in rows}
    configs = {r.id.lower() for r in inventory.resources if r.id.lower().endswith("/config/web")}
    assert configs and fake.counts["arm:config"] == len(configs)


def test_security_table_failing_reads_assessments_and_plans_from_defender(fake: AzureFake, tmp_path: Path) -> None:
    """Assessments from Defender's Assessments - List, plans from its pricings (test_live_contract_kv_defender
    has the paged list and the gap when both fail)."""
    fake.faults.graph_table_refused = {"securityresources": 400}
    inventory = collect(options(fake, tmp_path))
    coverage = {c.name: c for c in inventory.header.sources}
    assert coverage[sources.DEFENDER_ASSESSMENTS].gaps == () and fake.counts["arm:assessments"] == 2
    assert coverage[sources.DEFENDER_PLANS].gaps == () and fake.counts["arm:pricings"] == 2
    assert [r for r in inventory.resources if r.type_key == "microsoft.security/assessments"]
    assert [r for r in inventory.resources if r.type_key == "microsoft.security/pricings"]


def test_key_deleted_between_listing_and_read_is_left_out(fake: AzureFake, tmp_path: Path) -> None:
    """Not the whole vault falling back to ARM with a gap: the other keys are read as usual."""
    listed = sorted(k.name for keys in fake.estate.keys.values() for k in keys)
    fake.wire.kv_deleted_key = listed[0]
    inventory = collect(options(fake, tmp_path))
    assert sorted(k.name for k in inventory.keys) == listed[1:]
    assert {k.source for k in inventory.keys} == {"data-plane"} and fake.counts["arm:vault-keys"] == 0
    assert not any(c.gaps for c in inventory.header.sources)


def test_managed_identity_through_imds(fake: AzureFake, tmp_path: Path) -> None:
    """A VM or AKS node: the instance metadata service (here at `AZURE_POD_IDENTITY_AUTHORITY_HOST`),
    probed first, then asked with `Metadata: true`; its reply spells every number as a string."""
    from scanner.cli import cli

    environment: dict[str, str | None] = dict.fromkeys(
        (
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_AUTHORITY_HOST",
            "IDENTITY_ENDPOINT",
        )
    )
    environment.update(AZURE_TOKEN_CREDENTIALS="managedidentitycredential", AZURE_POD_IDENTITY_AUTHORITY_HOST=fake.url)
    target = tmp_path / "estate.jsonl"
    args = ["collect", "--arm-endpoint", fake.url, "--ca-bundle", str(fake.ca_path), "--no-keyvault"]
    result = CliRunner().invoke(cli, [*args, "--out", str(target)], env=environment)
    assert result.exit_code == 0, result.output
    # One IMDS request for the run (the collection and the change reads share it); before, each signed
    # in on its own and this count of 2 was taken for a probe and a token.
    assert fake.counts["imds"] == 1 and fake.counts["token"] == 0
    assert set(fake.token_scopes) == {"https://management.azure.com/.default"}


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_ca_named_in_the_environment_is_trusted(fake: AzureFake, tmp_path: Path, variable: str) -> None:
    """Without --ca-bundle: `REQUESTS_CA_BUNDLE` (read by requests) and `SSL_CERT_FILE` (read by mlwarden)."""
    from scanner.cli import cli

    environment: dict[str, str | None] = {**env(fake, tmp_path), "REQUESTS_CA_BUNDLE": None, "CURL_CA_BUNDLE": None}
    environment[variable] = str(fake.ca_path)
    target = tmp_path / "estate.jsonl"
    args = ["collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--no-keyvault", "--quiet"]
    result = CliRunner().invoke(cli, [*args, "--out", str(target)], env=environment)
    assert result.exit_code == 0, result.output
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)  # no writer: opening it would wait for ever
    for wrong, why in (
        (tmp_path / "missing.pem", "cannot be read" if variable == "SSL_CERT_FILE" else "no such file or directory"),
        (fifo, "not a regular file"),
        (Path("/proc/self/status"), "not a regular file"),
    ):
        environment[variable] = str(wrong)
        result = CliRunner().invoke(cli, [*args, "--out", str(target)], env=environment)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert lines[0].startswith(f"mlwarden: error: {variable}={wrong}: ") and why in lines[0], lines


def test_token_endpoint_503_is_retried(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.token_5xx = 1
    _same(fake, tmp_path)
    assert fake.faults.token_5xx == 0


# -- rows without properties -----------------------------------------------------------------------

NULLED = {*API_VERSIONS, "microsoft.web/sites/config", "microsoft.security/pricings"}


def _read_from_arm_with_one_gap(inventory: Inventory) -> None:
    """The vault's keys came from ARM, and one key-metadata gap says its data plane reply was malformed."""
    gaps = [g.reason for c in inventory.header.sources if c.name == sources.KEY_METADATA for g in c.gaps]
    assert len(gaps) == 1 and gaps[0].startswith("vault kv-claims: data plane malformed response"), gaps
    assert {k.source for k in inventory.keys} == {"arm"}


def _without_location(rows: list[str]) -> list[str]:
    return sorted(json.dumps({k: v for k, v in json.loads(row).items() if k != "location"}) for row in rows)


def test_rows_without_properties_are_read_again_from_arm(fake: AzureFake, tmp_path: Path) -> None:
    """A resource provider that has not synced to Resource Graph sends `properties: null`. Judged as it
    came, every property would read as the service default: an ACR admin user, an ML deployment's
    secrets and a site's remote debugging passed on nothing. Each audited row is read with ARM's own
    GET, a site's config from `config/web`, the plans from Defender: the same collection as before."""
    fake.wire.graph_null_properties = NULLED
    inventory = collect(options(fake, tmp_path))
    rows, *rest = collected_shape(inventory)
    wanted_rows, *wanted_rest = reference(tmp_path)
    assert rest == wanted_rest  # keys, app-setting facts (the deployment's too) and no gap
    # Row for row the same, but for `location`: Resource Graph's config and plan rows leave it out.
    assert _without_location(rows) == _without_location(wanted_rows)
    audited = [r for r in inventory.resources if r.type_key in API_VERSIONS]
    assert fake.counts["arm:resource"] == len(audited) and all(isinstance(r.properties, dict) for r in audited)
    assert fake.counts["arm:config"] == 2 and fake.counts["arm:pricings"] == 2
    snapshot = tmp_path / "estate.jsonl"
    write_snapshot(inventory, snapshot)
    assert "CANARY" not in snapshot.read_text()  # the deployment's environment, read again, classified and dropped


def test_a_bare_row_arm_cannot_read_is_a_gap_and_a_deleted_one_is_left_out(fake: AzureFake, tmp_path: Path) -> None:
    ids = {r.type_key: r.id for r in fake.estate.inventory.resources}
    registry, vault = ids["microsoft.containerregistry/registries"], ids["microsoft.keyvault/vaults"]
    fake.wire.graph_null_properties = {"microsoft.containerregistry/registries", "microsoft.keyvault/vaults"}
    fake.faults.arm_refused = {registry.lower(): 403, vault.lower(): 404}
    inventory = collect(options(fake, tmp_path))
    gaps = [(g.source, g.scope, g.reason) for c in inventory.header.sources for g in c.gaps]
    reason = "Resource Graph sent no properties and ARM's GET failed: HTTP 403 AuthorizationFailed"
    assert gaps == [(sources.RESOURCES, registry, reason)]
    assert vault.lower() not in {r.id_key for r in inventory.resources} and not inventory.keys
    assert fake.counts["kv:list"] == 0  # nothing read for a vault ARM no longer knows


def test_a_resource_whose_record_could_not_be_read_is_unknown_for_every_check(fake: AzureFake, tmp_path: Path) -> None:
    """Judged on `properties: null`, every property reads as the service default: the registry's admin
    user and public access would fail (or pass) on nothing. Each check on it is a coverage gap naming
    why; the other resources, read in full, are judged as before."""
    ids = {r.type_key: r.id for r in fake.estate.inventory.resources}
    registry = ids["microsoft.containerregistry/registries"]
    fake.wire.graph_null_properties = {"microsoft.containerregistry/registries"}
    fake.faults.arm_refused = {registry.lower(): 403}
    inventory = collect(options(fake, tmp_path))
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    on_registry = [f for f in findings if f.resource_id == registry and not f.check_id.startswith("MLW-DEF-")]
    assert len(on_registry) > 5 and {f.status for f in on_registry} == {Status.UNKNOWN}
    assert all("Resource Graph sent no properties and ARM's GET failed" in f.message for f in on_registry)
    # Defender's own assessment of the registry does not rest on its record: still judged.
    assert {f.status for f in findings if f.resource_id == registry and f.check_id == "MLW-DEF-08"} == {Status.FAIL}
    judged = {f.status for f in findings if f.resource_id != registry}
    assert Status.FAIL in judged and Status.PASS in judged


GONE_TYPES = (
    "microsoft.containerregistry/registries",
    "microsoft.keyvault/vaults",
    "microsoft.web/sites",
    "microsoft.machinelearningservices/workspaces",
)


@pytest.mark.parametrize("gone_type", GONE_TYPES)
def test_a_resource_deleted_during_the_scan_is_left_out_not_judged_on_missing_children(
    fake: AzureFake, tmp_path: Path, gone_type: str
) -> None:
    """Resource Graph lists it, then every read below it answers 404. Read as "no children", a deleted
    registry passed its token check and a deleted vault's secret check was not applicable. Its own GET
    says it is gone: it is left out with everything under it, and nothing else changes."""
    gone = next(r.id for r in fake.estate.inventory.resources if r.type_key == gone_type)
    fake.faults.gone = {gone.lower()}
    inventory = collect(options(fake, tmp_path))
    below = gone.lower() + "/"
    assert not [r for r in inventory.resources if r.id_key == gone.lower() or r.id_key.startswith(below)]
    assert not [k for k in inventory.keys if k.vault_id.lower() == gone.lower()]
    assert not [f for f in inventory.app_settings if f.resource_id.lower().startswith((gone.lower(), below))]
    assert not any(c.gaps for c in inventory.header.sources)
    rows, keys, _, _ = reference(tmp_path)

    def kept(row: str) -> bool:
        key = str(json.loads(row).get("id") or json.loads(row).get("vault_id") or "").lower()
        return key != gone.lower() and not key.startswith(below)

    got_rows, got_keys, _, _ = collected_shape(inventory)
    assert got_rows == [r for r in rows if kept(r)] and got_keys == [k for k in keys if kept(k)]
    with AzureFake(sample_inventory(), quota=100, window=1.0) as whole:
        before = {c.name: c.records for c in collect(options(whole, tmp_path)).header.sources}
    dropped = len(rows) - len(got_rows)
    counted = {c.name: c.records for c in inventory.header.sources}
    assert sum(before.values()) - sum(counted.values()) == dropped + len(keys) - len(got_keys) + (
        1 if gone_type == "microsoft.web/sites" else 0  # its app-setting facts
    )
    assert counted[sources.KEY_METADATA] == len(inventory.keys)
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    assert not [f for f in findings if f.resource_id.lower() == gone.lower()]
    own_gets = [path for _, method, path in fake.requests if method == "GET" and path.lower() == gone.lower()]
    assert len(own_gets) == 1  # one GET confirms it, however many of its reads answered 404


def test_a_child_list_answering_404_for_a_resource_that_exists_reads_as_none(fake: AzureFake, tmp_path: Path) -> None:
    """The sample's sites have no Easy Auth record, which the fake answers 404: each site's own GET says
    it exists, so there is simply none (the same collection as always, one GET more per site)."""
    _same(fake, tmp_path)
    sites = [r for r in fake.estate.inventory.resources if r.type_key == "microsoft.web/sites"]
    assert fake.counts["arm:resource"] == len(sites) == 2


def test_rsa_modulus_with_a_leading_zero_octet_is_the_same_key_size(fake: AzureFake, tmp_path: Path) -> None:
    """Read as octets, a 3072-bit key sent with the zero octet some libraries prefix was 3080 bits."""
    fake.wire.kv_modulus_zero = True
    inventory = _same(fake, tmp_path)
    assert sorted(k.key_size for k in inventory.keys if k.key_size) == [2048, 3072]


@pytest.mark.parametrize("odd", ["", [], "{}"], ids=["empty-string", "empty-list", "json-in-a-string"])
def test_rows_whose_properties_are_not_an_object_are_read_again_from_arm(
    fake: AzureFake, tmp_path: Path, odd: object
) -> None:
    """Only `null` was read again: properties of another type were judged as they came, every property
    reading as the service default, so the registry's admin user check passed on nothing."""
    registry = "microsoft.containerregistry/registries"
    fake.wire.graph_null_properties = {registry}
    fake.wire.graph_properties_as = odd
    _same(fake, tmp_path)
    assert fake.counts["arm:resource"] == 1 + 2  # the registry, and each site's Easy Auth 404 confirmed


@pytest.mark.parametrize("empty", ["", []], ids=["empty-string", "empty-list"])
def test_empty_object_columns_spelt_as_an_empty_string_or_list(fake: AzureFake, tmp_path: Path, empty: object) -> None:
    """A resource without identity, tags or sku as `""` or `[]`: that ended the collection as a malformed row."""
    fake.wire.graph_empty_as = empty
    _same(fake, tmp_path)


def test_key_listing_whose_next_link_loops_falls_back_to_arm_not_a_hang(fake: AzureFake, tmp_path: Path) -> None:
    """azure-keyvault-keys follows `nextLink` for as long as there is one: a link back to a page already
    read paged forever. The vault is read from ARM instead, with a gap saying why."""
    fake.wire.kv_page_size = 1
    fake.wire.kv_next_link = "loop"
    inventory = collect(options(fake, tmp_path))
    _read_from_arm_with_one_gap(inventory)
    assert fake.counts["kv:list"] == 2


def test_a_row_sent_again_on_the_next_page_is_one_row(fake: AzureFake, tmp_path: Path) -> None:
    """Rows came twice when the data moved under a page boundary: counted twice in the coverage records,
    and an ML deployment's environment classified twice."""
    fake.wire.graph_page_size = 3
    fake.wire.graph_repeat_row = True
    inventory = _same(fake, tmp_path)
    with AzureFake(sample_inventory(), quota=100, window=1.0) as whole:
        wanted = {c.name: c.records for c in collect(options(whole, tmp_path)).header.sources}
    assert {c.name: c.records for c in inventory.header.sources} == wanted
    assert len({f.resource_id.lower() for f in inventory.app_settings}) == len(inventory.app_settings)


@pytest.mark.parametrize("body", [{"properties": None}, {}, []], ids=["null", "no-properties", "not-an-object"])
def test_app_settings_reply_without_a_settings_map_is_a_gap_not_no_settings(
    fake: AzureFake, tmp_path: Path, body: object
) -> None:
    """Read as "no settings", a site's secret in a plain app setting passed MLW-CFG-06 on nothing."""
    fake.wire.settings_body = body
    inventory = collect(options(fake, tmp_path))
    sites = sorted(r.id for r in inventory.resources if r.type_key == "microsoft.web/sites")
    gaps = sorted(
        (g.scope, g.reason) for c in inventory.header.sources if c.name == sources.APP_SETTINGS for g in c.gaps
    )
    assert gaps == [(site, "malformed response (POST appsettings/list: no 'properties' object)") for site in sites]
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    assert {f.status for f in findings if f.check_id == "MLW-CFG-06"} == {Status.UNKNOWN}


def test_rows_a_query_did_not_ask_for_are_left_out(fake: AzureFake, tmp_path: Path) -> None:
    """A service that ignores the queries' `where` sends every row of each table: resource groups were
    read as subscriptions, and a site's `config/appsettings` row (values and all) joined the inventory."""
    canary = "Server=db;Password=Wire-Canary-0d1e2f"
    site = next(r for r in fake.estate.inventory.resources if r.type_key == "microsoft.web/sites")
    fake.estate.tables["appserviceresources"].append(
        {"id": f"{site.id}/config/appsettings", "name": "appsettings", "type": "microsoft.web/sites/config",
         "subscriptionId": site.subscription_id, "resourceGroup": site.resource_group,
         "properties": {"DB_CONNECTION": canary}}
    )  # fmt: skip
    fake.estate.tables["resourcecontainers"].append(
        {"id": f"/subscriptions/{SUB_A}/resourceGroups/rg-ml", "name": "rg-ml", "subscriptionId": SUB_A,
         "type": "microsoft.resources/subscriptions/resourcegroups", "properties": {"provisioningState": "Succeeded"}}
    )  # fmt: skip
    fake.estate.tables["securityresources"].append(
        {"id": f"/subscriptions/{SUB_A}/providers/Microsoft.Security/secureScores/ascScore", "name": "ascScore",
         "type": "microsoft.security/securescores", "subscriptionId": SUB_A, "properties": {"score": {"current": 3}}}
    )  # fmt: skip
    fake.estate.tables["resources"].append(
        {"id": f"/subscriptions/{SUB_A}/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/vm1",
         "name": "vm1", "type": "microsoft.compute/virtualmachines", "subscriptionId": SUB_A, "resourceGroup": "rg-ml",
         "properties": {"osProfile": {"adminPassword": canary}}}
    )  # fmt: skip
    fake.wire.graph_unfiltered = True
    inventory = _same(fake, tmp_path)
    snapshot = tmp_path / "estate.jsonl"
    write_snapshot(inventory, snapshot)
    assert "Wire-Canary" not in snapshot.read_text()


def test_key_listing_without_attributes_takes_them_from_the_key(fake: AzureFake, tmp_path: Path) -> None:
    """The listing's attributes left out: `GET /keys/{name}` carries the same version's, so nothing is lost."""
    fake.wire.kv_no_attributes = "list"
    _same(fake, tmp_path)


@pytest.mark.parametrize("where", ["both", "everywhere"])
def test_keys_without_attributes_anywhere_are_a_gap_not_keys_without_expiry(
    fake: AzureFake, tmp_path: Path, where: str
) -> None:
    """Judged without `attributes`, every key had no expiry: a false KV-07 fail. With ARM's listing to
    fall back on, the keys come from it; with nothing anywhere, the vault's keys are a gap (unknown)."""
    fake.wire.kv_no_attributes = where
    inventory = collect(options(fake, tmp_path))
    vault = next(r.id for r in inventory.resources if r.type_key == "microsoft.keyvault/vaults")
    gaps = [g for c in inventory.header.sources if c.name == sources.KEY_METADATA for g in c.gaps]
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    expiry = {f.status for f in findings if f.check_id == "MLW-KV-07" and f.resource_id == vault}
    if where == "both":  # ARM's listing has them: the keys are judged, their type and policy a gap as ever
        assert {k.enabled for k in inventory.keys} == {True} and all(k.source == "arm" for k in inventory.keys)
        assert [g.scope for g in gaps] == [f"{vault}/keys"] and "no attributes" in gaps[0].reason
        assert Status.FAIL in expiry
    else:
        assert not inventory.keys and [g.scope for g in gaps] == [vault], gaps
        assert "no attributes (enabled, expiry) for key" in gaps[0].reason
        assert expiry == {Status.UNKNOWN}


def test_key_listing_next_link_to_another_host_is_never_followed(fake: AzureFake, tmp_path: Path) -> None:
    """The SDK's pager would follow it, and with the relaxed challenge check take a token there."""
    with Silent() as elsewhere:
        fake.wire.kv_page_size = 1
        fake.wire.kv_next_link = "elsewhere"
        fake.wire.kv_next_host = elsewhere.url
        inventory = collect(options(fake, tmp_path))
        assert elsewhere.accepted == []
    gaps = [g.reason for c in inventory.header.sources if c.name == sources.KEY_METADATA for g in c.gaps]
    assert gaps and all("nextLink to another host" in reason for reason in gaps), gaps


def test_graph_page_over_the_reply_limit_is_asked_again_in_smaller_pages(fake: AzureFake, tmp_path: Path) -> None:
    """Resource Graph refuses a page over 16 MiB (400 `ResponsePayloadTooLarge`, a detail code):
    the same page is asked again for fewer rows, and every row still comes."""
    fake.wire.graph_payload_limit = 6000  # about three of the sample's resource rows
    _same(fake, tmp_path)
    assert fake.counts["graph:resources"] > 2


def test_graph_row_over_the_reply_limit_is_one_error_naming_it(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.graph_payload_limit = 200  # not even one subscription row
    with pytest.raises(SourceError, match="one row is over the reply size limit") as caught:
        collect(options(fake, tmp_path))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("where", ["token_spent", "kv_token_spent"], ids=["arm-and-graph", "key-vault"])
def test_a_token_refused_mid_scan_without_a_claims_challenge_is_renewed_once(
    fake: AzureFake, tmp_path: Path, where: str
) -> None:
    """A 401 `invalid_token` (expired by the service's clock, or revoked): azure-core retries only claims
    challenges, and every later request sent the same cached token. A token issued now is asked for
    (through the credential's claims path, past its own cache) and the request sent once more."""
    setattr(fake.faults, where, 1)
    _same(fake, tmp_path)
    assert getattr(fake.faults, where) == 0 and fake.counts["spent"] == 1
    assert fake.counts["token"] == 2 + 1  # one per audience, and one for the refusal


@pytest.mark.parametrize(
    "extra",
    [
        {"extensions": [{"name": "AgentlessVmScanning", "isEnabled": True, "additionalExtensionProperties": "on"}]},
        {"deprecated": "yes", "replacedBy": "Containers"},
        {"enablementTime": ""},
    ],
    ids=["extension-shapes", "deprecation-shapes", "empty-date"],
)
def test_a_plan_field_the_sdk_model_refuses_still_reads_the_plan(
    fake: AzureFake, tmp_path: Path, extra: dict[str, object]
) -> None:
    """azure-mgmt-security's model refuses fields mlwarden never reads from it (a boolean `isEnabled`, a
    string `replacedBy`, an empty date): every plan of the subscription was a gap. The same GET is read
    as plain JSON, which is all plans are kept as."""
    fake.pricings_in_graph = False
    plan = {"name": "VirtualMachines", "type": "Microsoft.Security/pricings"}
    fake.wire.pricings_body = {"value": [{**plan, "properties": {"pricingTier": "Standard", "subPlan": "P2", **extra}}]}
    inventory = collect(options(fake, tmp_path))
    assert not [g for c in inventory.header.sources if c.name == sources.DEFENDER_PLANS for g in c.gaps]
    plans = [r for r in inventory.resources if r.type_key == "microsoft.security/pricings"]
    assert plans and all((r.properties or {}).get("pricingTier") == "Standard" for r in plans)
    assert fake.counts["arm:pricings"] == 2 * 2  # per subscription: the SDK's GET, then the same as JSON


@pytest.mark.parametrize("style", ["common", "organizations"])
def test_key_vault_challenge_naming_no_directory_signs_in_to_the_credentials_own(
    fake: AzureFake, tmp_path: Path, style: str
) -> None:
    """`authorization=".../common"`: azure-identity took `common` for another tenant and refused it, so the
    keys came from ARM with a gap. Any account's own directory answers it."""
    fake.wire.kv_challenge = style
    _same(fake, tmp_path)


def test_graph_paging_that_brings_the_same_rows_under_new_tokens_is_an_error_not_a_hang(
    fake: AzureFake, tmp_path: Path
) -> None:
    """Each page a fresh token, each page the first page again: no token repeats, so only the rows tell."""
    fake.wire.graph_token_ignored = True
    fake.wire.graph_page_size = 2
    with pytest.raises(SourceError, match="5 pages in a row brought no new row") as caught:
        collect(options(fake, tmp_path))
    assert "\n" not in str(caught.value) and fake.counts["graph:resources"] == 1 + 5


@pytest.mark.parametrize("facets", [{}, ["x"]], ids=["object", "list-of-words"])
def test_graph_page_the_sdk_model_refuses_is_read_from_its_json(
    fake: AzureFake, tmp_path: Path, facets: object
) -> None:
    """azure-mgmt-resourcegraph's model refused `facets` in another shape (a field mlwarden never reads),
    which ended the collection; the page is read from the JSON as it came, like every page."""
    fake.wire.graph_facets = facets
    _same(fake, tmp_path)


@pytest.mark.parametrize("offset", [-3, 0, 3], ids=["fewer", "same", "more"])
def test_graph_last_page_with_a_token_and_counts_that_disagree(fake: AzureFake, tmp_path: Path, offset: int) -> None:
    """A token on the last page leads to an empty page without one; `totalRecords` moves with the data while
    pages are read, so a count a few rows off either way changes nothing."""
    fake.wire.graph_trailing_token = True
    fake.wire.graph_total_offset = offset
    fake.wire.graph_page_size = 3
    _same(fake, tmp_path)
    assert fake.counts["graph:resources"] == 4 + 1  # 10 rows at 3 a page, then the empty one


@pytest.mark.parametrize("style", ["seconds", "date", "none", "ms-plain"])
def test_key_vault_throttling_and_503s_are_ridden_out(fake: AzureFake, tmp_path: Path, style: str) -> None:
    """Key Vault's 429 (Retry-After in seconds, as an HTTP date, or absent) and 503, with its own headers."""
    fake.wire.retry_after = style
    fake.faults.kv_busy = 3
    _same(fake, tmp_path)
    assert fake.faults.kv_busy == 0


def test_arm_collection_items_without_their_id(fake: AzureFake, tmp_path: Path) -> None:
    """An item of an ARM collection is the collection's path and its name; without an id each was a
    malformed row and its whole list a gap. (Ids compare case-insensitively: ARM spells the
    diagnostic settings' provider `microsoft.insights`, the path mlwarden asks `Microsoft.Insights`.)"""
    fake.wire.arm_item_ids = False
    rows, *rest = collected_shape(collect(options(fake, tmp_path)))
    wanted_rows, *wanted_rest = reference(tmp_path)
    assert sorted(row.lower() for row in rows) == sorted(row.lower() for row in wanted_rows) and rest == wanted_rest


def test_key_listing_paged_by_relative_next_links(fake: AzureFake, tmp_path: Path) -> None:
    fake.wire.kv_page_size = 1
    fake.wire.kv_next_link = "relative"
    _same(fake, tmp_path)
    assert fake.counts["kv:list"] == 3


@pytest.mark.parametrize("in_listing", [True, False], ids=["listing", "get-only"])
def test_a_certificates_key_is_managed_whichever_reply_says_so(
    fake: AzureFake, tmp_path: Path, in_listing: bool
) -> None:
    """`managed: true` marks a key that backs a certificate (it rotates with it: KV-08 not applicable).
    A listing that leaves it out while the key's own GET says it must not make the key a rotation fail."""
    vault_id, keys = next(iter(fake.estate.keys.items()))
    fake.estate.keys[vault_id] = [keys[0].model_copy(update={"managed": True}), *keys[1:]]
    fake.wire.kv_managed_in_get_only = not in_listing
    inventory = collect(options(fake, tmp_path))
    assert {k.name for k in inventory.keys if k.managed} == {keys[0].name}
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    rotation = [f for f in findings if f.check_id == "MLW-KV-08" and keys[0].name in f.message]
    assert rotation and {f.status for f in rotation} == {Status.NOT_APPLICABLE}


def test_a_redirect_to_another_host_is_not_followed_and_says_so(fake: AzureFake, tmp_path: Path) -> None:
    """A 307 to another origin: azure-core followed it without the token, and the other host's 401 read as
    "could not sign in" (exit 2). The request is not sent there at all: the scan is incomplete (exit 3)
    with one line naming the host it was sent on to."""
    from scanner.cli import cli

    with AzureFake(sample_inventory()) as other:
        moved = other.url.replace("localhost", "127.0.0.1")  # another host, same machine
        fake.wire.redirect_to = moved
        bundle = tmp_path / "cas.pem"
        bundle.write_text(fake.ca_path.read_text() + other.ca_path.read_text())
        args = ["collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(bundle)]
        result = CliRunner().invoke(
            cli, [*args, "--quiet", "--out", str(tmp_path / "e.jsonl")], env=env(fake, tmp_path)
        )
        assert other.requests == [] and other.bearers == []
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("mlwarden: error:")]
    host = moved.removeprefix("https://")
    assert len(errors) == 1 and f"HTTP 307 redirect to {host} not followed" in errors[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "e.jsonl").exists()


def test_a_vault_redirected_to_another_host_is_read_from_arm_with_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    """The same on the Key Vault data plane (its SDK follows redirects too): the vault falls back to ARM and
    the gap names the redirect, not a sign-in failure."""
    with AzureFake(sample_inventory()) as other:
        fake.wire.redirect_to = other.url.replace("localhost", "127.0.0.1")
        fake.wire.redirect_only = "/kv/"
        bundle = tmp_path / "cas.pem"
        bundle.write_text(fake.ca_path.read_text() + other.ca_path.read_text())
        inventory = collect(options(fake, tmp_path, ca_bundle=bundle))
        assert other.requests == []
    gaps = [g.reason for c in inventory.header.sources if c.name == sources.KEY_METADATA for g in c.gaps]
    assert gaps and all("data plane HTTP 307 redirect to 127.0.0.1:" in reason for reason in gaps), gaps
    assert inventory.keys and {k.source for k in inventory.keys} == {"arm"}


def test_arm_api_version_not_served_is_asked_again_at_one_the_service_names(fake: AzureFake, tmp_path: Path) -> None:
    """400 `InvalidApiVersionParameter` lists the versions served (a sovereign cloud or Azure Stack a version
    behind): the newest stable one is asked once. Before, every such read was a gap."""
    fake.wire.arm_api_versions = {"config": "2022-09-01", "computes": "2023-10-01", "diagnostics": "2021-05-01"}
    fake.wire.arm_page_size = 1  # next links carry the version served
    _same(fake, tmp_path)


@pytest.mark.parametrize("served", ["7.1", "2016-10-01"])
def test_key_vault_that_serves_an_older_api_version_is_read_at_it(fake: AzureFake, tmp_path: Path, served: str) -> None:
    """Azure Stack Hub's and lagging sovereign vaults refuse the SDK's default version and name theirs:
    the vault is read again at it. Before, its keys came from ARM with a gap."""
    fake.wire.kv_api_version = served
    fake.wire.kv_page_size = 1  # the next links carry a version too
    _same(fake, tmp_path)
    assert fake.counts["kv:version"] == 1


# -- Key Vault: rotation policy refusals and key times ---------------------------------------------


def _key_gaps(inventory: Inventory) -> list[str]:
    return [g.reason for c in inventory.header.sources if c.name == sources.KEY_METADATA for g in c.gaps]


@pytest.mark.parametrize("code", ["ForbiddenByRbac", "ForbiddenByPolicy"])
def test_a_refused_rotation_policy_is_a_gap_naming_the_key_and_why(fake: AzureFake, tmp_path: Path, code: str) -> None:
    """A 403 on `keys/{k}/rotationpolicy` (no `getrotationpolicy`) left MLW-KV-08 `unknown` with no gap: the
    scan said it was complete (exit 0/1). It is a gap naming the vault, the key and the refusal, as when
    ARM's listing stood in for the data plane."""
    fake.faults.policy_refused = {"legacy-wrap"}
    fake.wire.kv_policy_refusal = code
    inventory = collect(options(fake, tmp_path))
    assert _key_gaps(inventory) == [f"vault kv-claims: rotation policy HTTP 403 Forbidden/{code} for key legacy-wrap"]
    findings = run_checks(Estate(inventory), load_checks(plugins=False), jobs=1)
    [rotation] = [f for f in findings if f.check_id == "MLW-KV-08" and "legacy-wrap" in f.message]
    assert rotation.status == Status.UNKNOWN and code in rotation.message


def test_a_key_deleted_before_its_rotation_policy_is_read_is_left_out(fake: AzureFake, tmp_path: Path) -> None:
    """404 `KeyNotFound` on the policy: the key is gone (as on its own GET), not a key "without a policy"
    (a false MLW-KV-08 fail on a key that no longer exists)."""
    fake.wire.kv_policy_gone = "signing"
    inventory = collect(options(fake, tmp_path))
    assert "signing" not in {k.name for k in inventory.keys} and len(inventory.keys) == 2


@pytest.mark.parametrize("style", ["float", "string", "iso"])
def test_arm_key_times_spelt_otherwise_keep_their_expiry(fake: AzureFake, tmp_path: Path, style: str) -> None:
    """ARM's key listing (the Reader fallback) with `exp` as `1.7e9`, `"1700000000"` or a date: each read as
    "no expiry" before, a false MLW-KV-07 fail."""
    fake.faults.forbidden_vaults = {"kv-claims"}
    fake.wire.arm_key_times = style
    inventory = collect(options(fake, tmp_path))
    wanted = {k.name: (k.expires, k.not_before, k.created) for k in sample_inventory().keys}
    assert {k.name: (k.expires, k.not_before, k.created) for k in inventory.keys} == wanted


def test_data_plane_key_times_as_fractions_keep_their_expiry(fake: AzureFake, tmp_path: Path) -> None:
    """`exp: 1.7e9` on the data plane: azure-keyvault-keys reads it. (Digits in a string it refuses: the vault
    then falls back to ARM's listing, with a gap for what that lacks.)"""
    fake.wire.kv_key_times = "float"
    _same(fake, tmp_path)


def test_arm_key_times_that_are_no_time_make_the_vault_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.forbidden_vaults = {"kv-claims"}
    fake.wire.arm_key_times = "junk"
    inventory = collect(options(fake, tmp_path))
    assert inventory.keys == []
    [reason] = _key_gaps(inventory)
    assert "keys not readable: malformed response (key " in reason and "is not a time" in reason


def test_an_ipv6_endpoint_with_next_links_naming_it(tmp_path: Path) -> None:
    """ARM, Resource Graph, the vaults and the authority at `https://[::1]:PORT`, every page linked by a
    `nextLink` on that host: the same estate as over a host name, through the CLI's URL checks too."""
    from scanner.cli import cli

    wanted = reference(tmp_path)
    with AzureFake(sample_inventory(), quota=100, window=1.0, host="::1") as six:
        six.wire.arm_page_size = six.wire.kv_page_size = 1
        assert six.url.startswith("https://[::1]:")
        assert collected_shape(collect(options(six, tmp_path))) == wanted
        args = ["collect", "--arm-endpoint", six.url, "--authority-host", six.url, "--ca-bundle", str(six.ca_path)]
        out = tmp_path / "e.jsonl"
        result = CliRunner().invoke(cli, [*args, "--quiet", "--no-keyvault", "--out", str(out)], env=env(six, tmp_path))
        assert result.exit_code == 0, result.output
        assert six.counts["unknown"] == 0 and six.counts["kv:list"] > 1
