"""The runner: one pass by kind, raising checks become error findings, missing data becomes unknown."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner import inventory as sources
from scanner import registry
from scanner.errors import InputError
from scanner.estate import Estate
from scanner.models import CheckMeta, Remediation, Resource, Severity, Status
from scanner.registry import Check, Verdict, failed, passed
from scanner.runner import run_checks
from tests.helpers import estate, install_plugin, resource


def _meta(check_id: str, *, kinds: tuple[str, ...] = ("storage",), needs: tuple[str, ...] = ()) -> CheckMeta:
    return CheckMeta(
        id=check_id,
        title="t",
        kinds=kinds,
        severity=Severity.HIGH,
        tags=("private-network",),
        pillar="private-network",
        rationale="r",
        remediation=Remediation(text="fix"),
        needs=needs,
    )


def _boom(resource: Resource, estate: Estate) -> Verdict:
    raise ValueError("secret-value-that-must-not-leak")


def test_raising_check_becomes_error_and_scan_goes_on() -> None:
    est = estate(
        [resource("Microsoft.Storage/storageAccounts", "st1"), resource("Microsoft.Storage/storageAccounts", "st2")]
    )
    checks = {
        "T-BOOM": Check(_meta("T-BOOM"), _boom),
        "T-OK": Check(_meta("T-OK"), lambda r, e: passed("fine")),
    }
    findings = run_checks(est, checks)
    by_check = {(f.check_id, f.resource_name): f for f in findings}
    assert {k for k in by_check} == {("T-BOOM", "st1"), ("T-BOOM", "st2"), ("T-OK", "st1"), ("T-OK", "st2")}
    error = by_check[("T-BOOM", "st1")]
    assert error.status is Status.ERROR
    assert "ValueError" in error.message and "secret-value" not in error.message


def test_missing_source_is_unknown_without_calling_the_check() -> None:
    called: list[str] = []

    def body(r: Resource, e: Estate) -> Verdict:
        called.append(r.name)
        return passed("ok")

    est = estate([resource("Microsoft.Storage/storageAccounts", "st1")], collected=[sources.RESOURCES])
    findings = run_checks(est, {"T-NEEDS": Check(_meta("T-NEEDS", needs=(sources.DIAGNOSTIC_SETTINGS,)), body)})
    assert [f.status for f in findings] == [Status.UNKNOWN]
    assert "diagnostic_settings was not collected" in findings[0].message
    assert called == []


def test_checks_only_run_on_their_kinds_and_several_verdicts_get_distinct_fingerprints() -> None:
    est = estate([resource("Microsoft.Storage/storageAccounts", "st1"), resource("Microsoft.KeyVault/vaults", "kv")])

    def per_key(r: Resource, e: Estate) -> list[Verdict]:
        return [failed("k1 bad", detail_key="k1"), passed("k2 ok", detail_key="k2")]

    findings = run_checks(est, {"T-KV": Check(_meta("T-KV", kinds=("keyvault",)), per_key)})
    assert {f.resource_name for f in findings} == {"kv"}
    assert len({f.fingerprint for f in findings}) == 2


def test_non_verdict_return_is_an_error() -> None:
    est = estate([resource("Microsoft.Storage/storageAccounts", "st1")])
    findings = run_checks(est, {"T-BAD": Check(_meta("T-BAD"), lambda r, e: "pass")})  # type: ignore[arg-type,return-value]
    assert findings[0].status is Status.ERROR


def test_registration_rejects_unknown_tags_kinds_and_pillars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", {})
    with pytest.raises(InputError, match="unknown tags"):
        registry.check(
            id="X-1",
            title="t",
            kinds=("storage",),
            severity="high",
            tags=("nonsense",),
            pillar="identity",
            rationale="r",
            remediation="f",
        )(lambda r, e: passed("x"))
    with pytest.raises(InputError, match="unknown kinds"):
        registry.check(
            id="X-2",
            title="t",
            kinds=("mainframe",),
            severity="high",
            tags=("logging",),
            pillar="monitoring",
            rationale="r",
            remediation="f",
        )(lambda r, e: passed("x"))


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A third-party package that registers a check through the `mlwarden.checks` entry point."""
    yield install_plugin(tmp_path, monkeypatch, "acme_checks", "ACME-01", "return failed('acme says no')")
    sys.modules.pop("acme_checks", None)


