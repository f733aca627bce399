"""`collect(options)`: read a live Azure estate into an `Inventory`, coverage gaps and all.

Order: subscriptions in scope, then one Resource Graph query per table (`resources`,
`appserviceresources`, `securityresources`), then Defender plans where Resource Graph had none
and security contacts, then the per-resource ARM and Key Vault reads on a bounded thread pool.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from pydantic import ValidationError

from scanner import __version__
from scanner import inventory as sources
from scanner.azure import failures, queries, refill
from scanner.azure.arm import OBJECT_COLUMNS, ArmClient, blank_as_none, id_segment
from scanner.azure.credentials import authority_of
from scanner.azure.defender import Defender, has_tier
from scanner.azure.keyvault import KeyVaultReader
from scanner.azure.limits import ArmGate, Limits
from scanner.azure.options import CollectOptions
from scanner.azure.progress import ARM_READS, VAULT_READS, Progress
from scanner.azure.resource_graph import QueryRefused, ResourceGraph
from scanner.azure.session import SignIn
from scanner.azure.settings import redact_deployment
from scanner.azure.signin import SignInFailed, cause
from scanner.azure.tasks import Job, Outcome, Reads
from scanner.azure.throttle import Quota
from scanner.errors import InputError, SourceError
from scanner.estate import parent_id
from scanner.inventory import (
    AppSettingsFacts,
    Inventory,
    KeyMetadata,
    SnapshotHeader,
    SnapshotScope,
)
from scanner.models import Gap, Resource, SourceCoverage
from scanner.scope import within

SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"
PRICING_TYPE = "microsoft.security/pricings"
DEPLOYMENT_TYPE = "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments"
NOT_FOUND = "subscription not found or not readable by this identity"
"""Resource Graph leaves out a subscription the identity cannot read (403 only when none is readable)."""


def as_resource(row: dict[str, Any]) -> Resource:
    """A Resource Graph row as a `Resource`; a row without the envelope is a malformed source.

    Resource Graph always fills `subscriptionId` and `resourceGroup`; where a reply leaves them
    null, they are read from the id, as checks and scope filters rely on them. An empty `""` or
    `[]` in an object column (tags, identity, sku) is no object, not a malformed row.
    """
    if any(row.get(column) in ("", []) for column in OBJECT_COLUMNS):
        row = {**row, **{column: blank_as_none(row.get(column)) for column in OBJECT_COLUMNS if column in row}}
    resource_id = row.get("id")
    if isinstance(resource_id, str) and (row.get("subscriptionId") is None or row.get("resourceGroup") is None):
        row = dict(row)
        if row.get("subscriptionId") is None:
            row["subscriptionId"] = id_segment(resource_id, "subscriptions")
        if row.get("resourceGroup") is None and (group := id_segment(resource_id, "resourcegroups")):
            row["resourceGroup"] = group.lower()
    try:
        return Resource.model_validate(row)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "row"
        # Location and error type only: pydantic's own message would quote the input.
        raise SourceError(f"Resource Graph returned a malformed row ({where}: {error['type']})") from None


SUBSCRIPTIONS_API = "2022-12-01"
"""Subscriptions - Get / List (Microsoft.Resources): `{id, subscriptionId, displayName, state,
subscriptionPolicies, tags}`."""


def subscription_row(item: dict[str, Any]) -> Resource | None:
    """An ARM subscription object in the shape of a `resourcecontainers` row (its fields under `properties`)."""
    subscription = item.get("subscriptionId") or id_segment(str(item.get("id") or ""), "subscriptions")
    if not isinstance(subscription, str) or not subscription:
        return None
    envelope = ("id", "subscriptionId", "displayName", "tags")
    tags = item.get("tags")
    return Resource.model_validate(
        {
            "id": f"/subscriptions/{subscription}",
            "name": str(item.get("displayName") or subscription),
            "type": SUBSCRIPTION_TYPE,
            "subscriptionId": subscription,
            "tags": tags if isinstance(tags, dict) else None,
            "properties": {k: v for k, v in item.items() if k not in envelope},
        }
    )


def enabled_sources(options: CollectOptions) -> tuple[str, ...]:
    optional = {
        sources.KEY_METADATA: options.keyvault,
        sources.DIAGNOSTIC_SETTINGS: options.diagnostics,
        sources.APP_SETTINGS: options.app_settings,
        sources.KEYVAULT_SECRETS: options.keyvault,
    }
    return tuple(name for name in sources.ALL_SOURCES if optional.get(name, True))


class Collection:
    """One collection run: the clients, what has been read so far, and the gaps per source."""

    def __init__(self, options: CollectOptions, progress: Progress, credential: Any) -> None:
        self.options = options
        self.progress = progress
        self.graph_quota, self.arm_quota, self.vault_quota = Quota(), Quota(), Quota()
        self.graph = ResourceGraph(options, credential, progress, self.graph_quota)
        self.arm_limits = Limits(options.arm_budget)
        """Every ARM read (direct GETs, Defender) draws on its subscription's budget."""
        self.arm = ArmClient(options, credential, self.arm_quota, ArmGate(self.arm_limits))
        self.defender = Defender(options, credential, self.arm_quota, self.arm, ArmGate(self.arm_limits))
        self.vaults = KeyVaultReader(options, credential, self.arm, self.vault_quota)
        self.sources = enabled_sources(options)
        self.resources: dict[str, Resource] = {}
        self.keys: list[KeyMetadata] = []
        self.app_settings: list[AppSettingsFacts] = []
        self.gaps: dict[str, list[Gap]] = {name: [] for name in self.sources}
        self.records: dict[str, int] = dict.fromkeys(self.sources, 0)
        self.source_of: dict[str, str] = {}
        """Each row's source by lower-cased id, so a row left out takes its count with it."""
        self.present: set[str] = set()
        """Lower-cased ids ARM's own GET answered this run (rows read again from ARM)."""
        self.gone: set[str] = set()
        """Lower-cased ids of resources ARM no longer knows: left out of the inventory, children and all."""

    @property
    def requests(self) -> int:
        return self.graph.requests + self.arm.requests + self.defender.requests + self.vaults.requests

    def close(self) -> None:
        self.graph.close()
        self.arm.close()

    # -- bookkeeping ----------------------------------------------------------------------
    def add_gap(self, gap: Gap) -> None:
        self.gaps.setdefault(gap.source, []).append(gap)
        self.progress.gap(gap)

    def add_rows(self, source: str, rows: Iterable[Resource]) -> None:
        for row in rows:
            self.resources[row.id_key] = row
            self.source_of[row.id_key] = source
            self.records[source] = self.records.get(source, 0) + 1

    def _graph(self, kql: str, source: str, subscriptions: list[str]) -> list[dict[str, Any]]:
        rows, gaps = self.graph.query(kql, sources=(source,), subscriptions=subscriptions)
        for gap in gaps:
            self.add_gap(gap)
        return rows

    # -- steps ----------------------------------------------------------------------------
    def subscriptions(self) -> list[str]:
        """The readable subscriptions in scope; refused or missing ones become gaps for every source."""
        options = self.options
        try:
            rows, gaps = self.graph.query(
                queries.SUBSCRIPTIONS,
                sources=self.sources,
                subscriptions=options.subscriptions,
                management_groups=options.management_groups,
            )
        except QueryRefused as exc:
            if options.management_groups:  # ARM has no list of a group's subscriptions at Reader: nothing to scan
                raise
            # `resourcecontainers` refused or unknown (a cloud or service that serves `resources` alone):
            # ARM's own subscription reads answer the same question.
            self.progress.step(f"{exc}; reading the subscriptions from ARM instead")
            return self._arm_subscriptions()
        for gap in gaps:
            self.add_gap(gap)
        rows = queries.asked(rows, (SUBSCRIPTION_TYPE,))
        subscription_rows = [as_resource({**row, "type": SUBSCRIPTION_TYPE}) for row in rows]
        self.add_rows(sources.RESOURCES, subscription_rows)
        found = {row.subscription_id.lower(): row.subscription_id for row in subscription_rows if row.subscription_id}
        if self.graph.tenant_limit_hit:
            self.add_gap(Gap(source=sources.RESOURCES, scope="tenant", reason="Resource Graph capped the tenant scope"))
        if not options.subscriptions:
            return sorted(found.values())
        refused = {gap.scope.rsplit("/", 1)[-1].lower() for gap in gaps}
        for wanted in options.subscriptions:
            if wanted.lower() not in found and wanted.lower() not in refused:
                for source in self.sources:
                    self.add_gap(Gap(source=source, scope=f"/subscriptions/{wanted}", reason=NOT_FOUND))
        return [found[s.lower()] for s in options.subscriptions if s.lower() in found]

    def _arm_subscriptions(self) -> list[str]:
        """Subscriptions - Get for each named subscription (Subscriptions - List at tenant scope), as rows.

        A named subscription ARM does not know (404 `SubscriptionNotFound`) or refuses (403) is a gap
        for every source, as when Resource Graph leaves it out; one ARM could not answer for otherwise
        (a 404 from a service without the route, a 5xx) is kept, and the `resources` query's own
        refusal (split per subscription) decides: dropped, all of its resources would go unjudged."""
        wanted = self.options.subscriptions
        if not wanted:
            try:
                items = self.arm.list("/subscriptions", SUBSCRIPTIONS_API)
            except ClientAuthenticationError:
                raise
            except (AzureError, ValueError) as exc:
                raise SourceError(
                    f"neither Resource Graph nor ARM listed the subscriptions: {failures.reason(exc)}"
                ) from None
            rows = [row for item in items if (row := subscription_row(item)) is not None]
            self.add_rows(sources.RESOURCES, rows)
            return sorted({row.subscription_id for row in rows if row.subscription_id}, key=str.lower)
        found: list[str] = []
        for subscription in wanted:
            try:
                item = self.arm.get(f"/subscriptions/{subscription}", SUBSCRIPTIONS_API)
            except ClientAuthenticationError:
                raise
            except HttpResponseError as exc:
                missing = exc.status_code == 404 and "SubscriptionNotFound" in failures.error_codes(exc)
                if exc.status_code == 403 or missing:
                    reason = NOT_FOUND if missing else failures.reason(exc)
                    for source in self.sources:
                        self.add_gap(Gap(source=source, scope=f"/subscriptions/{subscription}", reason=reason))
                    continue
                found.append(subscription)  # not confirmed either way: the `resources` query decides
                continue
            except (AzureError, ValueError):
                found.append(subscription)
                continue
            row = subscription_row({"subscriptionId": subscription, **item} if isinstance(item, dict) else {})
            if row is not None:
                self.add_rows(sources.RESOURCES, [row])
            found.append(subscription)
        return found

    def resource_rows(self, subscriptions: list[str]) -> list[str]:
        """The one `resources` query; returns the subscriptions that did not refuse it."""
        kql = queries.resources(self.options.resource_groups)
        rows, gaps = self.graph.query(kql, sources=self.sources, subscriptions=subscriptions)
        for gap in gaps:
            self.add_gap(gap)
        resources: list[Resource] = []
        for row in queries.asked(rows, queries.RESOURCE_TYPES):
            if str(row.get("type", "")).lower() == DEPLOYMENT_TYPE:
                facts = redact_deployment(row)
                if facts is not None:
                    self.app_settings.append(facts)
            resources.append(as_resource(row))
        # The query's own `where resourceGroup in~` did this; a query asked again as the whole table did not.
        kept = within(resources, resource_groups=self.options.resource_groups, tags=self.options.tags)
        self.add_rows(sources.RESOURCES, kept)
        refill.read_all(self.arm, refill.bare(kept), self.options.max_concurrency, self._refilled)
        refused = {gap.scope.lower() for gap in gaps}
        return [s for s in subscriptions if f"/subscriptions/{s}".lower() not in refused]

    def _refilled(self, result: refill.Refilled) -> None:
        """A row Resource Graph sent without properties, as ARM's GET returned it (or its gap)."""
        key = result.resource_id.lower()
        if result.gap is not None:
            self.add_gap(result.gap)
        elif result.row is None:
            self.resources.pop(key, None)  # ARM no longer knows it
            self.records[sources.RESOURCES] -= 1
        else:
            self.resources[key] = result.row
            self.present.add(key)
        if result.facts is not None:
            self.app_settings = [a for a in self.app_settings if a.resource_id.lower() != key]
            self.app_settings.append(result.facts)

    def site_configs(self, subscriptions: list[str]) -> None:
        """Site config from `appserviceresources`; if that query fails, each site's own GET reads it instead."""
        try:
            rows = self._graph(queries.SITE_CONFIG, sources.APPSERVICE_CONFIG, subscriptions)
        except SourceError as exc:  # Reads.plan GETs config/web for every site without a row: all of them
            self.progress.step(f"{exc}; reading each site's config from ARM instead")
            return
        # A config row without properties is no config: the site's own GET reads it (`Reads.plan`).
        rows = queries.asked(rows, queries.SITE_CONFIG_TYPES, "/config/web")
        rows = [row for row in rows if isinstance(row.get("properties"), dict)]
        self.add_rows(sources.APPSERVICE_CONFIG, (as_resource(row) for row in rows))

    def security(self, subscriptions: list[str]) -> list[Job]:
        """Assessments and plans from Resource Graph; per-subscription Defender reads as pool tasks.

        If the `securityresources` query fails, the assessments are read from Defender's own list
        (a gap per subscription if that fails too) and the plans from Defender, as for a subscription
        with no plan rows.
        """
        try:
            found = self._graph(queries.SECURITY, sources.DEFENDER_ASSESSMENTS, subscriptions)
            failed = None
        except SourceError as exc:
            found, failed = [], str(exc)
        rows = [as_resource(row) for row in queries.asked(found, queries.SECURITY_TYPES)]
        # A plan row without its tier says nothing: its subscription's plans are all read from Defender.
        plans = [row for row in rows if row.type_key == PRICING_TYPE]
        bare = {(row.subscription_id or "").lower() for row in plans if not has_tier(row.raw())}
        plans = [row for row in plans if (row.subscription_id or "").lower() not in bare]
        self.add_rows(sources.DEFENDER_ASSESSMENTS, (row for row in rows if row.type_key != PRICING_TYPE))
        self.add_rows(sources.DEFENDER_PLANS, plans)
        # Only a subscription's own plan rows say Resource Graph had its plans: rows set on single resources
        # (`{resource}/providers/Microsoft.Security/pricings/{plan}`) leave the subscription's to Defender.
        planned = {(row.subscription_id or "").lower() for row in plans if parent_id(row.id) is None}
        refused = {gap.scope.lower() for gap in self.gaps.get(sources.DEFENDER_ASSESSMENTS, [])}
        tasks: list[Job] = []
        for subscription in subscriptions:
            scope = f"/subscriptions/{subscription}"
            if failed and scope.lower() not in refused:  # Defender's own list holds the same assessments
                read = partial(self._assessments, subscription, failed)
                tasks.append(Job(read, subscription))
            if scope.lower() in refused:
                reason = "Resource Graph refused the subscription"
                self.add_gap(Gap(source=sources.DEFENDER_PLANS, scope=scope, reason=reason))
                continue
            if subscription.lower() not in planned:  # Resource Graph had no plans: ask Defender
                read = partial(self._per_subscription, sources.DEFENDER_PLANS, subscription, self.defender.pricings)
                tasks.append(Job(read, subscription))
            read = partial(self._per_subscription, sources.SECURITY_CONTACTS, subscription, self.defender.contacts)
            tasks.append(Job(read, subscription))
        return tasks

    def _assessments(self, subscription: str, failed: str) -> Outcome:
        """A subscription's assessments from Defender's Assessments - List when `securityresources` failed;
        if that fails too, the gap names both."""
        outcome = self._per_subscription(sources.DEFENDER_ASSESSMENTS, subscription, self.defender.assessments)
        if outcome.gap is not None:
            reason = f"{failed}; Defender's assessments list: {outcome.gap.reason}"
            outcome.gap = outcome.gap.model_copy(update={"reason": reason})
        return outcome

    def _per_subscription(self, source: str, subscription: str, read: Callable[[str], list[Resource]]) -> Outcome:
        try:
            return Outcome(source, rows=read(subscription), subscription=subscription)
        except (AzureError, ValueError) as exc:
            gap = Gap(source=source, scope=f"/subscriptions/{subscription}", reason=failures.reason(exc))
            return Outcome(source, gap=gap, subscription=subscription)

    def run_tasks(self, jobs: list[Job]) -> None:
        """Per-subscription and per-resource reads on one bounded pool; results absorbed on this thread.

        Progress counts each job as it finishes, and says a subscription is done when its last job is.
        """
        jobs = jobs + Reads(self.options, self.arm, self.vaults, self.present).plan(list(self.resources.values()))
        for phase in (ARM_READS, VAULT_READS):
            if count := sum(1 for job in jobs if job.phase == phase):
                self.progress.phase(phase, count)
        pending = Counter((job.subscription or "").lower() for job in jobs)
        names = {(job.subscription or "").lower(): job.subscription for job in jobs}
        subscriptions = sum(1 for name in names.values() if name)
        lock = threading.Lock()

        def run(job: Job) -> Outcome:
            try:
                return job.run()
            finally:
                self.progress.advance(job.phase)
                key = (job.subscription or "").lower()
                with lock:
                    pending[key] -= 1
                    done = pending[key] == 0
                if done and names[key]:
                    self.progress.subscription(str(names[key]), subscriptions)

        with ThreadPoolExecutor(max_workers=max(1, self.options.max_concurrency)) as pool:
            for outcome in pool.map(run, jobs):
                self.absorb(outcome)

    def absorb(self, outcome: Outcome) -> None:
        self.add_rows(outcome.source, outcome.rows)
        self.keys.extend(outcome.keys)
        if outcome.keys:
            self.records[outcome.source] = self.records.get(outcome.source, 0) + len(outcome.keys)
        if outcome.facts is not None:
            self.app_settings.append(outcome.facts)
            self.records[outcome.source] = self.records.get(outcome.source, 0) + 1
            self.source_of[f"{outcome.facts.resource_id.lower()}#facts"] = outcome.source
        if outcome.gap is not None:
            self.add_gap(outcome.gap)
        if outcome.gone is not None:
            self.gone.add(outcome.gone.lower())
            self.progress.step(f"{outcome.gone} no longer exists (deleted during the scan?): left out")

    def drop_gone(self) -> None:
        """Leave out every resource ARM said is gone, with the rows, keys, facts and gaps under it."""
        if not self.gone:
            return

        def gone(resource_id: str) -> bool:
            key = resource_id.lower().rstrip("/")
            return any(key == g or key.startswith(g + "/") for g in self.gone)

        for key in [key for key in self.resources if gone(key)]:
            del self.resources[key]
            source = self.source_of.get(key)
            if source is not None:
                self.records[source] -= 1
        dropped = [key for key in self.keys if gone(key.vault_id)]
        self.keys = [key for key in self.keys if not gone(key.vault_id)]
        if dropped:
            self.records[sources.KEY_METADATA] -= len(dropped)
        for facts in self.app_settings:
            source = self.source_of.get(f"{facts.resource_id.lower()}#facts")
            if source is not None and gone(facts.resource_id):
                self.records[source] -= 1
        self.app_settings = [facts for facts in self.app_settings if not gone(facts.resource_id)]
        self.gaps = {name: [gap for gap in gaps if not gone(gap.scope)] for name, gaps in self.gaps.items()}

    def inventory(self, subscriptions: list[str]) -> Inventory:
        options = self.options
        coverage = tuple(
            SourceCoverage(
                name=name, collected=True, records=self.records.get(name, 0), gaps=tuple(self.gaps.get(name, ()))
            )
            for name in self.sources
        )
        header = SnapshotHeader(
            tool_version=__version__,
            collected_at=datetime.now(UTC),
            cloud=options.cloud,
            scope=SnapshotScope(
                description=_describe(options, subscriptions),
                subscriptions=tuple(subscriptions),
                management_groups=options.management_groups,
                resource_groups=options.resource_groups,
                tags=dict(options.tags),
            ),
            sources=coverage,
        )
        resources = list(self.resources.values())
        app_settings = self.app_settings
        if options.tags or options.resource_groups:  # rows of the other queries follow their resource, as offline
            resources = within(resources, resource_groups=options.resource_groups, tags=options.tags)
            kept = {r.id_key for r in resources}
            app_settings = [a for a in app_settings if a.resource_id.lower() in kept]
        return Inventory(header=header, resources=resources, keys=self.keys, app_settings=app_settings)


