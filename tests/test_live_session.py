"""One sign-in per run: the collection, who-changed-it and a manifest signature share one credential.

Counted at the fake's token endpoint, through the CLI and real azure-identity credentials: a live
scan asks Entra ID for one token per audience (ARM, Key Vault), however many clients and vaults
it reads, and closes the credential it built when the command ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from click.testing import CliRunner

from scanner.azure.changes import Attach
from scanner.azure.collect import collect
from scanner.azure.session import REFRESH_MARGIN, SharedCredential, SignIn
from scanner.azure.signin import SignInChain
from scanner.cli import cli
from scanner.inventory import Inventory
from tests.azure_fake import AzureFake
from tests.azure_fake.harness import credential, env, options
from tests.azure_fake.proxy import RecordingProxy
from tests.azure_fake.sample import sample_inventory

ARM = "https://management.azure.com/.default"
VAULT = "https://vault.azure.net/.default"
VAULT_TYPE = "microsoft.keyvault/vaults"


def with_vaults(inventory: Inventory, count: int) -> Inventory:
    """The sample plus `count` copies of its vault (each with the same keys), read concurrently."""
    vault = next(r for r in inventory.resources if r.type_key == VAULT_TYPE)
    keys = [k for k in inventory.keys if k.vault_id.lower() == vault.id.lower()]
    for index in range(count):
        name = f"kv-copy{index}"
        uri = f"https://{name}.vault.azure.net/"
        resource_id = vault.id.rsplit("/", 1)[0] + f"/{name}"
        properties = {**vault.properties, "vaultUri": uri}
        inventory.resources.append(vault.model_copy(update={"id": resource_id, "name": name, "properties": properties}))
        inventory.keys += [
            k.model_copy(update={"vault_id": resource_id, "vault_uri": uri, "kid": f"{uri}keys/{k.name}"}) for k in keys
        ]
    return inventory


@pytest.fixture
def fake() -> Iterator[AzureFake]:
    with AzureFake(with_vaults(sample_inventory(), 5)) as server:
        server.signing_keys.add_rsa("evidence-rsa")
        yield server


class EveryTime:
    """Signs in at the fake on every call, as az, azd and PowerShell's credentials do (a process per token)."""

    def __init__(self, fake: AzureFake, tmp_path: Path) -> None:
        self.fake, self.tmp_path = fake, tmp_path
        self.calls = 0

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        self.calls += 1
        fresh = credential(self.fake, self.tmp_path)  # nothing cached
        try:
            info: AccessTokenInfo = fresh.get_token_info(*scopes, options=options)
            return info
        finally:
            fresh.close()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        info = self.get_token_info(*scopes)
        return AccessToken(info.token, info.expires_on)


def test_a_live_scan_with_a_signed_pack_signs_in_once_per_audience(fake: AzureFake, tmp_path: Path) -> None:
    port = int(fake.url.rsplit(":", 1)[1])
    vault_hosts = [f"{r.name}.vault.azure.net" for r in fake.estate.inventory.resources if r.type_key == VAULT_TYPE]
    with RecordingProxy(dict.fromkeys(vault_hosts, port)) as proxy:  # real vault URIs reach the fake
        environment = {**env(fake, tmp_path), "HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"}
        args = [
            "scan", "--arm-endpoint", fake.url, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path),
            "--fail-on", "none", "--format", "json", "--quiet",
            "--evidence-pack", str(tmp_path / "pack"), "--sign-key", f"{fake.url}/keys/evidence-rsa",
        ]  # fmt: skip
        result = CliRunner().invoke(cli, args, env=environment)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert not [gap for source in report["sources"] for gap in source["gaps"]]
    assert fake.counts["kv:list"] == 6 and fake.counts["graph:resourcechanges"] == 1
    assert fake.signing_keys.signed == [("evidence-rsa", "RS256")]
    # The collection (Resource Graph, ARM, Defender), the change reads, six vaults and the signature:
    # one token for ARM and one for Key Vault. Before, who-changed-it and the signature each signed in
    # again with a credential of their own (4 in all).
    assert sorted(fake.token_scopes) == [ARM, VAULT]
    assert fake.counts["token"] == 2


def test_clients_share_one_token_per_audience_even_when_the_credential_caches_nothing(
    fake: AzureFake, tmp_path: Path
) -> None:
    every_time = EveryTime(fake, tmp_path)
    run_options = options(fake, tmp_path, credential=every_time, max_concurrency=8)
    with SignIn(run_options) as sign_in:
        inventory = collect(run_options, sign_in=sign_in)
        Attach(inventory, run_options, timedelta(days=7), sign_in)([r.id for r in inventory.resources])
    assert fake.counts["kv:list"] == 6 and fake.counts["graph:resourcechanges"] == 1
    # Resource Graph, ARM, six KeyClients reading at once and the change query: one sign-in per audience.
    assert every_time.calls == 2 and fake.counts["token"] == 2
    assert sorted(fake.token_scopes) == [ARM, VAULT]


def test_a_claims_challenge_still_fetches_a_fresh_token(fake: AzureFake, tmp_path: Path) -> None:
    fake.faults.expire_token = 1  # the next ARM request answers a CAE claims challenge (a revoked token)
    every_time = EveryTime(fake, tmp_path)
    run_options = options(fake, tmp_path, credential=every_time, max_concurrency=1, keyvault=False)
    inventory = collect(run_options)
    assert fake.faults.expire_token == 0 and every_time.calls == 2 and fake.token_scopes == [ARM, ARM]
    assert not any(source.gaps for source in inventory.header.sources)


class Closable:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_closes_the_credential_it_built_and_never_an_injected_one(
    fake: AzureFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    injected = Closable()
    with SignIn(options(fake, tmp_path, credential=injected)) as sign_in:
        assert sign_in.credential.inner is injected
    assert injected.closed == 0
    for name, value in env(fake, tmp_path).items():
        monkeypatch.setenv(name, value)
    built = SignIn(options(fake, tmp_path, credential=None))
    chain = built.credential.inner
    assert isinstance(chain, SignInChain)
    inner = Closable()
    chain._credentials = [("Stand-in", inner)]  # what credential_for built, observed
    built.close()
    built.close()
    assert inner.closed == 1


class Counting:
    """Issues a new one-hour token on every call, at the test's clock."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.calls = 0

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        self.calls += 1
        return AccessTokenInfo(f"token-{self.calls}", int(self.clock[0]) + 3600)


def test_a_token_is_fetched_again_near_its_expiry_and_per_tenant_and_on_claims() -> None:
    clock = [1_000_000.0]
    inner = Counting(clock)
    shared = SharedCredential(inner, clock=lambda: clock[0])
    assert shared.get_token_info(ARM).token == "token-1"
    assert shared.get_token(ARM).token == "token-1"  # the legacy call shares the cache
    assert shared.get_token_info(ARM, options={"tenant_id": "another"}).token == "token-2"
    assert shared.get_token_info(ARM, options={"claims": "revoked"}).token == "token-3"
    assert shared.get_token_info(ARM).token == "token-3"  # the fresh one replaced the revoked one
    clock[0] += 3600 - REFRESH_MARGIN + 1  # inside azure-core's refresh window: a new one
    assert shared.get_token_info(ARM).token == "token-4"
    assert inner.calls == shared.acquired == 4
