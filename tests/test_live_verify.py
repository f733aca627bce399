"""`mlwarden verify --key` when the key's vault cannot be reached: one error line in plain words.

Before, the line named the SDK's exception class (`ServiceRequestError`), which says nothing to
an auditor. The pack here is signed locally, so only the pinned key's fetch goes online.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from scanner import jws
from scanner.cli import cli
from tests.azure_fake import AzureFake
from tests.azure_fake.sample import sample_inventory

VERSION = "0123456789abcdef0123456789abcdef"


def _signed_pack(tmp_path: Path, kid: str) -> Path:
    """The demo's evidence pack, signed with a local RSA key whose `kid` is `kid`."""
    pack = tmp_path / "pack"
    made = CliRunner().invoke(
        cli, ["scan", "--demo", "--fail-on", "none", "--format", "json", "--evidence-pack", str(pack)]
    )
    assert made.exit_code == 0, made.output
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    public = {
        "kty": "RSA",
        "kid": kid,
        "n": jws.b64url(numbers.n.to_bytes(256, "big")),
        "e": jws.b64url(b"\x01\x00\x01"),
    }
    signing_input = jws.signing_input({"alg": "RS256", "kid": kid}, (pack / "manifest.json").read_bytes())
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    (pack / "manifest.sig").write_bytes(signing_input + b"." + jws.b64url(signature).encode())
    (pack / "manifest.jwk").write_text(json.dumps(public))
    return pack


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("vault", ["refused", "untrusted"])
def test_verify_key_at_an_unreachable_vault_says_why_in_plain_words(tmp_path: Path, vault: str) -> None:
    with AzureFake(sample_inventory()) as fake:
        base = f"https://localhost:{_closed_port()}" if vault == "refused" else fake.url
        key = f"{base}/keys/evidence-signing"
        pack = _signed_pack(tmp_path, f"{key}/{VERSION}")
        args = ["verify", str(pack), "--key", key, "--connect-timeout", "5", "--read-timeout", "5"]
        result = CliRunner().invoke(cli, args)  # no --ca-bundle: the fake's certificate is not trusted
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    said = {"refused": "connection refused", "untrusted": "TLS certificate is not trusted (see --ca-bundle)"}
    assert len(lines) == 1 and lines[0].startswith(f"mlwarden: error: key {key}/{VERSION}: cannot read"), lines
    assert said[vault] in lines[0] and "Error" not in lines[0], lines[0]


def test_verify_key_whose_reply_holds_no_public_key_is_one_error_not_a_crash(tmp_path: Path) -> None:
    """Key Vault's `GET /keys/{name}/{version}` without its `key` object: the SDK raised AttributeError (exit 4)."""
    from tests.azure_fake.harness import env

    with AzureFake(sample_inventory()) as fake:
        fake.signing_keys.add_rsa("evidence-signing", version=VERSION)
        fake.wire.kv_key_without_key = True
        key = f"{fake.url}/keys/evidence-signing"
        pack = _signed_pack(tmp_path, f"{key}/{VERSION}")
        args = ["verify", str(pack), "--key", key, "--authority-host", fake.url, "--ca-bundle", str(fake.ca_path)]
        result = CliRunner().invoke(cli, args, env=env(fake, tmp_path))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0] == f"mlwarden: error: key {key}/{VERSION}: Key Vault's reply holds no usable public key"
