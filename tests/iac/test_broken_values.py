"""A broken expression in a resource's values leaves that value unknown, with a warning; the rest is judged.

Public fixtures (Checkov's ARM cases, quickstart fragments) often reference a parameter they never
declare, or put text in brackets that is no ARM expression (`[data.azure_client_config.current.tenantId]`).
ARM would refuse to deploy them, but refusing the whole file would lose every verdict it holds.
A broken type, name, copy count or condition still leaves nothing to judge: exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.iac.conftest import by, findings, scan, template, write

SITE = "Microsoft.Web/sites"
VAULT = "Microsoft.KeyVault/vaults"


def site(**properties: object) -> dict[str, object]:
    config = {"ftpsState": "Disabled", "minTlsVersion": "1.2"}
    return {
        "type": SITE,
        "apiVersion": "2022-03-01",
        "name": "app",
        "location": "westeurope",
        "kind": "app",
        "properties": {"siteConfig": config, **properties},
    }


def vault(tenant: str) -> dict[str, object]:
    return {
        "type": VAULT,
        "apiVersion": "2022-07-01",
        "name": "kv",
        "location": "westeurope",
        "properties": {
            "tenantId": tenant,
            "sku": {"family": "A", "name": "standard"},
            "enablePurgeProtection": True,
            "accessPolicies": [],
        },
    }


BROKEN = [
    pytest.param("[parameters('adminEmail')]", "parameter 'adminEmail' is not defined", id="undeclared-parameter"),
    pytest.param("[variables('nowhere')]", "variable 'nowhere' is not defined", id="undeclared-variable"),
    pytest.param("[data.azure_client_config.current.tenantId]", "cannot evaluate", id="not-an-expression"),
    pytest.param("[concat('a', ]", "cannot evaluate", id="syntax-error"),
    # ARM refuses to deploy a division by zero; it was exit 4 (ZeroDivisionError), mod(1, 0) a warning
    pytest.param("[div(1, 0)]", "div(1, 0): ZeroDivisionError", id="division-by-zero"),
    pytest.param("[mod(1, 0)]", "mod(1, 0): ValueError", id="modulo-by-zero"),
]


@pytest.mark.parametrize(("value", "said"), BROKEN)
def test_a_broken_value_is_unknown_where_read_and_the_rest_is_judged(tmp_path: Path, value: str, said: str) -> None:
    path = write(tmp_path / "t.json", template(site(httpsOnly=value, clientAffinityEnabled=value), vault(value)))
    result = scan("--template", str(path))
    found = findings(result)
    https = by(found, "MLW-APP-01", "app")
    assert https["status"] == "unknown" and "broken" in https["message"], https["message"]
    assert by(found, "MLW-CFG-02", "app")["status"] == "pass"  # FTPS: not touched by the broken value
    assert by(found, "MLW-KV-01", "kv")["status"] == "pass"  # purge protection beside a broken tenantId
    warnings = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: warning:")]
    # One line per resource and expression, naming the file, the resource's line and what is wrong.
    assert len(warnings) == 2, result.stderr
    assert all("t.json:" in w and said in w and "left unknown" in w for w in warnings), warnings
    assert "mlwarden: error" not in result.stderr and "Traceback" not in result.stderr


def test_a_broken_parameter_default_or_variable_is_unknown_where_used(tmp_path: Path) -> None:
    doc = template(
        site(httpsOnly="[parameters('https')]", clientCertEnabled="[variables('cert')]"),
        parameters={"https": {"type": "bool", "defaultValue": "[parameters('undeclared')]"}},
        variables={"cert": {"on": "[parameters('missing')]"}},
    )
    result = scan("--template", str(write(tmp_path / "t.json", doc)))
    found = findings(result)
    assert by(found, "MLW-APP-01", "app")["status"] == "unknown"
    assert by(found, "MLW-CFG-02", "app")["status"] == "pass"
    assert "parameters.https.defaultValue" in result.stderr and "'undeclared' is not defined" in result.stderr
    assert "variable 'cert'" in result.stderr and "'missing' is not defined" in result.stderr


def test_a_broken_value_in_a_copy_loop_warns_once_and_many_warnings_are_counted(tmp_path: Path) -> None:
    looped = {**site(httpsOnly="[parameters('nope')]"), "name": "[format('app{0}', copyIndex())]"}
    looped["copy"] = {"name": "apps", "count": 3}
    others = [
        {**site(httpsOnly=f"[parameters('p{i}')]"), "name": f"other{i}"}  # twelve different broken values
        for i in range(12)
    ]
    result = scan("--template", str(write(tmp_path / "t.json", template(looped, *others))))
    found = findings(result)
    assert {f["resource_name"] for f in found if f["check_id"] == "MLW-APP-01" and f["status"] == "unknown"} == {
        "app0",
        "app1",
        "app2",
        *(f"other{i}" for i in range(12)),
    }
    warnings = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: warning:")]
    assert sum("'nope'" in w for w in warnings) == 1  # the three copies share one declaration
    assert len(warnings) == 11 and warnings[-1].endswith("3 more values left unknown for the same reason")


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param({**site(), "name": "[parameters('undeclared')]"}, id="name"),
        pytest.param({**site(), "type": "[variables('undeclared')]"}, id="type"),
        pytest.param({**site(), "condition": "[parameters('undeclared')]"}, id="condition"),
        pytest.param({**site(), "copy": {"name": "c", "count": "[parameters('undeclared')]"}}, id="copy-count"),
    ],
)
def test_a_broken_type_name_condition_or_count_is_still_exit_2(tmp_path: Path, resource: dict[str, object]) -> None:
    path = write(tmp_path / "bad.json", template(resource))
    result = scan("--template", str(path))
    assert result.exit_code == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and "bad.json" in errors[0] and "undeclared" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and not result.stdout


def test_the_warning_never_quotes_a_secure_parameter(tmp_path: Path) -> None:
    canary = "CANARY-9f3e-secret"
    doc = template(
        site(httpsOnly="[concat(parameters('pw'), parameters('undeclared'))]"),
        parameters={"pw": {"type": "securestring", "defaultValue": canary}},
    )
    result = scan("--template", str(write(tmp_path / "t.json", doc)))
    assert canary not in result.stderr and canary not in result.stdout
    assert json.loads(result.stdout)["findings"]
