"""Faults on the wire: throttling, server errors, refused scopes, malformed pages, revoked tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner import inventory as sources
from scanner.azure.collect import collect
from scanner.errors import InputError, SourceError
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import env, options
from tests.azure_fake.sample import SUB_A, SUB_B, sample_inventory


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=4, window=1.0) as server:
        yield server


def _gaps(inventory: object, source: str) -> list[str]:
    coverage = {c.name: c for c in inventory.header.sources}  # type: ignore[attr-defined]
    return [g.scope for g in coverage[source].gaps]


@pytest.mark.parametrize("retry_after", [True, False], ids=["with-retry-after", "without-retry-after"])
def test_429_storm_is_ridden_out_inside_the_announced_quota(fake: AzureFake, tmp_path: Path, retry_after: bool) -> None:
    fake.faults.graph_429 = 3
    fake.faults.graph_429_retry_after = retry_after
    inventory = collect(options(fake, tmp_path))
    assert fake.faults.graph_429 == 0  # every injected 429 was met
    assert fake.over_quota == 0  # no request arrived while the fake had announced zero remaining
    assert fake.counts["graph:resources"] == 1
    assert not any(c.gaps for c in inventory.header.sources)


def test_a_small_quota_makes_the_scanner_pause_not_fail(tmp_path: Path) -> None:
    with AzureFake(sample_inventory(), quota=2, window=1.0, page_cap=3) as server:
        started = time.monotonic()
        collect(options(server, tmp_path))
        elapsed = time.monotonic() - started
        assert server.over_quota == 0
        graph_requests = server.counts["graph"]
    assert graph_requests == 1 + 4 + 1 + 1  # subscriptions, 4 resource pages, config, security
    assert elapsed >= 2.0  # 7 requests at 2 per 1-second window need at least 3 windows


def test_server_errors_are_retried(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.graph_5xx = 2
    fake.faults.arm_5xx = 2
    inventory = collect(options(fake, tmp_path))
    assert fake.faults.graph_5xx == fake.faults.arm_5xx == 0
    assert not any(c.gaps for c in inventory.header.sources)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_arm_throttling_without_retry_after_is_ridden_out(fake: AzureFake, tmp_path: Path, method: str) -> None:
    fake.faults.arm_429 = 3
    fake.faults.arm_429_method = method  # POST: the app-settings list actions, which azure-core alone would not retry
    inventory = collect(options(fake, tmp_path, max_concurrency=1))
    assert fake.faults.arm_429 == 0
    assert not any(c.gaps for c in inventory.header.sources)
    assert len(inventory.app_settings) == 3


def test_forbidden_subscription_is_a_gap_for_every_source(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.forbidden_subscription = SUB_B
    inventory = collect(options(fake, tmp_path, subscriptions=(SUB_A, SUB_B)))
    for coverage in inventory.header.sources:
        assert f"/subscriptions/{SUB_B}" in [g.scope for g in coverage.gaps], coverage.name
        assert all("403" in g.reason for g in coverage.gaps)
    assert {r.subscription_id for r in inventory.resources} == {SUB_A}
    assert inventory.header.scope.subscriptions == (SUB_A,)
    assert fake.counts["arm:contacts"] == 1  # the refused subscription is not asked again


def test_forbidden_subscription_found_by_tenant_discovery(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.forbidden_subscription = SUB_B
    inventory = collect(options(fake, tmp_path))  # tenant scope: the 403 comes at the batched queries
    assert f"/subscriptions/{SUB_B}" in _gaps(inventory, sources.RESOURCES)
    collected = {r.subscription_id for r in inventory.resources if r.type_key != "microsoft.resources/subscriptions"}
    assert collected == {SUB_A}
    for coverage in inventory.header.sources:
        assert [g.scope for g in coverage.gaps] == [f"/subscriptions/{SUB_B}"], coverage.name
    assert fake.counts["graph:appserviceresources"] == 1 and fake.graph_bodies[-1]["subscriptions"] == [SUB_A]


def test_subscription_resource_graph_leaves_out_silently_is_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    """Real Resource Graph answers 200 with the readable subscriptions' rows and no word of the others."""
    fake.faults.forbidden_subscription = SUB_B
    fake.wire.graph_refusal = "drop"
    inventory = collect(options(fake, tmp_path, subscriptions=(SUB_A, SUB_B)))
    for coverage in inventory.header.sources:
        assert [(g.scope, g.reason) for g in coverage.gaps] == [
            (f"/subscriptions/{SUB_B}", "subscription not found or not readable by this identity")
        ], coverage.name
    assert {r.subscription_id for r in inventory.resources} == {SUB_A}
    assert inventory.header.scope.subscriptions == (SUB_A,)


