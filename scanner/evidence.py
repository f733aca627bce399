"""Evidence packs: everything a scan used and produced, with digests an auditor can recheck.

    DIR/
      manifest.json          tool version, check-catalog digest, frameworks, scope, times, files[]
      manifest.sig           compact JWS over the exact bytes of manifest.json (with --sign-key)
      manifest.jwk           the public key that verifies it
      snapshot.jsonl.gz      the inventory actually scanned (after scope filters)
      reports/...            every report the scan wrote, byte for byte (copied from the staged
                             files, with the digests taken while they were streamed)
      inputs/...             the waivers, baseline, attestations and extra framework files used

A pack is staged in a hidden sibling directory and renamed into place only when complete and
signed, so a failed scan or a refused signature leaves no partial pack. Verification needs no
network: digests are recomputed and the signature is checked against the included JWK.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from scanner import jws, sigterm
from scanner.errors import InputError
from scanner.inventory import Inventory
from scanner.json_keys import duplicate_key
from scanner.models import CheckMeta, ScanResult
from scanner.outputs import StagedFile
from scanner.snapshot import write_snapshot

MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "manifest.jwk"
UNLISTED = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY})
PACK_FORMAT, PACK_VERSION = "mlwarden-evidence-pack", 1
SNAPSHOT = "snapshot.jsonl.gz"
_JSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
_SHA256 = re.compile(r"[0-9a-f]{64}")

Signer = Callable[[bytes], tuple[bytes, dict[str, Any]]]
"""manifest bytes -> (compact JWS, public JWK)."""


class PackMismatch(Exception):
    """A file or the signature does not match the manifest: `verify` exits 1 naming it."""


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def sha256_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def catalog_digest(checks: Iterable[CheckMeta]) -> str:
    """SHA-256 of the check catalog (every check's metadata, sorted): which rules judged the estate."""
    metas = sorted((m.model_dump(mode="json") for m in checks), key=lambda m: str(m["id"]))
    return hashlib.sha256(orjson.dumps(metas, option=orjson.OPT_SORT_KEYS)).hexdigest()


def manifest(result: ScanResult, files: Sequence[dict[str, Any]]) -> bytes:
    body = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "tool_version": result.tool_version,
        "check_catalog_sha256": catalog_digest(result.checks),
        "frameworks": [{"id": fw.id, "name": fw.name, "version": fw.version} for fw in result.frameworks],
        "scope": result.scope.model_dump(mode="json"),
        "collected_at": result.scope.collected_at.isoformat() if result.scope.collected_at else None,
        "generated_at": result.generated_at.isoformat(),
        "files": list(files),
    }
    return orjson.dumps(body, option=_JSON)


@dataclass
class StagedPack:
    """A complete pack in a hidden sibling directory, waiting for the scan to finish writing reports."""

    staging: Path
    target: Path
    files: int
    kid: str | None
    made: tuple[Path, ...] = ()
    """The directories above the pack that staging it created, outermost first: a pack that is
    discarded takes them away too, so a failed run leaves nothing (a refused signature or a pack
    name the file system refuses left `parent/` behind)."""

    def __post_init__(self) -> None:
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.staging), ignore_errors=True)

    def commit(self) -> None:
        """Rename into place: DIR appears complete or not at all."""
        if self.target.is_dir():
            self.target.rmdir()  # checked empty when staged
        os.replace(self.staging, self.target)
        self._cleanup.detach()

    def discard(self) -> None:
        self._cleanup()
        _remove_made(self.made)

    def withdraw(self) -> None:
        """Take a committed pack away again (a later output failed), with the directories made for it."""
        shutil.rmtree(self.target)
        _remove_made(self.made)


def _remove_made(made: Sequence[Path]) -> None:
    for directory in reversed(made):
        try:
            directory.rmdir()
        except OSError:  # no longer empty: another process put something there
            return


