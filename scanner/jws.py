"""Compact JWS (RFC 7515) over exact bytes, and its offline verification with a public JWK.

Only what an evidence pack needs: RS256, PS256, ES256, ES384 and ES512. The signature itself
is made elsewhere (Key Vault holds the private key); this module builds the signing input and
checks the result with `cryptography`, so `mlwarden verify` needs no network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HASHES: dict[str, Callable[[bytes], Any]] = {
    "RS256": hashlib.sha256,
    "PS256": hashlib.sha256,
    "ES256": hashlib.sha256,
    "ES384": hashlib.sha384,
    "ES512": hashlib.sha512,
}
CURVES: dict[str, tuple[ec.EllipticCurve, str, int]] = {
    "P-256": (ec.SECP256R1(), "ES256", 32),
    "P-384": (ec.SECP384R1(), "ES384", 48),
    "P-521": (ec.SECP521R1(), "ES512", 66),
}


class JwsError(ValueError):
    """The token, its key or its signature is not what it should be; the message says which."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    if not isinstance(text, str) or any(c in text for c in "=+/ \n"):
        raise JwsError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise JwsError("not base64url") from None


def signing_input(header: Mapping[str, Any], payload: bytes) -> bytes:
    """`BASE64URL(header) || '.' || BASE64URL(payload)`: what the signature covers."""
    encoded = json.dumps(dict(header), separators=(",", ":"), sort_keys=True).encode()
    return f"{b64url(encoded)}.{b64url(payload)}".encode("ascii")


def digest(algorithm: str, data: bytes) -> bytes:
    """The pre-hashed digest Key Vault's sign operation expects for `algorithm`."""
    return bytes(HASHES[algorithm](data).digest())


def public_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The public key a JWK describes; private members are refused rather than ignored."""
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi")):
        raise JwsError("the JWK holds private key material")
    kty = str(jwk.get("kty", "")).removesuffix("-HSM")
    try:
        if kty == "RSA":
            n = int.from_bytes(unb64url(jwk["n"]), "big")
            e = int.from_bytes(unb64url(jwk["e"]), "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "EC" and jwk.get("crv") in CURVES:
            curve = CURVES[jwk["crv"]][0]
            x = int.from_bytes(unb64url(jwk["x"]), "big")
            y = int.from_bytes(unb64url(jwk["y"]), "big")
            return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    except (KeyError, ValueError) as exc:
        raise JwsError(f"the JWK is not a valid {kty} public key ({type(exc).__name__})") from None
    raise JwsError(f"unsupported JWK key type {jwk.get('kty')!r} / curve {jwk.get('crv')!r}")


def algorithm_for(jwk: Mapping[str, Any]) -> str:
    """RS256 for RSA keys, ES256/ES384/ES512 by curve: the algorithm follows the key type."""
    kty = str(jwk.get("kty", "")).removesuffix("-HSM")
    if kty == "RSA":
        return "RS256"
    if kty == "EC" and jwk.get("crv") in CURVES:
        return CURVES[str(jwk["crv"])][1]
    raise JwsError(f"cannot sign with a {jwk.get('kty')} key (curve {jwk.get('crv')}); use RSA or EC P-256/P-384")


def _hash(algorithm: str) -> hashes.HashAlgorithm:
    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[algorithm[2:]]


def verify(token: bytes, payload: bytes, jwk: Mapping[str, Any]) -> dict[str, Any]:
    """Check a compact JWS over exactly `payload` with `jwk`; return its header, or raise JwsError."""
    try:
        parts = token.decode("ascii").strip().split(".")
    except UnicodeDecodeError:
        raise JwsError("not a compact JWS") from None
    if len(parts) != 3:
        raise JwsError("not a compact JWS (expected three dot-separated parts)")
    try:
        header = json.loads(unb64url(parts[0]))
    except ValueError:
        raise JwsError("the JWS header is not JSON") from None
    if not isinstance(header, dict):
        raise JwsError("the JWS header is not a JSON object")
    algorithm = header.get("alg")
    if algorithm not in HASHES:
        raise JwsError(f"unsupported JWS algorithm {algorithm!r}")
    if unb64url(parts[1]) != payload:
        raise JwsError("the JWS payload is not manifest.json")
    if "kid" in jwk and header.get("kid") != jwk["kid"]:
        raise JwsError("the JWS key id does not name the included public key")
    key = public_key(jwk)
    signature = unb64url(parts[2])
    data = f"{parts[0]}.{parts[1]}".encode("ascii")
    chosen = _hash(algorithm)
    try:
        if algorithm.startswith("ES"):
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise JwsError(f"{algorithm} needs an EC key")
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise JwsError(f"{algorithm} signature has {len(signature)} bytes, expected {2 * size}")
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(chosen))
        else:
            if not isinstance(key, rsa.RSAPublicKey):
                raise JwsError(f"{algorithm} needs an RSA key")
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if algorithm.startswith("RS")
                else padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
            )
            key.verify(signature, data, pad, chosen)
    except InvalidSignature:
        raise JwsError("the signature does not verify") from None
    return header


def same_key(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """True when two JWKs hold the same public key (ids and key_ops aside)."""
    members = ("n", "e") if str(left.get("kty", "")).startswith("RSA") else ("crv", "x", "y")
    normal = {"RSA-HSM": "RSA", "EC-HSM": "EC"}
    kty_left = normal.get(str(left.get("kty")), left.get("kty"))
    kty_right = normal.get(str(right.get("kty")), right.get("kty"))
    return kty_left == kty_right and all(left.get(m) == right.get(m) for m in members)
