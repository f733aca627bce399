"""The classifier that lets us judge secrets without keeping them."""

from __future__ import annotations

import pytest

from scanner.secrets import REDACTED, classify, fact, facts_from_map, is_key_vault_reference, redact_map


@pytest.mark.parametrize(
    "value",
    [
        "@Microsoft.KeyVault(SecretUri=https://kv-prod.vault.azure.net/secrets/db-password/)",
        "@Microsoft.KeyVault(SecretUri=https://kv-prod.vault.azure.net/secrets/db-password/0123abcd)",
        "@Microsoft.KeyVault(VaultName=kv-prod;SecretName=db-password)",
        "@microsoft.keyvault(VaultName=kv-prod; SecretName=db-password; SecretVersion=abc)",
    ],
)
def test_key_vault_references_are_recognised(value: str) -> None:
    assert is_key_vault_reference(value)
    assert fact("DB_PASSWORD", value).key_vault_reference
    assert fact("DB_PASSWORD", value).classification == "none"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "AzureWebJobsStorage",
            "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=QUJDREVGR0hJSktMTU5P==;",
            "account-key",
        ),
        (
            "SB",
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=r;SharedAccessKey=QUJDREVGR0hJSktM=",
            "account-key",
        ),
        ("BLOB_URL", "https://st.blob.core.windows.net/c?sv=2022-11-02&sig=QUJDREVGR0hJSktMTU5PUFFS%3D", "sas-token"),
        ("SQL", "Server=tcp:db.database.windows.net;Database=phi;User ID=app;Password=Winter2026!;", "password"),
        ("PG", "Host=db;Server=db.postgres.database.azure.com;Database=phi;", "connection-string"),
        ("GITHUB", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token"),
        ("CLIENT_SECRET", "a-long-opaque-value-1234", "secret"),
        ("CERT", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "private-key"),
        ("STORAGE_ACCOUNT_NAME", "stprod", "none"),
        ("AzureWebJobsStorage__accountName", "stprod", "none"),
        ("SECRET_URI", "https://kv.vault.azure.net/secrets/x", "none"),
        ("WEBSITE_RUN_FROM_PACKAGE", "1", "none"),
        ("API_KEY", REDACTED, "none"),
        ("API_KEY", None, "none"),
    ],
)
def test_classification(name: str, value: str | None, expected: str) -> None:
    assert classify(name, value) == expected


def test_facts_never_hold_values() -> None:
    canary = "CANARY-6f1c9a-DO-NOT-LEAK"
    facts = facts_from_map({"DB_PASSWORD": f"Password={canary};", "MODE": "prod"}, "environment_variable")
    assert [(f.name, f.classification, f.source) for f in facts] == [
        ("DB_PASSWORD", "password", "environment_variable"),
        ("MODE", "none", "environment_variable"),
    ]
    assert canary not in repr(facts) and canary not in "".join(f.model_dump_json() for f in facts)
    assert redact_map({"A": canary}) == {"A": REDACTED}