def check_target(directory: Path) -> None:
    """An existing non-empty DIR is refused: a pack must not mix with files it does not list."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"--evidence-pack {directory}: exists and is not an empty directory")


def stage(
    directory: Path,
    result: ScanResult,
    inventory: Inventory,
    reports: Sequence[StagedFile],
    inputs: Mapping[str, Path],
    signer: Signer | None = None,
) -> StagedPack:
    """Write the whole pack (and sign its manifest) next to `directory`; `commit()` publishes it.

    `inputs` maps a name under `inputs/` (e.g. `waivers.yaml`) to the file the scan read.
    """
    check_target(directory)
    made: list[Path] = []
    try:
        for parent in reversed(directory.parents):  # `mkdir -p`, remembering what it made
            try:
                parent.mkdir()
            except FileExistsError:
                continue
            made.append(parent)
        with sigterm.held():  # the pack owns its staging directory (and its removal) before an interrupt lands
            pack = StagedPack(
                Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent)),
                directory,
                0,
                None,
                tuple(made),
            )
    except OSError as exc:
        _remove_made(made)
        raise InputError(f"--evidence-pack {directory}: cannot create: {exc.strerror or exc}") from None
    staging = pack.staging
    try:
        os.chmod(staging, 0o777 & ~_umask())
        files: list[tuple[str, StagedFile | Path | Inventory]] = [(SNAPSHOT, inventory)]
        files += [(f"reports/{report.name}", report) for report in reports]
        files += [(f"inputs/{name}", path) for name, path in inputs.items()]
        entries = [_write(staging, name, content) for name, content in sorted(files, key=lambda item: item[0])]
        body = manifest(result, entries)
        (staging / MANIFEST).write_bytes(body)
        if signer is not None:
            token, jwk = signer(body)
            (staging / SIGNATURE).write_bytes(token)  # exactly the compact serialization
            (staging / PUBLIC_KEY).write_bytes(orjson.dumps(jwk, option=_JSON))
            pack.kid = str(jwk.get("kid"))
        pack.files = len(entries)
    except BaseException:
        pack.discard()
        raise
    return pack


def _write(root: Path, name: str, content: StagedFile | Path | Inventory) -> dict[str, Any]:
    target = root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, StagedFile):
        # A copy, not a hard link: editing a report in --out later must not change the evidence.
        try:
            shutil.copyfile(content.path, target)  # in the kernel (sendfile): no second copy in memory
        except OSError as exc:
            raise InputError(f"--evidence-pack: cannot write {name}: {exc.strerror or exc}") from None
        if target.stat().st_size != content.size:
            raise InputError(f"--evidence-pack: {name} changed while it was copied into the pack")
        return {"path": name, "size": content.size, "sha256": content.sha256}
    if isinstance(content, Path):
        try:
            shutil.copyfile(content, target)
        except OSError as exc:
            raise InputError(f"{content}: cannot copy into the evidence pack: {exc.strerror or exc}") from None
    else:
        write_snapshot(content, target)
    size, digest = sha256_file(target)
    return {"path": name, "size": size, "sha256": digest}


# -- verification ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verified:
    files: int
    header: dict[str, Any] | None
    """The JWS header (alg, kid) when the pack is signed."""


_MAX_OWN_BYTES = 64 << 20
"""manifest.json, .sig and .jwk: 64 MiB is some 300,000 listed files."""


def _read_own(path: Path) -> bytes:
    """One of the pack's own files, which a pack from elsewhere may make a FIFO (a read that
    never returns) or a link to /dev/zero (one that never ends): only a bounded regular file."""
    if path.exists() and not path.is_file():
        raise OSError(0, "not a regular file")
    with path.open("rb") as handle:
        body = handle.read(_MAX_OWN_BYTES + 1)
    if len(body) > _MAX_OWN_BYTES:
        raise OSError(0, f"larger than {_MAX_OWN_BYTES >> 20} MiB")
    return body


def read_manifest(directory: Path) -> tuple[bytes, list[dict[str, Any]]]:
    """The manifest's exact bytes and its file list; anything unreadable is exit 2."""
    where = f"evidence pack {directory}"
    if not directory.is_dir():
        raise InputError(f"{where}: not a directory")
    try:
        body = _read_own(directory / MANIFEST)
    except FileNotFoundError:
        raise InputError(f"{where}: {MANIFEST} is missing") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read {MANIFEST}: {exc.strerror or exc}") from None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InputError(f"{where}: {MANIFEST} is truncated or not JSON") from None
    if not isinstance(document, dict) or document.get("format") != PACK_FORMAT:
        raise InputError(f"{where}: {MANIFEST} is not an mlwarden evidence pack manifest")
    if (twice := duplicate_key(body)) is not None:  # a second "sha256" a reader of the file would not see
        raise InputError(f"{where}: {MANIFEST} has the key {twice[:64]!r} twice in one object")
    files = document.get("files")
    if not isinstance(files, list):
        raise InputError(f"{where}: {MANIFEST} has no 'files' list")
    seen: dict[str, int] = {}
    for index, entry in enumerate(files):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
            and _SHA256.fullmatch(entry["sha256"])
        ):
            raise InputError(f"{where}: {MANIFEST} files[{index}] needs path, size and a sha256 hex digest")
        path = PurePosixPath(entry["path"])
        if path.is_absolute() or ".." in path.parts or str(path) in UNLISTED or "\\" in entry["path"]:
            raise InputError(f"{where}: {MANIFEST} files[{index}] path {entry['path']!r} is not inside the pack")
        if str(path) != entry["path"] or not path.parts:  # `./a`, `a//b`, `a/`: one file under two names
            raise InputError(f"{where}: {MANIFEST} files[{index}] path {entry['path']!r} is not in plain form")
        if entry["path"] in seen:  # counted twice, a pack of three files verified as "4 files match"
            raise InputError(
                f"{where}: {MANIFEST} lists {entry['path']!r} twice (files[{seen[entry['path']]}], [{index}])"
            )
        seen[entry["path"]] = index
    return body, files


