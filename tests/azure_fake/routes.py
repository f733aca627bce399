"""Routing for the fake: one method per Azure API slice the scanner uses."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from scanner.estate import parent_id
from scanner.inventory import KEY_METADATA
from tests.azure_fake import kql, signing
from tests.azure_fake.estate import ROUTE_SOURCES, key_bundle, key_item, rotation_policy
from tests.azure_fake.limits import retry_after

if TYPE_CHECKING:
    from tests.azure_fake.server import AzureFake

EXPIRY_DATES = {
    "iso": lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
    "appservice": lambda t: time.strftime("%m/%d/%Y %I:%M:%S %p +00:00", time.gmtime(t)),
    "http-date": lambda t: formatdate(t, usegmt=True),
}
"""`wire.token_expiry` spellings of `expires_on` as a date."""
PRICING = "microsoft.security/pricings"
VAULT_SUFFIX = ".vault.azure.net"
HSM_SUFFIX = ".managedhsm.azure.net"
HSM_SCOPE = "https://managedhsm.azure.net/.default"
MSI_PATH = "/msi/token"
"""App Service's managed identity endpoint (`IDENTITY_ENDPOINT`), served by the fake."""
MSI_HEADER = "fake-identity-header-CANARY-5c1d"
IMDS_PATH = "/metadata/identity/oauth2/token"
"""The instance metadata service's token path (a VM, VM scale set or AKS node; `AZURE_POD_IDENTITY_AUTHORITY_HOST`)."""
"""The `IDENTITY_HEADER` secret the endpoint expects in `X-IDENTITY-HEADER`."""
ID = r"(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^?]+?)"
ARM_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("GET", "pricings", re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.Security/pricings$", re.I)),
    ("GET", "contacts", re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.Security/securityContacts$", re.I)),
    ("GET", "assessments", re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.Security/assessments$", re.I)),
    ("GET", "diagnostics", re.compile(rf"^{ID}/providers/Microsoft\.Insights/diagnosticSettings$", re.I)),
    ("GET", "computes", re.compile(rf"^{ID}/computes$", re.I)),
    ("GET", "publishing", re.compile(rf"^{ID}/basicPublishingCredentialsPolicies$", re.I)),
    ("GET", "config", re.compile(rf"^{ID}/config/web$", re.I)),
    ("GET", "authsettings", re.compile(rf"^{ID}/config/authsettingsV2$", re.I)),
    ("POST", "appsettings", re.compile(rf"^{ID}/config/appsettings/list$", re.I)),
    ("POST", "connectionstrings", re.compile(rf"^{ID}/config/connectionstrings/list$", re.I)),
    ("GET", "vault-keys", re.compile(rf"^{ID}/keys$", re.I)),
    ("GET", "secrets", re.compile(rf"^{ID}/secrets$", re.I)),
    ("GET", "tokens", re.compile(rf"^{ID}/tokens$", re.I)),
    ("GET", "containers", re.compile(rf"^{ID}/blobServices/default/containers$", re.I)),
    ("GET", "resource", re.compile(rf"^{ID}$", re.I)),  # last: any resource's own GET
    ("GET", "subscription", re.compile(r"^/subscriptions/([^/]+)$", re.I)),  # Subscriptions - Get
    ("GET", "subscriptions", re.compile(r"^(/subscriptions)$", re.I)),  # Subscriptions - List
]


def _spelt_port(url: str) -> str:
    """The fake's URL with its host in capitals: the same origin spelt another way (ARM adds `:443`)."""
    scheme, _, rest = url.partition("://")
    host, _, port = rest.partition(":")
    return f"{scheme.upper()}://{host.upper()}:{port}"


def _nulled(row: dict[str, Any], types: set[str]) -> bool:
    """`wire.graph_null_properties`: this row's type or id is named (or `*`, every row)."""
    return "*" in types or str(row.get("type", "")).lower() in types or str(row.get("id", "")).lower() in types


class Router:
    def __init__(self, fake: AzureFake, handler: Any) -> None:
        self.fake = fake
        self.handler: BaseHTTPRequestHandler = handler
        split = urlsplit(handler.path)
        self.path = split.path
        prefix = fake.wire.arm_prefix
        self.unprefixed = False
        """`wire.arm_prefix_only` and the request came without the prefix: a gateway knows no such route."""
        if prefix and (self.path == prefix or self.path.startswith(prefix + "/")):
            self.path = self.path[len(prefix) :] or "/"  # ARM behind a path, as on a gateway or Azure Stack Hub
        elif prefix and fake.wire.arm_prefix_only and not self.path.startswith(("/kv/", MSI_PATH, IMDS_PATH)):
            self.unprefixed = "/oauth2/" not in self.path and "/.well-known/" not in self.path
        self.params = parse_qs(split.query)
        self.extra_headers: dict[str, str] = {}
        """Sent with every reply (ARM's remaining-reads count)."""

    def reply(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> None:
        headers = {**self.extra_headers, **(headers or {})}
        echo = self.fake.wire.error_echo
        if echo and status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
            body = {"error": {**body["error"], "message": f"{body['error'].get('message')} {echo}"}}
        if status >= 400 and raw is None and self.fake.wire.error_shape != "error":
            body, raw = _reshape(self.fake.wire.error_shape, body, headers)
        self.handler.reply(status, body, headers, raw)  # type: ignore[attr-defined]

    def retry_after(self, seconds: float) -> dict[str, str]:
        """`Retry-After` as the wire variant spells it: whole seconds, an HTTP date, or not at all."""
        style = self.fake.wire.retry_after
        if style == "none":
            return {}
        if style == "date":
            return {"Retry-After": formatdate(time.time() + max(1, math.ceil(seconds)), usegmt=True)}
        if style == "ms":  # what some resource providers send instead (azure-core reads both)
            return {"x-ms-retry-after-ms": str(max(1, math.ceil(seconds * 1000)))}
        if style == "ms-plain":  # the unprefixed spelling azure-core also reads
            return {"retry-after-ms": str(max(1, math.ceil(seconds * 1000)))}
        if style == "hour":  # the old hourly ARM quota spent: come back in an hour
            return {"Retry-After": "3600"}
        if style == "garbled":  # a gateway's own spelling, in no HTTP form
            return {"Retry-After": "soon"}
        return retry_after(seconds)

    def collection(self, items: list[dict[str, Any]]) -> None:
        """An ARM list reply: `value`, paged by `nextLink` when the wire variant asks for pages."""
        wire = self.fake.wire
        if not wire.arm_item_ids:
            items = [{k: v for k, v in item.items() if k != "id"} for item in items]
        if wire.arm_item_id_as is not None:
            items = [{**item, "id": wire.arm_item_id_as} for item in items]
        if wire.arm_item_name_as is not None:
            items = [{**item, "name": wire.arm_item_name_as} for item in items]
        if not items and wire.arm_empty_value != "list":
            return self.reply(200, {} if wire.arm_empty_value == "missing" else {"value": None})
        size = wire.arm_page_size
        if not size:
            return self.reply(200, {"value": items})
        start = int(self.params.get("$skiptoken", ["0"])[0])
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            version = self.params.get("api-version", [""])[0]
            following = 0 if wire.arm_next_link == "loop" else start + size
            link = f"{self.path}?api-version={version}&$skiptoken={following}"
            base = {"relative": "", "elsewhere": wire.arm_next_host, "port": _spelt_port(self.fake.url)}
            body["nextLink"] = base.get(wire.arm_next_link, self.fake.url) + link
        self.reply(200, body)

    def count(self, route: str) -> None:
        with self.fake._lock:
            self.fake.counts[route] += 1

    def route(self, method: str, body: bytes) -> None:
        path = self.path
        with self.fake._lock:
            raw_path = urlsplit(self.handler.path).path  # as sent, before any `arm_prefix` is taken off
            self.fake.requests.append((str(self.handler.headers.get("Host", "")).lower(), method, raw_path))
            if self.handler.headers.get("Authorization"):
                self.fake.bearers.append(raw_path)
        if self.unprefixed:
            return self.reply(404, {"error": {"code": "NotFound", "message": "No route for this path."}})
        moved = self.fake.wire.redirect_to and path.startswith(self.fake.wire.redirect_only)
        if moved and not path.endswith("/oauth2/v2.0/token"):
            # A gateway sending every API request on to another host (307 keeps the method and body).
            return self.reply(307, None, {"Location": self.fake.wire.redirect_to + self.handler.path})
        if method == "POST" and path.endswith("/oauth2/v2.0/token"):
            return self.token(body)
        if method == "GET" and path == MSI_PATH:
            return self.managed_identity()
        if method == "GET" and path == IMDS_PATH:
            return self.imds()
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            return self.openid(path)
        host = str(self.handler.headers.get("Host", "")).lower().split(":")[0]
        if host.endswith(VAULT_SUFFIX):  # a vault at its own host, as real vault URIs are (reached through a proxy)
            name = host.removesuffix(VAULT_SUFFIX)
            return self.keyvault(method, [name, *(p for p in path.split("/") if p)], f"https://{host}")
        if host.endswith(HSM_SUFFIX):  # a Managed HSM at its own host: the same key routes, its own audience
            name = host.removesuffix(HSM_SUFFIX)
            return self.keyvault(method, [name, *(p for p in path.split("/") if p)], f"https://{host}", hsm=True)
        if path.startswith("/kv/"):
            parts = [p for p in path[len("/kv/") :].split("/") if p]
            return self.keyvault(method, parts, f"{self.fake.url}/kv/{parts[0] if parts else ''}")
        if path.startswith("/keys/"):
            return signing.route(self, method, body)
        auth = self.handler.headers.get("Authorization")
        if not self.fake.token_valid(auth):
            self.count("unauthorized")
            return self.reply(401, _error("AuthenticationFailed", "missing or unknown bearer token"))
        if self.fake.take("token_spent"):
            return self.spent(auth)
        if method == "POST" and path.lower() == "/providers/microsoft.resourcegraph/resources":
            return self.graph(body)
        for route_method, name, pattern in ARM_ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                return self.arm(name, match.group(1))
        self.count("unknown")
        self.reply(404, _error("NoRoute", f"the fake does not serve {method} {path}"))

    def spent(self, auth: str | None) -> None:
        """ARM's answer to a token it no longer honours (expired by its clock, or revoked): no claims to meet."""
        self.count("spent")
        self.fake.revoke(str(auth))
        challenge = (
            f'Bearer authorization_uri="{self.fake.url}/{_tenant()}", error="invalid_token", '
            'error_description="The access token has expired"'
        )
        body = _error("ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time")
        return self.reply(401, body, {"WWW-Authenticate": challenge})

    # -- identity ------------------------------------------------------------------------
    def token(self, body: bytes) -> None:
        self.count("token")
        with self.fake._lock:
            canned = self.fake.faults.token_replies.pop(0) if self.fake.faults.token_replies else None
        if canned is not None:
            status, reply, headers = canned
            return self.reply(status, reply, {"Content-Type": "application/json; charset=utf-8", **headers})
        if self.fake.take("token_5xx"):
            return self.reply(503, {"error": "temporarily_unavailable", "error_description": "AADSTS90033"})
        if self.fake.faults.token_refused:
            error = {"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found."}
            return self.reply(400, error)
        form = parse_qs(body.decode())
        self.fake.token_scopes.extend(form.get("scope", []))
        token = self.fake.issue_token(tuple(" ".join(form.get("scope", [])).split()))
        expiry: dict[str, Any] = {"expires_in": 3599, "ext_expires_in": 3599}
        if self.fake.wire.token_expiry == "str":  # as the v1 endpoint and some proxies send them
            expiry = {"expires_in": "3599", "ext_expires_in": "3599"}
        elif self.fake.wire.token_expiry == "on":
            expiry = {"expires_on": str(int(time.time()) + 3599)}
        elif self.fake.wire.token_expiry in EXPIRY_DATES:  # a date, as ADFS, App Service 2017 or a proxy spell it
            expiry = {"expires_on": EXPIRY_DATES[self.fake.wire.token_expiry](time.time() + 3599)}
        elif self.fake.wire.token_expiry == "refresh":  # a long-lived token: `refresh_in` too, all as strings
            expiry = {"expires_in": "86399", "ext_expires_in": "86399", "refresh_in": "43199"}
        elif self.fake.wire.token_expiry == "refresh-int":  # the same with numbers, as Entra ID's v2 endpoint
            expiry = {"expires_in": 86399, "ext_expires_in": 86399, "refresh_in": 43199}
        elif self.fake.wire.token_expiry == "ext-fraction":
            expiry = {"expires_in": 3599, "ext_expires_in": "3599.0", "refresh_in": "1799.5"}
        elif self.fake.wire.token_expiry == "fraction":
            expiry = {"expires_in": "3599.0", "expires_on": "soon"}
        # JSON by default, whatever `wire.content_type` says: `wire.token_content_type` varies it.
        json_type = {"Content-Type": self.fake.wire.token_content_type}
        self.reply(200, {"token_type": "Bearer", **expiry, "access_token": token}, json_type)

    def managed_identity(self) -> None:
        """App Service and Functions (2019-08-01): `resource`, not `scope`; `expires_on` as a string of seconds."""
        self.count("msi")
        if self.handler.headers.get("X-IDENTITY-HEADER") != MSI_HEADER:
            return self.reply(401, {"statusCode": 401, "message": "missing or wrong X-IDENTITY-HEADER"})
        resource = self.params.get("resource", [""])[0]
        self.fake.token_scopes.append(resource + "/.default")
        body = {
            "access_token": self.fake.issue_token(),
            "expires_on": str(int(time.time()) + 3599),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": self.params.get("client_id", ["system-assigned"])[0],
        }
        self.reply(200, body, {"Content-Type": "application/json; charset=utf-8"})

    def imds(self) -> None:
        """IMDS (2018-02-01): `Metadata: true` required (without it the probe gets 400); every value a string."""
        self.count("imds")
        if self.handler.headers.get("Metadata") != "true":
            return self.reply(400, {"error": "invalid_request", "error_description": "Required metadata header"})
        resource = self.params.get("resource", [""])[0]
        self.fake.token_scopes.append(resource + "/.default")
        now = int(time.time())
        body = {
            "access_token": self.fake.issue_token(),
            "refresh_token": "",
            "expires_in": "3599",
            "expires_on": str(now + 3599),
            "ext_expires_in": "3599",
            "not_before": str(now),
            "resource": resource,
            "token_type": "Bearer",
        }
        self.reply(200, body, {"Content-Type": "application/json; charset=utf-8"})

    def openid(self, path: str) -> None:
        """Tenant discovery, which MSAL (service principals) fetches from the authority it was given."""
        self.count("openid")
        base = f"https://{self.handler.headers.get('Host')}/{path.strip('/').split('/')[0]}"
        self.reply(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            },
        )

    # -- Resource Graph ------------------------------------------------------------------
    def graph(self, body: bytes) -> None:
        fake = self.fake
        self.count("graph")
        request = json.loads(body or b"{}")
        fake.graph_bodies.append(request)
        served, asked = fake.wire.graph_api_version, self.params.get("api-version", [""])[0]
        fake.graph_versions.append(asked)
        if served and asked != served:
            message = (
                f"The api-version '{asked}' is invalid. The supported versions are "
                f"'{served},2022-10-01,2021-06-01-preview,2020-04-01-preview'."
            )
            return self.reply(400, _error("InvalidApiVersionParameter", message))
        if fake.take("graph_429"):
            headers = fake.block(1.0)
            if fake.faults.graph_429_retry_after:
                headers.update(self.retry_after(1.0))
            return self.reply(429, _error("RateLimiting", "Client application has been throttled"), headers)
        if fake.take("graph_5xx"):
            return self.reply(503, _error("ServiceUnavailable", "try again"))
        if fake.take("graph_502"):
            return self.reply(502, raw=b"<html><body>502 Bad Gateway</body></html>")
        if fake.take("graph_reset"):
            self.handler.drop()  # type: ignore[attr-defined]
            return None
        options = request.get("options") or {}
        if fake.faults.graph_fail_paged and options.get("$skipToken"):
            return self.reply(fake.faults.graph_fail_paged, _error("InternalServerError", "paging failed"))
        allowed, headers = fake.quota_gate()
        if not allowed:
            headers.update(self.retry_after(float(headers["x-ms-user-quota-resets-after"][-2:])))
            return self.reply(429, _error("RateLimiting", "Client application has been throttled"), headers)
        if "graph" in fake.faults.unregistered:
            return self.reply(409, _unregistered("Microsoft.ResourceGraph"), headers)
        if fake.faults.graph_forbidden:
            status = fake.faults.graph_forbidden
            code = "AuthorizationFailed" if status == 403 else "InvalidAuthenticationToken"
            return self.reply(status, _error(code, "the client has no access to the scope"), headers)
        subscriptions = [s.lower() for s in request.get("subscriptions") or []]
        forbidden = {(fake.faults.forbidden_subscription or "").lower(), *fake.estate.refused_subscriptions} - {""}
        if forbidden & set(subscriptions):
            readable = [s for s in subscriptions if s not in forbidden]
            if fake.wire.graph_refusal != "drop" or not readable:
                return self.reply(403, _error("AuthorizationFailed", "no access to a subscription"), headers)
            subscriptions = readable  # Resource Graph leaves unreadable subscriptions out without a word
        vanished = (fake.faults.vanished_subscription or "").lower()
        if vanished and vanished in subscriptions:
            detail = {"code": "SubscriptionNotFound", "message": f"The subscription '{vanished}' could not be found."}
            error = {"code": "BadRequest", "message": "Please provide below info when asking for support"}
            return self.reply(400, {"error": {**error, "details": [detail]}}, headers)
        if fake.wire.graph_where_refused and "| where " in str(request.get("query", "")):
            # As Resource Graph refuses a query it cannot parse: `InvalidQuery`, then the parser's own detail.
            details = [
                {"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation."},
                {"code": "ParserFailure", "message": "ParserFailure", "line": 1, "token": "where"},
            ]
            refusal = {
                "code": "BadRequest",
                "message": "Please provide below info when asking for support",
                "details": details,
            }
            return self.reply(400, {"error": refusal}, headers)
        try:
            query = kql.parse(str(request.get("query", "")))
        except kql.UnknownQuery as exc:
            return self.reply(400, _error("BadRequest", f"unknown query shape: {exc}"), headers)
        self.count(f"graph:{query.table}")
        if query.table in fake.faults.graph_table_refused:
            return self.reply(fake.faults.graph_table_refused[query.table], _error("BadRequest", "table refused"))
        if query.table == "resourcechanges" and fake.faults.changes_refused:
            status = fake.faults.changes_refused
            return self.reply(status, _error("Forbidden" if status == 403 else "BadRequest", "resourcechanges refused"))
        table = fake.estate.tables.get(query.table, [])
        if (
            subscriptions and not fake.wire.graph_unscoped
        ):  # scoping happens before the projection, as in Resource Graph
            table = [r for r in table if str(r.get("subscriptionId", "")).lower() in subscriptions]
        rows = (kql.Query(query.table, columns=query.columns) if fake.wire.graph_unfiltered else query).select(table)
        if fake.wire.graph_sparse:
            rows = [{**r, **{k: None for k in ("subscriptionId", "resourceGroup") if k in r}} for r in rows]
        if nulled := fake.wire.graph_null_properties:
            odd = fake.wire.graph_properties_as
            rows = [{**r, "properties": odd} if _nulled(r, nulled) else r for r in rows]
        if (empty := fake.wire.graph_empty_as) is not None:
            rows = [{**r, **{k: empty for k in ("tags", "identity", "sku") if r.get(k) is None}} for r in rows]
        if query.table == "appserviceresources" and not fake.appservice_config_in_graph:
            rows = []
        if query.table == "securityresources" and not fake.pricings_in_graph:
            rows = [r for r in rows if str(r.get("type", "")).lower() != "microsoft.security/pricings"]
        if query.table == "securityresources" and fake.wire.graph_resource_pricings_only:
            rows = [r for r in rows if str(r.get("type", "")).lower() != PRICING or parent_id(str(r.get("id")))]
        wire = fake.wire
        paged = bool(options.get("$skipToken")) and not wire.graph_token_ignored
        start = int(base64.b64decode(options["$skipToken"]).decode()) if paged else 0
        if not paged and wire.graph_skip_honoured:  # `$skip`: rows to leave out from the start
            start = int(options.get("$skip") or 0)
        size = min(int(options.get("$top") or 100), fake.page_cap, wire.graph_page_size or fake.page_cap)
        page = rows[start : start + size]
        if wire.graph_repeat_row and 0 < start <= len(rows):
            page = [rows[start - 1], *page]
        if wire.graph_empty_first_page and not options.get("$skipToken") and rows:
            page, size = [], 0  # nothing this time, and a token to the first row
        payload: dict[str, Any] = {
            "totalRecords": len(rows) + wire.graph_total_offset,
            "count": len(page),
            "resultTruncated": wire.graph_truncated,
            "data": _table(page) if wire.graph_table else page,
            "facets": list(wire.graph_facets) if isinstance(wire.graph_facets, tuple) else wire.graph_facets,
        }
        if not wire.graph_counts:
            del payload["totalRecords"], payload["count"]
        if wire.graph_facets is None:  # left out altogether, as a terse fake may
            del payload["facets"]
        if start + size < len(rows) or (wire.graph_stuck_token and len(rows) > size) or (rows and not size):
            if wire.graph_truncate_without_token:
                payload["resultTruncated"] = "true"
            else:
                following = size if wire.graph_stuck_token else start + size
                payload[wire.graph_token_key] = base64.b64encode(str(following).encode()).decode()
                if wire.graph_truncated_with_token:  # more rows behind the token: "truncated" here means "paged"
                    payload["resultTruncated"] = "true"
                if wire.graph_token_ignored:  # a fresh token each time, which the next request will not read
                    payload[wire.graph_token_key] = base64.b64encode(
                        f"{following}#{fake.counts['graph']}".encode()
                    ).decode()
        ends = start + size >= len(rows) and start < len(rows) and page
        if wire.graph_trailing_token and ends and wire.graph_token_key not in payload:
            # The last rows, and a token anyway: it leads to a page with no rows and no token.
            payload[wire.graph_token_key] = base64.b64encode(str(len(rows)).encode()).decode()
        limit = wire.graph_payload_limit
        if limit is not None and len(json.dumps(payload)) > limit:
            return self.reply(400, _too_large(len(json.dumps(payload)), limit), headers)
        malformed = fake.faults.graph_malformed
        if malformed:
            fake.faults.graph_malformed = None
            if malformed == "json":
                return self.reply(200, raw=b"<html>upstream proxy error</html>", headers=headers)
            if malformed == "truncated":
                return self.reply(200, raw=json.dumps(payload).encode()[:40], headers=headers)
            if malformed == "bad-row":
                payload["data"] = [{"name": "no-id", "type": "microsoft.storage/storageaccounts"}]
            else:
                payload.pop("data")
        if fake.faults.tenant_limit_hit and not subscriptions:
            headers["x-ms-tenant-subscription-limit-hit"] = "true"
        self.reply(200, payload, headers)

    # -- ARM ----------------------------------------------------------------------------
    def arm(self, name: str, target: str) -> None:
        fake = self.fake
        self.count(f"arm:{name}")
        if fake.take("expire_token"):
            challenge = (
                f'Bearer authorization_uri="{fake.url}/{_tenant()}", error="insufficient_claims", claims="{_claims()}"'
            )
            return self.reply(
                401, _error("InvalidAuthenticationToken", "token expired"), {"WWW-Authenticate": challenge}
            )
        served = fake.wire.arm_api_versions.get(name)
        asked = self.params.get("api-version", [""])[0]
        if served and asked != served:
            message = (
                f"The api-version '{asked}' is invalid. The supported versions are "
                f"'{served},2014-04-01-preview,2014-04-01,2014-04'."
            )
            return self.reply(400, _error("InvalidApiVersionParameter", message))
        subscription = self.path.split("/")[2] if self.path.lower().startswith("/subscriptions/") else "tenant"
        if name in fake.faults.arm_routes_refused:  # a service that does not serve this route at all
            return self.reply(404, _error("NoRoute", f"the fake does not serve {name}"))
        wait = fake.arm_limits.admit(subscription) if fake.arm_limits else None
        if fake.arm_limits:
            self.extra_headers[fake.wire.arm_remaining_header] = str(fake.arm_limits.remaining(subscription))
        if wait is not None:
            self.count("arm:throttled")
            return self.reply(429, _error("TooManyRequests", "subscription reads exceeded"), self.retry_after(wait))
        forbidden = {(fake.faults.forbidden_subscription or "").lower(), *fake.estate.refused_subscriptions} - {""}
        if any(f"/subscriptions/{sub}/" in self.path.lower() + "/" for sub in forbidden):
            return self.reply(403, _error("AuthorizationFailed", "no access"))
        if _under(self.path, fake.faults.gone):
            return self.reply(404, _error("ResourceNotFound", "the resource was not found"))
        source = ROUTE_SOURCES.get(name)
        scope = target if target.startswith("/subscriptions/") else f"/subscriptions/{target}"
        if source and fake.estate.refuses(source, scope):
            return self.reply(403, _error("AuthorizationFailed", f"the estate records a {source} gap here"))
        if self.handler.command == fake.faults.arm_429_method and fake.take("arm_429"):
            headers = self.retry_after(0.3) if fake.wire.retry_after in ("date", "ms", "hour", "garbled") else {}
            return self.reply(429, _error("TooManyRequests", "subscription read quota exceeded"), headers)
        if self.handler.command == "GET" and fake.take("arm_5xx"):
            return self.reply(500, _error("InternalServerError", "transient"))
        estate = fake.estate
        key = target.lower()
        if name in fake.faults.unregistered:
            return self.reply(fake.faults.unregistered_status, _unregistered("Microsoft.Security"))
        if name == "subscriptions":  # only those the caller can read, as ARM lists them
            rows = [r for r in estate.tables["resourcecontainers"] if str(r["subscriptionId"]).lower() not in forbidden]
            return self.collection([_arm_subscription(r) for r in rows])
        if name == "subscription":
            found = next((r for r in estate.tables["resourcecontainers"] if r["subscriptionId"].lower() == key), None)
            if found is None:
                return self.reply(
                    404, _error("SubscriptionNotFound", f"The subscription '{target}' could not be found.")
                )
            return self.reply(200, _arm_subscription(found))
        if name == "pricings":
            body = fake.wire.pricings_body
            return self.reply(200, {"value": estate.pricings.get(key, [])} if body is None else body)
        if name == "contacts":
            return self.collection(estate.contacts.get(key, []))
        if name == "assessments":
            items = estate.assessments.get(key, [])
            if fake.wire.assessment_details_lower:  # as the REST spec's example spells them
                items = [_lower_details(item) for item in items]
            return self.collection(items)
        if name in ("computes", "publishing", "diagnostics", "secrets", "tokens"):
            return self.collection(estate.children.get((name, key), []))
        if name == "containers":  # rows are children of the account's blobServices/default
            return self.collection(estate.children.get((name, f"{key}/blobservices/default"), []))
        if name == "config":
            config = estate.configs.get((key, "web"))
            return self.reply(200, config) if config else self.reply(404, _error("NotFound", "no config"))
        if name == "authsettings":
            config = estate.configs.get((key, "authsettingsv2"))
            return self.reply(200, config) if config else self.reply(404, _error("NotFound", "no auth settings"))
        if name in ("appsettings", "connectionstrings"):
            if fake.faults.forbidden_app_settings:
                return self.reply(403, _error("AuthorizationFailed", "needs config/list/action"))
            if fake.wire.settings_body is not None:
                return self.reply(200, fake.wire.settings_body)
            planted = estate.site_settings.get(key, {})
            if name == "appsettings":
                return self.reply(
                    200, {"id": f"{target}/config/appsettings", "properties": planted.get("app_setting", {})}
                )
            strings = {n: {"value": v, "type": "Custom"} for n, v in planted.get("connection_string", {}).items()}
            return self.reply(200, {"id": f"{target}/config/connectionstrings", "properties": strings})
        if name == "resource":
            found = estate.by_id.get(key)
            status = fake.faults.arm_refused.get(key, 200 if found else 404)
            if status == 404:
                return self.reply(404, _error("ResourceNotFound", "no such resource"))
            if status != 200:
                return self.reply(status, _error("AuthorizationFailed" if status == 403 else "Failed", "refused"))
            return self.reply(200, found)
        if name == "vault-keys":
            vault = target.rsplit("/", 1)[-1].lower()
            if vault in fake.faults.forbidden_vaults_arm:
                return self.reply(403, _error("AuthorizationFailed", "no access to keys"))
            items = estate.vault_keys_arm(target, full=fake.arm_key_fields)
            if fake.wire.arm_key_times != "int":
                for item in items:
                    attributes = item["properties"].get("attributes", {})
                    attributes.update(_times(attributes, fake.wire.arm_key_times))
            if fake.wire.kv_no_attributes == "everywhere":
                items = [
                    {**item, "properties": {k: v for k, v in item["properties"].items() if k != "attributes"}}
                    for item in items
                ]
            return self.collection(items)
        self.reply(404, _error("NoRoute", name))

    # -- Key Vault data plane --------------------------------------------------------------
    def keyvault(self, method: str, parts: list[str], base: str, *, hsm: bool | None = None) -> None:
        """`parts`: the vault's name, then the path below the vault; `base`: the URL the vault was reached at.

        A Managed HSM (`hsm`, or by name under `/kv/` when no vault has it) serves the same key routes, but
        its challenge names `https://managedhsm.azure.net` and it takes only a token for that audience."""
        fake = self.fake
        name = parts[0].lower() if parts else ""
        vault = None if hsm else fake.estate.vaults.get(name)
        if vault is None and hsm is not False:
            vault = fake.estate.hsms.get(name)
            hsm = vault is not None
        if vault is None or method != "GET" or len(parts) < 2 or parts[1] != "keys":
            self.count("kv:unknown")
            return self.reply(404, _error("NotFound", "no such vault route"))
        auth = self.handler.headers.get("Authorization")
        if not (fake.token_for(auth, HSM_SCOPE) if hsm else fake.token_valid(auth)):
            self.count("hsm:challenge" if hsm else "kv:challenge")
            challenge = _vault_challenge(fake.wire.kv_challenge, fake.url)
            if hsm:
                challenge = f'Bearer authorization="{fake.url}/{_tenant()}", resource="https://managedhsm.azure.net"'
            return self.reply(
                401,
                _error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."),
                {"WWW-Authenticate": challenge},
            )
        served, asked = fake.wire.kv_api_version, self.params.get("api-version", [""])[0]
        if served and asked != served:
            self.count("kv:version")
            message = (
                f"The specified version ({asked}) is not recognized. "
                f"Consider using the latest supported version ({served})."
            )
            return self.reply(400, _error("BadParameter", message))
        if fake.take("kv_busy"):
            self.count("kv:busy")
            headers = {
                "x-ms-keyvault-service-version": "1.9.1234.1",
                "x-ms-keyvault-network-info": "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
                "x-ms-keyvault-region": "westeurope",
            }
            if fake.counts["kv:busy"] % 2:
                return self.reply(
                    429,
                    _error("Throttled", "Request was not processed because too many requests were received."),
                    {**headers, **self.retry_after(0.2)},
                )
            return self.reply(503, _error("ServiceUnavailable", "The service is unavailable."), headers)
        if fake.take("kv_token_spent"):
            return self.spent(auth)
        if fake.take("kv_claims"):  # a valid token revoked mid-run: Key Vault's CAE claims challenge
            self.count("kv:claims")
            challenge = (
                f'Bearer realm="", authorization_uri="{fake.url}/{_tenant()}/oauth2/authorize", '
                f'error="insufficient_claims", claims="{_claims()}"'
            )
            return self.reply(401, _error("Unauthorized", "the token was revoked"), {"WWW-Authenticate": challenge})
        wait = fake.vault_limits.admit(parts[0]) if fake.vault_limits else None
        if wait is not None:
            self.count("kv:throttled")
            return self.reply(429, _error("Throttled", "vault transactions exceeded"), self.retry_after(wait))
        if _under(str(vault["id"]), fake.faults.gone):
            self.count("kv:gone")
            return self.reply(404, _error("VaultNotFound", "no such vault"))
        if parts[0].lower() in fake.faults.forbidden_vaults or fake.estate.refuses(KEY_METADATA, str(vault["id"])):
            self.count("kv:forbidden")
            if fake.wire.kv_vault_refusal:  # as Key Vault words it: the reason inside, the caller named
                return self.reply(403, _vault_refusal(fake.wire.kv_vault_refusal, parts[0]))
            return self.reply(403, _error("Forbidden", "caller is not authorized"))
        real_url = str((vault.get("properties") or {}).get("hsmUri" if hsm else "vaultUri", "")).rstrip("/")
        keys = fake.estate.keys.get(str(vault["id"]).lower(), [])
        if len(parts) == 2:
            self.count("hsm:list" if hsm else "kv:list")
            size = fake.wire.kv_page_size or int(self.params.get("maxresults", ["25"])[0])
            start = int(self.params.get("$skiptoken", ["0"])[0])
            value = [key_item(k, real_url) for k in keys[start : start + size]]
            if fake.wire.kv_key_times != "int":
                for item in value:
                    item["attributes"].update(_times(item["attributes"], fake.wire.kv_key_times))
            if fake.wire.kv_no_attributes:
                value = [{k: v for k, v in item.items() if k != "attributes"} for item in value]
            if fake.wire.kv_managed_in_get_only:
                value = [{k: v for k, v in item.items() if k != "managed"} for item in value]
            next_link = None
            if start + size < len(keys):
                following = size if fake.wire.kv_next_link == "loop" else start + size
                host = {
                    "elsewhere": fake.wire.kv_next_host,
                    "relative": urlsplit(base).path,
                    "home": real_url,  # the vault's own URI, wherever it was reached (as Key Vault writes it)
                    "loopback": base.replace("://localhost:", "://127.0.0.1:", 1),
                }.get(fake.wire.kv_next_link, base)
                next_link = f"{host}/keys?api-version=7.5&maxresults={size}&$skiptoken={following}"
            if not value and fake.wire.arm_empty_value != "list":  # the same shortcut on the data plane
                return self.reply(200, {} if fake.wire.arm_empty_value == "missing" else {"value": None})
            return self.reply(200, {"value": value, "nextLink": next_link})
        match = next((k for k in keys if k.name.lower() == parts[2].lower()), None)
        if match is None:
            return self.reply(404, _error("KeyNotFound", "no such key"))
        if len(parts) >= 4 and parts[3] == "rotationpolicy":
            self.count("kv:policy")
            if not match.rotation_policy_readable or match.name in fake.faults.policy_refused:
                refusal = _error("Forbidden", "missing keys/getrotationpolicy")
                if fake.wire.kv_policy_refusal:  # the reason, as Key Vault's inner error names it
                    refusal["error"]["innererror"] = {"code": fake.wire.kv_policy_refusal}
                return self.reply(403, refusal)
            if match.name == fake.wire.kv_policy_gone:
                return self.reply(404, _error("KeyNotFound", "the key was deleted"))
            policy = rotation_policy(match, real_url)
            if fake.wire.kv_policy_body is not None:
                return self.reply(200, fake.wire.kv_policy_body)
            if policy is None and fake.wire.kv_default_policy:  # the service's answer for a key never given one
                default = {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}
                return self.reply(200, {"lifetimeActions": [default], "attributes": {}})
            return self.reply(200, policy) if policy else self.reply(404, _error("NotFound", "no policy"))
        self.count("kv:get")
        if match.name == fake.wire.kv_deleted_key:
            return self.reply(404, _error("KeyNotFound", "the key was deleted"))
        bundle = key_bundle(match, real_url)
        if fake.wire.kv_key_times != "int":
            bundle["attributes"].update(_times(bundle["attributes"], fake.wire.kv_key_times))
        if fake.wire.kv_modulus_zero and "n" in bundle["key"]:
            octets = base64.urlsafe_b64decode(bundle["key"]["n"] + "==")
            bundle["key"]["n"] = base64.urlsafe_b64encode(b"\0" + octets).rstrip(b"=").decode()
        if fake.wire.kv_key_material:
            bundle["key"].update(dict.fromkeys(("n", "d", "p", "q", "k"), fake.wire.kv_key_material))
        if fake.wire.kv_key_without_key:
            del bundle["key"]
        if fake.wire.kv_no_attributes in ("both", "everywhere"):
            del bundle["attributes"]
        self.reply(200, bundle)


def _lower_details(item: dict[str, Any]) -> dict[str, Any]:
    """`resourceDetails` with lower-case keys (`source`, `id`), as the 2021-06-01 spec's examples write them."""
    properties = dict(item.get("properties") or {})
    details = properties.get("resourceDetails")
    if isinstance(details, dict):
        properties["resourceDetails"] = {k[:1].lower() + k[1:]: v for k, v in details.items()}
    return {**item, "properties": properties}


def _arm_subscription(row: dict[str, Any]) -> dict[str, Any]:
    """A `resourcecontainers` subscription row as ARM's Subscriptions - Get answers it (2022-12-01)."""
    properties = dict(row.get("properties") or {})
    body = {
        "id": row["id"],
        "subscriptionId": row["subscriptionId"],
        "tenantId": _tenant(),
        "displayName": row.get("name"),
        "authorizationSource": "RoleBased",
        **properties,
    }
    if row.get("tags") is not None:
        body["tags"] = row["tags"]
    return body


def _times(attributes: dict[str, Any], style: str) -> dict[str, Any]:
    """`wire.arm_key_times`: the unix-second fields spelt as `float`, `string` (digits), `iso` or `junk`."""
    spell: dict[str, Callable[[int], Any]] = {
        "float": float,
        "string": str,
        "iso": lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "junk": lambda t: "someday",
    }
    return {k: spell[style](v) for k, v in attributes.items() if k in ("exp", "nbf", "created", "updated")}


def _under(path: str, ids: set[str]) -> bool:
    """The path is one of these resources or below one (`faults.gone`)."""
    lowered = path.lower()
    return any(lowered == gone or lowered.startswith(gone + "/") for gone in ids)


def _table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows in Resource Graph's `table` result format: typed columns, then one list per row."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "object"}

    def kind(name: str) -> str:
        seen = {kinds.get(type(row.get(name)), "object") for row in rows if row.get(name) is not None}
        return seen.pop() if len(seen) == 1 else "object"

    return {
        "columns": [{"name": name, "type": kind(name)} for name in names],
        "rows": [[row.get(name) for name in names] for row in rows],
    }


def _too_large(size: int, limit: int) -> dict[str, Any]:
    """Resource Graph's refusal of a page over its reply limit (as `az graph query` printed one in 2024)."""
    detail = (
        f"Response payload size is {size}, and has exceeded the limit of {limit}. "
        "Please consider querying less data at a time and make paginated call if needed."
    )
    return {
        "error": {
            "code": "BadRequest",
            "message": "Please provide below info when asking for support: timestamp = 2026-01-01T00:00:00Z",
            "details": [{"code": "ResponsePayloadTooLarge", "message": detail}],
        }
    }


def _unregistered(namespace: str) -> dict[str, Any]:
    """ARM's answer when the subscription never registered the provider (the SDK would register it: a write)."""
    message = f"The subscription is not registered to use namespace '{namespace}'. See https://aka.ms/rps-not-found"
    return _error("MissingSubscriptionRegistration", message)


def _reshape(shape: str, body: Any, headers: dict[str, str]) -> tuple[Any, bytes | None]:
    """An `{"error": {"code", "message"}}` reply in another spelling (`wire.error_shape`)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return body, None
    code, message = str(error.get("code")), str(error.get("message"))
    if shape == "odata":
        return {"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}}, None
    if shape == "top-level":
        return {"code": code, "message": message}, None
    if shape == "inner":
        return {"error": {"code": "Forbidden", "message": message, "innererror": {"code": code}}}, None
    if shape == "message":
        return {"error": {"message": f"{code}: {message}"}}, None
    if shape == "text":
        headers["Content-Type"] = "text/plain"
        return None, f"{code}: {message}".encode()
    if shape == "header":  # no body; the code in a header, as Storage and some gateways send it
        headers["x-ms-error-code"] = code
        return None, b""
    if shape == "html":
        headers["Content-Type"] = "text/html"
        return None, b"<html><head><title>403 Forbidden</title></head><body>nginx</body></html>"
    return None, b""


VAULT_REFUSALS = {
    "ForbiddenByFirewall": "Client address is not authorized and caller is not a trusted service.",
    "ForbiddenByConnection": "Public network access is disabled and request is not from a trusted service nor via "
    "an approved private link.",
    "ForbiddenByPolicy": "The user, group or application 'appid={client};oid={oid};iss=https://sts.windows.net/"
    "{tenant}/' does not have keys list permission on key vault '{vault};location=westeurope'.",
    "ForbiddenByRbac": "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny "
    "assignments or role definitions were changed recently, please observe propagation time.",
}
"""Key Vault's 403 messages by inner code (Learn: key-vault/general/rest-error-codes, troubleshoot-azure-policy-
for-key-vault); the firewall's names the client address and caller on lines of their own."""


def _vault_refusal(code: str, vault: str) -> dict[str, Any]:
    from tests.azure_fake.server import CLIENT_ID, TENANT

    message = VAULT_REFUSALS[code].format(client=CLIENT_ID, oid=CLIENT_ID, tenant=TENANT, vault=vault)
    if code == "ForbiddenByFirewall":
        message += (
            f"\r\nClient address: 203.0.113.7\r\nCaller: appid={CLIENT_ID};oid={CLIENT_ID};"
            f"iss=https://sts.windows.net/{TENANT}/\r\nVault: {vault};location=westeurope"
        )
    return {"error": {"code": "Forbidden", "message": message, "innererror": {"code": code}}}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


OTHER_TENANT = "0c0ffee0-0000-4000-8000-0000000f0e19"


def _vault_challenge(style: str, authority: str) -> str:
    """`WWW-Authenticate` of Key Vault's first 401, in the spelling `wire.kv_challenge` names."""
    tenant = {"other-tenant": OTHER_TENANT, "common": "common", "organizations": "organizations"}.get(style, _tenant())
    return {
        "scope": f'Bearer authorization_uri="{authority}/{tenant}", scope="https://vault.azure.net/.default"',
        "legacy-authority": f'Bearer authorization="https://login.windows.net/{tenant}", resource="https://vault.azure.net"',
        "compact": f'Bearer authorization="{authority}/{tenant}",resource="https://vault.azure.net"',
        "uri-resource": f'Bearer authorization_uri="{authority}/{tenant}", resource="https://vault.azure.net"',
        "authorization-scope": f'Bearer authorization="{authority}/{tenant}", scope="https://vault.azure.net/.default"',
        "authorize-path": f'Bearer authorization="{authority}/{tenant}/oauth2/authorize", resource="https://vault.azure.net"',
        "realm": f'Bearer realm="", authorization_uri="{authority}/{tenant}/oauth2/authorize", '
        'resource="https://vault.azure.net"',
    }.get(style, f'Bearer authorization="{authority}/{tenant}", resource="https://vault.azure.net"')


def _tenant() -> str:
    from tests.azure_fake.server import TENANT

    return TENANT


def _claims() -> str:
    from tests.azure_fake.server import CLAIMS

    return CLAIMS
