"""Planted canary secrets must reach no snapshot, log line, console output, exception or report."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.azure.collect import collect
from scanner.errors import SourceError
from scanner.snapshot import encode_records, write_snapshot
from tests.azure_fake import AzureFake
from tests.azure_fake.canary import MARK
from tests.azure_fake.harness import env, options
from tests.azure_fake.sample import sample_inventory


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=15, window=1.0) as server:
        yield server


def _planted(fake: AzureFake) -> list[str]:
    values = [v for site in fake.estate.site_settings.values() for kind in site.values() for v in kind.values()]
    for row in fake.estate.tables["resources"]:
        values.extend((row.get("properties") or {}).get("environmentVariables", {}).values())
    return [v for v in values if MARK in v]


def test_the_fake_really_serves_canaries(fake: AzureFake) -> None:
    planted = _planted(fake)
    assert len(planted) >= 5  # account keys, password, plain secret, connection string, env var password


def test_no_canary_in_inventory_snapshot_or_logs(
    fake: AzureFake, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    inventory = collect(options(fake, tmp_path, quiet=False))
    snapshot = tmp_path / "estate.jsonl"
    write_snapshot(inventory, snapshot)
    assert fake.counts["arm:appsettings"] == 2  # the values were read ...
    classified = [s for facts in inventory.app_settings for s in facts.settings if s.classification != "none"]
    assert len(classified) >= 4  # ... and classified ...
    assert MARK not in snapshot.read_text()  # ... and dropped
    assert MARK.encode() not in b"".join(encode_records(inventory))
    assert MARK not in caplog.text
    out, err = capsys.readouterr()
    assert MARK not in out and MARK not in err
    deployment = next(r for r in inventory.resources if r.type_key.endswith("/deployments"))
    assert set(deployment.properties["environmentVariables"].values()) == {"<redacted>"}


def test_no_canary_in_an_exception_raised_mid_collection(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.graph_malformed = "truncated"
    with pytest.raises(SourceError) as caught:
        collect(options(fake, tmp_path))
    assert MARK not in str(caught.value) and MARK not in repr(caught.value)


def test_no_canary_in_any_report_written_by_the_cli(fake: AzureFake, tmp_path: Path) -> None:
    from scanner.cli import cli

    out = tmp_path / "reports"
    args = [
        "scan", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
        "--app-settings", "--diagnostics", "--no-keyvault", "--format", "json,html,sarif,junit,markdown,csv",
        "--out", str(out), "--fail-on", "none",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, env=env(fake, tmp_path))
    assert result.exit_code == 0, result.output
    written = sorted(out.iterdir())
    assert len(written) == 6
    for path in written:
        assert MARK not in path.read_text(errors="replace"), path.name
    assert MARK not in result.output
    assert fake.counts["arm:appsettings"] == 2


@pytest.mark.parametrize("variant", ["graph-table", "skip-token-key", "arm-pages", "malformed-arm"])
def test_no_canary_through_wire_variants(
    fake: AzureFake, tmp_path: Path, caplog: pytest.LogCaptureFixture, variant: str
) -> None:
    """The other reply shapes mlwarden reads (tests/test_live_wire.py) redact and drop the same values."""
    caplog.set_level(logging.DEBUG)
    fake.wire.graph_page_size = 2
    if variant == "graph-table":
        fake.wire.graph_table = True
    elif variant == "skip-token-key":
        fake.wire.graph_token_key = "skipToken"
    elif variant == "arm-pages":
        fake.wire.arm_page_size = 1
    else:
        fake.wire.arm_empty_value = "missing"
    inventory = collect(options(fake, tmp_path))
    assert MARK.encode() not in b"".join(encode_records(inventory))
    assert MARK not in caplog.text
    gaps = [g.reason for c in inventory.header.sources for g in c.gaps]
    assert all(MARK not in reason for reason in gaps)
    deployment = next(r for r in inventory.resources if r.type_key.endswith("/deployments"))
    assert set(deployment.properties["environmentVariables"].values()) == {"<redacted>"}
