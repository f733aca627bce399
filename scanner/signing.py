"""Sign an evidence-pack manifest with an Azure Key Vault key; the private key never leaves the vault.

`KEY_URL` is `https://<vault>.vault.azure.net/keys/<name>[/<version>]`. The key is read once for
its public half and exact version (the JWS `kid`), the digest of the JWS signing input is signed
by Key Vault's `sign` operation through `CryptographyClient`, and the public key is written as a
JWK beside the signature so `mlwarden verify` can check it offline. A vault host outside the
cloud's vault domains (Azure Stack, a private DNS name, the test fake) is accepted because the
user named it: only for that host is the SDK's challenge-resource check relaxed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

from scanner import jws
from scanner.errors import InputError
from scanner.textsafe import printable

VAULT_DOMAINS = (
    "vault.azure.net",
    "vault.usgovcloudapi.net",
    "vault.azure.cn",
    "managedhsm.azure.net",
    "managedhsm.usgovcloudapi.net",
    "managedhsm.azure.cn",
)


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A Key Vault key named by URL, with or without its version."""

    url: str
    vault_url: str
    host: str
    name: str
    version: str | None

    @classmethod
    def parse(cls, url: str, *, option: str = "--sign-key") -> KeyRef:
        try:
            parts = urlsplit(url.strip())
            _ = parts.port  # `[::1` or a port past 65535: a ValueError when the vault is first called
        except ValueError as exc:
            raise InputError(f"{option} {printable(url)!r}: not a URL ({exc})") from None
        segments = [s for s in parts.path.split("/") if s]
        if (
            parts.scheme != "https"
            or not parts.hostname
            or parts.query
            or parts.fragment
            or len(segments) not in (2, 3)
            or segments[0] != "keys"
        ):
            raise InputError(f"{option} {url!r}: expected https://<vault>.vault.azure.net/keys/<name>[/<version>]")
        vault_url = f"https://{parts.netloc}"
        return cls(
            url=url.strip().rstrip("/"),
            vault_url=vault_url,
            host=parts.hostname.lower(),
            name=segments[1],
            version=segments[2] if len(segments) == 3 else None,
        )

    @property
    def known_domain(self) -> bool:
        return any(self.host.endswith("." + domain) for domain in VAULT_DOMAINS)

    def client_kwargs(self, transport: dict[str, Any]) -> dict[str, Any]:
        """Challenge-resource checking stays on for real vault domains and is relaxed for a host the user named."""
        return {"verify_challenge_resource": self.known_domain, **transport}


def _why(exc: AzureError) -> str:
    if isinstance(exc, ClientAuthenticationError):
        return "authentication failed (check the credential environment and --authority-host)"
    if isinstance(exc, HttpResponseError):
        code = getattr(exc.error, "code", None) or exc.reason or ""
        hint = " (needs Key Vault Crypto User on the key: keys/get and keys/sign)" if exc.status_code == 403 else ""
        return f"HTTP {exc.status_code} {code}{hint}".strip()
    from scanner.azure.failures import network

    return f"the vault gave no answer: {network(exc)}"


def _jwk(key: Any, ref: KeyRef) -> dict[str, Any]:
    """The public JWK of a KeyVaultKey; a reply without the key's public numbers is one error line."""
    try:
        return _public(key)
    except (AttributeError, TypeError, ValueError):  # no `key` object, or members missing from it
        raise InputError(f"key {ref.url}: Key Vault's reply holds no usable public key") from None


def _public(key: Any) -> dict[str, Any]:
    """Members as Key Vault returns them, base64url-encoded."""
    material = key.key
    kty = str(getattr(material.kty, "value", material.kty))
    out: dict[str, Any] = {"kty": kty.removesuffix("-HSM"), "kid": key.id}
    if out["kty"] == "RSA":
        out.update(n=jws.b64url(material.n), e=jws.b64url(material.e))
    elif out["kty"] == "EC":
        out.update(
            crv=str(getattr(material.crv, "value", material.crv)), x=jws.b64url(material.x), y=jws.b64url(material.y)
        )
    return out


def _fetch(ref: KeyRef, credential: Any, transport: dict[str, Any]) -> Any:
    from azure.keyvault.keys import KeyClient

    try:
        with KeyClient(ref.vault_url, credential, **ref.client_kwargs(transport)) as client:
            return client.get_key(ref.name, ref.version)
    except (AzureError, ValueError) as exc:
        reason = _why(exc) if isinstance(exc, AzureError) else str(exc).split(".")[0]
        raise InputError(f"key {ref.url}: cannot read the public key: {reason}") from None
    except (AttributeError, TypeError, KeyError):  # the SDK choked on a reply without the key object
        raise InputError(f"key {ref.url}: Key Vault's reply holds no usable public key") from None


def fetch_public_jwk(ref: KeyRef, credential: Any, transport: dict[str, Any]) -> dict[str, Any]:
    """The key's public half as a JWK whose `kid` is the full, versioned key URL."""
    return _jwk(_fetch(ref, credential, transport), ref)


def sign(manifest: bytes, ref: KeyRef, credential: Any, transport: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """A compact JWS over exactly `manifest` and the public JWK that verifies it."""
    from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm

    key = _fetch(ref, credential, transport)
    jwk = _jwk(key, ref)
    if KeyRef.parse(jwk["kid"]).host != ref.host:  # the relaxed challenge check must not follow it elsewhere
        raise InputError(f"--sign-key {ref.url}: the vault names its key {jwk['kid']}, on another host")
    try:
        algorithm = jws.algorithm_for(jwk)
    except jws.JwsError as exc:
        raise InputError(f"--sign-key {ref.url}: {exc}") from None
    header = {"alg": algorithm, "kid": jwk["kid"]}
    signing_input = jws.signing_input(header, manifest)
    try:
        with CryptographyClient(key, credential, **ref.client_kwargs(transport)) as client:
            result = client.sign(SignatureAlgorithm(algorithm), jws.digest(algorithm, signing_input))
    except (AzureError, ValueError) as exc:
        reason = _why(exc) if isinstance(exc, AzureError) else str(exc).split(".")[0]
        raise InputError(f"--sign-key {ref.url}: Key Vault could not sign: {reason}") from None
    token = signing_input + b"." + jws.b64url(result.signature).encode("ascii")
    try:
        jws.verify(token, manifest, jwk)
    except jws.JwsError as exc:
        raise InputError(f"--sign-key {ref.url}: Key Vault's signature does not verify ({exc})") from None
    return token, jwk
