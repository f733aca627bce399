"""Evidence packs end to end: written by `scan`, signed through the real Key Vault SDK against the
local HTTPS fake, and checked by `mlwarden verify`, including after tampering."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from scanner import evidence, jws
from scanner.cli import cli
from scanner.signing import KeyRef
from scanner.snapshot import read_demo, write_snapshot
from tests.azure_fake.harness import env
from tests.azure_fake.sample import sample_inventory
from tests.azure_fake.server import AzureFake


def invoke(*args: str, environment: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def verify_failure(result: Result) -> str:
    assert result.exit_code == 1, result.output + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: verify failed:")]
    return line


@pytest.fixture(scope="module")
def fake() -> Iterator[AzureFake]:
    with AzureFake(read_demo()) as server:
        server.signing_keys.add_rsa("evidence-rsa")
        server.signing_keys.add_ec("evidence-p256", "P-256")
        server.signing_keys.add_ec("evidence-p384", "P-384")
        server.signing_keys.add_rsa("other-rsa", version="11112222333344445555666677778888")
        server.signing_keys.add_rsa("no-sign-role")
        server.signing_keys.forbidden.add("no-sign-role")
        yield server


def azure_args(fake: AzureFake) -> list[str]:
    return ["--ca-bundle", str(fake.ca_path), "--authority-host", fake.url, "--arm-endpoint", fake.url]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    waivers = root / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - check: MLW-ST-07\n    resource: '*'\n    justification: migration (JIRA-1)\n"
        "    owner: data@example.org\n    expires: 2099-01-01\n"
    )
    attestations = root / "attestations.yaml"
    entry = {
        "framework": "hipaa-security-rule",
        "control": "164.308(a)(2)",
        "status": "implemented",
        "statement": "Dana Reyes is the appointed security official.",
        "evidence": [{"uri": "https://intranet.example/appointment.pdf"}],
        "attested_by": "Dana Reyes",
        "role": "Security Officer",
        "date": date(2026, 11, 2),
        "expires": date(2099, 11, 2),
    }
    attestations.write_text(yaml.safe_dump({"attestations": [entry]}, sort_keys=False))
    baseline = root / "baseline.json"
    assert invoke("scan", "--demo", "--write-baseline", str(baseline), "-q").exit_code == 1
    framework = root / "internal.yaml"
    framework.write_text(
        'id: internal-ml-policy\nname: Internal ML policy\nversion: "2026.1"\ncontrols:\n'
        "  - id: ML-1\n    title: Model cards are reviewed\n    manual_evidence: The signed model card review.\n"
    )
    return {"waivers": waivers, "attestations": attestations, "baseline": baseline, "framework": framework}


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory, inputs: dict[str, Path]) -> tuple[Result, Path, Path]:
    root = tmp_path_factory.mktemp("unsigned")
    pack, out = root / "pack", root / "out"
    result = invoke(
        "scan", "--demo", "--out", str(out), "--format", "json,html,csv,sarif", "--evidence-pack", str(pack),
        "--waivers", str(inputs["waivers"]), "--baseline", str(inputs["baseline"]),
        "--attestations", str(inputs["attestations"]), "--framework-file", str(inputs["framework"]),
    )  # fmt: skip
    return result, pack, out


def test_pack_holds_snapshot_reports_inputs_and_a_complete_manifest(
    unsigned: tuple[Result, Path, Path], inputs: dict[str, Path]
) -> None:
    result, pack, out = unsigned
    assert result.exit_code == 0, result.stderr  # the baseline accepts every demo failure
    manifest = json.loads((pack / "manifest.json").read_bytes())
    paths = [entry["path"] for entry in manifest["files"]]
    assert paths == [
        "inputs/attestations.yaml",
        "inputs/baseline.json",
        "inputs/frameworks/1-internal.yaml",
        "inputs/waivers.yaml",
        "reports/mlwarden-report.csv",
        "reports/mlwarden-report.html",
        "reports/mlwarden-report.json",
        "reports/mlwarden-report.sarif",
        "snapshot.jsonl.gz",
    ]
    on_disk = sorted(p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file())
    assert on_disk == sorted([*paths, "manifest.json"])
    for entry in manifest["files"]:
        data = (pack / entry["path"]).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    for name in ("json", "html", "csv", "sarif"):
        report = f"mlwarden-report.{name}"
        assert (pack / "reports" / report).read_bytes() == (out / report).read_bytes()
    for role, path in inputs.items():
        name = "frameworks/1-internal.yaml" if role == "framework" else f"{role}{path.suffix}"
        assert (pack / "inputs" / name).read_bytes() == path.read_bytes()
    report = json.loads((out / "mlwarden-report.json").read_bytes())
    assert manifest["generated_at"] == report["generated_at"].replace("Z", "+00:00")
    assert manifest["tool_version"] == report["tool_version"]
    assert manifest["scope"] == report["scope"]
    assert manifest["collected_at"] is not None
    assert [fw["id"] for fw in manifest["frameworks"]] == [fw["id"] for fw in report["frameworks"]]
    assert manifest["check_catalog_sha256"] == evidence.catalog_digest(read_report_checks(report))
    assert "wrote evidence pack" in result.stderr and "unsigned" in result.stderr


def read_report_checks(report: dict[str, object]) -> list[object]:
    from scanner.models import CheckMeta

    return [CheckMeta.model_validate(c) for c in report["checks"]]  # type: ignore[attr-defined]


def test_packed_snapshot_rescans_to_the_same_findings(unsigned: tuple[Result, Path, Path], tmp_path: Path) -> None:
    _, pack, out = unsigned
    with gzip.open(pack / "snapshot.jsonl.gz") as handle:
        assert json.loads(handle.readline())["record"] == "header"
    rescan = invoke("scan", "--snapshot", str(pack / "snapshot.jsonl.gz"), "--format", "json", "--fail-on", "none")
    assert rescan.exit_code == 0, rescan.stderr
    original = json.loads((out / "mlwarden-report.json").read_bytes())
    again = json.loads(rescan.stdout)
    assert {(f["fingerprint"], f["status"]) for f in again["findings"]} == {
        (f["fingerprint"], f["status"]) for f in original["findings"]
    }


def test_unsigned_pack_verifies(unsigned: tuple[Result, Path, Path]) -> None:
    _, pack, _ = unsigned
    result = invoke("verify", str(pack))
    assert result.exit_code == 0, result.stderr
    assert "9 files match manifest.json; the pack is not signed" in result.stdout


def test_pack_without_out_holds_the_default_reports(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    result = invoke("scan", "--demo", "--evidence-pack", str(pack), "-q")
    assert result.exit_code == 1 and result.stdout == ""
    names = sorted(p.name for p in (pack / "reports").iterdir())
    assert names == ["mlwarden-report.html", "mlwarden-report.json"]
    one = invoke("scan", "--demo", "--format", "json", "--evidence-pack", str(tmp_path / "one"))
    assert (tmp_path / "one" / "reports" / "mlwarden-report.json").read_bytes() == one.stdout_bytes
    assert invoke("verify", str(pack)).exit_code == 0


def test_pack_refuses_a_non_empty_directory_and_a_sign_key_without_a_pack(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "old.txt").write_text("x")
    busy = invoke("scan", "--demo", "--evidence-pack", str(tmp_path / "pack"))
    assert busy.exit_code == 2 and "exists and is not an empty directory" in error_line(busy)
    lone = invoke("scan", "--demo", "--sign-key", "https://kv.vault.azure.net/keys/k")
    assert lone.exit_code == 2 and "add --evidence-pack DIR" in error_line(lone)
    bad = invoke("scan", "--demo", "--evidence-pack", str(tmp_path / "p2"), "--sign-key", "http://kv/keys/k")
    assert bad.exit_code == 2 and "expected https://<vault>.vault.azure.net/keys/<name>" in error_line(bad)
    assert not (tmp_path / "p2").exists()


def test_key_urls_and_the_challenge_check() -> None:
    real = KeyRef.parse("https://kv-audit.vault.azure.net/keys/evidence/0123abcd")
    assert (real.vault_url, real.name, real.version) == ("https://kv-audit.vault.azure.net", "evidence", "0123abcd")
    assert real.client_kwargs({})["verify_challenge_resource"] is True
    assert KeyRef.parse("https://kv.vault.usgovcloudapi.net/keys/k").known_domain
    stack = KeyRef.parse("https://vault.local.azurestack.example:8443/keys/k")
    assert stack.version is None and stack.client_kwargs({"connection_verify": "ca.pem"}) == {
        "verify_challenge_resource": False,
        "connection_verify": "ca.pem",
    }
    assert not KeyRef.parse("https://evil-vault.azure.net.example/keys/k").known_domain


def signed_scan(
    fake: AzureFake, tmp_path: Path, key: str, *source: str, out: Path | None = None
) -> tuple[Result, Path]:
    pack = tmp_path / f"pack-{key}"
    args = [*source, "--evidence-pack", str(pack), "--sign-key", f"{fake.url}/keys/{key}", *azure_args(fake)]
    if out is not None:
        args += ["--out", str(out), "--format", "json,markdown"]
    return invoke("scan", *args, environment=env(fake, tmp_path)), pack


@pytest.mark.parametrize(
    ("key", "algorithm", "source"),
    [
        ("evidence-rsa", "RS256", "demo"),
        ("evidence-p256", "ES256", "snapshot"),
        ("evidence-p384", "ES384", "demo"),
    ],
)
def test_signed_pack_verifies_offline(fake: AzureFake, tmp_path: Path, key: str, algorithm: str, source: str) -> None:
    if source == "snapshot":
        snapshot = tmp_path / "estate.jsonl.gz"
        write_snapshot(read_demo(), snapshot)
        args = ["--snapshot", str(snapshot)]
    else:
        args = ["--demo"]
    before = len(fake.signing_keys.signed)
    result, pack = signed_scan(fake, tmp_path, key, *args, out=tmp_path / "out")
    assert result.exit_code == 1, result.stderr
    assert fake.signing_keys.signed[before:] == [(key, algorithm)]
    version = fake.signing_keys.keys[key].version
    kid = f"{fake.url}/keys/{key}/{version}"
    token = (pack / "manifest.sig").read_bytes()
    assert token.count(b".") == 2 and not token.endswith(b"\n")
    header_b64, payload_b64, _ = token.decode().split(".")
    assert json.loads(base64.urlsafe_b64decode(header_b64 + "==")) == {"alg": algorithm, "kid": kid}
    assert base64.urlsafe_b64decode(payload_b64 + "==") == (pack / "manifest.json").read_bytes()
    public = json.loads((pack / "manifest.jwk").read_bytes())
    assert public["kid"] == kid and "d" not in public
    assert (pack / "reports" / "mlwarden-report.md").read_bytes() == (
        tmp_path / "out" / "mlwarden-report.md"
    ).read_bytes()
    listed = {entry["path"] for entry in json.loads((pack / "manifest.json").read_bytes())["files"]}
    assert not listed & {"manifest.json", "manifest.sig", "manifest.jwk"}
    verified = invoke("verify", str(pack))
    assert verified.exit_code == 0, verified.stderr
    assert f"signature {algorithm} by {kid} verifies" in verified.stdout
    pinned = invoke(
        "verify", str(pack), "--key", f"{fake.url}/keys/{key}", *azure_args(fake)[:4], environment=env(fake, tmp_path)
    )
    assert pinned.exit_code == 0, pinned.stderr


@pytest.fixture
def signed_pack(fake: AzureFake, tmp_path: Path) -> Path:
    result, pack = signed_scan(fake, tmp_path, "evidence-rsa", "--demo")
    assert result.exit_code == 1, result.stderr
    assert invoke("verify", str(pack)).exit_code == 0
    return pack


def test_modified_report_is_named(signed_pack: Path) -> None:
    report = signed_pack / "reports" / "mlwarden-report.html"
    report.write_bytes(report.read_bytes().replace(b"<body", b"<body data-x=1", 1))
    assert verify_failure(invoke("verify", str(signed_pack))) == (
        "mlwarden: verify failed: reports/mlwarden-report.html: does not match its sha256 in manifest.json"
    )


def test_modified_signature_fails(signed_pack: Path) -> None:
    path = signed_pack / "manifest.sig"
    head, payload, signature = path.read_bytes().split(b".")
    raw = bytearray(base64.urlsafe_b64decode(signature + b"=="))
    raw[10] ^= 0x01
    path.write_bytes(b".".join([head, payload, jws.b64url(bytes(raw)).encode()]))
    line = verify_failure(invoke("verify", str(signed_pack)))
    assert line == "mlwarden: verify failed: manifest.sig: the signature does not verify"


def test_rewritten_manifest_is_caught_by_the_signature(signed_pack: Path) -> None:
    report = signed_pack / "reports" / "mlwarden-report.json"
    report.write_bytes(report.read_bytes().replace(b'"critical"', b'"low"'))
    manifest = json.loads((signed_pack / "manifest.json").read_bytes())
    for entry in manifest["files"]:
        if entry["path"] == "reports/mlwarden-report.json":
            entry["size"], entry["sha256"] = report.stat().st_size, hashlib.sha256(report.read_bytes()).hexdigest()
    (signed_pack / "manifest.json").write_bytes(json.dumps(manifest, indent=2).encode() + b"\n")
    line = verify_failure(invoke("verify", str(signed_pack)))
    assert line == "mlwarden: verify failed: manifest.sig: the JWS payload is not manifest.json"


def test_swapped_public_key_and_extra_or_missing_files(signed_pack: Path, fake: AzureFake) -> None:
    (signed_pack / "notes.txt").write_text("added later")
    assert "notes.txt: not listed in manifest.json" in verify_failure(invoke("verify", str(signed_pack)))
    (signed_pack / "notes.txt").unlink()
    other = fake.signing_keys.keys["other-rsa"].jwk(fake.url)
    other["kid"] = json.loads((signed_pack / "manifest.jwk").read_bytes())["kid"]
    other.pop("key_ops")
    (signed_pack / "manifest.jwk").write_bytes(json.dumps(other).encode())
    assert "manifest.sig: the signature does not verify" in verify_failure(invoke("verify", str(signed_pack)))
    (signed_pack / "snapshot.jsonl.gz").unlink()
    assert "snapshot.jsonl.gz: missing from the pack" in verify_failure(invoke("verify", str(signed_pack)))


def test_unreadable_pack_exits_2(signed_pack: Path, tmp_path: Path) -> None:
    manifest = signed_pack / "manifest.json"
    body = manifest.read_bytes()
    manifest.write_bytes(body[: len(body) // 2])
    truncated = invoke("verify", str(signed_pack))
    assert truncated.exit_code == 2 and "manifest.json is truncated or not JSON" in error_line(truncated)
    manifest.unlink()
    missing = invoke("verify", str(signed_pack))
    assert missing.exit_code == 2 and "manifest.json is missing" in error_line(missing)
    nowhere = invoke("verify", str(tmp_path / "absent"))
    assert nowhere.exit_code == 2 and "not a directory" in error_line(nowhere)
    manifest.write_bytes(
        b'{"format": "mlwarden-evidence-pack", "files": [{"path": "../etc/passwd", "size": 1, "sha256": "'
        + b"0" * 64
        + b'"}]}'
    )
    escaping = invoke("verify", str(signed_pack))
    assert escaping.exit_code == 2 and "is not inside the pack" in error_line(escaping)


def test_pinned_key_must_be_the_signer(signed_pack: Path, fake: AzureFake, tmp_path: Path) -> None:
    environment = env(fake, tmp_path)
    other = invoke(
        "verify",
        str(signed_pack),
        "--key",
        f"{fake.url}/keys/other-rsa",
        *azure_args(fake)[:4],
        environment=environment,
    )
    assert "manifest.sig: signed by " in verify_failure(other) and "not by" in other.stderr
    wrong_version = f"{fake.url}/keys/evidence-rsa/ffffffffffffffffffffffffffffffff"
    stale = invoke("verify", str(signed_pack), "--key", wrong_version, *azure_args(fake)[:4], environment=environment)
    assert "not by" in verify_failure(stale)
    (signed_pack / "manifest.sig").unlink()
    (signed_pack / "manifest.jwk").unlink()
    unsigned = invoke("verify", str(signed_pack), "--key", f"{fake.url}/keys/evidence-rsa", environment=environment)
    assert verify_failure(unsigned) == "mlwarden: verify failed: manifest.sig: missing (the pack is not signed)"


def test_refused_signature_writes_nothing(fake: AzureFake, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result, pack = signed_scan(fake, tmp_path, "no-sign-role", "--demo", out=out)
    assert result.exit_code == 2
    assert "Key Vault could not sign: HTTP 403" in error_line(result) and "Key Vault Crypto User" in result.stderr
    assert not pack.exists() and not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pack")] == []
    missing, pack = signed_scan(fake, tmp_path, "no-such-key", "--demo")
    assert missing.exit_code == 2 and "cannot read the public key: HTTP 404" in error_line(missing)
    assert not pack.exists()


def test_pss_signatures_from_key_vault_verify(fake: AzureFake) -> None:
    key = fake.signing_keys.keys["evidence-rsa"]
    public = key.jwk(fake.url)
    for algorithm in ("PS256", "RS256"):
        signing_input = jws.signing_input({"alg": algorithm, "kid": public["kid"]}, b"manifest")
        signature = key.sign(algorithm, jws.digest(algorithm, signing_input))
        token = signing_input + b"." + jws.b64url(signature).encode()
        assert jws.verify(token, b"manifest", public)["alg"] == algorithm
        with pytest.raises(jws.JwsError, match=r"payload is not manifest\.json"):
            jws.verify(token, b"other", public)
    with pytest.raises(jws.JwsError, match="private key material"):
        jws.public_key({**public, "d": "AQAB"})


def test_live_scan_pack_is_signed_and_rescans_to_the_same_result(tmp_path: Path) -> None:
    """A live scan through the real SDKs: the packed snapshot is what was collected, and reproduces the report."""
    with AzureFake(sample_inventory(), quota=15, window=1.0) as server:
        server.signing_keys.add_ec("live-p256", "P-256")
        pack, out = tmp_path / "pack", tmp_path / "out"
        args = [*azure_args(server), "--no-keyvault", "--quiet", "--out", str(out), "--fail-on", "none"]
        key = f"{server.url}/keys/live-p256"
        result = invoke(
            "scan", *args, "--evidence-pack", str(pack), "--sign-key", key, environment=env(server, tmp_path)
        )
        assert result.exit_code == 0, result.stderr
        assert server.counts["graph"] > 0 and server.signing_keys.signed == [("live-p256", "ES256")]
    assert (pack / "reports" / "mlwarden-report.json").read_bytes() == (out / "mlwarden-report.json").read_bytes()
    manifest = json.loads((pack / "manifest.json").read_bytes())
    assert manifest["scope"]["origin"] == "azure"
    assert invoke("verify", str(pack)).exit_code == 0
    rescan = invoke("scan", "--snapshot", str(pack / "snapshot.jsonl.gz"), "--format", "json", "--fail-on", "none")
    live = json.loads((out / "mlwarden-report.json").read_bytes())
    again = json.loads(rescan.stdout)
    assert [(f["fingerprint"], f["status"]) for f in again["findings"]] == [
        (f["fingerprint"], f["status"]) for f in live["findings"]
    ]