def verify(directory: Path, expected_key: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Verified:
    """Recompute every digest, then check the signature offline; raise PackMismatch at the first difference.

    `expected_key`, given the JWS header, returns the public JWK the pack must be signed with (pinning).
    """
    body, files = read_manifest(directory)
    listed = set()
    for entry in files:
        name = entry["path"]
        listed.add(name)
        path = directory / name
        try:
            if not path.is_file():
                raise PackMismatch(f"{name}: missing from the pack")
            if _linked(directory, name):
                raise PackMismatch(
                    f"{name}: a symbolic link, not a file of the pack (its content can change elsewhere)"
                )
            size, digest = sha256_file(path)
        except OSError as exc:  # was exit 4
            if exc.errno == errno.ENAMETOOLONG:  # listed, but no file can have that name
                raise PackMismatch(f"{name}: missing from the pack (no file can have that name)") from None
            raise InputError(f"evidence pack {directory}: cannot read {name}: {exc.strerror or exc}") from None
        if size != entry["size"] or digest != entry["sha256"]:
            raise PackMismatch(f"{name}: does not match its sha256 in {MANIFEST}")
    for name in _every_file(directory):
        if name not in listed and name not in UNLISTED:
            raise PackMismatch(f"{name}: not listed in {MANIFEST}")
    header = _signature(directory, body, expected_key)
    return Verified(files=len(files), header=header)


def _every_file(directory: Path) -> list[str]:
    """Every file in the pack (a symbolic link to one included), relative and sorted. A directory
    that cannot be listed is an unreadable pack, never skipped: `rglob` passed over one it was
    refused (its files went unchecked) and raised on one nested past PATH_MAX (exit 4)."""

    def refused(exc: OSError) -> None:
        where = os.path.relpath(exc.filename, directory) if exc.filename else "a directory"
        raise InputError(f"evidence pack {directory}: cannot list {where}: {exc.strerror or exc}")

    names = []
    for parent, dirs, found in os.walk(directory, onerror=refused):
        for entry in (*dirs, *found):
            path = Path(parent, entry)
            try:
                is_file = path.is_file()
            except OSError as exc:
                raise InputError(
                    f"evidence pack {directory}: cannot read {path.relative_to(directory)}: {exc.strerror}"
                ) from None
            if is_file:
                names.append(path.relative_to(directory).as_posix())
    return sorted(names, key=lambda name: name.split("/"))  # as Path sorts: by part


def _linked(directory: Path, name: str) -> bool:
    """Whether `name`, or a directory on its way, is a symbolic link inside the pack."""
    path = directory
    for part in PurePosixPath(name).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def _signature(
    directory: Path, body: bytes, expected_key: Callable[[dict[str, Any]], dict[str, Any]] | None
) -> dict[str, Any] | None:
    signature, public = directory / SIGNATURE, directory / PUBLIC_KEY
    if not signature.exists():
        if expected_key is not None:
            raise PackMismatch(f"{SIGNATURE}: missing (the pack is not signed)")
        if public.exists():
            raise PackMismatch(f"{SIGNATURE}: missing next to {PUBLIC_KEY}")
        return None
    try:
        jwk = orjson.loads(_read_own(public))
    except FileNotFoundError:
        raise PackMismatch(f"{PUBLIC_KEY}: missing, so {SIGNATURE} cannot be checked") from None
    except (OSError, orjson.JSONDecodeError):
        raise PackMismatch(f"{PUBLIC_KEY}: not a JSON Web Key") from None
    if not isinstance(jwk, dict):
        raise PackMismatch(f"{PUBLIC_KEY}: not a JSON Web Key")
    try:
        header = jws.verify(_read_own(signature), body, jwk)
    except OSError as exc:
        raise PackMismatch(f"{SIGNATURE}: cannot read it ({exc.strerror or exc})") from None
    except jws.JwsError as exc:
        raise PackMismatch(f"{SIGNATURE}: {exc}") from None
    if expected_key is not None and not jws.same_key(expected_key(header), jwk):
        raise PackMismatch(f"{PUBLIC_KEY}: not the public key of {header.get('kid')} in Key Vault")
    return header
