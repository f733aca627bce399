"""The shared history in PostgreSQL, against a real server started for these tests: the same
schema, answers and commands as SQLite, versioned schema, no password on the command line,
Entra sign-in, and ten concurrent scans that all land."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner import history_pg
from scanner.cli import cli
from scanner.errors import InputError, StoreUnavailableError
from scanner.history import SCHEMA_VERSION, diff, latest_two, record, scans
from scanner.snapshot import read_demo
from tests import pgserver
from tests.azure_fake import harness
from tests.azure_fake.server import AzureFake
from tests.test_history import AKS, MONDAY, TUESDAY, unstorable

psycopg = pytest.importorskip("psycopg", reason="the postgres extra (psycopg 3) is not installed")
_names = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[pgserver.Server]:
    try:
        with pgserver.running() as running:
            yield running
    except LookupError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def url(server: pgserver.Server) -> str:
    """A fresh, empty database per test."""
    name = f"hist_{os.getpid()}_{next(_names)}"
    server.sql(f"CREATE DATABASE {name}")
    return server.url(name)


def comparable(document: Any) -> Any:
    """A JSON document without the one field that differs by when it was written."""
    if isinstance(document, dict):
        return {key: comparable(value) for key, value in document.items() if key != "recorded_at"}
    if isinstance(document, list):
        return [comparable(item) for item in document]
    return document


def test_the_same_scans_give_the_same_history_as_sqlite(url: str, tmp_path: Path) -> None:
    sqlite = tmp_path / "h.db"
    for target in (url, sqlite):
        assert record(MONDAY, target) == 1
        assert record(TUESDAY, target) == 2

    assert latest_two(url) == latest_two(sqlite) == (1, 2)
    assert comparable([s.to_json() for s in scans(url)]) == comparable([s.to_json() for s in scans(sqlite)])
    assert comparable(diff(url, 1, 2).to_json()) == comparable(diff(sqlite, 1, 2).to_json())
    assert comparable(diff(url, 2, 1).to_json()) == comparable(diff(sqlite, 2, 1).to_json())


def test_the_cli_commands_answer_alike_for_both_engines(url: str, tmp_path: Path) -> None:
    sqlite = str(tmp_path / "h.db")
    runner = CliRunner()
    for target in (url, sqlite):
        record(MONDAY, target)
        record(TUESDAY, target)

    for args in (["list", "--format", "json"], ["diff", "--format", "json"], ["diff", "2", "1", "--format", "json"]):
        pg_doc, lite_doc = (
            json.loads(runner.invoke(cli, ["history", *args, "--db", t], catch_exceptions=False).stdout)
            for t in (url, sqlite)
        )
        assert comparable(pg_doc) == comparable(lite_doc)
    text = runner.invoke(cli, ["history", "diff", "--db", url])
    assert text.exit_code == 0 and "new failing: 4" in text.stdout
    assert runner.invoke(cli, ["history", "diff", "--db", url, "--fail-on-new", "critical"]).exit_code == 1
    by_env = runner.invoke(cli, ["history", "list"], env={"MLWARDEN_HISTORY": url})
    assert by_env.exit_code == 0 and "tenant contoso-health" in by_env.stdout


def test_the_schema_is_versioned_in_tables_named_scans_and_companions(url: str) -> None:
    record(MONDAY, url)

    with psycopg.connect(url) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        meta = dict(conn.execute("SELECT key, value FROM mlwarden_meta").fetchall())
    assert tables == {"scans", "framework_counts", "check_passes", "subjects", "findings", "mlwarden_meta"}
    assert meta == {"application": "mlwarden-history", "schema_version": str(SCHEMA_VERSION)}


def test_a_history_from_a_newer_mlwarden_or_a_foreign_scans_table_is_refused(url: str, server: Any) -> None:
    record(MONDAY, url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE mlwarden_meta SET value = '99' WHERE key = 'schema_version'")
    for action in (lambda: record(TUESDAY, url), lambda: scans(url)):
        with pytest.raises(InputError, match=r"newer mlwarden \(history schema 99"):
            action()

    foreign = server.url("foreign_db")
    server.sql("CREATE DATABASE foreign_db")
    with psycopg.connect(foreign, autocommit=True) as conn:
        conn.execute("CREATE TABLE scans (id serial PRIMARY KEY, note text)")
    with pytest.raises(InputError, match="not an mlwarden history database"):
        record(MONDAY, foreign)
    with psycopg.connect(foreign) as conn:
        assert conn.execute("SELECT count(*) FROM scans").fetchone() == (0,)


def test_an_empty_database_reads_as_no_history_and_is_left_untouched(url: str) -> None:
    assert scans(url) == []
    with pytest.raises(InputError, match="needs two recorded scans, found 0"):
        latest_two(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('scans')").fetchone() == (None,)


def test_a_failed_record_leaves_the_history_unchanged(url: str) -> None:
    record(MONDAY, url)
    with psycopg.connect(url) as conn:
        subjects = conn.execute("SELECT count(*) FROM subjects").fetchone()
    bad = TUESDAY.model_copy(update={"findings": (*TUESDAY.findings, unstorable("MLW-AKS-002", AKS))})

    with pytest.raises(TypeError):
        record(bad, url)

    assert [s.id for s in scans(url)] == [1]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM subjects").fetchone() == subjects == (7,)


@pytest.mark.parametrize(
    "target",
    [
        "postgresql://scanner:Hunter2-Canary@db.example.org/mlwarden",
        "postgresql://scanner@db.example.org/mlwarden?password=Hunter2-Canary",
        "postgres://scanner:Hunter2-Canary@db.example.org:5432/mlwarden?sslmode=require",
    ],
)
def test_a_password_in_the_url_is_refused_in_one_line_that_does_not_repeat_it(target: str) -> None:
    result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "--history", target])

    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and "password in the URL is refused" in errors[0] and "PGPASSWORD" in errors[0]
    assert "Hunter2-Canary" not in result.output
    listed = CliRunner().invoke(cli, ["history", "list", "--db", target])
    assert listed.exit_code == 2 and "Hunter2-Canary" not in listed.output


def test_the_password_comes_from_pgpassword_or_a_pgpassfile(
    server: pgserver.Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server.sql(f"CREATE ROLE {pgserver.ENTRA_ROLE} LOGIN PASSWORD 'From-Env-Canary'")
    server.sql(f"CREATE DATABASE by_password OWNER {pgserver.ENTRA_ROLE}")
    target = server.url("by_password", user=pgserver.ENTRA_ROLE)
    try:
        monkeypatch.delenv("PGPASSWORD", raising=False)
        monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
        refused = CliRunner().invoke(cli, ["history", "list", "--db", target])
        assert refused.exit_code == 2 and "cannot sign in" in refused.stderr

        monkeypatch.setenv("PGPASSWORD", "From-Env-Canary")
        assert record(MONDAY, target) == 1

        monkeypatch.delenv("PGPASSWORD")
        passfile = tmp_path / "pgpass"
        passfile.write_text(f"*:*:*:{pgserver.ENTRA_ROLE}:From-Env-Canary\n")
        passfile.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(passfile))
        result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "--history", target])
        assert result.exit_code == 0, result.output
        assert "recorded scan 2" in result.stderr and "From-Env-Canary" not in result.output
    finally:
        server.sql("DROP DATABASE by_password")
        server.sql(f"DROP ROLE {pgserver.ENTRA_ROLE}")


def test_entra_sign_in_uses_a_token_from_azure_identity_as_the_password(
    server: pgserver.Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Workload identity federation through the real DefaultAzureCredential, against the project's
    HTTPS Azure fake; the server's role has the token the fake will issue as its password."""
    with AzureFake(read_demo()) as fake:
        for name, value in {**harness.env(fake, tmp_path), "REQUESTS_CA_BUNDLE": str(fake.ca_path)}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("PGPASSWORD", raising=False)
        token = "fake-token-1"  # the first token a fresh fake issues
        server.sql(f"CREATE ROLE {pgserver.ENTRA_ROLE} LOGIN PASSWORD '{token}'")
        server.sql(f"CREATE DATABASE by_entra OWNER {pgserver.ENTRA_ROLE}")
        target = server.url("by_entra", user=pgserver.ENTRA_ROLE) + "&azure_ad=true"
        try:
            result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "--history", target])

            assert result.exit_code == 0, result.output
            assert fake.token_scopes == [history_pg.ENTRA_SCOPE]  # one token serves the check and the record
            assert token not in result.output and "azure_ad" not in result.stderr
            assert len(scans(target)) == 1
        finally:
            server.sql("DROP DATABASE by_entra")
            server.sql(f"DROP ROLE {pgserver.ENTRA_ROLE}")