SIGN_IN_HINT = (
    "configure workload identity (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE), a service "
    "principal (AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH), a managed identity, or run az login"
)


def sign_in_failure(exc: ClientAuthenticationError, options: CollectOptions) -> str:
    """One line: which credentials were tried and why each failed; never a secret, token or assertion."""
    if isinstance(exc, SignInFailed):
        return exc.summary()
    name = type(options.credential).__name__ if options.credential is not None else "credential"
    return f"could not sign in to Azure at {authority_of(options)}: {name}: {cause(exc, failures.bounds(options))}"


def _describe(options: CollectOptions, subscriptions: list[str]) -> str:
    if options.management_groups:
        return f"management groups {', '.join(options.management_groups)} ({len(subscriptions)} subscriptions)"
    return f"{len(subscriptions)} subscription(s)"


def collect(options: CollectOptions, progress: Progress | None = None, sign_in: SignIn | None = None) -> Inventory:
    """Read everything the checks need from live Azure; unreadable scopes become coverage gaps.

    `sign_in` is the run's credential when more reads follow (who changed it, a signature); its
    owner closes it. Without one, the collection signs in and closes its credential itself.
    """
    progress = progress or Progress(quiet=options.quiet)
    with progress:
        if sign_in is not None:
            return _collect(options, progress, sign_in)
        with SignIn(options) as own:
            return _collect(options, progress, own)


def _collect(options: CollectOptions, progress: Progress, sign_in: SignIn) -> Inventory:
    run = Collection(options, progress, sign_in.credential)
    try:
        subscriptions = run.subscriptions()
        if not subscriptions and not any(run.gaps.values()):
            raise SourceError("no subscription in scope is readable by this identity")
        readable = run.resource_rows(subscriptions) if subscriptions else []
        if readable:
            run.site_configs(readable)
            run.run_tasks(run.security(readable))
            run.drop_gone()
        run.progress.step(f"collected {len(run.resources)} resources in {run.requests} requests")
        return run.inventory(subscriptions)
    except ClientAuthenticationError as exc:
        # No credential can sign in: a configuration error (exit 2), with each credential's cause.
        raise InputError(f"{sign_in_failure(exc, options)}; {SIGN_IN_HINT}") from None
    finally:
        run.close()
