"""Read who-changed-it from Resource Graph's `resourcechanges`, after the checks, for failing resources only.

One paged query per batch of resource ids (batches keep the query text short). The table being
unreadable (403, 400, not enabled) is a gap of the advisory `resource_changes` source: the scan
still succeeds and its exit code is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError

from scanner.azure import failures, queries
from scanner.azure.options import CollectOptions
from scanner.azure.progress import Progress
from scanner.azure.resource_graph import ResourceGraph
from scanner.azure.session import SignIn
from scanner.azure.throttle import Quota
from scanner.changes import from_row, with_changes
from scanner.errors import SourceError
from scanner.inventory import RESOURCE_CHANGES, Inventory, ResourceChange
from scanner.models import Gap, SourceCoverage


def read_changes(
    options: CollectOptions,
    resource_ids: Sequence[str],
    since: timedelta,
    subscriptions: Sequence[str],
    credential: Any,
) -> tuple[list[ResourceChange], SourceCoverage]:
    """Changes to `resource_ids` in the window; a refused or failed query is a gap, never an error.

    `credential` is the collection's own (`SignIn`): the token it already holds is reused.
    """
    if not resource_ids:
        return [], SourceCoverage(name=RESOURCE_CHANGES, collected=True)
    graph = ResourceGraph(options, credential, Progress(quiet=True), Quota())
    hours = max(1, int(since.total_seconds() // 3600))
    changes: list[ResourceChange] = []
    gaps: list[Gap] = []
    targets = {resource_id.lower() for resource_id in resource_ids}
    oldest = datetime.now(UTC) - timedelta(hours=hours)
    try:
        for kql in queries.resource_changes(resource_ids, hours):
            rows, refused = graph.query(kql, sources=(RESOURCE_CHANGES,), subscriptions=list(subscriptions))
            gaps.extend(refused)
            found = (c for c in (from_row(row) for row in rows) if c is not None)
            # What the query's `where` asked for, should a service have sent more.
            changes.extend(c for c in found if c.resource_id.lower() in targets and c.time >= oldest)
    except (SourceError, AzureError, ValueError) as exc:  # a refused sign-in too: the checks' verdicts stand
        reason = str(exc) if isinstance(exc, SourceError) else failures.reason(exc)
        gaps.append(Gap(source=RESOURCE_CHANGES, scope="resourcechanges", reason=reason))
    finally:
        graph.close()
    return changes, SourceCoverage(name=RESOURCE_CHANGES, collected=True, records=len(changes), gaps=tuple(gaps))


class Attach:
    """Who changed it for a live collection: called once the checks have named the failing
    resources (`engine.AfterChecks`), it reads their changes and keeps the inventory it made.
    It reads with the collection's sign-in, which its owner closes."""

    def __init__(self, inventory: Inventory, options: CollectOptions, since: timedelta, sign_in: SignIn) -> None:
        self.inventory = inventory
        """The collected inventory; once called, the same with its changes and their coverage."""
        self.options = options
        self.since = since
        self.sign_in = sign_in

    def __call__(self, failing: Sequence[str]) -> Inventory:
        subscriptions = self.inventory.header.scope.subscriptions
        credential = self.sign_in.credential if failing else None
        found, coverage = read_changes(self.options, failing, self.since, subscriptions, credential)
        self.inventory = with_changes(self.inventory, found, coverage)
        return self.inventory