def test_no_entra_token_is_a_one_line_configuration_error(
    server: pgserver.Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with AzureFake(read_demo()) as fake:
        fake.faults.token_refused = True
        for name, value in {**harness.env(fake, tmp_path), "REQUESTS_CA_BUNDLE": str(fake.ca_path)}.items():
            monkeypatch.setenv(name, value)
        target = server.url("postgres", user=pgserver.ENTRA_ROLE) + "&azure_ad=true"

        result = CliRunner().invoke(cli, ["history", "list", "--db", target])

    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and "no Microsoft Entra token" in errors[0]


def test_an_unreachable_server_is_exit_3_in_one_line(tmp_path: Path) -> None:
    target = f"postgresql://scanner@/mlwarden?host={tmp_path}"

    with pytest.raises(StoreUnavailableError, match="cannot connect"):
        record(MONDAY, target)
    result = CliRunner().invoke(cli, ["scan", "--demo", "--fail-on", "none", "--history", target])
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlwarden: error:")]
    assert len(errors) == 1 and "cannot connect" in errors[0]
    assert "Traceback" not in result.output


def test_bad_urls_are_input_errors() -> None:
    for target, needle in (
        ("postgresql://scanner@db.example.org/mlwarden?azure_ad=maybe", "azure_ad must be true or false"),
        ("postgresql://scanner@db.example.org/mlwarden?no_such_option=1", "history URL"),
    ):
        with pytest.raises(InputError, match=needle):
            scans(target)


def test_ten_concurrent_scans_all_land(url: str, tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", "from scanner.cli import main; main()", "scan", "--demo", "--fail-on", "none"]
    processes = [
        subprocess.Popen([*command, "--history", url], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(10)
    ]
    outcomes = [(p.wait(timeout=240), p.stderr.read().decode() if p.stderr else "") for p in processes]

    assert [code for code, _ in outcomes] == [0] * 10, outcomes
    assert sorted(s.id for s in scans(url)) == list(range(1, 11))
    assert all(len(set(s.status_counts.items())) > 1 for s in scans(url))
    assert len({s.resource_count for s in scans(url)}) == 1
