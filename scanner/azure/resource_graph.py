"""Resource Graph: every query paged with `$skipToken`, scopes batched at 1,000 subscriptions.

The SDK's `resources()` is one POST and never pages, so this module loops. A subscription the
identity cannot read is isolated by splitting its batch and recorded as a coverage gap; a
page that is not the documented shape is a `SourceError`.

Pages are read from the response JSON itself, not the SDK model, so the variants the service
and its documentation allow all work: the token as `$skipToken` (or `skipToken`),
`resultTruncated` as a string or a boolean, `data` as rows or in the `table` format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
)
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from scanner.azure import failures
from scanner.azure.arm import supported_version
from scanner.azure.options import CollectOptions
from scanner.azure.pipeline import read_only_policies
from scanner.azure.progress import Progress
from scanner.azure.throttle import Quota, retry_policy
from scanner.errors import SourceError
from scanner.models import Gap

PAGE_SIZE = 1000
MAX_STALE_PAGES = 5
"""Pages in a row with no row not seen before, yet a fresh token: paging that would never end."""
DRIFT_ROWS = 10
"""Rows `totalRecords` may exceed the rows read by (or 1% of it, if more) before the result counts as cut short."""
TOO_LARGE = "ResponsePayloadTooLarge"
"""Resource Graph's 400 for a page over 16 MiB (a detail code under `BadRequest`): fewer rows a page fit."""
MAX_SUBSCRIPTIONS = 1000
SUBSCRIPTION_LIMIT_HIT = "x-ms-tenant-subscription-limit-hit"


def paging_token(body: dict[str, Any]) -> str | None:
    """The next page's token: `$skipToken` as documented, `skipToken`, in any case (`$skiptoken`)."""
    for key, value in body.items():
        if isinstance(key, str) and key.lower().lstrip("$") == "skiptoken" and value:
            return str(value)
    return None


def page_rows(data: Any) -> list[dict[str, Any]] | None:
    """`data` as a list of row objects: `objectArray` as is, `table` (columns and rows) zipped; None if neither."""
    if isinstance(data, list):
        return data if all(isinstance(row, dict) for row in data) else None
    if not isinstance(data, dict):
        return None
    columns, rows = data.get("columns"), data.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        return None
    names = [column["name"] for column in columns if isinstance(column, dict) and isinstance(column.get("name"), str)]
    if len(names) != len(columns):
        return None
    if not all(isinstance(row, list) and len(row) == len(names) for row in rows):
        return None
    return [dict(zip(names, row, strict=True)) for row in rows]


def unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per id (ids compare case-insensitively), the last one sent: paging is not a snapshot,
    so a row can come twice when the data moves under a page boundary. Rows without an id stay."""
    by_id: dict[str, dict[str, Any]] = {}
    others: list[dict[str, Any]] = []
    for row in rows:
        row_id = row.get("id")
        if isinstance(row_id, str):
            by_id[row_id.lower()] = row
        else:
            others.append(row)
    return [*by_id.values(), *others] if len(by_id) + len(others) < len(rows) else rows


def row_subscription(row: dict[str, Any]) -> str | None:
    """The subscription a row belongs to: its `subscriptionId` column, else its id's `subscriptions/` segment."""
    value = row.get("subscriptionId")
    if isinstance(value, str) and value:
        return value
    parts = str(row.get("id") or "").strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else None


