"""The one module that talks to git: subprocess `git` with NUL-separated output everywhere.

Why not GitPython: its import alone costs about 40 ms on the pre-commit path, and every bulk
operation here is a single streamed `git` process anyway (`cat-file --batch`, `log --raw -z`),
which is what GitPython would wrap. Paths stay bytes until they are shown, so names with
newlines, spaces or invalid UTF-8 survive.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
import threading
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from pit_guard.errors import FatalError

GITLINK_MODE = b"160000"  # a submodule commit inside a tree
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
_COMMIT_MARK = b"\x01PGCOMMIT "
# Commit header for `git log`: a marker no path token can be confused with (paths are read by
# position, never by content), then parents, author, ISO date, committer timestamp and the
# message. The message is read by position too and starts with "M", so a message line that looks
# like a header or a raw entry cannot start a record (a message holds no NUL).
_LOG_FORMAT = "%x00%x01PGCOMMIT %H %P%x00%an <%ae>%x00%aI%x00%ct%x00M%B"
# Blobs larger than this are streamed to the detector in chunks of STREAM_CHUNK, never held whole.
STREAM_THRESHOLD = 32 * 1024 * 1024
STREAM_CHUNK = 4 * 1024 * 1024
# What a blob a partial clone never downloaded is told as (one entry for all of them).
NOT_DOWNLOADED = "not downloaded (partial clone)"
PARTIAL_CLONE_FIX = "fetch them (`git fetch --refetch`) or use a full clone"


# Variables with which git (running a hook) or a user points git at some repository. A repository
# named on the command line is the one to read: these must not silently swap it for another.
_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)


def use_named_repository() -> None:
    """Forget the environment's repository variables for the rest of this process (`audit PATH`)."""
    for name in _REPOSITORY_ENV:
        os.environ.pop(name, None)


def is_null_sha(sha: bytes | str) -> bool:
    text = sha.decode() if isinstance(sha, bytes) else sha
    return bool(text) and set(text) == {"0"}