def test_entry_point_plugins_are_discovered(plugin_dist: Path) -> None:
    checks = registry.load_checks()
    assert "ACME-01" in checks
    findings = run_checks(
        estate([resource("Microsoft.Storage/storageAccounts", "st1")]), {"ACME-01": checks["ACME-01"]}
    )
    assert [(f.check_id, f.status) for f in findings] == [("ACME-01", Status.FAIL)]


def test_broken_plugin_is_one_clear_input_error(plugin_dist: Path) -> None:
    plugin_dist.write_text("raise RuntimeError('broken at import')\n")
    with pytest.raises(InputError, match=r"check plugin 'acme_checks' .* failed to load"):
        registry.load_checks()


def test_an_abandoned_check_that_swallowed_the_first_interruption_is_stopped_by_the_next() -> None:
    from scanner import runner

    swallowed: list[str] = []

    def stubborn(r: Resource, e: Estate) -> Verdict:
        try:
            while True:
                pass
        except BaseException as exc:  # as if lost in a gc callback
            swallowed.append(type(exc).__name__)
        while True:
            pass

    est = estate([resource("Microsoft.Storage/storageAccounts", "st1")])
    earlier = set(runner._ABANDONED)  # other tests' sleeping checks stay alive, by design
    findings = run_checks(est, {"T-STUB": Check(_meta("T-STUB"), stubborn)}, timeout=0.5)
    assert [f.status for f in findings] == [Status.ERROR] and "did not finish" in findings[0].message
    for _ in range(200):
        runner._reap()
        alive = [worker for worker in runner._ABANDONED if worker.is_alive() and worker not in earlier]
        if not alive:
            break
        alive[0].join(0.05)
    assert not alive and swallowed == ["CheckTimeout"]


def test_findings_built_without_revalidation_equal_validated_ones() -> None:
    """The runner builds findings and evidence on a trusted path; pydantic must agree with every value."""
    from scanner.models import Evidence, Finding
    from scanner.registry import load_checks
    from scanner.snapshot import read_snapshot
    from tests.test_scan_equivalence import DEMO

    findings = run_checks(Estate(read_snapshot(DEMO)), load_checks(plugins=False))
    assert findings
    for finding in findings:
        again = Finding.model_validate(finding.model_dump(exclude_unset=True))
        assert again == finding and again.model_dump(mode="json") == finding.model_dump(mode="json")
        assert finding.model_fields_set == again.model_fields_set
        assert {"waived_by", "baselined", "change"}.isdisjoint(finding.model_fields_set)
        assert finding.fingerprint == Finding.make_fingerprint(
            finding.check_id, finding.resource_id, finding.detail_key
        )
        for item in finding.evidence:
            assert Evidence.model_validate(item.model_dump()) == item
    first, second = findings[0], findings[1]
    waived = first.model_copy(update={"waived_by": "w"})
    assert "waived_by" in waived.model_fields_set and "waived_by" not in second.model_fields_set


def test_evidence_keeps_validation_for_anything_but_a_plain_path() -> None:
    from pydantic import ValidationError

    from scanner.models import Evidence

    assert Evidence(path="p").model_fields_set == {"path"}
    assert Evidence(path="p", value=1).model_fields_set == {"path", "value"}
    with pytest.raises(ValidationError):
        Evidence(path=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Evidence(path="p", bogus=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cyclic_collector_is_off_during_the_phase_and_restored_after(enabled: bool) -> None:
    import gc

    seen: list[bool] = []

    def records(r: Resource, e: Estate) -> Verdict:
        seen.append(gc.isenabled())
        return passed("ok")

    before = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        run_checks(
            estate([resource("Microsoft.Storage/storageAccounts", "st1")]), {"T-GC": Check(_meta("T-GC"), records)}
        )
        assert seen == [False] and gc.isenabled() is enabled
    finally:
        gc.enable() if before else gc.disable()
