"""The credential a collection uses: injected, or a chain like `DefaultAzureCredential` bound to one authority.

`DefaultAzureCredential(authority=...)` hands the authority only to some of its credentials:
workload identity (and managed identity's own workload-identity path) fall back to
`AZURE_AUTHORITY_HOST` or the public cloud, so a US Gov or China CI job would sign in at the
wrong authority. This chain gives every credential that talks to an authority the chosen one,
and turns off MSAL's instance discovery (a call to the public cloud) for an authority that is
not a known cloud. Order and `AZURE_TOKEN_CREDENTIALS` follow `DefaultAzureCredential`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from scanner import argv
from scanner.azure.failures import bounds
from scanner.azure.options import CLOUDS, REQUESTS_CA_ENV, CollectOptions
from scanner.azure.pipeline import json_token_reply
from scanner.azure.signin import SignInChain
from scanner.errors import InputError
from scanner.files import refuse
from scanner.textsafe import printable

TOKEN_CREDENTIALS = "AZURE_TOKEN_CREDENTIALS"
AUTHORITY_ENV = "AZURE_AUTHORITY_HOST"
WORKLOAD_ENV = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE")
CHAIN = (
    ("environmentcredential", "EnvironmentCredential"),
    ("workloadidentitycredential", "WorkloadIdentityCredential"),
    ("managedidentitycredential", "ManagedIdentityCredential"),
    ("azureclicredential", "AzureCliCredential"),
    ("azurepowershellcredential", "AzurePowerShellCredential"),
    ("azuredeveloperclicredential", "AzureDeveloperCliCredential"),
)
GROUPS = {"prod": CHAIN[:3], "dev": CHAIN[3:]}


def authority_of(options: CollectOptions) -> str:
    """The chosen authority as an https URL.

    `--authority-host`; else a sovereign cloud's own; else `AZURE_AUTHORITY_HOST`, which
    azure-identity reads by itself (and AKS's workload-identity webhook sets); else the public cloud.
    """
    value = options.authority_host
    if not value and options.cloud == "public":
        value = os.environ.get(AUTHORITY_ENV, "").strip() or None
        if value:
            argv.https_url(value, AUTHORITY_ENV, bare_host=True)
    value = (value or options.endpoints.authority).strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def is_known_cloud(authority: str) -> bool:
    host = (urlsplit(authority).hostname or "").lower()
    return host in {cloud.authority for cloud in CLOUDS.values()}


def selected() -> tuple[tuple[str, str], ...]:
    """The credentials `AZURE_TOKEN_CREDENTIALS` selects (`prod`, `dev` or one name), all by default."""
    wanted = os.environ.get(TOKEN_CREDENTIALS, "").strip().lower()
    if not wanted:
        return CHAIN
    if wanted in GROUPS:
        return GROUPS[wanted]
    chosen = tuple(entry for entry in CHAIN if entry[0] == wanted)
    if not chosen:
        names = ", ".join(["prod", "dev", *(key for key, _ in CHAIN)])
        raise InputError(f"{TOKEN_CREDENTIALS}={wanted!r} is not one of {names}")
    return chosen


def check_ca_bundle(options: CollectOptions) -> None:
    """A `--ca-bundle` (or `SSL_CERT_FILE`) that cannot be read or holds no certificate is an input error.

    Left to the transport, every sign-in would fail with "authority unreachable" or an OSError.
    """
    trusted = options.trusted_ca
    if trusted is None:
        if not options.ca_bundle:
            # `requests` reads these itself (a file, or a directory of hashed certificates): judged by
            # kind only, so a FIFO or a /proc file named there is one line, not a hung or odd sign-in.
            for name in REQUESTS_CA_ENV:
                if value := os.environ.get(name):
                    where = f"{name}={printable(value)}"
                    if not os.path.exists(value):
                        raise InputError(f"{where}: no such file or directory")
                    refuse(where, value, "tree")
                    break
        return
    path, named = trusted
    where = f"{named} {printable(path)}" if named.startswith("--") else f"{named}={printable(path)}"
    # Judged by kind first, as every input file is: a FIFO named by the variable would hang the
    # sign-in, and a /proc file would be read as the kernel makes it up.
    refuse(where, path)
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError:
        raise InputError(f"{where}: no PEM certificate in it") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def credential_for(options: CollectOptions) -> Any:
    check_ca_bundle(options)
    if options.credential is not None:
        return options.credential
    import azure.identity as identity

    authority = authority_of(options)
    transport = {**options.transport_kwargs(), "raw_response_hook": json_token_reply}
    discovery = {} if is_known_cloud(authority) else {"disable_instance_discovery": True}
    factories: dict[str, Callable[[], Any]] = {
        "environmentcredential": lambda: identity.EnvironmentCredential(authority=authority, **discovery, **transport),
        "workloadidentitycredential": lambda: identity.WorkloadIdentityCredential(authority=authority, **transport),
        # Its own workload-identity path would ignore the authority: that case is the credential above.
        "managedidentitycredential": lambda: identity.ManagedIdentityCredential(
            client_id=os.environ.get("AZURE_CLIENT_ID"),
            _exclude_workload_identity_credential=True,
            _enable_imds_probe=True,
            # Its own 2 s connect timeout (IMDS off Azure never connects), and ours for the reply (and the
            # whole reply's deadline): azure-core's 300 s read timeout held a run on an endpoint that
            # accepted and never answered.
            transport=options.transport(connect_timeout=min(2.0, options.connect_timeout)),
            raw_response_hook=json_token_reply,
        ),
        # The developer tools sign in through their own processes, in the cloud they are set to.
        "azureclicredential": lambda: identity.AzureCliCredential(process_timeout=10),
        "azurepowershellcredential": lambda: identity.AzurePowerShellCredential(process_timeout=10),
        "azuredeveloperclicredential": lambda: identity.AzureDeveloperCliCredential(process_timeout=10),
    }
    credentials: list[tuple[str, Any]] = []
    unavailable: list[tuple[str, str]] = []
    for key, name in selected():
        if key == "workloadidentitycredential" and (missing := [n for n in WORKLOAD_ENV if not os.environ.get(n)]):
            unavailable.append((name, f"not configured (no {'/'.join(missing)})"))
            continue
        credentials.append((name, factories[key]()))
    return SignInChain(authority, credentials, unavailable, bounds(options))