def show_path(path: bytes) -> str:
    """A path as people see it; bytes that are not UTF-8 are shown escaped, never dropped."""
    return path.decode("utf-8", "backslashreplace")


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    # Pathspecs are file names, not globs; no pager, no prompts, no translations to parse.
    env.update(GIT_LITERAL_PATHSPECS="1", GIT_PAGER="cat", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    # A partial clone would fetch each missing blob over the network when asked for it; a
    # scanner reports what is here instead (git >= 2.44 honours this; older ones ignore it).
    env["GIT_NO_LAZY_FETCH"] = "1"
    # Replace refs and grafts rewrite history as git shows it: a hostile repository could hide the
    # commit that adds a secret. Read the objects as they are.
    env["GIT_NO_REPLACE_OBJECTS"] = "1"
    env["GIT_GRAFT_FILE"] = os.devnull
    return env


# Keep git's own memory flat however big the repository: by default the delta base cache takes
# up to 96 MB and packs are mapped in 1 GB windows, so RSS grows with the pack (measured on the
# 20k-commit bench repository: `git log --raw` 190 MB -> 82 MB, no slower).
_BOUNDED = ("-c", "core.deltaBaseCacheLimit=16m", "-c", "core.packedGitWindowSize=16m", "-c", "core.packedGitLimit=64m")
# No transport at all: a git too old for GIT_NO_LAZY_FETCH would otherwise fetch a partial clone's
# missing objects from its remote when a command needs them (the fetch inherits this setting).
_NO_NETWORK = ("-c", "protocol.allow=never")
# Nothing a scanned repository's config names is run: no signature program (log.showSignature makes
# `git log` run gpg.program), no file-system monitor hook, no hooks.
_NO_PROGRAMS = ("-c", "log.showSignature=false", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")


def _popen(args: Sequence[str], cwd: str, **kwargs: Any) -> "subprocess.Popen[bytes]":
    try:
        proc: "subprocess.Popen[bytes]" = subprocess.Popen(
            ["git", *_BOUNDED, *_NO_NETWORK, *_NO_PROGRAMS, *args], cwd=cwd, env=_env(), **kwargs
        )
        return proc
    except FileNotFoundError:
        raise FatalError("git is not installed or not on PATH") from None
    except NotADirectoryError:
        raise FatalError(f"{cwd}: not a directory") from None


def git_error(err: bytes, code: int) -> str:
    """git's first error line (not its warnings), with how to fix a partial clone's missing objects."""
    lines = [
        line.strip().replace("fatal: ", "").replace("error: ", "")
        for line in err.decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith("warning: ")
    ]
    message = lines[0] if lines else f"exit {code}"
    if any("promisor remote" in line or "lazy fetch" in line for line in lines):
        message += f" (objects a partial clone never downloaded: {PARTIAL_CLONE_FIX})"
    return message


def run(args: Sequence[str], cwd: str, input: Optional[bytes] = None, check: bool = True) -> bytes:
    """Run git and return stdout; on failure raise FatalError carrying git's own message."""
    proc = _popen(
        args,
        cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(input)
    if check and proc.returncode != 0:
        command = next((a for a in args if not a.startswith("-") and "=" not in a), "")  # past any `-c k=v`
        raise FatalError(f"git {command} failed: {git_error(err, proc.returncode)}")
    return out


def stash_entries(repo: Repo) -> List[str]:
    """Every stash entry: `--all` reaches only the newest (refs/stash); older ones live in its reflog."""
    out = repo.run("rev-list", "--walk-reflogs", "refs/stash", "--", check=False)
    return [line for line in out.decode("ascii", "replace").split() if len(line) in (40, 64)]


def blob_at(root: str, commit: str, path: str) -> Optional[bytes]:
    """The content of `path` in `commit`, or None when git cannot give it (no repo, no such path)."""
    try:
        return run(["cat-file", "blob", f"{commit}:{path}"], cwd=root)
    except (FatalError, OSError):
        return None


@dataclasses.dataclass(frozen=True)
class Repo:
    cwd: str  # where git commands run: the work tree root, or the git dir of a bare repository
    git_dir: str
    bare: bool
    shallow: bool
    prefix: str  # the caller's folder relative to the work tree root ("" at the root)

    def run(self, *args: str, input: Optional[bytes] = None, check: bool = True) -> bytes:
        return run(args, self.cwd, input=input, check=check)


def open_repo(path: str = ".") -> Repo:
    """Find the repository holding `path` (work tree, linked worktree or bare)."""
    if not os.path.exists(path):
        raise FatalError(f"{path}: no such file or directory")
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    proc = _popen(
        ["rev-parse", "--is-bare-repository", "--is-shallow-repository", "--absolute-git-dir", "--is-inside-git-dir"],
        folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        why = err.decode("utf-8", "replace").strip().replace("fatal: ", "")
        if "not a git repository" in why:
            raise FatalError(
                f"{path}: not a git repository (run this inside a git work tree, or give the repository's path)"
            )
        raise FatalError(f"{path}: cannot read the git repository: {why}")
    lines = out.decode("utf-8", "surrogateescape").split("\n")
    bare, shallow, git_dir = lines[0] == "true", lines[1] == "true", lines[2]
    if bare:
        return Repo(git_dir, git_dir, True, shallow, "")
    if lines[3] == "true":  # inside `.git` of a work tree (`pit-guard audit .git`): use the work tree
        folder = os.path.dirname(git_dir)
    top, prefix = (
        run(["rev-parse", "--show-toplevel", "--show-prefix"], folder)
        .decode("utf-8", "surrogateescape")
        .split("\n")[:2]
    )
    return Repo(top, git_dir, False, shallow, prefix)


def resolve(repo: Repo, rev: str) -> Optional[str]:
    """The commit `rev` names, or None (unborn HEAD, unknown ref, object not in this clone)."""
    if rev.startswith("-"):
        raise FatalError(f"{rev!r} is not a revision")
    out = repo.run("rev-parse", "-q", "--verify", "--end-of-options", rev + "^{commit}", check=False)
    return out.decode().strip() or None


def merge_heads(repo: Repo) -> List[str]:
    """The other parents of a merge in progress (MERGE_HEAD holds one per line; octopus: several)."""
    try:
        with open(os.path.join(repo.git_dir, "MERGE_HEAD"), encoding="ascii") as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return []


# --- the index ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DiffEntry:
    status: str  # A M D T U R C (first letter), or the combined letters for a merge commit
    path: bytes
    new_sha: str  # all zeros for a deletion or an unmerged path
    new_mode: bytes
    old_shas: Tuple[str, ...]  # one per parent (all zeros where the path did not exist)
    old_path: Optional[bytes] = None  # source of a rename or copy


def _parse_raw(tokens: List[bytes], i: int) -> Tuple[Optional[DiffEntry], int]:
    """Read one `--raw -z` entry starting at tokens[i] (its `:`-meta token); return it and the next index."""
    meta = tokens[i].lstrip(b"\n")
    colons = len(meta) - len(meta.lstrip(b":"))
    fields = meta[colons:].split(b" ")
    parents = colons  # `::` is a combined diff of a two-parent merge
    modes = fields[: parents + 1]
    shas = [s.decode() for s in fields[parents + 1 : 2 * parents + 2]]
    status = fields[-1].decode()
    i += 1
    if status[:1] in ("R", "C") and parents == 1:
        old_path, path = tokens[i], tokens[i + 1]
        i += 2
    else:
        old_path, path = None, tokens[i]
        i += 1
    return DiffEntry(status[:1] if parents == 1 else status, path, shas[-1], modes[-1], tuple(shas[:-1]), old_path), i


def diff_raw(repo: Repo, *args: str) -> List[DiffEntry]:
    """`git diff --raw -z` entries (args pick what is compared)."""
    out = repo.run("diff", "--raw", "-z", "--no-abbrev", "--no-ext-diff", "--no-textconv", *args)
    tokens = out.split(b"\0")
    entries: List[DiffEntry] = []
    i = 0
    while i < len(tokens):
        if tokens[i].lstrip(b"\n").startswith(b":"):
            entry, i = _parse_raw(tokens, i)
            if entry is not None:
                entries.append(entry)
        else:
            i += 1
    return entries


def index_entries(repo: Repo) -> Dict[bytes, Tuple[bytes, str, int]]:
    """path -> (mode, blob sha, stage) for every index entry (stage > 0: unmerged)."""
    out = repo.run("ls-files", "--stage", "-z")
    entries: Dict[bytes, Tuple[bytes, str, int]] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, sha, stage = meta.split(b" ")
        if path not in entries or stage == b"0":
            entries[path] = (mode, sha.decode(), int(stage))
    return entries


# --- blobs ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Blob:
    sha: str
    data: Optional[bytes]  # None when missing, corrupt, too large, not a blob, or streamed
    problem: str = ""  # why data is None (empty for a streamed blob)
    chosen: bool = False  # left out by the user's --max-file-size, not by a problem
    # A blob larger than STREAM_THRESHOLD: read(n) gives its next bytes (b"" at the end). Valid only
    # until the iterator moves on; if git dies part-way, the same sha comes again as unreadable.
    stream: Optional[Callable[[int], bytes]] = None


def _feed(stdin: IO[bytes], shas: Sequence[str]) -> None:
    try:
        for start in range(0, len(shas), 4096):
            stdin.write("".join(s + "\n" for s in shas[start : start + 4096]).encode())
        stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # cat-file died: the reader notices and restarts after the bad object


def absent_objects(repo: Repo, shas: Sequence[str]) -> Set[str]:
    """Those of `shas` this repository does not have, found without asking git for them (in a
    partial clone asking could download them): one listing of every object that is here."""
    proc = _popen(
        ["cat-file", "--batch-all-objects", "--batch-check=%(objectname)", "--unordered"],
        repo.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    wanted = set(shas)
    present: Set[str] = set()
    for line in proc.stdout:
        sha = line.strip().decode("ascii", "replace")
        if sha in wanted:
            present.add(sha)
    proc.stdout.close()
    if proc.wait() != 0:
        return set()  # cannot tell: cat-file below names each object it cannot read
    return wanted - present


class _Stream:
    """read(n) over the next `left` bytes of a cat-file stream."""

    def __init__(self, out: IO[bytes], size: int) -> None:
        self.out, self.left, self.short = out, size, False

    def read(self, n: int) -> bytes:
        if self.left <= 0 or self.short:
            return b""
        data = self.out.read(max(1, min(n, self.left, STREAM_CHUNK)))
        if not data:
            self.short = True
        self.left -= len(data)
        return data


def iter_blobs(repo: Repo, shas: Sequence[str], max_size: int, listed: bool = False) -> Iterator[Blob]:
    """Stream the given objects through one `git cat-file --batch`, in order.

    A missing object is reported and skipped; if git dies on a corrupt object, that object is
    reported and a fresh cat-file carries on with the rest. In a partial clone the objects it
    does not have are reported as NOT_DOWNLOADED first, without asking git for them (unless
    `listed`: the caller took the shas from the objects that are here). Blobs larger than
    STREAM_THRESHOLD come as a stream, never whole.
    """
    if not listed and shas and is_partial_clone(repo):
        absent = absent_objects(repo, shas)
        for sha in shas:
            if sha in absent:
                yield Blob(sha, None, NOT_DOWNLOADED)
        shas = [sha for sha in shas if sha not in absent]
    done = 0
    while done < len(shas):
        todo = shas[done:]
        # git's messages go to a file: a pipe nobody reads until the end could fill and stall it.
        err_file = tempfile.TemporaryFile()
        proc = _popen(
            ["cat-file", "--batch"],
            repo.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err_file,
            bufsize=1 << 16,
        )
        assert proc.stdin is not None and proc.stdout is not None
        _widen_pipe(proc.stdout)
        writer = threading.Thread(target=_feed, args=(proc.stdin, todo), daemon=True)
        writer.start()
        out = proc.stdout
        for sha in todo:
            header = out.readline()
            if not header:
                break
            parts = header.split()
            if len(parts) == 2 and parts[1] == b"missing":
                done += 1
                yield Blob(sha, None, "missing object (the repository is damaged: see `git fsck`)")
                continue
            if len(parts) != 3:
                break
            kind, size = parts[1], int(parts[2])
            if kind != b"blob" or size > max_size:
                _skip(out, size + 1)
                done += 1
                yield Blob(
                    sha,
                    None,
                    f"{kind.decode()} object"
                    if kind != b"blob"
                    else f"larger than --max-file-size ({size} > {max_size} bytes)",
                    chosen=kind == b"blob",
                )
                continue
            if size > STREAM_THRESHOLD:
                stream = _Stream(out, size)
                yield Blob(sha, None, stream=stream.read)
                _skip(out, stream.left)
                if stream.short or out.read(1) != b"\n":
                    break
                done += 1
                continue
            data = out.read(size)
            out.read(1)
            if len(data) < size:
                break
            done += 1
            yield Blob(sha, data)
        else:
            writer.join()
            proc.wait()
            err_file.close()
            out.close()
            return
        # cat-file stopped early: the object it was on is corrupt. Name it and go on after it.
        proc.kill()
        proc.wait()
        err_file.seek(0)
        message = git_error(err_file.read(), proc.returncode or 1)
        err_file.close()
        out.close()
        writer.join()
        yield Blob(shas[done], None, f"unreadable object ({message})")
        done += 1


def _widen_pipe(stream: IO[bytes]) -> None:
    """Let git run up to 1 MB ahead of the scanner (Linux): with the default 64 KB pipe, git and
    Python take turns instead of working at the same time."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


def _skip(out: IO[bytes], n: int) -> None:
    while n > 0:
        chunk = out.read(min(n, 1 << 20))
        if not chunk:
            return
        n -= len(chunk)


_BLOB_LINE = re.compile(rb"^([0-9a-f]{40,64}) blob (\d+)$", re.M)
_COMMIT_LINE = re.compile(rb"^([0-9a-f]{40,64}) commit \d+$", re.M)
_UNREADABLE_LINE = re.compile(rb"^(\S+) missing$", re.M)


def object_inventory(repo: Repo) -> Tuple[List[Tuple[str, int]], List[str], List[str]]:
    """(sha, size) of every blob in pack order, every commit, and objects git cannot read.

    One `cat-file --batch-all-objects --batch-check`, parsed with regexes over 1 MB chunks: a
    per-line Python loop costs more than git itself on 100k+ objects.
    """
    proc = _popen(
        ["cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype) %(objectsize)", "--unordered"],
        repo.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    blobs: List[Tuple[str, int]] = []
    commits: List[str] = []
    unreadable: List[str] = []
    rest = b""
    while True:
        chunk = proc.stdout.read(1 << 20)
        data = rest + chunk
        cut = data.rfind(b"\n") + 1 if chunk else len(data)
        data, rest = data[:cut], data[cut:]
        blobs += [(sha.decode(), int(size)) for sha, size in _BLOB_LINE.findall(data)]
        commits += [sha.decode() for sha in _COMMIT_LINE.findall(data)]
        unreadable += [sha.decode() for sha in _UNREADABLE_LINE.findall(data)]
        if not chunk:
            break
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise FatalError("git cat-file failed: " + err.decode("utf-8", "replace").strip().replace("fatal: ", ""))
    return blobs, commits, unreadable


def is_partial_clone(repo: Repo) -> bool:
    found = repo.run("config", "--get-regexp", r"^(extensions\.partialclone|remote\..*\.promisor)$", check=False)
    return any(line.split(" ", 1)[-1] not in ("false", "") for line in found.decode("utf-8", "replace").splitlines())


def packed_size(repo: Repo) -> int:
    """Bytes of objects on disk (packed and loose, compressed): a cheap guess at the work ahead."""
    total = 0
    for line in repo.run("count-objects", "-v").decode().splitlines():
        key, _, value = line.partition(": ")
        if key in ("size", "size-pack") and value.strip().isdigit():
            total += int(value) * 1024
    return total


# --- history ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Commit:
    sha: str
    parents: Tuple[str, ...]
    author: str
    date: str  # ISO 8601
    timestamp: int  # committer time, seconds
    entries: List[DiffEntry]
    message: bytes = b""  # the raw message (%B)


def log_commits(repo: Repo, revs: Sequence[str], *options: str) -> Iterator[Commit]:
    """Commits with their raw diffs (combined for merges with `-c`), streamed from one `git log -z`
    (newest first unless --reverse), read by read_log_records like the audit's history pass."""
    job = LogJob(repo, revs, options, None, None)
    assert job.proc.stdout is not None
    for sha, parents, author, date, timestamp, entries, message in read_log_records(job.proc.stdout):
        diff = [DiffEntry("", path, new, mode, (old, *more)) for mode, old, new, path, more in entries]
        yield Commit(sha, parents, author.decode("utf-8", "replace"), date.decode(), timestamp, diff, message)
    job.finish()


class LogJob:
    """A running `git log --raw -z`, writing to a pipe or (to run beside other work) to a file."""

    def __init__(
        self, repo: Repo, revs: Sequence[str], options: Sequence[str], stdin: Optional[bytes], out: Optional[IO[bytes]]
    ) -> None:
        args = [
            "log",
            "--raw",
            "-z",
            "--no-abbrev",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            "--root",
            "--format=" + _LOG_FORMAT,
            *options,
        ]
        if stdin is not None:
            args.append("--stdin")
        args += list(revs)  # callers check that user-given revisions are not options
        # git's messages go to a temp file, not a reader thread: the audit forks workers while
        # this runs, and forking beside a thread that holds a lock is asking for a deadlock.
        self._err_file = tempfile.TemporaryFile()
        self.proc = _popen(
            args,
            repo.cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out if out is not None else subprocess.PIPE,
            stderr=self._err_file,
            bufsize=1 << 16,
        )
        if stdin is not None:
            assert self.proc.stdin is not None
            threading.Thread(target=_feed_bytes, args=(self.proc.stdin, stdin), daemon=True).start()

    def finish(self) -> None:
        """Wait for git; raise FatalError with its message if it failed."""
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        code = self.proc.wait()
        self._err_file.seek(0)
        err = self._err_file.read()
        self._err_file.close()
        if code != 0:
            raise FatalError(f"git log failed: {git_error(err, code)}")


# One first-parent raw entry: `:<old mode> <new mode> <old sha> <new sha> <status>\0<path>\0`.
_ENTRY = re.compile(rb"\n?:\d+ (\d+) ([0-9a-f]{40,64}) ([0-9a-f]{40,64}) [A-Z]\d*\x00([^\x00]*)\x00")
# One combined entry of a merge (`-c`): `::<mode per parent> <new mode> <sha per parent> <new sha> <statuses>`.
_COMBINED = re.compile(rb"\n?:(:+)((?:\d+ )+)((?:[0-9a-f]{40,64} )+)[A-Z]+\x00([^\x00]*)\x00")
_RECORD_SPLIT = b"\x00" + _COMMIT_MARK

# (new mode, old sha, new sha, path, the other parents' old shas: only for a merge's combined entry)
LogEntry = Tuple[bytes, str, str, bytes, Tuple[str, ...]]
LogRecord = Tuple[str, Tuple[str, ...], bytes, bytes, int, List[LogEntry], bytes]
_SINGLE: Tuple[str, ...] = ()


def read_log_records(stream: IO[bytes]) -> Iterator[LogRecord]:
    """The one `git log --raw -z` reader (no renames; first-parent diffs, or `-c` combined ones):
    (sha, parents, author, date, timestamp, [(new mode, old sha, new sha, path, more old shas)],
    message) per commit.

    Records are cut at NUL + the commit marker; only a file name starting with that control
    character could fake one, and the header check below drops such a cut.
    """
    rest = b""
    while True:
        chunk = stream.read(1 << 20)
        parts = (rest + chunk).split(_RECORD_SPLIT)
        rest = parts.pop() if chunk else b""
        for part in parts:
            record = _record(part)
            if record is not None:
                yield record
        if not chunk:
            break


def _record(part: bytes) -> Optional[LogRecord]:
    fields = part.split(b"\x00", 5)
    if len(fields) < 5 or not fields[4].startswith(b"M"):
        return None
    ids = fields[0].decode("ascii", "replace").split()
    if not ids or len(ids[0]) < 40:
        return None
    body = fields[5] if len(fields) > 5 else b""
    if body.lstrip(b"\n\x00").startswith(b"::"):  # a merge under `-c`: every entry is combined
        entries = [_combined(match) for match in _COMBINED.finditer(body)]
    else:
        entries = [(mode, old.decode(), new.decode(), path, _SINGLE) for mode, old, new, path in _ENTRY.findall(body)]
    return (ids[0], tuple(ids[1:]), fields[1], fields[2], int(fields[3] or 0), entries, fields[4][1:])


def _combined(match: "re.Match[bytes]") -> LogEntry:
    modes = match.group(2).split()
    shas = match.group(3).decode().split()
    return (modes[-1], shas[0], shas[-1], match.group(4), tuple(shas[1:-1]))


def _feed_bytes(stdin: IO[bytes], data: bytes) -> None:
    try:
        stdin.write(data)
        stdin.close()
    except (BrokenPipeError, OSError):
        pass


def branch_tips(repo: Repo) -> List[Tuple[str, str]]:
    """(short name, commit) of local and remote-tracking branches (not symbolic ones like origin/HEAD)."""
    out = repo.run("for-each-ref", "--format=%(objectname) %(symref) %(refname)", "refs/heads", "refs/remotes")
    tips = []
    for line in out.decode("utf-8", "replace").splitlines():
        sha, symref, name = line.split(" ", 2)
        if symref:
            continue
        tips.append((name[len("refs/heads/") :] if name.startswith("refs/heads/") else name[len("refs/") :], sha))
    return tips


def gitlinks_at(repo: Repo, rev: str) -> List[bytes]:
    """Paths of submodules recorded in `rev`'s tree."""
    out = repo.run("ls-tree", "-r", "-z", "--end-of-options", rev, check=False)
    return [rec.partition(b"\t")[2] for rec in out.split(b"\0") if rec.startswith(GITLINK_MODE + b" ")]


def lfs_pointer(data: bytes) -> bool:
    return len(data) < 1024 and data.startswith(LFS_POINTER_PREFIX)


@dataclasses.dataclass(frozen=True)
class Tag:
    """An annotated tag object: its name, who made it and its message."""

    sha: str
    name: str
    tagger: str
    date: str
    message: bytes


def annotated_tags(repo: Repo) -> List[Tag]:
    """Every annotated tag under refs/tags, with its message (read by position: a message holds no NUL)."""
    fields = ("objecttype", "objectname", "refname:strip=2", "taggername", "taggeremail", "taggerdate:iso-strict")
    fmt = "".join(f"%({f})%00" for f in fields) + "M%(contents)%00"
    out = repo.run("for-each-ref", "--format=" + fmt, "refs/tags")
    tokens = out.split(b"\0")
    tags = []
    for i in range(0, len(tokens) - 7, 7):
        kind, sha, name, tagger, email, date, message = tokens[i : i + 7]
        if kind.lstrip(b"\n") == b"tag":
            tags.append(
                Tag(
                    sha.decode("ascii", "replace"),
                    show_path(name),
                    f"{tagger.decode('utf-8', 'replace')} {email.decode('utf-8', 'replace')}",
                    date.decode("ascii", "replace"),
                    message[1:],
                )
            )
    return tags


# --- purge (commands/purge.py): a mirror clone, git-filter-repo on it, what to push ---------------

FILTER_REPO = "git-filter-repo"  # the optional extra pit-guard[purge] installs this program (PyPI: git-filter-repo)


def local_mirror_copy(source: str, dest: str) -> None:
    """`git clone --mirror` of `source` into the new folder `dest`: every ref, objects copied (never
    hard-linked, so nothing done to the clone can touch the source's files). Local paths only: the
    clone runs no transport (protocol.allow=never stays) and no hook."""
    parent = os.path.dirname(os.path.abspath(dest)) or "."
    # The local copy counts as git's `file` transport: allowed for this one command, still no other.
    args = ["-c", "protocol.file.allow=always", "clone", "--quiet", "--mirror", "--no-hardlinks"]
    run([*args, "--", os.path.abspath(source), os.path.abspath(dest)], cwd=parent)


def find_filter_repo(search: Sequence[str]) -> Optional[str]:
    """The git-filter-repo program: beside the running Python first (a virtualenv's bin/), then PATH."""
    import shutil

    for folder in search:
        candidate = os.path.join(folder, FILTER_REPO)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(FILTER_REPO)


def filter_repo(program: str, git_dir: str, expressions: str) -> None:
    """Rewrite every ref of the (mirror) repository at `git_dir`: blob contents with --replace-text,
    commit and tag messages with --replace-message, both from `expressions`. git-filter-repo expires
    the reflogs and repacks with --prune=now, so the old objects leave this clone."""
    # --force: its fresh-clone check (one pack, no reflog) guards a user's working clone; this is the
    # mirror clone purge made a moment ago (a local clone copies objects loose, which that check refuses).
    args = [program, "--quiet", "--force", "--replace-text", expressions, "--replace-message", expressions]
    # Never the environment's repository (GIT_DIR, GIT_WORK_TREE...): it would rewrite that one, the
    # user's clone, instead of the mirror clone in `git_dir`.
    env = {k: v for k, v in _env().items() if k not in _REPOSITORY_ENV}
    try:
        proc = subprocess.run(args, cwd=git_dir, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    except OSError as e:
        raise FatalError(f"cannot run {program}: {e.strerror or e}") from None
    if proc.returncode != 0:
        # its own message, not its output: a progress line could quote nothing secret, but a
        # traceback could quote an expression
        raise FatalError(f"git-filter-repo failed (exit {proc.returncode}): {git_error(proc.stderr, proc.returncode)}")


def history_paths(repo: Repo) -> Set[bytes]:
    """Every path any commit of any ref ever had: each one is added by some commit against one of its
    parents (or the empty tree), which `log -m --diff-filter=A` lists."""
    out = repo.run("log", "--all", "-m", "--root", "--no-renames", "--diff-filter=A", "--name-only", "-z", "--format=")
    return {name.lstrip(b"\n") for name in out.split(b"\0")} - {b""}


def work_tree_holding(folder: str) -> Optional[str]:
    """The root of the git work tree `folder` lies in, or None (not in any, or inside a git dir)."""
    out = run(["rev-parse", "--show-toplevel"], cwd=folder, check=False)
    return out.decode("utf-8", "surrogateescape").rstrip("\n") or None


def is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    """Whether every commit of the ref `ancestor` is in the ref `descendant` (full ref names)."""
    out = repo.run("rev-list", "--count", f"{descendant}..{ancestor}", "--")
    return out.strip() == b"0"


def ref_names(repo: Repo) -> List[str]:
    """Every ref (not symbolic ones), full names."""
    out = repo.run("for-each-ref", "--format=%(symref) %(refname)")
    names = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        symref, _, name = line.partition(" ")
        if not symref:
            names.append(name)
    return names


def remote_urls(repo: Repo) -> List[Tuple[str, str]]:
    """(remote name, push URL) of each remote, the URL without any user:password part."""
    out = repo.run("config", "-z", "--get-regexp", r"^remote\..*\.(url|pushurl)$", check=False)
    found: Dict[str, str] = {}
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        key, _, url = record.partition("\n")
        if not key:
            continue
        name, kind = key[len("remote.") :].rsplit(".", 1)
        if kind == "pushurl" or name not in found:
            # up to the authority's last `@` (a password may hold one); a scheme in any case
            found[name] = re.sub(r"^([a-z][a-z0-9+.-]*://)[^/]*@", r"\1", url, flags=re.IGNORECASE)
    return sorted(found.items())


# --- remotes (fleet audits): the only git calls that use the network -------------------------

# What a clone or fetch may use, for that call only: every scan runs with protocol.allow=never.
# `ext::` and other transports stay forbidden. Plain http only when a test asks (loopback servers).
_REMOTE_PROTOCOLS = ("file", "https", "ssh", "git")
TEST_ALLOW_HTTP = "PIT_GUARD_TEST_ALLOW_HTTP"


def _remote_config() -> List[str]:
    protocols = list(_REMOTE_PROTOCOLS)
    if os.environ.get(TEST_ALLOW_HTTP) == "1":
        protocols.append("http")
    out = ["-c", "protocol.allow=never"]
    for name in protocols:
        out += ["-c", f"protocol.{name}.allow=always"]
    # No credential prompt, no helper from the user's config asked for something it should not send.
    out += ["-c", "credential.interactive=never", "-c", "core.askPass=", "-c", "transfer.fsckObjects=false"]
    # A stalled server fails the transfer (under 1 KB/s for 60 s) instead of holding the run.
    out += ["-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60"]
    # No redirect: git would send the extraHeader credential to every later request of the session,
    # on whatever host a redirect named (curl strips it from the redirected request only).
    out += ["-c", "http.followRedirects=false"]
    return out


def _remote_env(headers: Sequence[Tuple[str, str]]) -> Dict[str, str]:
    """git's environment for a clone or fetch: `http.<url>.extraHeader` values passed through
    GIT_CONFIG_COUNT/KEY/VALUE (never on a command line, so never in `ps`), scoped to one URL prefix."""
    env = _env()
    for name in _REPOSITORY_ENV:  # a hook's GIT_DIR must not turn a clone into something else
        env.pop(name, None)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ASKPASS"] = "true"  # a prompt for a password answers nothing: fails instead of hanging
    env["SSH_ASKPASS"] = "true"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=30")
    base = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    for i, (prefix, header) in enumerate(headers):
        env[f"GIT_CONFIG_KEY_{base + i}"] = f"http.{prefix}.extraHeader"
        env[f"GIT_CONFIG_VALUE_{base + i}"] = header
    if headers:
        env["GIT_CONFIG_COUNT"] = str(base + len(headers))
    return env


def _remote_run(args: Sequence[str], cwd: str, headers: Sequence[Tuple[str, str]], timeout: float) -> None:
    try:
        proc = subprocess.run(
            ["git", *_BOUNDED, *_NO_PROGRAMS, *_remote_config(), *args],
            cwd=cwd,
            env=_remote_env(headers),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise FatalError("git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise FatalError(f"git {args[0]} took longer than {timeout:.0f} s (unreachable host?)") from None
    if proc.returncode != 0:
        raise FatalError(f"git {args[0]} failed: {git_error(proc.stderr, proc.returncode)}")


def mirror_clone(url: str, dest: str, headers: Sequence[Tuple[str, str]] = (), timeout: float = 3600.0) -> None:
    """`git clone --mirror URL DEST` (every ref), credentials only through `headers`."""
    parent = os.path.dirname(os.path.abspath(dest)) or "."
    _remote_run(["clone", "--mirror", "--quiet", "--no-local", "--", url, dest], parent, headers, timeout)


def mirror_fetch(git_dir: str, url: str, headers: Sequence[Tuple[str, str]] = (), timeout: float = 3600.0) -> None:
    """Bring a mirror up to date: every ref, deleted ones pruned."""
    _remote_run(["fetch", "--quiet", "--prune", "--", url, "+refs/*:refs/*"], git_dir, headers, timeout)


def mirror_url(git_dir: str) -> Optional[str]:
    """The URL a clone-cache mirror was made from (its `remote.origin.url`), or None if unreadable."""
    try:
        out = run(["config", "--get", "remote.origin.url"], git_dir)
    except (FatalError, OSError):
        return None
    return out.decode("utf-8", "replace").strip() or None


def is_mirror(git_dir: str) -> bool:
    """Whether `git_dir` is a readable bare repository (a clone-cache entry git can use)."""
    try:
        out = run(["rev-parse", "--is-bare-repository", "--absolute-git-dir"], git_dir).decode("utf-8", "replace")
    except (FatalError, OSError):
        return False
    lines = out.split("\n")
    # git looks upwards: a broken entry inside some other repository must not pass for that one
    return lines[0] == "true" and os.path.realpath(lines[1]) == os.path.realpath(git_dir)
