"""Logical resource kinds: what a check targets, beyond the ARM type.

A web app and a function app share `microsoft.web/sites`; only `kind` tells them apart. A
deployment slot (`microsoft.web/sites/slots`) is a separately reachable copy of its app with its
own settings, so it is classified like a site and every app check judges it on its own.
Checks declare kinds, the runner indexes them by kind, and each resource is classified once.
"""

from __future__ import annotations

from scanner.models import Resource

AKS = "aks"
WEB_APP = "webapp"
FUNCTION_APP = "functionapp"
ML_WORKSPACE = "ml-workspace"
ML_ONLINE_ENDPOINT = "ml-online-endpoint"
ML_ONLINE_DEPLOYMENT = "ml-online-deployment"
ML_COMPUTE = "ml-compute"
KEY_VAULT = "keyvault"
MANAGED_HSM = "managed-hsm"
"""A Key Vault Managed HSM pool: it holds keys only (customer-managed keys among them), no secrets."""
STORAGE = "storage"
REGISTRY = "acr"
COGNITIVE = "cognitive"
SUBSCRIPTION = "subscription"
DEFENDER_ASSESSMENT = "defender-assessment"

DEPLOYMENT_KINDS = (ML_ONLINE_DEPLOYMENT, AKS, WEB_APP, FUNCTION_APP)

_BY_TYPE = {
    "microsoft.containerservice/managedclusters": AKS,
    "microsoft.machinelearningservices/workspaces": ML_WORKSPACE,
    "microsoft.machinelearningservices/workspaces/onlineendpoints": ML_ONLINE_ENDPOINT,
    "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments": ML_ONLINE_DEPLOYMENT,
    "microsoft.machinelearningservices/workspaces/computes": ML_COMPUTE,
    "microsoft.keyvault/vaults": KEY_VAULT,
    "microsoft.keyvault/managedhsms": MANAGED_HSM,
    "microsoft.storage/storageaccounts": STORAGE,
    "microsoft.containerregistry/registries": REGISTRY,
    "microsoft.cognitiveservices/accounts": COGNITIVE,
    "microsoft.resources/subscriptions": SUBSCRIPTION,
    "microsoft.security/assessments": DEFENDER_ASSESSMENT,
}

ALL_KINDS = (*sorted(set(_BY_TYPE.values())), WEB_APP, FUNCTION_APP)

APP_SERVICE_TYPES = ("microsoft.web/sites", "microsoft.web/sites/slots")
"""Sites and their deployment slots: both carry `kind` and are judged by the app checks."""


def is_function_app(resource: Resource) -> bool:
    """PSRule's selector: kind contains `functionapp` and not `workflowapp` (Logic Apps Standard)."""
    kind = (resource.kind or "").lower()
    return "functionapp" in kind and "workflowapp" not in kind


def kind_of(resource: Resource) -> str | None:
    """The logical kind of a resource, or None when no check targets it directly."""
    type_key = resource.type_key
    if type_key in APP_SERVICE_TYPES:
        kind = (resource.kind or "").lower()
        if "workflowapp" in kind:
            return None
        return FUNCTION_APP if is_function_app(resource) else WEB_APP
    return _BY_TYPE.get(type_key)
