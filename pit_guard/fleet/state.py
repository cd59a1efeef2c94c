"""Incremental audit state in SQLite: blob ids already scanned with their findings (fingerprint and
redacted form only, never a secret), and per repository the refs seen at its last audit.

Blob ids are content hashes, so a blob scanned in one repository is known in every fork and copy.
The file is versioned: a newer schema is refused (exit 2, never a silent full pass), a change of
the detector (its version or any of its source files) empties the blob table, so what the rules
would find differently is read again. Concurrent runs share it safely (WAL, busy timeout); each
repository's results are written in one transaction, so an interrupted run leaves it consistent
and the next run resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pit_guard import __version__
from pit_guard.errors import FatalError
from pit_guard.finding import Finding, finding_from_record, finding_record, redact_text

SCHEMA_VERSION = 2  # 2: walks keep per blob the newest commit holding it (`lasts`)
_BUSY_MS = 60_000


def default_state_file() -> str:
    from pit_guard.fleet.clones import user_cache_dir

    return os.path.join(user_cache_dir(), "fleet-state.sqlite")


def detector_version() -> str:
    """What the stored findings depend on: pit-guard's version and its detection sources."""
    import pit_guard.detection as detection

    digest = hashlib.sha256(__version__.encode())
    folder = os.path.dirname(os.path.abspath(detection.__file__))
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()


class State:
    """One open state file. `lookup` runs in worker processes (each opens its own connection)."""

    def __init__(self, path: str, *, check: bool = True) -> None:
        self.path = path
        self.notes: List[str] = []
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=_BUSY_MS / 1000, isolation_level=None)
            self.db.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            if check:
                self._open()
        except sqlite3.DatabaseError as e:
            raise FatalError(
                f"--state {path}: not a readable pit-guard state file ({e}): remove it or give another --state"
            ) from None
        except OSError as e:
            raise FatalError(f"--state {path}: cannot open it: {e.strerror or e}") from None

    def _open(self) -> None:
        db = self.db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            schema = meta.get("schema")
            if schema is not None and (not schema.isdigit() or int(schema) > SCHEMA_VERSION):
                raise FatalError(
                    f"--state {self.path} was written by a newer pit-guard (state schema {schema}, this one "
                    f"reads {SCHEMA_VERSION}): upgrade pit-guard or give another --state"
                )
            if schema is not None and int(schema) < SCHEMA_VERSION:
                # 1 -> 2 changed only the walks (they keep `lasts` now): blobs scanned stay known,
                # each repository's history is walked in full once
                db.execute("DROP TABLE IF EXISTS walks")
            db.execute("CREATE TABLE IF NOT EXISTS blobs (sha TEXT PRIMARY KEY, findings TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS repositories (name TEXT PRIMARY KEY, refs TEXT NOT NULL, "
                "audited_at REAL NOT NULL)"
            )
            # Per repository, the last history pass (ref tips' states, origins, counts, message
            # findings: redacted records only), so a re-run walks only new commits.
            db.execute("CREATE TABLE IF NOT EXISTS walks (name TEXT PRIMARY KEY, data TEXT NOT NULL)")
            version = detector_version()
            if meta.get("detector") not in (None, version):
                db.execute("DELETE FROM blobs")
                db.execute("DELETE FROM walks")
                self.notes.append("the detector changed since the state was written: every blob is read again")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('detector', ?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def lookup(self, shas: Sequence[str], with_findings: bool = True) -> Dict[str, List[Finding]]:
        """The blobs among `shas` scanned before, with their findings. `with_findings=False` leaves
        out blobs that had findings (they are read again: --show-secrets and --validate need them)."""
        now = time.time()
        out: Dict[str, List[Finding]] = {}
        try:
            # One join against a temporary table of the ids asked for (far faster than IN batches).
            db = self.db
            db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (sha TEXT PRIMARY KEY) WITHOUT ROWID")
            db.execute("BEGIN")  # one transaction for the inserts (each would commit on its own)
            db.execute("DELETE FROM wanted")
            db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((sha,) for sha in shas))
            db.execute("COMMIT")
            for sha, found in db.execute("SELECT b.sha, b.findings FROM wanted w JOIN blobs b ON b.sha = w.sha"):
                if found == "[]":  # most blobs: clean
                    out[sha] = []
                    continue
                records = json.loads(found)
                if records and not with_findings:
                    continue
                out[sha] = [finding_from_record(r, now) for r in records]
            db.execute("DELETE FROM wanted")
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as e:
            raise FatalError(f"--state {self.path}: cannot read it ({e}): remove it or give another --state") from None
        return out

    def walk(self, repository: str) -> Optional[Dict[str, Any]]:
        """The last history pass of `repository`, or None (then all of its history is walked)."""
        try:
            row = self.db.execute("SELECT data FROM walks WHERE name = ?", (_key(repository),)).fetchone()
            data = json.loads(row[0]) if row else None
        except (sqlite3.DatabaseError, ValueError) as e:
            raise FatalError(f"--state {self.path}: cannot read it ({e}): remove it or give another --state") from None
        return data if isinstance(data, dict) else None

    def record(
        self,
        repository: str,
        scanned: Dict[str, List[Finding]],
        refs: Sequence[Tuple[str, str]],
        walk: Optional[Dict[str, Any]] = None,
        walk_name: Optional[str] = None,
    ) -> None:
        """One repository's audit, in one transaction (all of it is kept, or none). A token in a ref
        name, a path or a repository name is never stored: refs are kept redacted, a history pass
        that names one is not kept (the next run walks that history again), names are hashed."""
        db = self.db
        key = _key(repository)
        walk_key = _key(walk_name or repository)
        walk_text = None if walk is None else json.dumps(walk)
        if walk_text is not None and redact_text(walk_text) != walk_text:
            walk_text = None
        shown_refs = sorted((redact_text(name), sha) for name, sha in refs)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO blobs VALUES (?, ?)",
                    (
                        (sha, json.dumps([finding_record(f) for f in found], sort_keys=True))
                        for sha, found in scanned.items()
                    ),
                )
                if walk_text is not None:
                    db.execute("INSERT OR REPLACE INTO walks VALUES (?, ?)", (walk_key, walk_text))
                else:
                    db.execute("DELETE FROM walks WHERE name = ?", (walk_key,))
                db.execute(
                    "INSERT OR REPLACE INTO repositories VALUES (?, ?, ?)",
                    (key, json.dumps(shown_refs), time.time()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as e:
            raise FatalError(f"--state {self.path}: cannot write it ({e})") from None

    def close(self) -> None:
        self.db.close()


def _key(repository: str) -> str:
    """A repository's row: its name, or a hash of it when the name holds something token-shaped."""
    if redact_text(repository) == repository:
        return repository
    return "sha256:" + hashlib.sha256(repository.encode("utf-8", "surrogateescape")).hexdigest()


def reader(path: Optional[str]) -> Optional[State]:
    return None if path is None else State(path, check=False)
