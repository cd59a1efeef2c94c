"""Whole-history audit: every unique blob scanned exactly once, history walked only for hits.

Plan (chosen by measurement on a 20k-commit repository, see bench/bench_history.py):
1. list objects with `cat-file --batch-all-objects --batch-check` (pack order, sizes);
2. stream blob contents through `cat-file --batch` in contiguous pack-order chunks, one
   worker process per core, each blob through `detect.scan_bytes` once;
3. meanwhile one `git log --all --raw` (written to a temp file) is the history pass: read after
   the scan, it tells, for the blobs holding findings only, whether a ref reaches them, the
   commit and path that introduced them, how many commits carry them, whether HEAD has them
   and which branches' histories contain them. No separate `rev-list` walk is needed.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import signal
import sys
import tempfile
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple

from pit_guard.archives.limits import Limits
from pit_guard.errors import FatalError
from pit_guard.finding import Finding, Provenance, Unread, finding_from_record, finding_record, placed
from pit_guard.sources import changes, git
from pit_guard.sources.result import SourceResult

# Below this much blob data, worker processes cost more than they save.
_PARALLEL_MIN_BYTES = 16 * 1024 * 1024
_CHUNKS_PER_WORKER = 12


@dataclasses.dataclass
class BlobMemo:
    """Incremental audits. `lookup(shas)` gives the blobs among `shas` scanned before (sha -> their
    findings, [] when clean): they are not read again, their findings are reused and placed in
    today's history. Commits work the same way for their messages (a commit id is a content hash
    too), but only clean ones are remembered: a message holding a secret is always read again.
    After the scan, `scanned` holds what this run read (sha -> findings; clean commits -> [])."""

    lookup: Callable[[Sequence[str]], Dict[str, List[Finding]]]
    scanned: Dict[str, List[Finding]] = dataclasses.field(default_factory=dict)
    reused: int = 0  # blobs not read because they were scanned before
    read: int = 0  # blobs read by this run
    # The history pass of this repository's last audit (`walk_data`), to walk only the commits it
    # did not see; None: walk everything. `walk_out`: what this run leaves for the next one.
    walk: Optional[Dict[str, Any]] = None
    walk_out: Optional[Dict[str, Any]] = None


def scan_history(
    path: str,
    *,
    include_unreachable: bool = False,
    max_file_size: int,
    progress: bool = False,
    workers: Optional[int] = None,
    archives: Optional[Limits] = None,
    memo: Optional[BlobMemo] = None,
    blob_shard: Optional[Tuple[int, int]] = None,
) -> SourceResult:
    """`memo`: skip blobs an earlier run scanned (incremental). `blob_shard` (i, n): scan only the
    blobs whose id falls in shard i of n (one huge repository split across machines)."""
    repo = git.open_repo(path)
    result = SourceResult()
    head = git.resolve(repo, "HEAD")
    if head is None and not repo.run("for-each-ref", "--count=1").strip():
        result.notices.append("the repository has no commits yet: nothing to audit")
    if repo.shallow:
        result.notices.append(
            "this is a shallow clone: history is partial, so older commits were not audited "
            "(run `git fetch --unshallow` for a full audit)"
        )
    # The history pass runs beside the listing and the blob scan (git writes to a temp file).
    # With --include-unreachable it also walks every commit object, so it waits for the list.
    log_options = ["--topo-order", "--reverse", "--diff-merges=first-parent"]
    n = _worker_count(repo, workers)
    with tempfile.TemporaryFile() as log_file, _Workers(n) as pool:
        revs = ["--all", *git.stash_entries(repo)]
        seed = None
        if memo is not None and memo.walk is not None and not include_unreachable:
            seed = _resumable(repo, revs, memo.walk)
        log_revs = revs if seed is None else [*revs, "--not", *seed.tips]
        job = None if include_unreachable else git.LogJob(repo, log_revs, log_options, None, log_file)
        blobs, commits, unreadable = git.object_inventory(repo)
        if job is None:
            stdin = "".join(c + "\n" for c in commits).encode()
            job = git.LogJob(repo, revs, log_options, stdin, log_file)
        to_scan: Sequence[Tuple[str, int]] = blobs
        reused: _Hits = []
        if blob_shard is not None:
            to_scan = [(sha, size) for sha, size in to_scan if in_shard(sha, *blob_shard)]
        if memo is not None:
            remembered = memo.lookup([sha for sha, _ in to_scan])
            reused = [(sha, found) for sha, found in remembered.items() if found]
            memo.reused = len(remembered)
            to_scan = [(sha, size) for sha, size in to_scan if sha not in remembered]
        hits, lfs, problems = _scan_blobs(repo, to_scan, max_file_size, progress, pool, archives or Limits())
        clean_commits: Set[str] = set()
        if memo is not None:
            # `<object SHA>` or, inside an archive, `<object SHA>!member`: that blob was not read whole
            failed = {u.path[len("<object ") :].partition(">")[0] for u in problems if u.path.startswith("<object ")}
            found_in = dict(hits)
            memo.scanned = {sha: found_in.get(sha, []) for sha, _ in to_scan if sha not in failed}
            memo.read = len(memo.scanned)
            clean_commits = set(memo.lookup(commits))
        hits += reused
        problems += [Unread(f"<object {sha}>", "unreadable object (corrupt object file)") for sha in unreadable]
        # blobs that could not be read or scanned: the history pass tells where they are
        # (`<object SHA>!inner` for an entry of an archive blob)
        places = {u.path[len("<object ") :].partition(">")[0]: "" for u in problems if u.path.startswith("<object ")}
        try:
            job.finish()
        except FatalError as e:
            problems.append(Unread("<history>", f"could not walk the history: {e}"))
            result.notices.append(
                f"could not walk the history ({e}); findings are shown by blob, without "
                "commits, and may include unreachable objects"
            )
            result.findings = _without_provenance(hits)
        else:
            log_file.seek(0)
            known = {sha for sha, _ in blobs}
            known.update(unreadable)
            walk_out: Dict[str, Any] = {}
            messages = _Messages(clean_commits)

            def walk(since: Optional[_Seed]) -> List[Tuple[str, str]]:
                """Provenance from the log in log_file; `since`: the last audit's walk to continue."""
                result.findings, missed = _with_provenance(
                    repo,
                    hits,
                    head,
                    include_unreachable,
                    messages.scan(git.read_log_records(log_file)),
                    known,
                    places,
                    since,
                    walk_out,
                )
                return missed

            try:
                if seed is not None and (problems or unreadable):
                    raise _Fallback  # where unreadable blobs are is told by a full walk only
                missing = walk(seed)
            except _Fallback:  # history was rewritten since: walk all of it
                seed = None
                places = dict.fromkeys(places, "")
                log_file.seek(0)
                log_file.truncate()
                git.LogJob(repo, revs, log_options, None, log_file).finish()
                log_file.seek(0)
                walk_out.clear()
                messages = _Messages(clean_commits)
                missing = walk(None)
            problems = [_placed(u, places) for u in problems]
            result.findings += messages.findings
            if seed is not None:
                result.findings += seed.message_findings()
                result.notices.append("incremental: history continued from the last audit (only new commits walked)")
            if memo is not None and not include_unreachable and not problems and not missing:
                walk_out["messages"] = [*(seed.messages if seed is not None else []), *_message_records(messages)]
                if not messages.problems:
                    memo.walk_out = walk_out
            if memo is not None:
                memo.scanned.update((sha, []) for sha in messages.clean)
            problems += messages.problems
            problems += _summarise_missing(repo, missing, result.notices)
        tags = SourceResult()
        changes.scan_tags(repo, tags)
        result.findings += tags.findings
        problems += tags.skipped
    result.scanned = len(blobs)
    result.skipped += problems
    if lfs:
        result.notices.append(
            f"{lfs} Git LFS pointer file(s): the content they point to lives on the LFS server and was not scanned"
        )
    if head is not None:
        subs = git.gitlinks_at(repo, head)
        if subs:
            names = ", ".join(git.show_path(p) for p in subs[:5]) + (", ..." if len(subs) > 5 else "")
            result.notices.append(f"{len(subs)} submodule(s) not descended into ({names}): audit each one on its own")
    return result


