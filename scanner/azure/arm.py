"""A small ARM client for the GETs Resource Graph lacks, on azure-core's pipeline.

Same credential, bearer policy, quota gate and retries as the SDK clients; `nextLink` paging;
rows come back in the Resource Graph shape (lower-case type, subscriptionId, resourceGroup).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from azure.core import PipelineClient
from azure.core.exceptions import DecodeError, HttpResponseError
from azure.core.pipeline.policies import HeadersPolicy, UserAgentPolicy
from azure.core.rest import HttpRequest
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

from scanner.azure import failures
from scanner.azure.limits import Gate
from scanner.azure.options import CollectOptions
from scanner.azure.pipeline import FreshToken, SameHostRedirect, origin, rebased, same_origin
from scanner.azure.throttle import Quota, retry_policy
from scanner.models import Resource

WEB_API = "2023-12-01"
ML_API = "2024-04-01"
KEYVAULT_API = "2023-07-01"
DIAGNOSTICS_API = "2021-05-01-preview"
ACR_API = "2023-07-01"
MAX_PAGES = 1000


class ArmClient:
    """GET and POST against ARM; non-2xx raises `HttpResponseError` with the service's error code."""

    def __init__(self, options: CollectOptions, credential: Any, quota: Quota, gate: Gate | None = None) -> None:
        self._base = options.arm_url
        self._client: PipelineClient[HttpRequest, Any] = PipelineClient(
            base_url=self._base,
            policies=[
                FreshToken(credential),
                HeadersPolicy(),
                UserAgentPolicy(sdk_moniker="mlwarden"),
                SameHostRedirect(),
                retry_policy(quota, options.retry_backoff, options.max_retries, gate),
                ARMChallengeAuthenticationPolicy(credential, options.scope),
                ARMHttpLoggingPolicy(),
            ],
            **options.transport_kwargs(),
        )
        self.requests = 0
        self._cloud_host = (urlsplit(options.endpoints.arm).hostname or "").lower() if options.arm_endpoint else ""
        """The cloud's own ARM host when `--arm-endpoint` names another: links a service writes with it are ours."""

    def _call(self, method: str, url: str) -> Any:
        response = self._send(method, url)
        if response.status_code >= 300:
            exc = HttpResponseError(response=response)
            version = supported_version(exc)
            if version is None:
                raise exc
            # The service does not serve the api-version asked for (a sovereign cloud or Azure Stack a
            # version behind, or one retired) and names those it does: the newest of them, once.
            response = self._send(method, with_version(url, version))
            if response.status_code >= 300:
                raise HttpResponseError(response=response)
        try:
            return response.json()
        except ValueError as exc:
            raise DecodeError(f"{method} response is not JSON") from exc

    def _send(self, method: str, url: str) -> Any:
        self.requests += 1
        return self._client.send_request(HttpRequest(method, url, headers={"Accept": "application/json"}))

    def get(self, path: str, api_version: str) -> Any:
        return self._call("GET", f"{self._base}{path}?api-version={api_version}")

    def post(self, path: str, api_version: str) -> Any:
        return self._call("POST", f"{self._base}{path}?api-version={api_version}")

    def list(self, path: str, api_version: str) -> list[dict[str, Any]]:
        """Every item of a `value`/`nextLink` collection.

        A `nextLink` is followed as given (it may name another api-version), resolved against
        the page it came from if it is only a path, on ARM's own host only (the request carries
        the ARM token). A reply without a `value` list, a link
        back to a page already read, or more than `MAX_PAGES` pages, is malformed: the caller
        records a gap, never an empty list.
        """
        items: list[dict[str, Any]] = []
        url = f"{self._base}{path}?api-version={api_version}"
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self._call("GET", url)
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise DecodeError("no 'value' list")
            items.extend(_with_id(item, path) for item in body["value"] if isinstance(item, dict))
            link = body.get("nextLink")
            if not isinstance(link, str) or not link:
                return items
            seen.add(url)
            url = self._below_base(self._onto_base(urljoin(url, link)))
            if url in seen:  # a page already read: following it would never end
                raise DecodeError("nextLink repeated")
            if origin(url) != origin(self._base):  # the bearer token goes with every request it sends
                raise DecodeError("nextLink to another host")
        raise DecodeError(f"more than {MAX_PAGES} pages")

    def _onto_base(self, url: str) -> str:
        """A link to this endpoint under another name, onto the endpoint as configured: its loopback host
        spelt otherwise (`127.0.0.1` for `localhost`), or the cloud's own ARM host when `--arm-endpoint`
        names a gateway or a local service (ARM writes `https://management.azure.com:443/...` whatever
        host it was reached at). The request then goes where the token already goes; any other host
        is still refused."""
        if origin(url) == origin(self._base):
            return url
        host = (urlsplit(url).hostname or "").lower()
        cloud = bool(self._cloud_host) and host == self._cloud_host and urlsplit(url).scheme.lower() == "https"
        return rebased(url, self._base) if cloud or same_origin(url, self._base) else url

    def _below_base(self, url: str) -> str:
        """A link on ARM's host that left out the path `--arm-endpoint` names (`https://gw/arm`), under it.

        ARM builds its links from its own paths: behind a gateway or a path-routed proxy (Azure Stack
        Hub's, a private one) they lack the gateway's prefix, and read as they are, the next page was
        another route's 404 (read as "the resource is gone") or an unrelated reply."""
        prefix = urlsplit(self._base).path.rstrip("/")
        parts = urlsplit(url)
        if not prefix or origin(url) != origin(self._base) or f"{parts.path}/".startswith(f"{prefix}/"):
            return url
        return urlunsplit(parts._replace(path=prefix + parts.path))

    def close(self) -> None:
        self._client.close()


