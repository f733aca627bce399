"""The credential a collection uses: injected, or `DefaultAzureCredential` for the chosen cloud."""

from __future__ import annotations

from typing import Any

from scanner.azure.options import CollectOptions


def credential_for(options: CollectOptions) -> Any:
    """`DefaultAzureCredential` honours env, workload identity, managed identity and the CLIs in that order."""
    if options.credential is not None:
        return options.credential
    from azure.identity import DefaultAzureCredential

    authority = options.authority_host or options.endpoints.authority
    return DefaultAzureCredential(authority=authority, **options.transport_kwargs())
