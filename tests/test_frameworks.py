"""Framework catalogs: the shipped data is right, and every malformed catalog fails with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from frameworks.catalog import Control, Framework, builtin_paths, load_all, load_file
from frameworks.citations import contradicting_citation
from scanner.compliance import evaluate
from scanner.errors import InputError
from scanner.models import CheckMeta, Finding, Remediation, Severity, Status
from scanner.registry import TAGS, load_checks

FIXED_CHECK_IDS = frozenset({"MLW-KV-07", "MLW-DEF-01", "MLW-ST-01"})


@pytest.fixture(scope="module")
def shipped() -> dict[str, Framework]:
    return load_all(check_ids=set(load_checks(plugins=False)), tags=TAGS)


def controls(framework: Framework) -> dict[str, Control]:
    return {control.id: control for control in framework.controls}


def tags_by_strength(control: Control, strength: str) -> set[str]:
    return {tag for m in control.mappings if m.strength == strength for tag in m.tags}


# --- the shipped catalogs -------------------------------------------------------------------------


def test_every_shipped_catalog_loads_against_the_real_tags(shipped: dict[str, Framework]) -> None:
    assert set(shipped) == {
        "hipaa-security-rule",
        "gdpr",
        "nist-800-53-r5",
        "iso27001-2022",
        "soc2-tsc",
        "mcsb-v1",
        "hipaa-nprm-2025",
    }
    assert {path.name for path in builtin_paths()} == {
        "hipaa.yaml",
        "gdpr.yaml",
        "nist-800-53-r5.yaml",
        "iso27001-2022.yaml",
        "soc2-tsc.yaml",
        "mcsb-v1.yaml",
        "hipaa-nprm-2025.yaml",
    }
    for framework in shipped.values():
        assert Path(framework.source).name in {p.name for p in builtin_paths()}
        assert framework.name and framework.version and framework.url.startswith("https://")


def test_shipped_control_ids_are_unique_and_every_control_is_mapped_or_manual(
    shipped: dict[str, Framework],
) -> None:
    for framework in shipped.values():
        ids = [control.id for control in framework.controls]
        assert len(ids) == len(set(ids)), framework.id
        for control in framework.controls:
            assert control.line > 0
            assert control.mappings or (control.manual_evidence or "").strip(), (framework.id, control.id)
            assert contradicting_citation(control.id, control.title) is None


def test_every_check_tag_maps_to_some_in_force_control(shipped: dict[str, Framework]) -> None:
    used = {
        tag
        for framework in shipped.values()
        if framework.status == "in-force"
        for control in framework.controls
        for mapping in control.mappings
        for tag in mapping.tags
    }
    assert used == set(TAGS)


def test_only_the_nprm_profile_is_proposed(shipped: dict[str, Framework]) -> None:
    proposed = {fid for fid, framework in shipped.items() if framework.status == "proposed"}
    assert proposed == {"hipaa-nprm-2025"}
    nprm = shipped["hipaa-nprm-2025"]
    assert all(control.level is None for control in nprm.controls)  # the NPRM drops required/addressable
    assert "NPRM-ENCRYPTION" in controls(nprm)
    assert not any("NPRM" in control.id for control in shipped["hipaa-security-rule"].controls)


HIPAA_LEVELS = {  # FRAMEWORKS.md section 1, from Appendix A to Subpart C
    "164.308(a)(1)(ii)(A)": "required",
    "164.308(a)(1)(ii)(B)": "required",
    "164.308(a)(1)(ii)(D)": "required",
    "164.308(a)(3)(ii)(A)": "addressable",
    "164.308(a)(3)(ii)(B)": "addressable",
    "164.308(a)(3)(ii)(C)": "addressable",
    "164.308(a)(4)(ii)(A)": "required",
    "164.308(a)(4)(ii)(B)": "addressable",
    "164.308(a)(4)(ii)(C)": "addressable",
    "164.308(a)(5)(ii)(B)": "addressable",
    "164.308(a)(5)(ii)(C)": "addressable",
    "164.308(a)(5)(ii)(D)": "addressable",
    "164.308(a)(6)(ii)": "required",
    "164.308(a)(7)(ii)(A)": "required",
    "164.308(a)(7)(ii)(B)": "required",
    "164.308(a)(7)(ii)(C)": "required",
    "164.308(a)(7)(ii)(D)": "addressable",
    "164.308(a)(7)(ii)(E)": "addressable",
    "164.308(a)(8)": "required",
    "164.308(b)(3)": "required",  # FRAMEWORKS.md's "308(b)(1) R": the flag sits on its written-contract spec
    "164.310(d)(2)(iv)": "addressable",
    "164.312(a)(2)(i)": "required",
    "164.312(a)(2)(ii)": "required",
    "164.312(a)(2)(iii)": "addressable",
    "164.312(a)(2)(iv)": "addressable",
    "164.312(b)": "required",
    "164.312(c)(2)": "addressable",
    "164.312(d)": "required",
    "164.312(e)(2)(i)": "addressable",
    "164.312(e)(2)(ii)": "addressable",
    "164.316(b)(2)(i)": "required",
}


@pytest.mark.parametrize(("control_id", "level"), sorted(HIPAA_LEVELS.items()))
def test_hipaa_required_addressable_flags_match_appendix_a(
    shipped: dict[str, Framework], control_id: str, level: str
) -> None:
    assert controls(shipped["hipaa-security-rule"])[control_id].level == level


def test_hipaa_lists_every_standard_and_flags_them_consistently(shipped: dict[str, Framework]) -> None:
    hipaa = controls(shipped["hipaa-security-rule"])
    standards = {
        "164.308(a)(1)(i)", "164.308(a)(2)", "164.308(a)(3)(i)", "164.308(a)(4)(i)", "164.308(a)(5)(i)",
        "164.308(a)(6)(i)", "164.308(a)(7)(i)", "164.308(a)(8)", "164.308(b)(1)",
        "164.310(a)(1)", "164.310(b)", "164.310(c)", "164.310(d)(1)",
        "164.312(a)(1)", "164.312(b)", "164.312(c)(1)", "164.312(d)", "164.312(e)(1)",
        "164.316(a)", "164.316(b)(1)",
    }  # fmt: skip
    assert {cid for cid, c in hipaa.items() if c.kind == "standard"} == standards
    with_specs = {c.parent for c in hipaa.values() if c.kind == "spec"}
    # Appendix A's 36 implementation specifications plus the three of 164.316(b)(2)
    assert sum(1 for c in hipaa.values() if c.kind == "spec") == 39
    for cid in standards:
        # a standard with specifications has no flag of its own; one without counts as required
        expected = None if cid in with_specs else "required"
        assert hipaa[cid].level == expected, cid
    for control in hipaa.values():
        if control.kind == "spec":
            assert control.parent in standards and control.level in ("required", "addressable"), control.id


def test_hipaa_maps_the_technical_safeguards_directly(shipped: dict[str, Framework]) -> None:
    hipaa = controls(shipped["hipaa-security-rule"])
    assert "encryption-at-rest" in tags_by_strength(hipaa["164.312(a)(2)(iv)"], "direct")
    assert "encryption-in-transit" in tags_by_strength(hipaa["164.312(e)(2)(ii)"], "direct")
    assert "logging" in tags_by_strength(hipaa["164.312(b)"], "direct")
    assert {"managed-identity", "local-auth"} <= tags_by_strength(hipaa["164.312(d)"], "direct")
    assert "private-network" in tags_by_strength(hipaa["164.312(a)(1)"], "direct")
    assert not hipaa["164.310(b)"].mappings and hipaa["164.310(b)"].manual_evidence


GDPR_TITLES = {
    "Art. 5(1)(f)": "Principles relating to processing of personal data",
    "Art. 5(2)": "Principles relating to processing of personal data",
    "Art. 9": "Processing of special categories of personal data",
    "Art. 24": "Responsibility of the controller",
    "Art. 25(1)": "Data protection by design and by default",
    "Art. 25(2)": "Data protection by design and by default",
    "Art. 28(3)(c)": "Processor",
    "Art. 30": "Records of processing activities",
    "Art. 32(1)(a)": "Security of processing",
    "Art. 32(1)(b)": "Security of processing",
    "Art. 32(1)(c)": "Security of processing",
    "Art. 32(1)(d)": "Security of processing",
    "Art. 32(2)": "Security of processing",
    "Art. 33": "Notification of a personal data breach to the supervisory authority",
    "Art. 34": "Communication of a personal data breach to the data subject",
    "Art. 35": "Data protection impact assessment",
    "Art. 44": "General principle for transfers",
    "Art. 45": "Transfers on the basis of an adequacy decision",
    "Art. 46": "Transfers subject to appropriate safeguards",
}


def test_gdpr_has_every_article_with_its_official_heading(shipped: dict[str, Framework]) -> None:
    gdpr = controls(shipped["gdpr"])
    assert set(gdpr) == set(GDPR_TITLES)
    for cid, heading in GDPR_TITLES.items():
        assert gdpr[cid].title.startswith(heading), cid
    assert "integrity and confidentiality" in gdpr["Art. 5(1)(f)"].title


def test_gdpr_treats_region_only_as_a_supporting_transfer_signal(shipped: dict[str, Framework]) -> None:
    gdpr = controls(shipped["gdpr"])
    for cid in ("Art. 44", "Art. 45", "Art. 46"):
        assert tags_by_strength(gdpr[cid], "supporting") == {"data-residency"}
        assert not tags_by_strength(gdpr[cid], "direct")
        assert gdpr[cid].manual_evidence
    assert {"encryption-at-rest", "encryption-in-transit"} <= tags_by_strength(gdpr["Art. 32(1)(a)"], "direct")
    assert tags_by_strength(gdpr["Art. 25(2)"], "direct") == {"private-network"}


@pytest.mark.parametrize("framework_id", ["nist-800-53-r5", "iso27001-2022", "soc2-tsc", "mcsb-v1"])
def test_focused_catalogs_say_they_are_subsets(shipped: dict[str, Framework], framework_id: str) -> None:
    assert "focused subset" in shipped[framework_id].description


def test_nist_enhancements_hang_under_their_base_control(shipped: dict[str, Framework]) -> None:
    nist = controls(shipped["nist-800-53-r5"])
    for enhancement in ("SC-28(1)", "SC-8(1)", "SC-7(3)", "IA-5(7)", "SA-9(5)"):
        assert nist[enhancement].parent == enhancement.split("(")[0]
        assert nist[enhancement].kind == "enhancement"


def test_a_failing_tagged_finding_fails_the_hipaa_encryption_control(shipped: dict[str, Framework]) -> None:
    """The catalog model is what scanner.compliance consumes: tags resolve to check ids."""
    meta = CheckMeta(
        id="MLW-ST-01",
        title="Storage account encrypted with a customer-managed key",
        kinds=("storage_account",),
        severity=Severity.MEDIUM,
        tags=("encryption-at-rest",),
        pillar="encryption",
        rationale="CMK keeps key control with the customer.",
        remediation=Remediation(text="Configure a customer-managed key."),
    )
    resource_id = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/phi"
    finding = Finding(
        check_id="MLW-ST-01",
        resource_id=resource_id,
        resource_type="microsoft.storage/storageaccounts",
        resource_name="phi",
        status=Status.FAIL,
        severity=Severity.MEDIUM,
        title=meta.title,
        message="encryption.keySource is Microsoft.Storage",
        fingerprint=Finding.make_fingerprint("MLW-ST-01", resource_id),
    )
    (result,) = evaluate([shipped["hipaa-security-rule"]], [meta], [finding])
    by_id = {c.control_id: c for c in result.controls}
    assert by_id["164.312(a)(2)(iv)"].status == "fail"
    assert by_id["164.312(a)(2)(iv)"].level == "addressable"
    assert by_id["164.312(a)(2)(iv)"].strength == "direct"
    assert by_id["164.312(b)"].status == "not_assessed"
    assert by_id["164.310(b)"].status == "manual"


# --- loader errors: one line naming file and line -------------------------------------------------

VALID = """\
id: acme-controls
name: Acme controls
version: "1"
controls:
  - id: ACME-1
    title: Data stores are private
    mappings:
      - strength: direct
        tags: [private-network]
  - id: ACME-2
    title: A key policy exists
    manual_evidence: The signed key policy.