def in_shard(sha: str, index: int, count: int) -> bool:
    """Whether blob `sha` belongs to shard `index` (0-based) of `count`: by its id, so stable."""
    return int(sha[:12], 16) % count == index


# --- scanning ---------------------------------------------------------------------------------

_Hits = List[Tuple[str, List[Finding]]]
_ChunkResult = Tuple[_Hits, int, List[Unread], int, int]


def _scan_chunk(task: Tuple[git.Repo, List[str], int, Limits]) -> _ChunkResult:
    """Scan one run of blobs (runs in a worker process): findings per blob, LFS pointers, problems.
    Only a blob whose first bytes are an archive's takes the archive path (findings keep their inner
    place; its problems are `<object SHA>!inner`)."""
    from pit_guard.archives.inputs import scan_blob_bytes, scan_blob_stream
    from pit_guard.detection.detect import scan_or_error, scan_stream_or_error

    repo, shas, max_size, archives = task
    hits: _Hits = []
    lfs = 0
    problems: List[Unread] = []
    nbytes = 0
    for blob in git.iter_blobs(repo, shas, max_size, listed=True):
        if blob.stream is not None:
            opened, rest = scan_blob_stream(blob.stream, f"<object {blob.sha}>", archives)
            if opened is None:
                found, error = scan_stream_or_error(rest)
            else:
                found, error = opened.findings, None
                problems += opened.skipped
            if error is not None:
                problems.append(Unread(f"<object {blob.sha}>", error))
            if found:
                hits.append((blob.sha, found))
            continue
        if blob.data is None:
            problems.append(Unread(f"<object {blob.sha}>", blob.problem, blob.chosen))
            continue
        nbytes += len(blob.data)
        lfs += git.lfs_pointer(blob.data)  # told, and scanned: a file can merely start like a pointer
        opened = scan_blob_bytes(blob.data, f"<object {blob.sha}>", archives)
        if opened is None:
            found, error = scan_or_error(blob.data)
        else:
            found, error = opened.findings, None
            problems += opened.skipped
        if error is not None:
            problems.append(Unread(f"<object {blob.sha}>", error))
        if found:
            hits.append((blob.sha, found))
    return hits, lfs, problems, nbytes, len(shas)