def test_unknown_subscription_is_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    missing = "33333333-3333-4333-8333-333333333333"
    inventory = collect(options(fake, tmp_path, subscriptions=(SUB_A, missing)))
    assert f"/subscriptions/{missing}" in _gaps(inventory, sources.RESOURCES)


@pytest.mark.parametrize("kind", ["json", "no-data", "truncated"])
def test_malformed_page_is_one_line_source_error(fake: AzureFake, tmp_path: Path, kind: str) -> None:
    fake.faults.graph_malformed = kind
    with pytest.raises(SourceError) as caught:
        collect(options(fake, tmp_path))
    message = str(caught.value)
    assert "\n" not in message and "Resource Graph" in message and "malformed" in message
    assert caught.value.__cause__ is None


def test_app_settings_refused_is_a_gap_per_site(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.forbidden_app_settings = True
    inventory = collect(options(fake, tmp_path))
    scopes = _gaps(inventory, sources.APP_SETTINGS)
    assert len(scopes) == 2 and all("/providers/Microsoft.Web/sites/" in s for s in scopes)
    # Deployment environment variables come from the Resource Graph row and are still classified.
    assert [f.resource_id for f in inventory.app_settings if "/deployments/" in f.resource_id]


def test_revoked_token_challenge_gets_a_fresh_token(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.expire_token = 1
    inventory = collect(options(fake, tmp_path, max_concurrency=1))
    assert fake.faults.expire_token == 0
    assert fake.counts["token"] >= 2
    assert not any(c.gaps for c in inventory.header.sources)


def test_slow_responses_still_complete(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.delay = 0.05
    inventory = collect(options(fake, tmp_path, diagnostics=False))
    assert not any(c.gaps for c in inventory.header.sources)


# -- CLI level: exit codes and no half-written output ------------------------------------------


def _cli_args(fake: AzureFake, *extra: str) -> list[str]:
    return [
        "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
        "--no-keyvault", "--quiet", *extra,
    ]  # fmt: skip


def _invoke(fake: AzureFake, tmp_path: Path, *args: str) -> Result:
    from scanner.cli import cli

    return CliRunner().invoke(cli, list(args), env=env(fake, tmp_path))


def test_cli_scan_with_a_forbidden_subscription_exits_3(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.forbidden_subscription = SUB_B
    out = tmp_path / "reports"
    result = _invoke(fake, tmp_path, "scan", *_cli_args(fake, "--out", str(out), "--fail-on", "none"))
    assert result.exit_code == 3, result.output
    assert "scan incomplete" in result.output and SUB_B in result.output


@pytest.mark.parametrize(("fail_on", "code"), [("none", 0), ("low", 1)])
def test_cli_allow_partial_turns_gaps_into_a_warning(fake: AzureFake, tmp_path: Path, fail_on: str, code: int) -> None:
    fake.faults.forbidden_subscription = SUB_B
    out = tmp_path / "reports"
    args = _cli_args(fake, "--out", str(out), "--fail-on", fail_on, "--allow-partial")
    result = _invoke(fake, tmp_path, "scan", *args)
    assert result.exit_code == code, result.output
    assert (out / "mlwarden-report.json").exists()


@pytest.mark.parametrize("command", ["scan", "collect"])
def test_cli_malformed_page_exits_3_and_writes_nothing(fake: AzureFake, tmp_path: Path, command: str) -> None:
    fake.faults.graph_malformed = "no-data"
    target = tmp_path / ("reports" if command == "scan" else "estate.jsonl")
    result = _invoke(fake, tmp_path, command, *_cli_args(fake, "--out", str(target)))
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and "malformed page" in errors[0]
    assert "Traceback" not in result.output
    assert not target.exists() and not list(tmp_path.glob(".estate.jsonl.*"))


def test_cli_collect_writes_a_snapshot_that_scans_back(fake: AzureFake, tmp_path: Path) -> None:
    target = tmp_path / "estate.jsonl.gz"
    result = _invoke(fake, tmp_path, "collect", *_cli_args(fake, "--out", str(target), "--app-settings"))
    assert result.exit_code == 0, result.output
    from scanner.snapshot import read_snapshot

    inventory = read_snapshot(target)
    assert {c.name for c in inventory.header.sources} >= {sources.RESOURCES, sources.APP_SETTINGS}
    assert fake.token_scopes and all(s == "https://management.azure.com/.default" for s in fake.token_scopes)


def test_tenant_subscription_cap_is_a_gap(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.tenant_limit_hit = True
    inventory = collect(options(fake, tmp_path))
    assert _gaps(inventory, sources.RESOURCES) == ["tenant"]


def test_row_without_an_id_is_a_source_error_that_quotes_nothing(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.graph_malformed = "bad-row"
    with pytest.raises(SourceError, match=r"malformed row \(id: missing\)") as caught:
        collect(options(fake, tmp_path))
    assert "no-id" not in str(caught.value)


def test_refused_credential_is_one_line_input_error(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.token_refused = True
    with pytest.raises(InputError, match="could not sign in to Azure") as caught:
        collect(options(fake, tmp_path))
    assert "\n" not in str(caught.value) and "WorkloadIdentityCredential: Entra ID refused it (AADSTS700016" in str(
        caught.value
    )


def test_no_readable_subscription_is_a_source_error(tmp_path: Path) -> None:
    empty = sample_inventory()
    empty.resources.clear()
    with AzureFake(empty) as server, pytest.raises(SourceError, match="no subscription in scope"):
        collect(options(server, tmp_path))


# -- the quota gate on its own, with a fake clock ---------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_quota_pauses_when_the_announced_count_is_spent() -> None:
    from scanner.azure.throttle import Quota

    clock = _Clock()
    quota = Quota(clock, clock.sleep)
    quota.acquire()  # nothing announced yet: go
    quota.observe({"x-ms-user-quota-remaining": "2", "x-ms-user-quota-resets-after": "00:00:05"})
    quota.acquire()
    quota.acquire()
    assert clock.slept == []
    quota.acquire()  # the third would exceed the announcement: wait for the window
    assert clock.slept == [5.0] and quota.waits == 1


def test_quota_ignores_partial_or_garbled_headers() -> None:
    from scanner.azure.throttle import Quota, parse_resets_after

    clock = _Clock()
    quota = Quota(clock, clock.sleep)
    quota.observe({"x-ms-user-quota-remaining": "0"})
    quota.observe({"x-ms-user-quota-remaining": "zero", "x-ms-user-quota-resets-after": "00:00:05"})
    quota.acquire()
    assert clock.slept == []
    assert parse_resets_after("01:02:03") == 3723.0
    assert parse_resets_after("soon") is None


def test_a_subscription_deleted_after_it_was_listed_is_a_gap_not_the_end(fake: AzureFake, tmp_path: Path) -> None:
    """Listed at tenant scope, then refused with 400 `SubscriptionNotFound` by the query that names it:
    the batch is split as for a 403, the other subscription is read, the vanished one is a gap."""
    fake.faults.vanished_subscription = SUB_B
    inventory = collect(options(fake, tmp_path))
    assert _gaps(inventory, sources.RESOURCES) == [f"/subscriptions/{SUB_B}"]
    reasons = {g.reason for c in inventory.header.sources for g in c.gaps}
    assert reasons == {"HTTP 400 BadRequest/SubscriptionNotFound"}
    read = {r.subscription_id for r in inventory.resources if r.type_key != "microsoft.resources/subscriptions"}
    assert read == {SUB_A}
