"""Linked templates: local `relativePath` links are read (bounded, inside the --template directory,
one clear error line otherwise); remote links are a coverage gap, never "nothing deployed"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.iac.conftest import by, findings, scan, template, write


def storage(name: str = "[parameters('storageAccountName')]", tls: str = "TLS1_0") -> dict[str, Any]:
    return {
        "type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-05-01",
        "name": name,
        "location": "[parameters('location')]",
        "sku": {"name": "Standard_LRS"},
        "kind": "StorageV2",
        "properties": {"minimumTlsVersion": tls, "supportsHttpsTrafficOnly": True},
    }


def linked_storage() -> dict[str, Any]:
    """`artifacts/linkedStorageAccount.json` of the ARM documentation's relative-path sample."""
    return template(
        storage(),
        parameters={
            "storageAccountName": {"type": "string"},
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        },
        outputs={
            "blobEndpoint": {
                "type": "string",
                "value": "[reference(parameters('storageAccountName')).primaryEndpoints.blob]",
            }
        },
    )


def deployment(link: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "linkedTemplate",
        "properties": {
            "mode": "Incremental",
            "templateLink": link,
            "parameters": {k: {"value": v} for k, v in parameters.items()},
        },
    }


def main(link: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return template(
        deployment(link, **parameters),
        parameters={"storageAccountName": {"type": "string", "defaultValue": "stlinked01"}},
    )


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["scan", *args, "--fail-on", "none", "--format", "json"], catch_exceptions=False)


def test_a_local_linked_template_is_judged_where_it_is_declared(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "artifacts").mkdir()
    write(tmp_path / "artifacts" / "linkedStorageAccount.json", linked_storage())
    link = {"relativePath": "artifacts/linkedStorageAccount.json"}
    write(tmp_path / "main.json", main(link, storageAccountName="[parameters('storageAccountName')]"))
    found = findings(scan("--template", "main.json"))
    tls = by(found, "MLW-ST-02", "stlinked01")  # named by the parameter the main template passes
    assert tls["status"] == "fail"
    assert tls["source_file"] == "artifacts/linkedStorageAccount.json"
    lines = (tmp_path / "artifacts" / "linkedStorageAccount.json").read_text().splitlines()
    assert '"type": "Microsoft.Storage/storageAccounts"' in lines[tls["source_line"]]


def test_links_are_followed_from_the_linking_file_and_a_directory_judges_each_resource_once(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modules").mkdir()
    write(tmp_path / "modules" / "storage.json", linked_storage())
    # modules/wrapper.json links `storage.json` next to itself
    wrapper = template(
        deployment({"relativePath": "storage.json"}, storageAccountName="[parameters('name')]"),
        parameters={"name": {"type": "string"}},
    )
    write(tmp_path / "modules" / "wrapper.json", wrapper)
    write(tmp_path / "main.json", main({"relativePath": "modules/wrapper.json"}, name="stnested01"))
    found = findings(scan("--template", "."))
    names = {f["resource_name"] for f in found if f["check_id"] == "MLW-ST-02"}
    assert names == {"stnested01"}  # not again on its own, with no name


@pytest.mark.parametrize(
    ("files", "relative", "expected"),
    [
        ({}, "artifacts/missing.json", "linked template 'artifacts/missing.json': no such file"),
        ({"../outside.json": linked_storage()}, "../outside.json", "is outside"),
        ({"artifacts/broken.json": "{not json"}, "artifacts/broken.json", "malformed linked ARM template"),
        ({"artifacts/other.json": {"name": "x"}}, "artifacts/other.json", "is not an ARM deployment template"),
        ({}, "main.json", "links back to itself"),
    ],
)
def test_a_bad_local_link_is_one_error_line_exit_2(
    tmp_path: Path, files: dict[str, Any], relative: str, expected: str
) -> None:
    root = tmp_path / "infra"
    (root / "artifacts").mkdir(parents=True)
    for name, content in files.items():
        (root / name).write_text(content if isinstance(content, str) else json.dumps(content))
    write(root / "main.json", main({"relativePath": relative}))
    result = run("--template", str(root / "main.json"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("mlwarden: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr and "resources[0]" in result.stderr
    assert not result.stdout


def test_link_depth_is_bounded(tmp_path: Path) -> None:
    for level in range(12):
        link = deployment({"relativePath": f"l{level + 1}.json"})
        write(tmp_path / f"l{level}.json", template(link))
    result = run("--template", str(tmp_path / "l0.json"))
    assert result.exit_code == 2 and "nested more than 8 deep" in result.stderr


def test_a_remote_link_is_a_coverage_gap_naming_it_without_its_token(tmp_path: Path) -> None:
    uri = "https://stdeploy.blob.core.windows.net/templates/storage.json?sv=2022-11-02&sig=c2VjcmV0LXNpZw%3D"
    path = write(tmp_path / "main.json", main({"uri": uri, "contentVersion": "1.0.0.0"}))
    result = run("--template", str(path))
    assert result.exit_code == 3, result.output
    assert "https://stdeploy.blob.core.windows.net/templates/storage.json" in result.stderr
    assert "sig=" not in result.output + result.stderr
    report = json.loads(result.stdout)
    gaps = [gap for source in report["sources"] for gap in source["gaps"]]
    assert len(gaps) == 1 and "not judged" in gaps[0]["reason"], gaps
    allowed = run("--template", str(path), "--allow-partial")
    assert allowed.exit_code == 0, allowed.output


def test_a_template_spec_link_and_outputs_of_an_unread_link_are_unknown(tmp_path: Path) -> None:
    spec = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Resources/templateSpecs/storage/versions/1.0"
    document = main({"id": spec})
    document["resources"].append(storage("[reference('linkedTemplate').outputs.name.value]", tls="TLS1_2"))
    document["parameters"]["location"] = {"type": "string", "defaultValue": "westeurope"}
    result = run("--template", str(write(tmp_path / "main.json", document)), "--allow-partial")
    assert result.exit_code == 0, result.output
    assert "template spec" in json.dumps(json.loads(result.stdout)["sources"])
    assert by(json.loads(result.stdout)["findings"], "MLW-ST-02")["status"] == "pass"


def test_a_symlink_out_of_the_directory_is_an_escape(tmp_path: Path) -> None:
    root = tmp_path / "infra"
    root.mkdir()
    write(tmp_path / "secret.json", linked_storage())
    (root / "inside.json").symlink_to(tmp_path / "secret.json")
    write(root / "main.json", main({"relativePath": "inside.json"}))
    result = run("--template", str(root / "main.json"))
    assert result.exit_code == 2 and "is outside" in result.stderr, result.output