VERSION_REFUSED = frozenset({"InvalidApiVersionParameter", "NoRegisteredProviderFound"})
_SUPPORTED = re.compile(r"supported (?:api-)?versions are '([^']{1,4000})'", re.IGNORECASE)
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(?:-preview)?")


def supported_version(exc: HttpResponseError) -> str | None:
    """The newest api-version a 400 `InvalidApiVersionParameter` says is served (stable before preview)."""
    if exc.status_code != 400 or not VERSION_REFUSED & set(failures.error_codes(exc)):
        return None
    found = _SUPPORTED.search(exc.response.text() if exc.response is not None else "")
    versions = [v.strip() for v in found.group(1).split(",")] if found else []
    versions = [v for v in versions if _VERSION.fullmatch(v)]
    stable = [v for v in versions if not v.endswith("-preview")]
    return max(stable or versions, default=None)


def with_version(url: str, version: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "api-version"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("api-version", version)], safe="$")))


def _with_id(item: dict[str, Any], path: str) -> dict[str, Any]:
    """An item of a collection is the collection's path and its name: one sent without its id keeps it.

    An id that is not a string (a number, an object) is no id; with no usable name either, the item
    cannot be placed and the list is malformed (before, it entered as a row named after its junk)."""
    resource_id, name = item.get("id"), item.get("name")
    if isinstance(resource_id, str) and resource_id:
        return item
    if not isinstance(name, str) or not name or "/" in name:
        if resource_id is None or resource_id == "":
            return item  # the caller's model names what is missing
        raise DecodeError("an item whose id is not a string")
    return {**item, "id": f"{path}/{name}"}


def id_segment(resource_id: str, name: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    for index, part in enumerate(parts[:-1]):
        if part.lower() == name:
            return parts[index + 1]
    return None


OBJECT_COLUMNS = ("tags", "identity", "sku")
"""Envelope columns that hold an object; Resource Graph's dynamic columns may come back empty as `""`."""


def blank_as_none(value: Any) -> Any:
    """`""` or `[]` where an object belongs is no object (a resource without identity, tags or sku)."""
    return None if value == "" or (isinstance(value, list) and not value) else value


def as_row(item: dict[str, Any], fallback_type: str) -> Resource:
    """An ARM GET payload in the Resource Graph row shape."""
    resource_id = str(item.get("id") or "")
    return Resource.model_validate(
        {
            "id": resource_id,
            "name": item.get("name") or resource_id.rsplit("/", 1)[-1],
            "type": str(item.get("type") or fallback_type).lower(),
            "kind": item.get("kind"),
            "location": item.get("location"),
            "subscriptionId": id_segment(resource_id, "subscriptions"),
            "resourceGroup": (id_segment(resource_id, "resourcegroups") or "").lower() or None,
            **{column: blank_as_none(item.get(column)) for column in OBJECT_COLUMNS},
            "properties": item.get("properties"),
        }
    )
