"""Read who-changed-it from Resource Graph's `resourcechanges`, after the checks, for failing resources only.

One paged query per batch of resource ids (batches keep the query text short). The table being
unreadable (403, 400, not enabled) is a gap of the advisory `resource_changes` source: the scan
still succeeds and its exit code is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from azure.core.exceptions import AzureError

from scanner.azure import failures, queries
from scanner.azure.credentials import credential_for
from scanner.azure.options import CollectOptions
from scanner.azure.progress import Progress
from scanner.azure.resource_graph import ResourceGraph
from scanner.azure.throttle import Quota
from scanner.changes import from_row, with_changes
from scanner.errors import SourceError
from scanner.inventory import RESOURCE_CHANGES, Inventory, ResourceChange
from scanner.models import Gap, SourceCoverage


def read_changes(
    options: CollectOptions, resource_ids: Sequence[str], since: timedelta, subscriptions: Sequence[str]
) -> tuple[list[ResourceChange], SourceCoverage]:
    """Changes to `resource_ids` in the window; a refused or failed query is a gap, never an error."""
    if not resource_ids:
        return [], SourceCoverage(name=RESOURCE_CHANGES, collected=True)
    graph = ResourceGraph(options, credential_for(options), Progress(quiet=True), Quota())
    hours = max(1, int(since.total_seconds() // 3600))
    changes: list[ResourceChange] = []
    gaps: list[Gap] = []
    try:
        for kql in queries.resource_changes(resource_ids, hours):
            rows, refused = graph.query(kql, sources=(RESOURCE_CHANGES,), subscriptions=list(subscriptions))
            gaps.extend(refused)
            changes.extend(c for c in (from_row(row) for row in rows) if c is not None)
    except (SourceError, AzureError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, SourceError) else failures.reason(exc)
        gaps.append(Gap(source=RESOURCE_CHANGES, scope="resourcechanges", reason=reason))
    finally:
        graph.close()
    return changes, SourceCoverage(name=RESOURCE_CHANGES, collected=True, records=len(changes), gaps=tuple(gaps))


class Attach:
    """Who changed it for a live collection: called once the checks have named the failing
    resources (`engine.AfterChecks`), it reads their changes and keeps the inventory it made."""

    def __init__(self, inventory: Inventory, options: CollectOptions, since: timedelta) -> None:
        self.inventory = inventory
        """The collected inventory; once called, the same with its changes and their coverage."""
        self.options = options
        self.since = since

    def __call__(self, failing: Sequence[str]) -> Inventory:
        found, coverage = read_changes(self.options, failing, self.since, self.inventory.header.scope.subscriptions)
        self.inventory = with_changes(self.inventory, found, coverage)
        return self.inventory
