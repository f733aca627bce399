"""Signing in: the chosen authority reaches every credential, and a failed sign-in says why, in one line.

Everything goes through the CLI, real azure-identity credentials and real HTTPS: the fake records
the Host of every request, a decoy fake stands in for the authority the environment names, and
a recording proxy sees any other host the process tries (the public cloud, instance discovery).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.azure.options import CLOUDS
from tests.azure_fake import AzureFake
from tests.azure_fake.proxy import RecordingProxy
from tests.azure_fake.sample import sample_inventory
from tests.azure_fake.server import CLIENT_ID, TENANT

SECRET = "fake-client-secret-CANARY-7f3a"
ASSERTION = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjYW5hcnktYXNzZXJ0aW9uIn0."
UNSET = ("AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE")


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(sample_inventory()) as server:
        yield server


def _env(tmp_path: Path, kind: str, **extra: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = dict.fromkeys(UNSET)
    env.update(AZURE_TENANT_ID=TENANT, AZURE_CLIENT_ID=CLIENT_ID, NO_PROXY="localhost,127.0.0.1")
    if kind == "workload":
        token_file = tmp_path / "federated-token"
        token_file.write_text(ASSERTION)
        env["AZURE_FEDERATED_TOKEN_FILE"] = str(token_file)
    elif kind == "secret":
        env["AZURE_CLIENT_SECRET"] = SECRET
    env.update(extra)
    return env


def _run(env: dict[str, str | None], *args: str) -> Result:
    from scanner.cli import cli

    return CliRunner().invoke(cli, ["collect", "--no-keyvault", "--quiet", *args], env=env)


def _bundle(tmp_path: Path, *fakes: AzureFake) -> str:
    """One CA file trusting every fake, so a request to the decoy would complete and be counted."""
    path = tmp_path / "cas.pem"
    path.write_text("".join(f.ca_path.read_text() for f in fakes))
    return str(path)


@pytest.mark.parametrize("kind", ["workload", "secret"])
def test_authority_host_reaches_every_credential_and_nothing_else(fake: AzureFake, tmp_path: Path, kind: str) -> None:
    with AzureFake(sample_inventory()) as decoy, RecordingProxy() as proxy:
        # The environment names another authority (the decoy); --authority-host must win for every credential.
        env = _env(tmp_path, kind, AZURE_AUTHORITY_HOST=decoy.url, HTTPS_PROXY=proxy.url)
        args = ["--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", _bundle(tmp_path, fake, decoy)]
        result = _run(env, *args, "--out", str(tmp_path / "estate.jsonl"))
        assert result.exit_code == 0, result.output
        assert decoy.requests == []
        assert proxy.hosts == []  # no instance discovery at the public cloud, no other host at all
    chosen = fake.url.removeprefix("https://")
    token_requests = [(host, path) for host, _, path in fake.requests if "/oauth2/" in path or "openid" in path]
    assert token_requests and {host for host, _ in token_requests} == {chosen}
    if kind == "secret":  # MSAL's tenant discovery went to the chosen authority, not to instance discovery
        assert fake.counts["openid"] >= 1


@pytest.mark.parametrize("kind", ["workload", "secret"])
def test_azure_authority_host_is_the_authority_without_the_option(fake: AzureFake, tmp_path: Path, kind: str) -> None:
    """As azure-identity documents it: a fake (or Azure Stack) authority named only in the environment."""
    with RecordingProxy() as proxy:
        env = _env(tmp_path, kind, AZURE_AUTHORITY_HOST=fake.url, HTTPS_PROXY=proxy.url)
        args = ["--arm-endpoint", fake.url, "--ca-bundle", str(fake.ca_path), "--out", str(tmp_path / "e.jsonl")]
        result = _run(env, *args)
        assert result.exit_code == 0, result.output
        assert proxy.hosts == []  # not the public cloud's authority, no instance discovery
    assert fake.counts["token"] >= 1


@pytest.mark.parametrize("kind", ["workload", "secret"])
@pytest.mark.parametrize("cloud", ["usgov", "china"])
def test_cloud_reaches_every_credential(fake: AzureFake, tmp_path: Path, cloud: str, kind: str) -> None:
    endpoints = CLOUDS[cloud]
    allowed = {endpoints.authority, endpoints.arm.removeprefix("https://")}
    port = int(fake.url.rsplit(":", 1)[1])
    with RecordingProxy(dict.fromkeys(allowed, port)) as proxy:
        env = _env(tmp_path, kind, HTTPS_PROXY=proxy.url, NO_PROXY="")
        result = _run(env, "--cloud", cloud, "--ca-bundle", str(fake.ca_path), "--out", str(tmp_path / "e.jsonl"))
        assert result.exit_code == 0, result.output
        assert set(proxy.hosts) == allowed  # the cloud's authority and ARM, nothing else (no public cloud)
    token_hosts = {host for host, _, path in fake.requests if "/oauth2/" in path or "openid" in path}
    assert token_hosts == {endpoints.authority}
    assert set(fake.token_scopes) == {endpoints.scope}


# -- failed sign-in: one line, each credential's cause, exit 2, no secret -------------------------------


def _error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: could not sign in to Azure at "), lines
    assert SECRET not in lines[0] and ASSERTION not in lines[0] and "fake-token" not in lines[0]
    return lines[0]


def _args(fake: AzureFake, tmp_path: Path, authority: str | None = None) -> list[str]:
    return [
        "--arm-endpoint", fake.url, "--authority-host", authority or fake.url, "--ca-bundle", str(fake.ca_path),
        "--out", str(tmp_path / "estate.jsonl"),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["workload", "secret"])
def test_entra_refusal_names_the_credential_and_the_aadsts_code(fake: AzureFake, tmp_path: Path, kind: str) -> None:
    fake.faults.token_refused = True
    line = _error_line(_run(_env(tmp_path, kind), *_args(fake, tmp_path)))
    name = "WorkloadIdentityCredential" if kind == "workload" else "EnvironmentCredential"
    assert f"{name}: Entra ID refused it (AADSTS700016: application not found in the directory)" in line
    assert not (tmp_path / "estate.jsonl").exists()


def test_missing_token_file_is_named(fake: AzureFake, tmp_path: Path) -> None:
    env = _env(tmp_path, "none", AZURE_FEDERATED_TOKEN_FILE=str(tmp_path / "gone" / "token"))
    line = _error_line(_run(env, *_args(fake, tmp_path)))
    assert "EnvironmentCredential: not configured" in line
    assert "WorkloadIdentityCredential: federated token file not found (AZURE_FEDERATED_TOKEN_FILE)" in line
    assert fake.counts["token"] == 0


def test_unreachable_authority_is_named(fake: AzureFake, tmp_path: Path) -> None:
    env = _env(tmp_path, "workload", AZURE_TOKEN_CREDENTIALS="workloadidentitycredential")
    line = _error_line(_run(env, *_args(fake, tmp_path, authority="https://localhost:9")))
    assert "at https://localhost:9: WorkloadIdentityCredential: could not reach the authority localhost:9" in line


def test_nothing_configured_lists_every_credential_tried(fake: AzureFake, tmp_path: Path) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = _env(tmp_path, "none", AZURE_TENANT_ID=None, AZURE_CLIENT_ID=None, AZURE_TOKEN_CREDENTIALS="dev")
    env["PATH"] = str(empty)  # no az, pwsh or azd
    line = _error_line(_run(env, *_args(fake, tmp_path)))
    assert "AzureCliCredential: az is not installed" in line
    assert "AzurePowerShellCredential: " in line and "AzureDeveloperCliCredential: " in line
    env = _env(tmp_path, "none", AZURE_TENANT_ID=None, AZURE_TOKEN_CREDENTIALS="workloadidentitycredential")
    line = _error_line(_run(env, *_args(fake, tmp_path)))
    assert line.endswith(
        "WorkloadIdentityCredential: not configured (no AZURE_TENANT_ID/AZURE_FEDERATED_TOKEN_FILE); configure "
        "workload identity (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE), a service principal "
        "(AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH), a managed identity, or run az login"
    )


def test_unknown_token_credentials_selection_is_a_usage_error(fake: AzureFake, tmp_path: Path) -> None:
    result = _run(_env(tmp_path, "workload", AZURE_TOKEN_CREDENTIALS="magic"), *_args(fake, tmp_path))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "mlwarden: error: AZURE_TOKEN_CREDENTIALS='magic' is not one of prod, dev, environmentcredential, "
        "workloadidentitycredential, managedidentitycredential, azureclicredential, azurepowershellcredential, "
        "azuredeveloperclicredential"
    ]


@pytest.mark.parametrize("kind", ["workload", "secret"])
@pytest.mark.parametrize("content_type", ["text/plain", "text/html; charset=utf-8", ""], ids=["plain", "html", "none"])
def test_a_token_reply_labelled_as_text_signs_in(fake: AzureFake, tmp_path: Path, kind: str, content_type: str) -> None:
    """azure-identity's own token client read a `text/*` JSON reply as a string (TypeError: a failed
    sign-in); it is relabelled before azure-identity decodes it. (A Flask fake's default is text/html.)"""
    fake.wire.token_content_type = content_type
    fake.wire.content_type = content_type
    result = _run(_env(tmp_path, kind), *_args(fake, tmp_path))
    assert result.exit_code == 0, result.output
    assert fake.counts["token"] >= 1 and (tmp_path / "estate.jsonl").exists()


@pytest.mark.parametrize("kind", ["workload", "secret"])
@pytest.mark.parametrize(
    "expiry", ["on", "iso", "appservice", "http-date", "fraction", "refresh", "refresh-int", "ext-fraction"]
)
def test_a_token_whose_expiry_is_a_date_signs_in(fake: AzureFake, tmp_path: Path, kind: str, expiry: str) -> None:
    """azure-identity (and MSAL) read the expiry with `int(...)`: a date or `"3599.0"` was a ValueError and
    "could not sign in" with a token in hand. The reply is read as seconds first, and the token is used."""
    fake.wire.token_expiry = expiry
    result = _run(_env(tmp_path, kind), *_args(fake, tmp_path))
    assert result.exit_code == 0, result.output
    assert fake.counts["token"] == 1 and (tmp_path / "estate.jsonl").exists()


def test_an_authority_that_keeps_failing_is_named_as_unavailable_not_a_refusal(fake: AzureFake, tmp_path: Path) -> None:
    """Entra ID's 503 `temporarily_unavailable` (AADSTS90033) past every retry: say it is transient."""
    fake.faults.token_5xx = 50
    line = _error_line(_run(_env(tmp_path, "workload"), *_args(fake, tmp_path)))
    assert (
        "WorkloadIdentityCredential: Entra ID refused it (AADSTS90033: a transient error at Entra ID; try again)"
        in line
    )
