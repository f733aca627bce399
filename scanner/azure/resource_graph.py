"""Resource Graph: every query paged with `$skipToken`, scopes batched at 1,000 subscriptions.

The SDK's `resources()` is one POST and never pages, so this module loops. A subscription the
identity cannot read is isolated by splitting its batch and recorded as a coverage gap; a
page that is not the documented shape is a `SourceError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, DecodeError, HttpResponseError
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from scanner.azure import failures
from scanner.azure.options import CollectOptions
from scanner.azure.progress import Progress
from scanner.azure.throttle import Quota, retry_policy
from scanner.errors import SourceError
from scanner.models import Gap

PAGE_SIZE = 1000
MAX_SUBSCRIPTIONS = 1000
SUBSCRIPTION_LIMIT_HIT = "x-ms-tenant-subscription-limit-hit"


class ResourceGraph:
    """Runs the scanner's queries; counts requests so benchmarks can compare with the minimum."""

    def __init__(self, options: CollectOptions, credential: Any, progress: Progress, quota: Quota) -> None:
        self._client = ResourceGraphClient(
            credential,
            base_url=options.arm_url,
            credential_scopes=[options.scope],
            retry_policy=retry_policy(quota, options.retry_backoff, options.max_retries),
            **options.transport_kwargs(),
        )
        self._progress = progress
        self.requests = 0
        self.tenant_limit_hit = False

    def query(
        self,
        kql: str,
        *,
        sources: Sequence[str],
        subscriptions: Sequence[str] = (),
        management_groups: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], list[Gap]]:
        """All rows of `kql` over the scope, and a gap per subscription that refused it."""
        table = kql.split("|", 1)[0].strip()
        self._progress.query(table)
        rows: list[dict[str, Any]] = []
        gaps: list[Gap] = []
        if subscriptions:
            batches = [
                list(subscriptions[i : i + MAX_SUBSCRIPTIONS]) for i in range(0, len(subscriptions), MAX_SUBSCRIPTIONS)
            ]
            for batch in batches:
                self._subscriptions(kql, table, batch, sources, rows, gaps)
        else:
            rows.extend(self._pages(kql, table, None, list(management_groups) or None))
        return rows, gaps

    def _subscriptions(
        self,
        kql: str,
        table: str,
        batch: list[str],
        sources: Sequence[str],
        rows: list[dict[str, Any]],
        gaps: list[Gap],
    ) -> None:
        """Query a batch; when it is refused, split it until the refusing subscriptions are alone."""
        try:
            rows.extend(self._pages(kql, table, batch, None))
        except ClientAuthenticationError:
            raise
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise SourceError(f"Resource Graph {table} query failed: {failures.reason(exc)}") from None
            if len(batch) > 1:
                middle = len(batch) // 2
                self._subscriptions(kql, table, batch[:middle], sources, rows, gaps)
                self._subscriptions(kql, table, batch[middle:], sources, rows, gaps)
                return
            for source in sources:
                gap = Gap(source=source, scope=f"/subscriptions/{batch[0]}", reason=failures.reason(exc))
                gaps.append(gap)
                self._progress.gap(gap)

    def _pages(
        self, kql: str, table: str, subscriptions: list[str] | None, management_groups: list[str] | None
    ) -> list[dict[str, Any]]:
        # Every page is read before any row counts, so a refused batch contributes nothing.
        collected: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request = QueryRequest(
                subscriptions=subscriptions,
                management_groups=management_groups,
                query=kql,
                options=QueryRequestOptions(
                    top=PAGE_SIZE, skip_token=token, allow_partial_scopes=bool(management_groups)
                ),
            )
            response = self._send(request, table)
            data = response.data
            if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
                raise SourceError(f"Resource Graph {table} query: malformed page (no 'data' list of rows)")
            collected.extend(data)
            total = response.total_records if isinstance(response.total_records, int) else None
            self._progress.page(table, len(data), total, first=token is None)
            token = response.skip_token
            if not token:
                return collected

    def _send(self, request: QueryRequest, table: str) -> Any:
        self.requests += 1
        try:
            return self._client.resources(request, cls=self._read_headers)
        except ClientAuthenticationError:
            raise  # no token, or the service refused it: the whole collection cannot go on
        except DecodeError:  # a subclass of HttpResponseError: the body was not JSON
            raise SourceError(f"Resource Graph {table} query: malformed page (not JSON)") from None
        except HttpResponseError as exc:
            if exc.status_code == 403:
                raise
            raise SourceError(f"Resource Graph {table} query failed: {failures.reason(exc)}") from None
        except ValueError as exc:
            raise SourceError(f"Resource Graph {table} query: malformed page ({type(exc).__name__})") from None
        except AzureError as exc:
            raise SourceError(f"Resource Graph {table} query failed: {failures.reason(exc)}") from None

    def _read_headers(self, pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
        if str(pipeline_response.http_response.headers.get(SUBSCRIPTION_LIMIT_HIT, "")).lower() == "true":
            self.tenant_limit_hit = True
        return deserialized

    def close(self) -> None:
        self._client.close()