def within_batch(rows: list[dict[str, Any]], batch: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of the subscriptions asked for. Resource Graph scopes the query to them; a service that
    ignored `subscriptions` sent every one it knows, and resources out of scope were judged and reported.
    A row that names no subscription stays (`as_resource` reports it if it is malformed)."""
    asked = {s.lower() for s in batch}
    return [row for row in rows if (sub := row_subscription(row)) is None or sub.lower() in asked]


def refuses_scope(exc: HttpResponseError) -> bool:
    """A refusal of the subscriptions asked for, not of the query: 403, or a 400/404 whose code names a
    subscription (one deleted or moved since it was listed): the batch is split to find which."""
    if exc.status_code == 403:
        return True
    return exc.status_code in (400, 404) and any("subscription" in code.lower() for code in failures.error_codes(exc))


class QueryRefused(SourceError):
    """The service answered the query with an error status (not a refusal of the subscriptions asked
    for): a table or query shape it does not serve, or a failure past every retry. Unlike a malformed
    or missing reply, another documented API may still answer the same question."""

    def __init__(self, message: str, status: int | None = None, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = tuple(codes)

    @property
    def invalid_query(self) -> bool:
        """Resource Graph's refusal of the query text: 400 with a detail code `InvalidQuery`,
        `ParserFailure` or `InvalidQueryLanguage` (an operator the service does not know)."""
        return self.status == 400 and bool(INVALID_QUERY & set(self.codes))


INVALID_QUERY = frozenset({"InvalidQuery", "ParserFailure", "InvalidQueryLanguage"})
WHOLE_TABLES = frozenset({"resources", "resourcecontainers", "appserviceresources", "securityresources"})
"""Tables whose query, refused as invalid, is asked again as the table alone (every column, every row in
scope): each caller keeps only the types, ids and groups it asked for (`queries.asked`)."""


class _TooLarge(Exception):
    """The page asked for is over the reply size limit; `_pages` asks again for fewer rows."""


def _raw(pipeline_response: Any, deserialized: Any, headers: Any) -> tuple[Any, Any]:
    """`cls` hook: the JSON the service sent (already decoded by azure-core) and the response headers."""
    body = pipeline_response.context.get("deserialized_data")
    return body, pipeline_response.http_response.headers


class ResourceGraph:
    """Runs the scanner's queries; counts requests so benchmarks can compare with the minimum."""

    def __init__(self, options: CollectOptions, credential: Any, progress: Progress, quota: Quota) -> None:
        retry = retry_policy(quota, options.retry_backoff, options.max_retries)
        self._client = ResourceGraphClient(
            credential,
            base_url=options.arm_url,
            credential_scopes=[options.scope],
            policies=read_only_policies(options, credential, retry),
            **options.transport_kwargs(),
        )
        self._progress = progress
        self._options = options
        self._where = options.arm_url
        self.requests = 0
        self.tenant_limit_hit = False
        self._api_version: str | None = None
        """The api-version the service said it serves, once it refused the SDK's (2021-03-01)."""

    def query(
        self,
        kql: str,
        *,
        sources: Sequence[str],
        subscriptions: Sequence[str] = (),
        management_groups: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], list[Gap]]:
        """All rows of `kql` over the scope, and a gap per subscription that refused it.

        A query of one of `WHOLE_TABLES` refused as invalid (400 `InvalidQuery`: a service whose KQL
        lacks an operator the query uses, `in~` or `endswith`) is asked again as the table alone, once.
        Any other refusal stands, so a query the service should know (drift, a typo) fails loudly."""
        scope = {"sources": sources, "subscriptions": subscriptions, "management_groups": management_groups}
        try:
            return self._query(kql, **scope)
        except QueryRefused as exc:
            table = kql.split("|", 1)[0].strip()
            if not exc.invalid_query or table.lower() not in WHOLE_TABLES or table == kql.strip():
                raise
            self._progress.step(f"{exc}; asking for the whole {table} table instead")
            try:
                return self._query(table, **scope)
            except QueryRefused:
                raise exc from None

    def _query(
        self,
        kql: str,
        *,
        sources: Sequence[str],
        subscriptions: Sequence[str] = (),
        management_groups: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], list[Gap]]:
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
            try:
                rows.extend(self._pages(kql, table, None, list(management_groups) or None))
            except ClientAuthenticationError:
                raise
            except HttpResponseError as exc:  # 403: nothing in the scope can be read, so there is nothing to scan
                where = f"management group {', '.join(management_groups)}" if management_groups else "tenant scope"
                raise SourceError(
                    f"Resource Graph refused the {where} ({table} query): {failures.reason(exc)}"
                ) from None
        return unique(rows), gaps

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
            rows.extend(within_batch(self._pages(kql, table, batch, None), batch))
        except ClientAuthenticationError:
            raise
        except HttpResponseError as exc:
            if not refuses_scope(exc):
                raise QueryRefused(
                    f"Resource Graph {table} query failed: {failures.reason(exc)}", exc.status_code
                ) from None
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
        seen: set[str] = set()
        ids: set[str] = set()
        stale = 0
        size = PAGE_SIZE
        skip: int | None = None
        """Rows read so far, once the service stopped giving tokens while saying there were more (`$skip`)."""
        while True:
            request = QueryRequest(
                subscriptions=subscriptions,
                management_groups=management_groups,
                query=kql,
                options=QueryRequestOptions(
                    top=size, skip=skip, skip_token=token, allow_partial_scopes=bool(management_groups)
                ),
            )
            try:
                body = self._send(request, table)
            except _TooLarge:
                if size == 1:
                    raise SourceError(f"Resource Graph {table} query: one row is over the reply size limit") from None
                size = max(1, size // 4)  # the same page again, in smaller pieces
                continue
            data = page_rows(body.get("data")) if isinstance(body, dict) else None
            if data is None:
                raise SourceError(f"Resource Graph {table} query: malformed page (no 'data' list of rows)")
            collected.extend(data)
            known = len(ids)
            ids.update(str(row.get("id")).lower() for row in data)
            stale = stale + 1 if len(ids) == known else 0
            total = body.get("totalRecords")
            self._progress.page(table, len(data), total if type(total) is int else None, first=token is None)
            token = paging_token(body)
            if not token:
                truncated = str(body.get("resultTruncated", "")).lower() == "true"
                short = type(total) is int and total > len(ids)
                if (truncated or short) and data and len(ids) > known:
                    # More rows and no token to reach them: the documented `$skip` asks for the rows after
                    # those read (a service that pages by `$top`/`$skip` alone). A page with no new row
                    # ends it below, as the same rows again would never end.
                    skip = (skip or 0) + len(data)
                    continue
                if truncated:
                    # Rows were left out and no token reaches them: the result is not the whole scope.
                    raise SourceError(f"Resource Graph {table} query: result truncated and no paging token")
                if type(total) is int and total - len(ids) > max(DRIFT_ROWS, total // 100):
                    # No token, and the service counts many more rows than were read: a token under a
                    # name not known here, or dropped by a proxy. (`totalRecords` moves with the data
                    # while pages are read, so a count a few rows off is taken as drift.)
                    raise SourceError(
                        f"Resource Graph {table} query: {len(ids)} of {total} rows read and no paging token"
                    )
                return collected
            if token in seen:  # a page already read: following it would never end
                raise SourceError(f"Resource Graph {table} query: the paging token repeated")
            if stale >= MAX_STALE_PAGES:  # new tokens, the same rows (a server that ignores the token it is sent)
                raise SourceError(f"Resource Graph {table} query: {stale} pages in a row brought no new row")
            seen.add(token)

    def _send(self, request: QueryRequest, table: str) -> Any:
        self.requests += 1
        replies: list[Any] = []  # each attempt's reply, as it arrived: the page when the SDK's model refuses it
        try:
            version = {"api_version": self._api_version} if self._api_version else {}
            reply: tuple[Any, Any] = self._client.resources(  # type: ignore[assignment]
                request, cls=_raw, raw_response_hook=replies.append, **version
            )
        except DeserializationError:
            # The SDK's model refused a field mlwarden never reads from it (`facets` as an object, a
            # count as a word): the page is read from the JSON as it came, like every page.
            try:
                http = replies[-1].http_response
                reply = json.loads(http.text()), http.headers
            except (IndexError, ValueError):
                raise SourceError(f"Resource Graph {table} query: malformed page (not JSON)") from None
        except ClientAuthenticationError:
            raise  # no token, or the service refused it: the whole collection cannot go on
        except DecodeError:  # a subclass of HttpResponseError: the body was not JSON
            raise SourceError(f"Resource Graph {table} query: malformed page (not JSON)") from None
        except HttpResponseError as exc:
            if refuses_scope(exc):
                raise
            if exc.status_code == 400 and TOO_LARGE in failures.error_codes(exc):
                raise _TooLarge from None
            served = supported_version(exc)
            if served is not None and served != self._api_version:
                # The service does not serve the SDK's api-version and names those it does (one that
                # serves only the newest, 2024-04-01, as the REST reference shows it): the same query
                # at the newest it names, and every later one too.
                self._api_version = served
                return self._send(request, table)
            raise QueryRefused(
                f"Resource Graph {table} query failed: {failures.reason(exc)}",
                exc.status_code,
                failures.error_codes(exc),
            ) from None
        except ValueError as exc:
            raise SourceError(f"Resource Graph {table} query: malformed page ({type(exc).__name__})") from None
        except AzureError as exc:
            if failures.timed_out(exc):
                raise SourceError(f"Resource Graph at {self._where} {failures.no_answer(self._options)}") from None
            raise SourceError(f"Resource Graph {table} query failed: {failures.reason(exc)}") from None
        body, headers = reply
        if str(headers.get(SUBSCRIPTION_LIMIT_HIT, "")).lower() == "true":
            self.tenant_limit_hit = True
        return body

    def close(self) -> None:
        self._client.close()