def _chunks(blobs: Sequence[Tuple[str, int]], count: int) -> List[List[str]]:
    """Contiguous runs of about equal bytes: pack order keeps delta bases warm in each cat-file."""
    total = sum(size for _, size in blobs) or 1
    target = total / count
    chunks: List[List[str]] = [[]]
    filled = 0
    for sha, size in blobs:
        if filled >= target and len(chunks) < count:
            chunks.append([])
            filled = 0
        chunks[-1].append(sha)
        filled += size
    return [c for c in chunks if c]


class _Messages:
    """Scans each commit message as the history pass reads it (no second walk of history)."""

    def __init__(self, known_clean: FrozenSet[str] | Set[str] = frozenset()) -> None:
        self.findings: List[Finding] = []
        self.problems: List[Unread] = []
        self.known_clean = known_clean  # commits whose message an earlier run found clean
        self.clean: List[str] = []  # commits whose message this run found clean

    def scan(self, log: Iterator[git.LogRecord]) -> Iterator[git.LogRecord]:
        part = SourceResult()
        for record in log:
            sha, _parents, author, date, _timestamp, _entries, message = record
            if message.strip() and sha not in self.known_clean:
                unread = len(part.skipped)
                found = changes.scan_message(message, changes.message_place(sha), part)
                if not found and len(part.skipped) == unread:
                    self.clean.append(sha)
                if found:
                    prov = Provenance(
                        sha, author.decode("utf-8", "replace"), date.decode("ascii", "replace"), 1, None, None
                    )
                    self.findings += [dataclasses.replace(f, provenance=prov) for f in found]
            yield record
        self.problems += part.skipped


_MISSING_LISTED = 20