"""


def write(tmp_path: Path, text: str, name: str = "acme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def load_error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_file(path, check_ids=FIXED_CHECK_IDS, tags=TAGS)
    message = str(caught.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def test_a_valid_user_catalog_loads_with_lines_and_source(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("tags: [private-network]", "checks: [MLW-KV-07]"))
    framework = load_file(path, check_ids=FIXED_CHECK_IDS, tags=TAGS)
    assert framework.source == str(path)
    assert framework.status == "in-force"
    first, second = framework.controls
    assert (first.line, second.line) == (5, 10)
    assert first.mappings[0].checks == ("MLW-KV-07",)
    assert second.manual_evidence == "The signed key policy." and not second.mappings


def test_a_numeric_version_is_read_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('version: "1"', "version: 2022"))
    assert load_file(path, check_ids=FIXED_CHECK_IDS, tags=TAGS).version == "2022"


def test_loaded_models_are_immutable(tmp_path: Path) -> None:
    framework = load_file(write(tmp_path, VALID), check_ids=FIXED_CHECK_IDS, tags=TAGS)
    with pytest.raises(ValidationError):
        framework.controls[0].title = "changed"


BAD_CASES = [
    pytest.param(
        VALID.replace("title: A key policy exists", "title: [unclosed"),
        "manual_evidence:",  # PyYAML notices the problem where the list should have closed
        "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 11)",
        id="yaml-unclosed-list",
    ),
    pytest.param(
        VALID.replace("title: A key policy exists", "title: Keys: rotated"),
        "title: Keys: rotated",
        "invalid YAML: mapping values are not allowed here",
        id="yaml-colon-in-plain-value",
    ),
    pytest.param(
        VALID.replace("    manual_evidence:", "    levle: required\n    manual_evidence:"),
        "levle:",
        "unknown key 'levle' in controls[1] (did you mean 'level'?)",
        id="unknown-control-key",
    ),
    pytest.param(VALID + "owner: me\n", "owner:", "unknown key 'owner' in the framework", id="unknown-top-key"),
    pytest.param(
        VALID.replace("        tags: [private-network]", "        tags: [private-network]\n        weight: 3"),
        "weight:",
        "unknown key 'weight' in controls[0].mappings[0]",
        id="unknown-mapping-key",
    ),
    pytest.param(
        VALID.replace("    title: A key policy exists\n", "    line: 99\n"),
        "line: 99",
        "unknown key 'line'",
        id="loader-field-not-settable",
    ),
    pytest.param(
        VALID.replace("    title: A key policy exists\n", ""),
        "- id: ACME-2",
        "controls[1] is missing 'title'",
        id="missing-title",
    ),
    pytest.param(VALID.replace('version: "1"\n', ""), "id: acme-controls", "missing 'version'", id="missing-version"),
    pytest.param(
        VALID.replace("      - strength: direct\n        tags:", "      - tags:"),
        "- tags:",
        "missing 'strength'",
        id="missing-strength",
    ),
    pytest.param(
        VALID.replace("id: ACME-2", 'id: "ACME-1"'),
        'id: "ACME-1"',
        "duplicate control id 'ACME-1' (first at line 5)",
        id="duplicate-control",
    ),
    pytest.param(
        VALID.replace("name: Acme controls", "name: Acme controls\nname: Again"),
        "name: Again",
        "duplicate key 'name' (first at line 2)",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        VALID + "    parent: ACME-9\n",
        "parent: ACME-9",
        "parent 'ACME-9' is not in this file",
        id="missing-parent",
    ),
    pytest.param(
        VALID.replace("    mappings:", "    parent: ACME-2\n    mappings:") + "    parent: ACME-1\n",
        "parent: ACME-2",
        "parent chain loops back",
        id="parent-cycle",
    ),
    pytest.param(
        VALID.replace("tags: [private-network]", "checks: [MLW-KV-99]"),
        "checks: [MLW-KV-99]",
        "unknown check id 'MLW-KV-99' (did you mean 'MLW-KV-07'?)",
        id="unknown-check",
    ),
    pytest.param(
        VALID.replace("tags: [private-network]", "tags: [private-networks]"),
        "tags: [private-networks]",
        "unknown tag 'private-networks' (did you mean 'private-network'?)",
        id="unknown-tag",
    ),
    pytest.param(
        VALID.replace("strength: direct", "strength: strong"),
        "strength: strong",
        "controls[0].mappings[0].strength: Input should be 'direct' or 'supporting' (got 'strong')",
        id="unknown-strength",
    ),
    pytest.param(
        VALID.replace("    manual_evidence:", "    level: mandatory\n    manual_evidence:"),
        "level: mandatory",
        "controls[1].level: Input should be 'required' or 'addressable'",
        id="unknown-level",
    ),
    pytest.param(
        VALID.replace("version: ", "status: draft\nversion: "),
        "status: draft",
        "status: Input should be 'in-force' or 'proposed'",
        id="unknown-status",
    ),
    pytest.param(
        VALID.replace("    manual_evidence: The signed key policy.\n", ""),
        "- id: ACME-2",
        "give 'mappings' or, for a manual control, 'manual_evidence'",
        id="neither-mappings-nor-manual",
    ),
    pytest.param(
        VALID.replace("        tags: [private-network]\n", "        rationale: why\n"),
        "- strength: direct",
        "a mapping must name at least one tag or check id",
        id="empty-mapping",
    ),
    pytest.param(
        VALID.replace(
            "id: ACME-2\n    title: A key policy exists",
            'id: "164.312(e)(2)(ii)"\n    title: 164.312(a)(2)(iv) Encryption',
        ),
        "title: 164.312(a)(2)(iv)",
        "title cites '164.312(a)(2)(iv)', which contradicts the id",
        id="citation-contradicts-id",
    ),
    pytest.param(
        VALID.replace("title: Data stores are private", "title: [Data, stores]"),
        "title: [Data, stores]",
        "controls[0].title: Input should be a valid string",
        id="wrong-type",
    ),
    pytest.param(
        VALID.replace(
            "    mappings:\n      - strength: direct\n        tags: [private-network]\n", "    mappings: private\n"
        ),
        "mappings: private",
        "'mappings' must be a list",
        id="mappings-not-a-list",
    ),
    pytest.param(
        VALID.replace("      - strength: direct\n        tags: [private-network]\n", "      - private-network\n"),
        "mappings:",
        "controls[0].mappings[0] must be a mapping",
        id="mapping-not-a-mapping",
    ),
    pytest.param(
        VALID.replace("id: acme-controls", "id: Acme Controls"),
        "id: Acme Controls",
        "framework id 'Acme Controls': use lower-case letters",
        id="framework-id-not-selectable",
    ),
    pytest.param("- id: acme\n- name: x\n", "- id: acme", "the framework must be a mapping", id="top-level-list"),
    pytest.param("", "", "the framework must be a mapping", id="empty-file"),
    pytest.param(
        VALID.split("controls:")[0] + "controls: []\n",
        "controls: []",
        "'controls' must list at least one control",
        id="no-controls",
    ),
    pytest.param(
        VALID.replace("  - id: ACME-2", "  - 7: ACME-2"),
        "7: ACME-2",
        "key 7 must be a string",
        id="non-string-key",
    ),
]


@pytest.mark.parametrize(("text", "needle", "fragment"), BAD_CASES)
def test_bad_catalog_names_file_and_line(tmp_path: Path, text: str, needle: str, fragment: str) -> None:
    path = write(tmp_path, text)
    message = load_error(path)
    line = line_of(text, needle) if needle else 1
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message


def test_unreadable_files_are_input_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert str(missing) in load_error(missing)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("id: caf\xe9\n".encode("latin-1"))
    assert load_error(latin1).startswith(f"{latin1}:1: not UTF-8")


def test_load_all_adds_user_files_but_refuses_a_builtin_id(tmp_path: Path) -> None:
    user = write(tmp_path, VALID)
    loaded = load_all(check_ids=FIXED_CHECK_IDS, tags=TAGS, extra=[user])
    assert loaded["acme-controls"].source == str(user)
    assert "hipaa-security-rule" in loaded

    clash = write(tmp_path, "# my copy\n" + VALID.replace("id: acme-controls", "id: gdpr"), name="clash.yaml")
    with pytest.raises(InputError) as caught:
        load_all(check_ids=FIXED_CHECK_IDS, tags=TAGS, extra=[clash])
    message = str(caught.value)
    assert message.startswith(f"{clash}:2: framework id 'gdpr' is already used by ")
    assert message.endswith("gdpr.yaml")


@pytest.mark.parametrize(
    ("control_id", "title", "contradiction"),
    [
        ("164.312(a)(2)(iv)", "Encryption and decryption", None),
        ("164.312(a)(2)(iv)", "§ 164.312(a) Access control: encryption", None),
        ("164.312(e)(2)(ii)", "45 CFR 164.312(a)(2)(iv) Encryption", "45 CFR 164.312(a)(2)(iv)"),
        ("164.308(a)(1)(ii)(A)", "164.308(a)(1)(ii)(B) Risk analysis", "164.308(a)(1)(ii)(B)"),
        ("Art. 32(1)(a)", "Art. 32 Security of processing", None),
        ("Art. 5(1)(f)", "Article 51 integrity", "Article 51"),
        ("Art. 33", "Art. 34 Communication of a breach", "Art. 34"),
        ("SC-28(1)", "SC-28 Cryptographic Protection", None),
        ("SC-28(1)", "SC-8(1) Cryptographic Protection", "SC-8(1)"),
        ("A.8.24", "A.8.2 Use of cryptography", "A.8.2"),
        ("CC6.1", "CC6.7 Logical access", "CC6.7"),
        ("NPRM-MFA", "164.312 multi-factor authentication", None),  # no scheme: nothing to compare
    ],
)
def test_title_citation_must_not_contradict_id(control_id: str, title: str, contradiction: str | None) -> None:
    assert contradicting_citation(control_id, title) == contradiction
