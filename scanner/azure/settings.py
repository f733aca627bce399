"""App settings and deployment environment variables: classify each value in memory, keep only facts.

A value is read inside one function and goes out of scope there; what leaves is the setting's
name, whether it is a Key Vault reference, and its secret class.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import DecodeError

from scanner import secrets
from scanner.azure.arm import WEB_API, ArmClient
from scanner.inventory import AppSettingFact, AppSettingsFacts

ENV_KEY = "environmentvariables"


def site_facts(arm: ArmClient, site_id: str) -> AppSettingsFacts:
    """POST `config/appsettings/list` and `config/connectionstrings/list` (needs more than Reader)."""
    facts: list[AppSettingFact] = []
    settings = _listed(arm, f"{site_id}/config/appsettings/list")
    facts.extend(secrets.facts_from_map(settings, "app_setting"))
    strings = _listed(arm, f"{site_id}/config/connectionstrings/list")
    for name, entry in strings.items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        facts.append(secrets.fact(str(name), value, "connection_string"))
    return AppSettingsFacts(resource_id=site_id, settings=tuple(facts))


def _listed(arm: ArmClient, path: str) -> dict[str, Any]:
    """The `properties` map of a `config/*/list` reply. A reply without one is not "no settings"
    (a site without any answers `{}`): read as none, a secret in a setting would pass unseen."""
    body = arm.post(path, WEB_API)
    properties = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(properties, dict):
        raise DecodeError(f"POST {path.rsplit('/config/', 1)[-1]}: no 'properties' object")
    return properties


def redact_deployment(row: dict[str, Any]) -> AppSettingsFacts | None:
    """Replace an ML deployment's `properties.environmentVariables` values in place; return their facts."""
    properties = row.get("properties")
    if not isinstance(properties, dict):
        return None
    for key in list(properties):
        if key.lower() == ENV_KEY and isinstance(properties[key], dict):
            facts = secrets.facts_from_map(properties[key], "environment_variable")
            properties[key] = secrets.redact_map(properties[key])
            return AppSettingsFacts(resource_id=str(row.get("id", "")), settings=facts)
    return None
