"""The summary PDF's deployment posture for a large estate: counted, not listed.

A row per deployment made the posture 123 of the 166 pages of a 20,000-resource estate's summary
PDF (2,030 deployments). Beyond `LISTED` deployments the section instead counts every deployment
once in each of three tables (by the combination of its pillar verdicts, by kind, by subscription:
the busiest `SUBSCRIPTIONS` and the rest as one row) and lists the `WORST` deployments row by row.
Nothing is lost: every count covers every deployment, and the report says where each one is
listed (the HTML, the full PDF, the JSON's `postures[]` with the reasons and failing findings).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scanner.models import DeploymentPosture, Finding, Severity, Status

LISTED = 50
"""Deployments the summary PDF lists a row each; beyond it the section is this digest."""
WORST = 25
"""Deployments the digest lists a row each: the worst first."""
SUBSCRIPTIONS = 20
"""Subscriptions the digest gives a row each (most failing deployments first); the rest share one row."""
NOT_JUDGED = "not judged"


@dataclass(frozen=True)
class Count:
    """Deployments of one kind, subscription or verdict combination."""

    label: str
    deployments: int
    failing: int
    """Deployments failing at least one pillar."""
    by_pillar: tuple[int, ...]
    """Deployments failing each pillar, in the section's pillar order."""


@dataclass(frozen=True)
class Pattern:
    """Deployments whose pillars got these verdicts, one per pillar (`not judged` where none)."""

    verdicts: tuple[str, ...]
    deployments: int
    kinds: str
    """`870 ml-online-deployment, 290 aks`: what they are."""


@dataclass(frozen=True)
class PostureDigest:
    total: int
    overall: Count
    patterns: tuple[Pattern, ...]
    kinds: tuple[Count, ...]
    subscriptions: tuple[Count, ...]
    other_subscriptions: Count | None
    """The subscriptions beyond `SUBSCRIPTIONS`, summed into one row."""
    subscription_count: int
    worst: tuple[DeploymentPosture, ...]


def needed(postures: Sequence[DeploymentPosture]) -> bool:
    """Whether the summary PDF should count the deployments rather than list them."""
    return len(postures) > LISTED


def digest(
    postures: Sequence[DeploymentPosture],
    pillars: Sequence[str],
    findings: Sequence[Finding],
    subscription_label: Mapping[str | None, str],
) -> PostureDigest:
    """Every deployment counted once per table, and the worst ones to list; linear in deployments."""
    verdicts = [_verdicts(posture, pillars) for posture in postures]
    patterns: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    by_kind: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    by_subscription: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for posture, row in zip(postures, verdicts, strict=True):
        patterns[row][posture.kind] += 1
        by_kind[posture.kind].append(row)
        by_subscription[subscription_label.get(posture.subscription_id) or "(no subscription)"].append(row)
    subscriptions = sorted(
        (_count(label, rows) for label, rows in by_subscription.items()),
        key=lambda c: (-c.failing, -c.deployments, c.label),
    )
    rest = subscriptions[SUBSCRIPTIONS:]
    other = _sum(f"{len(rest)} other subscription(s)", rest) if rest else None
    return PostureDigest(
        total=len(postures),
        overall=_count("All deployments", verdicts),
        patterns=tuple(
            Pattern(row, sum(kinds.values()), ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
            for row, kinds in sorted(patterns.items(), key=lambda item: (-_fails(item[0]), -sum(item[1].values())))
        ),
        kinds=tuple(sorted((_count(kind, rows) for kind, rows in by_kind.items()), key=lambda c: c.label)),
        subscriptions=tuple(subscriptions[:SUBSCRIPTIONS]),
        other_subscriptions=other,
        subscription_count=len(subscriptions),
        worst=_worst(postures, verdicts, findings),
    )


def _verdicts(posture: DeploymentPosture, pillars: Sequence[str]) -> tuple[str, ...]:
    judged = {verdict.pillar: verdict.status for verdict in posture.pillars}
    return tuple(judged.get(pillar, NOT_JUDGED) for pillar in pillars)


def _fails(row: tuple[str, ...]) -> int:
    return sum(1 for verdict in row if verdict == "fail")


def _count(label: str, rows: Sequence[tuple[str, ...]]) -> Count:
    width = len(rows[0]) if rows else 0
    return Count(
        label=label,
        deployments=len(rows),
        failing=sum(1 for row in rows if "fail" in row),
        by_pillar=tuple(sum(1 for row in rows if row[i] == "fail") for i in range(width)),
    )


def _sum(label: str, counts: Sequence[Count]) -> Count:
    return Count(
        label=label,
        deployments=sum(c.deployments for c in counts),
        failing=sum(c.failing for c in counts),
        by_pillar=tuple(map(sum, zip(*(c.by_pillar for c in counts), strict=True))),
    )


def _worst(
    postures: Sequence[DeploymentPosture], verdicts: Sequence[tuple[str, ...]], findings: Sequence[Finding]
) -> tuple[DeploymentPosture, ...]:
    """Deployments failing or not assessed on a pillar, most pillars failing first, then most open
    critical, then high failures reached (as the executive summary's top risks count them), then
    most pillars not assessed, then by name."""
    risky = {
        f.fingerprint: f.severity
        for f in findings
        if f.status is Status.FAIL and not f.waived_by and f.severity in (Severity.CRITICAL, Severity.HIGH)
    }

    def rank(index: int) -> tuple[int, int, int, int, str]:
        posture, row = postures[index], verdicts[index]
        reached = {fp for verdict in posture.pillars for fp in verdict.failing if fp in risky}
        critical = sum(1 for fp in reached if risky[fp] is Severity.CRITICAL)
        return (-_fails(row), -critical, -(len(reached) - critical), -row.count("unknown"), posture.name.lower())

    flawed = [i for i, row in enumerate(verdicts) if "fail" in row or "unknown" in row]
    ranked = sorted(flawed, key=rank)[:WORST]
    return tuple(postures[index] for index in ranked)
