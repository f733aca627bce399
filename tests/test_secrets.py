"""The classifier that lets us judge secrets without keeping them."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from scanner.secrets import REDACTED, classify, fact, facts_from_map, is_key_vault_reference, redact_map
from tests.secrets_corpus import CORPUS, Case


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
        ("PG", "Host=db;Server=db.postgres.database.azure.com;Database=phi;", "none"),
        ("PG", "postgresql://app:pw@db.postgres.database.azure.com/phi", "connection-string"),
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


def _case_id(case: Case) -> str:
    return f"{case.service}-{case.name}-{case.expected}"


@pytest.mark.parametrize("case", [c for c in CORPUS if not c.known_limit], ids=_case_id)
def test_corpus_case(case: Case) -> None:
    assert classify(case.name, case.value) == case.expected


def test_corpus_precision_and_recall(
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    """Binary secret/not-secret figures over the whole corpus, known limits included."""
    assert len(CORPUS) >= 80
    predicted = [(case, classify(case.name, case.value)) for case in CORPUS]
    true_pos = sum(1 for case, got in predicted if got != "none" and case.expected != "none")
    false_pos = [case.name for case, got in predicted if got != "none" and case.expected == "none"]
    false_neg = [case.name for case, got in predicted if got == "none" and case.expected != "none"]
    exact = sum(1 for case, got in predicted if got == case.expected)
    precision = true_pos / (true_pos + len(false_pos))
    recall = true_pos / (true_pos + len(false_neg))
    passwordless = [case for case in CORPUS if case.passwordless]
    summary = (
        f"secret corpus: {len(CORPUS)} settings ({true_pos + len(false_neg)} secrets, {len(passwordless)} documented "
        f"passwordless), precision {precision:.3f}, recall {recall:.3f}, exact class {exact}/{len(CORPUS)}, "
        f"missed {false_neg}"
    )
    record_property("secret_corpus", summary)
    with capsys.disabled():  # shown in every run's output, not only with -s
        print(f"\n{summary}")
    assert len(passwordless) >= 25
    assert all(classify(case.name, case.value) == "none" for case in passwordless), summary
    assert precision == 1.0, summary
    assert recall >= 0.95, summary


# Inputs that made backtracking patterns quadratic, and shapes that stress each token pass.
ADVERSARIAL_VALUES: dict[str, str] = {
    "server": "Server=",
    "pairs": "a=",
    "segments": "a;",
    "spaces": " ",
    "jwt-prefix": "eyJ",
    "pem": "-----BEGIN ",
    "scheme": "://",
    "userinfo": "a://b:c",
    "account-key": "AccountKey=",
    "braces": "{",
    "benign": "x",
}
ADVERSARIAL_NAMES: dict[str, str] = {"camel": "aB", "underscores": "_", "keys": "KEY_", "benign": "x"}
MIB = 1 << 20


def _cost(name: str, value: str, calls: int) -> float:
    """Least of five CPU times of `calls` classifications. CPU time of this thread, not the wall
    clock: other processes on a busy machine then cost it nothing, and noise only ever adds time."""
    best = float("inf")
    for _ in range(5):
        started = time.thread_time()
        for _ in range(calls):
            classify(name, value)
        best = min(best, time.thread_time() - started)
    return best


def _grow(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


CASES = [("DB_PASSWORD", unit, "value") for unit in ADVERSARIAL_VALUES.values()] + [
    (unit, "Fake-Passw0rd-For-Tests", "name") for unit in ADVERSARIAL_NAMES.values()
]


@pytest.mark.parametrize(
    ("name", "value", "grown"),
    CASES,
    ids=[f"value-{k}" for k in ADVERSARIAL_VALUES] + [f"name-{k}" for k in ADVERSARIAL_NAMES],
)
def test_classification_is_linear_in_input_size(name: str, value: str, grown: str) -> None:
    """One 1 MiB input costs about what eight 128 KiB inputs cost (a ratio, not a time).

    Linear work gives a ratio near 1; the quadratic backtracking this replaced gave 8 and more.
    """

    def sized(size: int) -> tuple[str, str]:
        return (_grow(name, size), value) if grown == "name" else (name, _grow(value, size))

    large = _cost(*sized(MIB), calls=1)
    eight_small = _cost(*sized(MIB // 8), calls=8)
    assert large / eight_small < 3.0, f"1 MiB took {large / eight_small:.1f}x eight 128 KiB inputs"