def _summarise_missing(repo: git.Repo, missing: List[Tuple[str, str]], notices: List[str]) -> List[Unread]:
    """Name a few missing objects (a partial clone lacks blobs by design: say that instead, once)."""
    if missing and git.is_partial_clone(repo):
        return [
            Unread(
                "<partial clone>",
                f"{len(missing)} blob(s) were never downloaded, so not scanned: "
                "fetch them (`git fetch --refetch`) or audit a full clone",
            )
        ]
    if len(missing) > _MISSING_LISTED:
        notices.append(
            f"{len(missing)} objects named by commits are missing (the repository is damaged); "
            f"the first {_MISSING_LISTED} are listed as skipped"
        )
    return [Unread(f"<object {sha}>", reason) for sha, reason in missing[:_MISSING_LISTED]]


def _worker_count(repo: git.Repo, workers: Optional[int]) -> int:
    if workers is not None:
        return max(1, workers)
    if git.packed_size(repo) < _PARALLEL_MIN_BYTES // 4:  # compressed size: a cheap estimate
        return 1
    return os.cpu_count() or 1


class _Workers:
    """A pool of scanning processes, forked before the object list fills memory (a forked
    worker's RSS includes every page it shares with its parent) and after the hyperscan
    database is compiled (so each worker reuses it instead of compiling its own).

    Signals are the main process's business: a worker ignores Ctrl-C and dies quietly on SIGTERM
    or SIGHUP (no traceback); the main process unwinds and terminates the pool on its way out.
    PIT_GUARD_TEST_PAUSE=1 (tests only) makes two workers and stops before the scan, after saying
    so on stderr, until a signal arrives: a deterministic "mid-audit" for the signal tests."""

    _SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, count: int) -> None:
        self.pause = os.environ.get("PIT_GUARD_TEST_PAUSE") == "1"
        self.count = max(count, 2) if self.pause else count
        self.pool: Optional[Any] = None  # a multiprocessing Pool when count > 1

    @staticmethod
    def _worker_start() -> None:
        for signum in _Workers._SIGNALS:
            signal.signal(signum, signal.SIG_IGN if signum == signal.SIGINT else signal.SIG_DFL)
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _Workers._SIGNALS)

    def __enter__(self) -> "_Workers":
        if self.count > 1:
            import multiprocessing

            from pit_guard.detection import prefilter

            prefilter.families(b"")  # compile the prefilter once, here
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            # Signals stay blocked while forking: a worker must not run the parent's handlers
            # before its own start-up resets them (a pending signal reaches the parent after).
            blocked = hasattr(signal, "pthread_sigmask")
            if blocked:
                old = signal.pthread_sigmask(signal.SIG_BLOCK, self._SIGNALS)
            try:
                self.pool = context.Pool(self.count, initializer=_Workers._worker_start)
            finally:
                if blocked:
                    signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return self

    def __exit__(self, exc_type: Optional[type], *exc: object) -> None:
        if self.pool is None:
            return
        if exc_type is None or issubclass(exc_type, Exception):
            self.pool.terminate()
            self.pool.join()
            return
        # A signal or Ctrl-C (not an Exception): workers may already be dead, one of them holding the
        # task queue's lock that Pool.terminate() waits for (it would hang): stop them directly.
        import multiprocessing.pool

        for owner in (self.pool, getattr(self.pool, "_worker_handler", None)):
            if owner is not None:
                owner._state = multiprocessing.pool.TERMINATE  # no replacement workers
        for worker in list(getattr(self.pool, "_pool", [])):
            if worker.exitcode is None:
                worker.kill()
            worker.join()
        finalizer = getattr(self.pool, "_terminate", None)
        if finalizer is not None:
            finalizer.cancel()  # Pool.terminate() at interpreter exit would hang the same way

    def run(self, tasks: List[Tuple[git.Repo, List[str], int, Limits]]) -> Iterator[_ChunkResult]:
        if self.pause:
            sys.stderr.write(f"pit-guard: test: paused with {self.count} workers\n")
            sys.stderr.flush()
            while True:
                signal.pause()  # until a signal's handler raises
        if self.pool is None or len(tasks) <= 1:
            for task in tasks:
                yield _scan_chunk(task)
            return
        yield from self.pool.imap_unordered(_scan_chunk, tasks)


