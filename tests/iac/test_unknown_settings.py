"""An app setting or connection string whose value is known only at deployment is not proof of no
secret (MLW-CFG-06): it passes only when its name or shape proves it holds no credential, fails when
a literal credential or `list*()` shows in it, and is `unknown` naming the setting otherwise. ARM
expressions and Terraform `(known after apply)` values are decided by the same rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.iac.conftest import by, findings, scan, template, write

PARAMETERS = {"conn": {"type": "string"}}
AI_CONNECTION = "[reference(resourceId('Microsoft.Insights/components', 'ai-ml'), '2020-02-02').ConnectionString]"
SQL_FQDN = "reference(resourceId('Microsoft.Sql/servers', 'sql-ml'), '2021-11-01').fullyQualifiedDomainName"


def _site(settings: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "Microsoft.Web/sites",
        "apiVersion": "2023-12-01",
        "name": "app-score",
        "location": "westeurope",
        "kind": "app,linux",
        "properties": {
            "httpsOnly": True,
            "siteConfig": {"appSettings": [{"name": k, "value": v} for k, v in settings.items()]},
        },
    }


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        # a resource's GET properties never hold a key: the shape proves it
        ("MONITORING", AI_CONNECTION, "pass"),
        ("SQL_HOST", f"[{SQL_FQDN}]", "pass"),
        # a parameter without a value, a module's outputs: nothing proves them free of a credential
        ("DB_CONN", "[parameters('conn')]", "unknown"),
        ("DB_CONN", "[reference(resourceId('Microsoft.Resources/deployments', 'db')).outputs.conn.value]", "unknown"),
        # the name proves it, whatever the value: identity-based or Application Insights
        ("AzureWebJobsStorage__accountName", "[parameters('conn')]", "pass"),
        ("APPLICATIONINSIGHTS_CONNECTION_STRING", "[parameters('conn')]", "pass"),
        # a literal credential in the expression, or a key listed at deployment
        ("DB", f"[concat('Server=tcp:sql;Password=Wint3r-Is-Coming;', {SQL_FQDN})]", "fail"),
        (
            "STORE",
            "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'st'), '2023-05-01').keys[0].value]",
            "fail",
        ),
    ],
)
def test_template_setting_known_only_at_deployment(tmp_path: Path, name: str, value: str, status: str) -> None:
    document = template(_site({name: value, "MODE": "prod"}), parameters=PARAMETERS)
    result = scan("--template", str(write(tmp_path / "main.json", document)))
    verdict = by(findings(result), "MLW-CFG-06")
    assert verdict["status"] == status, verdict["message"]
    assert "Wint3r" not in result.stdout
    if status == "unknown":
        assert f"{name} = [" in verdict["message"]


def _plan(after: dict[str, Any], unknown: dict[str, Any], expressions: dict[str, Any]) -> dict[str, Any]:
    app = {
        "name": "app-score",
        "location": "westeurope",
        "resource_group_name": "rg-ml",
        "https_only": True,
        "site_config": [{"minimum_tls_version": "1.2"}],
        **after,
    }
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": []}},
        "resource_changes": [
            {
                "address": "azurerm_linux_web_app.app",
                "mode": "managed",
                "type": "azurerm_linux_web_app",
                "name": "app",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": app,
                    "after_unknown": {"id": True, **unknown},
                    "after_sensitive": {"connection_string": [{"value": True}]},
                },
            }
        ],
        "configuration": {
            "root_module": {
                "resources": [
                    {
                        "address": "azurerm_linux_web_app.app",
                        "mode": "managed",
                        "type": "azurerm_linux_web_app",
                        "name": "app",
                        "expressions": expressions,
                    }
                ]
            }
        },
    }


def _refs(*references: str) -> dict[str, Any]:
    return {"references": list(references)}


@pytest.mark.parametrize(
    ("name", "references", "status"),
    [
        # `DB_CONN = azurerm_storage_account.st.primary_connection_string`: an account key after apply
        ("DB_CONN", ("azurerm_storage_account.st.primary_connection_string", "azurerm_storage_account.st"), "unknown"),
        ("DB_CONN", ("random_password.db.result", "random_password.db"), "unknown"),
        ("DB_CONN", ("var.conn",), "unknown"),
        ("DB_CONN", (), "unknown"),
        # only attributes that never hold a credential
        (
            "MONITORING",
            ("azurerm_application_insights.ai.connection_string", "azurerm_application_insights.ai"),
            "pass",
        ),
        (
            "VAULT",
            (
                "module.kv.azurerm_key_vault.kv[0].vault_uri",
                "module.kv.azurerm_key_vault.kv[0]",
                "data.azurerm_client_config.me.tenant_id",
            ),
            "pass",
        ),
        ("AZURE_CLIENT_ID", ("var.identity",), "pass"),
    ],
)
def test_plan_setting_known_after_apply(tmp_path: Path, name: str, references: tuple[str, ...], status: str) -> None:
    plan = _plan(
        {"app_settings": {name: None, "MODE": "prod"}},
        {"app_settings": {name: True}},
        {"app_settings": _refs(*references)} if references else {},
    )
    verdict = by(findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan)))), "MLW-CFG-06")
    assert verdict["status"] == status, verdict["message"]
    if status == "unknown":
        assert f"{name} = [azurerm_linux_web_app.app.app_settings.{name} (known after apply" in verdict["message"]


@pytest.mark.parametrize(
    ("references", "status"),
    [
        (("azurerm_cosmosdb_account.db.primary_sql_connection_string", "azurerm_cosmosdb_account.db"), "unknown"),
        (("azurerm_servicebus_namespace.bus.default_primary_connection_string",), "unknown"),
        (("azurerm_key_vault_secret.db.versionless_id", "azurerm_key_vault_secret.db"), "pass"),
    ],
)
def test_plan_connection_string_known_after_apply(tmp_path: Path, references: tuple[str, ...], status: str) -> None:
    """Each `connection_string` block has its own expressions: its references decide it."""
    block = {"name": "db", "type": "Custom", "value": None}
    plan = _plan(
        {"connection_string": [block]},
        {"connection_string": [{"value": True}]},
        {"connection_string": [{"name": {"constant_value": "db"}, "value": _refs(*references)}]},
    )
    verdict = by(findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan)))), "MLW-CFG-06")
    assert verdict["status"] == status, verdict["message"]


def test_plan_secret_value_in_a_sensitive_connection_string_is_judged_never_shown(tmp_path: Path) -> None:
    """`terraform show -json` writes sensitive values in clear: classified, then dropped."""
    value = "Server=tcp:sql.example.net;Database=ml;User ID=ml;Password=Wint3r-Is-Coming;"
    plan = _plan({"connection_string": [{"name": "db", "type": "SQLAzure", "value": value}]}, {}, {})
    result = scan("--terraform-plan", str(write(tmp_path / "plan.json", plan)))
    verdict = by(findings(result), "MLW-CFG-06")
    assert verdict["status"] == "fail" and "db (password)" in verdict["message"]
    assert "Wint3r" not in result.stdout


def test_an_expression_holding_a_literal_credential_is_never_shown(tmp_path: Path) -> None:
    """Any property known only at deployment is `unknown` naming its expression, unless the
    expression's literal text carries a credential: then it is named by its class only."""
    storage = {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-05-01",
        "name": "stml",
        "location": "westeurope",
        "kind": "StorageV2",
        "properties": {"minimumTlsVersion": "[concat('Password=Wint3r-Is-Coming;x=', parameters('conn'))]"},
    }
    result = scan("--template", str(write(tmp_path / "main.json", template(storage, parameters=PARAMETERS))))
    tls = by(findings(result), "MLW-ST-02")
    assert tls["status"] == "unknown"
    assert "an expression holding a password (minimumTlsVersion)" in tls["message"]
    assert "Wint3r" not in result.stdout


@pytest.mark.parametrize(
    ("identity", "unknown", "status"), [(True, {}, "pass"), (None, {"storage_uses_managed_identity": True}, "unknown")]
)
def test_plan_function_host_storage_by_identity_known_after_apply(
    tmp_path: Path, identity: Any, unknown: dict[str, Any], status: str
) -> None:
    """`storage_uses_managed_identity` known only after apply: the host storage may still use a key."""
    app = {
        "name": "func-ml",
        "location": "westeurope",
        "resource_group_name": "rg-ml",
        "storage_account_name": "stml",
        "storage_uses_managed_identity": identity,
        "site_config": [{}],
    }
    change = {
        "address": "azurerm_linux_function_app.f",
        "mode": "managed",
        "type": "azurerm_linux_function_app",
        "name": "f",
        "change": {"actions": ["create"], "before": None, "after": app, "after_unknown": unknown},
    }
    plan = {"format_version": "1.2", "resource_changes": [change]}
    verdict = by(findings(scan("--terraform-plan", str(write(tmp_path / "plan.json", plan)))), "MLW-CFG-06")
    assert verdict["status"] == status, verdict["message"]
