"""What a commit or a push would add: the pre-commit and pre-push checks, and commit ranges.

A credential is reported only where a change adds it: present in the new blob, absent from the
blobs the change replaces. "Replaces" means every old side of the same change (the path's HEAD
version, the other parents' versions in a merge, and the other paths the change edits or
deletes), so editing a file with an old secret, or moving the secret, reports nothing new.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from pit_guard.archives.limits import Limits
from pit_guard.errors import FatalError
from pit_guard.finding import Finding, Provenance, Unread, placed
from pit_guard.sources import git
from pit_guard.sources.result import SourceResult

ZERO = "0" * 40


@dataclasses.dataclass(frozen=True)
class _Target:
    path: bytes
    sha: str  # blob to scan
    before: Tuple[str, ...]  # blobs whose secrets are not new here (empty: scan in full)
    commit: Optional[git.Commit] = None


# --- blob scanning shared by both modes ---------------------------------------------------------


def _scan_targets(
    repo: git.Repo, targets: Sequence[_Target], max_size: int, result: SourceResult, archives: Limits
) -> Dict[str, List[Finding]]:
    """Scan each needed blob once; returns findings by blob sha (also for the `before` blobs).

    A wanted blob that cannot be read or scanned is Unread, named by path and sha (all the blobs a
    partial clone never downloaded: one Unread). A `before` blob that cannot be read counts as
    holding nothing, so a secret it might have held is reported as new, never hidden.

    A blob whose first bytes are an archive's is read entry by entry (`archives`): its findings
    keep their inner place, its limits hit are Unread like any other."""
    from pit_guard.archives.inputs import scan_blob_bytes, scan_blob_stream
    from pit_guard.detection.detect import scan_or_error, scan_stream_or_error

    needed = list(dict.fromkeys([t.sha for t in targets] + [b for t in targets for b in t.before]))
    found: Dict[str, List[Finding]] = {}
    wanted = {t.sha for t in targets}
    names: Dict[str, str] = {}
    for t in targets:
        name = git.show_path(t.path)
        if t.sha not in names or name < names[t.sha]:
            names[t.sha] = name
    lfs = not_downloaded = old_unread = 0
    for blob in git.iter_blobs(repo, needed, max_size):
        name = names.get(blob.sha, blob.sha)
        if blob.stream is not None:
            opened, rest = scan_blob_stream(blob.stream, name, archives)
            if opened is None:
                found[blob.sha], error = scan_stream_or_error(rest, name)
            else:
                found[blob.sha], error = opened.findings, None
                result.skipped += opened.skipped if blob.sha in wanted else []
        elif blob.data is None:
            found[blob.sha] = []
            if blob.sha not in wanted:
                old_unread += 1
            elif blob.problem == git.NOT_DOWNLOADED:
                not_downloaded += 1
            else:
                result.skipped.append(Unread(name, f"{blob.problem} ({blob.sha})", chosen=blob.chosen))
            continue
        else:
            # An LFS pointer's own bytes are scanned too: a file can merely start like one.
            lfs += git.lfs_pointer(blob.data) and blob.sha in wanted
            opened = scan_blob_bytes(blob.data, name, archives)
            if opened is None:
                found[blob.sha], error = scan_or_error(blob.data, name)
            else:
                found[blob.sha], error = opened.findings, None
                result.skipped += opened.skipped if blob.sha in wanted else []
        if error is not None and blob.sha in wanted:
            result.skipped.append(Unread(name, f"{error} ({blob.sha})"))
    if not_downloaded:
        result.skipped.append(
            Unread(
                "<partial clone>",
                f"{not_downloaded} blob(s) were never downloaded, so not scanned: {git.PARTIAL_CLONE_FIX}",
            )
        )
    if old_unread:
        result.notices.append(
            f"{old_unread} earlier version(s) of changed files could not be read: "
            "secrets in the changes are reported as new even if those versions had them"
        )
    if lfs:
        result.notices.append(
            f"{lfs} Git LFS pointer file(s): the content they point to lives on the LFS server and was not scanned"
        )
    return found


def scan_message(message: bytes, place: str, result: SourceResult) -> List[Finding]:
    """Findings in a commit or tag message, one per secret (the first place it appears)."""
    from pit_guard.detection.detect import scan_or_error

    found, error = scan_or_error(message, place)
    if error is not None:
        result.skipped.append(Unread(place, error))
    first: Dict[str, Finding] = {}
    for f in found:
        first.setdefault(f.fingerprint, dataclasses.replace(f, path=place))
    return list(first.values())


def message_place(commit: str) -> str:
    return f"<commit {commit[:12]} message>"


def tag_place(name: str) -> str:
    return f"<tag {name} message>"


def _new_findings(target: _Target, found: Dict[str, List[Finding]]) -> List[Finding]:
    old = {f.fingerprint for b in target.before for f in found.get(b, [])}
    path = git.show_path(target.path)
    return [
        dataclasses.replace(f, path=placed(path, f.inner))
        for f in found.get(target.sha, [])
        if f.fingerprint not in old
    ]


# --- pre-commit: the index ----------------------------------------------------------------------


def _relative_to_root(repo: git.Repo, name: str) -> bytes:
    """A file name as given on the command line (relative to the current folder) -> index path."""
    raw = os.fsencode(name)
    if os.path.isabs(name):
        rel = os.path.relpath(os.path.realpath(name), os.path.realpath(repo.cwd))
        raw = os.fsencode(rel)
    elif repo.prefix:
        raw = os.path.normpath(os.fsencode(repo.prefix) + raw)
    return os.path.normpath(raw).replace(os.sep.encode(), b"/") if raw else raw


def scan_staged(
    path: str = ".", files: Optional[Sequence[str]] = None, *, max_size: int, archives: Optional[Limits] = None
) -> SourceResult:
    """What `git commit` would add now. With `files` (as pre-commit passes them) only those paths,
    each scanned in full when its staged version equals HEAD; without, every staged change."""
    repo = git.open_repo(path)
    if repo.bare:
        raise FatalError(f"{path}: a bare repository has no index to scan: use `pit-guard audit` instead")
    result = SourceResult()
    head = git.resolve(repo, "HEAD")
    try:
        changes = git.diff_raw(repo, "--cached", *(["-M", head] if head else []))
    except FatalError:
        # Rename detection reads blobs: in a partial clone a deleted file's may never have been
        # downloaded. Without it nothing is lost: every old side still counts as "before".
        changes = git.diff_raw(repo, "--cached", "--no-renames", *([head] if head else []))
    before = [s for e in changes for s in e.old_shas if not git.is_null_sha(s)]
    from_other: Set[bytes] = set()
    for other in git.merge_heads(repo):
        # A merge adds nothing that one of its other parents already had: a path staged as the
        # other parent has it is not new, and the other parent's versions count as "before".
        versus_other = git.diff_raw(repo, "--cached", "--no-renames", other)
        before += [s for e in versus_other for s in e.old_shas if not git.is_null_sha(s)]
        differs = {e.path for e in versus_other}
        from_other.update(e.path for e in changes if e.path not in differs)
    by_path = {e.path: e for e in changes}
    targets: List[_Target] = []
    if files is None:
        wanted: Iterable[bytes] = [e.path for e in changes if e.status != "D"]
        index: Dict[bytes, Tuple[bytes, str, int]] = {}
    else:
        wanted = list(dict.fromkeys(_relative_to_root(repo, f) for f in files))
        index = git.index_entries(repo)
    before_t = tuple(dict.fromkeys(before))
    for p in wanted:
        if p in from_other:
            continue
        entry = by_path.get(p)
        if entry is not None:
            if entry.status == "D":
                continue
            if entry.status == "U":
                result.skipped.append(Unread(git.show_path(p), "unmerged (resolve the conflict and stage it first)"))
            elif entry.new_mode == git.GITLINK_MODE:
                result.notices.append(f"{git.show_path(p)} is a submodule: not descended into (scan it on its own)")
            else:
                targets.append(_Target(p, entry.new_sha, before_t))
            continue
        staged = index.get(p)
        if staged is None:
            _scan_untracked(repo, p, max_size, result, archives or Limits())
        elif staged[2] != 0:
            result.skipped.append(Unread(git.show_path(p), "unmerged (resolve the conflict and stage it first)"))
        elif staged[0] == git.GITLINK_MODE:
            result.notices.append(f"{git.show_path(p)} is a submodule: not descended into (scan it on its own)")
        else:
            targets.append(_Target(p, staged[1], ()))  # unchanged since HEAD: scan it all
    found = _scan_targets(repo, targets, max_size, result, archives or Limits())
    for t in targets:
        result.findings += _new_findings(t, found)
    return result


def _scan_untracked(repo: git.Repo, p: bytes, max_size: int, result: SourceResult, archives: Limits) -> None:
    """A file given by name that git does not track has no staged version: read it from disk,
    so that `pre-commit run --files new.txt` never silently scans nothing."""
    from pit_guard.archives.inputs import scan_source
    from pit_guard.archives.limits import HEAD, kind
    from pit_guard.detection.detect import scan_or_error, scan_stream_or_error

    full = os.path.join(os.fsencode(repo.cwd), p)
    name = git.show_path(p)
    if not os.path.isfile(full) or os.path.islink(full):
        return
    try:
        size = os.path.getsize(full)
        if size > max_size:
            result.skipped.append(Unread(name, f"larger than --max-file-size ({max_size} bytes)", chosen=True))
            return
        with open(full, "rb") as f:
            archive = kind(f.read(HEAD))
            f.seek(0)
            if archive is not None:  # read entry by entry, as `scan` reads it
                opened = scan_source(archive, f, name, archives)
                result.findings += opened.findings
                result.skipped += opened.skipped
                return
            if size > git.STREAM_THRESHOLD:
                found, error = scan_stream_or_error(f.read, name)
            else:
                found, error = scan_or_error(f.read(), name)
    except OSError as e:
        result.skipped.append(Unread(name, f"cannot read it ({e.strerror or type(e).__name__})"))
        return
    result.findings += found
    if error is not None:
        result.skipped.append(Unread(name, error))


# --- commit ranges: pre-push, CI, --since/--range --------------------------------------------------

_RANGE_RE = re.compile(r"^[^\s-][^\s]*$")


def check_rev(text: str) -> str:
    """A user-given revision or range: never an option, never empty."""
    if not _RANGE_RE.match(text):
        raise FatalError(f"{text!r} is not a revision or range (expected e.g. origin/main or A..B)")
    return text


def require_revs(path: str, text: str) -> None:
    """Each end of `A`, `A..B` or `A...B` must name a commit in this clone: say which does not."""
    repo = git.open_repo(path)
    for end in re.split(r"\.{2,3}", check_rev(text)):
        if end and git.resolve(repo, end) is None:
            hint = (
                " (this is a shallow clone: fetch more history)"
                if repo.shallow
                else " (a typo, or not fetched yet? try `git fetch`)"
            )
            raise FatalError(f"unknown revision {end!r}{hint}")


def scan_range(path: str, revs: Sequence[str], *, max_size: int, archives: Optional[Limits] = None) -> SourceResult:
    """Secrets added by the commits `revs` selects (git rev-list syntax), each reported once: at
    the oldest commit that adds it, with how many of those commits add it."""
    repo = git.open_repo(path)
    result = SourceResult()
    if repo.shallow:
        result.notices.append(
            "this is a shallow clone: commits beyond its depth were not scanned "
            "(fetch more history, e.g. actions/checkout `fetch-depth: 0`)"
        )
    targets: List[_Target] = []
    submodules: Set[bytes] = set()
    # -c: a merge shows only paths that differ from every parent, with one old side per parent.
    messages: List[Finding] = []
    for commit in git.log_commits(repo, revs, "--reverse", "--topo-order", "-c"):
        prov = Provenance(commit.sha, commit.author, commit.date, 1)
        messages += [
            dataclasses.replace(f, provenance=prov)
            for f in scan_message(commit.message, message_place(commit.sha), result)
        ]
        before = tuple(dict.fromkeys(s for e in commit.entries for s in e.old_shas if not git.is_null_sha(s)))
        for e in commit.entries:
            if git.is_null_sha(e.new_sha):
                continue
            if e.new_mode == git.GITLINK_MODE:
                submodules.add(e.path)
                continue
            targets.append(_Target(e.path, e.new_sha, before, commit))
    for name in sorted(submodules):
        result.notices.append(f"{git.show_path(name)} is a submodule: not descended into (scan it on its own)")
    found = _scan_targets(repo, targets, max_size, result, archives or Limits())
    first: Dict[Tuple[str, bytes], Tuple[Finding, git.Commit]] = {}
    adds: Dict[Tuple[str, bytes], int] = {}
    for t in targets:
        for f in _new_findings(t, found):
            key = (f.fingerprint, t.path + f.inner.encode("utf-8", "surrogateescape"))
            adds[key] = adds.get(key, 0) + 1
            if key not in first:
                assert t.commit is not None
                first[key] = (f, t.commit)
    for key, (f, c) in first.items():
        prov = Provenance(c.sha, c.author, c.date, adds[key])
        result.findings.append(dataclasses.replace(f, provenance=prov))
    result.findings += messages
    return result


def scan_tags(repo: git.Repo, result: SourceResult, only: Optional[Set[str]] = None) -> None:
    """The messages of annotated tags (a token pasted in release notes is pushed with the tag):
    all of them, or those whose tag object is in `only`."""
    try:
        tags = git.annotated_tags(repo)
    except FatalError as e:
        result.skipped.append(Unread("<tag messages>", f"could not read them: {e}"))
        return
    for tag in tags:
        if only is not None and tag.sha not in only:
            continue
        prov = Provenance(tag.sha, tag.tagger, tag.date, 1)
        result.findings += [
            dataclasses.replace(f, provenance=prov) for f in scan_message(tag.message, tag_place(tag.name), result)
        ]


def push_revs(repo: git.Repo, local_sha: str, remote_sha: str) -> Optional[List[str]]:
    """Revisions a push of local_sha over remote_sha sends; None for a branch deletion.

    A new branch (remote sha all zeros) or a remote sha this clone lacks: every commit no
    remote-tracking branch has, which includes a root commit pushed to an empty remote.
    """
    if git.is_null_sha(local_sha):
        return None
    if not git.is_null_sha(remote_sha) and git.resolve(repo, remote_sha):
        return [local_sha, "--not", remote_sha]
    return [local_sha, "--not", "--remotes"]


def parse_push_lines(text: str) -> List[Tuple[str, str, str, str]]:
    """git's pre-push stdin: `<local ref> <local sha> <remote ref> <remote sha>` per line."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], parts[3]))
        elif parts:  # a line it cannot read could be a push it would not scan: never pass over it
            raise FatalError(
                "pre-push: cannot read a line of git's input (expected `<local ref> <local sha> <remote ref> "
                f"<remote sha>`): {line[:120]!r}"
            )
    return out