def _scan_blobs(
    repo: git.Repo,
    blobs: Sequence[Tuple[str, int]],
    max_size: int,
    progress: bool,
    pool: _Workers,
    archives: Limits,
) -> Tuple[_Hits, int, List[Unread]]:
    total_bytes = sum(size for _, size in blobs)
    chunks = _chunks(blobs, pool.count * _CHUNKS_PER_WORKER)
    tasks = [(repo, chunk, max_size, archives) for chunk in chunks]
    bar = _Progress(total_bytes, len(blobs)) if progress else None
    hits: _Hits = []
    lfs = 0
    problems: List[Unread] = []
    for chunk_hits, chunk_lfs, chunk_problems, nbytes, nblobs in pool.run(tasks):
        hits += chunk_hits
        lfs += chunk_lfs
        problems += chunk_problems
        if bar is not None:
            bar.advance(nbytes, nblobs)
    if bar is not None:
        bar.close()
    return hits, lfs, problems


class _Progress:
    """A one-line progress bar on stderr (the CLI only asks for it on a terminal outside CI)."""

    def __init__(self, total_bytes: int, total_blobs: int) -> None:
        self.total_bytes, self.total_blobs = max(total_bytes, 1), total_blobs
        self.done_bytes = self.done_blobs = 0

    def advance(self, nbytes: int, nblobs: int) -> None:
        self.done_bytes += nbytes
        self.done_blobs += nblobs
        share = min(1.0, self.done_bytes / self.total_bytes)
        bar = "#" * int(share * 30)
        sys.stderr.write(
            f"\rpit-guard: audit [{bar:<30}] {self.done_blobs}/{self.total_blobs} blobs "
            f"{self.done_bytes / 1e6:.0f}/{self.total_bytes / 1e6:.0f} MB"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\r" + " " * 79 + "\r")
        sys.stderr.flush()


# --- incremental history ------------------------------------------------------------------------


class _Fallback(Exception):
    """The last audit's history pass cannot be continued (a ref was rewritten or moved back)."""


def _path_text(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


def _path_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@dataclasses.dataclass
class _Seed:
    """The last audit's history pass: per ref tip its tree state and history (target blobs only),
    every target's origin and newest commit holding it, per secret how many commits carry it, the
    commits walked, and the findings in commit messages. The next pass walks only commits no tip reaches."""

    tips: List[str]
    present: Dict[str, Dict[bytes, str]]
    history: Dict[str, FrozenSet[str]]
    origins: Dict[str, _Origin]
    lasts: Dict[str, _Origin]
    counts: Dict[str, int]
    count: int
    messages: List[Dict[str, Any]]

    def message_findings(self) -> List[Finding]:
        import time

        now = time.time()
        out = []
        for m in self.messages:
            prov = Provenance(m["commit"], m["author"], m["date"], 1, None, None)
            out.append(dataclasses.replace(finding_from_record(m["finding"], now), path=m["path"], provenance=prov))
        return out


def _resumable(repo: git.Repo, revs: List[str], data: Dict[str, Any]) -> Optional[_Seed]:
    """The seed when every commit the last pass walked is still reachable (history only grew)."""
    try:
        tips = list(data["tips"])
        if not tips:
            return None
        now = int(repo.run("rev-list", "--count", *revs).strip() or 0)
        new = int(repo.run("rev-list", "--count", *revs, "--not", *tips).strip() or 0)
        if now != int(data["count"]) + new:
            return None
        return _Seed(
            tips,
            {t: {_path_bytes(p): b for p, b in data["present"][t].items()} for t in tips},
            {t: frozenset(data["history"][t]) for t in tips},
            {b: _Origin(o[0], o[1], o[2], int(o[3]), _path_bytes(o[4])) for b, o in data["origins"].items()},
            {b: _Origin(o[0], "", o[1], int(o[2]), b"", int(o[3])) for b, o in data["lasts"].items()},
            {fp: int(n) for fp, n in data["counts"].items()},
            int(data["count"]),
            list(data["messages"]),
        )
    except (FatalError, KeyError, TypeError, ValueError, IndexError):
        return None


def _message_records(messages: "_Messages") -> List[Dict[str, Any]]:
    out = []
    for f in messages.findings:
        p = f.provenance
        assert p is not None
        out.append(
            {"finding": finding_record(f), "path": f.path, "commit": p.commit, "author": p.author, "date": p.date}
        )
    return out


def _save_walk(
    repo: git.Repo,
    out: Dict[str, Any],
    present: Dict[str, Dict[bytes, str]],
    history: Dict[str, FrozenSet[str]],
    origins: Dict[str, _Origin],
    lasts: Dict[str, _Origin],
    counts: Dict[str, int],
    count: int,
) -> None:
    tips = repo.run("rev-list", "--no-walk", "--all", *git.stash_entries(repo)).decode().split()
    if any(t not in present or t not in history for t in tips):
        return  # nothing to continue from
    out.update(
        tips=tips,
        present={t: {_path_text(p): b for p, b in present[t].items()} for t in tips},
        history={t: sorted(history[t]) for t in tips},
        origins={b: [o.commit, o.author, o.date, o.timestamp, _path_text(o.path)] for b, o in origins.items()},
        lasts={b: [o.commit, o.date, o.timestamp, o.order] for b, o in lasts.items()},
        counts=counts,
        count=count,
    )


# --- provenance -------------------------------------------------------------------------------


@dataclasses.dataclass
class _Origin:
    commit: str = ""
    author: str = ""
    date: str = ""
    timestamp: int = 0
    path: bytes = b""
    order: int = 0  # lasts: the commit's place in the walks (a descendant comes later): breaks a tie in time


_Origins = Dict[str, _Origin]
_EMPTY: Dict[bytes, str] = {}
_NONE: FrozenSet[str] = frozenset()


def _without_provenance(hits: _Hits) -> List[Finding]:
    return [dataclasses.replace(f, path=placed(f"<blob {sha}>", f.inner)) for sha, found in hits for f in found]


def _placed(unread: Unread, places: Dict[str, str]) -> Unread:
    """`<object SHA>` -> `<object SHA> PATH in commit C`: where history first has that blob."""
    if not unread.path.startswith("<object "):
        return unread
    sha, _, inner = unread.path[len("<object ") :].partition(">")  # `<object SHA>!inner` inside an archive
    place = places.get(sha)
    return dataclasses.replace(unread, path=f"<object {sha}> {place}{inner}") if place else unread


def _with_provenance(
    repo: git.Repo,
    hits: _Hits,
    head: Optional[str],
    include_unreachable: bool,
    log: Iterator[git.LogRecord],
    known: Set[str],
    places: Optional[Dict[str, str]] = None,
    seed: Optional[_Seed] = None,
    out: Optional[Dict[str, Any]] = None,
) -> Tuple[List[Finding], List[Tuple[str, str]]]:
    """Findings placed in history, and the blobs commits name that the repository lacks. `places`
    (blob sha -> "") is filled with where history first adds each of those blobs. With `seed`,
    `log` holds only the commits the seed's tips do not reach; `out` receives the next seed."""
    targets = {sha for sha, _ in hits}
    origins, lasts, present, history, missing = _walk_history(
        log, targets, known, {} if places is None else places, seed
    )
    extra: Set[str] = set() if include_unreachable else _reached_without_commits(repo, targets)
    branch_tips = git.branch_tips(repo)
    if seed is not None and (
        (head is not None and head not in present) or any(sha not in history for _, sha in branch_tips)
    ):
        raise _Fallback  # a ref moved back to a commit in the middle of the old history
    in_head = set(present.get(head, _EMPTY).values()) if head else set()
    tips = [(name, history.get(sha, _NONE)) for name, sha in branch_tips]
    facts, counts = _secret_facts(hits, present, in_head, tips, seed, lasts)
    if out is not None:
        walked = len(present) - (len(seed.present) if seed is not None else 0)
        count = walked + (seed.count if seed is not None else 0)
        _save_walk(repo, out, present, history, origins, lasts, counts, count)
    # One finding per secret and path: successive edits of a file are one leak, first seen in the
    # commit that introduced the oldest version; how far it spread is a fact of the secret.
    earliest: Dict[Tuple[str, bytes, str], Tuple[_Origin, Finding]] = {}
    findings: List[Finding] = []
    for sha, found in hits:
        origin = origins.get(sha)
        if origin is None:
            if include_unreachable or sha in extra:
                # No commit holds it: a dangling blob (staged once, never committed) or a tagged blob.
                findings += [dataclasses.replace(f, path=placed(f"<blob {sha} in no commit>", f.inner)) for f in found]
            continue  # unreachable: only reported with --include-unreachable
        for f in found:
            key = (f.fingerprint, origin.path, f.inner)
            if key not in earliest or origin.timestamp < earliest[key][0].timestamp:
                earliest[key] = (origin, f)
    for (fp, path, _inner), (origin, f) in earliest.items():
        commits, head_has_it, branches, last = facts[fp]
        prov = Provenance(origin.commit, origin.author, origin.date, commits, head_has_it, branches)
        if last is not None:
            prov = dataclasses.replace(prov, last_commit=last.commit, last_date=last.date)
        findings.append(dataclasses.replace(f, path=placed(git.show_path(path), f.inner), provenance=prov))
    findings.sort(key=lambda f: (f.path, f.line, f.column, f.rule_id))
    return findings, missing


def _secret_facts(
    hits: _Hits,
    present: Dict[str, Dict[bytes, str]],
    in_head: Set[str],
    tips: List[Tuple[str, FrozenSet[str]]],
    seed: Optional[_Seed] = None,
    lasts: Optional[Dict[str, _Origin]] = None,
) -> Tuple[Dict[str, Tuple[int, bool, Tuple[str, ...], Optional[_Origin]]], Dict[str, int]]:
    """Per fingerprint: how many commits carry the secret (in any file), whether HEAD has it,
    which branches' histories hold it and the newest commit holding it (of its blobs' `lasts`);
    and the commit counts alone (what a seed keeps). With a seed, its counts are the old commits'
    and its tips (walked before) are not counted again."""
    blob_secrets = {sha: {f.fingerprint for f in found} for sha, found in hits}
    commits: Dict[str, int] = dict(seed.counts) if seed is not None else {}
    seen_before = seed.present if seed is not None else {}
    per_state: Dict[int, Set[str]] = {}  # commits share their tree state with an unchanged parent
    for commit, state in present.items():
        if commit in seen_before:
            continue
        secrets = per_state.get(id(state))
        if secrets is None:
            secrets = per_state[id(state)] = {fp for blob in set(state.values()) for fp in blob_secrets.get(blob, ())}
        for fp in secrets:
            commits[fp] = commits.get(fp, 0) + 1
    head_secrets = {fp for blob in in_head for fp in blob_secrets.get(blob, ())}
    facts = {}
    for fp in {fp for secrets in blob_secrets.values() for fp in secrets}:
        blobs = {blob for blob, secrets in blob_secrets.items() if fp in secrets}
        branches = tuple(sorted(name for name, seen in tips if not blobs.isdisjoint(seen)))
        held = [lasts[blob] for blob in blobs if lasts is not None and blob in lasts]
        last = max(held, key=lambda o: (o.timestamp, o.order), default=None)
        facts[fp] = (commits.get(fp, 0), fp in head_secrets, branches, last)
    return facts, commits


def _reached_without_commits(repo: git.Repo, targets: Set[str]) -> Set[str]:
    """Target blobs that refs reach without a commit (a tag of a tree or blob): rare, checked apart."""
    out = repo.run("for-each-ref", "--format=%(objecttype) %(*objecttype) %(refname)")
    refs = []
    for line in out.decode("utf-8", "replace").splitlines():
        kind, peeled, name = line.split(" ", 2)
        if (peeled or kind) != "commit":
            refs.append(name)
    if not refs:
        return set()
    listed = repo.run("rev-list", "--objects", "--no-object-names", *refs).decode().split()
    return targets.intersection(listed)


def _walk_history(
    log: Iterator[git.LogRecord],
    targets: Set[str],
    known: Set[str],
    places: Dict[str, str],
    seed: Optional[_Seed] = None,
) -> Tuple[_Origins, _Origins, Dict[str, Dict[bytes, str]], Dict[str, FrozenSet[str]], List[Tuple[str, str]]]:
    """One oldest-first pass over `git log --raw` output, tracking only the target blobs.

    With first-parent diffs and root commits shown in full, every blob of every walked commit
    appears as an added side at least once, so a target no commit introduces is not reachable.
    present[c] maps path -> target blob in commit c's tree; history[c] is every target blob in
    c or its ancestors. Both are shared with the parent when unchanged: one reference a commit.
    origins[b] is the commit that first adds blob b; lasts[b] the newest commit (by committer
    time, its date in UTC) whose tree holds it, found per shared tree state, not per commit.
    """
    present: Dict[str, Dict[bytes, str]] = dict(seed.present) if seed is not None else {}
    history: Dict[str, FrozenSet[str]] = dict(seed.history) if seed is not None else {}
    origins: Dict[str, _Origin] = dict(seed.origins) if seed is not None else {}
    lasts: Dict[str, _Origin] = dict(seed.lasts) if seed is not None else {}
    newest: Dict[int, Tuple[int, int, str]] = {}  # per tree state (by id): its newest commit
    order = seed.count if seed is not None else 0  # after every commit an earlier walk saw
    missing: Dict[str, str] = {}
    for sha, parents, author, date, timestamp, entries, _message in log:
        if seed is not None and any(p not in present for p in parents):
            raise _Fallback  # a new commit on top of an old commit that was no ref's tip
        parent = parents[0] if parents else None
        state = present.get(parent, _EMPTY) if parent else _EMPTY
        changed = []
        for new_mode, old_sha, new_sha, path, _ in entries:
            if new_sha in targets or old_sha in targets:
                changed.append((new_mode, new_sha, path))
            if new_sha in places and not places[new_sha]:
                places[new_sha] = f"{git.show_path(path)} in commit {sha[:12]}"
            if new_sha not in known and new_mode != git.GITLINK_MODE and not git.is_null_sha(new_sha):
                missing.setdefault(new_sha, f"missing object ({git.show_path(path)} in commit {sha[:12]})")
        if changed:
            state = dict(state)
            for new_mode, new_sha, path in changed:
                if new_sha in targets and new_mode != git.GITLINK_MODE:
                    if state.get(path) != new_sha:
                        _introduce(origins, new_sha, (sha, author, date, timestamp), path)
                    state[path] = new_sha
                else:
                    state.pop(path, None)
        present[sha] = state
        order += 1
        if state:
            held = newest.get(id(state))
            if held is None or timestamp >= held[0]:  # a tie: the later in walk order (a descendant)
                newest[id(state)] = (timestamp, order, sha)
        seen = history.get(parent, _NONE) if parent else _NONE
        for other in parents[1:]:
            extra = history.get(other, _NONE)
            if not extra <= seen:
                seen = seen | extra
        if state and not set(state.values()) <= seen:
            seen = seen | frozenset(state.values())
        history[sha] = seen
    states = {id(state): state for state in present.values() if id(state) in newest}
    for key, (timestamp, place, sha) in newest.items():
        for blob in set(states[key].values()):
            last = lasts.get(blob)
            if last is None or (timestamp, place) > (last.timestamp, last.order):
                when = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()
                lasts[blob] = _Origin(sha, "", when, timestamp, b"", place)
    return origins, lasts, present, history, sorted(missing.items())


def _introduce(origins: Dict[str, _Origin], blob: str, commit: Tuple[str, bytes, bytes, int], path: bytes) -> None:
    """Keep the earliest commit (by committer time, then walk order) that adds the blob."""
    sha, author, date, timestamp = commit
    origin = origins.get(blob)
    if origin is None or timestamp < origin.timestamp:
        origins[blob] = _Origin(
            sha,
            author.decode("utf-8", "replace"),
            date.decode("ascii", "replace"),
            timestamp,
            path,
        )
