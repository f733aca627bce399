"""Option values that come from the environment (a scheduled job's settings), and verify's one call
online.

Click named a bad `MLWARDEN_CONNECT_TIMEOUT` as `Invalid value for '--connect-timeout'`, although
no such option was on the command line: an operator looked at the job's arguments, not at its
environment. `mlwarden verify --key` fetched the key with the built-in timeouts whatever
`MLWARDEN_*_TIMEOUT` said, and had no option to change them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from scanner import jws
from scanner.cli import cli
from tests.azure_fake.silent import Silent


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, prog_name="mlwarden")


def one_error(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlwarden: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


COMMANDS = {
    "scan": ["scan", "--demo", "--fail-on", "none", "--format", "json"],
    "collect": ["collect", "--out", "estate.jsonl"],
    "verify": ["verify", "no-such-pack"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("variable", "option", "value", "why"),
    [
        ("MLWARDEN_CONNECT_TIMEOUT", "--connect-timeout", "ten", "'ten' is not a valid number of seconds"),
        ("MLWARDEN_READ_TIMEOUT", "--read-timeout", "-1", "not in the range 0<x<=3600"),
        ("MLWARDEN_READ_TIMEOUT", "--read-timeout", "nan", "'nan' is not a finite number of seconds"),
    ],
    ids=["connect-text", "read-negative", "read-nan"],
)
def test_a_bad_value_from_the_environment_is_named_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, variable: str, option: str, value: str, why: str
) -> None:
    monkeypatch.chdir(tmp_path)
    line = one_error(invoke(*COMMANDS[command], env={variable: value}))
    assert line.startswith(f"mlwarden: error: mlwarden {command}: invalid value for {variable} "), line
    assert f"(the environment variable behind {option})" in line and why in line, line
    assert not list(tmp_path.iterdir())

    given = one_error(invoke(*COMMANDS[command], option, value))  # the same value on the command line
    assert f"Invalid value for '{option}'" in given and variable not in given, given


def test_the_command_line_wins_over_a_bad_variable(tmp_path: Path) -> None:
    """Click never reads the variable when the option is given, so a stale setting does not stop a run."""
    result = invoke(
        *COMMANDS["scan"], "--out", tmp_path, "--connect-timeout", "5", env={"MLWARDEN_CONNECT_TIMEOUT": "x"}
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mlwarden-report.json").is_file()


def test_a_missing_history_names_its_variable_too() -> None:
    line = one_error(invoke("history", "list"))
    assert "Missing option '--db'" in line and "MLWARDEN_HISTORY" in line, line


# -- verify --key against a vault that never answers -------------------------------------------------


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def silent(ca: trustme.CA) -> Iterator[Silent]:
    """A vault host that completes the TLS handshake and then says nothing: only a read timeout ends the wait."""
    with Silent(tls=ca) as server:
        yield server


def signed_pack(tmp_path: Path, kid: str) -> Path:
    """An evidence pack of the demo, signed here with a local RSA key whose `kid` names `kid`."""
    pack = tmp_path / "pack"
    result = invoke("scan", "--demo", "--fail-on", "none", "--format", "json", "--evidence-pack", pack)
    assert result.exit_code == 0, result.output
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    public = {
        "kty": "RSA",
        "kid": kid,
        "n": jws.b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": jws.b64url(numbers.e.to_bytes(3, "big")),
    }
    header = {"alg": "RS256", "kid": kid}
    signing_input = jws.signing_input(header, (pack / "manifest.json").read_bytes())
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    (pack / "manifest.sig").write_bytes(signing_input + b"." + jws.b64url(signature).encode())
    (pack / "manifest.jwk").write_text(json.dumps(public))
    assert invoke("verify", pack).exit_code == 0  # offline, the pack and its signature hold
    return pack


VERSION = "0123456789abcdef0123456789abcdef"


def test_verify_key_uses_the_timeouts_of_its_environment(tmp_path: Path, ca: trustme.CA, silent: Silent) -> None:
    """With azure-core's defaults the fetch would wait 300 s to connect and forever to read;
    MLWARDEN_READ_TIMEOUT (like --read-timeout) bounds it, and the end is one error line."""
    key = f"{silent.url}/keys/evidence-signing"
    pack = signed_pack(tmp_path, f"{key}/{VERSION}")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    environment = {"MLWARDEN_READ_TIMEOUT": "0.2", "MLWARDEN_CONNECT_TIMEOUT": "0.2"}
    for options, env in ((["--read-timeout", "0.2", "--connect-timeout", "0.2"], None), ([], environment)):
        before = silent.handshakes
        line = one_error(invoke("verify", pack, "--key", key, "--ca-bundle", bundle, *options, env=env))
        assert line.startswith(f"mlwarden: error: key {key}/{VERSION}: cannot read the public key"), line
        assert silent.handshakes > before  # the request did reach the vault and waited for its reply
