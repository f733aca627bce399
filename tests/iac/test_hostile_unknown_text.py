"""Literal text inside a Terraform value known after apply: the plan records an expression's
references, never its literal text, so `"Server=${azurerm_mssql_server.db.fully_qualified_domain_name};
Password=Wint3r"` reads as a host name alone. Such a connection string passed MLW-CFG-06 as 'built
only from what never holds a credential'. Where a credential would sit beside a host (a connection
string block, a setting named as a connection string or a secret), a host-like reference is now
`unknown` naming the setting; ids, Key Vault secret ids and Application Insights' string still pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.iac.conftest import by, findings, scan, write
from tests.iac.test_unknown_settings import _plan, _refs

SQL = ("azurerm_mssql_server.db.fully_qualified_domain_name", "azurerm_mssql_server.db")
HOST_LIKE = [
    SQL,
    ("module.data.azurerm_storage_account.st[0].name", "module.data.azurerm_storage_account.st[0]"),
    ("azurerm_cosmosdb_account.db.endpoint",),
    ("data.azurerm_redis_cache.cache.hostname",),
    ("azurerm_postgresql_flexible_server.pg.fqdn", "azurerm_key_vault.kv.id"),
]
PROVEN = [
    ("azurerm_key_vault_secret.db.versionless_id", "azurerm_key_vault_secret.db"),
    ("azurerm_application_insights.ai.connection_string",),
    ("azurerm_user_assigned_identity.app.client_id", "azurerm_mssql_server.db.id"),
]


def _verdict(tmp_path: Path, name: str, references: tuple[str, ...], block: bool) -> dict[str, object]:
    if block:
        plan = _plan(
            {"connection_string": [{"name": name, "type": "SQLAzure", "value": None}]},
            {"connection_string": [{"value": True}]},
            {"connection_string": [{"name": {"constant_value": name}, "value": _refs(*references)}]},
        )
    else:
        plan = _plan(
            {"app_settings": {name: None}}, {"app_settings": {name: True}}, {"app_settings": _refs(*references)}
        )
    return by(findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan)))), "MLW-CFG-06")


@pytest.mark.parametrize("references", HOST_LIKE, ids=lambda r: r[0])
@pytest.mark.parametrize(
    ("name", "block"),
    [
        ("db", True),
        ("DB_CONN", False),
        ("ConnectionStrings__Orders", False),
        ("SQL_PASSWORD", False),
        ("PG_DSN", False),
    ],
)
def test_a_host_beside_which_a_credential_would_sit_is_unknown(
    tmp_path: Path, references: tuple[str, ...], name: str, block: bool
) -> None:
    verdict = _verdict(tmp_path, name, references, block)
    assert verdict["status"] == "unknown", verdict["message"]
    assert "(known after apply" in str(verdict["message"]) and name in str(verdict["message"])


@pytest.mark.parametrize("references", PROVEN, ids=lambda r: r[0])
@pytest.mark.parametrize(("name", "block"), [("db", True), ("DB_CONN", False)])
def test_references_that_are_the_whole_value_still_pass(
    tmp_path: Path, references: tuple[str, ...], name: str, block: bool
) -> None:
    assert _verdict(tmp_path, name, references, block)["status"] == "pass"


@pytest.mark.parametrize("name", ["SQL_HOST", "AZURE_OPENAI_ENDPOINT", "STORAGE_ACCOUNT_NAME", "KEY_VAULT_URI"])
def test_a_host_in_a_setting_named_as_a_host_still_passes(tmp_path: Path, name: str) -> None:
    assert _verdict(tmp_path, name, SQL, False)["status"] == "pass"
