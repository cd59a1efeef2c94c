"""Audit many repositories: each one cloned or fetched into the clone cache and read by the
history audit (sources/history.py), several at once (--jobs), into one list of findings whose
provenance names the repository. One failing repository is reported; the rest still run."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from pit_guard.archives.limits import Limits
from pit_guard.errors import FatalError
from pit_guard.finding import Finding, Unread, display_path, redact_text
from pit_guard.fleet import clones
from pit_guard.fleet.state import State
from pit_guard.fleet.targets import Target
from pit_guard.sources.result import SourceResult


@dataclasses.dataclass(frozen=True)
class FleetOptions:
    clone_dir: str
    jobs: int
    max_file_size: int
    include_unreachable: bool = False
    state_file: Optional[str] = None  # --incremental
    reread_hits: bool = False  # --show-secrets / --validate: blobs with findings are read again
    blob_shard: Optional[Tuple[int, int]] = None  # one repository split by blob id
    progress: bool = False
    timeout: float = 3600.0  # per clone or fetch
    archives: Optional[Limits] = None  # --max-archive-*: the archive limits, as for one repository


@dataclasses.dataclass
class Outcome:
    """One repository's audit, as a worker hands it back (picklable, no secret beyond findings)."""

    name: str
    result: SourceResult
    scanned: Dict[str, List[Finding]] = dataclasses.field(default_factory=dict)
    refs: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
    blobs: int = 0
    read: int = 0  # blobs read (incremental)
    reused: int = 0  # blobs an earlier run scanned (incremental): not read again
    failed: bool = False
    walk: Optional[Dict[str, Any]] = None  # the history pass, for the next incremental run


def sort_key(f: Finding) -> Tuple[Any, ...]:
    """The one order of a fleet report (a single run and a merge of shards write the same bytes)."""
    p = f.provenance
    return (
        (p.repository or "") if p is not None else "",
        f.path,
        f.line,
        f.column,
        f.rule_id,
        f.fingerprint,
        p.commit if p is not None else "",
    )


def in_repository(name: str, result: SourceResult) -> SourceResult:
    """Every finding and unread input named with its repository."""
    findings = []
    for f in result.findings:
        if f.provenance is not None:
            findings.append(dataclasses.replace(f, provenance=dataclasses.replace(f.provenance, repository=name)))
        else:  # a blob no commit holds, a tag message: no provenance to carry the name
            findings.append(dataclasses.replace(f, path=f"{name}: {f.path}"))
    skipped = [dataclasses.replace(u, path=f"{name}: {u.path}") for u in result.skipped]
    notes = [f"{name}: {n}" for n in result.notices]
    return SourceResult(findings, skipped, notes, result.scanned)


def audit_one(target: Target, options: FleetOptions, workers: Optional[int] = None) -> Outcome:
    """Clone or fetch, then audit one repository. Its errors are its own (an Unread naming it)."""
    from pit_guard.sources import git
    from pit_guard.sources.history import BlobMemo, scan_history

    try:
        path = clones.ensure(target, options.clone_dir, options.timeout) if target.url is not None else target.path
        assert path is not None
        memo = None
        state = None
        if options.state_file is not None:
            state = State(options.state_file, check=False)
            reuse = not options.reread_hits
            memo = BlobMemo(lambda shas: state.lookup(shas, with_findings=reuse) if state is not None else {})
            # the last history pass holds redacted message findings: continued only when those do
            memo.walk = state.walk(walk_name(target.name, options.blob_shard)) if reuse else None
        try:
            result = scan_history(
                path,
                include_unreachable=options.include_unreachable,
                max_file_size=options.max_file_size,
                progress=False,
                workers=workers,
                memo=memo,
                blob_shard=options.blob_shard,
                archives=options.archives,
            )
        finally:
            if state is not None:
                state.close()
        refs: List[Tuple[str, str]] = []
        if memo is not None:
            out = git.open_repo(path).run("for-each-ref", "--format=%(refname)%00%(objectname)")
            refs = [
                (name.decode("utf-8", "replace"), sha.decode())
                for name, _, sha in (line.partition(b"\0") for line in out.splitlines())
            ]
    except FatalError as e:
        unread = Unread(f"<repository {target.name}>", redact_text(str(e)))
        return Outcome(target.name, SourceResult(skipped=[unread]), failed=True)
    scanned = memo.scanned if memo is not None else {}
    # blobs scanned this run, or skipped as known: what the progress line counts
    blobs = result.scanned if memo is None else memo.read + memo.reused
    read, reused = (memo.read, memo.reused) if memo is not None else (0, 0)
    walk = memo.walk_out if memo is not None else None
    return Outcome(target.name, in_repository(target.name, result), scanned, refs, blobs, read, reused, False, walk)