def scan_push(
    path: str,
    *,
    max_size: int,
    stdin_text: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    archives: Optional[Limits] = None,
) -> SourceResult:
    """The commits a push sends: from pre-commit's PRE_COMMIT_FROM_REF/TO_REF (or, for a root
    commit push where pre-commit passes neither, PRE_COMMIT_LOCAL_BRANCH), else git's stdin."""
    env = dict(os.environ) if env is None else env
    repo = git.open_repo(path)
    selections: List[List[str]] = []
    pushed_shas: Set[str] = set()
    given = True
    to_ref, from_ref = env.get("PRE_COMMIT_TO_REF"), env.get("PRE_COMMIT_FROM_REF")
    if to_ref:
        pushed = push_revs(repo, check_rev(to_ref), check_rev(from_ref) if from_ref else ZERO)
        selections += [pushed] if pushed else []
        pushed_shas.add(to_ref)
    elif env.get("PRE_COMMIT_LOCAL_BRANCH") or env.get("PRE_COMMIT_REMOTE_BRANCH"):
        selections.append([check_rev(env.get("PRE_COMMIT_LOCAL_BRANCH") or "HEAD"), "--not", "--remotes"])
    else:
        if stdin_text is None:
            stdin_text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        lines = parse_push_lines(stdin_text)
        given = bool(lines)  # deletions are lines too: they push no commits
        for _local_ref, local_sha, _remote_ref, remote_sha in lines:
            pushed_shas.add(local_sha)
            pushed = push_revs(repo, check_rev(local_sha), check_rev(remote_sha))
            selections += [pushed] if pushed else []
    result = SourceResult()
    if not given:
        # Not an error: blocking a push over a missing line would be worse than scanning nothing.
        result.notices.append(
            "pre-push: no pushed refs given (git's stdin lines or PRE_COMMIT_TO_REF): nothing "
            "scanned; outside a hook use `pit-guard scan --range A..B`"
        )
    seen: Set[Tuple[str, str]] = set()
    for revs in selections:  # one per pushed ref; a commit pushed under two refs is reported once
        part = scan_range(path, revs, max_size=max_size, archives=archives)
        result.findings += [f for f in part.findings if (f.fingerprint, f.path) not in seen]
        seen.update((f.fingerprint, f.path) for f in part.findings)
        result.skipped += part.skipped
        result.notices += [n for n in part.notices if n not in result.notices]
    if pushed_shas:
        scan_tags(repo, result, only=pushed_shas)  # a pushed annotated tag sends its message too
    return result
