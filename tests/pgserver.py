"""A throwaway PostgreSQL server for the history tests: initdb into a temporary directory, then
pg_ctl start listening only on a unix socket in that directory (no TCP port, nothing shared).

PostgreSQL refuses to run as root; under root (CI) the server runs as the `postgres` system
user when it exists, else `nobody`, through runuser. Tests skip, saying why, only when no
server binaries are installed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ENTRA_ROLE = "entra_scanner"
"""A role that signs in by password over the socket (stands in for an Entra principal)."""


def bindir() -> Path | None:
    """Where initdb and pg_ctl live: $MLWARDEN_PG_BINDIR, PATH, or Debian's versioned directory."""
    candidates = [os.environ.get("MLWARDEN_PG_BINDIR", "")]
    found = shutil.which("pg_ctl")
    candidates.append(str(Path(found).parent) if found else "")
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


@dataclass(frozen=True)
class Server:
    socket_dir: Path
    superuser: str

    def url(self, database: str, user: str | None = None) -> str:
        return f"postgresql://{quote(user or self.superuser)}@/{database}?host={quote(str(self.socket_dir))}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]


@contextlib.contextmanager
def running() -> Iterator[Server]:
    binaries = bindir()
    if binaries is None:
        raise LookupError("no PostgreSQL server binaries (initdb, pg_ctl) found; install postgresql-15")
    base = Path(tempfile.mkdtemp(prefix="mlw-pg-"))
    as_user: list[str] = []
    superuser = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        superuser = "postgres" if _exists("postgres") else "nobody"
        shutil.chown(base, user=superuser)
        as_user = ["runuser", "-u", superuser, "--"]
    data = base / "data"
    try:
        _run([*as_user, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", superuser, "--no-sync"])
        with (data / "pg_hba.conf").open("r+") as hba:
            rules = hba.read()
            hba.seek(0)
            hba.write(f"local all {ENTRA_ROLE} scram-sha-256\n{rules}")
        options = f"-k {base} -c listen_addresses='' -c fsync=off -c max_connections=60"
        pg_ctl = [*as_user, str(binaries / "pg_ctl"), "-D", str(data)]
        _run([*pg_ctl, "-o", options, "-w", "-l", str(base / "log"), "start"])
        try:
            yield Server(socket_dir=base, superuser=superuser)
        finally:
            _run([*pg_ctl, "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
