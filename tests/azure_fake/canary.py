"""Plant canary secret values that classify exactly as the estate's recorded facts say.

Every planted secret contains `CANARY`, so a test can grep any output for leaks.
"""

from __future__ import annotations

import itertools

from scanner.inventory import AppSettingFact

MARK = "CANARY"
_counter = itertools.count(1)


def value_for(fact: AppSettingFact) -> str:
    """A value `scanner.secrets.fact(name, value)` classifies back to this fact."""
    n = next(_counter)
    if fact.key_vault_reference:
        return f"@Microsoft.KeyVault(SecretUri=https://kv-canary.vault.azure.net/secrets/s{n}/)"
    return {
        "connection-string": f"postgresql://app:{MARK}{n}@pg{n}.postgres.database.azure.com:5432/db{n}",
        "account-key": (
            f"DefaultEndpointsProtocol=https;AccountName=st{n};AccountKey={MARK}{n}AccountKeyAAAAAAAAAAAA==;"
            "EndpointSuffix=core.windows.net"
        ),
        "sas-token": f"sv=2022-11-02&ss=b&sig={MARK}{n}SasSignatureAAAAAAAAAA",
        "password": f"User Id=app;Password={MARK}-pw-{n}",
        "token": f"ghp_{MARK}{n}TokenAAAAAAAAAAAAAAAAAAAA",
        "private-key": f"-----BEGIN PRIVATE KEY-----\n{MARK}{n}\n-----END PRIVATE KEY-----",
        "secret": f"{MARK}-secret-{n}-plain",
        "none": "on",
    }[fact.classification]