def walk_name(name: str, blob_shard: Optional[Tuple[int, int]]) -> str:
    """Where a repository's history pass is kept: one per blob shard, as each shard's pass holds the
    places of its own blobs only (continuing another shard's pass would lose this one's findings)."""
    return name if blob_shard is None else f"{name} <blob shard {blob_shard[0] + 1}/{blob_shard[1]}>"


def _worker_start() -> None:
    """Pool workers leave signals to the main process (it ends them on its way out)."""
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def _audit_task(task: Tuple[Target, FleetOptions]) -> Outcome:
    target, options = task
    return audit_one(target, options, workers=1)


def _outcomes(targets: Sequence[Target], options: FleetOptions) -> Iterator[Outcome]:
    if options.jobs <= 1 or len(targets) <= 1:
        # one at a time: each repository may use every core for its own blobs
        for target in targets:
            yield audit_one(target, options)
        return
    import multiprocessing

    from pit_guard.detection import prefilter

    prefilter.families(b"")  # compiled once, before the fork: every worker reuses it
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # Workers are forked here, from the main thread, before the pool starts its own threads (a worker
    # forked later, as `maxtasksperchild` does, can inherit a lock held by another thread and hang).
    # Each keeps at most one repository's data at a time: memory follows the largest, not the count.
    pool = context.Pool(min(options.jobs, len(targets)), initializer=_worker_start)
    try:
        yield from pool.imap_unordered(_audit_task, [(t, options) for t in targets])
    finally:
        pool.terminate()
        pool.join()


class _Progress:
    """`pit-guard: fleet 3/50 repositories, 120345 blobs, now: <name>` on a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.done = self.blobs = 0

    def advance(self, outcome: Outcome) -> None:
        self.done += 1
        self.blobs += outcome.blobs
        if self.enabled:
            line = f"pit-guard: fleet {self.done}/{self.total} repositories, {self.blobs} blobs, last: {outcome.name}"
            sys.stderr.write("\r" + display_path(line)[:100].ljust(100))
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


def audit_fleet(targets: Sequence[Target], options: FleetOptions) -> Tuple[SourceResult, int]:
    """Every target audited; (merged result, number of repositories that failed)."""
    state = State(options.state_file) if options.state_file is not None else None
    merged = SourceResult()
    if state is not None:
        merged.notices += state.notes
    failed = read = reused = 0
    bar = _Progress(len(targets), options.progress)
    try:
        for outcome in _outcomes(targets, options):
            if state is not None and not outcome.failed:
                # one transaction per repository
                walk_key = walk_name(outcome.name, options.blob_shard)
                state.record(outcome.name, outcome.scanned, outcome.refs, outcome.walk, walk_key)
            failed += outcome.failed
            read += outcome.read
            reused += outcome.reused
            merged.findings += outcome.result.findings
            merged.skipped += outcome.result.skipped
            merged.notices += outcome.result.notices
            merged.scanned += outcome.result.scanned
            bar.advance(outcome)
    finally:
        bar.close()
        if state is not None:
            state.close()
    if state is not None:
        merged.notices.append(f"incremental: {read} new blob(s) read, {reused} known from an earlier run (not read)")
    merged.findings.sort(key=sort_key)
    merged.skipped.sort(key=lambda u: (u.path, u.reason))
    if failed:
        merged.notices.append(f"{failed} of {len(targets)} repositories could not be audited (listed as not scanned)")
    return merged, failed


def tell_targets(targets: Sequence[Target]) -> str:
    """--list-only: one repository a line, as reports name it."""
    return "".join(display_path(t.name) + "\n" for t in targets)  # a newline or escape in a name: shown escaped


def cpu_count() -> int:
    return os.cpu_count() or 1


SHARD_MARKER = re.compile(r"<shard ([0-9]+)/([0-9]+)>")


def shard_marker(index: int, count: int) -> Unread:
    """The line a shard report carries (chosen: not a failure) so that `merge` can tell a missing
    or duplicated shard; a merge drops it, as a single run never has it."""
    return Unread(
        f"<shard {index + 1}/{count}>",
        "only this shard's part was audited: join every shard's JSON report with `pit-guard merge`",
        True,
    )
