"""Key Vault signing keys for the fake: `GET /keys/{name}[/{version}]` and `POST /keys/{name}/{version}/sign`.

The fake serves these at its root, so `https://localhost:PORT/keys/<name>` is a key URL the real
`KeyClient` and `CryptographyClient` parse. Keys are real `cryptography` keys and signatures are
real: RS256/PS256 with PKCS#1 v1.5/PSS over the given digest, ES* as raw r||s like Key Vault.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

if TYPE_CHECKING:
    from tests.azure_fake.routes import Router

_CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class SigningKey:
    name: str
    version: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key_ops: tuple[str, ...] = ("sign", "verify")

    def jwk(self, base_url: str) -> dict[str, Any]:
        out: dict[str, Any] = {"kid": f"{base_url}/keys/{self.name}/{self.version}", "key_ops": list(self.key_ops)}
        if isinstance(self.private, rsa.RSAPrivateKey):
            numbers = self.private.public_key().public_numbers()
            out.update(kty="RSA", n=_int(numbers.n), e=_int(numbers.e))
        else:
            point = self.private.public_key().public_numbers()
            size = (self.private.curve.key_size + 7) // 8
            crv = next(name for name, curve in _CURVES.items() if curve.name == self.private.curve.name)
            out.update(kty="EC", crv=crv, x=_b64(point.x.to_bytes(size, "big")), y=_b64(point.y.to_bytes(size, "big")))
        return out

    def sign(self, algorithm: str, digest: bytes) -> bytes:
        chosen = utils.Prehashed(_HASHES[algorithm[2:]])
        if isinstance(self.private, rsa.RSAPrivateKey):
            if algorithm.startswith("RS"):
                return self.private.sign(digest, padding.PKCS1v15(), chosen)
            pss = padding.PSS(mgf=padding.MGF1(_HASHES[algorithm[2:]]), salt_length=len(digest))
            return self.private.sign(digest, pss, chosen)
        der = self.private.sign(digest, ec.ECDSA(chosen))
        r, s = utils.decode_dss_signature(der)
        size = (self.private.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


@dataclass
class SigningKeys:
    """Keys by name; `add_rsa`/`add_ec` create one with a fixed version string."""

    keys: dict[str, SigningKey] = field(default_factory=dict)
    signed: list[tuple[str, str]] = field(default_factory=list)
    """(key name, algorithm) of every signature made."""
    forbidden: set[str] = field(default_factory=set)
    """Key names whose sign operation answers 403 (a caller without Key Vault Crypto User)."""

    def add_rsa(self, name: str, version: str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9") -> SigningKey:
        key = SigningKey(name, version, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.keys[name.lower()] = key
        return key

    def add_ec(self, name: str, curve: str = "P-256", version: str = "f9e8d7c6b5a4938271605f4e3d2c1b0a") -> SigningKey:
        key = SigningKey(name, version, ec.generate_private_key(_CURVES[curve]))
        self.keys[name.lower()] = key
        return key


def route(router: Router, method: str, body: bytes) -> None:
    """Serve `/keys/...` with Key Vault's challenge flow and error shapes."""
    from tests.azure_fake.routes import _error, _tenant

    fake = router.fake
    parts = [p for p in router.path.split("/") if p]
    if not fake.token_valid(router.handler.headers.get("Authorization")):
        router.count("kv-sign:challenge")
        challenge = f'Bearer authorization="{fake.url}/{_tenant()}", resource="https://vault.azure.net"'
        message = "AKV10000: Request is missing a Bearer or PoP token."
        return router.reply(401, _error("Unauthorized", message), {"WWW-Authenticate": challenge})
    key = fake.signing_keys.keys.get(parts[1].lower()) if len(parts) >= 2 else None
    if key is None:
        return router.reply(404, _error("KeyNotFound", "no such key"))
    version = parts[2] if len(parts) >= 3 and parts[2] != "sign" else ""
    if version and version != key.version:
        return router.reply(404, _error("KeyNotFound", "no such key version"))
    if method == "GET" and len(parts) <= 3:
        router.count("kv-sign:get")
        bundle = {"key": key.jwk(fake.url), "attributes": {"enabled": True}, "tags": {}}
        if fake.wire.kv_key_without_key:
            del bundle["key"]
        return router.reply(200, bundle)
    if method == "POST" and len(parts) == 4 and parts[3] == "sign":
        router.count("kv-sign:sign")
        if key.name.lower() in fake.signing_keys.forbidden:
            return router.reply(403, _error("Forbidden", "Operation sign is not permitted on this key"))
        request = json.loads(body or b"{}")
        algorithm, digest = str(request.get("alg", "")), _unb64(str(request.get("value", "")))
        allowed = ("RS", "PS") if isinstance(key.private, rsa.RSAPrivateKey) else ("ES",)
        if not algorithm.startswith(allowed) or algorithm[2:] not in _HASHES:
            return router.reply(400, _error("BadParameter", f"algorithm {algorithm} does not fit the key"))
        fake.signing_keys.signed.append((key.name, algorithm))
        signature = key.sign(algorithm, digest)
        return router.reply(200, {"kid": key.jwk(fake.url)["kid"], "value": _b64(signature)})
    router.reply(405, _error("BadRequest", f"{method} {router.path} is not served"))
