"""Error replies in every shape services and proxies send: the gap or error line names what was said.

azure-core reads an error's code only from `{"error": {"code"}}`; the rest of these shapes left a
bare `HTTP 403`. Each shape is switched on in the fake (`wire.error_shape`) and answered through
the real SDK clients (Resource Graph, ARM, Key Vault) over HTTPS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import inventory as sources
from scanner.azure.collect import collect
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import env, options
from tests.azure_fake.sample import SUB_B, sample_inventory

SAID = {
    "error": "HTTP 403 AuthorizationFailed",
    "odata": "HTTP 403 AuthorizationFailed",
    "top-level": "HTTP 403 AuthorizationFailed",
    "inner": "HTTP 403 Forbidden/AuthorizationFailed",
    "message": "HTTP 403 AuthorizationFailed: no access",
    "text": "HTTP 403 (AuthorizationFailed: no access",
    "html": "HTTP 403 (an HTML page, not an Azure error",
    "header": "HTTP 403 AuthorizationFailed",
    "empty": "HTTP 403 (empty body)",
}


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory(), quota=100, window=1.0) as server:
        yield server


@pytest.mark.parametrize("shape", list(SAID))
def test_refusals_in_any_error_shape_name_the_code(fake: AzureFake, tmp_path: Path, shape: str) -> None:
    fake.wire.error_shape = shape
    fake.faults.forbidden_subscription = SUB_B  # Resource Graph's 403
    fake.faults.forbidden_vaults = set(fake.estate.vaults)  # Key Vault's data plane 403
    fake.faults.forbidden_vaults_arm = set(fake.estate.vaults)  # then ARM's key listing 403
    inventory = collect(options(fake, tmp_path))
    coverage = {c.name: c for c in inventory.header.sources}
    graph = [g.reason for g in coverage[sources.RESOURCES].gaps]
    keys = [g.reason for g in coverage[sources.KEY_METADATA].gaps]
    assert graph and all(reason.startswith(SAID[shape]) for reason in graph), graph
    assert keys and all(SAID[shape] in reason for reason in keys), keys
    assert all("\n" not in g.reason for c in inventory.header.sources for g in c.gaps)


@pytest.mark.parametrize("shape", ["odata", "top-level", "html", "empty"])
def test_cli_fatal_error_line_names_the_code_or_the_body(fake: AzureFake, tmp_path: Path, shape: str) -> None:
    from scanner.cli import cli

    fake.wire.error_shape = shape
    fake.wire.graph_page_size = 2
    fake.faults.graph_fail_paged = 400  # the fake's code: InternalServerError
    target = tmp_path / "estate.jsonl"
    args = ["collect", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path)]
    result = CliRunner().invoke(cli, [*args, "--quiet", "--out", str(target)], env=env(fake, tmp_path))
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("mlwarden: error:")]
    wanted = {"odata": "InternalServerError", "top-level": "InternalServerError", "html": "HTML", "empty": "empty"}
    assert len(errors) == 1 and "HTTP 400" in errors[0] and wanted[shape] in errors[0], result.output
    assert "Traceback" not in result.output and not target.exists()


@pytest.mark.parametrize("echo", ["CANARY-echo-7f3a", "Password=CANARY-echo-7f3a"], ids=["bare", "credential"])
def test_an_error_message_echoing_a_value_is_never_quoted(fake: AzureFake, tmp_path: Path, echo: str) -> None:
    """Messages are quoted only when an error has no code; never one that reads like a credential, and
    never from a read of secret-bearing settings (`config/appsettings/list`), whatever it says."""
    fake.wire.error_shape = "message"  # no code: the message is all there is
    fake.wire.error_echo = echo
    fake.faults.forbidden_app_settings = True
    fake.faults.forbidden_vaults = fake.faults.forbidden_vaults_arm = set(fake.estate.vaults)
    inventory = collect(options(fake, tmp_path))
    reasons = [g.reason for c in inventory.header.sources for g in c.gaps]
    settings = [g.reason for c in inventory.header.sources for g in c.gaps if "/sites/" in g.scope.lower()]
    assert settings and all(reason == "HTTP 403 (no error code)" for reason in settings), settings
    if echo.startswith("Password"):  # reads like a credential: quoted nowhere
        assert len(reasons) > len(settings) and "CANARY" not in " ".join(reasons), reasons
